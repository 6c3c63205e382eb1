/*
 * itest_recover.c - a crash of poolmgrd under systemd keeps its pools and
 * their persistent blocks (the crash journal, docs/design.md).
 *
 * The test plays systemd (harness_store.c): a NOTIFY_SOCKET of its own,
 * FDSTORE= set as the unit sets it, every FDSTORE=1 descriptor kept under
 * its FDNAME= and every FDSTOREREMOVE=1 applied, and a start given what
 * the store holds (as Restart=on-failure does after a crash).  The daemon
 * binds its own socket, but in socket_activated_crash; a crash is
 * SIGKILL.  What must come back is what survives every client's
 * disconnect: each pool, its settings, its persistent blocks at their
 * offsets with their bytes; everything else is free again.
 *
 *   crash_keeps_persistent   two pools (one made by pool_create), blocks
 *                            persisted and not, SIGKILL, restart;
 *   torn_tail_ignored        garbage past the journal's end is ignored;
 *   corrupt_body_refused     a scribbled record refuses the journal whole:
 *                            a fresh start, no byte of the memfd touched;
 *   inconsistent_refused     whole records that say what cannot be (an
 *                            unpersist of nothing, a block over another,
 *                            a pool whose keep.<n> is a memfd of another
 *                            size): refused whole;
 *   socket_twice_refused     a second socket record, after the changes:
 *                            refused whole;
 *   gone_stays_gone          a destroyed pool and a freed persistent block
 *                            do not come back, across compactions;
 *   planned_then_crash       SIGTERM (the store's planned path), then a
 *                            crash of the restored daemon;
 *   planned_unknown_binary   the same from a binary whose path is too
 *                            long for /proc/self/exe (so there is none
 *                            to ask --restart-probe): the stop still
 *                            leaves its state in the store;
 *   resized_persistent_kept  a persistent block grown in place;
 *   restart_in_place_then_crash  SIGUSR2: the new image's journal
 *                            replaces the old one, and a crash recovers;
 *   clean_stop_forgets       a stop that frees everything takes the
 *                            journal out of the store;
 *   socket_activated_crash   the same with poolmgrd.socket's socket;
 *   broken_config_kept       the file broken before the start after the
 *                            crash: recovered all the same, the file's
 *                            error logged, a SIGHUP applies it fixed;
 *   no_store_no_journal      without FDSTORE= nothing is pushed;
 *   small_store_compacts     a store that takes few descriptors: pools
 *                            made until it is full, then a compaction
 *                            still finds room for its new journal;
 *   small_store_planned      a planned stop that fills a small store: the
 *                            next start's journal still gets in;
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
 *   recovered_without_store  the journal passed without FDSTORE=: the
 *                            pools are recovered, nothing is pushed;
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
 *                            its push recovers exactly them.
 *   acl_kept_across_crashes  a pool made with an access control list
 *                            (given out of order), a crash: PoolStats
 *                            says it, sorted; entries removed and set,
 *                            its quota changed, a crash: the same list,
 *                            and processes of other uids let in and kept
 *                            out as before; the list emptied, a crash:
 *                            none, the mode alone decides;
 *   acl_kept_across_restarts the same list across a restart in place,
 *                            a planned stop and start through the store,
 *                            then a crash of the restored daemon;
 *   keep_twice_by_size       pool a's keep.<n> twice in the store (the
 *                            other a memfd of another pool's, as one
 *                            left by a lost journal beside the next
 *                            image's, found first): the one of the
 *                            size the journal records is taken, and the
 *                            block comes back with its bytes; both of
 *                            that size, neither can be told for its
 *                            memory, and the pool is left out (made
 *                            fresh from the file);
 *   keep_twice_loses_its_pool_alone  the same, both of pool a's size,
 *                            beside pool b and its persisted block: b
 *                            comes back, a is left out and logged, both
 *                            its memfds out of the store (the journal
 *                            was refused whole, and b with it);
 *   keep_missing_loses_its_pool_alone  pool a's keep.<n> gone from the
 *                            store before the start, beside pool b's,
 *                            both with a block persisted and named: b
 *                            comes back with its bytes and its name, a
 *                            is left out and logged, made fresh from the
 *                            file with nothing charged, and a stop after
 *                            exits 0, nothing of a's state leaked (the
 *                            journal was refused whole, and b with it);
 *   keep_missing_then_crash  the same with b's keep.<n>: b, which no file
 *                            declares, is gone, a comes back; b made
 *                            again and blocks named in both, a second
 *                            crash recovers them all from the journal
 *                            the start after the loss wrote;
 *   acl_set_whole_or_none    a crash (fail_grow.so) between the records
 *                            of one SetPool, its mode and its list: the
 *                            pool recovers with both as they were, or
 *                            both as set, never the new mode beside the
 *                            old list;
 *   kept_connection_survives_crashes  a connection kept for a memfd its
 *                            client has not read is in the store as
 *                            unread.0 (FDPOLL=0), counted by the image
 *                            after each of two crashes, after a restart
 *                            in place and after a planned stop; once its
 *                            client closes, it leaves the store;
 *   kept_connection_pushed_after_exec  one kept without the store, its
 *                            room full, and handed over by a restart in
 *                            place once there is room: the new image
 *                            pushes it, and a crash after it keeps it;
 *   kept_connection_pushed_at_stop  one the store dropped unseen is
 *                            pushed again by a planned stop, and the
 *                            start after it counts it;
 *   kept_connections_leave_the_journal_room  100 kept while systemd
 *                            reads no notification take at most half of
 *                            the daemon's queue: a pool made meanwhile
 *                            has its keep.<n> queued, not refused, and
 *                            the refused pushes are said within the
 *                            log's rate limit;
 *   kept_connection_removal_retried  one whose client closes while the
 *                            daemon's queue for systemd is full: its
 *                            removal is refused, asked again later, and
 *                            it leaves the store once systemd reads.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "harness_store.h"
#include "journal_rec.h"
#include "poolclient.h"

#define WAIT_MS		15000	/* generous for a daemon under ASan */
#define GUARD_SEC	120
#define STORE_FDS	"1796"	/* FileDescriptorStoreMax= of the unit */
#define JREC_BODY	9	/* a word of the first record */
#define CONFIG		"[daemon]\nsocket_mode = 0666\nadmin_group = 0\n" \
			"[pool a]\nsize = 4M\n"

static volatile pid_t guarded;

static void
on_alarm(int sig)
{
	(void)sig;
	if (guarded > 0)
		kill(guarded, SIGKILL);
	_exit(3);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One notification applied to the store; 1 if it says want. */
static int
store_recv(struct harness_store *st, int timeout_ms, const char *want)
{
	int rc = harness_store_receive(st, timeout_ms, want);

	/* Every FDSTORE=1 carries a descriptor and its FDNAME=. */
	assert_int_equal(st->malformed, 0);
	return rc;
}

static void
store_drain(struct harness_store *st)
{
	while (store_recv(st, 0, NULL) >= 0)
		;
}

/* The name of the journal in the store: there must be one. */
static const char *
journal_in(const struct harness_store *st)
{
	const char *name = harness_store_journal(st);

	if (!name)
		fail_msg("no journal.<n> in the store");
	return name;
}

/* Until name is out of the store (it goes after READY=1). */
static void
wait_removed(struct harness_store *st, const char *name)
{
	long long end = now_ms() + WAIT_MS;

	while (harness_store_find(st, name) >= 0 && now_ms() < end)
		(void)store_recv(st, 100, NULL);
	assert_int_equal(harness_store_find(st, name), -1);
}

/*
 * Signal sig to the daemon (SIGUSR2: a restart in place, SIGHUP: a
 * reload), and until its READY=1 after it, what came before applied.
 */
static void
signalled_ready(struct harness_store *st, int sig)
{
	long long end;
	int got = 0;

	assert_int_equal(kill(st->pid, sig), 0);
	for (end = now_ms() + WAIT_MS; got != 1 && now_ms() < end;)
		got = store_recv(st, (int)(end - now_ms()), "READY=1");
	assert_int_equal(got, 1);
}

/*
 * A restart in place, and until the old image's journal, whose place the
 * new image's takes, is out of the store.
 */
static void
restart_journal_replaced(struct harness_store *st)
{
	char old[64];

	store_drain(st);
	snprintf(old, sizeof(old), "%s", journal_in(st));
	signalled_ready(st, SIGUSR2);
	wait_removed(st, old);
}

static bool
log_has(const struct harness_store *st, const char *what)
{
	return harness_store_log_count(st, what) > 0;
}

/*
 * With POOLMGR_JOURNAL_SEEDS set to a directory, what every start after a
 * crash finds in the store is also written there, as a seed for
 * tests/fuzz/fuzz_recover.c (its input format): the keep.<n> memfds'
 * numbers and sizes, then the newest journal to its committed end and 64
 * bytes past it.  Journals longer than 16 KiB and pools of other sizes
 * than the harness makes are left out.
 */
static void
seed_write(const struct harness_store *st)
{
	static const uint64_t sizes[8] = {
		4096, 8192, 65536, 1 << 20, 2 << 20, 4 << 20, 12288, 5000,
	};
	static unsigned n;
	const char *dir = getenv("POOLMGR_JOURNAL_SEEDS");
	unsigned char head[2 + 2 * 8];
	const char *journal = harness_store_journal(st);
	unsigned k, s, nk = 0;
	unsigned long v;
	char path[512];
	int at;
	struct stat sb;
	uint64_t *j;
	size_t len;
	FILE *f;

	if (!dir || harness_store_find(st, "state") >= 0 || !journal)
		return;
	at = harness_store_find(st, journal);
	for (k = 0; k < st->n; k++) {
		if (strncmp(st->name[k], "keep.", 5) != 0)
			continue;
		assert_int_equal(fstat(st->fd[k], &sb), 0);
		for (s = 0; s < 8 && sizes[s] != (uint64_t)sb.st_size; s++)
			;
		v = strtoul(st->name[k] + 5, NULL, 10);
		if (s == 8 || v > 255 || nk == 8)
			return;
		head[2 + 2 * nk] = (unsigned char)v;
		head[3 + 2 * nk++] = (unsigned char)s;
	}
	head[0] = (unsigned char)(nk << 4 | (st->lfd >= 0 ? 0x08 : 0));
	head[1] = 0;
	assert_int_equal(fstat(st->fd[at], &sb), 0);
	j = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED,
		 st->fd[at], 0);
	assert_true(j != MAP_FAILED);
	len = j[JH_END] + 64 < (uint64_t)sb.st_size ? j[JH_END] + 64 :
	    (size_t)sb.st_size;
	if (len <= 16384) {
		snprintf(path, sizeof(path), "%s/journal-%02u", dir, n++);
		assert_non_null(f = fopen(path, "w"));
		assert_int_equal(fwrite(head, 1, 2 + 2 * nk, f), 2 + 2 * nk);
		assert_int_equal(fwrite(j, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
	munmap(j, (size_t)sb.st_size);
}

/*
 * Start with what the store holds (it keeps its own), FDSTORE= fdstore
 * (NULL: none); READY=1.
 */
static void
start(struct harness_store *st, const char *fdstore)
{
	snprintf(st->fdstore, sizeof(st->fdstore), "%s",
		 fdstore ? fdstore : "");
	seed_write(st);
	if (harness_store_start(st) != 0)
		fail_msg("no READY=1");
	guarded = st->pid;
	assert_int_equal(st->malformed, 0);
}

/* The crash: SIGKILL, and what it had sent. */
static void
crash(struct harness_store *st)
{
	guarded = 0;
	assert_int_equal(harness_store_crash(st), 0);
	assert_int_equal(st->malformed, 0);
}

static void
stop(struct harness_store *st)
{
	int status;

	assert_int_equal(kill(st->pid, SIGTERM), 0);
	assert_int_equal(waitpid(st->pid, &status, 0), st->pid);
	st->pid = 0;
	guarded = 0;
	store_drain(st);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The log says what, else it is printed and the test fails saying why. */
static void
expect_logged(const struct harness_store *st, const char *what,
	      const char *why)
{
	if (!log_has(st, what)) {
		harness_store_print_log(st);
		fail_msg("%s", why);
	}
}

/*
 * A crash, and a start with what it left in the store (FDSTORE= fdstore)
 * whose log says what (the pools and blocks recovered), else why.
 */
static void
crash_recover(struct harness_store *st, const char *fdstore,
	      const char *what, const char *why)
{
	crash(st);
	start(st, fdstore);
	expect_logged(st, what, why);
}

static int
setup(void **state)
{
	struct harness_store *st = calloc(1, sizeof(*st));

	if (!st)
		return -1;
	if (harness_store_open(st, CONFIG) != 0) {
		harness_store_close(st);
		free(st);
		return -1;
	}
	signal(SIGALRM, on_alarm);
	alarm(GUARD_SEC);
	*state = st;
	return 0;
}

static int
teardown(void **state)
{
	struct harness_store *st = *state;

	guarded = 0;
	harness_store_close(st);
	free(st);
	alarm(0);
	return 0;
}

static void
fill(struct pool *p, pool_off_t off, size_t len, int c)
{
	memset(pool_ptr(p, off), c, len);
}

static void
expect_bytes(struct pool *p, pool_off_t off, size_t len, int c)
{
	const unsigned char *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			fail_msg("block %#llx byte %zu: %#x, not %#x",
				 (unsigned long long)off, i, b[i], c);
}

static uint64_t
usable(struct pool *p, pool_off_t off)
{
	size_t n = 0;

	EXPECT_RC(pool_usable_size(p, off, &n), 0);
	return n;
}

/*
 * Pool a (the file's) and b (pool_create, mode 0640, a quota): each with
 * persisted blocks of a pattern, a and b with blocks that are not.
 */
static void
crash_keeps_persistent(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 2 << 20, .mode = 0640,
				     .quota = 1 << 20};
	struct pool_conn *c;
	struct pool *a, *b;
	struct pool_stats sa, sb;
	struct pool_persisted *pp;
	size_t n, total;
	pool_off_t pa[2], na[2], pb, nb, x;
	uint64_t bytes;

	start(st, STORE_FDS);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(a, 1000, &pa[0]), 0);
	EXPECT_RC(pool_alloc(a, 300000, &na[0]), 0);
	EXPECT_RC(pool_alloc(a, 200000, &pa[1]), 0);
	EXPECT_RC(pool_alloc(a, 100, &na[1]), 0);
	EXPECT_RC(pool_alloc(b, 5000, &nb), 0);
	EXPECT_RC(pool_alloc(b, 70000, &pb), 0);
	fill(a, pa[0], 1000, 'p');
	fill(a, pa[1], 200000, 'q');
	fill(a, na[0], 300000, 'n');
	fill(a, na[1], 100, 'm');
	fill(b, pb, 70000, 'r');
	fill(b, nb, 5000, 's');
	EXPECT_RC(pool_persist(a, pa[0]), 0);
	EXPECT_RC(pool_persist(a, pa[1]), 0);
	EXPECT_RC(pool_persist(b, pb), 0);
	bytes = usable(a, pa[0]) + usable(a, pa[1]);

	crash_recover(st, STORE_FDS, "after a crash: 2 pools and 3 persistent "
		      "blocks recovered", "no recovery");
	pool_disconnect(c);	/* its connection died with the daemon */
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	expect_bytes(a, pa[0], 1000, 'p');
	expect_bytes(a, pa[1], 200000, 'q');
	expect_bytes(b, pb, 70000, 'r');
	/* The other blocks' pages were punched: zero, and free. */
	expect_bytes(a, na[0] + 8192, 200000, 0);
	EXPECT_RC(pool_stats(a, &sa), 0);
	EXPECT_RC(pool_stats(b, &sb), 0);
	assert_int_equal(sa.live_blocks, 2);
	assert_int_equal(sa.persistent_blocks, 2);
	assert_int_equal(sa.allocated_bytes, bytes);
	assert_int_equal(sb.live_blocks, 1);
	assert_int_equal(sb.mode, 0640);
	assert_int_equal(sb.quota, 1 << 20);
	assert_int_equal(sb.max_size, 2 << 20);
	EXPECT_RC(pool_persisted(c, "a", &pp, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp[0].blocks, 2);
	assert_int_equal(pp[0].bytes, bytes);
	free(pp);
	/* The quota of b counts the persisted 70000-odd bytes again. */
	EXPECT_RC(pool_alloc(b, 1000000, &x), -EDQUOT);
	EXPECT_RC(pool_alloc(a, 300000, &x), 0);
	EXPECT_RC(pool_free(a, pa[1]), 0);	/* no holder: unpersists */
	EXPECT_RC(pool_stats(a, &sa), 0);
	assert_int_equal(sa.persistent_blocks, 1);
	pool_close(a);
	pool_close(b);
	pool_disconnect(c);
}

/* The newest journal in the store, mapped writable: the test's copy. */
static uint64_t *
journal_map(struct harness_store *st, size_t *len)
{
	int at = harness_store_find(st, journal_in(st));
	struct stat sb;
	void *m;

	assert_int_equal(fstat(st->fd[at], &sb), 0);
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 st->fd[at], 0);
	assert_true(m != MAP_FAILED);
	*len = (size_t)sb.st_size;
	return m;
}

static void
persist_one(struct harness_store *st, pool_off_t *off)
{
	struct pool_conn *c;
	struct pool *a;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 100000, off), 0);
	fill(a, *off, 100000, 'z');
	EXPECT_RC(pool_persist(a, *off), 0);
	pool_close(a);
	pool_disconnect(c);
}

/* Pool a, from a new connection, holds n blocks. */
static void
expect_live_blocks(struct harness_store *st, uint64_t n)
{
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_stats(a, &s), 0);
	assert_int_equal(s.live_blocks, n);
	pool_close(a);
	pool_disconnect(c);
}

/* persist_one's block at off, from a new connection, with its bytes. */
static void
expect_kept(struct harness_store *st, pool_off_t off)
{
	struct pool_conn *c;
	struct pool *a;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	expect_bytes(a, off, 100000, 'z');
	pool_close(a);
	pool_disconnect(c);
}

static void
torn_tail_ignored(void **state)
{
	struct harness_store *st = *state;
	uint64_t *j, end;
	pool_off_t off;
	size_t len;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	j = journal_map(st, &len);
	end = j[2];	/* the committed end */
	assert_true(end + 64 <= len);
	memset((char *)j + end, 0x5a, 40);	/* a record half written */
	j[end / 8] = (uint64_t)9 << 32 | 4;
	munmap(j, len);
	start(st, STORE_FDS);
	expect_logged(st, "1 persistent block recovered",
		      "the torn record was not ignored");
	expect_kept(st, off);
	expect_live_blocks(st, 1);
}

static void
corrupt_body_refused(void **state)
{
	struct harness_store *st = *state;
	unsigned char *old;
	uint64_t *j;
	pool_off_t off;
	size_t len;
	int k, kfd;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	j = journal_map(st, &len);
	j[JREC_BODY] ^= 1;	/* in the first record, before the end */
	munmap(j, len);
	/* The test's own look at the old pool's bytes. */
	k = harness_store_prefix(st, "keep.");
	assert_true(k >= 0);
	kfd = dup(st->fd[k]);
	old = mmap(NULL, 4 << 20, PROT_READ, MAP_SHARED, kfd, 0);
	assert_true(old != MAP_FAILED);
	start(st, STORE_FDS);
	expect_logged(st, "the journal is refused",
		      "a corrupt journal was not refused");
	for (len = 0; len < 100000; len++)
		if (old[off + len] != 'z')
			fail_msg("byte %zu of the refused pool changed", len);
	munmap(old, 4 << 20);
	close(kfd);
	/* Fresh: an empty pool a; the old names out of the store. */
	expect_live_blocks(st, 0);
	store_drain(st);
	for (k = 0; k < (int)st->n; k++)
		print_message("stored %s\n", st->name[k]);
	assert_int_equal(st->n, 2);	/* the new keep.<n> and journal */
}

/*
 * A record of n words (w[0] and w[n - 1] left for the head and the hash)
 * appended to the newest journal within its committed end: well formed,
 * so only what it says can be wrong.  The first payload word is the
 * keep.<n> of the pool the journal made first.
 */
static void
journal_add(struct harness_store *st, enum jrec_type type, uint64_t *w,
	    unsigned n)
{
	uint64_t *j, end;
	size_t len;

	j = journal_map(st, &len);
	end = j[JH_END];
	assert_true(end + 8 * n <= len);
	w[0] = jrec_head(n, type);
	w[1] = j[JREC_HEADER / 8 + 1];
	w[n - 1] = jrec_sum(w, n - 1);
	memcpy((char *)j + end, w, 8 * n);
	j[JH_END] = end + 8 * n;
	munmap(j, len);
}

/* A crash's start refuses what the store holds, and starts fresh. */
static void
expect_refused(struct harness_store *st, const char *why)
{

	start(st, STORE_FDS);
	if (!log_has(st, "the journal is refused") || !log_has(st, why)) {
		harness_store_print_log(st);
		fail_msg("not refused for '%s'", why);
	}
	expect_live_blocks(st, 0);
}

/*
 * A memfd of size bytes, sealed as a pool's, every byte c: the memory of
 * another pool, kept under a number pool a's keep has too.
 */
static int
other_pools_memfd(size_t size, int c)
{
	int fd = memfd_create("poolmgr:other", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *m;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	memset(m, c, size);
	munmap(m, size);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW),
			 0);
	return fd;
}

/*
 * fd in the store under the name of keep.<n> (NULL: the first keep, pool
 * a's when it is alone), ahead of it: the store passes them in its
 * order, and the recovery looked no further than the first.
 */
static void
keep_ahead(struct harness_store *st, const char *name, int fd)
{
	int k = name ? harness_store_find(st, name)
		     : harness_store_prefix(st, "keep.");

	assert_true(k >= 0);
	assert_true(st->n < HARNESS_STORE_MAX);
	st->fd[st->n] = st->fd[k];
	memcpy(st->name[st->n], st->name[k], sizeof(st->name[0]));
	st->n++;
	st->fd[k] = fd;
}

static void
keep_twice_by_size(void **state)
{
	struct harness_store *st = *state;
	char name[64];
	pool_off_t off;
	int k;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	keep_ahead(st, NULL, other_pools_memfd(1 << 20, 'x'));
	k = harness_store_prefix(st, "keep.");
	snprintf(name, sizeof(name), "%s", st->name[k]);
	start(st, STORE_FDS);
	if (!log_has(st, "after a crash: 1 pool") ||
	    !log_has(st, "twice in the fd store")) {
		harness_store_print_log(st);
		fail_msg("not recovered from the keep of its size");
	}
	expect_kept(st, off);
	/* The name out once ready, both descriptors with it. */
	wait_removed(st, name);
	assert_true(harness_store_prefix(st, "keep.") >= 0);

	/* Both of its size: which is its memory is not known.  The pool is
	 * left out, and made fresh from the file. */
	crash(st);
	keep_ahead(st, NULL, other_pools_memfd(4 << 20, 'x'));
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") ||
	    !log_has(st, "the pool is not recovered")) {
		harness_store_print_log(st);
		fail_msg("pool a's keep twice of its size not left out");
	}
	expect_live_blocks(st, 0);
}

/*
 * Pool a's keep.<n> twice in the store, both of its size, beside pool
 * b's: a is left out, and said so; b comes back with its block.
 */
static void
keep_twice_loses_its_pool_alone(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_conn *c;
	struct pool *b;
	pool_off_t off, pb;

	start(st, STORE_FDS);
	/* The start's keep is a's, keep.1; b's comes after the journal. */
	store_drain(st);
	assert_true(harness_store_find(st, "keep.1") >= 0);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(b, 70000, &pb), 0);
	fill(b, pb, 70000, 'r');
	EXPECT_RC(pool_persist(b, pb), 0);
	pool_close(b);
	pool_disconnect(c);
	persist_one(st, &off);
	crash(st);
	keep_ahead(st, "keep.1", other_pools_memfd(4 << 20, 'x'));
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") ||
	    !log_has(st, "pool a: keep.1 twice in the fd store (2 of them, "
		     "2 of its 4194304 bytes): which is its memory is not "
		     "known, and the pool is not recovered") ||
	    !log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered")) {
		harness_store_print_log(st);
		fail_msg("pool b not recovered beside pool a left out");
	}
	expect_live_blocks(st, 0);	/* a: made fresh from the file */
	/* Neither of a's old memfds stays in the store: its fresh memory
	 * is kept under a number above them. */
	wait_removed(st, "keep.1");
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	expect_bytes(b, pb, 70000, 'r');
	assert_int_equal(harness_stats(b).persistent_blocks, 1);
	pool_close(b);
	pool_disconnect(c);
}

/*
 * Pool b made beside a, each with a block persisted and named: a's of
 * persist_one's bytes at *pa, named "a-kept", b's 70000 bytes of 'r' at
 * *pb, named "b-kept".  Everything the daemon sent is applied: a's keep is
 * keep.1 (the start's), b's the other one.
 */
static void
two_named_pools(struct harness_store *st, pool_off_t *pa, pool_off_t *pb)
{
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_conn *c;
	struct pool *a, *b;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(b, 70000, pb), 0);
	fill(b, *pb, 70000, 'r');
	EXPECT_RC(pool_publish(b, *pb, "b-kept"), 0);
	pool_close(b);
	pool_disconnect(c);
	persist_one(st, pa);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_publish(a, *pa, "a-kept"), 0);
	pool_close(a);
	pool_disconnect(c);
	store_drain(st);
	assert_true(harness_store_find(st, "keep.1") >= 0);
}

/* The one keep.<n> in the store but keep.1: pool b's of two_named_pools. */
static int
other_keep(const struct harness_store *st)
{
	unsigned k;
	int at = -1;

	for (k = 0; k < st->n; k++) {
		if (strncmp(st->name[k], "keep.", 5) != 0 ||
		    strcmp(st->name[k], "keep.1") == 0)
			continue;
		assert_int_equal(at, -1);
		at = (int)k;
	}
	assert_true(at >= 0);
	return at;
}

/*
 * Pool name, from c, has its block at off named name with len bytes of
 * byte, persisted by this uid alone: one block, one name.
 */
static void
expect_named(struct pool_conn *c, const char *pool, const char *name,
	     pool_off_t off, size_t len, int byte)
{
	struct pool_persisted *pp;
	struct pool_stats s;
	struct pool *p;
	size_t n, total;
	pool_off_t at;

	EXPECT_RC(pool_open(c, pool, &p), 0);
	EXPECT_RC(pool_lookup(p, name, &at, NULL), 0);
	assert_int_equal(at, off);
	expect_bytes(p, off, len, byte);
	EXPECT_RC(pool_stats(p, &s), 0);
	assert_int_equal(s.persistent_blocks, 1);
	assert_int_equal(s.named_blocks, 1);
	pool_close(p);
	EXPECT_RC(pool_persisted(c, pool, &pp, &n, &total), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pp[0].uid, getuid());
	assert_int_equal(pp[0].blocks, 1);
	free(pp);
}

/*
 * Pool a's keep.<n> gone from the store before a crash's start (the
 * store full, a push lost, an operator's removal), beside pool b's: a is
 * left out, and said so; b comes back with its block, its bytes and its
 * name.  a, which the file declares, is made fresh: no block, no name,
 * nothing charged to the uid that persisted in it.  Once ready, the old
 * names leave the store, and it holds a keep.<n> of each pool and the
 * journal, nothing else.  The daemon then stops cleanly, its exit status
 * 0: under ASan, a's state, left out, was freed.
 */
static void
keep_missing_loses_its_pool_alone(void **state)
{
	struct harness_store *st = *state;
	struct pool_persisted *pp;
	struct pool_conn *c;
	struct pool *a;
	pool_off_t pa, pb, at;
	size_t n, total;
	char old_journal[64], old_keep[64];
	unsigned k, keeps = 0;

	start(st, STORE_FDS);
	two_named_pools(st, &pa, &pb);
	crash(st);
	snprintf(old_journal, sizeof(old_journal), "%s", journal_in(st));
	snprintf(old_keep, sizeof(old_keep), "%s", st->name[other_keep(st)]);
	harness_store_drop(st, (unsigned)harness_store_find(st, "keep.1"));
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") ||
	    !log_has(st, "after a crash: pool a: keep.1 is not in the fd "
		     "store: its memory is lost, and the pool is not "
		     "recovered") ||
	    !log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered")) {
		harness_store_print_log(st);
		fail_msg("pool b not recovered beside pool a's keep missing");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	expect_named(c, "b", "b-kept", pb, 70000, 'r');
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_lookup(a, "a-kept", &at, NULL), -ENOENT);
	assert_int_equal(harness_stats(a).live_blocks, 0);
	assert_int_equal(harness_stats(a).named_blocks, 0);
	pool_close(a);
	EXPECT_RC(pool_persisted(c, "a", &pp, &n, &total), 0);
	assert_int_equal(n, 0);
	free(pp);
	pool_disconnect(c);
	wait_removed(st, old_journal);
	wait_removed(st, old_keep);
	store_drain(st);
	for (k = 0; k < st->n; k++)
		keeps += strncmp(st->name[k], "keep.", 5) == 0;
	assert_int_equal(keeps, 2);
	assert_int_equal(st->n, 3);
	assert_true(harness_store_journal(st) != NULL);
	/* A stop of its own: nothing of pool a's state leaks (ASan). */
	stop(st);
}

/*
 * Pool b's keep.<n> gone from the store before a crash's start: b, which
 * no file declares, is not there after it, and a is, with its block and
 * its name.  The journal the start wrote is sound: b made again under
 * its name, blocks persisted and named in both, a second crash recovers
 * them all, no keep missing.
 */
static void
keep_missing_then_crash(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 2 << 20};
	struct pool_stats s;
	struct pool_conn *c;
	struct pool *a, *b;
	pool_off_t pa, pb, qa, qb;
	char lost[192];
	int k;

	start(st, STORE_FDS);
	two_named_pools(st, &pa, &pb);
	crash(st);
	k = other_keep(st);
	snprintf(lost, sizeof(lost), "after a crash: pool b: %s is not in "
		 "the fd store: its memory is lost, and the pool is not "
		 "recovered", st->name[k]);
	harness_store_drop(st, (unsigned)k);
	start(st, STORE_FDS);
	if (log_has(st, "the journal is refused") || !log_has(st, lost) ||
	    !log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered")) {
		harness_store_print_log(st);
		fail_msg("pool a not recovered beside pool b's keep missing");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &s), -ENOENT);
	expect_named(c, "a", "a-kept", pa, 100000, 'z');

	/* b again, a block of each named, and a crash with nothing lost. */
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_open(c, "b", &b), 0);
	EXPECT_RC(pool_alloc(b, 30000, &qb), 0);
	fill(b, qb, 30000, 'u');
	EXPECT_RC(pool_publish(b, qb, "b-again"), 0);
	pool_close(b);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 20000, &qa), 0);
	fill(a, qa, 20000, 'v');
	EXPECT_RC(pool_publish(a, qa, "a-more"), 0);
	pool_close(a);
	pool_disconnect(c);
	crash_recover(st, STORE_FDS, "after a crash: 2 pools and 3 persistent "
		      "blocks recovered", "the second crash not recovered");
	if (harness_store_log_count(st, "the pool is not recovered") != 1 ||
	    log_has(st, "the journal is refused")) {
		harness_store_print_log(st);
		fail_msg("the second crash lost a pool");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	expect_named(c, "b", "b-again", qb, 30000, 'u');
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_lookup(a, "a-kept", &pb, NULL), 0);
	assert_int_equal(pb, pa);
	expect_bytes(a, pa, 100000, 'z');
	EXPECT_RC(pool_lookup(a, "a-more", &pb, NULL), 0);
	assert_int_equal(pb, qa);
	expect_bytes(a, qa, 20000, 'v');
	assert_int_equal(harness_stats(a).persistent_blocks, 2);
	pool_close(a);
	pool_disconnect(c);
}

/*
 * Journals whose records are whole but say what cannot be: an unpersist
 * of no persistent block, a block over the persistent one, a pool whose
 * keep.<n> in the store is not its memory (a memfd of another size; one
 * the store lost loses its pool alone: keep_missing_*).  Each is refused
 * whole.
 */
static void
inconsistent_refused(void **state)
{
	struct harness_store *st = *state;
	uint64_t w[8] = {0};
	pool_off_t off;
	int k;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	w[2] = off + 4096;
	journal_add(st, JREC_UNPERSIST, w, 4);
	expect_refused(st, "is not persistent");

	persist_one(st, &off);
	crash(st);
	memset(w, 0, sizeof(w));
	w[2] = off + 64;	/* inside the block persisted */
	w[3] = 64;
	w[4] = 64;
	journal_add(st, JREC_PERSIST, w, 8);
	expect_refused(st, "out of place");

	persist_one(st, &off);
	crash(st);
	k = harness_store_prefix(st, "keep.");
	assert_true(k >= 0);
	close(st->fd[k]);
	st->fd[k] = other_pools_memfd(1 << 20, 'x');
	expect_refused(st, "is not its memfd");
}

/*
 * The daemon binds its socket once a run, and its journal says so once,
 * at the end of the snapshot: a second socket record after the change
 * records (a path of its own) refuses the journal whole.
 */
static void
socket_twice_refused(void **state)
{
	struct harness_store *st = *state;
	static const char path[] = "/tmp/elsewhere.sock";
	uint64_t w[JREC_MAX_WORDS] = {0};
	unsigned n = 4 + (sizeof(path) - 1 + 7) / 8;
	pool_off_t off;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	/* w[1], the mode, is what journal_add puts there: a small keep. */
	w[2] = sizeof(path) - 1;
	memcpy(&w[3], path, sizeof(path) - 1);
	journal_add(st, JREC_SOCKET, w, n);
	expect_refused(st, "a socket record past the snapshot");
}

/*
 * Pool b made and destroyed, a block persisted and freed; then enough
 * persist/free rounds that the journal is compacted (a newer journal.<n>
 * replaces the old): neither comes back, the kept block does.
 */
static void
gone_stays_gone(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;
	pool_off_t keep, x;
	char first[64];
	unsigned i;

	start(st, STORE_FDS);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	EXPECT_RC(pool_destroy(c, "b"), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 5000, &keep), 0);
	fill(a, keep, 5000, 'k');
	EXPECT_RC(pool_persist(a, keep), 0);
	store_drain(st);
	snprintf(first, sizeof(first), "%s", journal_in(st));
	for (i = 0; i < 12000; i++) {
		EXPECT_RC(pool_alloc(a, 64, &x), 0);
		EXPECT_RC(pool_persist(a, x), 0);
		EXPECT_RC(pool_free(a, x), 0);	/* the holder's reference */
		EXPECT_RC(pool_free(a, x), 0);	/* unpersisted, freed */
	}
	EXPECT_RC(pool_alloc(a, 64, &x), 0);
	EXPECT_RC(pool_persist(a, x), 0);
	EXPECT_RC(pool_free(a, x), 0);
	EXPECT_RC(pool_free(a, x), 0);
	store_drain(st);
	print_message("journal %s, then %s\n", first, journal_in(st));
	assert_int_equal(harness_store_find(st, first), -1);	/* compacted */
	crash_recover(st, STORE_FDS,
		      "1 pool and 1 persistent block recovered",
		      "not exactly pool a and its one block");
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &s), -ENOENT);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_stats(a, &s), 0);
	assert_int_equal(s.live_blocks, 1);
	expect_bytes(a, keep, 5000, 'k');
	pool_close(a);
	pool_disconnect(c);
}

/*
 * The pool's memfd as pool.0 and as keep.<n>: one file, but descriptors
 * systemd tells apart, with kcmp(2) (two open files) or without it (their
 * status flags differ), so that it stores both.
 */
static void
kept_apart(const struct harness_store *st)
{
	int p = harness_store_find(st, "pool.0");
	int k = harness_store_prefix(st, "keep.");
	struct stat a, b;

	assert_true(p >= 0 && k >= 0);
	assert_int_equal(fstat(st->fd[p], &a), 0);
	assert_int_equal(fstat(st->fd[k], &b), 0);
	assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	assert_int_not_equal(fcntl(st->fd[p], F_GETFL) & O_NONBLOCK,
			     fcntl(st->fd[k], F_GETFL) & O_NONBLOCK);
}

static void
planned_then_crash(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;
	pool_off_t off, more;

	start(st, STORE_FDS);
	persist_one(st, &off);
	stop(st);
	assert_true(harness_store_find(st, "state") >= 0);
	kept_apart(st);
	start(st, STORE_FDS);
	assert_true(log_has(st, "restored from systemd's fd store: 1 pool"));
	wait_removed(st, "state");
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 3000, &more), 0);
	fill(a, more, 3000, 'w');
	EXPECT_RC(pool_persist(a, more), 0);
	crash_recover(st, STORE_FDS,
		      "1 pool and 2 persistent blocks recovered",
		      "no recovery after the planned restart");
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	expect_bytes(a, off, 100000, 'z');
	expect_bytes(a, more, 3000, 'w');
	EXPECT_RC(pool_stats(a, &s), 0);
	assert_int_equal(s.live_blocks, 2);
	pool_close(a);
	pool_disconnect(c);
}

/* Components of a directory whose path passes PATH_MAX, and their length. */
#define DEEP_LEVELS	18
#define DEEP_NAME	240

/*
 * Into a new directory under st's whose path is longer than PATH_MAX,
 * made a component at a time (no path names it whole), with a copy of
 * the daemon's binary in it: the working directory then.  top: where
 * the test was, to go back to.
 */
static void
deep_binary(const struct harness_store *st, char *top, size_t len)
{
	char name[DEEP_NAME + 1], bin[PATH_MAX], cmd[PATH_MAX + 32];
	unsigned i;

	assert_non_null(getcwd(top, len));
	assert_non_null(realpath(harness_build(), bin));
	assert_int_equal(chdir(st->dir), 0);
	memset(name, 'd', DEEP_NAME);
	name[DEEP_NAME] = '\0';
	for (i = 0; i < DEEP_LEVELS; i++) {
		assert_int_equal(mkdir(name, 0755), 0);
		assert_int_equal(chdir(name), 0);
	}
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd poolmgrd", bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
}

/*
 * A daemon that cannot know its binary (readlink of /proc/self/exe fails
 * for a path past PATH_MAX) has nothing to probe: SIGTERM still leaves
 * its state in the store, and the start after restores it.
 */
static void
planned_unknown_binary(void **state)
{
	struct harness_store *st = *state;
	const char *b = getenv("POOLMGR_BUILD");
	char top[PATH_MAX], *was = b ? strdup(b) : NULL;
	pool_off_t off;

	deep_binary(st, top, sizeof(top));
	setenv("POOLMGR_BUILD", ".", 1);
	start(st, STORE_FDS);
	if (was)
		setenv("POOLMGR_BUILD", was, 1);
	else
		unsetenv("POOLMGR_BUILD");
	free(was);
	assert_int_equal(chdir(top), 0);
	assert_true(log_has(st, "the daemon's binary is not known"));
	persist_one(st, &off);
	stop(st);
	if (harness_store_find(st, "state") < 0) {
		harness_store_print_log(st);
		fail_msg("no state in the store after the stop");
	}
	start(st, STORE_FDS);
	assert_true(log_has(st, "restored from systemd's fd store: 1 pool"));
	expect_kept(st, off);
}

/* A persistent block grown in place comes back at its new size. */
static void
resized_persistent_kept(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *a;
	pool_off_t off, to;
	uint64_t grown;

	start(st, STORE_FDS);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 16384, &off), 0);
	EXPECT_RC(pool_persist(a, off), 0);
	EXPECT_RC(pool_realloc(a, off, 32768, &to), 0);
	assert_int_equal(to, off);	/* persistent: in place or not at all */
	grown = usable(a, off);
	assert_true(grown >= 32768);
	fill(a, off, grown, 'g');
	crash_recover(st, STORE_FDS,
		      "1 pool and 1 persistent block recovered", "no recovery");
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	assert_int_equal(usable(a, off), grown);
	expect_bytes(a, off, grown, 'g');
	pool_close(a);
	pool_disconnect(c);
}

/*
 * SIGUSR2 under systemd: the executed image starts a journal of its own
 * and takes the old one out of the store (it learns its name from the
 * environment); a crash after it recovers.
 */
static void
restart_in_place_then_crash(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, STORE_FDS);
	persist_one(st, &off);
	restart_journal_replaced(st);
	(void)journal_in(st);
	crash_recover(st, STORE_FDS,
		      "1 pool and 1 persistent block recovered",
		      "no recovery after a restart in place");
	expect_kept(st, off);
}

/*
 * A stop that frees everything (the store too small for a planned stop's
 * descriptors, big enough for the journal's) takes the journal out of
 * the store: a unit restarted after it (Restart=always) starts fresh.
 */
static void
clean_stop_forgets(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, "4");
	persist_one(st, &off);
	(void)journal_in(st);
	stop(st);
	assert_true(log_has(st, "nothing left in the fd store"));
	assert_int_equal(st->n, 0);
	start(st, "4");
	expect_live_blocks(st, 0);
}

/*
 * Started by poolmgrd.socket: the recovered daemon serves on the socket
 * systemd passed (binds none of its own) and leaves it at its stop.
 */
static void
socket_activated_crash(void **state)
{
	struct harness_store *st = *state;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat sb;
	pool_off_t off;

	st->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(st->lfd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", st->sock);
	assert_int_equal(bind(st->lfd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(listen(st->lfd, 16), 0);
	start(st, STORE_FDS);
	persist_one(st, &off);
	crash_recover(st, STORE_FDS,
		      "1 pool and 1 persistent block recovered",
		      "no recovery under socket activation");
	expect_kept(st, off);
	stop(st);
	/* Its socket, systemd's: not unlinked at the stop. */
	assert_int_equal(stat(st->sock, &sb), 0);
}

static void
write_config(const struct harness_store *st, const char *text)
{
	FILE *f = fopen(st->conf, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * A file that no longer loads must not cost the pools a crash kept: the
 * start recovers them with the journal's settings, serves on the socket
 * it was told (--socket), and a SIGHUP with the file fixed applies it.
 */
static void
broken_config_kept(void **state)
{
	struct harness_store *st = *state;
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;
	pool_off_t off;

	start(st, STORE_FDS);
	persist_one(st, &off);
	crash(st);
	write_config(st, "[pool a]\nsize = 4Q\n");
	start(st, STORE_FDS);
	if (!log_has(st, "1 pool and 1 persistent block recovered") ||
	    !log_has(st, "bad size '4Q' in [pool a] (a number of bytes, "
		     "optionally followed by K, M, G or T: 64M); kept the "
		     "restored settings")) {
		harness_store_print_log(st);
		fail_msg("no recovery with a broken file");
	}
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	expect_bytes(a, off, 100000, 'z');
	EXPECT_RC(pool_stats_by_name(c, "b", &s), -ENOENT);

	write_config(st, CONFIG "[pool b]\nsize = 1M\n");
	signalled_ready(st, SIGHUP);
	EXPECT_RC(pool_stats_by_name(c, "b", &s), 0);
	assert_int_equal(s.max_size, 1 << 20);
	pool_close(a);
	pool_disconnect(c);
	stop(st);
}

static void
no_store_no_journal(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, NULL);
	persist_one(st, &off);
	store_drain(st);
	assert_int_equal(st->n, 0);
	crash(st);
	start(st, NULL);
	expect_live_blocks(st, 0);
}

/*
 * FDSTORE=6: pool a's keep.<n> and the journal, and room for as many
 * again (a restart writes its own before the old ones leave).  Pools are
 * made until the store would be full; then a compaction's new journal
 * must still go in (a store that is full drops it without a word, and
 * the old one has left by then): after a crash, a and b come back, with
 * a's persistent block.
 */
static void
small_store_compacts(void **state)
{
	struct harness_store *st = *state;
	struct pool_create_opts o = {.max_size = 1 << 20};
	static const char *more[] = {"b", "c", "d", "e"};
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;
	pool_off_t keep, x;
	unsigned i;

	start(st, "6");
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	for (i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		EXPECT_RC(pool_create(c, more[i], &o), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 5000, &keep), 0);
	fill(a, keep, 5000, 'k');
	EXPECT_RC(pool_persist(a, keep), 0);
	store_drain(st);
	assert_true(st->n <= 6);
	for (i = 0; i < 12000; i++) {
		EXPECT_RC(pool_alloc(a, 64, &x), 0);
		EXPECT_RC(pool_persist(a, x), 0);
		EXPECT_RC(pool_free(a, x), 0);
		EXPECT_RC(pool_free(a, x), 0);
	}
	store_drain(st);
	if (harness_store_prefix(st, "journal.") < 0) {
		harness_store_print_log(st);
		fail_msg("the compaction's journal did not fit the store");
	}
	crash_recover(st, "6", "2 pools and 1 persistent block recovered",
		      "not pools a and b and a's block");
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "b", &s), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	expect_bytes(a, keep, 5000, 'k');
	pool_close(a);
	pool_disconnect(c);
}

/*
 * FDSTORE=6: a planned stop leaves the state, the daemon's own socket,
 * pool.0, keep.<n> and the journal, 5.  The next start's keep.<n> and
 * journal go in while those are still there (they leave once it is
 * ready): a push to the full store is dropped without a word, and the
 * start must not count on it.  A crash after it still recovers a's block.
 */
static void
small_store_planned(void **state)
{
	struct harness_store *st = *state;
	char old[HARNESS_STORE_MAX][64];
	pool_off_t off;
	long long end;
	unsigned i, n;

	start(st, "6");
	persist_one(st, &off);
	stop(st);
	assert_true(log_has(st, "to keep in systemd's fd store"));
	n = st->n;
	memcpy(old, st->name, sizeof(old));
	start(st, "6");
	assert_true(log_has(st, "restored from systemd's fd store: 1 pool"));
	for (i = 0; i < n; i++)
		wait_removed(st, old[i]);
	/* Then a journal, which may come after the old names left. */
	end = now_ms() + WAIT_MS;
	while (harness_store_prefix(st, "journal.") < 0 && now_ms() < end)
		(void)store_recv(st, 100, NULL);
	if (harness_store_prefix(st, "journal.") < 0) {
		harness_store_print_log(st);
		fail_msg("the restored daemon's journal is not in the store");
	}
	crash_recover(st, "6", "1 pool and 1 persistent block recovered",
		      "no recovery after the planned restart");
	expect_kept(st, off);
}

/* The daemon's RLIMIT_FSIZE, soft; the hard one stays unlimited. */
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

/*
 * The store's journal and keeps passed by hand, FDSTORE= unset: the pools
 * are recovered (they are all there), and nothing goes to a store that
 * is not there to keep it.
 */
static void
recovered_without_store(void **state)
{
	struct harness_store *st = *state;
	pool_off_t off;

	start(st, STORE_FDS);
	persist_one(st, &off);
	(void)journal_in(st);
	crash(st);
	st->pushed = 0;
	start(st, NULL);
	if (!log_has(st, "after a crash: 1 pool and 1 persistent block "
		     "recovered") ||
	    !log_has(st, "no fd store (FDSTORE= unset)")) {
		harness_store_print_log(st);
		fail_msg("not recovered without FDSTORE=");
	}
	expect_kept(st, off);
	persist_one(st, &off);
	store_drain(st);
	assert_int_equal(st->pushed, 0);
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

/* An access control list on the wire, with room for its entries. */
struct wire_acl {
	Poolmgr__Acl acl;
	Poolmgr__AclEntry e[8], *p[8];
};

/* Entries {kind, id, rights} of v, n of them, as a message in w. */
static Poolmgr__Acl *
wire_acl(struct wire_acl *w, const uint32_t (*v)[3], size_t n)
{
	size_t i;

	assert_true(n <= 8);
	poolmgr__acl__init(&w->acl);
	for (i = 0; i < n; i++) {
		poolmgr__acl_entry__init(&w->e[i]);
		w->e[i].kind = v[i][0];
		w->e[i].id = v[i][1];
		w->e[i].rights = v[i][2];
		w->p[i] = &w->e[i];
	}
	w->acl.n_entries = n;
	w->acl.entries = w->p;
	return &w->acl;
}

/*
 * The pool of the access control tests: "c", 1 MiB, mode 0604 (others
 * may read), made by a raw CreatePool with the list v of n entries.
 */
static void
acl_pool_make(int fd, const uint32_t (*v)[3], size_t n)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	struct wire_acl w;

	m.name = "c";
	m.max_size = 1 << 20;
	m.mode = 0604;
	m.acl = wire_acl(&w, v, n);
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &m;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
}

/* A SetPool of pool c: each of its lists NULL or set. */
static void
acl_pool_set(int fd, Poolmgr__Acl *acl, Poolmgr__Acl *modify,
	     Poolmgr__Acl *remove)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool m = POOLMGR__SET_POOL__INIT;

	m.name = "c";
	m.acl = acl;
	m.acl_modify = modify;
	m.acl_remove = remove;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &m;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
}

/* Pool c's list as PoolStats says it: "user:ID:RIGHTS,..." or "none". */
static void
acl_said(int fd, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	size_t i, at = 0;

	m.name = "c";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_STATS);
	snprintf(buf, len, "none");
	for (i = 0; rep->stats->acl && i < rep->stats->acl->n_entries; i++) {
		const Poolmgr__AclEntry *e = rep->stats->acl->entries[i];

		at += (size_t)snprintf(buf + at, len - at, "%s%s:%u:%u",
				       i ? "," : "",
				       e->kind == 1 ? "user" : "group",
				       (unsigned)e->id, (unsigned)e->rights);
		assert_true(at < len);
	}
	poolmgr__reply__free_unpacked(rep, NULL);
}

/* What a process of another uid tries: open pool c, so. */
struct acl_try {
	const char *sock;
	bool read_only;
};

/* In the child: 0 if let in, 13 if refused EACCES, else 99. */
static int
acl_try_child(void *arg)
{
	const struct acl_try *t = arg;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	int fd = harness_raw_greeted(t->sock, "acl"), rc;

	if (fd < 0)
		return 99;
	m.name = "c";
	m.read_only = t->read_only;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	rc = harness_raw_error(fd, &req, NULL);
	close(fd);
	return rc == 0 ? 0 : rc == -EACCES ? 13 : 99;
}

/*
 * Does a process of uid and gid (and no other group) open pool c, read-
 * only or not: 0, or -EACCES.
 */
static int
acl_open_as(struct harness_store *st, uid_t uid, gid_t gid, bool read_only)
{
	struct acl_try t = {.sock = st->sock, .read_only = read_only};
	pid_t pid = harness_spawn_as(uid, gid, acl_try_child, &t);
	int rc;

	assert_true(pid > 0);
	rc = harness_wait(pid);
	if (rc != 0 && rc != 13)
		fail_msg("uid %u opening pool c: exit %d, neither let in nor "
			 "refused", (unsigned)uid, rc);
	return rc ? -EACCES : 0;
}

#define ACL_LIST	"user:4242:6,user:4646:0,group:4545:4"

/*
 * Pool c's list is list, which holds ACL_LIST's entries (and maybe others
 * of other ids): under mode 0604, 4242 may write (the mode alone would
 * let it read only), 4646 may not even read (its entry refuses, though
 * others may and its group may), group 4545 may read, not write.
 */
static void
acl_expect_rules(struct harness_store *st, const char *list)
{
	char said[256];
	int fd = harness_raw_greeted(st->sock, "admin");

	assert_true(fd >= 0);
	acl_said(fd, said, sizeof(said));
	close(fd);
	assert_string_equal(said, list);
	assert_int_equal(acl_open_as(st, 4242, 4242, false), 0);
	assert_int_equal(acl_open_as(st, 4646, 4545, true), -EACCES);
	assert_int_equal(acl_open_as(st, 4747, 4545, true), 0);
	assert_int_equal(acl_open_as(st, 4747, 4545, false), -EACCES);
}

/* The store's directory open to the test's other uids: they connect. */
static void
acl_start(struct harness_store *st)
{
	assert_int_equal(chmod(st->dir, 0755), 0);
	start(st, STORE_FDS);
}

static void
acl_recover(struct harness_store *st)
{
	crash_recover(st, STORE_FDS, "after a crash: 2 pools", "no recovery");
}

static void
acl_kept_across_crashes(void **state)
{
	static const uint32_t made[][3] = {
		{2, 4444, 4}, {1, 4242, 6}, {1, 4343, 4}, {1, 4646, 4},
	};
	static const uint32_t set[][3] = {{1, 4646, 0}, {2, 4545, 4}};
	static const uint32_t gone[][3] = {{1, 4343, 0}, {2, 4444, 0}};
	struct harness_store *st = *state;
	struct wire_acl w1, w2;
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool quota = POOLMGR__SET_POOL__INIT;
	char said[256];
	int fd;

	/* Made with a list: after the pool's record, sorted. */
	acl_start(st);
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	acl_pool_make(fd, made, 4);
	close(fd);
	acl_recover(st);
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	acl_said(fd, said, sizeof(said));
	assert_string_equal(said, "user:4242:6,user:4343:4,user:4646:4,"
			    "group:4444:4");
	assert_int_equal(acl_open_as(st, 4242, 4242, false), 0);

	/* Entries removed and set, then a change of another setting. */
	acl_pool_set(fd, NULL, wire_acl(&w1, set, 2), wire_acl(&w2, gone, 2));
	quota.name = "c";
	quota.set_quota_case = POOLMGR__SET_POOL__SET_QUOTA_QUOTA;
	quota.quota = 512 * 1024;
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &quota;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
	close(fd);
	acl_expect_rules(st, ACL_LIST);
	acl_recover(st);
	acl_expect_rules(st, ACL_LIST);

	/* Emptied: a record of no entry; the mode alone decides then. */
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	acl_pool_set(fd, wire_acl(&w1, NULL, 0), NULL, NULL);
	close(fd);
	acl_recover(st);
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	acl_said(fd, said, sizeof(said));
	close(fd);
	assert_string_equal(said, "none");
	assert_int_equal(acl_open_as(st, 4242, 4242, false), -EACCES);
	assert_int_equal(acl_open_as(st, 4646, 4545, true), 0);
}

static void
acl_kept_across_restarts(void **state)
{
	static const uint32_t made[][3] = {
		{2, 4545, 4}, {1, 4646, 0}, {1, 4242, 6},
	};
	struct harness_store *st = *state;
	int fd;

	acl_start(st);
	assert_true((fd = harness_raw_greeted(st->sock, "admin")) >= 0);
	acl_pool_make(fd, made, 3);
	close(fd);

	/* In place: the state the new image reads, then its journal. */
	restart_journal_replaced(st);
	acl_expect_rules(st, ACL_LIST);

	/* A planned stop's state in the store, and a start from it. */
	stop(st);
	assert_true(harness_store_find(st, "state") >= 0);
	start(st, STORE_FDS);
	assert_true(log_has(st, "restored from systemd's fd store: 2 pools"));
	wait_removed(st, "state");
	acl_expect_rules(st, ACL_LIST);

	/* The restored daemon's own journal. */
	acl_recover(st);
	acl_expect_rules(st, ACL_LIST);
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

/* The daemon's kept connections, as its statistics say them. */
static uint32_t
kept_now(const struct harness_store *st)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	pool_disconnect(c);
	return ds.kept_connections;
}

/*
 * A connection that opens pool a, reads none of the reply (its memfd in
 * flight) and sends what does not decode: the daemon lets it go, and
 * keeps it.  Its socket, which the caller closes.
 */
static int
kept_connection(const struct harness_store *st)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	struct pollfd pfd;
	int fd = harness_raw_greeted(st->sock, "held");

	assert_true(fd >= 0);
	o.name = "a";
	o.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);	/* left unread */
	assert_int_equal(send(fd, "\xff\xff\xff", 3, MSG_NOSIGNAL), 3);
	pfd = (struct pollfd){.fd = fd, .events = POLLRDHUP};
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);	/* let go of */
	return fd;
}

/*
 * Is the kept connection in the store, once what the daemon sent is
 * applied?  A round trip first: the daemon has sent what came before.
 */
static bool
kept_in_store(struct harness_store *st, uint32_t *kept)
{
	*kept = kept_now(st);
	store_drain(st);
	return harness_store_find(st, "unread.0") >= 0;
}

/* The daemon counts n kept connections, and unread.0 is stored or not. */
static void
expect_kept_count(struct harness_store *st, bool stored, uint32_t n)
{
	uint32_t kept;

	if (stored)
		assert_true(kept_in_store(st, &kept));
	else
		assert_false(kept_in_store(st, &kept));
	assert_int_equal(kept, n);
}

/*
 * A start on the store (FDSTORE= STORE_FDS) and a connection it keeps,
 * which is in the store: its socket, and the kept connections the daemon
 * counts in *kept.
 */
static int
start_with_kept(struct harness_store *st, uint32_t *kept)
{
	int fd;

	start(st, STORE_FDS);
	fd = kept_connection(st);
	assert_true(kept_in_store(st, kept));
	return fd;
}

/*
 * A connection let go of while its client had a descriptor unread is
 * kept, counted as its uid's, for the kernel counts the descriptor
 * against the daemon's uid until it is read.  A crash closed it, and the
 * next image counted nothing while the descriptor stayed in flight: its
 * client could connect again and leave as many more.  Now it is in the
 * store from the moment it is kept, and every image after takes it back
 * and leaves it there: after a crash, another crash, a restart in place
 * and a planned stop.  When its client closes, it leaves the store.
 */
static void
kept_connection_survives_crashes(void **state)
{
	struct harness_store *st = *state;
	uint32_t kept;
	int fd;

	fd = start_with_kept(st, &kept);
	assert_int_equal(kept, 1);

	for (int i = 0; i < 2; i++) {
		crash(st);
		start(st, STORE_FDS);
		expect_kept_count(st, true, 1);
	}

	assert_int_equal(kill(st->pid, SIGUSR2), 0);
	assert_int_equal(harness_store_wait(st, "READY=1", WAIT_MS), 0);
	expect_kept_count(st, true, 1);

	stop(st);
	assert_true(harness_store_find(st, "state") >= 0);
	assert_true(harness_store_find(st, "unread.0") >= 0);
	start(st, STORE_FDS);
	assert_true(log_has(st, "restored from systemd's fd store: 1 pool"));
	wait_removed(st, "state");
	expect_kept_count(st, true, 1);

	close(fd);
	expect_kept_count(st, false, 0);
	crash(st);
	start(st, STORE_FDS);
	assert_int_equal(kept_now(st), 0);
}

/*
 * FDSTORE= that leaves the kept connections room for one: what a stop
 * and the crash journal may need of the store (daemon/peer_store.c),
 * and one.
 */
#define KEPT_ROOM_1	"773"

/*
 * Two connections kept where the store has room for one: the second is
 * kept without the store, and the log says a crash forgets it.  Its
 * client closes the first, which leaves the store, and a restart in
 * place hands the second to the new image.  That image took every kept
 * connection an exec handed it for stored, so a crash then forgot the
 * second though the store had room for it.  Now the new image pushes
 * them, and the one after the crash counts it.
 */
static void
kept_connection_pushed_after_exec(void **state)
{
	struct harness_store *st = *state;
	int first, second;

	start(st, KEPT_ROOM_1);
	first = kept_connection(st);
	second = kept_connection(st);
	expect_kept_count(st, true, 2);
	assert_int_equal(harness_store_find(st, "unread.1"), -1);
	assert_true(log_has(st, "is not in the fd store"));

	close(first);
	expect_kept_count(st, false, 1);

	assert_int_equal(kill(st->pid, SIGUSR2), 0);
	assert_int_equal(harness_store_wait(st, "READY=1", WAIT_MS), 0);
	assert_int_equal(kept_now(st), 1);
	store_drain(st);
	assert_true(harness_store_find(st, "unread.1") >= 0);

	crash(st);
	start(st, KEPT_ROOM_1);
	assert_int_equal(kept_now(st), 1);
	close(second);
	assert_int_equal(kept_now(st), 0);
	store_drain(st);
	assert_int_equal(harness_store_find(st, "unread.1"), -1);
}

/*
 * systemd drops, without a word, a descriptor pushed to a full store: a
 * kept connection the daemon took for stored may not be there (a unit
 * whose FileDescriptorStoreMax= is below the FDSTORE= it sets, or a store
 * fuller than the daemon counts).  A planned stop pushed only those it
 * took for missing, and the start after it counted none.  Now the stop
 * pushes every one; the store keeps what it holds already once.
 */
static void
kept_connection_pushed_at_stop(void **state)
{
	struct harness_store *st = *state;
	uint32_t kept;
	int fd;

	fd = start_with_kept(st, &kept);
	harness_store_drop(st, (unsigned)harness_store_find(st, "unread.0"));

	stop(st);
	assert_true(harness_store_find(st, "unread.0") >= 0);
	start(st, STORE_FDS);
	assert_int_equal(kept_now(st), 1);
	close(fd);
	assert_int_equal(kept_now(st), 0);
}

/*
 * Kept connections made while systemd reads no notification: the kernel
 * queues 10, the daemon 64 more (notify.c), and every push after those
 * is refused.
 */
#define KEPT_FLOOD	100

/*
 * While systemd reads no notification, the daemon queues what it would
 * send, and refuses a descriptor once 64 wait (notify.c).  Each kept
 * connection's push took a place there, as many as clients cared to
 * misbehave: a pool made meanwhile found none for its keep.<n> (a crash
 * would lose it), as a stop's pushes would have (and the stop freed
 * everything).  Now the kept connections take at most half of those
 * places.  Those refused are said within the log's rate limit (10 lines
 * a kind in 10 s, then a count), where each took a line of its own.
 */
static void
kept_connections_leave_the_journal_room(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct harness_store *st = *state;
	struct pool_conn *c;
	int fd[KEPT_FLOOD];
	unsigned i, lines;

	start(st, STORE_FDS);
	/* From here the store reads nothing. */
	for (i = 0; i < KEPT_FLOOD; i++)
		fd[i] = kept_connection(st);
	assert_int_equal(kept_now(st), KEPT_FLOOD);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_create(c, "b", &o), 0);
	pool_disconnect(c);
	assert_int_equal(kept_now(st), KEPT_FLOOD);
	if (log_has(st, "pool b: not kept")) {
		harness_store_print_log(st);
		fail_msg("pool b's keep found no room");
	}
	lines = harness_store_log_count(st, "not pushed") +
	    harness_store_log_count(st, "is not in the fd store");
	if (lines > 2 * 10)
		fail_msg("%u lines of refused pushes", lines);

	harness_store_drain(st);
	assert_true(harness_store_prefix(st, "keep.") >= 0);
	for (i = 0; i < KEPT_FLOOD; i++)
		close(fd[i]);
	/* Each request looks at 16 of them, in turn (dispatch_status.c). */
	for (i = 0; i < KEPT_FLOOD / 16; i++)
		(void)kept_now(st);
	assert_int_equal(kept_now(st), 0);
}

/*
 * SIGHUPs, each applied before the next, until the daemon drops a
 * notification: the store reads none, and the daemon's queue for it is
 * full (1024 wait, notify.c), so that each removal is refused.  A reload
 * is two notifications (RELOADING=1, READY=1) that each must go.
 */
static void
notifications_full(struct harness_store *st)
{
	FILE *log = fopen(st->log, "r");
	unsigned sent = 0, applied = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	assert_non_null(log);
	for (;;) {
		if (applied == sent) {
			assert_int_equal(kill(st->pid, SIGHUP), 0);
			sent++;
		}
		/* The log read on as it grows; a line is taken whole. */
		if ((len = getline(&line, &cap, log)) <= 0 ||
		    line[len - 1] != '\n') {
			if (len > 0)
				assert_int_equal(fseek(log, -len, SEEK_CUR), 0);
			clearerr(log);
			(void)poll(NULL, 0, 1);
			continue;
		}
		if (strstr(line, "notifications wait for systemd"))
			break;
		applied += strstr(line, "SIGHUP: reloading") != NULL;
	}
	free(line);
	fclose(log);
}

/*
 * A kept connection whose client closed while the daemon's queue for
 * systemd was full: its removal from the store was refused, and nothing
 * asked again, so unread.<id> stayed there, its socket held by systemd,
 * until a later start swept it; meanwhile its id was free again, and the
 * next kept connection was pushed under the same name, which a removal
 * takes out whole.  Now the daemon asks again after a wait, and keeps
 * the id until the store has been asked: once systemd reads, unread.0
 * leaves the store.
 */
static void
kept_connection_removal_retried(void **state)
{
	struct harness_store *st = *state;
	uint32_t kept;
	int fd;

	fd = start_with_kept(st, &kept);
	assert_int_equal(kept, 1);

	/* From here the store reads nothing. */
	notifications_full(st);
	close(fd);
	assert_int_equal(kept_now(st), 0);
	expect_logged(st, "cannot remove unread.0",
		      "the removal of unread.0 was not refused");

	wait_removed(st, "unread.0");
	assert_int_equal(kept_now(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(crash_keeps_persistent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(torn_tail_ignored, setup,
						teardown),
		cmocka_unit_test_setup_teardown(corrupt_body_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(inconsistent_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(socket_twice_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(gone_stays_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(planned_then_crash, setup,
						teardown),
		cmocka_unit_test_setup_teardown(planned_unknown_binary, setup,
						teardown),
		cmocka_unit_test_setup_teardown(resized_persistent_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(restart_in_place_then_crash,
						setup, teardown),
		cmocka_unit_test_setup_teardown(clean_stop_forgets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(socket_activated_crash, setup,
						teardown),
		cmocka_unit_test_setup_teardown(broken_config_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(no_store_no_journal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(small_store_compacts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(small_store_planned, setup,
						teardown),
		cmocka_unit_test_setup_teardown(failed_write_resumes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(start_journal_retried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(recovered_without_store, setup,
						teardown),
		cmocka_unit_test_setup_teardown(crash_while_compacting, setup,
						teardown),
		cmocka_unit_test_setup_teardown(persisted_while_compacting,
						setup, teardown),
		cmocka_unit_test_setup_teardown(crash_while_rebuilding, setup,
						teardown),
		cmocka_unit_test_setup_teardown(persisted_while_rebuilding,
						setup, teardown),
		cmocka_unit_test_setup_teardown(acl_kept_across_crashes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(acl_kept_across_restarts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(keep_twice_by_size, setup,
						teardown),
		cmocka_unit_test_setup_teardown(keep_twice_loses_its_pool_alone,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			keep_missing_loses_its_pool_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(keep_missing_then_crash, setup,
						teardown),
		cmocka_unit_test_setup_teardown(acl_set_whole_or_none, setup,
						teardown),
		cmocka_unit_test_setup_teardown(kept_connection_survives_crashes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(kept_connection_pushed_after_exec,
						setup, teardown),
		cmocka_unit_test_setup_teardown(kept_connection_pushed_at_stop,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			kept_connections_leave_the_journal_room, setup,
			teardown),
		cmocka_unit_test_setup_teardown(kept_connection_removal_retried,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("a crash under systemd", tests,
					   NULL, NULL);
}
