/*
 * itest_recover_midway.c - a crash of poolmgrd under systemd in the
 * middle of a change keeps its pools and their persistent blocks (the
 * crash journal, docs/design.md): a journal that cannot grow and the
 * fresh one after it, a compaction, the records of one request.  The
 * daemon is killed between the steps; the start after recovers exactly
 * the blocks persisted, or starts fresh.  What the journal's records
 * bring back is itest_recover.c's, what the fd store holds and passes
 * back itest_recover_store.c's; the store played as systemd plays it,
 * the daemon on it and the blocks persisted are recover_util.h's.
 *
 *   failed_write_resumes     the journal cannot grow (RLIMIT_FSIZE): it
 *                            leaves the store, requests go on, and once
 *                            it can a fresh one goes in and a crash
 *                            recovers every block persisted;
 *   start_journal_retried    an image whose own journal cannot be made
 *                            at its start (SIGUSR2's, under RLIMIT_FSIZE)
 *                            tries again as after a failed write: once it
 *                            can, its journal goes in, and a crash
 *                            recovers the blocks persisted before the
 *                            restart and after;
 *   crash_while_compacting   SIGKILL between a compaction's first step
 *                            and its journal's push: the old journal
 *                            recovers exactly the blocks persisted;
 *   persisted_while_compacting  blocks persisted and unpersisted between
 *                            a compaction's steps are in its journal: a
 *                            crash after it recovers exactly them;
 *   crash_while_rebuilding   SIGKILL between the first step of the fresh
 *                            journal after a failed write and its push:
 *                            nothing of the pools is in the store, and
 *                            the start after is a fresh one;
 *   persisted_while_rebuilding  blocks persisted and unpersisted while the
 *                            journal is out of the store and while the
 *                            fresh one is built in steps: a crash after
 *                            its push recovers exactly them;
 *   acl_set_whole_or_none    a crash (fail_grow.so) between the records
 *                            of one SetPool, its mode and its list: the
 *                            pool recovers with both as they were, or
 *                            both as set, never the new mode beside the
 *                            old list.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal_rec.h"
#include "recover_util.h"

/*
 * The start after a crash: its log says pool a and n persistent blocks
 * were recovered, and a, opened on a new connection *c, counts n.
 */
static struct pool *
start_recovered(struct harness_store *st, unsigned n, struct pool_conn **c)
{
	struct pool_stats s;
	struct pool *a;
	char line[96];

	start(st, STORE_FDS);
	snprintf(line, sizeof(line), "1 pool and %u persistent blocks "
		 "recovered", n);
	if (!log_has(st, line)) {
		harness_store_print_log(st);
		fail_msg("not \"%s\"", line);
	}
	EXPECT_RC(pool_connect(st->sock, c), 0);
	EXPECT_RC(pool_open(*c, "a", &a), 0);
	EXPECT_RC(pool_stats(a, &s), 0);
	assert_int_equal(s.persistent_blocks, n);
	return a;
}

/* The daemon's RLIMIT_FSIZE, soft; the hard one stays unlimited. */
static void
daemon_fsize(const struct harness_store *st, rlim_t soft)
{
	struct rlimit rl = {.rlim_cur = soft, .rlim_max = RLIM_INFINITY};

	assert_int_equal(prlimit(st->pid, RLIMIT_FSIZE, &rl, NULL), 0);
}

/* Until the log says what, or fail. */
static void
wait_log(struct harness_store *st, const char *what)
{
	long long end = now_ms() + WAIT_MS;

	while (!log_has(st, what) && now_ms() < end)
		(void)store_recv(st, 50, NULL);
	if (!log_has(st, what)) {
		harness_store_print_log(st);
		fail_msg("the log never said \"%s\"", what);
	}
}

/* n blocks of 64 B persisted in a, each filled with c; *total counts. */
static void
persist_small(struct pool *a, pool_off_t *offs, unsigned n, int c,
	      unsigned *total)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		EXPECT_RC(pool_alloc(a, 64, &offs[*total]), 0);
		fill(a, offs[*total], 64, c);
		EXPECT_RC(pool_persist(a, offs[*total]), 0);
		(*total)++;
	}
}

/*
 * The journal's memfd can no longer grow (RLIMIT_FSIZE of the daemon, so
 * EFBIG): it leaves the store with the keeps, every persist still
 * succeeds, and fresh journals are tried (and fail) while the limit
 * stays.  Once it is lifted a fresh one goes in, more is persisted, and
 * a crash recovers every block: those persisted before the failure,
 * while it lasted and after.
 */
#define FAIL_LIMIT	(512 * 1024)	/* bytes: the journal grows to it, no more */
#define FAIL_MAX	16384		/* blocks of 64 B at most */

static void
failed_write_resumes(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *a;
	pool_off_t *offs = calloc(FAIL_MAX, sizeof(*offs));
	unsigned total = 0, i, lost_at;

	assert_non_null(offs);
	start(st, STORE_FDS);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	daemon_fsize(st, FAIL_LIMIT);
	while (total + 256 <= FAIL_MAX &&
	       !log_has(st, "taken out of the fd store"))
		persist_small(a, offs, 256, 'f', &total);
	if (!log_has(st, "File too large; taken out of the fd store")) {
		harness_store_print_log(st);
		fail_msg("the journal never failed to grow (%u blocks)", total);
	}
	lost_at = total;
	wait_log(st, "a fresh one failed (File too large)");
	store_drain(st);
	assert_int_equal(harness_store_prefix(st, "journal."), -1);
	assert_int_equal(harness_store_prefix(st, "keep."), -1);
	persist_small(a, offs, 100, 'g', &total);
	daemon_fsize(st, RLIM_INFINITY);
	wait_log(st, "a crash keeps every pool again");
	persist_small(a, offs, 100, 'h', &total);
	store_drain(st);
	(void)journal_in(st);
	print_message("lost at %u blocks, %u persisted\n", lost_at, total);
	crash(st);
	pool_disconnect(c);
	a = start_recovered(st, total, &c);
	for (i = 0; i < total; i++)
		expect_bytes(a, offs[i], 64, i < lost_at ? 'f' :
			     i < lost_at + 100 ? 'g' : 'h');
	pool_close(a);
	pool_disconnect(c);
	free(offs);
}

/*
 * A restart in place under an RLIMIT_FSIZE below the journal's first size
 * (exec keeps it): the executed image cannot make its own journal and
 * says a crash loses every pool; the old image's leaves the store once
 * it is ready.  It tries again, as after a failed write, and once the
 * limit is lifted its journal goes in: a crash then recovers the block
 * persisted before the restart and the one after.
 */
#define START_LIMIT	(32 * 1024)	/* bytes: under the journal's first */

static void
start_journal_retried(void **state)
{
	struct harness_store *st = *state;
	pool_off_t before, after;

	start(st, STORE_FDS);
	persist_one(st, &before);
	store_drain(st);
	daemon_fsize(st, START_LIMIT);
	signalled_ready(st, SIGUSR2);
	wait_log(st, "File too large; a crash loses every pool");
	daemon_fsize(st, RLIM_INFINITY);
	wait_log(st, "a crash keeps every pool again");
	persist_one(st, &after);
	store_drain(st);
	(void)journal_in(st);
	crash_recover(st, STORE_FDS,
		      "1 pool and 2 persistent blocks recovered",
		      "not both blocks recovered");
	expect_kept(st, before);
	expect_kept(st, after);
}

static off_t
log_size(const struct harness_store *st)
{
	struct stat sb;

	return stat(st->log, &sb) == 0 ? sb.st_size : 0;
}

/*
 * The log's whole text, however long (free it): a daemon logging at
 * debug level under churn writes hundreds of KiB, and a count read from
 * a fixed buffer would stop growing there.
 */
static char *
log_all(const struct harness_store *st)
{
	size_t size = (size_t)log_size(st), at = 0;
	char *buf = malloc(size + 1);
	int fd = open(st->log, O_RDONLY);
	ssize_t n;

	assert_non_null(buf);
	while (fd >= 0 && at < size &&
	       (n = read(fd, buf + at, size - at)) > 0)
		at += (size_t)n;
	if (fd >= 0)
		close(fd);
	buf[at] = '\0';
	return buf;
}

/* How many times the log says what. */
static unsigned
log_count(const struct harness_store *st, const char *what)
{
	char *buf = log_all(st);
	const char *s;
	unsigned n = 0;

	for (s = buf; (s = strstr(s, what)); s++)
		n++;
	free(buf);
	return n;
}

/* Does the log say what past its first from bytes (an earlier try's)? */
static bool
log_has_since(const struct harness_store *st, off_t from, const char *what)
{
	FILE *f = fopen(st->log, "r");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	if (fseeko(f, from, SEEK_SET) == 0)
		while (!found && getline(&line, &cap, f) != -1)
			found = strstr(line, what) != NULL;
	free(line);
	fclose(f);
	return found;
}

#define COMPACT_MAX	(200 * 1024)	/* blocks of 16 B, 3.2 MiB of a */
#define COMPACT_TRIES	4

/*
 * Blocks of 16 B persisted in a until the log says a compaction began,
 * then SIGKILL at once: *total counts the blocks, *name is the
 * compaction's new journal.
 */
static void
persist_until_compacting(struct harness_store *st, struct pool *a,
			 pool_off_t *offs, unsigned *total, char *name,
			 size_t len)
{
	size_t sizes[1024];
	unsigned i, before = log_count(st, "compacting journal.");
	off_t seen = log_size(st);
	const char *s;
	char *buf;

	for (i = 0; i < 1024; i++)
		sizes[i] = 16;
	for (;;) {
		assert_true(*total + 1024 <= COMPACT_MAX);
		EXPECT_RC(pool_alloc_batch(a, 1024, sizes, offs + *total), 0);
		for (i = 0; i < 1024; i++) {
			memset(pool_ptr(a, offs[*total]), (int)(*total % 251),
			       16);
			EXPECT_RC(pool_persist(a, offs[(*total)++]), 0);
			if (log_size(st) == seen)
				continue;
			seen = log_size(st);
			if (log_count(st, "compacting journal.") == before)
				continue;
			assert_int_equal(kill(st->pid, SIGKILL), 0);
			buf = log_all(st);
			for (s = NULL, i = 0; i <= before; i++)
				s = strstr(s ? s + 1 : buf,
					   "compacting journal.");
			s = strstr(s, "into journal.");
			assert_non_null(s);
			snprintf(name, len, "%.*s", (int)strcspn(s + 5, "\n"),
				 s + 5);
			free(buf);
			return;
		}
	}
}

/*
 * The daemon killed just after a compaction began: unless its journal got
 * in first (then the crash came after it, which is tried again, up to
 * COMPACT_TRIES times), the store holds the old journal only, which must
 * bring back exactly the blocks persisted, with their bytes.
 */

static void
crash_while_compacting(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *a;
	pool_off_t *offs = calloc(COMPACT_MAX, sizeof(*offs));
	unsigned total = 0, tries, i;
	char fresh[64], line[96];
	bool midway = false;
	int status;

	assert_non_null(offs);
	start(st, STORE_FDS);
	for (tries = 0; tries < COMPACT_TRIES && !midway; tries++) {
		EXPECT_RC(pool_connect(st->sock, &c), 0);
		EXPECT_RC(pool_open(c, "a", &a), 0);
		persist_until_compacting(st, a, offs, &total, fresh,
					 sizeof(fresh));
		assert_int_equal(waitpid(st->pid, &status, 0), st->pid);
		st->pid = 0;
		guarded = 0;
		store_drain(st);
		snprintf(line, sizeof(line), "compacted into %s,", fresh);
		midway = harness_store_find(st, fresh) < 0 && !log_has(st, line);
		print_message("try %u: killed with %u blocks persisted, %s\n",
			      tries + 1, total, midway ? "while compacting into "
			      "the journal not yet stored" : "after the "
			      "compaction");
		pool_disconnect(c);
		a = start_recovered(st, total, &c);
		for (i = 0; i < total; i++)
			expect_bytes(a, offs[i], 16, (int)(i % 251));
		pool_close(a);
		pool_disconnect(c);
	}
	assert_true(midway);
	free(offs);
}

/*
 * Requests go on between a compaction's steps: their records are copied
 * after its snapshot.  Blocks persisted and some unpersisted while it
 * runs; once its journal is in the store, a crash recovers exactly the
 * blocks still persistent.
 */
static void
persisted_while_compacting(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *a;
	pool_off_t *offs = calloc(COMPACT_MAX, sizeof(*offs));
	size_t sizes[1024];
	unsigned total = 0, i, freed = 0, before;
	long long end;
	off_t seen;

	assert_non_null(offs);
	for (i = 0; i < 1024; i++)
		sizes[i] = 16;
	start(st, STORE_FDS);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	before = log_count(st, "compacted into journal.");
	seen = log_size(st);
	while (log_count(st, "compacting journal.") == 0) {
		assert_true(total + 1024 <= COMPACT_MAX);
		EXPECT_RC(pool_alloc_batch(a, 1024, sizes, offs + total), 0);
		for (i = 0; i < 1024; i++) {
			fill(a, offs[total], 16, 'c');
			EXPECT_RC(pool_persist(a, offs[total++]), 0);
			if (log_size(st) != seen)
				break;
		}
		/* The rest of the batch stays allocated, not persistent. */
		seen = log_size(st);
	}
	/* While it runs: more persisted, every fourth one unpersisted. */
	end = now_ms() + WAIT_MS;
	while (log_count(st, "compacted into journal.") == before &&
	       now_ms() < end) {
		assert_true(total + 4 <= COMPACT_MAX);
		EXPECT_RC(pool_alloc_batch(a, 4, sizes, offs + total), 0);
		for (i = 0; i < 4; i++) {
			fill(a, offs[total + i], 16, 'c');
			EXPECT_RC(pool_persist(a, offs[total + i]), 0);
		}
		EXPECT_RC(pool_free(a, offs[total + 3]), 0);
		EXPECT_RC(pool_free(a, offs[total + 3]), 0);
		offs[total + 3] = offs[total + 2];	/* counted twice */
		total += 4;
		freed++;
	}
	assert_true(log_count(st, "compacted into journal.") > before);
	print_message("%u persisted, %u of them freed while compacting\n",
		      total, freed);
	store_drain(st);
	crash(st);
	pool_disconnect(c);
	a = start_recovered(st, total - freed, &c);
	for (i = 0; i < total; i++)
		expect_bytes(a, offs[i], 16, 'c');
	pool_close(a);
	pool_disconnect(c);
	free(offs);
}

#define REBUILD_LIMIT	(4 * 1024 * 1024)	/* bytes: the journal fails here */
#define REBUILD_MAX	(128 * 1024)	/* blocks of 16 B, 2 MiB of a */
#define REBUILD_BEGUN	"with the spill) into journal."
#define REBUILD_FAILED	"a fresh one failed (File too large)"
#define UNPERSISTED	((pool_off_t)-1)
#define REBUILD_SPILL	256	/* rounds of churn while the limit stays */
/*
 * The daemon tries a fresh journal again after waits that double while
 * tries fail, up to a minute (journal.c's RETRY_MAX_MS): on a loaded
 * machine the churn under the limit lasts long enough for the wait after
 * the limit is lifted to pass WAIT_MS, which a run under load met once.
 */
#define REBUILD_WAIT_MS	(60000 + WAIT_MS)

/*
 * Four blocks of 16 B persisted, each filled with its index mod 251; on
 * odd rounds the fourth is unpersisted and freed (its offs UNPERSISTED).
 */
static void
churn(struct pool *a, pool_off_t *offs, unsigned *total, unsigned round)
{
	size_t sizes[4] = {16, 16, 16, 16};
	unsigned i;

	assert_true(*total + 4 <= REBUILD_MAX);
	EXPECT_RC(pool_alloc_batch(a, 4, sizes, offs + *total), 0);
	for (i = 0; i < 4; i++) {
		fill(a, offs[*total + i], 16, (int)((*total + i) % 251));
		EXPECT_RC(pool_persist(a, offs[*total + i]), 0);
	}
	if (round % 2) {
		EXPECT_RC(pool_free(a, offs[*total + 3]), 0);
		EXPECT_RC(pool_free(a, offs[*total + 3]), 0);
		offs[*total + 3] = UNPERSISTED;
	}
	*total += 4;
}

/*
 * The journal fails to grow (the daemon's RLIMIT_FSIZE at REBUILD_LIMIT)
 * with blocks persisted only, so that the first fresh journal, no smaller
 * than the old one and the record it could not take, fails too; churn
 * while the limit stays, to the spill; then the limit is lifted and,
 * unless quiet, more churn until the log says a fresh journal is being
 * built in steps (quiet: the log only is watched, to see it as soon as it
 * can be).  Its name in name.
 */
/*
 * The fresh journal of the first compaction the log says began after
 * its last failure, into name; false if none has yet.  Once the limit is
 * lifted that one cannot fail for it: a step that failed said so at
 * once, and its steps after the lift are written whole.  It may have
 * begun before the lift (a retry just then), so the lines that came
 * after the lift are not the only ones to look at.
 */
static bool
rebuild_begun(const struct harness_store *st, char *name, size_t len)
{
	char *buf = log_all(st), *s, *last = buf;
	bool found;

	for (s = buf; (s = strstr(s, REBUILD_FAILED)); s++)
		last = s;
	if ((found = (s = strstr(last, REBUILD_BEGUN)) != NULL)) {
		s += strlen(REBUILD_BEGUN) - strlen("journal.");
		snprintf(name, len, "%.*s", (int)strcspn(s, "\n"), s);
	}
	free(buf);
	return found;
}

static void
fail_then_rebuild(struct harness_store *st, struct pool *a, pool_off_t *offs,
		  unsigned *total, bool quiet, char *name, size_t len)
{
	unsigned i, k = 0;
	long long end;

	/*
	 * Counted from now: the log holds the earlier tries' daemons too,
	 * whose lines would end these waits before this daemon failed.
	 */
	unsigned taken = log_count(st, "taken out of the fd store");
	unsigned failed = log_count(st, REBUILD_FAILED);

	daemon_fsize(st, REBUILD_LIMIT);
	while (log_count(st, "taken out of the fd store") == taken)
		churn(a, offs, total, 0);
	while (log_count(st, REBUILD_FAILED) == failed)
		churn(a, offs, total, k++);
	for (i = 0; i < REBUILD_SPILL; i++)
		churn(a, offs, total, k++);
	daemon_fsize(st, RLIM_INFINITY);
	end = now_ms() + REBUILD_WAIT_MS;
	while (!rebuild_begun(st, name, len)) {
		if (now_ms() > end) {
			harness_store_print_log(st);
			fail_msg("no fresh journal built in steps");
		}
		/* Paced: a minute of it must not fill offs. */
		if (!quiet) {
			churn(a, offs, total, k++);
			usleep(5000);
		}
	}
}

/* The blocks of offs still persistent. */
static unsigned
persisted(const pool_off_t *offs, unsigned total)
{
	unsigned i, n = 0;

	for (i = 0; i < total; i++)
		n += offs[i] != UNPERSISTED;
	return n;
}

/*
 * Killed just after the fresh journal began: unless it got in first
 * (tried again then), the store holds no journal and no keep, and the
 * start after is a fresh one: the pool from the file, nothing persistent.
 */
static void
crash_while_rebuilding(void **state)
{
	struct harness_store *st = *state;
	pool_off_t *offs = calloc(REBUILD_MAX, sizeof(*offs));
	unsigned total, tries;
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;
	char fresh[64], line[96];
	bool midway = false;
	off_t from;
	int status;

	assert_non_null(offs);
	for (tries = 0; tries < COMPACT_TRIES && !midway; tries++) {
		/*
		 * Each try starts afresh, its journals numbered as the last
		 * try's were: only this try's lines of the log say whether
		 * its fresh journal got in.
		 */
		from = log_size(st);
		start(st, STORE_FDS);
		total = 0;
		EXPECT_RC(pool_connect(st->sock, &c), 0);
		EXPECT_RC(pool_open(c, "a", &a), 0);
		fail_then_rebuild(st, a, offs, &total, true, fresh,
				  sizeof(fresh));
		assert_int_equal(kill(st->pid, SIGKILL), 0);
		assert_int_equal(waitpid(st->pid, &status, 0), st->pid);
		st->pid = 0;
		guarded = 0;
		store_drain(st);
		snprintf(line, sizeof(line), "%s in the fd store", fresh);
		midway = harness_store_find(st, fresh) < 0 &&
			 !log_has_since(st, from, line);
		print_message("try %u: killed with %u blocks persisted, %s\n",
			      tries + 1, persisted(offs, total), midway ?
			      "while building the journal not yet stored" :
			      "after its push");
		pool_disconnect(c);
		if (midway) {
			assert_int_equal(harness_store_prefix(st, "journal."), -1);
			assert_int_equal(harness_store_prefix(st, "keep."), -1);
		}
		from = log_size(st);
		start(st, STORE_FDS);
		if (midway && log_has_since(st, from, "recovered")) {
			harness_store_print_log(st);
			fail_msg("recovered from a store with no journal");
		}
		EXPECT_RC(pool_connect(st->sock, &c), 0);
		EXPECT_RC(pool_open(c, "a", &a), 0);
		EXPECT_RC(pool_stats(a, &s), 0);
		assert_int_equal(s.persistent_blocks,
				 midway ? 0 : persisted(offs, total));
		pool_close(a);
		pool_disconnect(c);
		crash(st);
		while (st->n)		/* the next try starts afresh */
			harness_store_drop(st, 0);
	}
	assert_true(midway);
	free(offs);
}

/*
 * Requests go on while the journal is out of the store and while the
 * fresh one is built: their records are in it.  Once it is pushed, a
 * crash recovers exactly the blocks still persistent, with their bytes.
 */
static void
persisted_while_rebuilding(void **state)
{
	struct harness_store *st = *state;
	pool_off_t *offs = calloc(REBUILD_MAX, sizeof(*offs));
	unsigned total = 0, n, i, k, out;
	struct pool_conn *c;
	struct pool *a;
	char fresh[64], line[96];

	assert_non_null(offs);
	start(st, STORE_FDS);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	fail_then_rebuild(st, a, offs, &total, false, fresh, sizeof(fresh));
	out = total;
	/* And while it is built, until it is in. */
	snprintf(line, sizeof(line), "%s in the fd store", fresh);
	for (k = 0; !log_has(st, line); k++) {
		if (k == WAIT_MS) {
			harness_store_print_log(st);
			fail_msg("\"%s\" never came", line);
		}
		churn(a, offs, &total, k);
	}
	store_drain(st);
	assert_true(harness_store_find(st, fresh) >= 0);
	n = persisted(offs, total);
	print_message("%u persisted; %u blocks churned while it was built\n",
		      n, total - out);
	crash(st);
	pool_disconnect(c);
	a = start_recovered(st, n, &c);
	for (i = 0; i < total; i++)
		if (offs[i] != UNPERSISTED)
			expect_bytes(a, offs[i], 16, (int)(i % 251));
	pool_close(a);
	pool_disconnect(c);
	free(offs);
}

/* Pool c's mode and list (as acl_said), from PoolStats. */
static uint32_t
acl_mode_said(int fd, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	uint32_t mode;

	m.name = "c";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_STATS);
	mode = rep->stats->mode;
	poolmgr__reply__free_unpacked(rep, NULL);
	acl_said(fd, buf, len);
	return mode;
}

/* The bytes the journal in the store has room for past its end. */
static uint64_t
journal_room(const struct harness_store *st)
{
	int i = harness_store_find(st, journal_in(st));
	const uint64_t *h;
	struct stat sb;
	uint64_t end;

	assert_true(i >= 0);
	assert_int_equal(fstat(st->fd[i], &sb), 0);
	h = mmap(NULL, JREC_HEADER, PROT_READ, MAP_SHARED, st->fd[i], 0);
	assert_true(h != MAP_FAILED);
	end = __atomic_load_n(&h[JH_END], __ATOMIC_ACQUIRE);
	munmap((void *)h, JREC_HEADER);
	return (uint64_t)sb.st_size - end;
}

/* SetPool c's quota: a record of the settings alone, 8 words. */
static void
acl_quota(int fd, uint64_t quota)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;

	m.name = "c";
	m.set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
	m.quota = quota;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &m;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
}

#define SET_BYTES	64		/* a settings record */
#define ACL8_BYTES	(11 * 8)	/* a list of 8 entries' record */

static void
acl_set_whole_or_none(void **state)
{
	static const uint32_t made[][3] = {{1, 4242, 6}};
	static const uint32_t set[][3] = {
		{1, 4242, 0}, {1, 4343, 4}, {1, 4444, 4}, {1, 4545, 4},
		{2, 4646, 4}, {2, 4747, 4}, {2, 4848, 4}, {2, 4949, 4},
	};
	struct harness_store *st = *state;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;
	char flag[96], said[512], *saved;
	struct wire_acl w;
	uint32_t mode;
	unsigned i;
	int fd;

	snprintf(flag, sizeof(flag), "%s/kill-on-grow", st->dir);
	saved = harness_preload("fail_grow.so");
	setenv("POOLMGR_KILL_ON_GROW", flag, 1);
	acl_start(st);
	unsetenv("POOLMGR_KILL_ON_GROW");
	harness_preload_off(saved);
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	acl_pool_make(fd, made, 1);

	/* Settings records until the list's would be the one that grows. */
	for (i = 0; journal_room(st) >= SET_BYTES + ACL8_BYTES ||
		    journal_room(st) < SET_BYTES; i++) {
		assert_true(i < 100000);
		acl_quota(fd, (i & 1) ? 1 << 20 : 2 << 20);
		store_drain(st);
	}

	/* The mode opened to all and 4242 kept out, in one request. */
	assert_int_equal(close(open(flag, O_CREAT | O_WRONLY, 0600)), 0);
	m.name = "c";
	m.set_mode_case = POOLMGR__SET_POOL__SET_MODE_MODE;
	m.mode = 0666;
	m.acl = wire_acl(&w, set, 8);
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &m;
	(void)harness_raw_error(fd, &req, NULL);
	close(fd);
	unlink(flag);
	acl_recover(st);
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	mode = acl_mode_said(fd, said, sizeof(said));
	close(fd);
	printf("recovered: mode %04o, list %s\n", mode, said);
	if (mode == 0604)
		assert_string_equal(said, "user:4242:6");
	else if (mode == 0666)
		assert_string_equal(said, "user:4242:0,user:4343:4,"
				    "user:4444:4,user:4545:4,group:4646:4,"
				    "group:4747:4,group:4848:4,group:4949:4");
	else
		fail_msg("recovered mode %04o", mode);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(failed_write_resumes,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(start_journal_retried,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(crash_while_compacting,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(persisted_while_compacting,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(crash_while_rebuilding,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(persisted_while_rebuilding,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(acl_set_whole_or_none,
						recover_setup,
						recover_teardown),
	};

	return cmocka_run_group_tests_name("a crash under systemd: midway",
					   tests, NULL, NULL);
}
