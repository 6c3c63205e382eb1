/*
 * itest_restart.c - SIGUSR2 makes poolmgrd execute its binary again in the
 * same process, keeping every pool, block, client and handle: the clients
 * notice nothing but a pause.  Every test compares what the pools and
 * clients were before the restart with what they are after, as seen by
 * `poolctl stats --format=kv` (but for what the restart may change: the
 * daemon's own memory, pages it holds, its reuse caches, the free room
 * they hid), `poolctl clients`, `poolctl persisted`, and by real client
 * processes reading, writing, freeing and allocating in the same handles.
 * This file: what the restart keeps, and what comes after it.
 * itest_restart_busy.c: work and clients under way across it;
 * itest_restart_fds.c: unread replies that pass descriptors across it;
 * itest_restart_admin.c: its binary, configuration, systemd and stop.
 * Their fixture and client processes: harness_restart.c.
 *
 *   clients_carry_on                  two clients holding small, 64 KiB,
 *       1 MiB and calloc'ed blocks, persisted and retained ones, and free
 *       pages written before: same pid, same socket file, same statistics,
 *       clients, handles and persisting uids after; every pattern reads
 *       back in both clients and here; old blocks free, new ones (calloc
 *       too: zero, though its pages were written before) never overlap a
 *       held one, an old block reallocs with its bytes; check passes.
 *   client_cache_survives             a client's cached blocks are the
 *       same bytes after, allocated from again; once it is killed every
 *       block it held, cached ones too, is reclaimed.
 *   exit_after_restart_reclaims       a client killed after the restart:
 *       its blocks go, the persisted and retained ones stay, as written.
 *   restart_twice                     restarts in a row keep it all, and
 *       leave the daemon with as many descriptors as before.
 *   handles_and_owners_kept           a read-only handle stays read-only,
 *       another uid's client and what it persisted stay that uid's, a
 *       handle opened after the restart gets an id of its own; the log
 *       line counts the pools and blocks there are.
 *   limits_count_the_restored         max_connections, max_blocks_per_
 *       session and a quota's charges (a uid's persisted bytes) count
 *       what was there before the restart.
 *   many_blocks                       100,000 blocks kept as written; half
 *       freed and allocated again, never on a held one.
 *   destroyed_and_many_pools          a pool force-destroyed right before
 *       (its memory still going back in steps) is gone after, its
 *       descriptors closed, its name free; 100 pools a client made keep
 *       their settings and blocks.
 *   acl_kept                          a pool made with an access control
 *       list has the same list after (PoolStats); a client its entry let
 *       in before allocates in the same handle after; a new process of
 *       that uid is let in to write, which the mode alone would not let
 *       it, and one whose entry refuses is kept out even from reading,
 *       which the mode gives everyone else.
 *
 * A daemon without SIGUSR2 handling dies of it: each test then fails at
 * once, saying so, and its client processes are killed.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_raw.h"
#include "harness_restart.h"

static void
clients_carry_on(void **state)
{
	static struct snap before, after;
	struct scene s;
	pid_t pid;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	dirty_free_pages();
	snap_take(&before);
	assert_true(rfx_stats().invalid_frees > 0);
	assert_true(rfx_stats().failed_allocs > 0);
	pid = rfx.d.pid;
	rfx_restart();
	assert_int_equal(rfx.d.pid, pid);
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	callocs_read_zero();

	/* Once both are gone only the persisted blocks are left. */
	remote_exit(s.A);
	remote_exit(s.B);
	assert_int_equal(rfx_stats().live_blocks, 2);
	assert_int_equal(rfx_stats().persistent_blocks, 2);
	rfx_check("p");
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
		assert_int_equal(pool_clients(rfx.conn, NULL, &ci, &n), 0);
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
	rfx_start("[pool p]\nsize = 32M\n", "p");
	assert_int_equal(pool_alloc(rfx.pool, 1000, &mine), 0);
	seed = ++rfx.seed;
	pattern_fill(pool_ptr(rfx.pool, 0), mine, 1000, seed);
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
	st0 = rfx_stats();
	printf("cache %s: %" PRIu64 " bytes in client caches\n",
	       harness_client_cache() ? "on" : "off",
	       st0.client_cached_bytes);
	if (harness_client_cache())
		assert_true(st0.client_cached_bytes > 0);
	else
		assert_int_equal(st0.client_cached_bytes, 0);
	snap_take(&before);
	rfx_restart();
	snap_take(&after);
	snap_same(&before, &after);
	st1 = rfx_stats();
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
	assert_int_equal(pool_usable_size(rfx.pool, mine, &usable), 0);
	kept = usable;
	st1 = rfx_stats();
	assert_int_equal(st1.client_cached_bytes, 0);
	assert_int_equal(st1.live_blocks, 1);
	assert_int_equal(st1.allocated_bytes, kept);
	assert_true(pattern_intact(pool_ptr(rfx.pool, 0), mine, 1000, seed));
	rfx_check("p");
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
	rfx_start("[pool p]\nsize = 64M\n", "p");
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
	assert_int_equal(pool_retain(rfx.pool, retained), 0);
	for (int i = 0; i < 5; i++)
		bsum += REMOTE_OK(B, OP_USABLE,
				  remote_block(B, OP_ALLOC, 5000), 0, 0).usable;
	st0 = rfx_stats();
	rfx_restart();
	st1 = rfx_stats();
	assert_int_equal(st1.allocated_bytes, st0.allocated_bytes);
	assert_int_equal(st1.live_blocks, st0.live_blocks);

	kill_and_wait_gone(A);
	for (int i = 12; i < 20; i++) {
		EXPECT_RC(pool_usable_size(rfx.pool, theirs[i], &usable),
			  -EINVAL);
		book_drop(theirs[i]);
	}
	assert_int_equal(pool_usable_size(rfx.pool, persisted, &usable), 0);
	keep += usable;
	assert_int_equal(pool_usable_size(rfx.pool, retained, &usable), 0);
	keep += usable;
	st1 = rfx_stats();
	assert_int_equal(st1.live_blocks, 2 + 5);
	assert_int_equal(st1.persistent_blocks, 1);
	assert_int_equal(st1.allocated_bytes, keep + bsum);
	book_verify("after the client's death");
	for (n = 0; n < rfx.nbook; n++)
		if (rfx.book[n].off != persisted && rfx.book[n].off != retained)
			remote_verify(B, rfx.book[n].off);
	assert_int_equal(pool_free(rfx.pool, retained), 0);
	rfx_check("p");
}

static void
restart_twice(void **state)
{
	static struct snap before, after;
	struct scene s;
	int fds;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	dirty_free_pages();
	snap_take(&before);
	/* Nothing of the images before is left open. */
	fds = rfx_daemon_fds();
	rfx_restart();
	assert_int_equal(rfx_daemon_fds(), fds);
	rfx_restart();
	assert_int_equal(rfx_daemon_fds(), fds);
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	callocs_read_zero();
	fds = rfx_daemon_fds();
	rfx_restart();
	assert_int_equal(rfx_daemon_fds(), fds);
	book_verify("after a third restart");
	rfx_check("p");
}

/*
 * The numbers of the last "restarted in place" line: pools, blocks.
 */
static void
restarted_counts(unsigned *pools, unsigned long long *blocks)
{
	static char log[256 * 1024];
	const char *at = log, *l = NULL;

	harness_read_text(rfx.d.log, log, sizeof(log));
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

	assert_int_equal(pool_clients(rfx.conn, NULL, &ci, &n), 0);
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
	rfx_start("[pool p]\nsize = 32M\n[pool o]\nsize = 8M\nmode = 0666\n",
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
	rfx_restart();
	snap_take(&after);
	snap_same(&before, &after);

	restarted_counts(&logged_pools, &logged_blocks);
	assert_int_equal(pool_stats_by_name(rfx.conn, "p", &sp), 0);
	assert_int_equal(pool_stats_by_name(rfx.conn, "o", &so), 0);
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
	assert_int_equal(handles_of(rfx.r[0].pid), 1);
	seed = ++rfx.seed;
	book_add(REMOTE_OK(A, OP_OPEN2, 0, 2000, seed).off, 2000, seed);
	assert_int_equal(handles_of(rfx.r[0].pid), 2);
	remote_block(A, OP_ALLOC, 3000);
	REMOTE_OK(A, OP_FREE, a2, 0, 0);
	book_drop(a2);
	book_verify("after the restart");
	rfx_check("p");
	rfx_check("o");
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
		if ((rc = pool_connect(rfx.d.sock, &x)) != -EUSERS)
			break;
		harness_sleep_ms(5);
	}
	assert_int_equal(rc, 0);
	rc = pool_connect(rfx.d.sock, &y);
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
	rfx_start("max_connections = 3\nmax_blocks_per_session = 12\n"
	      "[pool p]\nsize = 16M\nquota = 1M\n", "p");
	A = remote_start(0, "p", 0);
	for (int i = 0; i < 9; i++)
		remote_block(A, OP_ALLOC, 100);
	/* Our uid's persistent 600 KiB count against our session too. */
	REMOTE_OK(A, OP_PERSIST, remote_block(A, OP_ALLOC, 600 * KiB), 0, 0);
	over = pool_alloc(rfx.pool, 500 * KiB, &off);
	assert_int_equal(over, -EDQUOT);
	fourth = third_and_fourth();
	assert_int_equal(fourth, -EUSERS);
	rfx_restart();
	assert_int_equal(third_and_fourth(), fourth);
	assert_int_equal(pool_alloc(rfx.pool, 500 * KiB, &off), over);
	remote_block(A, OP_ALLOC, 100);
	remote_block(A, OP_ALLOC, 100);
	assert_int_equal(remote_ask(A, OP_ALLOC, 0, 100, 0).rc, -EDQUOT);
	book_verify("after the restart");
	rfx_check("p");
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
	rfx_start("[pool p]\nsize = 64M\n", "p");
	base = pool_ptr(rfx.pool, 0);
	for (n = 0; n < MANY; n += k) {
		k = MANY - n < POOL_BATCH_MAX ? MANY - n : POOL_BATCH_MAX;
		for (i = 0; i < k; i++)
			sizes[i] = 16 + ((n + i) % 16) * 16;
		assert_int_equal(pool_alloc_batch(rfx.pool, k, sizes, off + n),
				 0);
	}
	for (i = 0; i < 100; i++)
		assert_int_equal(pool_alloc(rfx.pool, 20 * KiB, &off[MANY + i]),
				 0);
	for (i = 0; i < MANY + 100; i++)
		memcpy(base + off[i], &off[i], sizeof(off[i]));
	st0 = rfx_stats();
	rfx_restart();
	st1 = rfx_stats();
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
		assert_int_equal(pool_free_batch(rfx.pool, k, again + i), 0);
	}
	for (i = 0; i < MANY / 2; i += k) {
		k = MANY / 2 - i < POOL_BATCH_MAX ? MANY / 2 - i :
		    POOL_BATCH_MAX;
		for (size_t j = 0; j < k; j++)
			sizes[j] = 48;
		assert_int_equal(pool_alloc_batch(rfx.pool, k, sizes, again + i),
				 0);
		for (size_t j = 0; j < k; j++)
			memset(base + again[i + j], 0xa5, 48);
	}
	for (i = 1; i < MANY + 100; i++)
		if ((i >= MANY || i % 2) &&
		    memcmp(base + off[i], &off[i], sizeof(off[i])) != 0)
			fail_msg("block %zu at %" PRIu64 " was handed out "
				 "again", i, off[i]);
	rfx_check("p");
	for (i = 0; i < MANY / 2; i += k) {
		k = MANY / 2 - i < POOL_BATCH_MAX ? MANY / 2 - i :
		    POOL_BATCH_MAX;
		assert_int_equal(pool_free_batch(rfx.pool, k, again + i), 0);
	}
	for (i = 1; i < MANY + 100; i++)
		if (i >= MANY || i % 2)
			assert_int_equal(pool_free(rfx.pool, off[i]), 0);
	assert_int_equal(rfx_stats().live_blocks, 0);
	rfx_check("p");
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
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)rfx.d.pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)rfx.d.pid,
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
	rfx_start("release_step = 4K\n[pool p]\nsize = 16M\n", "p");
	/* Not in the file: the restart, like a reload, would make it anew. */
	o = (struct pool_create_opts){.max_size = 64 * MiB};
	assert_int_equal(pool_create(rfx.conn, "d", &o), 0);
	D = remote_start(0, "d", 0);
	off = REMOTE_OK(D, OP_ALLOC, 0, 16 * MiB, 77).off;
	REMOTE_OK(D, OP_PERSIST, off, 0, 0);
	remote_exit(D);
	assert_int_equal(memfds_of("d"), 2);
	assert_int_equal(harness_poolctl(&rfx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "destroy d --force"), 0);
	rfx_restart();
	EXPECT_RC(pool_stats_by_name(rfx.conn, "d", &st), -ENOENT);
	for (i = 0; i < 1000 && memfds_of("d"); i++)
		harness_sleep_ms(10);
	assert_int_equal(memfds_of("d"), 0);
	assert_int_equal(pool_create(rfx.conn, "d", &o), 0);
	EXPECT_RC(pool_stats_by_name(rfx.conn, "d", &st), 0);
	assert_int_equal(st.live_blocks, 0);

	for (i = 0; i < NPOOLS; i++) {
		o = (struct pool_create_opts){.max_size = 64 * KiB,
			.mode = 0600 + (uint32_t)(i % 64),
			.quota = (i % 3) * 32 * KiB};
		snprintf(name, sizeof(name), "many%zu", i);
		assert_int_equal(pool_create(rfx.conn, name, &o), 0);
		assert_int_equal(pool_open(rfx.conn, name, &pools[i]), 0);
		assert_int_equal(pool_set_cache(pools[i], 0), 0);
		assert_int_equal(pool_alloc(pools[i], 100 + i, &offs[i]), 0);
		pattern_fill(pool_ptr(pools[i], 0), offs[i], 100 + i, 1000 + i);
	}
	assert_int_equal(pool_list(rfx.conn, &l0, &n0), 0);
	rfx_restart();
	assert_int_equal(pool_list(rfx.conn, &l1, &n1), 0);
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
		assert_true(pattern_intact(pool_ptr(pools[i], 0), offs[i], 100 + i,
				   1000 + i));
		assert_int_equal(pool_free(pools[i], offs[i]), 0);
		pool_close(pools[i]);
	}
	rfx_check("many0");
	rfx_check("p");
}

/* Pool c's list as PoolStats says it: "user:ID:RIGHTS,..." or "none". */
static void
acl_said(char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	size_t i, at = 0;
	int fd = harness_raw_greeted(rfx.d.sock, "admin");

	assert_true(fd >= 0);
	m.name = "c";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
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
	close(fd);
}

/* In a process of another uid: 0 if pool c opens read-only, 13 if
 * refused EACCES, else 99. */
static int
acl_read_child(void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	int fd = harness_raw_greeted(rfx.d.sock, "acl"), rc;

	(void)arg;
	if (fd < 0)
		return 99;
	m.name = "c";
	m.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	rc = harness_raw_error(fd, &req, NULL);
	close(fd);
	return rc == 0 ? 0 : rc == -EACCES ? 13 : 99;
}

static void
acl_kept(void **state)
{
	static const uint32_t v[][3] = {
		{1, 4242, 6}, {1, 4646, 0}, {2, 4545, 4},
	};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__AclEntry e[3], *pe[3];
	Poolmgr__Acl acl = POOLMGR__ACL__INIT;
	char before[256], after[256];
	struct remote *A, *B;
	pid_t pid;
	int fd, i;

	(void)state;
	rfx_start("[pool p]\nsize = 8M\n", "p");
	for (i = 0; i < 3; i++) {
		poolmgr__acl_entry__init(&e[i]);
		e[i].kind = v[i][0];
		e[i].id = v[i][1];
		e[i].rights = v[i][2];
		pe[i] = &e[i];
	}
	acl.n_entries = 3;
	acl.entries = pe;
	m.name = "c";
	m.max_size = 4 * MiB;
	m.mode = 0604;
	m.acl = &acl;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &m;
	assert_true((fd = harness_raw_greeted(rfx.d.sock, "admin")) >= 0);
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
	close(fd);
	acl_said(before, sizeof(before));
	assert_string_equal(before, "user:4242:6,user:4646:0,group:4545:4");
	A = remote_start_as(0, "c", -1, false, 4242);
	REMOTE_OK(A, OP_ALLOC, 0, 1000, 0);

	rfx_restart();
	acl_said(after, sizeof(after));
	assert_string_equal(after, before);
	REMOTE_OK(A, OP_ALLOC, 0, 2000, 0);
	B = remote_start_as(1, "c", -1, false, 4242);
	REMOTE_OK(B, OP_ALLOC, 0, 3000, 0);
	/* Uid 4646 (primary group 4545): its own entry refuses it. */
	pid = harness_spawn_as(4646, 4545, acl_read_child, NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 13);
	remote_exit(A);
	remote_exit(B);
	rfx_check("c");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(clients_carry_on, rfx_teardown),
		cmocka_unit_test_teardown(client_cache_survives, rfx_teardown),
		cmocka_unit_test_teardown(exit_after_restart_reclaims,
					  rfx_teardown),
		cmocka_unit_test_teardown(restart_twice, rfx_teardown),
		cmocka_unit_test_teardown(handles_and_owners_kept,
					  rfx_teardown),
		cmocka_unit_test_teardown(limits_count_the_restored,
					  rfx_teardown),
		cmocka_unit_test_teardown(many_blocks, rfx_teardown),
		cmocka_unit_test_teardown(destroyed_and_many_pools,
					  rfx_teardown),
		cmocka_unit_test_teardown(acl_kept, rfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
