/*
 * itest_restart.c - SIGUSR2 makes poolmgrd execute its binary again in the
 * same process, keeping every pool, block, client and handle: the clients
 * notice nothing but a pause.  Every test compares what the pools and
 * clients were before the restart with what they are after, as seen by
 * `poolctl stats --format=kv` (but for what the restart may change: the
 * daemon's own memory, pages it holds, its reuse caches, the free room
 * they hid), `poolctl clients`, `poolctl persisted`, and by real client
 * processes reading, writing, freeing and allocating in the same handles.
 *
 *   clients_carry_on                  two clients holding small, 64 KiB,
 *       1 MiB and calloc'ed blocks, persisted and retained ones, and free
 *       pages written before: same pid, same socket file, same statistics,
 *       clients, handles and persisting uids after; every pattern reads
 *       back in both clients and here; old blocks free, new ones (calloc
 *       too: zero, though its pages were written before) never overlap a
 *       held one, an old block reallocs with its bytes; check passes.
 *   connect_during_restart            a child connecting, allocating and
 *       disconnecting in a loop across the restart is never refused.
 *   client_cache_survives             a client's cached blocks are the
 *       same bytes after, allocated from again; once it is killed every
 *       block it held, cached ones too, is reclaimed.
 *   exit_after_restart_reclaims       a client killed after the restart:
 *       its blocks go, the persisted and retained ones stay, as written.
 *   work_in_progress                  a 128 MiB block freed (released in
 *       4 KiB steps) right before SIGUSR2, and a 64 MiB calloc being
 *       zeroed in steps during it: the restart comes after; the pages are
 *       gone and counted released, the calloc reads zero, check passes.
 *   exec_failure_keeps_serving        the daemon's binary deleted before
 *       SIGUSR2: it logs the failure and goes on with nothing changed, not
 *       a descriptor more or less; a new binary put there, the next
 *       SIGUSR2 executes it.
 *   poolctl_pool_and_settings         a pool made by poolctl keeps size,
 *       granularity, mode, quota and blocks; a quota and mode set in the
 *       file before SIGUSR2, and a pool added there, apply at the restart
 *       (a new size and granularity do not, as on a reload); a forced
 *       destroy after it closes the pool's handles.
 *   restart_twice                     restarts in a row keep it all, and
 *       leave the daemon with as many descriptors as before.
 *   restart_then_stop                 SIGTERM after a restart: exit 0, no
 *       leak report, the socket file removed.
 *   unreadable_client_dropped         a client with thousands of replies
 *       unread: after 5 s it is dropped, its blocks freed, and the rest
 *       restart in place (takes ~6 s); another client's request sent
 *       meanwhile waits in its connection and is answered after.
 *   handles_and_owners_kept           a read-only handle stays read-only,
 *       another uid's client and what it persisted stay that uid's, a
 *       handle opened after the restart gets an id of its own; the log
 *       line counts the pools and blocks there are.
 *   limits_count_the_restored         max_connections, max_blocks_per_
 *       session and a quota's charges (a uid's persisted bytes) count
 *       what was there before the restart.
 *   silent_client_still_timed_out     a connection that never said Hello
 *       is dropped after the restart; one that said it needs not again.
 *   under_systemd                     socket-activated with a
 *       NOTIFY_SOCKET: RELOADING=1 then READY=1 from the daemon's pid at
 *       each of two restarts; the stop leaves the passed socket alone.
 *   bad_config_at_restart             a file broken before SIGUSR2 keeps
 *       the running configuration, as a reload does, and loses nothing
 *       (the daemon may restart or refuse to); once mended, the next
 *       SIGUSR2 restarts and applies it.
 *   busy_clients_across_restart       clients allocating, writing and
 *       freeing on one connection (one thread, and four) all along: not
 *       one request fails.
 *   many_blocks                       100,000 blocks kept as written; half
 *       freed and allocated again, never on a held one.
 *   stop_while_waiting_for_quiet      SIGTERM while the restart waits for
 *       a client that does not read: exit 0, no restart.
 *   destroyed_and_many_pools          a pool force-destroyed right before
 *       (its memory still going back in steps) is gone after, its
 *       descriptors closed, its name free; 100 pools a client made keep
 *       their settings and blocks.
 *   signals_during_restart            SIGHUP every millisecond and a
 *       second SIGUSR2 while it restarts: it survives them all.
 *   restart_near_the_descriptor_limit  40 clients, the daemon using about
 *       51 of 128 descriptors: the restart must not fail for want of them.
 *
 * A daemon without SIGUSR2 handling dies of it: each test then fails at
 * once, saying so, and its client processes are killed.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

/*
 * A client process driven through pipes: it connects, opens one pool and
 * then does what each command says, so the test decides when it acts
 * (before, across and after a restart) on the same connection and handle.
 */
enum op {
	OP_ALLOC,	/* len bytes, filled from seed (0: left alone) */
	OP_CALLOC,	/* len bytes; -EILSEQ if a byte is not zero */
	OP_FILL,	/* off, len, seed */
	OP_VERIFY,	/* off, len, seed: -EILSEQ if a byte differs */
	OP_FREE,
	OP_RETAIN,
	OP_PERSIST,
	OP_REALLOC,	/* off to len bytes; -EILSEQ if the bytes kept differ */
	OP_USABLE,
	OP_STATS,	/* the answer is followed by a struct pool_stats */
	OP_OPEN2,	/* a second handle on the pool, kept open; in it a
			 * block of len bytes filled from seed */
	OP_EXIT,	/* close, disconnect, exit 0 */
};

struct cmd {
	int op;
	uint64_t off, len, seed;
};

struct ans {
	int rc;
	uint64_t off, usable;
};

struct remote {
	pid_t pid;
	int to, from;		/* commands to it, answers from it */
};

#define MAX_REMOTES 4
#define MAX_BLOCKS 1024

/* A block some client holds, as written: what it must read back. */
struct blk {
	uint64_t off, len, seed;
};

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;		/* ours, on pool "p" unless said */
	struct remote r[MAX_REMOTES];
	struct blk book[MAX_BLOCKS];
	int nbook;
	uint64_t seed;
	char bindir[64];		/* a copy of the daemon's binary */
};

static struct fixture fx;

/* Statistics the restart may change: the daemon's memory, its pages. */
static const char *const volatile_keys[] = {
	"committed_bytes", "free_bytes", "largest_free", "cached_bytes",
	"metadata_bytes", "books_bytes", "free_resident_bytes",
	"released_bytes", NULL
};

/* The byte at pool offset at of a block filled from seed. */
static uint8_t
pattern(uint64_t seed, uint64_t at)
{
	uint64_t x = (seed << 40) ^ (at >> 3);

	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (at & 7)));
}

static void
fill(uint8_t *base, uint64_t off, uint64_t len, uint64_t seed)
{
	for (uint64_t i = off; i < off + len; i++)
		base[i] = pattern(seed, i);
}

static bool
intact(const uint8_t *base, uint64_t off, uint64_t len, uint64_t seed)
{
	for (uint64_t i = off; i < off + len; i++)
		if (base[i] != pattern(seed, i))
			return false;
	return true;
}

static bool
zeroed(const uint8_t *b, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* A realloc whose bytes must survive it. */
static int
remote_realloc(struct pool *p, const struct cmd *c, struct ans *a)
{
	size_t old, keep;
	uint8_t *copy;
	int rc;

	if ((rc = pool_usable_size(p, c->off, &old)) != 0)
		return rc;
	keep = old < c->len ? old : c->len;
	if (!(copy = malloc(keep)))
		return -ENOMEM;
	memcpy(copy, pool_ptr(p, c->off), keep);
	if ((rc = pool_realloc(p, c->off, c->len, &a->off)) == 0 &&
	    memcmp(copy, pool_ptr(p, a->off), keep) != 0)
		rc = -EILSEQ;
	free(copy);
	return rc;
}

static int
remote_do(struct pool *p, const struct cmd *c, struct ans *a)
{
	uint8_t *base = pool_ptr(p, 0);
	size_t usable = 0;
	int rc = 0;

	switch (c->op) {
	case OP_ALLOC:
	case OP_CALLOC:
		rc = c->op == OP_ALLOC ? pool_alloc(p, c->len, &a->off) :
		    pool_calloc(p, 1, c->len, &a->off);
		if (rc)
			break;
		if (c->op == OP_CALLOC && !zeroed(base + a->off, c->len))
			rc = -EILSEQ;
		if (c->seed)
			fill(base, a->off, c->len, c->seed);
		break;
	case OP_FILL:
		fill(base, c->off, c->len, c->seed);
		break;
	case OP_VERIFY:
		rc = intact(base, c->off, c->len, c->seed) ? 0 : -EILSEQ;
		break;
	case OP_FREE:
		return pool_free(p, c->off);
	case OP_RETAIN:
		return pool_retain(p, c->off);
	case OP_PERSIST:
		return pool_persist(p, c->off);
	case OP_REALLOC:
		rc = remote_realloc(p, c, a);
		break;
	case OP_USABLE:
		a->off = c->off;
		break;
	default:
		return -ENOSYS;
	}
	if (rc == 0 && pool_usable_size(p, a->off, &usable) == 0)
		a->usable = usable;
	return rc;
}

struct remote_args {
	const char *pool;
	long cache;		/* budget; -1: the library's default */
	bool read_only;
	uid_t uid;		/* not 0: become this uid (and gid) first */
	int in, out;
};

/* OP_OPEN2: the second handle, on the same connection. */
static int
remote_open2(struct pool_conn *c, const char *pool, const struct cmd *cmd,
	     struct ans *a)
{
	static struct pool *p2;
	int rc;

	if (p2)
		return -EEXIST;
	if ((rc = pool_open(c, pool, &p2)) != 0)
		return rc;
	if ((rc = pool_alloc(p2, cmd->len, &a->off)) != 0)
		return rc;
	fill(pool_ptr(p2, 0), a->off, cmd->len, cmd->seed);
	return 0;
}

static int
remote_main(void *arg)
{
	struct remote_args *ra = arg;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	struct ans a = {0};
	struct cmd cmd;

	if (ra->uid && (setgroups(0, NULL) == -1 || setgid(ra->uid) == -1 ||
			setuid(ra->uid) == -1))
		a.rc = -errno;
	else if ((a.rc = pool_connect(fx.d.sock, &c)) == 0 &&
	    (a.rc = ra->read_only ? pool_open_readonly(c, ra->pool, &p) :
	     pool_open(c, ra->pool, &p)) == 0 && ra->cache >= 0)
		a.rc = pool_set_cache(p, (size_t)ra->cache);
	if (harness_write_full(ra->out, &a, sizeof(a)) || a.rc)
		return 1;
	while (harness_read_full(ra->in, &cmd, sizeof(cmd)) == 0) {
		memset(&a, 0, sizeof(a));
		memset(&st, 0, sizeof(st));
		if (cmd.op == OP_STATS)
			a.rc = pool_stats(p, &st);
		else if (cmd.op == OP_OPEN2)
			a.rc = remote_open2(c, ra->pool, &cmd, &a);
		else if (cmd.op != OP_EXIT)
			a.rc = remote_do(p, &cmd, &a);
		if (cmd.op == OP_EXIT) {
			pool_close(p);
			pool_disconnect(c);
		}
		if (harness_write_full(ra->out, &a, sizeof(a)))
			return 2;
		if (cmd.op == OP_STATS &&
		    harness_write_full(ra->out, &st, sizeof(st)))
			return 3;
		if (cmd.op == OP_EXIT)
			return 0;
	}
	return 0;
}

/*
 * Start client i on pool, with its cache budget (-1: default), read-only
 * or not, as uid (0: ours).
 */
static struct remote *
remote_start_as(int i, const char *pool, long cache, bool read_only,
		uid_t uid)
{
	struct remote *r = &fx.r[i];
	struct remote_args ra = {.pool = pool, .cache = cache,
				 .read_only = read_only, .uid = uid};
	int to[2], from[2];
	struct ans a;

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	fflush(stdout);
	fflush(stderr);
	if ((r->pid = fork()) == 0) {
		for (int k = 0; k < MAX_REMOTES; k++)
			if (fx.r[k].pid > 0 && k != i) {
				close(fx.r[k].to);
				close(fx.r[k].from);
			}
		close(to[1]);
		close(from[0]);
		ra.in = to[0];
		ra.out = from[1];
		_exit(remote_main(&ra));
	}
	assert_true(r->pid > 0);
	close(to[0]);
	close(from[1]);
	r->to = to[1];
	r->from = from[0];
	if (harness_read_full(r->from, &a, sizeof(a)))
		fail_msg("client %d did not start", (int)r->pid);
	if (a.rc)
		fail_msg("client %d: connect or open %s: %s", (int)r->pid,
			 pool, pool_strerror(a.rc));
	return r;
}

static struct remote *
remote_start(int i, const char *pool, long cache)
{
	return remote_start_as(i, pool, cache, false, 0);
}

static void
remote_send(struct remote *r, int op, uint64_t off, uint64_t len,
	    uint64_t seed)
{
	struct cmd c = {.op = op, .off = off, .len = len, .seed = seed};

	if (harness_write_full(r->to, &c, sizeof(c)))
		fail_msg("client %d is gone", (int)r->pid);
}

static struct ans
remote_recv(struct remote *r)
{
	struct ans a;

	if (harness_read_full(r->from, &a, sizeof(a)))
		fail_msg("client %d died (status %d)", (int)r->pid,
			 harness_wait(r->pid));
	return a;
}

static struct ans
remote_ask(struct remote *r, int op, uint64_t off, uint64_t len,
	   uint64_t seed)
{
	struct pool_stats st;
	struct ans a;

	remote_send(r, op, off, len, seed);
	a = remote_recv(r);
	if (op == OP_STATS && harness_read_full(r->from, &st, sizeof(st)))
		fail_msg("client %d died", (int)r->pid);
	return a;
}

/* The command must succeed. */
static struct ans
remote_ok(struct remote *r, int op, uint64_t off, uint64_t len,
	  uint64_t seed, int line)
{
	struct ans a = remote_ask(r, op, off, len, seed);

	if (a.rc)
		fail_msg("line %d: client %d: op %d (off %" PRIu64 ", len %"
			 PRIu64 "): %s", line, (int)r->pid, op, off, len,
			 pool_strerror(a.rc));
	return a;
}
#define REMOTE_OK(r, op, off, len, seed)				\
	remote_ok((r), (op), (off), (len), (seed), __LINE__)

static void
remote_exit(struct remote *r)
{
	struct ans a = remote_ask(r, OP_EXIT, 0, 0, 0);

	assert_int_equal(a.rc, 0);
	assert_int_equal(harness_wait(r->pid), 0);
	close(r->to);
	close(r->from);
	r->pid = 0;
}

static void
remote_kill(struct remote *r)
{
	kill(r->pid, SIGKILL);
	harness_wait(r->pid);
	close(r->to);
	close(r->from);
	r->pid = 0;
}

/* The book: every block someone holds, with the seed it was filled from. */
static void
book_add(uint64_t off, uint64_t len, uint64_t seed)
{
	assert_true(fx.nbook < MAX_BLOCKS);
	fx.book[fx.nbook++] = (struct blk){off, len, seed};
}

static void
book_drop(uint64_t off)
{
	for (int i = 0; i < fx.nbook; i++)
		if (fx.book[i].off == off) {
			fx.book[i] = fx.book[--fx.nbook];
			return;
		}
	fail_msg("block %" PRIu64 " is not in the book", off);
}

static struct blk *
book_find(uint64_t off)
{
	for (int i = 0; i < fx.nbook; i++)
		if (fx.book[i].off == off)
			return &fx.book[i];
	fail_msg("block %" PRIu64 " is not in the book", off);
	return NULL;
}

/* A new block of client r, written (calloc: zero first), in the book. */
static uint64_t
remote_block(struct remote *r, int op, uint64_t len)
{
	uint64_t seed = ++fx.seed;
	struct ans a = REMOTE_OK(r, op, 0, len, seed);

	book_add(a.off, len, seed);
	return a.off;
}

/* Every block in the book reads as written, through our own mapping. */
static void
book_verify(const char *when)
{
	const uint8_t *base = pool_ptr(fx.pool, 0);

	for (int i = 0; i < fx.nbook; i++)
		if (!intact(base, fx.book[i].off, fx.book[i].len,
			    fx.book[i].seed))
			fail_msg("%s: block at %" PRIu64 " (%" PRIu64
				 " bytes) does not read as written", when,
				 fx.book[i].off, fx.book[i].len);
}

/* Client r reads block off back through its own mapping. */
static void
remote_verify(struct remote *r, uint64_t off)
{
	struct blk *b = book_find(off);

	REMOTE_OK(r, OP_VERIFY, b->off, b->len, b->seed);
}

static void
start(const char *conf, const char *pool)
{
	assert_int_equal(harness_start(&fx.d, conf), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, pool, &fx.pool), 0);
	/* Our frees leave pages to the daemon, not to a cache of ours. */
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_REMOTES; i++)
		if (fx.r[i].pid > 0)
			remote_kill(&fx.r[i]);
	if (fx.pool)
		pool_close(fx.pool);
	if (fx.conn)
		pool_disconnect(fx.conn);
	harness_remove_binary(fx.bindir);
	/* A daemon that died failed its test already, saying how. */
	if (fx.d.pid > 0 && harness_alive(&fx.d))
		assert_int_equal(harness_stop(&fx.d), 0);
	else
		harness_remove_dir(&fx.d);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

static struct pool_stats
stats(void)
{
	struct pool_stats st;

	assert_int_equal(pool_stats(fx.pool, &st), 0);
	return st;
}

static void
check_ok(const char *pool)
{
	char out[1024], err[1024];

	if (harness_poolctl(&fx.d, NULL, out, sizeof(out), err, sizeof(err),
			    "check %s", pool) != 0)
		fail_msg("poolctl check %s: %s%s", pool, out, err);
}

/* Lines of the log from byte at on: does one hold what (and also)? */
static bool
log_since_has(size_t at, const char *what, const char *also)
{
	static char log[256 * 1024];
	char *l, *save = NULL;

	harness_read_text(fx.d.log, log, sizeof(log));
	if (strlen(log) < at)
		return false;
	for (l = strtok_r(log + at, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (strcasestr(l, what) && (!also || strcasestr(l, also)))
			return true;
	return false;
}

/* A line since at tells of a restart (or exec) that failed. */
static bool
failure_logged(size_t at)
{
	static const char *const what[] = {"restart", "exec", "SIGUSR2"};
	static const char *const why[] = {"fail", "cannot", "error",
					  "no such", "could not"};

	for (size_t i = 0; i < sizeof(what) / sizeof(*what); i++)
		for (size_t k = 0; k < sizeof(why) / sizeof(*why); k++)
			if (log_since_has(at, what[i], why[k]))
				return true;
	return false;
}

/* Print the daemon's last "restarted in place" line: what it took, when. */
static void
say_restarted(void)
{
	static char log[256 * 1024];
	char *l, *last = NULL;

	harness_read_text(fx.d.log, log, sizeof(log));
	for (l = log; (l = strstr(l, HARNESS_RESTARTED)); l++)
		last = l;
	if (last)
		printf("%.*s\n", (int)strcspn(last, "\n"), last);
}

/* The daemon has taken SIGUSR2: from this line on it reads no request. */
#define RESTART_WANTED "restarting in place at the first quiet moment"

/*
 * SIGUSR2: true once the daemon has restarted in place, false if it
 * logged that the restart failed (and goes on); the test fails if it
 * died, or said nothing in HARNESS_RESTART_WAIT_MS.
 */
static bool
restart_or_not(void)
{
	int before = harness_log_count(&fx.d, HARNESS_RESTARTED), ms;
	static char log[256 * 1024];
	size_t at = harness_log_mark(&fx.d);
	pid_t pid = fx.d.pid;

	assert_int_equal(kill(pid, SIGUSR2), 0);
	for (ms = 0; ms < HARNESS_RESTART_WAIT_MS; ms += 5) {
		if (harness_log_wait(&fx.d, HARNESS_RESTARTED, before, 0) == 0)
			break;
		if (fx.d.pid == 0)
			fail_msg("SIGUSR2: poolmgrd died");
		if (failure_logged(at)) {
			harness_read_text(fx.d.log, log, sizeof(log));
			printf("its log since SIGUSR2:\n%s", log + at);
			assert_true(harness_alive(&fx.d));
			return false;
		}
		harness_sleep_ms(5);
	}
	if (ms >= HARNESS_RESTART_WAIT_MS)
		fail_msg("SIGUSR2: no restart in %d s",
			 HARNESS_RESTART_WAIT_MS / 1000);
	assert_int_equal(fx.d.pid, pid);
	assert_true(harness_alive(&fx.d));
	say_restarted();
	return true;
}

/* The configuration file, as harness_start writes it, without a SIGHUP. */
static void
write_conf(const char *text)
{
	FILE *f = fopen(fx.d.conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s", text);
	fclose(f);
}

/* Restart in place, or fail the test saying why not. */
static void
restart(void)
{
	if (!restart_or_not())
		fail_msg("SIGUSR2: the restart failed");
}

/* The daemon's open descriptors. */
static int
fds_now(void)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)fx.d.pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * The daemon's descriptors once it has seen the last poolctl hang up: a
 * count taken just after one may still hold its connection.  Three equal
 * counts 20 ms apart, within 2 s.
 */
static int
daemon_fds(void)
{
	int n = fds_now(), same = 0, i;

	for (i = 0; i < 100 && same < 2; i++) {
		int m;

		usleep(20000);
		m = fds_now();
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* The lines of text sorted, in place. */
static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sort_lines(char *text, size_t size)
{
	char *lines[512] = {NULL}, *copy = strdup(text), *save = NULL, *l;
	size_t n = 0, at = 0;

	assert_non_null(copy);
	for (l = strtok_r(copy, "\n", &save); l && n < 512;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, size - at, "%s\n", lines[i]);
	free(copy);
}

/* Keep the "POOL KEY VALUE" lines whose key may not change. */
static void
keep_lasting(char *kv, size_t size)
{
	char *copy = strdup(kv), *save = NULL, *l, key[64];
	size_t at = 0;
	int i;

	assert_non_null(copy);
	kv[0] = '\0';
	for (l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (sscanf(l, "%*s %63s", key) != 1)
			continue;
		for (i = 0; volatile_keys[i] && strcmp(key, volatile_keys[i]);
		     i++)
			;
		if (!volatile_keys[i])
			at += (size_t)snprintf(kv + at, size - at, "%s\n", l);
	}
	free(copy);
}

/* What operators see of every pool and client, and the socket file. */
struct snap {
	char kv[16384];
	char clients[16384];
	char persisted[4096];
	struct stat sock;
};

static void
ctl(const char *args, char *out, size_t len)
{
	char err[1024];

	if (harness_poolctl(&fx.d, NULL, out, len, err, sizeof(err), "%s",
			    args) != 0)
		fail_msg("poolctl %s: %s", args, err);
}

static void
snap_take(struct snap *s)
{
	ctl("stats --format=kv", s->kv, sizeof(s->kv));
	keep_lasting(s->kv, sizeof(s->kv));
	ctl("clients", s->clients, sizeof(s->clients));
	sort_lines(s->clients, sizeof(s->clients));
	ctl("persisted --format=kv", s->persisted, sizeof(s->persisted));
	assert_int_equal(stat(fx.d.sock, &s->sock), 0);
}

static void
same_text(const char *what, const char *before, const char *after)
{
	if (strcmp(before, after) != 0) {
		printf("%s before the restart:\n%s%s after:\n%s", what, before,
		       what, after);
		fail_msg("%s changed across the restart", what);
	}
}

static void
snap_same(const struct snap *a, const struct snap *b)
{
	same_text("poolctl stats", a->kv, b->kv);
	same_text("poolctl clients", a->clients, b->clients);
	same_text("poolctl persisted", a->persisted, b->persisted);
	if (a->sock.st_ino != b->sock.st_ino ||
	    a->sock.st_dev != b->sock.st_dev)
		fail_msg("the socket file was made anew");
}

/*
 * Two clients of pool "p": A holds blocks of several kinds and sizes,
 * persists two of them and frees some small ones (into its cache, when
 * the cache is on); B retains two of A's and holds its own.  What each
 * holds is in the book; offsets of A's in a[], of B's own in b[].
 */
struct scene {
	struct remote *A, *B;
	uint64_t a[8], b[2], small[16];
};

static void
scene_start(struct scene *s)
{
	uint64_t drop[16];

	s->A = remote_start(0, "p", -1);
	s->B = remote_start(1, "p", -1);
	s->a[0] = remote_block(s->A, OP_ALLOC, 100);
	s->a[1] = remote_block(s->A, OP_ALLOC, 64 * KiB);
	s->a[2] = remote_block(s->A, OP_ALLOC, 1 * MiB);
	s->a[3] = remote_block(s->A, OP_CALLOC, 24000);
	s->a[4] = remote_block(s->A, OP_ALLOC, 3 * MiB + 5);
	s->a[5] = remote_block(s->A, OP_CALLOC, 2 * MiB);
	s->a[6] = remote_block(s->A, OP_ALLOC, 4000);
	s->a[7] = remote_block(s->A, OP_ALLOC, 300 * KiB);
	for (int i = 0; i < 16; i++) {
		s->small[i] = remote_block(s->A, OP_ALLOC, 48);
		drop[i] = remote_block(s->A, OP_ALLOC, 48);
	}
	for (int i = 0; i < 16; i++) {
		REMOTE_OK(s->A, OP_FREE, drop[i], 0, 0);
		book_drop(drop[i]);
	}
	REMOTE_OK(s->A, OP_PERSIST, s->a[1], 0, 0);
	REMOTE_OK(s->A, OP_PERSIST, s->a[5], 0, 0);
	/* Counters that must not reset: a bad free, a refused alloc. */
	assert_int_equal(remote_ask(s->A, OP_FREE, 12345, 0, 0).rc, -EINVAL);
	assert_int_equal(remote_ask(s->A, OP_ALLOC, 0, 60 * MiB, 0).rc,
			 -ENOMEM);
	REMOTE_OK(s->B, OP_RETAIN, s->a[0], 0, 0);
	REMOTE_OK(s->B, OP_RETAIN, s->a[2], 0, 0);
	s->b[0] = remote_block(s->B, OP_ALLOC, 200);
	s->b[1] = remote_block(s->B, OP_ALLOC, 256 * KiB);
}

/*
 * After a restart: both clients read their blocks back in their own
 * mappings, free old ones, allocate new ones of every kind, realloc old
 * ones; then every block anyone holds reads as written here, so no new
 * block overlaps a held one.
 */
static void
scene_carry_on(struct scene *s)
{
	struct ans a;
	struct blk *b;

	for (int i = 0; i < 8; i++)
		remote_verify(s->A, s->a[i]);
	for (int i = 0; i < 16; i++)
		remote_verify(s->A, s->small[i]);
	remote_verify(s->B, s->a[0]);
	remote_verify(s->B, s->a[2]);
	remote_verify(s->B, s->b[0]);
	remote_verify(s->B, s->b[1]);
	book_verify("after the restart");

	/* A's own blocks go; those B retained stay B's. */
	REMOTE_OK(s->A, OP_FREE, s->a[4], 0, 0);
	book_drop(s->a[4]);
	REMOTE_OK(s->A, OP_FREE, s->a[7], 0, 0);
	book_drop(s->a[7]);
	REMOTE_OK(s->A, OP_FREE, s->a[0], 0, 0);
	for (int i = 0; i < 8; i++) {
		REMOTE_OK(s->A, OP_FREE, s->small[i], 0, 0);
		book_drop(s->small[i]);
	}
	/* A realloc of an old block keeps its bytes, moved or not. */
	a = REMOTE_OK(s->A, OP_REALLOC, s->a[6], 40000, 0);
	b = book_find(s->a[6]);
	b->off = s->a[6] = a.off;
	b->len = 40000;
	REMOTE_OK(s->A, OP_FILL, b->off, b->len, b->seed);
	a = REMOTE_OK(s->B, OP_REALLOC, s->b[1], 2 * MiB, 0);
	b = book_find(s->b[1]);
	b->off = s->b[1] = a.off;
	b->len = 2 * MiB;
	REMOTE_OK(s->B, OP_FILL, b->off, b->len, b->seed);

	for (int i = 0; i < 24; i++) {
		remote_block(s->A, OP_ALLOC, 48);
		remote_block(s->B, OP_ALLOC, 100 + 40 * (uint64_t)i);
	}
	remote_block(s->A, OP_ALLOC, 64 * KiB);
	remote_block(s->A, OP_ALLOC, 1 * MiB);
	remote_block(s->A, OP_CALLOC, 5000);
	remote_block(s->B, OP_CALLOC, 1 * MiB + 3);
	remote_block(s->B, OP_ALLOC, 3 * MiB);
	book_verify("after new blocks");
	check_ok("p");
}

/* Pages written and freed before: a calloc over them must read zero. */
#define DIRTY_N 64
#define DIRTY_SIZE (32 * KiB)

static void
dirty_free_pages(void)
{
	pool_off_t off[DIRTY_N];

	for (int i = 0; i < DIRTY_N; i++) {
		assert_int_equal(pool_alloc(fx.pool, DIRTY_SIZE, &off[i]), 0);
		memset(pool_ptr(fx.pool, off[i]), 0xff, DIRTY_SIZE);
	}
	for (int i = 0; i < DIRTY_N; i++)
		assert_int_equal(pool_free(fx.pool, off[i]), 0);
}

static void
callocs_read_zero(void)
{
	pool_off_t off[DIRTY_N];

	for (int i = 0; i < DIRTY_N; i++) {
		assert_int_equal(pool_calloc(fx.pool, 1, DIRTY_SIZE, &off[i]),
				 0);
		if (!zeroed(pool_ptr(fx.pool, off[i]), DIRTY_SIZE))
			fail_msg("calloc'ed block at %" PRIu64 " is not zero "
				 "after the restart", off[i]);
	}
	for (int i = 0; i < DIRTY_N; i++)
		assert_int_equal(pool_free(fx.pool, off[i]), 0);
}

static void
clients_carry_on(void **state)
{
	static struct snap before, after;
	struct scene s;
	pid_t pid;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	dirty_free_pages();
	snap_take(&before);
	assert_true(stats().invalid_frees > 0);
	assert_true(stats().failed_allocs > 0);
	pid = fx.d.pid;
	restart();
	assert_int_equal(fx.d.pid, pid);
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	callocs_read_zero();

	/* Once both are gone only the persisted blocks are left. */
	remote_exit(s.A);
	remote_exit(s.B);
	assert_int_equal(stats().live_blocks, 2);
	assert_int_equal(stats().persistent_blocks, 2);
	check_ok("p");
}

/*
 * A child that connects, allocates, writes, frees and disconnects over
 * and over until told to stop: every round must succeed.
 */
struct connector {
	int stop[2];		/* a byte: stop */
	int out[2];		/* a byte after the first round; then rounds */
};

static int
connector_main(void *arg)
{
	struct connector *k = arg;
	struct pollfd pfd = {.fd = k->stop[0], .events = POLLIN};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint64_t rounds = 0;

	close(k->stop[1]);
	close(k->out[0]);
	while (poll(&pfd, 1, 0) == 0) {
		CHECK_RC(pool_connect(fx.d.sock, &c), 0, 2);
		CHECK_RC(pool_open(c, "p", &p), 0, 3);
		CHECK_RC(pool_alloc(p, 100, &off), 0, 4);
		memset(pool_ptr(p, off), 0x77, 100);
		CHECK_RC(pool_free(p, off), 0, 5);
		pool_close(p);
		pool_disconnect(c);
		if (rounds++ == 0)
			CHECK(harness_write_full(k->out[1], "g", 1) == 0, 6);
	}
	CHECK(harness_write_full(k->out[1], &rounds, sizeof(rounds)) == 0, 7);
	return 0;
}

static void
connect_during_restart(void **state)
{
	struct connector k;
	uint64_t rounds;
	char go;
	pid_t pid;

	(void)state;
	start("[pool p]\nsize = 16M\n", "p");
	assert_int_equal(pipe(k.stop), 0);
	assert_int_equal(pipe(k.out), 0);
	pid = harness_spawn(connector_main, &k);
	assert_true(pid > 0);
	close(k.stop[0]);
	close(k.out[1]);
	assert_int_equal(harness_read_full(k.out[0], &go, 1), 0);
	if (harness_restart_in_place(&fx.d) != 0) {
		kill(pid, SIGKILL);
		harness_wait(pid);
		fail_msg("SIGUSR2: poolmgrd did not restart in place");
	}
	harness_sleep_ms(50);	/* some rounds after it, too */
	assert_int_equal(harness_write_full(k.stop[1], "s", 1), 0);
	if (harness_read_full(k.out[0], &rounds, sizeof(rounds)))
		fail_msg("the connecting client failed: exit %d",
			 harness_wait(pid));
	assert_int_equal(harness_wait(pid), 0);
	printf("%" PRIu64 " rounds of connect, alloc, free, disconnect\n",
	       rounds);
	close(k.stop[1]);
	close(k.out[0]);
	assert_int_equal(stats().live_blocks, 0);
	check_ok("p");
}

/*
 * Clients busy on one connection across the restart, one with a thread
 * and one with four sharing it (their requests pipelined): allocate,
 * write, read back, free, and now and then a batch, until told to stop.
 * Not one request may fail, nor one byte read back differ.
 */
static void *
busy_thread(void *arg)
{
	struct harness_busy *b = arg;
	size_t sizes[64];
	pool_off_t offs[64], off;
	unsigned seed = (unsigned)b->id * 7919u + (unsigned)getpid();
	uint64_t len, tag;
	int rc;

	for (int i = 0; i < 64; i++)
		sizes[i] = 100;
	while (!__atomic_load_n(b->stop, __ATOMIC_RELAXED)) {
		len = 16 + (uint64_t)rand_r(&seed) % 100000;
		tag = ((uint64_t)getpid() << 8) + (uint64_t)b->id;
		if ((rc = pool_alloc(b->p, len, &off)) != 0) {
			harness_busy_error(b, "alloc", rc);
			continue;
		}
		fill(pool_ptr(b->p, 0), off, len, tag);
		if (!intact(pool_ptr(b->p, 0), off, len, tag))
			harness_busy_error(b, "read back", -EILSEQ);
		if ((rc = pool_free(b->p, off)) != 0)
			harness_busy_error(b, "free", rc);
		if (b->rounds++ % 16 == 0) {
			if ((rc = pool_alloc_batch(b->p, 64, sizes, offs)) != 0)
				harness_busy_error(b, "alloc_batch", rc);
			else if ((rc = pool_free_batch(b->p, 64, offs)) != 0)
				harness_busy_error(b, "free_batch", rc);
		}
	}
	return NULL;
}

struct busy_child {
	int nthreads;
	int stop[2];		/* a byte: stop */
	int out[2];		/* a byte once busy; then rounds, errors */
};

static int
busy_main(void *arg)
{
	struct busy_child *k = arg;
	struct harness_busy b[4];
	uint64_t sum[2] = {0, 0};
	struct pool_conn *c;
	struct pool *p;
	int rc;

	close(k->stop[1]);
	close(k->out[0]);
	CHECK_RC(pool_connect(fx.d.sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "p", &p), 0, 3);
	if ((rc = harness_busy_run(b, k->nthreads, p, busy_thread, k->out[1],
				   k->stop[0], sum, 4)) != 0)
		return rc;
	CHECK(harness_write_full(k->out[1], sum, sizeof(sum)) == 0, 7);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
busy_clients_across_restart(void **state)
{
	struct busy_child k[2] = {{.nthreads = 1}, {.nthreads = 4}};
	uint64_t res[2][2];
	pid_t pid[2];
	char go;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pipe(k[i].stop), 0);
		assert_int_equal(pipe(k[i].out), 0);
		pid[i] = harness_spawn(busy_main, &k[i]);
		assert_true(pid[i] > 0);
		close(k[i].stop[0]);
		close(k[i].out[1]);
		assert_int_equal(harness_read_full(k[i].out[0], &go, 1), 0);
	}
	harness_sleep_ms(20);
	restart();
	harness_sleep_ms(50);
	for (int i = 0; i < 2; i++)
		assert_int_equal(harness_write_full(k[i].stop[1], "s", 1), 0);
	for (int i = 0; i < 2; i++) {
		if (harness_read_full(k[i].out[0], res[i], sizeof(res[i])))
			fail_msg("busy client %d failed: exit %d", i,
				 harness_wait(pid[i]));
		assert_int_equal(harness_wait(pid[i]), 0);
		close(k[i].stop[1]);
		close(k[i].out[0]);
		printf("busy client with %d thread%s: %" PRIu64 " rounds, %"
		       PRIu64 " errors\n", k[i].nthreads,
		       k[i].nthreads == 1 ? "" : "s", res[i][0], res[i][1]);
		assert_int_equal(res[i][1], 0);
	}
	assert_int_equal(stats().live_blocks, 0);
	check_ok("p");
}

/*
 * 100,000 blocks of 16 to 256 bytes and 100 of 20 KiB: all there after
 * the restart, as written; half freed and as many allocated again, none
 * on a block still held; all freed, nothing left.
 */
#define MANY 100000

static void
many_blocks(void **state)
{
	static pool_off_t off[MANY + 100], again[MANY / 2];
	static size_t sizes[POOL_BATCH_MAX];
	uint8_t *base;
	struct pool_stats st0, st1;
	size_t n, k, i;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	base = pool_ptr(fx.pool, 0);
	for (n = 0; n < MANY; n += k) {
		k = MANY - n < POOL_BATCH_MAX ? MANY - n : POOL_BATCH_MAX;
		for (i = 0; i < k; i++)
			sizes[i] = 16 + ((n + i) % 16) * 16;
		assert_int_equal(pool_alloc_batch(fx.pool, k, sizes, off + n),
				 0);
	}
	for (i = 0; i < 100; i++)
		assert_int_equal(pool_alloc(fx.pool, 20 * KiB, &off[MANY + i]),
				 0);
	for (i = 0; i < MANY + 100; i++)
		memcpy(base + off[i], &off[i], sizeof(off[i]));
	st0 = stats();
	restart();
	st1 = stats();
	assert_int_equal(st1.live_blocks, st0.live_blocks);
	assert_int_equal(st1.allocated_bytes, st0.allocated_bytes);
	assert_int_equal(st1.requested_bytes, st0.requested_bytes);
	for (i = 0; i < MANY + 100; i++)
		if (memcmp(base + off[i], &off[i], sizeof(off[i])) != 0)
			fail_msg("block %zu at %" PRIu64 " lost its mark", i,
				 off[i]);
	/* Every other one goes; as many new ones must land elsewhere. */
	for (i = 0; i < MANY / 2; i++)
		again[i] = off[2 * i];
	for (i = 0; i < MANY / 2; i += k) {
		k = MANY / 2 - i < POOL_BATCH_MAX ? MANY / 2 - i :
		    POOL_BATCH_MAX;
		assert_int_equal(pool_free_batch(fx.pool, k, again + i), 0);
	}
	for (i = 0; i < MANY / 2; i += k) {
		k = MANY / 2 - i < POOL_BATCH_MAX ? MANY / 2 - i :
		    POOL_BATCH_MAX;
		for (size_t j = 0; j < k; j++)
			sizes[j] = 48;
		assert_int_equal(pool_alloc_batch(fx.pool, k, sizes, again + i),
				 0);
		for (size_t j = 0; j < k; j++)
			memset(base + again[i + j], 0xa5, 48);
	}
	for (i = 1; i < MANY + 100; i++)
		if ((i >= MANY || i % 2) &&
		    memcmp(base + off[i], &off[i], sizeof(off[i])) != 0)
			fail_msg("block %zu at %" PRIu64 " was handed out "
				 "again", i, off[i]);
	check_ok("p");
	for (i = 0; i < MANY / 2; i += k) {
		k = MANY / 2 - i < POOL_BATCH_MAX ? MANY / 2 - i :
		    POOL_BATCH_MAX;
		assert_int_equal(pool_free_batch(fx.pool, k, again + i), 0);
	}
	for (i = 1; i < MANY + 100; i++)
		if (i >= MANY || i % 2)
			assert_int_equal(pool_free(fx.pool, off[i]), 0);
	assert_int_equal(stats().live_blocks, 0);
	check_ok("p");
}

/*
 * Kill client r and wait until the daemon has let go of its session
 * (poolctl clients no longer lists it).
 */
static void
kill_and_wait_gone(struct remote *r)
{
	struct pool_client_info *ci;
	pid_t pid = r->pid;
	size_t n, i;

	remote_kill(r);
	for (int tries = 0; tries < 5000; tries++) {
		assert_int_equal(pool_clients(fx.conn, NULL, &ci, &n), 0);
		for (i = 0; i < n && ci[i].pid != (uint32_t)pid; i++)
			;
		free(ci);
		if (i == n)
			return;
		harness_sleep_ms(2);
	}
	fail_msg("the daemon still lists client %d 10 s after its death",
		 (int)pid);
}

static void
client_cache_survives(void **state)
{
	static struct snap before, after;
	uint64_t mine, seed, blocks[300], kept = 0;
	struct pool_stats st0, st1;
	struct remote *C;
	size_t usable;

	(void)state;
	start("[pool p]\nsize = 32M\n", "p");
	assert_int_equal(pool_alloc(fx.pool, 1000, &mine), 0);
	seed = ++fx.seed;
	fill(pool_ptr(fx.pool, 0), mine, 1000, seed);
	book_add(mine, 1000, seed);
	C = remote_start(0, "p", -1);
	for (int i = 0; i < 300; i++)
		blocks[i] = remote_block(C, OP_ALLOC, 256);
	for (int i = 0; i < 200; i++) {
		REMOTE_OK(C, OP_FREE, blocks[i], 0, 0);
		book_drop(blocks[i]);
	}
	/* A round trip tells the daemon what sits in its cache. */
	REMOTE_OK(C, OP_STATS, 0, 0, 0);
	st0 = stats();
	printf("cache %s: %" PRIu64 " bytes in client caches\n",
	       harness_client_cache() ? "on" : "off",
	       st0.client_cached_bytes);
	if (harness_client_cache())
		assert_true(st0.client_cached_bytes > 0);
	else
		assert_int_equal(st0.client_cached_bytes, 0);
	snap_take(&before);
	restart();
	snap_take(&after);
	snap_same(&before, &after);
	st1 = stats();
	assert_int_equal(st1.client_cached_bytes, st0.client_cached_bytes);
	assert_int_equal(st1.allocated_bytes, st0.allocated_bytes);

	/* Allocated again (from the cache, when on): still C's to use. */
	for (int i = 0; i < 200; i++)
		blocks[i] = remote_block(C, OP_ALLOC, 256);
	book_verify("after allocating from the cache");
	for (int i = 0; i < 300; i++)
		remote_verify(C, blocks[i]);
	for (int i = 0; i < 150; i++) {
		REMOTE_OK(C, OP_FREE, blocks[i], 0, 0);
		book_drop(blocks[i]);
	}
	/* Its death takes every block it held or cached. */
	kill_and_wait_gone(C);
	assert_int_equal(pool_usable_size(fx.pool, mine, &usable), 0);
	kept = usable;
	st1 = stats();
	assert_int_equal(st1.client_cached_bytes, 0);
	assert_int_equal(st1.live_blocks, 1);
	assert_int_equal(st1.allocated_bytes, kept);
	assert_true(intact(pool_ptr(fx.pool, 0), mine, 1000, seed));
	check_ok("p");
}

static void
exit_after_restart_reclaims(void **state)
{
	uint64_t theirs[20], persisted, retained, bsum = 0;
	struct pool_stats st0, st1;
	struct remote *A, *B;
	size_t usable, keep = 0;
	int n = 0;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	A = remote_start(0, "p", -1);
	B = remote_start(1, "p", 0);	/* it holds just what it allocates */
	for (int i = 0; i < 20; i++)
		theirs[i] = remote_block(A, OP_ALLOC,
					 i % 4 == 3 ? 1 * MiB + 7 :
					 (uint64_t)(i + 1) * 700);
	for (int i = 0; i < 10; i++) {
		REMOTE_OK(A, OP_FREE, theirs[i], 0, 0);	/* cached, maybe */
		book_drop(theirs[i]);
	}
	persisted = theirs[10];
	retained = theirs[11];
	REMOTE_OK(A, OP_PERSIST, persisted, 0, 0);
	assert_int_equal(pool_retain(fx.pool, retained), 0);
	for (int i = 0; i < 5; i++)
		bsum += REMOTE_OK(B, OP_USABLE,
				  remote_block(B, OP_ALLOC, 5000), 0, 0).usable;
	st0 = stats();
	restart();
	st1 = stats();
	assert_int_equal(st1.allocated_bytes, st0.allocated_bytes);
	assert_int_equal(st1.live_blocks, st0.live_blocks);

	kill_and_wait_gone(A);
	for (int i = 12; i < 20; i++) {
		EXPECT_RC(pool_usable_size(fx.pool, theirs[i], &usable),
			  -EINVAL);
		book_drop(theirs[i]);
	}
	assert_int_equal(pool_usable_size(fx.pool, persisted, &usable), 0);
	keep += usable;
	assert_int_equal(pool_usable_size(fx.pool, retained, &usable), 0);
	keep += usable;
	st1 = stats();
	assert_int_equal(st1.live_blocks, 2 + 5);
	assert_int_equal(st1.persistent_blocks, 1);
	assert_int_equal(st1.allocated_bytes, keep + bsum);
	book_verify("after the client's death");
	for (n = 0; n < fx.nbook; n++)
		if (fx.book[n].off != persisted && fx.book[n].off != retained)
			remote_verify(B, fx.book[n].off);
	assert_int_equal(pool_free(fx.pool, retained), 0);
	check_ok("p");
}

/* The pages of [p, p + len) resident: 0 once all went back. */
static size_t
resident_after(void *p, size_t len, int ms)
{
	size_t left = harness_resident_pages(p, len);

	for (; left && ms > 0; ms -= 10) {
		harness_sleep_ms(10);
		left = harness_resident_pages(p, len);
	}
	return left;
}

static void
work_in_progress(void **state)
{
	enum { NDIRTY = 4096 };
	static pool_off_t offs[NDIRTY];
	static size_t sizes[NDIRTY];
	struct pool_stats st0, st1;
	uint64_t big, small, cal;
	size_t usable, dirty;
	struct remote *Z;
	uint8_t *base;
	struct ans a;
	int i;

	(void)state;
	start("release_step = 4K\n[pool big]\nsize = 160M\nretain = 160M\n",
	      "big");
	base = pool_ptr(fx.pool, 0);
	assert_int_equal(pool_alloc(fx.pool, 100, &small), 0);
	fill(base, small, 100, ++fx.seed);
	book_add(small, 100, fx.seed);

	/* A freed 128 MiB block goes back in 4 KiB steps... */
	assert_int_equal(pool_alloc(fx.pool, 128 * MiB, &big), 0);
	memset(base + big, 0x5a, 128 * MiB);
	st0 = stats();
	assert_int_equal(pool_free(fx.pool, big), 0);
	/* ...and is on its way when the signal comes. */
	restart();
	assert_int_equal(resident_after(base + big, 128 * MiB, 10000), 0);
	st1 = stats();
	assert_int_equal(pool_usable_size(fx.pool, small, &usable), 0);
	assert_int_equal(st1.allocated_bytes, usable);
	assert_int_equal(st1.live_blocks, 1);
	assert_int_equal(st1.frees, st0.frees + 1);
	printf("released_bytes %" PRIu64 " before the free, %" PRIu64
	       " after the restart\n", st0.released_bytes,
	       st1.released_bytes);
	assert_true(st1.released_bytes >= st0.released_bytes + 128 * MiB);
	book_verify("after a restart during a release");
	check_ok("big");

	/*
	 * 128 MiB of written small blocks freed, kept for reuse, dirty: the
	 * pool has no 64 MiB of clean room left.
	 */
	for (i = 0; i < NDIRTY; i++)
		sizes[i] = 32 * KiB;
	for (i = 0; i < NDIRTY; i += 1024)
		assert_int_equal(pool_alloc_batch(fx.pool, 1024, sizes + i,
						  offs + i), 0);
	for (i = 0; i < NDIRTY; i++)
		memset(base + offs[i], 0xee, 32 * KiB);
	for (i = 0; i < NDIRTY; i += 1024)
		assert_int_equal(pool_free_batch(fx.pool, 1024, offs + i), 0);
	dirty = harness_resident_pages(base, pool_size(fx.pool));
	assert_true(dirty * 4096 >= 64 * MiB);

	/* A calloc over them is zeroed 4 KiB a turn: restart meanwhile. */
	Z = remote_start(0, "big", 0);
	remote_send(Z, OP_CALLOC, 0, 64 * MiB, 0);
	for (i = 0; i < 2000 && harness_resident_pages(base,
	     pool_size(fx.pool)) > dirty - dirty / 20; i++)
		harness_sleep_ms(2);
	printf("calloc %s when the signal came\n",
	       i < 2000 ? "zeroing" : "maybe done");
	restart();
	a = remote_recv(Z);
	if (a.rc)
		fail_msg("calloc across the restart: %s", pool_strerror(a.rc));
	st1 = stats();
	assert_int_equal(st1.live_blocks, 2);
	assert_int_equal(st1.allocated_bytes, usable + a.usable);
	cal = a.off;
	assert_true(zeroed(base + cal, 64 * MiB));
	fill(base, cal, 64 * MiB, ++fx.seed);
	book_add(cal, 64 * MiB, fx.seed);
	REMOTE_OK(Z, OP_VERIFY, cal, 64 * MiB, fx.seed);
	book_verify("after a restart during a calloc");
	check_ok("big");
}

static void
exec_failure_keeps_serving(void **state)
{
	static struct snap before, after;
	static char log[256 * 1024];
	char bin[128], cmd[512], exe[256];
	struct scene s;
	size_t at;
	ssize_t n;
	int i, fds;

	(void)state;
	harness_copy_binary(fx.bindir, sizeof(fx.bindir), bin, sizeof(bin));
	assert_int_equal(harness_start_from(&fx.d, bin, "[pool p]\n"
					    "size = 64M\n"), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, "p", &fx.pool), 0);
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	scene_start(&s);
	snap_take(&before);
	fds = daemon_fds();

	/* An upgrade gone wrong: the binary it was started from is gone. */
	assert_int_equal(unlink(bin), 0);
	harness_read_text(fx.d.log, log, sizeof(log));
	at = strlen(log);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	for (i = 0; i < 2000 && harness_alive(&fx.d); i++) {
		if (failure_logged(at))
			break;
		harness_sleep_ms(5);
	}
	harness_read_text(fx.d.log, log, sizeof(log));
	printf("the log after SIGUSR2:\n%s",
	       log + (strlen(log) >= at ? at : 0));
	if (!harness_alive(&fx.d)) {
		fx.d.pid = 0;
		fail_msg("poolmgrd died of SIGUSR2 when it could not restart");
	}
	if (strstr(log + at, HARNESS_RESTARTED))
		fail_msg("restarted from a deleted binary: not from the path "
			 "it was started from");
	if (i == 2000)
		fail_msg("no failed restart logged within 10 s of SIGUSR2");

	snap_take(&after);
	snap_same(&before, &after);
	assert_int_equal(daemon_fds(), fds);
	scene_carry_on(&s);
	callocs_read_zero();

	/* The new binary in its place: the next SIGUSR2 executes it. */
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(), bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	snap_take(&before);
	restart();
	snap_take(&after);
	snap_same(&before, &after);
	snprintf(cmd, sizeof(cmd), "/proc/%d/exe", (int)fx.d.pid);
	n = readlink(cmd, exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	printf("it runs %s\n", exe);
	assert_string_equal(exe, bin);
	book_verify("after the restart from the new binary");
	remote_exit(s.A);
	remote_exit(s.B);
	assert_int_equal(stats().live_blocks, 2);
}

static void
poolctl_pool_and_settings(void **state)
{
	static struct snap before, after;
	char out[4096], err[1024];
	struct pool_stats sq, sp, sr;
	uint64_t q1, q2, p1;
	struct remote *Q, *P;
	struct ans a;

	(void)state;
	start("[pool p]\nsize = 16M\n", "p");
	assert_int_equal(harness_poolctl(&fx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "create q --size 8M "
					 "--granularity 64 --mode 0640 "
					 "--quota 1M --retain 0"), 0);
	Q = remote_start(0, "q", -1);
	P = remote_start(1, "p", -1);
	q1 = REMOTE_OK(Q, OP_ALLOC, 0, 300, 11).off;
	q2 = REMOTE_OK(Q, OP_ALLOC, 0, 200 * KiB, 12).off;
	REMOTE_OK(Q, OP_PERSIST, q1, 0, 0);
	p1 = remote_block(P, OP_ALLOC, 1 * MiB);
	snap_take(&before);
	assert_int_equal(pool_stats_by_name(fx.conn, "q", &sq), 0);

	/* The file changes, then SIGUSR2 (no SIGHUP): applied as a reload. */
	write_conf("[pool p]\nsize = 32M\ngranularity = 64\nquota = 2M\n"
		   "mode = 0644\n[pool r]\nsize = 4M\n");
	restart();
	snap_take(&after);
	same_text("poolctl clients", before.clients, after.clients);
	same_text("poolctl persisted", before.persisted, after.persisted);

	assert_int_equal(pool_stats_by_name(fx.conn, "q", &sr), 0);
	assert_int_equal(sr.max_size, sq.max_size);
	assert_int_equal(sr.granularity, sq.granularity);
	assert_int_equal(sr.mode, sq.mode);
	assert_int_equal(sr.uid, sq.uid);
	assert_int_equal(sr.gid, sq.gid);
	assert_int_equal(sr.quota, sq.quota);
	assert_int_equal(sr.retain_bytes, sq.retain_bytes);
	assert_int_equal(sr.allocated_bytes, sq.allocated_bytes);
	assert_int_equal(sr.persistent_blocks, 1);
	REMOTE_OK(Q, OP_VERIFY, q1, 300, 11);
	REMOTE_OK(Q, OP_VERIFY, q2, 200 * KiB, 12);
	/* Its quota still holds: 200 KiB held, 1 MiB more is too much. */
	a = remote_ask(Q, OP_ALLOC, 0, 1 * MiB, 0);
	assert_int_equal(a.rc, -EDQUOT);
	REMOTE_OK(Q, OP_FREE, q2, 0, 0);

	/* As a reload: the settings, but not the size nor granularity. */
	sp = stats();
	assert_int_equal(sp.quota, 2 * MiB);
	assert_int_equal(sp.mode, 0644);
	assert_int_equal(sp.max_size, 16 * MiB);
	assert_int_equal(sp.granularity, 16);
	remote_verify(P, p1);
	a = remote_ask(P, OP_ALLOC, 0, 3 * MiB, 0);
	assert_int_equal(a.rc, -EDQUOT);
	remote_block(P, OP_ALLOC, 512 * KiB);
	assert_int_equal(pool_stats_by_name(fx.conn, "r", &sr), 0);
	assert_int_equal(sr.max_size, 4 * MiB);
	book_verify("after the restart");
	check_ok("p");
	check_ok("q");
	check_ok("r");

	/* The pool's books know its handles: a forced destroy closes them. */
	assert_int_equal(harness_poolctl(&fx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "destroy q --force"), 0);
	assert_int_equal(remote_ask(Q, OP_ALLOC, 0, 100, 0).rc, -EBADF);
	EXPECT_RC(pool_stats_by_name(fx.conn, "q", &sq), -ENOENT);
	check_ok("p");
}

static void
restart_twice(void **state)
{
	static struct snap before, after;
	struct scene s;
	int fds;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	dirty_free_pages();
	snap_take(&before);
	/* Nothing of the images before is left open. */
	fds = daemon_fds();
	restart();
	assert_int_equal(daemon_fds(), fds);
	restart();
	assert_int_equal(daemon_fds(), fds);
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	callocs_read_zero();
	fds = daemon_fds();
	restart();
	assert_int_equal(daemon_fds(), fds);
	book_verify("after a third restart");
	check_ok("p");
}

/*
 * SIGTERM: the daemon must exit 0 within HARNESS_STOP_WAIT_MS, and say
 * nothing of a sanitizer.  Its directory is left for the caller to look.
 */
static void
stop_cleanly(void)
{
	static char log[256 * 1024];
	int status = 0, i;

	assert_int_equal(kill(fx.d.pid, SIGTERM), 0);
	for (i = 0; i < HARNESS_STOP_WAIT_MS / 10; i++) {
		if (waitpid(fx.d.pid, &status, WNOHANG) == fx.d.pid)
			break;
		harness_sleep_ms(10);
	}
	if (i == HARNESS_STOP_WAIT_MS / 10) {
		kill(fx.d.pid, SIGKILL);
		waitpid(fx.d.pid, &status, 0);
		fx.d.pid = 0;
		fail_msg("poolmgrd did not stop within %d s after a restart",
			 HARNESS_STOP_WAIT_MS / 1000);
	}
	fx.d.pid = 0;
	harness_read_text(fx.d.log, log, sizeof(log));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("its log:\n%s", log);
		fail_msg("poolmgrd stopped with status %#x after a restart",
			 status);
	}
	assert_null(strstr(log, "Sanitizer"));
}

static void
restart_then_stop(void **state)
{
	struct scene s;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	restart();
	book_verify("after the restart");
	stop_cleanly();
	if (access(fx.d.sock, F_OK) == 0 || errno != ENOENT)
		fail_msg("the socket file is left behind");
}

/* Read what is there until the daemon hangs up: false if it does not. */
static bool
hung_up(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint8_t buf[65536];

	while (poll(&pfd, 1, ms) == 1)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			return true;
	return false;
}

/*
 * The numbers of the last "restarted in place" line: pools, blocks.
 */
static void
restarted_counts(unsigned *pools, unsigned long long *blocks)
{
	static char log[256 * 1024];
	const char *at = log, *l = NULL;

	harness_read_text(fx.d.log, log, sizeof(log));
	while ((at = strstr(at, HARNESS_RESTARTED ": "))) {
		l = at;
		at++;
	}
	if (!l || sscanf(l, HARNESS_RESTARTED ": %u pool%*[^,], %llu block",
			 pools, blocks) != 2)
		fail_msg("no \"%s: N pools, N blocks, ...\" line in the log",
			 HARNESS_RESTARTED);
}

/* Every (pid, handle) listed once; how many handles client pid has. */
static int
handles_of(pid_t pid)
{
	struct pool_client_info *ci;
	size_t n, i, k;
	int mine = 0;

	assert_int_equal(pool_clients(fx.conn, NULL, &ci, &n), 0);
	for (i = 0; i < n; i++) {
		for (k = i + 1; k < n; k++)
			if (ci[i].pid == ci[k].pid &&
			    ci[i].handle == ci[k].handle)
				fail_msg("client %u has two handles %u",
					 ci[i].pid, ci[i].handle);
		mine += ci[i].pid == (uint32_t)pid;
	}
	free(ci);
	return mine;
}

/*
 * Handles keep what they were: a read-only one stays read-only, another
 * uid's stays that uid's (with what it persisted), and a handle opened
 * after the restart gets an id of its own beside the old ones.
 */
static void
handles_and_owners_kept(void **state)
{
	static struct snap before, after;
	struct pool_stats sp, so;
	uint64_t a1, a2, n1 = 0, n2 = 0, blocks, seed;
	unsigned long long logged_blocks;
	struct remote *A, *R, *N = NULL;
	unsigned logged_pools;
	int ro_before;

	(void)state;
	start("[pool p]\nsize = 32M\n[pool o]\nsize = 8M\nmode = 0666\n",
	      "p");
	A = remote_start(0, "p", -1);
	a1 = remote_block(A, OP_ALLOC, 1000);
	a2 = remote_block(A, OP_ALLOC, 64 * KiB);
	R = remote_start_as(1, "p", -1, true, 0);
	ro_before = remote_ask(R, OP_ALLOC, 0, 100, 0).rc;
	assert_int_not_equal(ro_before, 0);
	remote_verify(R, a1);
	if (geteuid() == 0) {
		N = remote_start_as(2, "o", -1, false, 65534);
		n1 = REMOTE_OK(N, OP_ALLOC, 0, 5000, 901).off;
		n2 = REMOTE_OK(N, OP_ALLOC, 0, 300, 902).off;
		REMOTE_OK(N, OP_PERSIST, n1, 0, 0);
	} else {
		printf("note: not root: no client of another uid\n");
	}
	snap_take(&before);
	restart();
	snap_take(&after);
	snap_same(&before, &after);

	restarted_counts(&logged_pools, &logged_blocks);
	assert_int_equal(pool_stats_by_name(fx.conn, "p", &sp), 0);
	assert_int_equal(pool_stats_by_name(fx.conn, "o", &so), 0);
	blocks = sp.live_blocks + so.live_blocks;
	printf("logged: %u pools, %llu blocks; the pools hold %" PRIu64
	       "\n", logged_pools, logged_blocks, blocks);
	assert_int_equal(logged_pools, 2);
	assert_int_equal(logged_blocks, blocks);

	assert_int_equal(remote_ask(R, OP_ALLOC, 0, 100, 0).rc, ro_before);
	remote_verify(R, a1);
	remote_verify(R, a2);
	if (N) {
		REMOTE_OK(N, OP_VERIFY, n1, 5000, 901);
		REMOTE_OK(N, OP_VERIFY, n2, 300, 902);
		REMOTE_OK(N, OP_ALLOC, 0, 700, 903);
		REMOTE_OK(N, OP_FREE, n2, 0, 0);
	}
	/* A second handle of A's, opened now: its own id. */
	assert_int_equal(handles_of(fx.r[0].pid), 1);
	seed = ++fx.seed;
	book_add(REMOTE_OK(A, OP_OPEN2, 0, 2000, seed).off, 2000, seed);
	assert_int_equal(handles_of(fx.r[0].pid), 2);
	remote_block(A, OP_ALLOC, 3000);
	REMOTE_OK(A, OP_FREE, a2, 0, 0);
	book_drop(a2);
	book_verify("after the restart");
	check_ok("p");
	check_ok("o");
}

/*
 * The limits count the clients, references and charges the new image
 * took over: max_connections = 3 (ours and A's are two),
 * max_blocks_per_session = 12 (A holds 10) and a quota of 1 MiB (our uid
 * persisted 600 KiB of it).
 */
static int
third_and_fourth(void)
{
	struct pool_conn *x = NULL, *y = NULL;
	int rc, i;

	/* A connection just closed may not have been seen to go yet. */
	for (i = 0; i < 200; i++) {
		if ((rc = pool_connect(fx.d.sock, &x)) != -EUSERS)
			break;
		harness_sleep_ms(5);
	}
	assert_int_equal(rc, 0);
	rc = pool_connect(fx.d.sock, &y);
	if (rc == 0)
		pool_disconnect(y);
	pool_disconnect(x);
	return rc;
}

static void
limits_count_the_restored(void **state)
{
	struct remote *A;
	pool_off_t off;
	int fourth, over;

	(void)state;
	start("max_connections = 3\nmax_blocks_per_session = 12\n"
	      "[pool p]\nsize = 16M\nquota = 1M\n", "p");
	A = remote_start(0, "p", 0);
	for (int i = 0; i < 9; i++)
		remote_block(A, OP_ALLOC, 100);
	/* Our uid's persistent 600 KiB count against our session too. */
	REMOTE_OK(A, OP_PERSIST, remote_block(A, OP_ALLOC, 600 * KiB), 0, 0);
	over = pool_alloc(fx.pool, 500 * KiB, &off);
	assert_int_equal(over, -EDQUOT);
	fourth = third_and_fourth();
	assert_int_equal(fourth, -EUSERS);
	restart();
	assert_int_equal(third_and_fourth(), fourth);
	assert_int_equal(pool_alloc(fx.pool, 500 * KiB, &off), over);
	remote_block(A, OP_ALLOC, 100);
	remote_block(A, OP_ALLOC, 100);
	assert_int_equal(remote_ask(A, OP_ALLOC, 0, 100, 0).rc, -EDQUOT);
	book_verify("after the restart");
	check_ok("p");
}

/*
 * Send n UsableSize requests without reading the replies (waiting while
 * the socket is full, as long as the daemon reads on): how many went.
 */
static int
flood(int fd, uint32_t h, uint64_t off, int n)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__UsableSize u = POOLMGR__USABLE_SIZE__INIT;
	uint8_t buf[128];
	size_t len;
	int i;

	u.handle = h;
	u.offset = off;
	req.body_case = POOLMGR__REQUEST__BODY_USABLE_SIZE;
	req.usable_size = &u;
	for (i = 0; i < n; i++) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		req.id = 1000000 + (uint64_t)i;
		len = poolmgr__request__get_packed_size(&req);
		assert_true(len <= sizeof(buf));
		poolmgr__request__pack(&req, buf);
		while (send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
			if (errno != EAGAIN || poll(&pfd, 1, 2000) != 1)
				return i;
		}
	}
	return i;
}

/*
 * SIGTERM while the restart waits for a client that does not read: the
 * daemon stops as on any SIGTERM (exit 0, nothing leaked), and does not
 * restart first.
 */
static void
stop_while_waiting_for_quiet(void **state)
{
	int fd, before;
	uint64_t off;
	uint32_t h;

	(void)state;
	start("[pool p]\nsize = 16M\n", "p");
	fd = harness_raw_client(fx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	EXPECT_RAW(harness_raw_alloc(fd, h, 1000, &off, NULL), 0);
	assert_int_equal(flood(fd, h, off, 5000), 5000);
	harness_sleep_ms(200);
	before = harness_log_count(&fx.d, HARNESS_RESTARTED);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	harness_sleep_ms(500);
	/* Still waiting (reading no request meanwhile: none is sent). */
	assert_int_equal(harness_log_count(&fx.d, HARNESS_RESTARTED), before);
	assert_true(harness_alive(&fx.d));
	stop_cleanly();
	close(fd);
	assert_int_equal(harness_log_count(&fx.d, HARNESS_RESTARTED), before);
}

/*
 * hello_timeout = 2: a connection that said nothing before the restart
 * is still dropped after it; one that said Hello (and has no handle) is
 * not, and opens a pool without saying it again.
 */
static void
silent_client_still_timed_out(void **state)
{
	int greeted, silent;
	uint32_t h;

	(void)state;
	start("hello_timeout = 2\n[pool p]\nsize = 8M\n", "p");
	greeted = harness_raw_client(fx.d.sock, "greeted");
	silent = harness_raw_connect(fx.d.sock);
	assert_true(silent >= 0);
	restart();
	if (!hung_up(silent, 10000)) {
		close(silent);
		close(greeted);
		fail_msg("a client that never said Hello is still connected "
			 "10 s after the restart");
	}
	close(silent);
	EXPECT_RAW(harness_raw_open(greeted, "p", &h), 0);
	EXPECT_RAW(harness_raw_close(greeted, h), 0);
	close(greeted);
	check_ok("p");
}

/*
 * Notifications received on fd within ms until one has line want; the
 * message in buf.  Every one must come from pid.  0, or -1 if none did.
 */
static int
notified(int fd, pid_t pid, const char *want, int ms, char *buf,
	 size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct ucred cred;
	struct cmsghdr *cm;
	ssize_t got;

	for (; poll(&pfd, 1, ms) == 1;) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		if ((got = recvmsg(fd, &msg, MSG_DONTWAIT)) < 0)
			return -1;
		buf[got] = '\0';
		memset(&cred, 0, sizeof(cred));
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
		printf("notified by %d: %s\n", (int)cred.pid, buf);
		if (cred.pid != pid)
			fail_msg("a notification from pid %d, not the "
				 "daemon's %d", (int)cred.pid, (int)pid);
		if (strstr(buf, want))
			return 0;
	}
	return -1;
}

/*
 * Socket-activated with a NOTIFY_SOCKET, as under systemd: a restart says
 * RELOADING=1 and then READY=1, keeps serving on the socket it was
 * passed, and the stop after it leaves that socket alone.
 */
static void
under_systemd(void **state)
{
	static struct snap before, after;
	char msg[1024], fallback[200];
	struct scene s;
	int nfd = -1;

	(void)state;
	assert_int_equal(harness_start_activated(&fx.d, "[pool p]\n"
						 "size = 64M\n", &nfd), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, "p", &fx.pool), 0);
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	if (notified(nfd, fx.d.pid, "READY=1", 5000, msg, sizeof(msg))) {
		close(nfd);
		fail_msg("no READY=1 at start");
	}
	scene_start(&s);
	snap_take(&before);
	for (int i = 0; i < 2; i++) {
		restart();
		if (notified(nfd, fx.d.pid, "RELOADING=1", 5000, msg,
			     sizeof(msg)) ||
		    notified(nfd, fx.d.pid, "READY=1", 5000, msg,
			     sizeof(msg))) {
			close(nfd);
			fail_msg("restart %d: no RELOADING=1 then READY=1",
				 i + 1);
		}
	}
	close(nfd);
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	stop_cleanly();
	snprintf(fallback, sizeof(fallback), "%s/fallback.sock", fx.d.dir);
	if (access(fallback, F_OK) == 0)
		fail_msg("the daemon made a socket of its own");
	if (access(fx.d.sock, F_OK) != 0)
		fail_msg("the daemon removed the socket it was passed");
}

/*
 * Signals sent while the daemon restarts: SIGHUP every millisecond for
 * 300 ms from another process, and a second SIGUSR2 right after the
 * first.  A signal that arrives between the exec and the new image's
 * handlers must wait for them, not take the default action (which kills
 * the daemon, and every pool with it).
 */
static int
signaller_main(void *arg)
{
	pid_t pid = *(pid_t *)arg;

	for (int i = 0; i < 300; i++) {
		if (kill(pid, SIGHUP) == -1)
			return 1;
		harness_sleep_ms(1);
	}
	return 0;
}

static void
signals_during_restart(void **state)
{
	static struct snap before, after;
	struct scene s;
	pid_t sig;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	snap_take(&before);
	sig = harness_spawn(signaller_main, &fx.d.pid);
	assert_true(sig > 0);
	restart();
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	assert_int_equal(harness_wait(sig), 0);
	harness_sleep_ms(100);
	if (!harness_alive(&fx.d)) {
		fx.d.pid = 0;
		fail_msg("poolmgrd died of a signal sent while it restarted");
	}
	restart();
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
}

/* How many of the daemon's descriptors are the memfds of pool name. */
static int
memfds_of(const char *name)
{
	char path[300], link[256], want[96];
	struct dirent *e;
	DIR *dir;
	ssize_t n;
	int k = 0;

	snprintf(want, sizeof(want), "memfd:poolmgr:%s", name);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)fx.d.pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)fx.d.pid,
			 e->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		/* "/memfd:poolmgr:d (deleted)", or its share map's */
		if (strncmp(link + 1, want, strlen(want)) == 0 &&
		    (link[1 + strlen(want)] == ' ' ||
		     link[1 + strlen(want)] == ':'))
			k++;
	}
	closedir(dir);
	return k;
}

/*
 * A pool force-destroyed right before SIGUSR2, its 16 MiB still going
 * back in 4 KiB steps: gone after the restart, its descriptors closed,
 * its name free again.  And 100 pools made by a client, a block in each:
 * all there after, with their settings and blocks.
 */
#define NPOOLS 100

static void
destroyed_and_many_pools(void **state)
{
	static struct pool *pools[NPOOLS];
	static pool_off_t offs[NPOOLS];
	struct pool_stats *l0, *l1, st;
	struct pool_create_opts o;
	char out[1024], err[1024], name[16];
	struct remote *D;
	uint64_t off;
	size_t n0, n1, i;

	(void)state;
	start("release_step = 4K\n[pool p]\nsize = 16M\n", "p");
	/* Not in the file: the restart, like a reload, would make it anew. */
	o = (struct pool_create_opts){.max_size = 64 * MiB};
	assert_int_equal(pool_create(fx.conn, "d", &o), 0);
	D = remote_start(0, "d", 0);
	off = REMOTE_OK(D, OP_ALLOC, 0, 16 * MiB, 77).off;
	REMOTE_OK(D, OP_PERSIST, off, 0, 0);
	remote_exit(D);
	assert_int_equal(memfds_of("d"), 2);
	assert_int_equal(harness_poolctl(&fx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "destroy d --force"), 0);
	restart();
	EXPECT_RC(pool_stats_by_name(fx.conn, "d", &st), -ENOENT);
	for (i = 0; i < 1000 && memfds_of("d"); i++)
		harness_sleep_ms(10);
	assert_int_equal(memfds_of("d"), 0);
	assert_int_equal(pool_create(fx.conn, "d", &o), 0);
	EXPECT_RC(pool_stats_by_name(fx.conn, "d", &st), 0);
	assert_int_equal(st.live_blocks, 0);

	for (i = 0; i < NPOOLS; i++) {
		o = (struct pool_create_opts){.max_size = 64 * KiB,
			.mode = 0600 + (uint32_t)(i % 64),
			.quota = (i % 3) * 32 * KiB};
		snprintf(name, sizeof(name), "many%zu", i);
		assert_int_equal(pool_create(fx.conn, name, &o), 0);
		assert_int_equal(pool_open(fx.conn, name, &pools[i]), 0);
		assert_int_equal(pool_set_cache(pools[i], 0), 0);
		assert_int_equal(pool_alloc(pools[i], 100 + i, &offs[i]), 0);
		fill(pool_ptr(pools[i], 0), offs[i], 100 + i, 1000 + i);
	}
	assert_int_equal(pool_list(fx.conn, &l0, &n0), 0);
	restart();
	assert_int_equal(pool_list(fx.conn, &l1, &n1), 0);
	assert_int_equal(n1, n0);
	for (i = 0; i < n0; i++) {
		assert_string_equal(l1[i].name, l0[i].name);
		assert_int_equal(l1[i].max_size, l0[i].max_size);
		assert_int_equal(l1[i].granularity, l0[i].granularity);
		assert_int_equal(l1[i].mode, l0[i].mode);
		assert_int_equal(l1[i].uid, l0[i].uid);
		assert_int_equal(l1[i].quota, l0[i].quota);
		assert_int_equal(l1[i].retain_bytes, l0[i].retain_bytes);
		assert_int_equal(l1[i].live_blocks, l0[i].live_blocks);
		assert_int_equal(l1[i].allocated_bytes, l0[i].allocated_bytes);
		assert_int_equal(l1[i].clients, l0[i].clients);
	}
	free(l0);
	free(l1);
	for (i = 0; i < NPOOLS; i++) {
		assert_true(intact(pool_ptr(pools[i], 0), offs[i], 100 + i,
				   1000 + i));
		assert_int_equal(pool_free(pools[i], offs[i]), 0);
		pool_close(pools[i]);
	}
	check_ok("many0");
	check_ok("p");
}

/*
 * A configuration file broken before SIGUSR2 (an edit half done): the
 * daemon keeps the running configuration, as a reload does, and loses
 * nothing, whether it restarts or refuses to; once the file is mended,
 * the next SIGUSR2 restarts it and applies the file.
 */
static void
bad_config_at_restart(void **state)
{
	static struct snap before, after;
	struct scene s;

	(void)state;
	start("[pool p]\nsize = 64M\nmode = 0640\n", "p");
	scene_start(&s);
	snap_take(&before);
	write_conf("[pool p]\nsize = 64M\nmode = 0600\n"
		   "this line is no setting\n");
	printf("with the broken file: %s\n", restart_or_not() ?
	       "restarted" : "did not restart");
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	write_conf("[pool p]\nsize = 64M\nmode = 0600\n");
	restart();
	assert_int_equal(stats().mode, 0600);
	book_verify("after the restart with the file mended");
	check_ok("p");
}

/*
 * With 128 descriptors (HARNESS_NOFILE) and 40 clients, the daemon uses
 * less than half of them: the new image needs no more than that (each
 * client's connection, each pool's memfd, the socket, the state and its
 * own few), and the handover as many again at most, so the restart must
 * not fail for want of descriptors.
 */
#define NOFILE_CLIENTS 40

static void
restart_near_the_descriptor_limit(void **state)
{
	int fd[NOFILE_CLIENTS], used, i;
	uint64_t off[NOFILE_CLIENTS];
	struct pool_stats st0, st1;
	uint32_t h[NOFILE_CLIENTS];

	(void)state;
	setenv("HARNESS_NOFILE", "128", 1);
	start("[pool p]\nsize = 16M\n", "p");
	unsetenv("HARNESS_NOFILE");
	for (i = 0; i < NOFILE_CLIENTS; i++) {
		fd[i] = harness_raw_client(fx.d.sock, "many");
		h[i] = harness_raw_handle(fd[i], "p");
		EXPECT_RAW(harness_raw_alloc(fd[i], h[i], 64, &off[i], NULL),
			   0);
	}
	used = daemon_fds();
	printf("the daemon has %d of its 128 descriptors open\n", used);
	assert_true(used < 64);
	st0 = stats();
	restart();
	st1 = stats();
	assert_int_equal(st1.live_blocks, st0.live_blocks);
	for (i = 0; i < NOFILE_CLIENTS; i++) {
		EXPECT_RAW(harness_raw_free(fd[i], h[i], off[i]), 0);
		close(fd[i]);
	}
	check_ok("p");
}

static void
unreadable_client_dropped(void **state)
{
	struct pool_stats st0, st1;
	struct timespec t0, t1;
	uint64_t off, usable, raw = 0;
	int fd, before, sent, wanted;
	struct remote *A;
	uint32_t h;

	(void)state;
	start("[pool p]\nsize = 64M\n", "p");
	A = remote_start(0, "p", 0);	/* it holds just what it allocates */
	remote_block(A, OP_ALLOC, 5000);
	remote_block(A, OP_ALLOC, 2 * MiB);
	fd = harness_raw_client(fx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	for (int i = 0; i < 10; i++) {
		EXPECT_RAW(harness_raw_alloc(fd, h, 1000 + 100 * (uint64_t)i,
					     &off, &usable), 0);
		raw += usable;
	}
	st0 = stats();
	sent = flood(fd, h, off, 5000);
	printf("%d requests sent, their replies unread\n", sent);
	assert_int_equal(sent, 5000);
	harness_sleep_ms(200);	/* the daemon answers what it read */

	before = harness_log_count(&fx.d, HARNESS_RESTARTED);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wanted = harness_log_count(&fx.d, RESTART_WANTED);
	assert_int_equal(kill(fx.d.pid, SIGUSR2), 0);
	/*
	 * Nothing is read while the restart waits for the slow one: this
	 * request, sent once the daemon has taken the signal, waits in A's
	 * connection for the new image to serve it.
	 */
	assert_int_equal(harness_log_wait(&fx.d, RESTART_WANTED, wanted,
					  HARNESS_RESTART_WAIT_MS), 0);
	remote_block(A, OP_ALLOC, 300);
	if (harness_log_wait(&fx.d, HARNESS_RESTARTED, before, 0) != 0) {
		close(fd);
		fail_msg("SIGUSR2: A was answered, but there was no restart");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("restarted %.1f s after SIGUSR2\n",
	       (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (!hung_up(fd, 2000)) {
		close(fd);
		fail_msg("the client that does not read is still connected");
	}
	close(fd);
	st1 = stats();
	assert_int_equal(st1.live_blocks, st0.live_blocks - 10 + 1);
	assert_int_equal(st1.allocated_bytes, st0.allocated_bytes - raw +
			 REMOTE_OK(A, OP_USABLE, fx.book[2].off, 0, 0).usable);
	for (int i = 0; i < fx.nbook; i++)
		remote_verify(A, fx.book[i].off);
	remote_block(A, OP_ALLOC, 1 * MiB);
	book_verify("after the restart");
	check_ok("p");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(clients_carry_on, teardown),
		cmocka_unit_test_teardown(connect_during_restart, teardown),
		cmocka_unit_test_teardown(client_cache_survives, teardown),
		cmocka_unit_test_teardown(exit_after_restart_reclaims,
					  teardown),
		cmocka_unit_test_teardown(work_in_progress, teardown),
		cmocka_unit_test_teardown(exec_failure_keeps_serving,
					  teardown),
		cmocka_unit_test_teardown(poolctl_pool_and_settings,
					  teardown),
		cmocka_unit_test_teardown(restart_twice, teardown),
		cmocka_unit_test_teardown(restart_then_stop, teardown),
		cmocka_unit_test_teardown(unreadable_client_dropped,
					  teardown),
		cmocka_unit_test_teardown(handles_and_owners_kept, teardown),
		cmocka_unit_test_teardown(limits_count_the_restored,
					  teardown),
		cmocka_unit_test_teardown(silent_client_still_timed_out,
					  teardown),
		cmocka_unit_test_teardown(under_systemd, teardown),
		cmocka_unit_test_teardown(bad_config_at_restart, teardown),
		cmocka_unit_test_teardown(busy_clients_across_restart,
					  teardown),
		cmocka_unit_test_teardown(many_blocks, teardown),
		cmocka_unit_test_teardown(stop_while_waiting_for_quiet,
					  teardown),
		cmocka_unit_test_teardown(destroyed_and_many_pools, teardown),
		cmocka_unit_test_teardown(signals_during_restart, teardown),
		cmocka_unit_test_teardown(restart_near_the_descriptor_limit,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
