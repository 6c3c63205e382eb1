/*
 * itest_recover.c - a crash of poolmgrd under systemd keeps its pools and
 * their persistent blocks (the crash journal, docs/design.md): what the
 * journal's records bring back, the checks that refuse them, and the
 * stops and restarts a crash may come after.  What the fd store holds
 * and passes back is itest_recover_store.c's, a crash in the middle of a
 * change itest_recover_midway.c's; the store played as systemd plays it,
 * the daemon on it and the blocks persisted are recover_util.h's.
 *
 * The daemon binds its own socket, but in socket_activated_crash.  What
 * must come back is what survives every client's disconnect: each pool,
 * its settings, its persistent blocks at their offsets with their bytes;
 * everything else is free again.
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
 *   socket_activated_crash   a crash and its recovery with
 *                            poolmgrd.socket's socket;
 *   broken_config_kept       the file broken before the start after the
 *                            crash: recovered all the same, the file's
 *                            error logged, a SIGHUP applies it fixed;
 *   acl_kept_across_crashes  a pool made with an access control list
 *                            (given out of order), a crash: PoolStats
 *                            says it, sorted; entries removed and set,
 *                            its quota changed, a crash: the same list,
 *                            and processes of other uids let in and kept
 *                            out as before; the list emptied, a crash:
 *                            none, the mode alone decides;
 *   acl_kept_across_restarts the same list across a restart in place,
 *                            a planned stop and start through the store,
 *                            then a crash of the restored daemon.
 */
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal_rec.h"
#include "recover_util.h"

#define JREC_BODY	9	/* a word of the first record */

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(crash_keeps_persistent,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(torn_tail_ignored,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(corrupt_body_refused,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(inconsistent_refused,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(socket_twice_refused,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(gone_stays_gone,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(planned_then_crash,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(planned_unknown_binary,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(resized_persistent_kept,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(restart_in_place_then_crash,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(socket_activated_crash,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(broken_config_kept,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(acl_kept_across_crashes,
						recover_setup,
						recover_teardown),
		cmocka_unit_test_setup_teardown(acl_kept_across_restarts,
						recover_setup,
						recover_teardown),
	};

	return cmocka_run_group_tests_name("a crash under systemd", tests,
					   NULL, NULL);
}
