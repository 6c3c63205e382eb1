/*
 * itest_quota_uids.c - a pool's user quota counts exactly what all the
 * connections of one uid hold there, with the blocks that uid made
 * persistent, beside each connection's own quota.
 *
 *   refusals_follow_the_model   four raw connections, two of uid 0 and two
 *       of OTHER_UID, open and close handles on a pool with both a quota
 *       per connection and a smaller-than-twice user quota, and allocate
 *       (alone and in batches), grow and shrink, retain each other's
 *       blocks, free, persist, and end others' persistence, in a random
 *       sequence.  The test keeps every block's holders and persister, and
 *       so what counts against each connection's quota (its handles'
 *       blocks, each once per holding handle, and its uid's persistent
 *       ones) and each uid's user quota (the blocks any of its
 *       connections' handles hold, each once, and its persistent ones),
 *       and every request is refused with
 *       -EDQUOT exactly when one of them would pass its bound, and
 *       succeeds otherwise.  The pool passes its check (which recounts the
 *       daemon's running totals per connection and per uid) every
 *       CHECK_EVERY steps and at the end, and ListUsers lists each uid
 *       with the model's connections, handles, held and persistent bytes
 *       and blocks, the most first, every USERS_EVERY steps.  Three
 *       seeds.
 *
 * The connections of OTHER_UID are made by children that drop to it and
 * hand the socket back (SCM_RIGHTS): the daemon reads a connection's
 * credentials when it is made, so the test drives all four itself.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define KiB (1024ull)
#define OTHER_UID 65534
#define OTHER_GID 65534
#define NCONNS 4		/* 0 and 1 of uid 0, 2 and 3 of OTHER_UID */
#define HANDLES 64		/* open at most, over the connections */
#define MAX_BLOCKS 1024		/* live in the model */
#define MAX_HOLD 8		/* holders of one block in the model */
#define STEPS 8000
#define CHECK_EVERY 400
#define USERS_EVERY 50
#define QUOTA (40 * KiB)
#define USER_QUOTA (56 * KiB)
#define CONF								\
	"[pool u]\nsize = 16M\nmode = 0666\nquota = 40K\n"		\
	"user_quota = 56K\n"

static const uint64_t sizes[] = {16, 100, 256, 1000, 2048, 3000, 4096,
				 6000};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct mhandle {
	uint32_t id;
	int conn;
};

struct mblock {
	uint64_t off, size;		/* size: usable, what quotas count */
	uint64_t keys[MAX_HOLD];	/* its holders: conn << 32 | id */
	unsigned nholders;
	bool persistent;
	uid_t persister;
};

static struct {
	struct daemon_proc d;
	int fd[NCONNS];
	uid_t uid[NCONNS];
	uint64_t usable[NSIZES];
	struct mhandle handles[HANDLES];
	unsigned nhandles;
	struct mblock blocks[MAX_BLOCKS];
	unsigned nblocks;
	unsigned refused_conn, refused_user, done;
} fx;

/* ---- connections ------------------------------------------------------ */

/* Receive one fd over a socketpair end; -1 if none came. */
static int
receive_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

static int
send_fd(int sock, int fd)
{
	char byte = 'f', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* A greeted raw connection of uid's, made by a child dropped to it. */
static int
raw_client_as(uid_t uid, gid_t gid)
{
	int sv[2], fd, status;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(126);
		fd = harness_raw_greeted(fx.d.sock, "itest_quota_uids");
		_exit(fd == -1 || send_fd(sv[1], fd) == -1 ? 1 : 0);
	}
	close(sv[1]);
	fd = receive_fd(sv[0]);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (fd == -1)
		fail_msg("no connection of uid %u (child status %d)",
			 (unsigned)uid, status);
	return fd;
}

/* ---- the model -------------------------------------------------------- */

static unsigned
pick(unsigned n)
{
	return (unsigned)(random() % n);
}

static uint64_t
key_of(const struct mhandle *h)
{
	return (uint64_t)h->conn << 32 | h->id;
}

static bool
holds(const struct mblock *b, uint64_t key)
{
	for (unsigned i = 0; i < b->nholders; i++)
		if (b->keys[i] == key)
			return true;
	return false;
}

/* What counts against connection c's quota: its handles' blocks. */
static uint64_t
conn_held(int c)
{
	uint64_t sum = 0;

	for (unsigned bi = 0; bi < fx.nblocks; bi++) {
		const struct mblock *b = &fx.blocks[bi];

		if (b->persistent)
			continue;	/* its persister's */
		for (unsigned i = 0; i < b->nholders; i++)
			if ((int)(b->keys[i] >> 32) == c)
				sum += b->size;
	}
	return sum;
}

static uint64_t
persisted_by(uid_t uid)
{
	uint64_t sum = 0;

	for (unsigned bi = 0; bi < fx.nblocks; bi++)
		if (fx.blocks[bi].persistent &&
		    fx.blocks[bi].persister == uid)
			sum += fx.blocks[bi].size;
	return sum;
}

/* Does a handle of a connection of uid hold b? */
static bool
uid_holds(const struct mblock *b, uid_t uid)
{
	for (unsigned i = 0; i < b->nholders; i++)
		if (fx.uid[b->keys[i] >> 32] == uid)
			return true;
	return false;
}

/* What counts against uid's user quota: each block its handles hold,
 * once however many of them hold it. */
static uint64_t
uid_held(uid_t uid)
{
	uint64_t sum = 0;

	for (unsigned bi = 0; bi < fx.nblocks; bi++)
		if (!fx.blocks[bi].persistent &&
		    uid_holds(&fx.blocks[bi], uid))
			sum += fx.blocks[bi].size;
	return sum;
}

/* What the daemon should answer, and for which bound. */
enum answer { GRANTED, OVER_QUOTA, OVER_USER_QUOTA };

/*
 * The expected answer to c asking to hold more under its connection's
 * quota (its blocks and its uid's persistent ones), first, and user_more
 * under its uid's (none: nothing to refuse).
 */
static enum answer
expect_each(int c, uint64_t more, uint64_t user_more)
{
	uid_t uid = fx.uid[c];
	uint64_t persisted = persisted_by(uid);

	if (conn_held(c) + persisted + more > QUOTA)
		return OVER_QUOTA;
	if (user_more && uid_held(uid) + persisted + user_more > USER_QUOTA)
		return OVER_USER_QUOTA;
	return GRANTED;
}

/* The expected answer to c asking to hold more under both quotas. */
static enum answer
expect(int c, uint64_t more)
{
	return expect_each(c, more, more);
}

static void
answer_is(int got, enum answer expected, const char *what, unsigned step,
	  int c, uint64_t more)
{
	int want = expected == GRANTED ? 0 : -EDQUOT;

	if (got != want)
		fail_msg("step %u: %s of %llu bytes by connection %d (uid %u: "
			 "connection holds %llu, uid %llu, persistent %llu): "
			 "%d, expected %d", step, what,
			 (unsigned long long)more, c, (unsigned)fx.uid[c],
			 (unsigned long long)conn_held(c),
			 (unsigned long long)uid_held(fx.uid[c]),
			 (unsigned long long)persisted_by(fx.uid[c]), got,
			 want);
	if (expected == GRANTED)
		fx.done++;
	else if (expected == OVER_USER_QUOTA)
		fx.refused_user++;
	else
		fx.refused_conn++;
}

static void
add_block(const struct mhandle *h, uint64_t off, uint64_t size)
{
	struct mblock *b = &fx.blocks[fx.nblocks++];

	*b = (struct mblock){.off = off, .size = size, .keys = {key_of(h)},
			     .nholders = 1};
}

/* Take holder key off block bi; a block of none, not persistent, goes. */
static void
let_go(unsigned bi, uint64_t key)
{
	struct mblock *b = &fx.blocks[bi];

	for (unsigned i = 0; i < b->nholders; i++)
		if (b->keys[i] == key) {
			b->keys[i] = b->keys[--b->nholders];
			break;
		}
	if (b->nholders == 0 && !b->persistent)
		*b = fx.blocks[--fx.nblocks];
}

/* A random block, and its index; NULL if there is none. */
static struct mblock *
any_block(unsigned *bi)
{
	if (fx.nblocks == 0)
		return NULL;
	*bi = pick(fx.nblocks);
	return &fx.blocks[*bi];
}

/* A random block key holds; NULL if it holds none. */
static struct mblock *
block_held(uint64_t key, unsigned *bi)
{
	unsigned start = pick(fx.nblocks ? fx.nblocks : 1);

	for (unsigned k = 0; k < fx.nblocks; k++) {
		*bi = (start + k) % fx.nblocks;
		if (holds(&fx.blocks[*bi], key))
			return &fx.blocks[*bi];
	}
	return NULL;
}

static size_t
size_index(uint64_t usable)
{
	for (size_t i = 0; i < NSIZES; i++)
		if (fx.usable[i] == usable)
			return i;
	return NSIZES;
}

/* ---- the steps -------------------------------------------------------- */

static void
step_open(void)
{
	struct mhandle *h = &fx.handles[fx.nhandles++];

	h->conn = (int)pick(NCONNS);
	h->id = harness_raw_handle(fx.fd[h->conn], "u");
}

static void
step_close(unsigned hi)
{
	uint64_t key = key_of(&fx.handles[hi]);

	EXPECT_RAW(harness_raw_close(fx.fd[fx.handles[hi].conn],
				     fx.handles[hi].id), 0);
	for (unsigned bi = fx.nblocks; bi-- > 0;)
		if (holds(&fx.blocks[bi], key))
			let_go(bi, key);
	fx.handles[hi] = fx.handles[--fx.nhandles];
}

static void
step_alloc(unsigned step, const struct mhandle *h)
{
	size_t si = pick(NSIZES);
	uint64_t more = fx.usable[si], off, usable;
	enum answer want;
	int rc;

	if (fx.nblocks == MAX_BLOCKS)
		return;
	want = expect(h->conn, more);
	rc = harness_raw_alloc(fx.fd[h->conn], h->id, sizes[si], &off,
			       &usable);
	answer_is(rc, want, "alloc", step, h->conn, more);
	if (rc == 0) {
		assert_int_equal(usable, more);
		add_block(h, off, usable);
	}
}

/* All or nothing: refused if the batch in all passes a quota. */
static void
step_batch(unsigned step, const struct mhandle *h)
{
	uint64_t sz[4], offs[4], more = 0;
	size_t n = 2 + pick(3), si[4];
	enum answer want;
	int rc;

	if (fx.nblocks + n > MAX_BLOCKS)
		return;
	for (size_t i = 0; i < n; i++) {
		si[i] = pick(NSIZES);
		sz[i] = sizes[si[i]];
		more += fx.usable[si[i]];
	}
	want = expect(h->conn, more);
	rc = harness_raw_alloc_batch(fx.fd[h->conn], h->id, sz, n, offs);
	answer_is(rc, want, "batch", step, h->conn, more);
	if (rc == 0)
		for (size_t i = 0; i < n; i++)
			add_block(h, offs[i], fx.usable[si[i]]);
}

/*
 * Resize a block h alone holds, not persistent: its growth counts as an
 * allocation of as much would (a move's old place is not counted).  (A
 * uid may be over its quota: a block whose persistence another ended is
 * charged to its holders again, unasked.)
 */
static void
step_resize(unsigned step, const struct mhandle *h)
{
	struct mblock *b;
	size_t si = pick(NSIZES);
	uint64_t off, more;
	unsigned bi;
	enum answer want;
	int rc;

	if (!(b = block_held(key_of(h), &bi)) || b->nholders != 1 ||
	    b->persistent)
		return;
	assert_true(size_index(b->size) < NSIZES);
	more = fx.usable[si] > b->size ? fx.usable[si] - b->size : 0;
	/* Not growing, it holds no more: granted even over a quota. */
	want = more ? expect(h->conn, more) : GRANTED;
	off = b->off;
	rc = harness_raw_realloc(fx.fd[h->conn], h->id, &off, sizes[si],
				 false);
	answer_is(rc, want, "resize", step, h->conn, more);
	if (rc == 0) {
		b->off = off;
		b->size = fx.usable[si];
	}
}

/*
 * Retain any block h does not hold: a block that is not persistent counts
 * against h's connection (once more for each holder) and against its uid
 * unless another of its handles holds it already; a persistent one
 * against its persister only, so it is never refused.
 */
static void
step_retain(unsigned step, const struct mhandle *h)
{
	struct mblock *b;
	unsigned bi;
	enum answer want;
	int rc;

	if (!(b = any_block(&bi)) || holds(b, key_of(h)) ||
	    b->nholders == MAX_HOLD)
		return;
	want = b->persistent ? GRANTED :
	       expect_each(h->conn, b->size,
			   uid_holds(b, fx.uid[h->conn]) ? 0 : b->size);
	rc = harness_raw_retain(fx.fd[h->conn], h->id, b->off);
	answer_is(rc, want, "retain", step, h->conn, b->size);
	if (rc == 0)
		b->keys[b->nholders++] = key_of(h);
}

/*
 * Persist a block h holds: refused only when the uid's persistent bytes
 * would pass the quota per connection; the user quota is not asked, as
 * the uid's own handle held the block, so the uid holds no more.  Its
 * holders stop paying for it.
 */
static void
step_persist(unsigned step, const struct mhandle *h)
{
	struct mblock *b;
	unsigned bi;
	enum answer want;
	int rc;

	if (!(b = block_held(key_of(h), &bi)) || b->persistent)
		return;
	want = persisted_by(fx.uid[h->conn]) + b->size > QUOTA ? OVER_QUOTA :
	       GRANTED;
	rc = harness_raw_block(fx.fd[h->conn], POOLMGR__REQUEST__BODY_PERSIST,
			       h->id, b->off);
	answer_is(rc, want, "persist", step, h->conn, b->size);
	if (rc == 0) {
		b->persistent = true;
		b->persister = fx.uid[h->conn];
	}
}

/*
 * Free: a block h holds loses h's hold; a persistent block it does not
 * hold loses its persistence (and its holders pay for it again).
 */
static void
step_free(const struct mhandle *h)
{
	struct mblock *b;
	unsigned bi;

	if ((b = block_held(key_of(h), &bi))) {
		EXPECT_RAW(harness_raw_free(fx.fd[h->conn], h->id, b->off), 0);
		let_go(bi, key_of(h));
		return;
	}
	if (!(b = any_block(&bi)) || !b->persistent)
		return;
	EXPECT_RAW(harness_raw_free(fx.fd[h->conn], h->id, b->off), 0);
	b->persistent = false;
	if (b->nholders == 0)
		*b = fx.blocks[--fx.nblocks];
}

/* ---- the run ---------------------------------------------------------- */

/* Persistent blocks uid made so. */
static uint64_t
persisted_blocks_of(uid_t uid)
{
	uint64_t n = 0;

	for (unsigned bi = 0; bi < fx.nblocks; bi++)
		n += fx.blocks[bi].persistent && fx.blocks[bi].persister == uid;
	return n;
}

/* The model's entry of uid in ListUsers: 0 if it should not be listed. */
static bool
expected_usage(uid_t uid, Poolmgr__UserUsage *e)
{
	bool conn_open[NCONNS] = {false};

	poolmgr__user_usage__init(e);
	e->uid = uid;
	for (unsigned i = 0; i < fx.nhandles; i++)
		if (fx.uid[fx.handles[i].conn] == uid) {
			e->handles++;
			conn_open[fx.handles[i].conn] = true;
		}
	for (int c = 0; c < NCONNS; c++)
		e->connections += conn_open[c];
	e->held_bytes = uid_held(uid);
	e->persisted_blocks = persisted_blocks_of(uid);
	e->persisted_bytes = persisted_by(uid);
	return e->handles || e->persisted_blocks;
}

/*
 * ListUsers says what the model does of each uid, in its order: the most
 * bytes counted (held and persistent) first.
 */
static void
users_listed(unsigned step)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListUsers m = POOLMGR__LIST_USERS__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__UserUsage want[2];
	const uid_t uids[2] = {0, OTHER_UID};
	Poolmgr__Reply *rep;
	size_t n = 0, i;

	for (i = 0; i < 2; i++)
		if (expected_usage(uids[i], &want[n]))
			n++;
	if (n == 2 && want[1].held_bytes + want[1].persisted_bytes >
		      want[0].held_bytes + want[0].persisted_bytes) {
		Poolmgr__UserUsage t = want[0];

		want[0] = want[1];
		want[1] = t;
	}
	ref.name = "u";
	m.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_USERS;
	req.users = &m;
	rep = harness_raw_expect(fx.fd[0], &req, 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_USERS);
	if (rep->users->n_users != n)
		fail_msg("step %u: %zu uids listed, not %zu", step,
			 rep->users->n_users, n);
	for (i = 0; i < n; i++) {
		const Poolmgr__UserUsage *got = rep->users->users[i];

		if (got->uid != want[i].uid ||
		    got->connections != want[i].connections ||
		    got->handles != want[i].handles ||
		    got->held_bytes != want[i].held_bytes ||
		    got->persisted_blocks != want[i].persisted_blocks ||
		    got->persisted_bytes != want[i].persisted_bytes)
			fail_msg("step %u: listed uid %u: %u connections, %u "
				 "handles, %llu held, %llu persistent in %llu "
				 "blocks; expected uid %u: %u, %u, %llu, %llu "
				 "in %llu", step, (unsigned)got->uid,
				 got->connections, got->handles,
				 (unsigned long long)got->held_bytes,
				 (unsigned long long)got->persisted_bytes,
				 (unsigned long long)got->persisted_blocks,
				 (unsigned)want[i].uid, want[i].connections,
				 want[i].handles,
				 (unsigned long long)want[i].held_bytes,
				 (unsigned long long)want[i].persisted_bytes,
				 (unsigned long long)want[i].persisted_blocks);
	}
	assert_int_equal(rep->users->unlisted, 0);
	poolmgr__reply__free_unpacked(rep, NULL);
}

static void
learn_usable(void)
{
	uint64_t off, usable;
	uint32_t h = harness_raw_handle(fx.fd[0], "u");

	for (size_t i = 0; i < NSIZES; i++) {
		EXPECT_RAW(harness_raw_alloc(fx.fd[0], h, sizes[i], &off,
					     &usable), 0);
		fx.usable[i] = usable;
		EXPECT_RAW(harness_raw_free(fx.fd[0], h, off), 0);
	}
	EXPECT_RAW(harness_raw_close(fx.fd[0], h), 0);
}

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	for (int c = 0; c < NCONNS; c++)
		fx.fd[c] = -1;
	return 0;
}

static int
teardown(void **state)
{
	for (int c = 0; c < NCONNS; c++)
		harness_close_fd(&fx.fd[c]);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	return setup(state);
}

static void
run_seed(unsigned seed)
{
	assert_int_equal(harness_start(&fx.d, CONF), 0);
	for (int c = 0; c < NCONNS; c++) {
		fx.uid[c] = c < 2 ? 0 : OTHER_UID;
		fx.fd[c] = c < 2 ? harness_raw_client(fx.d.sock,
						      "itest_quota_uids")
				 : raw_client_as(OTHER_UID, OTHER_GID);
	}
	learn_usable();
	srandom(seed);
	for (unsigned step = 0; step < STEPS; step++) {
		unsigned r = pick(100);
		const struct mhandle *h;

		if (fx.nhandles == 0 || (r < 6 && fx.nhandles < HANDLES)) {
			step_open();
			continue;
		}
		h = &fx.handles[pick(fx.nhandles)];
		if (r < 9)
			step_close((unsigned)(h - fx.handles));
		else if (r < 36)
			step_alloc(step, h);
		else if (r < 44)
			step_batch(step, h);
		else if (r < 52)
			step_resize(step, h);
		else if (r < 66)
			step_retain(step, h);
		else if (r < 72)
			step_persist(step, h);
		else
			step_free(h);
		if (step % CHECK_EVERY == 0)
			harness_raw_check(fx.fd[0], "u");
		if (step % USERS_EVERY == 0)
			users_listed(step);
	}
	harness_raw_check(fx.fd[0], "u");
	users_listed(STEPS);
	print_message("seed %u: %u handles and %u blocks at the end, %u "
		      "requests granted, %u refused by a connection's quota, "
		      "%u by a uid's\n", seed, fx.nhandles, fx.nblocks, fx.done,
		      fx.refused_conn, fx.refused_user);
	/* Every answer came, often enough to mean something. */
	assert_true(fx.refused_user > STEPS / 50);
	assert_true(fx.refused_conn > STEPS / 100);
	assert_true(fx.done > STEPS / 5);
}

static void
refusals_follow_the_model(void **state)
{
	static const unsigned seeds[] = {1, 2, 3};

	if (geteuid() != 0)
		skip();		/* it needs a uid to drop to */
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		run_seed(seeds[i]);
		teardown(state);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(refusals_follow_the_model,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
