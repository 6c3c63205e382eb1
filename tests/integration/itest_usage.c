/*
 * itest_usage.c - what a pool costs the daemon, and who persisted what in
 * it: PoolStats.books_bytes and ListPersisted, through libpoolclient and
 * poolctl.
 *
 *   books_follow_blocks_and_holders   10,000 blocks of 64 B raise
 *       books_bytes, less metadata_bytes, by a struct block's record each
 *       and the index's 10.7 to 48 bytes a block; a second client
 *       process retaining them all adds a struct ref's record each and
 *       the table counting its uid's holds on them (uid_holds.h),
 *       exactly, and its exit takes them away again; freeing the blocks
 *       brings it back to within a page of where it began.  books_bytes
 *       is never below metadata_bytes, and the pool passes its check
 *       (which recounts the daemon's counts) at every step.
 *   stats_formats_show_books   `poolctl stats` prints books_bytes in text,
 *       JSON, kv and Prometheus, the library's number in each.
 *   persisted_by_two_uids   child processes of two uids persist blocks
 *       and exit: pool_persisted lists each uid's blocks and the bytes of
 *       their usable sizes, the larger first, and poolctl persisted prints
 *       them in text (a uid by its name where the password database has
 *       one, else its number; -n numbers), JSON (the name beside), kv and
 *       Prometheus; freed, they are gone from both.
 *   persisted_share_of_own_user_quota   OF USER QUOTA of a uid with a
 *       user quota of its own is the share of that one ("-" for none), as
 *       `poolctl users` counts it; JSON adds the bound in force.
 *   persisted_lists_the_1000_largest   1003 uids persist a block each,
 *       all of different sizes: pool_persisted lists the 1000 persisting
 *       most, largest first, and counts all 1003; poolctl leaves the same
 *       three out and says so on stderr.
 *   bad_pools_are_refused   pool_persisted of no such pool is -ENOENT,
 *       of a bad name -EINVAL, of a pool the caller may not read -EACCES;
 *       `poolctl persisted` of no such pool says so and exits 1, of a bad
 *       name exits 2.
 *   books_after_odd_paths   an AllocBatch over the quota and a FreeBatch
 *       with a bad offset, each undone; a block freed by its first holder
 *       while another process holds it; a persistent block grown; that
 *       process killed while it holds the rest; a pool destroyed by force
 *       with two handles holding one block: after each, the pool passes
 *       its check, books_bytes less metadata_bytes is what its records
 *       say, and pool_persisted what its persistent block says.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "pool.h"
#include "poolclient.h"
#include "records.h"

#define NBLOCKS 10000
#define UID_A 65534		/* persists the larger blocks */
#define UID_B 65533
#define CONF								\
	"[pool p]\nsize = 64M\nmode = 0666\nquota = 1M\n"		\
	"[pool private]\nsize = 1M\nmode = 0600\n"

/* Exit codes of docs/poolctl.md. */
#define EXIT_FAILED	1
#define EXIT_USAGE	2

static struct {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;
	pool_off_t offs[NBLOCKS];
	char out[65536];
	char err[4096];
} fx;

static void
start(void)
{
	assert_int_equal(harness_start(&fx.d, CONF), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, "p", &fx.pool), 0);
	/* Freed blocks go back to the daemon at once, not to a cache. */
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
}

static int
teardown(void **state)
{
	(void)state;
	if (fx.pool)
		pool_close(fx.pool);
	fx.pool = NULL;
	if (fx.conn)
		pool_disconnect(fx.conn);
	fx.conn = NULL;
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	return 0;
}

/* Run "poolctl ARGS" (harness_poolctl): output in fx.out and fx.err. */
#define ctl(...) harness_poolctl(&fx.d, NULL, fx.out, sizeof(fx.out), fx.err, \
				 sizeof(fx.err), __VA_ARGS__)

/* Fail, showing poolctl's output, unless text is in it. */
static void
expect_out(const char *text)
{
	if (!strstr(fx.out, text))
		fail_msg("no \"%s\" in\n--- stdout:\n%s--- stderr:\n%s", text,
			 fx.out, fx.err);
}

static void
expect_exit(int got, int want)
{
	if (got != want)
		fail_msg("exit %d, want %d\n--- stdout:\n%s--- stderr:\n%s",
			 got, want, fx.out, fx.err);
}

static struct pool_stats
stats(void)
{
	struct pool_stats st;
	char problem[256];
	int rc;

	if ((rc = pool_check_by_name(fx.conn, "p", problem, sizeof(problem))))
		fail_msg("check: %s: %s", pool_strerror(rc), problem);
	if ((rc = pool_stats_by_name(fx.conn, "p", &st)))
		fail_msg("stats: %s", pool_strerror(rc));
	if (st.books_bytes < st.metadata_bytes)
		fail_msg("books_bytes %" PRIu64 " < metadata_bytes %" PRIu64,
			 st.books_bytes, st.metadata_bytes);
	printf("usage: %" PRIu64 " blocks: books %" PRIu64 " B, metadata %"
	       PRIu64 " B, %" PRIu64 " open handles\n", st.live_blocks,
	       st.books_bytes, st.metadata_bytes, st.clients);
	return st;
}

/* What the daemon's books take besides metadata_bytes. */
static uint64_t
records_of(const struct pool_stats *st)
{
	return st->books_bytes - st->metadata_bytes;
}

/*
 * The bytes of a pool's table of uids' holds on shared blocks
 * (uid_holds.h) grown to n entries one at a time: none for none.
 */
static uint64_t
uid_table(uint64_t n)
{
	uint64_t slots = UID_HOLDS_MIN;

	if (n == 0)
		return 0;
	while (n * 2 > slots)
		slots *= 2;
	return slots * sizeof(struct uid_hold);
}

/* Wait (up to 10 s) until the pool has nhandles open handles. */
static void
wait_handles(uint64_t nhandles)
{
	struct pool_stats st;
	int i;

	for (i = 0; i < 1000; i++) {
		assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
		if (st.clients == nhandles)
			return;
		harness_sleep_ms(10);
	}
	fail_msg("%" PRIu64 " open handles, not %" PRIu64, st.clients,
		 nhandles);
}

/* ---- books_bytes ------------------------------------------------------- */

struct retainer {
	const char *sock;
	int ready_fd, release_fd;
	int parents[2];		/* the parent's ends: closed in the child */
};

/* A second client: retain every block, say so, wait to be let go. */
static int
retainer_run(void *arg)
{
	struct retainer *r = arg;
	struct pool_conn *c;
	struct pool *p;
	char ch = 1;

	close(r->parents[0]);
	close(r->parents[1]);
	if (pool_connect(r->sock, &c) || pool_open(c, "p", &p))
		return 10;
	for (size_t i = 0; i < NBLOCKS; i++)
		if (pool_retain(p, fx.offs[i]))
			return 11;
	if (write(r->ready_fd, &ch, 1) != 1)
		return 12;
	(void)read(r->release_fd, &ch, 1);	/* EOF: let go */
	return 0;
}

/*
 * Start a retainer; return its pid once it holds the blocks, and in
 * *release the pipe end whose close lets it go.
 */
static pid_t
retainer_start(int *release)
{
	struct retainer r = {.sock = fx.d.sock};
	int ready[2], rel[2];
	pid_t pid;
	char ch;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(rel), 0);
	r.ready_fd = ready[1];
	r.release_fd = rel[0];
	r.parents[0] = ready[0];
	r.parents[1] = rel[1];
	pid = harness_spawn(retainer_run, &r);
	assert_true(pid > 0);
	close(ready[1]);
	close(rel[0]);
	if (read(ready[0], &ch, 1) != 1)
		fail_msg("the retainer failed: exit %d", harness_wait(pid));
	close(ready[0]);
	*release = rel[1];
	return pid;
}

static void
alloc_blocks(void)
{
	static size_t sizes[POOL_BATCH_MAX];

	for (size_t i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 64;
	for (size_t i = 0; i < NBLOCKS; i += POOL_BATCH_MAX) {
		size_t n = NBLOCKS - i < POOL_BATCH_MAX ? NBLOCKS - i
							: POOL_BATCH_MAX;

		assert_int_equal(pool_alloc_batch(fx.pool, n, sizes,
						  &fx.offs[i]), 0);
	}
}

static void
free_blocks(void)
{
	for (size_t i = 0; i < NBLOCKS; i += POOL_BATCH_MAX) {
		size_t n = NBLOCKS - i < POOL_BATCH_MAX ? NBLOCKS - i
							: POOL_BATCH_MAX;

		assert_int_equal(pool_free_batch(fx.pool, n, &fx.offs[i]), 0);
	}
}

static void
books_follow_blocks_and_holders(void **state)
{
	const uint64_t block = records_stride(sizeof(struct block));
	const uint64_t ref = records_stride(sizeof(struct ref));
	struct pool_stats st0, st1, st2, st3, st4;
	int release;
	pid_t pid;

	(void)state;
	start();
	st0 = stats();
	alloc_blocks();
	st1 = stats();
	assert_int_equal(st1.live_blocks, st0.live_blocks + NBLOCKS);
	/* The index: 8 bytes a slot, 4/3 to 4 slots a block (6 mid-move). */
	if (records_of(&st1) < records_of(&st0) + NBLOCKS * (block + 10) ||
	    records_of(&st1) > records_of(&st0) + NBLOCKS * (block + 48))
		fail_msg("%d blocks took %" PRIu64 " B of books besides "
			 "metadata, not %" PRIu64 " B of records and 10.7 to "
			 "48 B of index each", NBLOCKS,
			 records_of(&st1) - records_of(&st0), NBLOCKS * block);

	pid = retainer_start(&release);
	st2 = stats();
	/*
	 * Blocks and index unchanged: a ref's record per hold, and the
	 * count of its uid's holds per block (one uid), no more.
	 */
	assert_int_equal(records_of(&st2), records_of(&st1) + NBLOCKS * ref +
			 uid_table(NBLOCKS));

	close(release);
	assert_int_equal(harness_wait(pid), 0);
	wait_handles(1);
	st3 = stats();
	assert_int_equal(records_of(&st3), records_of(&st1));

	free_blocks();
	st4 = stats();
	assert_int_equal(st4.live_blocks, st0.live_blocks);
	/* What is left of the index's tables, at the least size. */
	if (records_of(&st4) > records_of(&st0) + 4096)
		fail_msg("books besides metadata %" PRIu64 " B after the "
			 "frees, %" PRIu64 " B before the blocks",
			 records_of(&st4), records_of(&st0));
}

/* ---- poolctl stats ------------------------------------------------------ */

static void
stats_formats_show_books(void **state)
{
	struct pool_stats st;
	char want[160];

	(void)state;
	start();
	alloc_blocks();
	st = stats();
	assert_true(st.books_bytes > st.metadata_bytes +
		    NBLOCKS * records_stride(sizeof(struct block)));

	expect_exit(ctl("stats p --format=kv"), 0);
	snprintf(want, sizeof(want), "p books_bytes %" PRIu64 "\n",
		 st.books_bytes);
	expect_out(want);
	expect_exit(ctl("stats p --json=short"), 0);
	snprintf(want, sizeof(want), "\"books_bytes\":%" PRIu64 ",",
		 st.books_bytes);
	expect_out(want);
	expect_exit(ctl("stats --format=prometheus"), 0);
	expect_out("# TYPE poolmgr_pool_books_bytes gauge\n");
	snprintf(want, sizeof(want), "poolmgr_pool_books_bytes{pool=\"p\"} %"
		 PRIu64 "\n", st.books_bytes);
	expect_out(want);
	expect_exit(ctl("stats p"), 0);
	snprintf(want, sizeof(want), "(%" PRIu64 ")\n", st.books_bytes);
	expect_out("daemon bookkeeping");
	expect_out(want);
	free_blocks();
}

/* ---- who persisted what ------------------------------------------------- */

struct persister {
	const char *sock;
	size_t size, n;
	int fd;			/* gets the usable bytes, then the offsets */
};

/* Persist n blocks of size, send their usable bytes and offsets, exit. */
static int
persister_run(void *arg)
{
	struct persister *a = arg;
	pool_off_t offs[16];
	struct pool_conn *c;
	struct pool *p;
	uint64_t bytes = 0;
	size_t usable;

	/*
	 * No cache: a block it hands out reads as the size asked for (a cached
	 * block's slack is the cache's), not the daemon's usable size, which
	 * is what the quota and the persisted bytes count.
	 */
	if (pool_connect(a->sock, &c) || pool_open(c, "p", &p) ||
	    pool_set_cache(p, 0))
		return 10;
	for (size_t i = 0; i < a->n; i++) {
		if (pool_alloc(p, a->size, &offs[i]) ||
		    pool_persist(p, offs[i]) ||
		    pool_usable_size(p, offs[i], &usable))
			return 11;
		bytes += usable;
	}
	if (write(a->fd, &bytes, sizeof(bytes)) != sizeof(bytes) ||
	    write(a->fd, offs, a->n * sizeof(*offs)) !=
	    (ssize_t)(a->n * sizeof(*offs)))
		return 12;
	pool_disconnect(c);	/* the blocks outlive the handle */
	return 0;
}

/* A child as uid persists n blocks of size: their bytes, offsets in offs. */
static uint64_t
persist_as(uid_t uid, size_t size, size_t n, pool_off_t *offs)
{
	struct persister a = {.sock = fx.d.sock, .size = size, .n = n};
	uint64_t bytes;
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	a.fd = fds[1];
	pid = harness_spawn_as(uid, uid, persister_run, &a);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		skip();
	}
	assert_int_equal(harness_wait(pid), 0);
	assert_int_equal(harness_read_full(fds[0], &bytes, sizeof(bytes)), 0);
	assert_int_equal(harness_read_full(fds[0], offs, n * sizeof(*offs)),
			 0);
	close(fds[0]);
	return bytes;
}

static void
persisted_by_two_uids(void **state)
{
	pool_off_t offs_a[3], offs_b[5];
	struct pool_persisted *pp;
	uint64_t bytes_a, bytes_b;
	size_t n, total;
	char want[200], name_a[64];
	struct passwd *pw;

	(void)state;
	if (geteuid() != 0)
		skip();
	start();
	assert_int_equal(pool_persisted(fx.conn, "p", &pp, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	free(pp);

	bytes_a = persist_as(UID_A, 1000, 3, offs_a);
	bytes_b = persist_as(UID_B, 100, 5, offs_b);
	assert_true(bytes_a >= 3000 && bytes_b >= 500 && bytes_a > bytes_b);
	assert_int_equal(stats().persistent_blocks, 8);

	assert_int_equal(pool_persisted(fx.conn, "p", &pp, &n, &total), 0);
	assert_int_equal(n, 2);
	assert_int_equal(total, 2);
	assert_int_equal(pp[0].uid, UID_A);	/* the most bytes first */
	assert_int_equal(pp[0].blocks, 3);
	assert_int_equal(pp[0].bytes, bytes_a);
	assert_int_equal(pp[1].uid, UID_B);
	assert_int_equal(pp[1].blocks, 5);
	assert_int_equal(pp[1].bytes, bytes_b);
	free(pp);

	/* UID_A is nobody on most systems; UID_B has no name. */
	pw = getpwuid(UID_A);
	snprintf(name_a, sizeof(name_a), "%s", pw ? pw->pw_name : "");
	expect_exit(ctl("persisted p"), 0);
	expect_out("OF QUOTA");
	if (name_a[0] != '\0')
		snprintf(want, sizeof(want), " %s        3 ", name_a);
	else
		snprintf(want, sizeof(want), " %d        3 ", UID_A);
	expect_out(want);
	if (getpwuid(UID_B) == NULL) {
		snprintf(want, sizeof(want), " %d        5 ", UID_B);
		expect_out(want);
	}
	expect_exit(ctl("persisted p -n"), 0);
	snprintf(want, sizeof(want), "\np         %d        3 ", UID_A);
	expect_out(want);
	expect_exit(ctl("persisted --json=short"), 0);
	if (name_a[0] != '\0')
		snprintf(want, sizeof(want), "{\"pool\":\"p\",\"uid\":%d,"
			 "\"user\":\"%s\",\"blocks\":3,\"bytes\":%" PRIu64
			 ",\"quota\":1048576,\"user_quota\":0,"
			 "\"user_quota_bound\":0}",
			 UID_A, name_a, bytes_a);
	else
		snprintf(want, sizeof(want), "{\"pool\":\"p\",\"uid\":%d,"
			 "\"user\":null,\"blocks\":3,\"bytes\":%" PRIu64
			 ",\"quota\":1048576,\"user_quota\":0,"
			 "\"user_quota_bound\":0}",
			 UID_A, bytes_a);
	expect_out(want);
	expect_exit(ctl("persisted p --format=kv"), 0);
	snprintf(want, sizeof(want), "p persisted_bytes.%d %" PRIu64 "\n"
		 "p persisted_blocks.%d 5\np persisted_bytes.%d %" PRIu64 "\n",
		 UID_A, bytes_a, UID_B, UID_B, bytes_b);
	expect_out(want);
	expect_exit(ctl("persisted --format=prometheus"), 0);
	expect_out("# TYPE poolmgr_pool_persisted_bytes gauge\n");
	snprintf(want, sizeof(want), "poolmgr_pool_persisted_bytes{pool=\"p\","
		 "uid=\"%d\"} %" PRIu64 "\n", UID_B, bytes_b);
	expect_out(want);
	snprintf(want, sizeof(want), "poolmgr_pool_persisted_blocks{pool=\"p\","
		 "uid=\"%d\"} 3\n", UID_A);
	expect_out(want);

	/* The pool's references go with a free by any handle of it. */
	assert_int_equal(pool_free_batch(fx.pool, 3, offs_a), 0);
	assert_int_equal(pool_persisted(fx.conn, "p", &pp, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp[0].uid, UID_B);
	free(pp);
	assert_int_equal(pool_free_batch(fx.pool, 5, offs_b), 0);
	assert_int_equal(pool_persisted(fx.conn, "p", &pp, &n, &total), 0);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	free(pp);
	assert_int_equal(stats().persistent_blocks, 0);
	expect_exit(ctl("persisted p --format=kv"), 0);
	assert_string_equal(fx.out, "");
}

/*
 * A uid's own user quota is its user quota: OF USER QUOTA is the share of
 * the bound in force, as `poolctl users` counts it, not of the pool's.
 * UID_A's own is none ("-", where the pool's 1 MiB made it 58.6%), UID_B's
 * 4 MiB (4.9%, not 19.5%); JSON says the bound beside the pool's.
 */
static void
persisted_share_of_own_user_quota(void **state)
{
	pool_off_t offs_a[3], offs_b[1];
	uint64_t bytes_a, bytes_b;
	char want[200];

	(void)state;
	if (geteuid() != 0)
		skip();
	start();
	assert_int_equal(harness_reload_with(&fx.d, "[pool p]\nsize = 64M\n"
		"mode = 0666\nquota = 1M\nuser_quota = 1M\nuser_quotas = "
		"65534:none, 65533:4M\n[pool private]\nsize = 1M\n"
		"mode = 0600\n"), 0);
	assert_int_equal(stats().user_quota_entries, 2);
	bytes_a = persist_as(UID_A, 200 * 1024, 3, offs_a);
	bytes_b = persist_as(UID_B, 200 * 1024, 1, offs_b);
	assert_int_equal(bytes_a, 3 * 200 * 1024);
	assert_int_equal(bytes_b, 200 * 1024);

	expect_exit(ctl("persisted p -n"), 0);
	snprintf(want, sizeof(want), "\np         %d        3  600.0 KiB     "
		 "58.6%%              -\n", UID_A);
	expect_out(want);
	snprintf(want, sizeof(want), "\np         %d        1  200.0 KiB     "
		 "19.5%%           4.9%%\n", UID_B);
	expect_out(want);
	expect_exit(ctl("persisted p --json=short"), 0);
	snprintf(want, sizeof(want), "\"uid\":%d,", UID_A);
	expect_out(want);
	expect_out("\"quota\":1048576,\"user_quota\":1048576,"
		   "\"user_quota_bound\":0}");
	expect_out("\"quota\":1048576,\"user_quota\":1048576,"
		   "\"user_quota_bound\":4194304}");

	assert_int_equal(pool_free_batch(fx.pool, 3, offs_a), 0);
	assert_int_equal(pool_free_batch(fx.pool, 1, offs_b), 0);
}

/*
 * One reply lists at most 1000 uids, those persisting most: 1003 uids
 * persist a block each, uid 70000 + k one of 16 (k + 1) bytes, so the
 * three smallest are the ones left out, and total still counts them.
 */
static void
persisted_lists_the_1000_largest(void **state)
{
	enum { UIDS = 1003, FIRST_UID = 70000 };
	struct pool_persisted *pp;
	pool_off_t off;
	size_t n, total, k;
	char want[200];

	(void)state;
	if (geteuid() != 0)
		skip();
	start();
	for (k = 0; k < UIDS; k++)
		assert_int_equal(persist_as(FIRST_UID + (uid_t)k, 16 * (k + 1),
					    1, &off), 16 * (k + 1));
	assert_int_equal(pool_persisted(fx.conn, "p", &pp, &n, &total), 0);
	assert_int_equal(n, 1000);
	assert_int_equal(total, UIDS);
	for (k = 0; k < n; k++) {
		assert_int_equal(pp[k].uid, FIRST_UID + UIDS - 1 - k);
		assert_int_equal(pp[k].blocks, 1);
		assert_int_equal(pp[k].bytes, 16 * (UIDS - k));
	}
	free(pp);

	expect_exit(ctl("persisted p --format=kv"), 0);
	snprintf(want, sizeof(want), "p persisted_bytes.%d 64\n",
		 FIRST_UID + 3);
	expect_out(want);
	snprintf(want, sizeof(want), "persisted_bytes.%d ", FIRST_UID + 2);
	if (strstr(fx.out, want))
		fail_msg("uid %d is listed, with less than the 1000 others",
			 FIRST_UID + 2);
	if (!strstr(fx.err, "1000 of 1003 uids of pool p listed"))
		fail_msg("no word of the uids left out: %s", fx.err);
}

struct stranger {
	const char *sock;
};

/* Another uid may not read pool private. */
static int
stranger_run(void *arg)
{
	struct stranger *s = arg;
	struct pool_persisted *pp;
	struct pool_conn *c;
	size_t n, total;

	if (pool_connect(s->sock, &c))
		return 10;
	return pool_persisted(c, "private", &pp, &n, &total) == -EACCES ? 0
									: 11;
}

static void
bad_pools_are_refused(void **state)
{
	struct pool_persisted *pp = (void *)1;
	struct stranger s;
	size_t n, total;
	pid_t pid;

	(void)state;
	start();
	assert_int_equal(pool_persisted(fx.conn, "nope", &pp, &n, &total),
			 -ENOENT);
	assert_null(pp);
	assert_int_equal(pool_persisted(fx.conn, NULL, &pp, &n, &total),
			 -EINVAL);
	assert_int_equal(pool_persisted(fx.conn, "p", NULL, &n, &total),
			 -EINVAL);
	s.sock = fx.d.sock;
	if ((pid = harness_spawn_as(UID_A, UID_A, stranger_run, &s)) > 0)
		assert_int_equal(harness_wait(pid), 0);

	expect_exit(ctl("persisted nope"), EXIT_FAILED);
	if (!strstr(fx.err, "no such pool: nope"))
		fail_msg("stderr: %s", fx.err);
	expect_exit(ctl("persisted 'bad/name'"), EXIT_USAGE);
	expect_exit(ctl("persisted p --format=xml"), EXIT_USAGE);
	/* The daemon still serves. */
	expect_exit(ctl("persisted p"), 0);
}

/* ---- the unusual paths ---------------------------------------------------- */

/*
 * books_bytes less metadata_bytes, less its records (a persistent block's
 * persist time too): the tables.
 */
static uint64_t
tables_of(const struct pool_stats *st, uint64_t refs)
{
	return records_of(st) -
	       st->live_blocks * records_stride(sizeof(struct block)) -
	       refs * records_stride(sizeof(struct ref)) -
	       st->persistent_blocks *
	       records_stride(sizeof(struct persist_time));
}

/* The persisting uids of p must be ours alone, with blocks and bytes. */
static void
expect_persisted(uint64_t blocks, uint64_t bytes)
{
	struct pool_persisted *pp;
	size_t n, total;

	assert_int_equal(pool_persisted(fx.conn, "p", &pp, &n, &total), 0);
	assert_int_equal(n, blocks ? 1 : 0);
	assert_int_equal(total, n);
	if (n) {
		assert_int_equal(pp[0].uid, getuid());
		assert_int_equal(pp[0].blocks, blocks);
		assert_int_equal(pp[0].bytes, bytes);
	}
	free(pp);
}

static void
books_after_odd_paths(void **state)
{
	const size_t sizes[3] = {65536, 65536, 2 << 20};
	struct pool_create_opts o = {.max_size = 1 << 20, .mode = 0600};
	struct pool_stats st0, st1, st;
	struct pool_conn *c2;
	struct pool *q1, *q2;
	pool_off_t offs[3], qoff, big;
	size_t usable;
	uint64_t base;
	int release, rc;
	pid_t pid;

	(void)state;
	start();
	st0 = stats();
	/* The retainer holds fx.offs[0 .. NBLOCKS): 3 blocks, the rest none. */
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pool_alloc(fx.pool, 64, &fx.offs[i]), 0);
	for (size_t i = 3; i < NBLOCKS; i++)
		fx.offs[i] = fx.offs[0];
	st1 = stats();	/* the index has its first table now */
	base = tables_of(&st1, 0);

	/* Undone batches leave the books as they were. */
	assert_int_equal(pool_alloc_batch(fx.pool, 3, sizes, offs), -EDQUOT);
	offs[0] = fx.offs[0];
	offs[1] = 12345;
	assert_int_not_equal(pool_free_batch(fx.pool, 2, offs), 0);
	st = stats();
	assert_int_equal(st.live_blocks, st0.live_blocks + 3);
	assert_int_equal(tables_of(&st, 0), base);

	/* Another process holds the three. */
	pid = retainer_start(&release);
	st = stats();
	assert_int_equal(tables_of(&st, 3), base + uid_table(3));

	/* The first holder lets one go: the other's hold moves into it. */
	assert_int_equal(pool_free(fx.pool, fx.offs[0]), 0);
	st = stats();
	assert_int_equal(st.live_blocks, st0.live_blocks + 3);
	assert_int_equal(tables_of(&st, 2), base + uid_table(2));

	/* A persistent block grown: its bytes follow, its count does not. */
	assert_int_equal(pool_alloc(fx.pool, 4096, &big), 0);
	assert_int_equal(pool_persist(fx.pool, big), 0);
	assert_int_equal(pool_usable_size(fx.pool, big, &usable), 0);
	expect_persisted(1, usable);
	rc = pool_realloc(fx.pool, big, 3 * 4096, &big);
	if (rc != 0 && rc != -EBUSY)
		fail_msg("realloc of a persistent block: %s",
			 pool_strerror(rc));
	assert_int_equal(pool_usable_size(fx.pool, big, &usable), 0);
	printf("usage: persistent block grown: %s, %zu usable\n",
	       rc ? pool_strerror(rc) : "in place", usable);
	st = stats();	/* the check recounts the charge first */
	expect_persisted(1, usable);
	assert_int_equal(st.persistent_blocks, 1);
	/* The table of persisting uids is there now, and stays. */
	if (tables_of(&st, 2) <= base + uid_table(2))
		fail_msg("a persisting uid took no room in the books");
	base = tables_of(&st, 2) - uid_table(2);

	/* Killed while it holds three (one now alone): all go with it. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	(void)harness_wait(pid);
	close(release);
	wait_handles(1);
	st = stats();
	assert_int_equal(st.live_blocks, st0.live_blocks + 3);
	assert_int_equal(tables_of(&st, 0), base);

	/* A pool destroyed under two handles that hold one block. */
	assert_int_equal(pool_create(fx.conn, "q", &o), 0);
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(fx.conn, "q", &q1), 0);
	assert_int_equal(pool_open(c2, "q", &q2), 0);
	assert_int_equal(pool_alloc(q1, 64, &qoff), 0);
	assert_int_equal(pool_retain(q2, qoff), 0);
	assert_int_equal(pool_persist(q2, qoff), 0);
	assert_int_equal(pool_destroy_force(fx.conn, "q"), 0);
	pool_close(q1);
	pool_disconnect(c2);
	st = stats();	/* checks the daemon's records too */
	assert_int_equal(tables_of(&st, 0), base);

	/* Our reference first, then the pool's. */
	assert_int_equal(pool_free(fx.pool, big), 0);
	expect_persisted(1, usable);
	assert_int_equal(pool_free(fx.pool, big), 0);
	assert_int_equal(pool_free(fx.pool, fx.offs[1]), 0);
	assert_int_equal(pool_free(fx.pool, fx.offs[2]), 0);
	expect_persisted(0, 0);
	st = stats();
	assert_int_equal(st.live_blocks, st0.live_blocks);
	assert_int_equal(tables_of(&st, 0), base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(books_follow_blocks_and_holders,
					  teardown),
		cmocka_unit_test_teardown(stats_formats_show_books, teardown),
		cmocka_unit_test_teardown(persisted_by_two_uids, teardown),
		cmocka_unit_test_teardown(persisted_share_of_own_user_quota,
					  teardown),
		cmocka_unit_test_teardown(persisted_lists_the_1000_largest,
					  teardown),
		cmocka_unit_test_teardown(bad_pools_are_refused, teardown),
		cmocka_unit_test_teardown(books_after_odd_paths, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
