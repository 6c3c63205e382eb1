/*
 * itest_limits.c - the daemon's bounds hold and every refusal is clean:
 * connections in all and per uid (-EUSERS at Hello), the last places in
 * all kept for the admins (root and poolctl get in past another uid that
 * took every other; a reload moves them), references per session
 * (-EDQUOT; a batch's refusal says what the client holds and the bound),
 * a uid's persistent blocks in a pool (-EDQUOT, whichever
 * way they are persisted; before any name is evicted; in words that say
 * the uid's count and the bound apart), a client that never reads its replies (dropped once its queue
 * passes the bound; the daemon does not grow), a uid's connections that
 * never read (those past the uid's bound are dropped), and running out of file
 * descriptors (the daemon refuses the excess, -EUSERS in words that say
 * it is out of descriptors, and keeps serving; a client
 * with none free to receive the pool's memfd gets -EMFILE from pool_open,
 * not -EPROTO, and the daemon is not left holding its handle; a daemon
 * with none free to pass it refuses OpenPool and ShareMap with -EMFILE
 * and keeps the connection, and one with a descriptor for a new pool's
 * memfd but none for its share map refuses the create, nothing made; one
 * with none left still reads its resident memory for DaemonStats, and
 * moves a block by copying all of it).
 *
 * Also the fixed bounds of docs/protocol.md: 256 pools (the 257th create is
 * -ENOSPC, the listing of all 256 fits one message, a destroy makes room
 * again), 65536 block names per pool (the next new name is -ENOSPC in
 * words that name the bound; a name there moves, an unpublish makes room
 * for one), 1024 handles per connection (the 1025th open is -EMFILE in
 * words that name that bound, another connection is not affected, a close
 * makes room again), 65536 holders of a block (-EMLINK, in words that
 * name the block and the bound), and, sent as raw
 * requests because the library refuses them before they leave, a batch of
 * 4097 (-E2BIG for AllocBatch and FreeBatch, while 4096 passes) and a pool
 * name of 65 bytes or more (-ENAMETOOLONG for CreatePool, while 64 bytes
 * pass).  A refused request changes nothing and the connection stays up.
 *
 * And no client can stall the daemon with half a message: a byte-stream
 * socket cannot even connect, half of an encoded request arrives as one
 * whole datagram that does not decode and closes only its connection, and
 * while a client that said Hello and sleeps, one that says nothing and that
 * one are connected, another client's round trips each take well under a
 * second.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

static int
raw_connect(const char *path)
{
	return harness_raw_connect(path);
}

/*
 * Send one request; 0, or -errno (EAGAIN when the socket is full).  Here
 * and in raw_reply, not harness_raw_send and harness_raw_reply: a flood
 * must see EAGAIN instead of blocking, and a test of a dropped client
 * tells a closed connection from a reply that did not come.
 */
static int
raw_send(int fd, Poolmgr__Request *req)
{
	uint8_t stackbuf[256], *buf = stackbuf;
	size_t len = poolmgr__request__get_packed_size(req);
	int rc;

	assert_true(len <= 65536);
	if (len > sizeof(stackbuf))
		buf = malloc(len);
	assert_non_null(buf);
	poolmgr__request__pack(req, buf);
	rc = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 ? -errno : 0;
	if (buf != stackbuf)
		free(buf);
	return rc;
}

static int
raw_hello(int fd)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;

	hello.version = 1;
	req.id = 1;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	return raw_send(fd, &req);
}

/* Wait up to ms for a reply; its error code, 1 on EOF, 2 on timeout. */
static int
raw_reply(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t buf[65536];
	Poolmgr__Reply *rep;
	ssize_t n;
	int err;

	if (poll(&pfd, 1, ms) != 1)
		return 2;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return 1;
	rep = poolmgr__reply__unpack(NULL, (size_t)n, buf);
	assert_non_null(rep);
	err = rep->error;
	poolmgr__reply__free_unpacked(rep, NULL);
	return err;
}

/* A raw connection that said Hello and got its answer. */
static int
raw_greeted(const char *path)
{
	return harness_raw_client(path, "itest_limits");
}

static int
raw_create(int fd, const char *name, uint64_t size)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;

	cp.name = (char *)name;
	cp.max_size = size;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	return harness_raw_error(fd, &req, NULL);
}

static void
connections_per_uid_and_in_all(void **state)
{
	struct pool_conn *c[4], *extra;
	struct daemon_proc d;
	int i, rc;

	(void)state;
	assert_int_equal(harness_start(&d, "max_connections = 100\n"
				       "max_connections_per_uid = 3\n"), 0);
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_connect(NULL, &c[i]), 0);
	EXPECT_RC(pool_connect(NULL, &extra), -EUSERS);
	/* The daemon said which limit it was. */
	assert_string_equal(pool_last_message(-EUSERS),
			    "too many clients of this uid connected");
	pool_disconnect(c[0]);
	/* The place is free again once the daemon has seen the close. */
	for (i = 0; (rc = pool_connect(NULL, &c[0])) == -EUSERS && i < 1000;
	     i++)
		harness_sleep_ms(5);
	EXPECT_RC(rc, 0);
	for (i = 0; i < 3; i++)
		pool_disconnect(c[i]);
	assert_int_equal(harness_stop(&d), 0);

	assert_int_equal(harness_start(&d, "max_connections = 2\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c[0]), 0);
	EXPECT_RC(pool_connect(NULL, &c[1]), 0);
	EXPECT_RC(pool_connect(NULL, &extra), -EUSERS);
	assert_string_equal(pool_last_message(-EUSERS),
			    "too many clients connected");
	/* A call that does not fail so leaves no words behind. */
	assert_string_equal(pool_last_message(-ECONNRESET), "");
	pool_disconnect(c[0]);
	pool_disconnect(c[1]);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A child of another uid that connects when the test says: 'c' connects
 * once more and answers pool_connect's code with, for a refusal, the
 * daemon's words; 'q' closes its connections and ends it.  The test so
 * holds that uid's connections, and counts them, from its own process.
 */
#define FILLER_MAX 64

struct filler {
	const char *sock;
	int cmd[2];
	int ans[2];
	pid_t pid;
};

struct filler_answer {
	int rc;
	char words[124];
};

static int
filler_child(void *arg)
{
	static struct pool_conn *c[FILLER_MAX];
	struct filler *f = arg;
	struct filler_answer a;
	int n = 0, i;
	char op;

	close(f->cmd[1]);
	close(f->ans[0]);
	while (harness_read_full(f->cmd[0], &op, 1) == 0 && op == 'c') {
		memset(&a, 0, sizeof(a));
		a.rc = n < FILLER_MAX ? pool_connect(f->sock, &c[n]) : -ENOSPC;
		if (a.rc == 0)
			n++;
		else
			snprintf(a.words, sizeof(a.words), "%s",
				 pool_last_message(a.rc));
		CHECK(harness_write_full(f->ans[1], &a, sizeof(a)) == 0, 10);
	}
	for (i = 0; i < n; i++)
		pool_disconnect(c[i]);
	return 0;
}

static void
filler_start(struct filler *f, const char *sock, uid_t uid, gid_t gid)
{
	f->sock = sock;
	assert_int_equal(pipe(f->cmd), 0);
	assert_int_equal(pipe(f->ans), 0);
	fflush(NULL);
	f->pid = harness_spawn_as(uid, gid, filler_child, f);
	assert_true(f->pid > 0);
	close(f->cmd[0]);
	close(f->ans[1]);
}

/* One more connection of f's uid: pool_connect's code (words in a). */
static int
filler_connect(struct filler *f, struct filler_answer *a)
{
	assert_int_equal(harness_write_full(f->cmd[1], "c", 1), 0);
	assert_int_equal(harness_read_full(f->ans[0], a, sizeof(*a)), 0);
	return a->rc;
}

/* f's uid connects until refused (a): how many it was let in. */
static int
filler_fill(struct filler *f, struct filler_answer *a)
{
	int n = 0;

	while (filler_connect(f, a) == 0)
		n++;
	return n;
}

static void
filler_stop(struct filler *f)
{
	assert_int_equal(harness_write_full(f->cmd[1], "q", 1), 0);
	close(f->cmd[1]);
	close(f->ans[0]);
	assert_int_equal(harness_wait(f->pid), 0);
}

/* Until the daemon counts n connections, c's among them (at most 10 s). */
static void
wait_connections(struct pool_conn *c, uint64_t n)
{
	struct pool_daemon_stats ds;
	int i;

	for (i = 0; i < 2000; i++) {
		EXPECT_RC(pool_daemon_stats(c, &ds), 0);
		if (ds.connections == n)
			return;
		harness_sleep_ms(5);
	}
	fail_msg("the daemon counts %llu connections, not %llu",
		 (unsigned long long)ds.connections, (unsigned long long)n);
}

#define FILL_UID 65534
#define ADMIN_GID 4242
#define LIMITS_20 "max_connections = 20\nmax_connections_per_uid = 100\n"

/*
 * Of max_connections (20), admin_connections (8 unless set) are kept for
 * the daemon's admins: uid 65534 takes the rest (12, root's first one
 * among them) and its next is refused in the words of the bound in all;
 * root connects past it and `poolctl stats` runs, a member of admin_group
 * (by its primary group) takes a kept place too, and at max_connections
 * everyone is refused.  (Without the kept places, uid 65534 took all 20
 * and root was refused.)
 */
static void
admins_connect_past_a_full_daemon(void **state)
{
	struct pool_conn *c0, *root[7], *extra;
	struct filler others, member;
	struct filler_answer a;
	struct daemon_proc d;
	char out[8192], err[1024];
	int i, n;

	(void)state;
	harness_skip_unless_root("drop children to other uids");
	assert_int_equal(harness_start(&d, LIMITS_20 "admin_group = 4242\n"
				       "[pool s]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c0), 0);
	/* The start's probe gone: c0 is the only one. */
	wait_connections(c0, 1);
	filler_start(&others, d.sock, FILL_UID, FILL_UID);
	n = filler_fill(&others, &a);
	printf("uid %d: %d connections let in, the next refused: %d (%s)\n",
	       FILL_UID, n, a.rc, a.words);
	EXPECT_RC(pool_connect(d.sock, &root[0]), 0);
	assert_int_equal(n, 20 - 8 - 1);
	assert_int_equal(a.rc, -EUSERS);
	assert_string_equal(a.words, "too many clients connected");
	/* The log names both settings: the operator's to change. */
	harness_expect_logged(&d, "uid 65534: too many clients connected; "
			      "refusing it (max_connections 20, "
			      "admin_connections 8)");
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats s"), 0);
	assert_non_null(strstr(out, "s"));
	/* poolctl's gone: c0, the 11 of uid 65534 and root[0]. */
	wait_connections(c0, 13);
	filler_start(&member, d.sock, FILL_UID - 1, ADMIN_GID);
	EXPECT_RC(filler_connect(&member, &a), 0);
	for (i = 1; i < 7; i++)
		EXPECT_RC(pool_connect(d.sock, &root[i]), 0);
	EXPECT_RC(pool_connect(d.sock, &extra), -EUSERS);
	assert_string_equal(pool_last_message(-EUSERS),
			    "too many clients connected");
	harness_expect_logged(&d, "uid 0: too many clients connected; "
			      "refusing it (max_connections 20)");
	EXPECT_RC(filler_connect(&member, &a), -EUSERS);
	EXPECT_RC(filler_connect(&others, &a), -EUSERS);
	filler_stop(&member);
	filler_stop(&others);
	for (i = 0; i < 7; i++)
		pool_disconnect(root[i]);
	pool_disconnect(c0);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A reload moves the kept places as it does max_connections, and logs
 * it: from 8 of 20 to 2, uid 65534 takes 6 more; admin_connections = 20
 * is refused at its line and the 2 stay; a file that no longer sets it,
 * with max_connections = 10, keeps 5, half of them (the default, 8, is
 * never more than half), and uid 65534's 17 stay connected.
 */
static void
a_reload_moves_the_admins_places(void **state)
{
	struct filler_answer a;
	struct filler others;
	struct daemon_proc d;
	struct pool_conn *c0;
	char want[512];

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	assert_int_equal(harness_start(&d, LIMITS_20), 0);
	EXPECT_RC(pool_connect(d.sock, &c0), 0);
	wait_connections(c0, 1);
	filler_start(&others, d.sock, FILL_UID, FILL_UID);
	assert_int_equal(filler_fill(&others, &a), 11);

	assert_int_equal(harness_reload_with(&d, LIMITS_20
					     "admin_connections = 2\n"), 0);
	harness_expect_logged(&d, "daemon: admin_connections 8 -> 2");
	assert_int_equal(filler_fill(&others, &a), 6);
	assert_string_equal(a.words, "too many clients connected");

	assert_int_equal(harness_reload_with(&d, LIMITS_20
					     "admin_connections = 20\n"), 0);
	snprintf(want, sizeof(want), "SIGHUP: %s:5: bad admin_connections "
		 "'20' (at most 19, below max_connections); keeping the "
		 "running configuration", d.conf);
	harness_expect_logged(&d, want);
	EXPECT_RC(filler_connect(&others, &a), -EUSERS);

	assert_int_equal(harness_reload_with(&d, "max_connections = 10\n"
					     "max_connections_per_uid = 100\n"),
			 0);
	harness_expect_logged(&d, "daemon: max_connections 20 -> 10, "
			      "admin_connections 2 -> 5");
	EXPECT_RC(filler_connect(&others, &a), -EUSERS);
	wait_connections(c0, 18);
	filler_stop(&others);
	pool_disconnect(c0);
	assert_int_equal(harness_stop(&d), 0);
}

static void
blocks_per_session(void **state)
{
	struct pool_conn *c, *other;
	struct pool *p, *q;
	struct daemon_proc d;
	pool_off_t off[10], extra, pair[2];
	const size_t two[2] = {32, 32};
	size_t usable;
	int i;

	(void)state;
	assert_int_equal(harness_start(&d, "max_blocks_per_session = 10\n"
				       "[pool b]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "b", &p), 0);
	for (i = 0; i < 10; i++)
		EXPECT_RC(pool_alloc(p, 32, &off[i]), 0);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);
	EXPECT_RC(pool_free(p, off[0]), 0);
	EXPECT_RC(pool_alloc(p, 32, &off[0]), 0);
	/*
	 * At the cap, only a retain that would add a reference is refused:
	 * one of a block held already is the no-op it always is, one of no
	 * block the -EINVAL it always is, and so for a retaining lookup.
	 */
	EXPECT_RC(pool_retain(p, off[1]), 0);
	EXPECT_RC(pool_retain(p, 512 * 1024), -EINVAL);
	assert_string_equal(pool_last_message(-EINVAL),
			    "0x80000 is not a live block");
	EXPECT_RC(pool_publish(p, off[2], "held"), 0);
	EXPECT_RC(pool_lookup_retain(p, "held", &extra, &usable), 0);
	assert_int_equal(extra, off[2]);
	EXPECT_RC(pool_unpublish(p, "held"), 0);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);
	/* A batch's refusal says how many it holds, and of what bound. */
	EXPECT_RC(pool_alloc_batch(p, 2, two, pair), -EDQUOT);
	assert_string_equal(pool_last_message(-EDQUOT), "a batch of 2 blocks "
			    "would pass the 10 blocks allowed per client: "
			    "this client holds 10");
	/* Another client has its own allowance. */
	EXPECT_RC(pool_connect(NULL, &other), 0);
	EXPECT_RC(pool_open(other, "b", &q), 0);
	EXPECT_RC(pool_alloc(q, 32, &extra), 0);
	pool_disconnect(other);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Persistent blocks outlive their connections, so no connection's bound
 * holds them: a uid's in a pool are counted against
 * max_persistent_blocks_per_uid.  At the bound every way of persisting a
 * new block (Persist, Alloc.persist, a batch persistent from birth,
 * Publish of a block not yet persistent) is -EDQUOT in words that name
 * the setting, and leaves nothing behind; a replace under the uid's own
 * name adds none and passes; a free makes room; the count is the uid's,
 * not the connection's; a reload raises it.
 */
static void
persistent_blocks_per_uid(void **state)
{
	struct pool_conn *c, *again;
	struct pool *p, *q;
	struct daemon_proc d;
	struct pool_stats st;
	pool_off_t off[4], extra, two[2];
	size_t sizes[2] = {32, 32};
	int i;

	(void)state;
	assert_int_equal(harness_start(&d, "max_persistent_blocks_per_uid = 3\n"
				       "[pool b]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "b", &p), 0);
	for (i = 0; i < 3; i++) {
		EXPECT_RC(pool_alloc(p, 32, &off[i]), 0);
		EXPECT_RC(pool_persist(p, off[i]), 0);
	}
	EXPECT_RC(pool_alloc(p, 32, &off[3]), 0);
	EXPECT_RC(pool_persist(p, off[3]), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT),
			       "max_persistent_blocks_per_uid"));
	EXPECT_RC(pool_alloc_wait(p, 32, 0, POOL_ALLOC_PERSIST, 0, &extra),
		  -EDQUOT);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST,
					 two), -EDQUOT);
	EXPECT_RC(pool_publish(p, off[3], "new"), -EDQUOT);
	assert_non_null(strstr(pool_last_message(-EDQUOT),
			       "max_persistent_blocks_per_uid"));
	/* Nothing left behind: the three persistent and the one held. */
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, 4);
	assert_int_equal(st.persistent_blocks, 3);
	assert_int_equal(st.named_blocks, 0);
	/* A replace of the uid's own persistent block adds none. */
	EXPECT_RC(pool_publish(p, off[0], "frame"), 0);
	EXPECT_RC(pool_publish_replace(p, off[3], "frame"), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.persistent_blocks, 3);
	/* The count is the uid's: a new connection meets it too. */
	EXPECT_RC(pool_connect(NULL, &again), 0);
	EXPECT_RC(pool_open(again, "b", &q), 0);
	EXPECT_RC(pool_alloc_wait(q, 32, 0, POOL_ALLOC_PERSIST, 0, &extra),
		  -EDQUOT);
	/* Its end makes room for one. */
	EXPECT_RC(pool_free_persisted(p, off[1], 0), 0);
	EXPECT_RC(pool_alloc_wait(q, 32, 0, POOL_ALLOC_PERSIST, 0, &extra),
		  0);
	EXPECT_RC(pool_alloc_wait(q, 32, 0, POOL_ALLOC_PERSIST, 0, &off[1]),
		  -EDQUOT);
	/* A reload raises the bound for the persists after it. */
	assert_int_equal(harness_reload_with(&d, "max_persistent_blocks_per_uid"
					     " = 5\n[pool b]\nsize = 1M\n"), 0);
	harness_expect_logged(&d, "max_persistent_blocks_per_uid 3 -> 5");
	EXPECT_RC(pool_alloc_batch_flags(q, 2, sizes, POOL_ALLOC_PERSIST,
					 two), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.persistent_blocks, 5);
	pool_disconnect(again);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The refusal at max_persistent_blocks_per_uid says how many persistent
 * blocks the uid has, and the bound apart: a batch of two with two of
 * three is refused with two, and after a reload lowers the bound under
 * the uid's three, the next Persist with three.  (Both said the bound as
 * the count: "has 3 ..., the most allowed", with two, then "has 2" with
 * three.)
 */
static void
persistent_blocks_words_count(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct daemon_proc d;
	pool_off_t off[4], two[2];
	size_t sizes[2] = {32, 32};
	char words[160];
	int i;

	(void)state;
	assert_int_equal(harness_start(&d, "max_persistent_blocks_per_uid = 3\n"
				       "[pool b]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "b", &p), 0);
	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_alloc_wait(p, 32, 0, POOL_ALLOC_PERSIST, 0,
					  &off[i]), 0);
	EXPECT_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST,
					 two), -EDQUOT);
	snprintf(words, sizeof(words), "uid %u has 2 persistent blocks in "
		 "pool b; max_persistent_blocks_per_uid is 3",
		 (unsigned)getuid());
	if (!strstr(pool_last_message(-EDQUOT), words))
		fail_msg("the batch's refusal: %s", pool_last_message(-EDQUOT));
	EXPECT_RC(pool_alloc(p, 32, &off[2]), 0);
	EXPECT_RC(pool_persist(p, off[2]), 0);
	assert_int_equal(harness_reload_with(&d, "max_persistent_blocks_per_uid"
					     " = 2\n[pool b]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_alloc(p, 32, &off[3]), 0);
	EXPECT_RC(pool_persist(p, off[3]), -EDQUOT);
	snprintf(words, sizeof(words), "uid %u has 3 persistent blocks in "
		 "pool b; max_persistent_blocks_per_uid is 2",
		 (unsigned)getuid());
	if (!strstr(pool_last_message(-EDQUOT), words))
		fail_msg("the refusal under a lowered bound: %s",
			 pool_last_message(-EDQUOT));
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

#define CAP_UID 65534
#define CAP_BLK (512u << 10)

/*
 * As uid CAP_UID (a child): sock's pool e, fill persists two small
 * blocks, the bound; else an Alloc.persist of CAP_BLK, or with batch an
 * AllocBatch.persist of one, must be refused -EDQUOT in the bound's
 * words.  Exit 0 when it went so.
 */
struct cap_child {
	const char *sock;
	bool fill, batch;
};

static int
persist_cap_child(void *arg)
{
	const struct cap_child *a = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	size_t size = CAP_BLK;
	int i;

	if (pool_connect(a->sock, &c) || pool_open(c, "e", &p))
		return 1;
	for (i = 0; a->fill && i < 2; i++)
		if (pool_alloc(p, 32, &off) || pool_persist(p, off))
			return 2;
	if (!a->fill &&
	    ((a->batch ? pool_alloc_batch_flags(p, 1, &size,
						POOL_ALLOC_PERSIST, &off) :
	      pool_alloc_wait(p, CAP_BLK, 0, POOL_ALLOC_PERSIST, 0, &off)) !=
	     -EDQUOT ||
	     !strstr(pool_last_message(-EDQUOT),
		     "max_persistent_blocks_per_uid")))
		return 3;
	pool_disconnect(c);
	return 0;
}

/*
 * An Alloc.persist or AllocBatch.persist the uid's count of persistent
 * blocks refuses is refused before it is allocated: it evicts no other
 * uid's evictable name to make room for a block it cannot keep.  (Each
 * was allocated, evicting one of root's two names in the full pool,
 * then refused.)
 */
static void
persist_cap_refusal_evicts_nothing(void **state)
{
	struct cap_child fill, ask, ask_batch;
	struct pool_conn *c;
	struct pool *p;
	struct daemon_proc d;
	struct pool_stats st;
	pool_off_t off[8], extra;
	int n, i;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	assert_int_equal(harness_start(&d, "max_persistent_blocks_per_uid = 2\n"
				       "[pool e]\nsize = 4M\nmode = 0666\n"),
			 0);
	fill = (struct cap_child){d.sock, true, false};
	ask = (struct cap_child){d.sock, false, false};
	ask_batch = (struct cap_child){d.sock, false, true};
	assert_int_equal(harness_wait(harness_spawn_as(CAP_UID, CAP_UID,
						       persist_cap_child,
						       &fill)), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "e", &p), 0);
	for (n = 0; n < 8 && pool_alloc(p, CAP_BLK, &off[n]) == 0; n++)
		;
	assert_true(n >= 2);
	EXPECT_RC(pool_alloc(p, CAP_BLK, &extra), -ENOMEM);
	/* Two of root's blocks become evictable names nobody holds. */
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_publish_flags(p, off[i], i ? "e1" : "e0",
					     POOL_PUBLISH_EVICTABLE), 0);
		EXPECT_RC(pool_free(p, off[i]), 0);
	}
	assert_int_equal(harness_wait(harness_spawn_as(CAP_UID, CAP_UID,
						       persist_cap_child,
						       &ask)), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.named_blocks, 2);
	assert_int_equal(harness_wait(harness_spawn_as(CAP_UID, CAP_UID,
						       persist_cap_child,
						       &ask_batch)), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.named_blocks, 2);
	assert_int_equal(st.persistent_blocks, 4);
	assert_int_equal(st.live_blocks, (uint64_t)n + 2);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/* Descriptors the daemon holds open now. */
static int
daemon_fd_count(const struct daemon_proc *d)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)d->pid);
	if (!(dir = opendir(path)))
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * Send reqs[0], reqs[1], ... in turn (ids from 2, or all 0 with zero_id),
 * up to n, reading nothing, until the daemon closes the connection; the
 * last send's error (-EPIPE or -ECONNRESET when it did).  Its descriptors
 * are counted after each 1000 requests: the most seen goes to *max_fds.
 */
static int
flood(const struct daemon_proc *d, int fd, Poolmgr__Request **reqs,
      int nreqs, int n, bool zero_id, int *sent, int *max_fds)
{
	int i, rc = 0, k;

	*sent = 0;
	*max_fds = 0;
	for (i = 0; i < n && rc != -EPIPE && rc != -ECONNRESET; i++) {
		Poolmgr__Request *req = reqs[i % nreqs];

		req->id = zero_id ? 0 : (uint64_t)i + 2;
		rc = raw_send(fd, req);
		if (rc == -EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (poll(&pfd, 1, 2000) != 1)
				break;	/* the daemon stopped reading us */
			i--;
			continue;
		}
		if (rc == 0)
			(*sent)++;
		if (i % 1000 == 0 && (k = daemon_fd_count(d)) > *max_fds)
			*max_fds = k;
	}
	return rc;
}

/* The connection was dropped, the log says why, and others are served. */
static void
dropped_for_not_reading(struct daemon_proc *d, struct pool_conn *c, int rc)
{
	struct pool_stats st;
	char log[65536], cmd[512];

	/* The daemon closed the connection rather than queue without end. */
	assert_true(rc == -EPIPE || rc == -ECONNRESET);
	assert_true(harness_alive(d));
	/* Another client is served all along. */
	EXPECT_RC(pool_stats_by_name(c, "s", &st), 0);
	snprintf(cmd, sizeof(cmd), "cat %s", d->log);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "does not read its replies"));
}

static void
client_that_never_reads_is_dropped(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT, *reqs[1] = {&req};
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	struct pool_conn *c;
	struct daemon_proc d;
	int fd, rc, sent, max_fds;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fd = raw_connect(d.sock);
	assert_true(fd >= 0);
	assert_int_equal(raw_hello(fd), 0);
	ref.name = "s";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	/* ~200-byte replies; 4 MiB of them is ~20000: send up to 200000. */
	rc = flood(&d, fd, reqs, 1, 200000, false, &sent, &max_fds);
	printf("sent %d requests without reading; last send: %s\n", sent,
	       rc ? strerror(-rc) : "ok");
	dropped_for_not_reading(&d, c, rc);
	close(fd);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * One uid's connections that do not read, each queueing less than its own
 * bound: together they are bounded too (64 MiB), or a uid of 256
 * connections held 893 MB of the daemon's memory, for as long as it
 * liked.  The child, of uid 65534, opens UNREAD_CONNS connections and on
 * each asks UNREAD_LISTINGS listings of pool n's names (a datagram each,
 * some 63 KiB), reads none, and waits until the daemon has answered them
 * all or closed that connection.  The uid's connections past its bound
 * are closed, those whose queues are the longest first.
 */
#define UNREAD_CONNS 40
#define UNREAD_LISTINGS 56
#define UNREAD_UID 65534

/* DaemonStats on fd: its requests_total, or -1. */
static int64_t
requests_total(int fd)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__DaemonStats ds = POOLMGR__DAEMON_STATS__INIT;
	Poolmgr__Reply *r = NULL;
	int64_t n = -1;

	req.body_case = POOLMGR__REQUEST__BODY_DAEMON_STATS;
	req.daemon_stats = &ds;
	if (harness_raw_error(fd, &req, &r) == 0 && r->daemon_stats)
		n = (int64_t)r->daemon_stats->requests_total;
	if (r)
		poolmgr__reply__free_unpacked(r, NULL);
	return n;
}

/* Has the daemon closed fd (its replies, if any, left unread)? */
static bool
closed_by_daemon(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/*
 * UNREAD_LISTINGS listings asked on fd, none read: back once the daemon
 * has answered them all or closed fd (0), or a CHECK's code.  Each of
 * ctl's polls of DaemonStats counts once it is answered.
 */
static int
listings_unread(int ctl, int fd, Poolmgr__Request *req)
{
	int64_t before, now, asked;
	int i;

	CHECK((before = requests_total(ctl)) >= 0, 12);
	for (i = 0; i < UNREAD_LISTINGS; i++) {
		req->id = 100 + (uint64_t)i;
		CHECK(harness_raw_send(fd, req) == 0, 13);
	}
	for (asked = 1;; asked++) {
		CHECK((now = requests_total(ctl)) >= 0, 14);
		if (now - before - asked >= UNREAD_LISTINGS ||
		    closed_by_daemon(fd))
			return 0;
		CHECK(asked < 100000, 17);
		harness_sleep_ms(1);
	}
}

/* The ListNames of pool n, in req. */
static void
listing_request(Poolmgr__Request *req, Poolmgr__ListNames *ln,
		Poolmgr__PoolRef *ref)
{
	ref->name = "n";
	ln->pool = ref;
	req->body_case = POOLMGR__REQUEST__BODY_NAMES;
	req->names = ln;
}

static int
unread_listings_child(void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListNames ln = POOLMGR__LIST_NAMES__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	const char *sock = arg;
	int fds[UNREAD_CONNS], ctl, k, rc, open_now = 0;

	CHECK((ctl = harness_raw_greeted(sock, "control")) >= 0, 10);
	listing_request(&req, &ln, &ref);
	for (k = 0; k < UNREAD_CONNS; k++) {
		CHECK((fds[k] = harness_raw_greeted(sock, "unread")) >= 0, 11);
		if ((rc = listings_unread(ctl, fds[k], &req)))
			return rc;
	}
	for (k = 0; k < UNREAD_CONNS; k++) {
		open_now += !closed_by_daemon(fds[k]);
		close(fds[k]);
	}
	fprintf(stderr, "uid %u: %d of %d connections that read none of %d "
		"listings each are still open\n", (unsigned)getuid(),
		open_now, UNREAD_CONNS, UNREAD_LISTINGS);
	/*
	 * 64 MiB is some 18 connections' worth, a few more as the kernel's
	 * socket buffers hold some replies too; the daemon still serves.
	 */
	CHECK(open_now >= 10 && open_now <= 24, 15);
	CHECK(requests_total(ctl) > 0, 16);
	close(ctl);
	return 0;
}

/*
 * As unread_listings_child, then one more connection of the uid asks its
 * listings in one burst before it reads any: its queue passes the uid's
 * bound while it is the shortest, so a full one goes, not it, and it
 * reads every reply.
 */
static int
burst_reader_child(void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListNames ln = POOLMGR__LIST_NAMES__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	const char *sock = arg;
	int fds[UNREAD_CONNS], ctl, reader, k, i, rc, open_before = 0;
	int open_after = 0;
	Poolmgr__Reply *r;

	CHECK((ctl = harness_raw_greeted(sock, "control")) >= 0, 10);
	listing_request(&req, &ln, &ref);
	for (k = 0; k < UNREAD_CONNS; k++) {
		CHECK((fds[k] = harness_raw_greeted(sock, "unread")) >= 0, 11);
		if ((rc = listings_unread(ctl, fds[k], &req)))
			return rc;
	}
	for (k = 0; k < UNREAD_CONNS; k++)
		open_before += !closed_by_daemon(fds[k]);
	CHECK((reader = harness_raw_greeted(sock, "burst")) >= 0, 20);
	if ((rc = listings_unread(ctl, reader, &req)))
		return rc;
	CHECK(!closed_by_daemon(reader), 21);
	for (i = 0; i < UNREAD_LISTINGS; i++) {
		CHECK((r = harness_raw_reply(reader, 100 + (uint64_t)i,
					     10000)) != NULL, 22);
		CHECK(r->error == 0 && r->names, 23);
		poolmgr__reply__free_unpacked(r, NULL);
	}
	for (k = 0; k < UNREAD_CONNS; k++) {
		open_after += !closed_by_daemon(fds[k]);
		close(fds[k]);
	}
	fprintf(stderr, "uid %u: %d connections that read nothing were open, "
		"%d after a burst of %d listings on another that read them "
		"all\n", (unsigned)getuid(), open_before, open_after,
		UNREAD_LISTINGS);
	CHECK(open_after < open_before, 24);
	close(reader);
	close(ctl);
	return 0;
}

/* n names of 60 digits in p, so that a listing fills a datagram. */
static void
publish_long_names(struct pool *p, int n)
{
	pool_off_t off;
	char name[80];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%060d", i);
		EXPECT_RC(pool_alloc(p, 16, &off), 0);
		EXPECT_RC(pool_publish(p, off, name), 0);
		EXPECT_RC(pool_free(p, off), 0);
	}
}

/*
 * A daemon with pool n of 1000 long names, child run as UNREAD_UID
 * against it and passing; then check(d) while it still runs.
 */
static void
run_unread_child(int (*child)(void *), void (*check)(struct daemon_proc *))
{
	struct pool_conn *c;
	struct daemon_proc d;
	struct pool *p;
	pid_t pid;

	harness_skip_unless_root("drop a child to another uid");
	assert_int_equal(harness_start(&d, "[pool n]\nsize = 1M\n"
				       "mode = 0644\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "n", &p), 0);
	publish_long_names(p, 1000);
	pid = harness_spawn_as(UNREAD_UID, UNREAD_UID, child, d.sock);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	assert_true(harness_alive(&d));
	if (check)
		check(&d);
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/* The words name the uid's bound, not one connection's. */
static void
logged_the_uids_bound(struct daemon_proc *d)
{
	char words[128];

	snprintf(words, sizeof(words), "the connections of uid %d hold 64 MiB "
		 "of replies not yet read; dropping client pid ", UNREAD_UID);
	assert_int_equal(harness_log_wait(d, words, 0, 10000), 0);
}

static void
a_uids_unread_replies_are_bounded(void **state)
{
	(void)state;
	run_unread_child(unread_listings_child, logged_the_uids_bound);
}

/*
 * The uid's connections full up to its bound of unread replies, and one
 * more of the uid that reads, but after a burst: the bound drops the
 * connection whose queue is the longest, one that never reads, not the
 * reader whose reply passed it (it was dropped, and the others stayed).
 */
static void
a_reader_outlasts_its_uids_unread(void **state)
{
	(void)state;
	run_unread_child(burst_reader_child, NULL);
}

/*
 * Replies that encode to no bytes at all (a Free of POOL_OFF_NONE with id
 * 0): each still costs the daemon its queue record, and they must count.
 * (They once counted 0 bytes each: the daemon grew by 13 MB a second and
 * never dropped the client.)
 */
static void
client_of_empty_replies_is_dropped(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT, *reqs[1] = {&req};
	Poolmgr__Free f = POOLMGR__FREE__INIT;
	struct pool_conn *c;
	struct daemon_proc d;
	int fd, rc, sent, max_fds;
	uint32_t h;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fd = raw_greeted(d.sock);
	h = harness_raw_handle(fd, "s");
	f.handle = h;
	f.offset = UINT64_MAX;
	req.body_case = POOLMGR__REQUEST__BODY_FREE;
	req.free = &f;
	rc = flood(&d, fd, reqs, 1, 2000000, true, &sent, &max_fds);
	printf("sent %d requests with empty replies without reading; last "
	       "send: %s\n", sent, rc ? strerror(-rc) : "ok");
	dropped_for_not_reading(&d, c, rc);
	close(fd);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Read-only opens, each answered with a descriptor, and closes, so that
 * the handles never pile up: the replies' descriptors must not (they once
 * took every descriptor the daemon had, and nobody could connect).
 */
static void
client_of_unread_descriptors_is_dropped(void **state)
{
	Poolmgr__Request open = POOLMGR__REQUEST__INIT;
	Poolmgr__Request close_req = POOLMGR__REQUEST__INIT;
	Poolmgr__Request *reqs[2] = {&open, &close_req};
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__ClosePool cl = POOLMGR__CLOSE_POOL__INIT;
	struct pool_conn *c;
	struct daemon_proc d;
	int fd, rc, sent, max_fds, before;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fd = raw_connect(d.sock);
	assert_true(fd >= 0);
	assert_int_equal(raw_hello(fd), 0);
	before = daemon_fd_count(&d);
	o.name = "s";
	o.read_only = true;
	open.body_case = POOLMGR__REQUEST__BODY_OPEN;
	open.open = &o;
	cl.handle = 1;	/* each open's: the handles go 1, 2, 3, ... */
	close_req.body_case = POOLMGR__REQUEST__BODY_CLOSE;
	close_req.close = &cl;
	rc = 0;
	sent = 0;
	max_fds = before;
	for (int i = 0; i < 20000 && rc != -EPIPE && rc != -ECONNRESET; i++) {
		Poolmgr__Request *req = reqs[i % 2];
		int k;

		cl.handle = (uint32_t)(i / 2 + 1);
		req->id = (uint64_t)i + 2;
		rc = raw_send(fd, req);
		if (rc == -EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (poll(&pfd, 1, 2000) != 1)
				break;	/* the daemon stopped reading us */
			i--;
			continue;
		}
		sent += rc == 0;
		if (i % 100 == 0 && (k = daemon_fd_count(&d)) > max_fds)
			max_fds = k;
	}
	max_fds = daemon_fd_count(&d) > max_fds ? daemon_fd_count(&d)
						: max_fds;
	printf("sent %d opens and closes without reading; the daemon held "
	       "%d descriptors at most, %d before; last send: %s\n", sent,
	       max_fds, before, rc ? strerror(-rc) : "ok");
	dropped_for_not_reading(&d, c, rc);
	/*
	 * At most a read batch's replies at once (64 datagrams, half of them
	 * opens, staged to go out together), then 8 queued.
	 */
	assert_true(max_fds <= before + 32 + 8);
	close(fd);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/* The daemon of conf (NULL: none) with 40 descriptors. */
static void
start_short_of_descriptors(struct daemon_proc *d, const char *conf)
{
	setenv("HARNESS_NOFILE", "40", 1);
	assert_int_equal(harness_start(d, conf), 0);
	unsetenv("HARNESS_NOFILE");
}

/* fds[0 .. n) closed (those already closed, -1, left). */
static void
close_descriptors(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		harness_close_fd(&fds[i]);
}

/*
 * An OpenPool reply queued behind 3000 unread ones, its pool destroyed by
 * force and another created meanwhile: the descriptor that reaches the
 * client is still its pool's memfd.  (The queue once kept only the fd's
 * number, which the new pool's memfd then took: a client got a pool it
 * never opened, 0600 or not.)
 */
static void
queued_open_reply_keeps_its_pool(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	struct pool_create_opts co = {.max_size = 1 << 20, .mode = 0600};
	struct pool_conn *c;
	struct pool *secret;
	struct daemon_proc d;
	pool_off_t off;
	char link[256], path[64];
	int fd, i, got = -1, rc;
	ssize_t n;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool public]\nsize = 1M\n"
				       "mode = 0666\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fd = raw_greeted(d.sock);
	ref.name = "public";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	for (i = 0; i < 3000; i++) {
		req.id = (uint64_t)i + 2;
		if (raw_send(fd, &req) == -EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			assert_int_equal(poll(&pfd, 1, 2000), 1);
			i--;
		}
	}
	o.name = "public";
	req.id = 9999;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	/* The 3000 may still fill the socket's buffer: wait for room. */
	while ((rc = raw_send(fd, &req)) == -EAGAIN) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		assert_int_equal(poll(&pfd, 1, 2000), 1);
	}
	assert_int_equal(rc, 0);
	/* The daemon works through the 3000 a batch at a time: the open is
	 * done when its handle shows. */
	for (i = 0; i < 1000; i++) {
		struct pool_client_info *ci;
		size_t listed = 0;

		EXPECT_RC(pool_clients(c, "public", &ci, &listed), 0);
		free(ci);
		if (listed == 1)
			break;
		harness_sleep_ms(5);
	}
	assert_true(i < 1000);
	EXPECT_RC(pool_destroy_force(c, "public"), 0);
	EXPECT_RC(pool_create(c, "secret", &co), 0);
	EXPECT_RC(pool_open(c, "secret", &secret), 0);
	EXPECT_RC(pool_alloc(secret, 64, &off), 0);
	strcpy(pool_ptr(secret, off), "SECRET");
	/* Now read everything; the open's reply carries a descriptor. */
	for (;;) {
		union {
			struct cmsghdr hdr;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} cm;
		static uint8_t buf[65536];
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf)};
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		struct cmsghdr *cmsg;

		if (poll(&pfd, 1, 3000) != 1)
			break;
		if ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) <= 0)
			break;
		for (cmsg = CMSG_FIRSTHDR(&msg); cmsg;
		     cmsg = CMSG_NXTHDR(&msg, cmsg)) {
			int passed;

			if (cmsg->cmsg_type != SCM_RIGHTS)
				continue;
			memcpy(&passed, CMSG_DATA(cmsg), sizeof(int));
			if (got == -1)
				got = passed;
			else
				close(passed);
		}
		if (got != -1)
			break;
	}
	assert_true(got >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", got);
	n = readlink(path, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	printf("the queued open's descriptor: %s\n", link);
	if (!strstr(link, "poolmgr:public"))
		fail_msg("the reply to an open of \"public\" carried %s",
			 link);
	close(got);
	close(fd);
	EXPECT_RC(pool_free(secret, off), 0);
	pool_close(secret);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
out_of_descriptors(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct daemon_proc d;
	int fds[80], i, served = 0, refused = 0;

	(void)state;
	start_short_of_descriptors(&d, "[pool f]\nsize = 1M\n");
	for (i = 0; i < 80; i++) {
		fds[i] = raw_connect(d.sock);
		if (fds[i] >= 0)
			raw_hello(fds[i]);
	}
	for (i = 0; i < 80; i++) {
		int rc = fds[i] >= 0 ? raw_reply(fds[i], 2000) : 1;

		if (rc == 0)
			served++;
		else
			refused++;
	}
	printf("descriptor limit 40: %d clients served, %d refused\n", served,
	       refused);
	assert_true(served > 0);
	assert_true(refused > 0);
	assert_true(harness_alive(&d));
	for (i = 0; i < 80; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	harness_sleep_ms(200);
	/* With descriptors free again, clients are served as before. */
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "f", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Greeted raw connections until the daemon refuses one for want of
 * descriptors: then it has none free (it keeps its spare for the next
 * refusal).  Their sockets in fds[]; how many of them it serves.
 */
static int
fill_descriptors(const struct daemon_proc *d, int *fds, int n)
{
	int i, served = 0, refused = 0;

	for (i = 0; i < n; i++)
		if ((fds[i] = raw_connect(d->sock)) >= 0)
			raw_hello(fds[i]);
	for (i = 0; i < n; i++) {
		if (fds[i] >= 0 && raw_reply(fds[i], 2000) == 0) {
			served++;
		} else {
			refused++;
			harness_close_fd(&fds[i]);
		}
	}
	assert_true(refused > 0);
	return served;
}

/* A ShareMap of handle h on raw connection fd: the reply's error. */
static int
raw_share_map(int fd, uint32_t h)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap m = POOLMGR__SHARE_MAP__INIT;

	m.handle = h;
	req.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	req.share_map = &m;
	return harness_raw_error(fd, &req, NULL);
}

/*
 * A daemon with no descriptor left to pass a pool's memory refuses the
 * one request that needs one (OpenPool, ShareMap) with -EMFILE and says
 * so; the connection stays, and once descriptors are free again the same
 * requests pass on it.
 */
static void
open_without_daemon_descriptors_is_emfile(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct daemon_proc d;
	struct pool *p;
	int fds[80], raw;
	uint32_t h;

	(void)state;
	start_short_of_descriptors(&d, "[pool f]\nsize = 1M\n");
	EXPECT_RC(pool_connect(NULL, &c), 0);
	assert_true((raw = raw_greeted(d.sock)) >= 0);
	EXPECT_RAW(harness_raw_open(raw, "f", &h), 0);
	fill_descriptors(&d, fds, 80);

	EXPECT_RC(pool_open(c, "f", &p), -EMFILE);
	assert_non_null(strstr(pool_last_message(-EMFILE),
			       "out of descriptors"));
	EXPECT_RAW(raw_share_map(raw, h), -EMFILE);
	/* Refused, not dropped: both are served on, and hold no handle. */
	EXPECT_RC(pool_stats_by_name(c, "f", &st), 0);
	assert_int_equal(st.clients, 1);
	assert_int_equal(harness_log_count(&d, "out of descriptors for a "
					   "reply"), 0);

	close_descriptors(fds, 80);
	wait_connections(c, 2);
	EXPECT_RC(pool_open(c, "f", &p), 0);
	EXPECT_RAW(raw_share_map(raw, h), 0);
	pool_close(p);
	close(raw);
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A block the daemon moves when it has no descriptor left for the copy's
 * own view of the pool's memfd (opened at a pool's first move): the move
 * is made all the same, every page copied, what was written at its place
 * in the new block, and the daemon says so.
 */
static void
move_without_daemon_descriptors_copies_all(void **state)
{
	const uint64_t size = 8ull << 20, at = 4ull << 20;
	struct pool_conn *c;
	struct daemon_proc d;
	struct pool *p;
	uint64_t a, b, moved;
	uint8_t *mem;
	int fds[80], raw;
	uint32_t h;

	(void)state;
	start_short_of_descriptors(&d, "[pool m]\nsize = 32M\n");
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "m", &p), 0);
	assert_true((raw = raw_greeted(d.sock)) >= 0);
	EXPECT_RAW(harness_raw_open(raw, "m", &h), 0);
	EXPECT_RAW(harness_raw_alloc(raw, h, size, &a, NULL), 0);
	/* Right after it: the block cannot grow in place. */
	EXPECT_RAW(harness_raw_alloc(raw, h, size, &b, NULL), 0);
	assert_int_equal(b, a + size);
	mem = pool_ptr(p, 0);
	memset(mem + a + at, 0x5a, 4096);
	fill_descriptors(&d, fds, 80);

	moved = a;
	EXPECT_RAW(harness_raw_realloc(raw, h, &moved, size + (64 << 10),
				       false), 0);
	assert_int_not_equal(moved, a);
	assert_int_equal(mem[moved + at - 1], 0);
	assert_int_equal(mem[moved + at], 0x5a);
	assert_int_equal(mem[moved + at + 4095], 0x5a);
	assert_int_equal(mem[moved + at + 4096], 0);
	assert_int_equal(harness_log_count(&d, "no descriptor to look for "
					   "holes through"), 1);
	close_descriptors(fds, 80);
	close(raw);
	pool_close(p);
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A daemon with no descriptor left still reads its resident memory for
 * DaemonStats, the status an operator asks for just then: it opened
 * /proc/self/statm per request, and at the limit said 0.  poolctl status
 * shows a size, not "unknown".
 */
static void
status_without_daemon_descriptors_reads_memory(void **state)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;
	struct daemon_proc d;
	char out[4096], err[1024];
	int fds[80];

	(void)state;
	start_short_of_descriptors(&d, "[pool f]\nsize = 1M\n");
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fill_descriptors(&d, fds, 80);

	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	printf("resident at the descriptor limit: %llu bytes\n",
	       (unsigned long long)ds.rss_bytes);
	assert_true(ds.rss_bytes > 0);
	assert_true(ds.connections > 1);
	close_descriptors(fds, 80);
	wait_connections(c, 1);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status"), 0);
	assert_non_null(strstr(out, "resident memory"));
	assert_null(strstr(out, "unknown"));
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A client the daemon accepts with its spare descriptor, only to close it,
 * is told why first: pool_connect is -EUSERS, in words that say the daemon
 * is out of descriptors, where it was a bare -ECONNRESET; poolctl names the
 * limit behind it (the daemon's open files, not max_connections).
 */
static void
connect_without_daemon_descriptors_is_told(void **state)
{
	struct pool_conn *c, *late;
	struct daemon_proc d;
	char out[256], err[1024];
	int fds[80];

	(void)state;
	start_short_of_descriptors(&d, NULL);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fill_descriptors(&d, fds, 80);

	EXPECT_RC(pool_connect(NULL, &late), -EUSERS);
	assert_non_null(strstr(pool_last_message(-EUSERS),
			       "out of descriptors"));
	assert_true(harness_log_count(&d, "out of file descriptors; "
				      "refusing a client") > 0);
	/* poolctl names the limit behind it: not max_connections. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "stats"), 69);
	assert_non_null(strstr(err, "out of descriptors"));
	assert_non_null(strstr(err, "LimitNOFILE"));
	assert_null(strstr(err, "max_connections"));

	close_descriptors(fds, 80);
	wait_connections(c, 1);
	EXPECT_RC(pool_connect(NULL, &late), 0);
	pool_disconnect(late);
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A pool made with one descriptor left to the daemon: its memfd takes it,
 * and its share map would find none.  The create is refused (-EMFILE),
 * nothing made, rather than the pool made for life without a share map
 * (its clients without a cache); once descriptors are free the same
 * create makes it whole.
 */
static void
create_with_one_descriptor_left(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_conn *c;
	struct pool_stats st;
	struct daemon_proc d;
	int fds[80], i, served;

	(void)state;
	start_short_of_descriptors(&d, NULL);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	served = fill_descriptors(&d, fds, 80);
	assert_true(served > 0);
	for (i = 0; fds[i] < 0; i++)
		;
	harness_close_fd(&fds[i]);
	wait_connections(c, (uint64_t)served);

	EXPECT_RC(pool_create(c, "p", &o), -EMFILE);
	assert_non_null(strstr(pool_last_message(-EMFILE),
			       "out of descriptors"));
	EXPECT_RC(pool_stats_by_name(c, "p", &st), -ENOENT);
	assert_int_equal(harness_log_count(&d, "no share map"), 0);

	close_descriptors(fds, 80);
	wait_connections(c, 1);
	EXPECT_RC(pool_create(c, "p", &o), 0);
	EXPECT_RC(pool_stats_by_name(c, "p", &st), 0);
	assert_int_equal(harness_log_count(&d, "no share map"), 0);
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

/* Pool i of many: a name of the form "p017". */
static void
pool_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "p%03u", i);
}

static void
pools_past_256_are_enospc(void **state)
{
	struct pool_create_opts o = {.max_size = 64 * 1024};
	struct pool_stats *list = NULL, st;
	struct pool_conn *c;
	struct daemon_proc d;
	size_t n = 0;
	char name[16];
	unsigned i;

	(void)state;
	assert_int_equal(harness_start(&d, NULL), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	for (i = 0; i < 256; i++) {
		pool_name(name, sizeof(name), i);
		EXPECT_RC(pool_create(c, name, &o), 0);
	}
	EXPECT_RC(pool_create(c, "one-too-many", &o), -ENOSPC);
	EXPECT_RC(pool_stats_by_name(c, "one-too-many", &st), -ENOENT);
	/* All 256 are there, and their listing fits one message. */
	EXPECT_RC(pool_list(c, &list, &n), 0);
	assert_int_equal(n, 256);
	free(list);
	/* A destroy makes room for one, and only one. */
	EXPECT_RC(pool_destroy(c, "p100"), 0);
	EXPECT_RC(pool_create(c, "one-too-many", &o), 0);
	EXPECT_RC(pool_create(c, "p100", &o), -ENOSPC);
	EXPECT_RC(pool_stats_by_name(c, "one-too-many", &st), 0);
	assert_int_equal(st.max_size, 64 * 1024);
	printf("limits: 256 pools created, the 257th refused with -ENOSPC\n");
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

#define NAMES_MAX 65536

/*
 * A pool holds 65536 block names: the next Publish of a new name is
 * -ENOSPC in words that name the bound, while a name already there can
 * still be given to another block; an unpublish makes room for one.
 */
static void
names_past_65536_are_enospc(void **state)
{
	static size_t sizes[4096];
	static pool_off_t offs[NAMES_MAX + 1];
	struct pool_stats st;
	struct pool_conn *c;
	struct daemon_proc d;
	struct pool *p;
	char name[16];
	unsigned i;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool n]\nsize = 64M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "n", &p), 0);
	for (i = 0; i < 4096; i++)
		sizes[i] = 16;
	for (i = 0; i < NAMES_MAX; i += 4096)
		EXPECT_RC(pool_alloc_batch(p, 4096, sizes, offs + i), 0);
	EXPECT_RC(pool_alloc(p, 16, &offs[NAMES_MAX]), 0);
	for (i = 0; i < NAMES_MAX; i++) {
		snprintf(name, sizeof(name), "n%05u", i);
		EXPECT_RC(pool_publish(p, offs[i], name), 0);
	}
	EXPECT_RC(pool_publish(p, offs[NAMES_MAX], "one-too-many"), -ENOSPC);
	assert_non_null(strstr(pool_last_message(-ENOSPC),
			       "pool n has 65536 names, the most allowed"));
	EXPECT_RC(pool_stats_by_name(c, "n", &st), 0);
	assert_int_equal(st.named_blocks, NAMES_MAX);
	/* A name there already moves to another block. */
	EXPECT_RC(pool_publish_replace(p, offs[NAMES_MAX], "n00007"), 0);
	EXPECT_RC(pool_unpublish(p, "n00008"), 0);
	EXPECT_RC(pool_publish(p, offs[8], "one-too-many"), 0);
	EXPECT_RC(pool_publish(p, offs[7], "two-too-many"), -ENOSPC);
	printf("limits: %d names published, the next refused with -ENOSPC\n",
	       NAMES_MAX);
	harness_expect_checked(c, "n");
	pool_close(p);
	pool_disconnect(c);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

#define HANDLES_MAX 1024

/*
 * Send n requests made by fill(req, i), 64 at a time, and count the
 * replies with error 0 and with error want; fails on any other.
 */
static void
pipeline(int fd, int n, void (*fill)(Poolmgr__Request *, int, void *),
	 void *arg, int want, int *ok, int *wanted)
{
	for (int i = 0; i < n; i += 64) {
		int k, m = n - i < 64 ? n - i : 64;

		for (k = 0; k < m; k++) {
			Poolmgr__Request req = POOLMGR__REQUEST__INIT;

			fill(&req, i + k, arg);
			req.id = (uint64_t)(i + k) + 100;
			assert_int_equal(raw_send(fd, &req), 0);
		}
		for (k = 0; k < m; k++) {
			int rc = raw_reply(fd, 5000);

			if (rc == 0)
				(*ok)++;
			else if (rc == want)
				(*wanted)++;
			else
				fail_msg("request %d: %d", i + k, rc);
		}
	}
}

static Poolmgr__OpenPool open_h = POOLMGR__OPEN_POOL__INIT;
static Poolmgr__Retain retain_b = POOLMGR__RETAIN__INIT;

static void
fill_open(Poolmgr__Request *req, int i, void *arg)
{
	(void)i;
	(void)arg;
	open_h.name = "h";
	open_h.read_only = false;
	req->body_case = POOLMGR__REQUEST__BODY_OPEN;
	req->open = &open_h;
}

static void
fill_retain(Poolmgr__Request *req, int i, void *arg)
{
	retain_b.handle = (uint32_t)i + 1;
	retain_b.offset = *(uint64_t *)arg;
	req->body_case = POOLMGR__REQUEST__BODY_RETAIN;
	req->retain = &retain_b;
}

/*
 * 64 connections of 1024 handles each retain one block: its 65536th
 * holder is the last; the next retain is -EMLINK and changes nothing.
 * (Holders were unbounded, and every request about the block may walk
 * them: 256,000 made each check of it cost milliseconds.)
 */
static void
block_holders_are_bounded(void **state)
{
	struct pool_conn *c;
	struct pool *p, *q;
	char want[96];
	struct pool_stats st;
	struct daemon_proc d;
	static int fds[64];
	uint64_t off;
	int i, ok = 0, refused = 0, opened = 0, none = 0;

	(void)state;
	assert_int_equal(harness_start(&d, "max_connections_per_uid = 100\n"
				       "[pool h]\nsize = 64K\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_open(c, "h", &p), 0);
	EXPECT_RC(pool_alloc(p, 64, &off), 0);	/* holder 1 */
	for (i = 0; i < 64; i++) {
		fds[i] = raw_greeted(d.sock);
		pipeline(fds[i], 1024, fill_open, NULL, 1, &opened, &none);
		pipeline(fds[i], 1024, fill_retain, &off, -EMLINK, &ok,
			 &refused);
	}
	printf("limits: one block retained by %d handles, %d more "
	       "refused\n", ok, refused);
	assert_int_equal(opened, 64 * 1024);
	assert_int_equal(ok, 65535);
	assert_int_equal(refused, 1);
	/* The refusal says it is the holders' bound, and the block's. */
	EXPECT_RC(pool_open(c, "h", &q), 0);
	EXPECT_RC(pool_retain(q, off), -EMLINK);
	snprintf(want, sizeof(want), "block 0x%llx has 65536 holders, the "
		 "most it may have", (unsigned long long)off);
	assert_string_equal(pool_last_message(-EMLINK), want);
	pool_close(q);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, 1);
	for (i = 0; i < 64; i++)
		close(fds[i]);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
handles_past_1024_are_emfile(void **state)
{
	static struct pool *h[HANDLES_MAX];
	struct pool *extra = (struct pool *)&extra;	/* must become NULL */
	struct pool_conn *c, *other;
	struct pool_stats st;
	struct daemon_proc d;
	pool_off_t off;
	unsigned i;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool h]\nsize = 64K\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	for (i = 0; i < HANDLES_MAX; i++) {
		int rc = pool_open(c, "h", &h[i]);

		if (rc)
			fail_msg("open %u of %d: %s", i + 1, HANDLES_MAX,
				 pool_strerror(rc));
	}
	EXPECT_RC(pool_open(c, "h", &extra), -EMFILE);
	assert_null(extra);
	/* Which bound: not the daemon's descriptors, nor the numbers. */
	assert_string_equal(pool_last_message(-EMFILE), "this connection has "
			    "1024 pool handles open, the most it may: close "
			    "one first");
	EXPECT_RC(pool_open_readonly(c, "h", &extra), -EMFILE);
	assert_null(extra);
	/* The connection still works through the handles it has... */
	EXPECT_RC(pool_alloc(h[HANDLES_MAX - 1], 100, &off), 0);
	EXPECT_RC(pool_free(h[HANDLES_MAX - 1], off), 0);
	EXPECT_RC(pool_flush(h[HANDLES_MAX - 1]), 0);
	/* ...the daemon counts them all, and another connection may open. */
	EXPECT_RC(pool_stats_by_name(c, "h", &st), 0);
	assert_int_equal(st.clients, HANDLES_MAX);
	EXPECT_RC(pool_connect(NULL, &other), 0);
	EXPECT_RC(pool_open(other, "h", &extra), 0);
	pool_close(extra);
	pool_disconnect(other);
	/* A close makes room for one more on this connection. */
	pool_close(h[0]);
	EXPECT_RC(pool_open(c, "h", &h[0]), 0);
	EXPECT_RC(pool_open(c, "h", &extra), -EMFILE);
	printf("limits: %d handles open on one connection, the next "
	       "refused with -EMFILE\n", HANDLES_MAX);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
raw_batch_past_4096_is_e2big(void **state)
{
	static uint64_t sizes[4097], offs[4097];
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__FreeBatch fb = POOLMGR__FREE_BATCH__INIT;
	struct pool_stats st;
	struct pool_conn *c;
	struct daemon_proc d;
	uint32_t handle;
	size_t i;
	int fd;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool b]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(NULL, &c), 0);
	fd = raw_greeted(d.sock);
	handle = harness_raw_handle(fd, "b");

	/* 4097 allocations: refused whole, nothing allocated. */
	for (i = 0; i < 4097; i++)
		sizes[i] = 16;
	EXPECT_RAW(harness_raw_alloc_batch(fd, handle, sizes, 4097, NULL),
		   -E2BIG);
	EXPECT_RC(pool_stats_by_name(c, "b", &st), 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.failed_allocs, 0);

	/* 4096 pass. */
	EXPECT_RAW(harness_raw_alloc_batch(fd, handle, sizes, 4096, offs), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &st), 0);
	assert_int_equal(st.live_blocks, 4096);

	/* 4097 frees (the last one a skipped POOL_OFF_NONE): refused whole. */
	offs[4096] = POOL_OFF_NONE;
	fb.handle = handle;
	fb.offsets = offs;
	fb.n_offsets = 4097;
	req.body_case = POOLMGR__REQUEST__BODY_FREE_BATCH;
	req.free_batch = &fb;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), -E2BIG);
	EXPECT_RC(pool_stats_by_name(c, "b", &st), 0);
	assert_int_equal(st.live_blocks, 4096);

	/* 4096 frees pass, on the same connection. */
	fb.n_offsets = 4096;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &st), 0);
	assert_int_equal(st.live_blocks, 0);
	printf("limits: raw batches of 4097 refused with -E2BIG, 4096 "
	       "served\n");
	close(fd);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
raw_long_pool_name_is_enametoolong(void **state)
{
	char name[1001];
	struct pool_stats *list = NULL;
	struct pool_conn *c;
	struct daemon_proc d;
	size_t n = 0;
	int fd;

	(void)state;
	assert_int_equal(harness_start(&d, NULL), 0);
	fd = raw_greeted(d.sock);
	memset(name, 'n', sizeof(name) - 1);
	name[65] = '\0';
	EXPECT_RAW(raw_create(fd, name, 65536), -ENAMETOOLONG);
	name[65] = 'n';
	name[1000] = '\0';
	EXPECT_RAW(raw_create(fd, name, 65536), -ENAMETOOLONG);
	/* Nothing was created, and 64 bytes are a good name. */
	EXPECT_RC(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_list(c, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	name[64] = '\0';
	EXPECT_RAW(raw_create(fd, name, 65536), 0);
	EXPECT_RC(pool_list(c, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, name);
	free(list);
	printf("limits: raw CreatePool with a 65-byte and a 1000-byte name "
	       "refused with -ENAMETOOLONG, 64 bytes created\n");
	close(fd);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
half_message_and_sleep_block_nobody(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	Poolmgr__Request *dec;
	struct pool_stats st;
	struct pool_conn *c;
	struct daemon_proc d;
	uint8_t buf[256], b;
	size_t len, cut;
	double t, worst = 0;
	int stream, sleeper, mute, half, i;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"), 0);

	/* A byte stream, where half a message could exist, cannot connect. */
	stream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(stream >= 0);
	memcpy(sun.sun_path, d.sock, strlen(d.sock) + 1);
	assert_int_equal(connect(stream, (struct sockaddr *)&sun, sizeof(sun)),
			 -1);
	assert_int_equal(errno, EPROTOTYPE);
	close(stream);

	/* One says Hello and sleeps; one says nothing at all. */
	sleeper = raw_greeted(d.sock);
	mute = raw_connect(d.sock);
	assert_true(mute >= 0);

	/* One sends the first half of a request, as much as it can. */
	half = raw_greeted(d.sock);
	ref.name = "s";
	req.id = 2;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	len = poolmgr__request__get_packed_size(&req);
	assert_true(len <= sizeof(buf));
	poolmgr__request__pack(&req, buf);
	for (cut = len / 2; cut > 0; cut--) {
		if (!(dec = poolmgr__request__unpack(NULL, cut, buf)))
			break;
		poolmgr__request__free_unpacked(dec, NULL);
	}
	assert_true(cut > 0);
	assert_int_equal(send(half, buf, cut, MSG_NOSIGNAL), (ssize_t)cut);

	/* Meanwhile another client is served at once, every time. */
	EXPECT_RC(pool_connect(NULL, &c), 0);
	for (i = 0; i < 200; i++) {
		t = now_ms();
		EXPECT_RC(pool_stats_by_name(c, "s", &st), 0);
		t = now_ms() - t;
		if (t > worst)
			worst = t;
	}
	printf("limits: with a sleeper, a mute client and half a message: "
	       "200 round trips, the slowest %.3f ms\n", worst);
	assert_true(worst < 1000);

	/* Half a message is a whole datagram that does not decode: closed. */
	assert_int_equal(raw_reply(half, 3000), 1);
	/* The sleepers are neither answered nor holding anyone up. */
	assert_int_equal(recv(sleeper, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(recv(mute, &b, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(harness_alive(&d));
	close(half);
	close(sleeper);
	close(mute);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A client process with no descriptor free: the kernel drops the memfd the
 * OpenPool reply carries.  The child reports pool_open's answer, and the
 * handle count the daemon shows after it, by its exit code.
 */
static void
client_without_descriptors_gets_emfile(void **state)
{
	struct daemon_proc d;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
		struct pool_conn *c;
		struct pool_stats st;
		struct pool *p;
		int rc;

		alarm(20);
		if (pool_connect(d.sock, &c) != 0)
			_exit(10);
		/* Every descriptor below 64 taken; none needed from here. */
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(11);
		while (dup(0) >= 0)
			;
		rc = pool_open(c, "s", &p);
		if (rc != -EMFILE) {
			fprintf(stderr, "pool_open: %d (%s)\n", rc,
				pool_strerror(rc));
			_exit(12);
		}
		if (pool_stats_by_name(c, "s", &st) != 0)
			_exit(13);
		_exit(st.clients == 0 ? 0 : 14);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(harness_alive(&d));
	assert_int_equal(harness_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connections_per_uid_and_in_all),
		cmocka_unit_test(admins_connect_past_a_full_daemon),
		cmocka_unit_test(a_reload_moves_the_admins_places),
		cmocka_unit_test(blocks_per_session),
		cmocka_unit_test(client_that_never_reads_is_dropped),
		cmocka_unit_test(client_of_empty_replies_is_dropped),
		cmocka_unit_test(a_uids_unread_replies_are_bounded),
		cmocka_unit_test(a_reader_outlasts_its_uids_unread),
		cmocka_unit_test(client_of_unread_descriptors_is_dropped),
		cmocka_unit_test(queued_open_reply_keeps_its_pool),
		cmocka_unit_test(block_holders_are_bounded),
		cmocka_unit_test(client_without_descriptors_gets_emfile),
		cmocka_unit_test(out_of_descriptors),
		cmocka_unit_test(open_without_daemon_descriptors_is_emfile),
		cmocka_unit_test(create_with_one_descriptor_left),
		cmocka_unit_test(connect_without_daemon_descriptors_is_told),
		cmocka_unit_test(status_without_daemon_descriptors_reads_memory),
		cmocka_unit_test(move_without_daemon_descriptors_copies_all),
		cmocka_unit_test(pools_past_256_are_enospc),
		cmocka_unit_test(names_past_65536_are_enospc),
		cmocka_unit_test(persistent_blocks_per_uid),
		cmocka_unit_test(persist_cap_refusal_evicts_nothing),
		cmocka_unit_test(persistent_blocks_words_count),
		cmocka_unit_test(handles_past_1024_are_emfile),
		cmocka_unit_test(raw_batch_past_4096_is_e2big),
		cmocka_unit_test(raw_long_pool_name_is_enametoolong),
		cmocka_unit_test(half_message_and_sleep_block_nobody),
	};

	return cmocka_run_group_tests_name("poolmgrd limits", tests, NULL,
					   NULL);
}
