/*
 * itest_restore.c - the new image's side of a restart in place, fed
 * states made by hand: the daemon is started exactly as a restart starts
 * it (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES=listen:state:pool.0:conn.0,
 * descriptors at 3, 4, 5, 6), with a state that is whole or wrong in one
 * way.
 *
 *   good_state_restored  a pool of a held small block and a persistent
 *       span, a client with handle 5: the log says restarted in place,
 *       the client frees its block through handle 5 (and a second free
 *       is -EINVAL), the span is live (usable size), the block's bytes
 *       are kept and a free page that held bytes reads zero (punched);
 *   each bad state (undecodable, another version, a block past the end,
 *       two blocks over each other, a size the engine never makes, a hold
 *       of no block, a block nobody holds, a memfd of another size, a
 *       pipe for a connection, a handle id not given out yet, a hold
 *       twice, allocation counters that do not add up or count a class the
 *       engine has not, a pool name or a client name the daemon never
 *       takes, a good pool followed by one with a block nobody holds,
 *       an unsent reply longer than a datagram, unsent replies over what
 *       a client's queue takes, a block name at a block that is not
 *       persistent, one name twice, a name with a NUL, name arrays of
 *       different lengths, a name's flags with an unknown bit or not
 *       one per name, two names of one generation):
 *       the log says the state is refused, the passed connection is
 *       closed, the daemon serves a new client, the pool is not there (a
 *       fresh start), and not one byte of any memfd was punched (the
 *       clients still map them).
 *
 *   persist_times_restored  the good state with the span's persist time
 *       (PoolState.block_persisted_ns) a minute ago: listed a minute
 *       old, refused by pool_free_persisted for an hour (-ESTALE), ended
 *       for a minute;
 *   each bad persist time (arrays of another length, a time after now,
 *       a time for a block that is not persistent): refused as above.
 *
 *   first_version_restored  the same good state as version 1, the one an
 *       image before names and unsent replies writes: restored as well
 *       (an upgrade restarts into this image from such a one);
 *   second_version_restored  the same as version 2, before the unsent
 *       replies' descriptors: restored as well;
 *   unsent_reply_passes_memfd  an unsent reply that passes the pool's
 *       memfd and a read-only one reaches the client with both, each the
 *       very file passed as pool.0, the second read-only; one that
 *       passes pool 1's of a state of one pool, or "reply.0" that was
 *       not passed, refuses the state;
 *   unsent_replies_pass_every_kind  three unsent replies passing the
 *       pool's memfd and its share map, a destroyed pool's memory
 *       ("reply.0") and the pool's memfd read-only, another ("reply.1"):
 *       each reaches the client with the very files, the share map the
 *       new image's;
 *   unsent_replies_sent_first  the client's unsent replies in the state
 *       (two, one of them empty) reach it first, whole and in order,
 *       before the reply to a request it sent before the restart;
 *   named_state_restored  a name at the persistent span: Lookup through
 *       the restored handle finds it;
 *   names_of_two_generations_restored  names at both blocks, of
 *       generations 4 and 5: Lookup gives the span's name generation 5;
 *   passed_config_broken  the configuration's text the restart passes
 *       does not load: the state is restored all the same, the log names
 *       the text's error, and the client is served on;
 *   signals_during_restore_wait  a SIGUSR2 and a SIGHUP sent while the
 *       new image restores 200,000 blocks do not kill it: it restarts
 *       once more, and the client's block is still its own;
 *   old_share_map_reads_shared  a holder whose handle was opened before
 *       the restart frees a block another client retained after it: its
 *       cache must not keep it (its share map can no longer be written,
 *       so every bit reads set), and its next allocation is another
 *       block.
 *
 * Every daemon must stop with status 0 (no leak under ASan).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.pb-c.h"

#include "harness.h"

#define POOL_SIZE (8u << 20)
#define SPAN_OFF (1u << 20)
#define SPAN_SIZE 16384u
#define FREE_OFF (4u << 20)	/* a page no block touches */
#define MARK 0xab
#define NO_PERSISTER 0xffffffffu

/* A state of one pool and one client, made to be spoiled in one place. */
struct forged {
	Poolmgrd__State st;
	Poolmgrd__PoolState pool, *pools[2];
	Poolmgrd__SessionState sess, *sessions[1];
	Poolmgrd__HandleState hd, *handles[1];
	uint64_t off[2], size[2], req[2], holds[2];
	protobuf_c_boolean span[2];
	uint32_t persister[2];
};

static void
forged_init(struct forged *f)
{
	memset(f, 0, sizeof(*f));
	poolmgrd__state__init(&f->st);
	poolmgrd__pool_state__init(&f->pool);
	poolmgrd__session_state__init(&f->sess);
	poolmgrd__handle_state__init(&f->hd);
	f->st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	f->st.n_pools = 1;
	f->st.pools = f->pools;
	f->pools[0] = &f->pool;
	f->st.n_sessions = 1;
	f->st.sessions = f->sessions;
	f->sessions[0] = &f->sess;
	f->pool.name = "a";
	f->pool.size = POOL_SIZE;
	f->pool.granularity = 16;
	f->pool.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	f->pool.mode = 0600;
	/* A small block held by handle 5; a span nobody holds, persistent. */
	f->off[0] = 0, f->size[0] = 64, f->req[0] = 64;
	f->off[1] = SPAN_OFF, f->size[1] = SPAN_SIZE, f->req[1] = SPAN_SIZE;
	f->span[1] = 1;
	f->persister[0] = NO_PERSISTER;
	f->persister[1] = (uint32_t)getuid();
	f->pool.n_block_off = f->pool.n_block_size = 2;
	f->pool.n_block_requested = f->pool.n_block_span = 2;
	f->pool.n_block_persister = 2;
	f->pool.block_off = f->off;
	f->pool.block_size = f->size;
	f->pool.block_requested = f->req;
	f->pool.block_span = f->span;
	f->pool.block_persister = f->persister;
	f->sess.greeted = 1;
	f->sess.name = "forged";
	f->sess.next_handle = 6;
	f->sess.n_handles = 1;
	f->sess.handles = f->handles;
	f->handles[0] = &f->hd;
	f->hd.id = 5;
	f->hd.n_holds = 1;
	f->hd.holds = f->holds;
}

/* The daemon of the test under way, until run_stop has reaped it. */
static pid_t running;
/* run_start passes one memfd for both pools of a two-pool state. */
static bool one_memfd;

/*
 * With a text here, run_start passes it as the restart's "config" and
 * starts the daemon with --config (a file the daemon does not read then).
 */
static const char *run_config;
/* And these, as "reply.0", "reply.1"...: a destroyed pool's memory. */
static const int *run_replies;
static int run_nreplies;

/* A daemon started by a made-up restart, and our ends of what it got. */
struct run {
	char dir[64], sock[96], log[96];
	pid_t pid;
	int client;		/* our end of the passed connection */
	int memfd;		/* the pool's memfd, as a client maps it */
	uint8_t *map;
	int memfd2;		/* a second pool's, or -1 */
	uint8_t *map2;
	size_t memfd_size;
};

static int
sealed_memfd(const char *name, const void *data, size_t len, int seals)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd == -1 || ftruncate(fd, (off_t)len) == -1 ||
	    (data && pwrite(fd, data, len, 0) != (ssize_t)len) ||
	    fcntl(fd, F_ADD_SEALS, seals) == -1)
		return -1;
	return fd;
}

/*
 * With POOLMGR_STATE_SEEDS set to a directory, every state made here is
 * also written there, as seeds for tests/fuzz/fuzz_restore.c.
 */
static void
seed_write(const void *buf, size_t len)
{
	static unsigned n;
	const char *dir = getenv("POOLMGR_STATE_SEEDS");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/state-%02u", dir, n++);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The descriptors to 3, 4, ... and the names a restart gives them. */
static void
exec_daemon(const struct run *r, int *fds, int n, const char *names)
{
	char num[16], bin[256];
	int i, hi[8], logfd;

	for (i = 0; i < n; i++)
		hi[i] = fcntl(fds[i], F_DUPFD, 100);
	for (i = 0; i < n; i++)
		dup2(hi[i], 3 + i);
	for (i = 0; i < n; i++)
		close(hi[i]);
	logfd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	dup2(logfd, 2);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	if (run_config)
		execl(bin, "poolmgrd", "-s", r->sock, "-c", "poolmgrd.conf",
		      (char *)NULL);
	else
		execl(bin, "poolmgrd", "-s", r->sock, (char *)NULL);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/*
 * Start the daemon with st (or, if raw, those bytes) and a memfd of
 * memfd_size bytes (0: the pool's) whose every byte is MARK; with conn
 * not -1, that descriptor goes as the client's connection.
 */
static void
run_start(struct run *r, const Poolmgrd__State *st, const char *raw,
	  size_t memfd_size, int conn)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[128], names[128];
	int lfd, sfd, cfd = -1, sv[2], fds[8], n = 0, i;
	size_t len;
	uint8_t *buf;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/itest-restore.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->sock, sizeof(r->sock), "%s/sock", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/log", r->dir);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		     0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", r->sock);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	r->memfd_size = memfd_size ? memfd_size : POOL_SIZE;
	snprintf(path, sizeof(path), "poolmgr:a");
	r->memfd = sealed_memfd(path, NULL, r->memfd_size,
				F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_true(r->memfd >= 0);
	r->map = mmap(NULL, r->memfd_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, r->memfd, 0);
	assert_true(r->map != MAP_FAILED);
	memset(r->map, MARK, r->memfd_size);
	r->memfd2 = -1;
	if (!raw && st->n_pools == 2 && one_memfd) {
		/* The same file under a descriptor of its own. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", r->memfd);
		r->memfd2 = open(path, O_RDWR | O_CLOEXEC);
		assert_true(r->memfd2 >= 0);
		r->map2 = mmap(NULL, r->memfd_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->memfd2, 0);
		assert_true(r->map2 != MAP_FAILED);
	} else if (!raw && st->n_pools == 2) {
		r->memfd2 = sealed_memfd("poolmgr:b", NULL, r->memfd_size,
					 F_SEAL_SHRINK | F_SEAL_GROW |
					 F_SEAL_SEAL);
		assert_true(r->memfd2 >= 0);
		r->map2 = mmap(NULL, r->memfd_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, r->memfd2, 0);
		assert_true(r->map2 != MAP_FAILED);
		memset(r->map2, MARK, r->memfd_size);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				    sv), 0);
	if (raw) {
		sfd = sealed_memfd("poolmgrd-state", raw, strlen(raw),
				   F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	} else {
		len = poolmgrd__state__get_packed_size(st);
		assert_non_null(buf = malloc(len));
		poolmgrd__state__pack(st, buf);
		seed_write(buf, len);
		sfd = sealed_memfd("poolmgrd-state", buf, len, F_SEAL_SHRINK |
				   F_SEAL_GROW | F_SEAL_WRITE);
		free(buf);
	}
	assert_true(sfd >= 0);
	fds[n++] = lfd;
	fds[n++] = sfd;
	if (run_config) {
		cfd = sealed_memfd("poolmgrd-config", run_config,
				   strlen(run_config), F_SEAL_SHRINK |
				   F_SEAL_GROW | F_SEAL_WRITE);
		assert_true(cfd >= 0);
		fds[n++] = cfd;
	}
	fds[n++] = r->memfd;
	if (r->memfd2 >= 0)
		fds[n++] = r->memfd2;
	fds[n++] = conn >= 0 ? conn : sv[0];
	len = (size_t)snprintf(names, sizeof(names), "listen:state%s:pool.0%s"
			       ":conn.0", cfd >= 0 ? ":config" : "",
			       r->memfd2 >= 0 ? ":pool.1" : "");
	assert_true(n + run_nreplies <= 8);
	for (i = 0; i < run_nreplies; i++) {
		fds[n++] = run_replies[i];
		len += (size_t)snprintf(names + len, sizeof(names) - len,
					":reply.%d", i);
	}
	r->pid = fork();
	assert_true(r->pid >= 0);
	running = r->pid;
	if (r->pid == 0)
		exec_daemon(r, fds, n, names);
	close(lfd);
	close(sfd);
	if (cfd >= 0)
		close(cfd);
	close(sv[0]);
	r->client = sv[1];
}

/* Does the log hold what, within 10 s? */
static bool
log_says(const struct run *r, const char *what)
{
	char text[8192];
	int i;

	for (i = 0; i < 1000; i++) {
		harness_read_text(r->log, text, sizeof(text));
		if (strstr(text, what))
			return true;
		harness_sleep_ms(10);
	}
	fprintf(stderr, "the log, without \"%s\":\n%s\n", what, text);
	return false;
}

/* SIGTERM: the daemon must stop with 0 (under ASan: leaked nothing). */
static void
run_stop(struct run *r)
{
	char text[8192];
	int status;

	kill(r->pid, SIGTERM);
	assert_int_equal(waitpid(r->pid, &status, 0), r->pid);
	running = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		harness_read_text(r->log, text, sizeof(text));
		fprintf(stderr, "the daemon's log:\n%s\n", text);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(r->client);
	munmap(r->map, r->memfd_size);
	close(r->memfd);
	if (r->memfd2 >= 0) {
		munmap(r->map2, r->memfd_size);
		close(r->memfd2);
	}
	unlink(r->log);
	rmdir(r->dir);
}

static void
good_state_restored(void **state)
{
	struct forged f;
	struct run r;
	uint32_t h;
	int fd;

	(void)state;
	forged_init(&f);
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	/* Kept: the blocks' bytes.  Punched: a free page that had some. */
	assert_int_equal(r.map[0], MARK);
	assert_int_equal(r.map[SPAN_OFF + SPAN_SIZE - 1], MARK);
	assert_int_equal(r.map[FREE_OFF], 0);
	/* Its handle 5 holds the block at 0, once. */
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), -EINVAL);
	/* The persistent span is live; new handles go on from 6. */
	fd = harness_raw_greeted(r.sock, "other");
	assert_true(fd >= 0);
	EXPECT_RAW(harness_raw_open(r.client, "a", &h), 0);
	assert_int_equal(h, 6);
	EXPECT_RAW(harness_raw_block(r.client,
				     POOLMGR__REQUEST__BODY_USABLE_SIZE, 6,
				     SPAN_OFF), 0);
	close(fd);
	run_stop(&r);
}

/* Version 1, from an image before names and unsent replies: taken. */
static void
first_version_restored(void **state)
{
	struct forged f;
	struct run r;

	(void)state;
	forged_init(&f);
	f.st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_FIRST;
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	assert_int_equal(r.map[0], MARK);
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	EXPECT_RAW(harness_raw_block(r.client,
				     POOLMGR__REQUEST__BODY_USABLE_SIZE, 5,
				     SPAN_OFF), 0);
	run_stop(&r);
}

/* Version 2, from an image before the unsent replies' descriptors. */
static void
second_version_restored(void **state)
{
	struct forged f;
	struct run r;

	(void)state;
	forged_init(&f);
	f.st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_SECOND;
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	run_stop(&r);
}

/*
 * The daemon refused the state: it says so, the connection it was given
 * is closed, it serves a new client with no pool "a", and the memfd kept
 * every byte.
 */
static void
expect_refused(struct run *r)
{
	struct pollfd pfd = {.fd = r->client, .events = POLLIN};
	char byte;
	uint32_t h;
	size_t i;
	int fd;

	assert_true(log_says(r, "is refused"));
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_true(recv(r->client, &byte, 1, MSG_DONTWAIT) <= 0);
	fd = harness_raw_greeted(r->sock, "fresh");
	assert_true(fd >= 0);
	EXPECT_RAW(harness_raw_open(fd, "a", &h), -ENOENT);
	close(fd);
	for (i = 0; i < r->memfd_size; i += 4096)
		if (r->map[i] != MARK ||
		    (r->memfd2 >= 0 && r->map2[i] != MARK))
			fail_msg("byte %zu of a memfd changed", i);
	run_stop(r);
}

static void
refuse(const struct forged *f, const char *raw, size_t memfd_size, int conn)
{
	struct run r;

	run_start(&r, &f->st, raw, memfd_size, conn);
	if (conn >= 0)
		close(conn);
	expect_refused(&r);
}

static void
undecodable(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	refuse(&f, "\xff\xff\xff not a state", 0, -1);
}

static void
other_version(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.st.version = POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT + 1;
	refuse(&f, NULL, 0, -1);
}

static void
block_past_the_end(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.off[1] = POOL_SIZE - 4096;
	refuse(&f, NULL, 0, -1);
}

static void
blocks_overlap(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.span[1] = 0;
	f.off[1] = 32;
	f.size[1] = f.req[1] = 64;
	refuse(&f, NULL, 0, -1);
}

/* Checked by the engine only (heap_reserve): the pool is built first. */
static void
size_never_made(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.size[0] = f.req[0] = 24;
	refuse(&f, NULL, 0, -1);
}

/* Found while the client is rebuilt, after the pool. */
static void
hold_of_no_block(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.holds[0] = 128;
	refuse(&f, NULL, 0, -1);
}

static void
hold_twice(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.hd.n_holds = 2;
	refuse(&f, NULL, 0, -1);
}

/* Found last, when the books are done: a block would leak. */
static void
block_held_by_nobody(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.persister[1] = NO_PERSISTER;
	refuse(&f, NULL, 0, -1);
}

/* CLOCK_BOOTTIME now: the clock of PoolState.block_persisted_ns. */
static uint64_t
boottime_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MINUTE_NS 60000000000ull

/* The forged state with persist times: none for block 0, t for the span. */
static void
forged_times(struct forged *f, uint64_t *times, uint64_t t)
{
	times[0] = 0;
	times[1] = t;
	f->pool.n_block_persisted_ns = 2;
	f->pool.block_persisted_ns = times;
}

static void
persist_times_restored(void **state)
{
	struct pool_block_info *b;
	uint64_t times[2], from = SPAN_OFF;
	struct pool_conn *c;
	struct forged f;
	struct pool *p;
	struct run r;
	size_t n;
	int done;

	(void)state;
	forged_init(&f);
	forged_times(&f, times, boottime_now_ns() - MINUTE_NS);
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	EXPECT_RC(pool_connect(r.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	EXPECT_RC(pool_blocks(c, "a", 0, 0, &from, &b, &n, &done), 0);
	assert_true(n > 0 && b[0].offset == SPAN_OFF);
	assert_true(b[0].persisted_ms >= 60000 && b[0].persisted_ms < 3600000);
	free(b);
	EXPECT_RC(pool_free_persisted(p, SPAN_OFF, 3600000), -ESTALE);
	EXPECT_RC(pool_free_persisted(p, SPAN_OFF, 60000), 0);
	pool_close(p);
	pool_disconnect(c);
	run_stop(&r);
}

static void
persist_times_of_another_length(void **state)
{
	uint64_t times[2];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_times(&f, times, boottime_now_ns() - MINUTE_NS);
	f.pool.n_block_persisted_ns = 1;
	refuse(&f, NULL, 0, -1);
}

/* No daemon read its clock an hour from now: the span's age would be 0
 * for an hour, and every guarded free of it refused. */
static void
persist_time_after_now(void **state)
{
	uint64_t times[2];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_times(&f, times, boottime_now_ns() + 60 * MINUTE_NS);
	refuse(&f, NULL, 0, -1);
}

static void
persist_time_of_a_block_not_persistent(void **state)
{
	uint64_t times[2];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_times(&f, times, boottime_now_ns() - MINUTE_NS);
	times[0] = times[1];
	refuse(&f, NULL, 0, -1);
}

/*
 * A good pool, then one with a block nobody holds: the first pool's free
 * pages must not be punched before the second is found wrong.
 */
static void
second_pool_wrong(void **state)
{
	Poolmgrd__PoolState b;
	struct forged f;
	uint32_t persister[2] = {NO_PERSISTER, NO_PERSISTER};

	(void)state;
	forged_init(&f);
	b = f.pool;
	b.name = "b";
	b.block_persister = persister;
	f.pools[1] = &b;
	f.st.n_pools = 2;
	refuse(&f, NULL, 0, -1);
}

/*
 * Two pools, each right alone, on one memfd: rebuilt, each would punch
 * the pages the other's blocks use as free.
 */
static void
two_pools_one_memfd(void **state)
{
	Poolmgrd__PoolState b;
	struct forged f;

	(void)state;
	forged_init(&f);
	b = f.pool;
	b.name = "b";
	/* Only a's persistent span, which nobody needs to hold. */
	b.n_block_off = b.n_block_size = b.n_block_requested = 1;
	b.n_block_span = b.n_block_persister = 1;
	b.block_off = &f.off[1];
	b.block_size = &f.size[1];
	b.block_requested = &f.req[1];
	b.block_span = &f.span[1];
	b.block_persister = &f.persister[1];
	f.pools[1] = &b;
	f.st.n_pools = 2;
	one_memfd = true;
	refuse(&f, NULL, 0, -1);
	one_memfd = false;
}

static void
memfd_of_another_size(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	refuse(&f, NULL, POOL_SIZE / 2, -1);
}

static void
connection_not_a_socket(void **state)
{
	struct forged f;
	int p[2];

	(void)state;
	forged_init(&f);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	refuse(&f, NULL, 0, p[0]);
}

static void
handle_not_given_out(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.hd.id = 6;
	refuse(&f, NULL, 0, -1);
}

/*
 * The engine's event counters: allocs is the sum of the per-class ones
 * (heap_events_save), and only classes the engine keeps can count.  The
 * engine asserts both when they are restored, so the check must refuse
 * them first: a daemon that aborts there loses every pool.
 */
static void
counters_disagree(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.pool.allocs = 1;
	refuse(&f, NULL, 0, -1);
}

static void
counter_of_no_class(void **state)
{
	struct forged f;
	uint64_t classes[1] = {1};

	(void)state;
	forged_init(&f);
	f.pool.allocs = 1;
	f.pool.n_class_allocs = 1;
	f.pool.class_allocs = classes;
	refuse(&f, NULL, 0, -1);
}

/* Names the daemon would never have taken: a pool's, a client's. */
static void
pool_name_bad(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.pool.name = "../a";
	refuse(&f, NULL, 0, -1);
}

static void
client_name_not_printable(void **state)
{
	struct forged f;

	(void)state;
	forged_init(&f);
	f.sess.name = "forged\nrestarted in place: 9 pools";
	refuse(&f, NULL, 0, -1);
}

/* A reply the old image had queued for the client: id, error. */
static size_t
reply_packed(uint64_t id, int error, uint8_t *buf, size_t len)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;

	rep.id = id;
	rep.error = error;
	assert_true(poolmgr__reply__get_packed_size(&rep) <= len);
	return poolmgr__reply__pack(&rep, buf);
}

/*
 * Two unsent replies, the second an empty datagram (the old image queued
 * it as it was): they come first, in order, then the answer to a request
 * sent before the new image read anything.
 */
static void
unsent_replies_sent_first(void **state)
{
	ProtobufCBinaryData unsent[2];
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListPools list = POOLMGR__LIST_POOLS__INIT;
	Poolmgr__Reply *rep;
	uint8_t a[64], got[256];
	struct forged f;
	struct run r;
	ssize_t n;

	(void)state;
	forged_init(&f);
	unsent[0].data = a;
	unsent[0].len = reply_packed(41, -EINVAL, a, sizeof(a));
	unsent[1].data = a;
	unsent[1].len = 0;
	f.sess.n_unsent = 2;
	f.sess.unsent = unsent;
	run_start(&r, &f.st, NULL, 0, -1);
	req.body_case = POOLMGR__REQUEST__BODY_LIST;
	req.list = &list;
	req.id = 43;
	assert_int_equal(harness_raw_send(r.client, &req), 0);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	assert_true(log_says(&r, "2 unsent replies to 1 client carried"));
	n = recv(r.client, got, sizeof(got), 0);
	assert_int_equal(n, unsent[0].len);
	assert_memory_equal(got, a, unsent[0].len);
	assert_int_equal(recv(r.client, got, sizeof(got), 0), 0);
	assert_non_null(rep = harness_raw_reply(r.client, 43, 10000));
	assert_int_equal(rep->error, 0);
	poolmgr__reply__free_unpacked(rep, NULL);
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	run_stop(&r);
}

/*
 * An unsent reply that passes the pool's memfd twice, as it is and
 * opened for reading only: it reaches the client with two descriptors of
 * the very file passed as pool.0, the second read-only.
 */
static void
unsent_reply_passes_memfd(void **state)
{
	Poolmgrd__CarriedFd kind[2] = {
		POOLMGRD__CARRIED_FD__CARRIED_FD_POOL,
		POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY,
	};
	uint32_t nfds[1] = {2}, ref[2] = {0, 0};
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	ProtobufCBinaryData unsent;
	uint8_t a[64], got[256];
	struct iovec iov = {.iov_base = got, .iov_len = sizeof(got)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct stat want, sb;
	struct cmsghdr *c;
	struct forged f;
	struct run r;
	int fds[2];

	(void)state;
	forged_init(&f);
	unsent.data = a;
	unsent.len = reply_packed(41, 0, a, sizeof(a));
	f.sess.n_unsent = 1;
	f.sess.unsent = &unsent;
	f.sess.n_unsent_nfds = 1;
	f.sess.unsent_nfds = nfds;
	f.sess.n_unsent_fd_kind = f.sess.n_unsent_fd_ref = 2;
	f.sess.unsent_fd_kind = kind;
	f.sess.unsent_fd_ref = ref;
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "1 unsent reply to 1 client carried"));
	assert_int_equal(recvmsg(r.client, &msg, MSG_CMSG_CLOEXEC),
			 unsent.len);
	assert_memory_equal(got, a, unsent.len);
	c = CMSG_FIRSTHDR(&msg);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	assert_int_equal(c->cmsg_len, CMSG_LEN(2 * sizeof(int)));
	memcpy(fds, CMSG_DATA(c), sizeof(fds));
	assert_int_equal(fstat(r.memfd, &want), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fstat(fds[i], &sb), 0);
		assert_true(sb.st_ino == want.st_ino &&
			    sb.st_dev == want.st_dev);
	}
	assert_int_equal(fcntl(fds[0], F_GETFL) & O_ACCMODE, O_RDWR);
	assert_int_equal(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fds[0]);
	close(fds[1]);
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	run_stop(&r);
}

/*
 * The next datagram on fd: want's len bytes, with n descriptors, in fds.
 */
static void
recv_with(int fd, const uint8_t *want, size_t len, int *fds, int n)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	uint8_t got[256];
	struct iovec iov = {.iov_base = got, .iov_len = sizeof(got)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c;

	assert_int_equal(recvmsg(fd, &msg, MSG_CMSG_CLOEXEC), len);
	assert_memory_equal(got, want, len);
	c = CMSG_FIRSTHDR(&msg);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	assert_int_equal(c->cmsg_len, CMSG_LEN((size_t)n * sizeof(int)));
	memcpy(fds, CMSG_DATA(c), (size_t)n * sizeof(int));
}

static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* fd is the new image's share map of pool a. */
static void
is_share_map_of_a(int fd)
{
	char path[64], link[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	assert_true((n = readlink(path, link, sizeof(link) - 1)) > 0);
	link[n] = '\0';
	if (strncmp(link, "/memfd:poolmgr:a:shared", 23) != 0)
		fail_msg("passed as the share map: %s", link);
}

/*
 * Unsent replies that pass every kind of descriptor a state names: the
 * pool's memfd and share map; a destroyed pool's memory (passed as
 * "reply.0") and the pool's memfd read-only; another ("reply.1").
 */
static void
unsent_replies_pass_every_kind(void **state)
{
	Poolmgrd__CarriedFd kind[5] = {
		POOLMGRD__CARRIED_FD__CARRIED_FD_POOL,
		POOLMGRD__CARRIED_FD__CARRIED_FD_SHARE_MAP,
		POOLMGRD__CARRIED_FD__CARRIED_FD_PASSED,
		POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY,
		POOLMGRD__CARRIED_FD__CARRIED_FD_PASSED,
	};
	uint32_t nfds[3] = {2, 2, 1}, ref[5] = {0, 0, 0, 0, 1};
	ProtobufCBinaryData unsent[3];
	uint8_t a[3][64];
	struct forged f;
	struct run r;
	int gone[2], fds[2], i;

	(void)state;
	for (i = 0; i < 2; i++) {
		gone[i] = sealed_memfd("poolmgr:gone", "gone", 4,
				       F_SEAL_SHRINK | F_SEAL_GROW);
		assert_true(gone[i] >= 0);
	}
	forged_init(&f);
	for (i = 0; i < 3; i++) {
		unsent[i].data = a[i];
		unsent[i].len = reply_packed(41 + (uint64_t)i, 0, a[i],
					     sizeof(a[i]));
	}
	f.sess.n_unsent = 3;
	f.sess.unsent = unsent;
	f.sess.n_unsent_nfds = 3;
	f.sess.unsent_nfds = nfds;
	f.sess.n_unsent_fd_kind = f.sess.n_unsent_fd_ref = 5;
	f.sess.unsent_fd_kind = kind;
	f.sess.unsent_fd_ref = ref;
	run_replies = gone;
	run_nreplies = 2;
	run_start(&r, &f.st, NULL, 0, -1);
	run_nreplies = 0;
	assert_true(log_says(&r, "3 unsent replies to 1 client carried"));

	recv_with(r.client, a[0], unsent[0].len, fds, 2);
	assert_true(same_file(fds[0], r.memfd));
	is_share_map_of_a(fds[1]);
	close(fds[0]);
	close(fds[1]);
	recv_with(r.client, a[1], unsent[1].len, fds, 2);
	assert_true(same_file(fds[0], gone[0]));
	assert_true(same_file(fds[1], r.memfd));
	assert_int_equal(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fds[0]);
	close(fds[1]);
	recv_with(r.client, a[2], unsent[2].len, fds, 1);
	assert_true(same_file(fds[0], gone[1]));
	close(fds[0]);
	close(gone[0]);
	close(gone[1]);
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	run_stop(&r);
}

/* A descriptor of pool 1 in a state of one pool. */
static void
unsent_fd_of_no_pool(void **state)
{
	Poolmgrd__CarriedFd kind[1] = {POOLMGRD__CARRIED_FD__CARRIED_FD_POOL};
	uint32_t nfds[1] = {1}, ref[1] = {1};
	ProtobufCBinaryData unsent;
	uint8_t a[64];
	struct forged f;
	struct run r;

	(void)state;
	forged_init(&f);
	unsent.data = a;
	unsent.len = reply_packed(41, 0, a, sizeof(a));
	f.sess.n_unsent = 1;
	f.sess.unsent = &unsent;
	f.sess.n_unsent_nfds = 1;
	f.sess.unsent_nfds = nfds;
	f.sess.n_unsent_fd_kind = f.sess.n_unsent_fd_ref = 1;
	f.sess.unsent_fd_kind = kind;
	f.sess.unsent_fd_ref = ref;
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "unsent replies' descriptor 0 is of kind"));
	expect_refused(&r);
}

/* A descriptor passed as "reply.0", which the restart did not pass. */
static void
unsent_fd_not_passed(void **state)
{
	Poolmgrd__CarriedFd kind[1] = {
		POOLMGRD__CARRIED_FD__CARRIED_FD_PASSED,
	};
	uint32_t nfds[1] = {1}, ref[1] = {0};
	ProtobufCBinaryData unsent;
	uint8_t a[64];
	struct forged f;

	(void)state;
	forged_init(&f);
	unsent.data = a;
	unsent.len = reply_packed(41, 0, a, sizeof(a));
	f.sess.n_unsent = 1;
	f.sess.unsent = &unsent;
	f.sess.n_unsent_nfds = 1;
	f.sess.unsent_nfds = nfds;
	f.sess.n_unsent_fd_kind = f.sess.n_unsent_fd_ref = 1;
	f.sess.unsent_fd_kind = kind;
	f.sess.unsent_fd_ref = ref;
	refuse(&f, NULL, 0, -1);
}

static void
unsent_reply_too_long(void **state)
{
	static uint8_t big[65537];
	ProtobufCBinaryData unsent = {sizeof(big), big};
	struct forged f;
	struct run r;

	(void)state;
	forged_init(&f);
	f.sess.n_unsent = 1;
	f.sess.unsent = &unsent;
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "unsent reply 0 is 65537 bytes"));
	expect_refused(&r);
}

/* 64 datagrams of the largest size: 4 MiB, and each costs its record. */
static void
unsent_replies_over_the_queue(void **state)
{
	static uint8_t big[65536];
	ProtobufCBinaryData unsent[64];
	struct forged f;
	struct run r;
	size_t i;

	(void)state;
	forged_init(&f);
	for (i = 0; i < 64; i++) {
		unsent[i].data = big;
		unsent[i].len = sizeof(big);
	}
	f.sess.n_unsent = 64;
	f.sess.unsent = unsent;
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "its unsent replies cost"));
	expect_refused(&r);
}

/*
 * A state with names: name i is names[i] at offs[i] (n of them), all by
 * the test's uid.  The forged span (persistent) may take one; the small
 * block (held only) may not.
 */
static void
forged_names(struct forged *f, ProtobufCBinaryData *names, uint64_t *offs,
	     uint32_t *uids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		uids[i] = (uint32_t)getuid();
	f->pool.n_named_name = f->pool.n_named_off = n;
	f->pool.n_named_publisher = n;
	f->pool.named_name = names;
	f->pool.named_off = offs;
	f->pool.named_publisher = uids;
}

static ProtobufCBinaryData
bytes_of(const char *s, size_t len)
{
	ProtobufCBinaryData b = {.len = len, .data = (uint8_t *)s};

	return b;
}

/* A name at the persistent span: restored, and found by Lookup. */
static void
named_state_restored(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Lookup lu = POOLMGR__LOOKUP__INIT;
	Poolmgr__Reply *rep;
	ProtobufCBinaryData names[1] = {bytes_of("span", 4)};
	uint64_t offs[1] = {SPAN_OFF};
	uint32_t uids[1];
	struct forged f;
	struct run r;

	(void)state;
	forged_init(&f);
	forged_names(&f, names, offs, uids, 1);
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	lu.handle = 5;
	lu.name = bytes_of("span", 4);
	req.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
	req.lookup = &lu;
	rep = harness_raw_expect(r.client, &req, 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_ALLOC);
	assert_int_equal(rep->alloc->offset, SPAN_OFF);
	assert_int_equal(rep->alloc->usable_size, SPAN_SIZE);
	poolmgr__reply__free_unpacked(rep, NULL);
	run_stop(&r);
}

/* Names the daemon never holds so: each state is refused whole. */
static void
name_of_held_block(void **state)
{
	ProtobufCBinaryData names[1] = {bytes_of("held", 4)};
	uint64_t offs[1] = {0};
	uint32_t uids[1];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_names(&f, names, offs, uids, 1);
	refuse(&f, NULL, 0, -1);
}

static void
name_twice(void **state)
{
	ProtobufCBinaryData names[2] = {bytes_of("n", 1), bytes_of("n", 1)};
	uint64_t offs[2] = {SPAN_OFF, SPAN_OFF};
	uint32_t uids[2];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_names(&f, names, offs, uids, 2);
	refuse(&f, NULL, 0, -1);
}

static void
name_with_nul(void **state)
{
	ProtobufCBinaryData names[1] = {bytes_of("a\0b", 3)};
	uint64_t offs[1] = {SPAN_OFF};
	uint32_t uids[1];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_names(&f, names, offs, uids, 1);
	refuse(&f, NULL, 0, -1);
}

static void
name_arrays_differ(void **state)
{
	ProtobufCBinaryData names[1] = {bytes_of("span", 4)};
	uint64_t offs[1] = {SPAN_OFF};
	uint32_t uids[1];
	struct forged f;

	(void)state;
	forged_init(&f);
	forged_names(&f, names, offs, uids, 1);
	f.pool.n_named_publisher = 0;
	refuse(&f, NULL, 0, -1);
}

/*
 * Names "x" at the small block (persistent too here) and "y" at the span,
 * of generations gx and gy, the pool's count 5.
 */
static void
forged_generations(struct forged *f, uint64_t gx, uint64_t gy)
{
	static ProtobufCBinaryData names[2];
	static uint64_t offs[2] = {0, SPAN_OFF}, gens[2];
	static uint32_t uids[2];

	names[0] = bytes_of("x", 1);
	names[1] = bytes_of("y", 1);
	gens[0] = gx;
	gens[1] = gy;
	forged_init(f);
	f->persister[0] = (uint32_t)getuid();
	forged_names(f, names, offs, uids, 2);
	f->pool.name_generation = 5;
	f->pool.n_named_generation = 2;
	f->pool.named_generation = gens;
}

/* Generations 4 and 5: restored, Lookup gives the span's. */
static void
names_of_two_generations_restored(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Lookup lu = POOLMGR__LOOKUP__INIT;
	Poolmgr__Reply *rep;
	struct forged f;
	struct run r;

	(void)state;
	forged_generations(&f, 4, 5);
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	lu.handle = 5;
	lu.name = bytes_of("y", 1);
	req.body_case = POOLMGR__REQUEST__BODY_LOOKUP;
	req.lookup = &lu;
	rep = harness_raw_expect(r.client, &req, 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_ALLOC);
	assert_int_equal(rep->alloc->offset, SPAN_OFF);
	assert_int_equal(rep->alloc->generation, 5);
	poolmgr__reply__free_unpacked(rep, NULL);
	run_stop(&r);
}

/* Both of generation 4: a generation is one publish, the state refused. */
static void
names_of_one_generation(void **state)
{
	struct forged f;
	struct run r;

	(void)state;
	forged_generations(&f, 4, 4);
	run_start(&r, &f.st, NULL, 0, -1);
	assert_true(log_says(&r, "pool a: two names of generation 4"));
	expect_refused(&r);
}

/* A name's flags with a bit this image does not know, or not one each. */
static void
name_flags_refused(struct forged *f, uint32_t *flags, size_t n)
{
	static ProtobufCBinaryData names[1];
	static uint64_t offs[1] = {SPAN_OFF};
	static uint32_t uids[1];

	names[0] = bytes_of("span", 4);
	forged_init(f);
	forged_names(f, names, offs, uids, 1);
	f->pool.n_named_flags = n;
	f->pool.named_flags = flags;
	refuse(f, NULL, 0, -1);
}

static void
name_flag_unknown(void **state)
{
	uint32_t flags[1] = {POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE | 2};
	struct forged f;

	(void)state;
	name_flags_refused(&f, flags, 1);
}

static void
name_flags_not_each(void **state)
{
	uint32_t flags[2] = {POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE, 0};
	struct forged f;

	(void)state;
	name_flags_refused(&f, flags, 2);
}

/*
 * The text the old image checked fails in the new one (another version's
 * parser, say): the state must not be lost to it.  It is restored with
 * its pool's settings, the log says why the text is not applied, and the
 * client carries on with its handle.
 */
static void
passed_config_broken(void **state)
{
	struct forged f;
	struct run r;

	(void)state;
	forged_init(&f);
	run_config = "[pool a]\nsize = 8M\nmode = 0999\n";
	run_start(&r, &f.st, NULL, 0, -1);
	run_config = NULL;
	assert_true(log_says(&r, "restarted in place: 1 pool, 2 blocks, "
			     "1 client"));
	assert_true(log_says(&r, "poolmgrd.conf:3: bad mode '0999' in "
			     "[pool a] (octal, at most 0777); kept the "
			     "restored settings"));
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), 0);
	EXPECT_RAW(harness_raw_free(r.client, 5, 0), -EINVAL);
	run_stop(&r);
}

/*
 * A second SIGUSR2 (and a SIGHUP) sent while the new image is still
 * restoring: their default action would kill it, and every pool with it.
 * They wait, blocked across the exec, and are served once it runs: one
 * more restart, one reload, the client's blocks still there.
 */
static void
signals_during_restore_wait(void **state)
{
	struct daemon_proc d;
	uint64_t off;
	uint32_t h;
	int fd;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 256M\n"), 0);
	fd = harness_raw_greeted(d.sock, "holder");
	assert_true(fd >= 0);
	EXPECT_RAW(harness_raw_open(fd, "p", &h), 0);
	/* Enough blocks that the restore takes a while. */
	EXPECT_RAW(harness_raw_alloc_many(fd, h, 64, 200000), 0);
	EXPECT_RAW(harness_raw_alloc(fd, h, 64, &off, NULL), 0);
	kill(d.pid, SIGUSR2);
	assert_int_equal(harness_log_wait(&d, "restarting in place: "
					  "executing", 0, 30000), 0);
	kill(d.pid, SIGUSR2);
	kill(d.pid, SIGHUP);
	assert_int_equal(harness_log_wait(&d, HARNESS_RESTARTED, 1, 30000),
			 0);
	assert_true(harness_alive(&d));
	EXPECT_RAW(harness_raw_free(fd, h, off), 0);
	EXPECT_RAW(harness_raw_free(fd, h, off), -EINVAL);
	close(fd);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The share map a handle got before a restart cannot be written by the new
 * image, so it must read "shared" for every block: a client that keeps a
 * freed block it alone held (its cache) must not keep one that another
 * client retained after the restart.  Here the holder frees its block
 * after a retainer took it, and its next allocation of the size must not
 * hand the block out again; the retainer's free then frees it.
 */
static void
old_share_map_reads_shared(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	char msg[256];
	uint32_t h;
	int fd;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 16M\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "p", &p), 0);
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	assert_int_equal(harness_restart_in_place(&d), 0);
	fd = harness_raw_greeted(d.sock, "retainer");
	assert_true(fd >= 0);
	EXPECT_RAW(harness_raw_open(fd, "p", &h), 0);
	EXPECT_RAW(harness_raw_retain(fd, h, x), 0);
	harness_expect_kept_shared(p, x, fd, h);
	EXPECT_RC(pool_check_by_name(c, "p", msg, sizeof(msg)), 0);
	close(fd);
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/* A test that failed before run_stop leaves no daemon behind. */
static int
run_reap(void **state)
{
	(void)state;
	if (running > 0) {
		kill(running, SIGKILL);
		waitpid(running, NULL, 0);
		running = 0;
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(good_state_restored, run_reap),
		cmocka_unit_test_teardown(undecodable, run_reap),
		cmocka_unit_test_teardown(persist_times_restored, run_reap),
		cmocka_unit_test_teardown(persist_times_of_another_length,
					  run_reap),
		cmocka_unit_test_teardown(persist_time_after_now, run_reap),
		cmocka_unit_test_teardown(
		    persist_time_of_a_block_not_persistent, run_reap),
		cmocka_unit_test_teardown(first_version_restored, run_reap),
		cmocka_unit_test_teardown(second_version_restored, run_reap),
		cmocka_unit_test_teardown(other_version, run_reap),
		cmocka_unit_test_teardown(block_past_the_end, run_reap),
		cmocka_unit_test_teardown(blocks_overlap, run_reap),
		cmocka_unit_test_teardown(size_never_made, run_reap),
		cmocka_unit_test_teardown(hold_of_no_block, run_reap),
		cmocka_unit_test_teardown(hold_twice, run_reap),
		cmocka_unit_test_teardown(block_held_by_nobody, run_reap),
		cmocka_unit_test_teardown(second_pool_wrong, run_reap),
		cmocka_unit_test_teardown(two_pools_one_memfd, run_reap),
		cmocka_unit_test_teardown(memfd_of_another_size, run_reap),
		cmocka_unit_test_teardown(connection_not_a_socket, run_reap),
		cmocka_unit_test_teardown(handle_not_given_out, run_reap),
		cmocka_unit_test_teardown(counters_disagree, run_reap),
		cmocka_unit_test_teardown(counter_of_no_class, run_reap),
		cmocka_unit_test_teardown(pool_name_bad, run_reap),
		cmocka_unit_test_teardown(client_name_not_printable, run_reap),
		cmocka_unit_test_teardown(unsent_replies_sent_first, run_reap),
		cmocka_unit_test_teardown(unsent_reply_passes_memfd, run_reap),
		cmocka_unit_test_teardown(unsent_replies_pass_every_kind,
					  run_reap),
		cmocka_unit_test_teardown(unsent_fd_of_no_pool, run_reap),
		cmocka_unit_test_teardown(unsent_fd_not_passed, run_reap),
		cmocka_unit_test_teardown(unsent_reply_too_long, run_reap),
		cmocka_unit_test_teardown(unsent_replies_over_the_queue,
					  run_reap),
		cmocka_unit_test_teardown(named_state_restored, run_reap),
		cmocka_unit_test_teardown(name_of_held_block, run_reap),
		cmocka_unit_test_teardown(name_twice, run_reap),
		cmocka_unit_test_teardown(name_with_nul, run_reap),
		cmocka_unit_test_teardown(name_arrays_differ, run_reap),
		cmocka_unit_test_teardown(name_flag_unknown, run_reap),
		cmocka_unit_test_teardown(name_flags_not_each, run_reap),
		cmocka_unit_test_teardown(names_of_two_generations_restored,
					  run_reap),
		cmocka_unit_test_teardown(names_of_one_generation, run_reap),
		cmocka_unit_test_teardown(passed_config_broken, run_reap),
		cmocka_unit_test_teardown(signals_during_restore_wait, run_reap),
		cmocka_unit_test_teardown(old_share_map_reads_shared, run_reap),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
