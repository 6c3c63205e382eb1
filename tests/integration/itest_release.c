/*
 * itest_release.c - big freed blocks, and an idle pool's kept free pages,
 * go back to the OS a step at a time (daemon/pool_release.c), and nothing
 * outside can tell, except that other clients are not kept waiting.
 *
 *   big_free_goes_back_by_itself      a 128 MiB block written and freed:
 *       its pages leave the memfd with no further request (watched with
 *       mincore on the client's own mapping, within 10 s).
 *   idle_pool_trims_itself            32 MiB of small blocks written and
 *       freed stay resident (kept for reuse), then leave by themselves,
 *       in 64 KiB steps, once the pool is idle (idle_trim = 1).
 *   stats_and_check_settle_first      right after a 64 MiB free, pool_stats
 *       shows nothing allocated, nothing committed, no failure, and the
 *       pool's check passes.
 *   held_block_never_refuses          in a 64 MiB pool, 48 MiB freed and at
 *       once asked for again by calloc, by realloc of POOL_OFF_NONE and by
 *       an AllocBatch: each succeeds (the release is finished first), the
 *       calloc'ed bytes read zero, and failed_allocs stays 0.
 *   shared_block_grows_into_held_room a retained block grows in place into
 *       the room of a 32 MiB block freed just before, released in 4 KiB
 *       steps so that it is still held (a shared block may not move, so
 *       finishing the release is the only way).
 *   destroy_and_stop_right_after      a pool destroyed, and then the
 *       daemon stopped, right after big frees: both succeed, the daemon
 *       exits cleanly (no leak under ASan).
 *   unmapped_pool_destroyed_in_steps  a force-destroyed pool nobody maps
 *       (64 MiB persisted, no handle): the daemon punches its memfd out
 *       and closes it within 10 s; the name can be reused at once.
 *   mapped_pool_destroyed_keeps_its_bytes  a pool force-destroyed while
 *       we map it: its 32 MiB still read back as written.
 *   release_step_zero_frees_at_once   with release_step = 0 the pages are
 *       gone by the time the free's reply arrives.
 *   unaligned_step_gives_whole_pages_back  release_step = 6000, no
 *       whole number of pages: a written 64 MiB block freed, and one
 *       shrunk to 1 MiB, leave nothing of their pages in the memfd, and
 *       a 64 MiB calloc over them is zeroed without a page written.
 *   big_realloc_moved_by_the_client   an 8 MiB block that must grow to
 *       16 MiB moves (libpoolclient copies it: the daemon only says it
 *       cannot grow in place), keeps every byte, and the old offset is no
 *       block any more; with a quota that cannot hold both blocks at once
 *       the daemon moves it instead, just as well.
 *   big_move_goes_in_steps            a 256 MiB block the daemon itself
 *       moves (the quota cannot hold both) is copied 4 KiB per loop turn
 *       (a step each, counted by the pool) and meanwhile nobody may
 *       retain the block (-EBUSY, in words that say it is on its way);
 *       the moved bytes are intact.
 *   mover_dies_mid_move               the mover killed during the copy:
 *       both places are freed, nothing is left allocated or resident.
 *   big_calloc_goes_in_steps          a 256 MiB calloc over 256 MiB of
 *       freed, written pages the pool kept: zeroed 4 KiB per loop turn (a
 *       step each), and every byte reads zero.
 *   big_shrink_goes_in_steps          a written 512 MiB block shrunk in
 *       place to 1 MiB: the tail's pages leave by themselves, a 4 KiB
 *       step per loop turn (the pool's release_steps); the first MiB
 *       reads as written.
 *   retained_excess_goes_back_by_itself  200 MiB of freed small blocks
 *       kept beside a live 1 GiB block (a quarter of the live pages)
 *       leave by themselves once that block is freed (idle trim off), in
 *       steps of 64 KiB (the pool's retain_steps: a step per 64 KiB of
 *       them but the bound); and with release_step = 0, all 6400 of them
 *       in the free, no step taken.
 *   reload_moves_the_retention_cut  the same for a pool made before a
 *       reload changed release_step: from 0 to 4K, the 200 MiB goes in
 *       4 KiB steps (the pool kept the unbounded cut it was made with, and
 *       gave it all back in one loop turn: no step); from 64K to 0, it is
 *       gone at the free's reply, no step taken.
 *   batch_of_spans_goes_in_steps      512 written blocks of 512 KiB (page
 *       spans, each under the 1 MiB release step) freed in one FreeBatch:
 *       their pages leave a release step per loop turn, but the step's
 *       worth the request's own turn gives back (the whole 256 MiB went
 *       inside the request).
 *   batch_of_pages_goes_in_steps      4096 written blocks of a page (small
 *       blocks, far past the 256 pages the pool keeps) freed in one
 *       FreeBatch, release_step = 4K: the same (each free punched its
 *       own page, all inside the request).
 *   dead_client_spans_go_in_steps     a client holding 1024 written
 *       blocks of 128 KiB is killed, release_step = 128K: a step per
 *       block, but the first, while its references are dropped (the 1024
 *       went in the turn its death was noticed).
 *   (Steps are counted by the pool: PoolStats.release_steps, and
 *   retain_steps of kept pages going; stats answers once they are done.
 *   A step takes microseconds: watching the pages go from here, a test
 *   kept off the CPU for a few milliseconds saw them all gone at once.)
 *   frees_leave_the_share_map_alone   512 blocks of 512 KiB, each bit on
 *       its own page of the share map, freed in one FreeBatch: no page of
 *       the map becomes resident, but for a block another client retained
 *       (its bit set, then clear once both let go).  Each free cleared
 *       its bit whether set or not, and each such write to a page nobody
 *       wrote made the kernel allocate and clear one, inside the turn.
 *   dead_client_leaves_the_share_map_alone  the same for the blocks of a
 *       killed client (1024 of 128 KiB, four to a page of the map).
 *   drops_count_per_turn              drop_step = 4: a handle of 3 blocks
 *       closed, then (turns later) a client killed holding a written
 *       64 MiB block in one pool and, in another, 3 blocks of which we
 *       retained one: the 4 references it held are dropped in the turn
 *       its death is seen, so the other pool takes no step at all (and
 *       that block's share bit is clear) while the 64 MiB go back in
 *       4 KiB steps.  (The count of references dropped at once ran on
 *       from the earlier close, as if in the same turn, until some step
 *       came: the 3 blocks' handle was dropped in a step of its own,
 *       behind the whole 64 MiB release.)
 *   trims_joined_and_destroyed_under  two trims of 128 MiB of kept pages
 *       at once, in 4 KiB steps: the second joins the first, both are
 *       answered with what they gave back, and no free page is left; a
 *       trim whose pool is destroyed by force under it is answered
 *       (-ENOENT, or done if it was first), and the daemon serves on
 *       and stops cleanly.
 *   (The seven below run with settle_wait_ms = 0: a request waits for the
 *   work queued before it, no more; the requests are a raw client's,
 *   which does not ask again after a refusal.)
 *   limit_refusal_waits_for_release  under a 128 MiB limit, 64 MiB freed
 *       and 96 MiB asked for at once: the limit's refusal waits for the
 *       release as the engine's would, and the 96 MiB are served; so is
 *       an AllocBatch of 112 MiB right after those are freed.
 *   limit_refusal_waits_for_neighbour  a block grown in place into a
 *       neighbour freed after the request came, refused by the limit
 *       while the neighbour's pages go back: it waits for them, as a
 *       refusal for room does, and grows in place.
 *   move_refusal_by_limit_waits       while the daemon moves a 256 MiB
 *       block to 300 MiB in steps, 64 MiB asked for under a 400 MiB
 *       limit: served once the copy is done and the old place is back.
 *   move_refusal_by_room_waits        the same for 256 MiB that only the
 *       old place can hold (the engine's refusal).
 *   closed_handle_refusal_waits       a handle of 8 references closed
 *       (drop_step = 4), one of them 64 MiB: 384 MiB asked for under a
 *       400 MiB limit are served once its drops and the 64 MiB are done.
 *   killed_calloc_refusal_by_limit_waits  a client killed while the
 *       daemon zeroes its 256 MiB calloc in steps: 256 MiB asked for at
 *       once under a 400 MiB limit are served, in the calloc's place,
 *       once the zeroing has stopped and the block is back.
 *   closed_calloc_refusal_by_room_waits  the same for a client that
 *       closes its socket, and 384 MiB of a 512 MiB pool (the engine's
 *       refusal).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define MiB (1024ull * 1024)

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn, *conn2;
	struct pool *pool, *pool2;	/* a second client's, if any */
};

static struct fixture fx;

/*
 * That the daemon serves requests between the steps of its work is seen
 * from here, by looking between our round trips while the work goes on.
 * Some of it lasts a few milliseconds: on a loaded machine a process
 * woken by a reply may wait longer than that for a CPU, and then finds
 * it all done, every time.  So once the daemon runs (it inherits our
 * priority: it starts at the usual one), we run ahead of it where we may
 * (as root).
 */
#define TEST_NICE -10

static void
ahead_of_the_daemon(void)
{
	if (setpriority(PRIO_PROCESS, 0, TEST_NICE) == -1)
		printf("note: cannot run at nice %d (%s): on a loaded machine "
		       "the daemon's steps may all pass unseen\n", TEST_NICE,
		       strerror(errno));
}

/*
 * Stats waits for the pool's work queued before it, and for all of it
 * while nobody queues more, but by default for 2 s at most: a loaded
 * machine took longer over a 1 GiB block's 262144 steps, and the pages
 * over the bound, queued after them, were still there at the reply.
 * Here nobody else queues work, so stats may wait for all of it: what
 * it shows, the steps taken included, is then final.
 */
#define SETTLE_CONF "settle_wait_ms = 600000\n"

static void
start_with_pool(const char *daemon_conf, const char *size)
{
	char conf[256];

	/* A test that sets settle_wait_ms itself has it as it says. */
	snprintf(conf, sizeof(conf), "%s%s[pool big]\nsize = %s\n",
		 strstr(daemon_conf, "settle_wait_ms") ? "" : SETTLE_CONF,
		 daemon_conf, size);
	setpriority(PRIO_PROCESS, 0, 0);
	assert_int_equal(harness_start(&fx.d, conf), 0);
	ahead_of_the_daemon();
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	assert_int_equal(pool_open(fx.conn, "big", &fx.pool), 0);
}

static int
teardown(void **state)
{
	(void)state;
	if (fx.pool2)
		pool_close(fx.pool2);
	if (fx.conn2)
		pool_disconnect(fx.conn2);
	if (fx.pool)
		pool_close(fx.pool);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

static pool_off_t
written_block(size_t size, int byte)
{
	pool_off_t off = POOL_OFF_NONE;
	int rc = pool_alloc(fx.pool, size, &off);

	if (rc)
		fail_msg("pool_alloc(%zu): %s", size, pool_strerror(rc));
	memset(pool_ptr(fx.pool, off), byte, size);
	return off;
}

static struct pool_stats
stats(void)
{
	struct pool_stats st;

	assert_int_equal(pool_stats(fx.pool, &st), 0);
	return st;
}

static void
check_ok(void)
{
	char msg[256] = "";
	int rc = pool_check_by_name(fx.conn, "big", msg, sizeof(msg));

	if (rc)
		fail_msg("check: %s: %s", pool_strerror(rc), msg);
}

/*
 * Whether work went in steps, between other requests, or inside one
 * request is told by the pool's count of steps (PoolStats.release_steps,
 * retain_steps), read once stats has waited for the work: a step takes
 * microseconds, and a process kept off the CPU for a few milliseconds
 * found the pages gone at its first look, just as if they had gone
 * inside the request.  Each step is a loop turn of its own, in which
 * other clients are served.
 */

/* The steps the pool took so far (stats: once its work is done). */
static uint64_t
steps_of(struct pool *p, bool retain)
{
	struct pool_stats st;

	assert_int_equal(pool_stats(p, &st), 0);
	return retain ? st.retain_steps : st.release_steps;
}

static void
big_free_goes_back_by_itself(void **state)
{
	size_t len = 128 * MiB, left = 0;
	pool_off_t off;
	void *p;
	int i;

	(void)state;
	start_with_pool("", "256M");
	off = written_block(len, 0x5a);
	p = pool_ptr(fx.pool, off);
	assert_int_equal(harness_resident_pages(p, len), len / 4096);
	assert_int_equal(pool_free(fx.pool, off), 0);
	/* No request from here on: the daemon finishes on its own. */
	for (i = 0; i < 1000; i++) {
		if ((left = harness_resident_pages(p, len)) == 0)
			break;
		harness_sleep_ms(10);
	}
	printf("release: 128 MiB gone %d ms after the free's reply\n",
	       i * 10);
	assert_int_equal(left, 0);
	assert_int_equal(stats().committed_bytes, 0);
	check_ok();
}

/*
 * The free pages a pool keeps for reuse go back in steps when it is idle:
 * 32 MiB of 2000-byte blocks written and freed stay resident (the pool
 * keeps up to 64 MiB), then leave by themselves within 10 s of the last
 * request (idle_trim = 1, steps of 64 KiB).
 */
static void
idle_pool_trims_itself(void **state)
{
	static size_t sizes[2048];
	static pool_off_t offs[16384];
	size_t n = 0, left = 0, first;
	uint8_t *base;
	int i;

	(void)state;
	start_with_pool("idle_trim = 1\nrelease_step = 64K\n",
			"128M\nretain = 64M");
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	for (i = 0; i < 2048; i++)
		sizes[i] = 2000;
	while (n < 16384) {
		assert_int_equal(pool_alloc_batch(fx.pool, 2048, sizes,
						  offs + n), 0);
		n += 2048;
	}
	base = pool_ptr(fx.pool, 0);
	for (i = 0; i < 16384; i++)
		memset(base + offs[i], 0xa5, 2000);
	for (i = 0; i < 16384; i += 2048)
		assert_int_equal(pool_free_batch(fx.pool, 2048, offs + i), 0);
	first = harness_resident_pages(base, 64 * MiB);
	assert_true(first * 4096 >= 30 * MiB);	/* kept for reuse */
	/* No request from here on: the idle tick starts the trim. */
	for (i = 0; i < 1000; i++) {
		if ((left = harness_resident_pages(base, 64 * MiB)) == 0)
			break;
		harness_sleep_ms(10);
	}
	printf("idle trim: %zu pages gone %d ms after the last request\n",
	       first, i * 10);
	assert_int_equal(left, 0);
	assert_int_equal(stats().free_resident_bytes, 0);
	check_ok();
}

/* The daemon's descriptor of the memfd with inode ino: its number, or -1. */
static int
daemon_fd_of(ino_t ino, struct stat *st)
{
	char path[64];

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)fx.d.pid, fd);
		if (stat(path, st) == 0 && st->st_ino == ino &&
		    S_ISREG(st->st_mode))
			return fd;
	}
	return -1;
}

/*
 * A destroyed pool that nobody maps (a persisted, written 64 MiB block
 * and no handle) gives its pages back in steps after the destroy's reply:
 * the daemon keeps the memfd open meanwhile, and within 10 s has punched
 * it out and closed it.  A pool of the same name can be made at once.
 */
static void
unmapped_pool_destroyed_in_steps(void **state)
{
	struct pool_create_opts o = {.max_size = 128 * MiB};
	struct stat st;
	pool_off_t off;
	ino_t ino = 0;
	int fd, i;

	(void)state;
	start_with_pool("release_step = 64K\n", "128M");
	off = written_block(64 * MiB, 3);
	assert_int_equal(pool_persist(fx.pool, off), 0);
	/* The memfd's inode, through our own mapping's file. */
	{
		char path[64];
		FILE *maps;
		char line[512];
		uintptr_t base = (uintptr_t)pool_ptr(fx.pool, 0);

		snprintf(path, sizeof(path), "/proc/self/maps");
		assert_non_null(maps = fopen(path, "r"));
		while (fgets(line, sizeof(line), maps)) {
			unsigned long lo, inode;

			if (sscanf(line, "%lx-%*x %*s %*s %*s %lu", &lo,
				   &inode) == 2 && lo == base)
				ino = (ino_t)inode;
		}
		fclose(maps);
	}
	assert_true(ino != 0);
	pool_close(fx.pool);
	fx.pool = NULL;
	assert_int_equal(pool_destroy_force(fx.conn, "big"), 0);
	fd = daemon_fd_of(ino, &st);
	printf("destroy: memfd %s after the reply, %lld KiB resident\n",
	       fd >= 0 ? "still open" : "already closed",
	       fd >= 0 ? (long long)st.st_blocks / 2 : 0LL);
	assert_int_equal(pool_create(fx.conn, "big", &o), 0);
	for (i = 0; i < 1000 && daemon_fd_of(ino, &st) >= 0; i++)
		harness_sleep_ms(10);
	assert_true(i < 1000);
	assert_int_equal(pool_open(fx.conn, "big", &fx.pool), 0);
	assert_int_equal(stats().live_blocks, 0);
}

/*
 * A pool destroyed while a process has it open keeps its bytes in that
 * process's mapping: nothing is punched out from under it.
 */
static void
mapped_pool_destroyed_keeps_its_bytes(void **state)
{
	pool_off_t off;
	unsigned char *m;

	(void)state;
	start_with_pool("release_step = 64K\n", "128M");
	off = written_block(32 * MiB, 0x77);
	m = pool_ptr(fx.pool, off);
	assert_int_equal(pool_destroy_force(fx.conn, "big"), 0);
	harness_sleep_ms(300);
	for (size_t k = 0; k < 32 * MiB; k += 4096)
		if (m[k] != 0x77)
			fail_msg("byte %zu of the destroyed pool reads %u", k,
				 m[k]);
	EXPECT_RC(pool_free(fx.pool, off), -EBADF);
}

static void
stats_and_check_settle_first(void **state)
{
	struct pool_stats st;
	pool_off_t off;

	(void)state;
	start_with_pool("", "256M");
	off = written_block(64 * MiB, 1);
	assert_int_equal(pool_free(fx.pool, off), 0);
	st = stats();
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.committed_bytes, 0);
	assert_int_equal(st.failed_allocs, 0);
	assert_int_equal(st.frees, st.allocs);
	assert_int_equal(st.largest_free, st.max_size);
	check_ok();
	/* And the other requests that read the pool's state. */
	off = written_block(64 * MiB, 2);
	assert_int_equal(pool_free(fx.pool, off), 0);
	check_ok();
	off = written_block(64 * MiB, 3);
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_trim(fx.pool), 0);
	assert_int_equal(stats().committed_bytes, 0);
}

static void
held_block_never_refuses(void **state)
{
	size_t len = 48 * MiB;
	pool_off_t off, again, batch[1];
	const unsigned char *b;
	size_t i;

	(void)state;
	start_with_pool("", "64M");

	off = written_block(len, 0xaa);
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_calloc(fx.pool, 1, len, &again), 0);
	b = pool_ptr(fx.pool, again);
	for (i = 0; i < len; i += 4093)
		if (b[i] != 0)
			fail_msg("byte %zu of the calloc'ed block is %#x", i,
				 b[i]);
	memset(pool_ptr(fx.pool, again), 0xbb, len);

	assert_int_equal(pool_free(fx.pool, again), 0);
	assert_int_equal(pool_realloc(fx.pool, POOL_OFF_NONE, len, &off), 0);
	memset(pool_ptr(fx.pool, off), 0xcc, len);

	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_alloc_batch(fx.pool, 1, &len, batch), 0);
	assert_int_equal(pool_free(fx.pool, batch[0]), 0);

	assert_int_equal(stats().failed_allocs, 0);
	assert_int_equal(stats().allocated_bytes, 0);
	/* A request that cannot fit even then is still refused. */
	assert_int_equal(pool_alloc(fx.pool, len, &off), 0);
	memset(pool_ptr(fx.pool, off), 1, len);
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_alloc(fx.pool, 64 * MiB + 1, &again), -EFBIG);
	assert_int_equal(pool_alloc(fx.pool, 48 * MiB, &again), 0);
	assert_int_equal(pool_alloc(fx.pool, 17 * MiB, &off), -ENOMEM);
	assert_true(stats().failed_allocs >= 1);
	assert_int_equal(pool_free(fx.pool, again), 0);
	check_ok();
}

static void
shared_block_grows_into_held_room(void **state)
{
	struct pool_conn *c2;
	struct pool *p2;
	pool_off_t a, b, out;

	(void)state;
	/* Small steps: b is still held when the realloc comes. */
	start_with_pool("release_step = 4K\n", "128M");
	a = written_block(32 * MiB, 1);
	b = written_block(32 * MiB, 2);
	assert_int_equal(b, a + 32 * MiB);	/* the room right after a */
	assert_int_equal(pool_connect(fx.d.sock, &c2), 0);
	assert_int_equal(pool_open(c2, "big", &p2), 0);
	assert_int_equal(pool_retain(p2, a), 0);	/* a is shared now */

	assert_int_equal(pool_free(fx.pool, b), 0);
	assert_int_equal(pool_realloc(fx.pool, a, 64 * MiB, &out), 0);
	assert_int_equal(out, a);
	assert_int_equal(((unsigned char *)pool_ptr(fx.pool, a))[0], 1);

	pool_close(p2);
	pool_disconnect(c2);
	assert_int_equal(pool_free(fx.pool, a), 0);
	assert_int_equal(stats().failed_allocs, 0);
	check_ok();
}

static void
destroy_and_stop_right_after(void **state)
{
	struct pool_create_opts o = {.max_size = 128 * MiB};
	struct pool *p;
	pool_off_t off;

	(void)state;
	start_with_pool("", "256M");
	assert_int_equal(pool_create(fx.conn, "other", &o), 0);
	assert_int_equal(pool_open(fx.conn, "other", &p), 0);
	assert_int_equal(pool_alloc(p, 96 * MiB, &off), 0);
	memset(pool_ptr(p, off), 7, 96 * MiB);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	assert_int_equal(pool_destroy(fx.conn, "other"), 0);

	off = written_block(200 * MiB, 9);
	assert_int_equal(pool_free(fx.pool, off), 0);
	pool_close(fx.pool);
	fx.pool = NULL;
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
	fx.d.pid = 0;
}

static void
release_step_zero_frees_at_once(void **state)
{
	size_t len = 64 * MiB;
	pool_off_t off;
	void *p;

	(void)state;
	start_with_pool("release_step = 0\n", "128M");
	off = written_block(len, 3);
	p = pool_ptr(fx.pool, off);
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(harness_resident_pages(p, len), 0);
}

/*
 * A release step that is no whole number of pages (the file takes any
 * size): a step's punch that ends inside a page only zeroes its part of
 * it, and the next step's, which starts there, the rest, so the page
 * stays in the memfd.  A 64 MiB block freed in steps of 6000 bytes left
 * 43.5 MiB resident that the engine counted as given back: stats said
 * nothing free was kept, and a trim gave back 0.  Freed, shrunk or
 * trimmed, the pages leave whole; and a calloc zeroed in such steps
 * wrote zeros over every page a step's end cut (43.5 MiB of a 64 MiB
 * block never touched) where whole pages are punched.
 */
static void
unaligned_step_gives_whole_pages_back(void **state)
{
	size_t len = 64 * MiB, keep = 1 * MiB;
	pool_off_t off, out;
	unsigned char *m;
	uint64_t trimmed = 1;

	(void)state;
	start_with_pool("release_step = 6000\n", "128M");
	off = written_block(len, 0x6b);
	m = pool_ptr(fx.pool, off);
	assert_int_equal(pool_free(fx.pool, off), 0);
	/* Stats waits for the steps. */
	assert_int_equal(stats().committed_bytes, 0);
	assert_int_equal(harness_resident_pages(m, len), 0);

	off = written_block(len, 0x6c);
	m = pool_ptr(fx.pool, off);
	assert_int_equal(pool_realloc(fx.pool, off, keep, &out), 0);
	assert_int_equal(out, off);
	assert_int_equal(stats().committed_bytes, keep);
	assert_int_equal(harness_resident_pages(m + keep, len - keep), 0);
	assert_int_equal(pool_free(fx.pool, off), 0);
	assert_int_equal(pool_trim_by_name(fx.conn, "big", &trimmed), 0);
	assert_int_equal(stats().committed_bytes, 0);
	assert_int_equal(harness_resident_pages(m, len), 0);

	/* Zeroed in steps: punched whole, nothing written, all zero. */
	assert_int_equal(pool_calloc(fx.pool, 1, len, &off), 0);
	m = pool_ptr(fx.pool, off);
	assert_int_equal(stats().committed_bytes, 0);
	assert_int_equal(harness_resident_pages(m, len), 0);
	for (size_t k = 0; k < len; k++)
		if (m[k])
			fail_msg("calloc'd byte %zu reads %#x", k, m[k]);
	check_ok();
}

/* Fill n bytes at b with a pattern that tells positions apart. */
static void
pattern_fill(unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i % 251);
}

static void
pattern_check(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)(i % 251))
			fail_msg("byte %zu of the moved block is %#x", i, b[i]);
}

static void
move_one(size_t from, size_t to)
{
	pool_off_t a, b, out;
	size_t usable;

	a = written_block(from, 0);
	pattern_fill(pool_ptr(fx.pool, a), from);
	b = written_block(1 * MiB, 1);	/* right after a: a cannot grow */
	assert_int_equal(pool_realloc(fx.pool, a, to, &out), 0);
	assert_true(out != a);
	pattern_check(pool_ptr(fx.pool, out), from);
	assert_int_equal(pool_usable_size(fx.pool, out, &usable), 0);
	assert_true(usable >= to);
	assert_int_equal(pool_free(fx.pool, a), -EINVAL);
	assert_int_equal(stats().live_blocks, 2);
	assert_int_equal(stats().failed_allocs, 0);
	check_ok();
	assert_int_equal(pool_free(fx.pool, out), 0);
	assert_int_equal(pool_free(fx.pool, b), 0);
	assert_int_equal(stats().allocated_bytes, 0);
}

static void
big_realloc_moved_by_the_client(void **state)
{
	(void)state;
	start_with_pool("", "64M");
	move_one(8 * MiB, 16 * MiB);
	pool_close(fx.pool);
	pool_disconnect(fx.conn);
	fx.pool = NULL;
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
	fx.d.pid = 0;

	/* 8 + 16 MiB at once would pass a 20 MiB quota; the growth does not. */
	start_with_pool("", "64M\nquota = 20M");
	move_one(8 * MiB, 16 * MiB);
}

/*
 * A move the daemon makes itself (libpoolclient asks for one when the
 * quota cannot hold the old and the new block at once): a child holds a
 * written 256 MiB block and grows it to 300 MiB in a 400 MiB quota.  The
 * copy goes release_step (4 KiB) bytes per loop turn, a step of the
 * pool's each, so other clients are served meanwhile; while it is under
 * way (seen from here as the pool's resident pages rising past the
 * block's) the block may not be retained.
 */
#define MOVE_FROM (256 * MiB)
#define MOVE_TO (300 * MiB)
#define MOVE_CONF "release_step = 4K\n"
#define MOVE_POOL "1G\nquota = 400M"

struct mover {
	const char *sock;
	int to_parent[2];	/* the block's offset; then its new one */
	bool old_taken;		/* the old place is another's block by the
				 * mover's free of it */
};

static int
mover_child(void *arg)
{
	struct mover *m = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, after, out;
	unsigned char *b;
	size_t i;

	close(m->to_parent[0]);
	CHECK_RC(pool_connect(m->sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "big", &p), 0, 3);
	CHECK_RC(pool_alloc(p, MOVE_FROM, &a), 0, 4);
	CHECK_RC(pool_alloc(p, 1 * MiB, &after), 0, 4);	/* a cannot grow */
	CHECK(after == a + MOVE_FROM, 4);
	pattern_fill(pool_ptr(p, a), MOVE_FROM);
	CHECK(harness_write_full(m->to_parent[1], &a, sizeof(a)) == 0, 5);
	CHECK_RC(pool_realloc(p, a, MOVE_TO, &out), 0, 6);
	CHECK(harness_write_full(m->to_parent[1], &out, sizeof(out)) == 0, 7);
	CHECK(out != a, 8);
	b = pool_ptr(p, out);
	for (i = 0; i < MOVE_FROM; i++)
		CHECK(b[i] == (unsigned char)(i % 251), 9);
	CHECK_RC(pool_free(p, a), m->old_taken ? -EPERM : -EINVAL, 10);
	CHECK_RC(pool_free(p, out), 0, 11);
	CHECK_RC(pool_free(p, after), 0, 12);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Start the mover; returns its pid, its block's offset in *a. */
static pid_t
mover_start(struct mover *m, pool_off_t *a)
{
	pid_t pid;

	m->sock = fx.d.sock;
	assert_int_equal(pipe(m->to_parent), 0);
	pid = harness_spawn(mover_child, m);
	assert_true(pid > 0);
	close(m->to_parent[1]);
	assert_int_equal(harness_read_full(m->to_parent[0], a, sizeof(*a)),
			 0);
	return pid;
}

/* Wait until the copy has begun: more pages resident than the block's. */
static void
wait_copy_begun(void)
{
	void *base = pool_ptr(fx.pool, 0);
	size_t pages = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		pages = harness_resident_pages(base, 1024 * MiB);
		if (pages > MOVE_FROM / 4096 + 256)
			return;
		harness_sleep_ms(5);
	}
	fail_msg("the copy never began: %zu pages resident", pages);
}

static void
big_move_goes_in_steps(void **state)
{
	struct mover m = {.old_taken = false};
	pool_off_t a, out;
	uint64_t before, steps;
	char want[128];
	pid_t pid;

	(void)state;
	start_with_pool(MOVE_CONF, MOVE_POOL);
	before = steps_of(fx.pool, false);
	pid = mover_start(&m, &a);
	wait_copy_begun();
	/* Under way: nobody may come to share the block that is moving. */
	EXPECT_RC(pool_retain(fx.pool, a), -EBUSY);
	/* Said so: -EBUSY's other cases are of other calls. */
	snprintf(want, sizeof(want), "block 0x%llx is being zeroed or moved "
		 "for its holder: ask again once that is done",
		 (unsigned long long)a);
	assert_string_equal(pool_last_message(-EBUSY), want);
	assert_non_null(strstr(pool_strerror(-EBUSY), "being moved or "
			       "zeroed for its holder"));
	assert_int_equal(harness_read_full(m.to_parent[0], &out, sizeof(out)),
			 0);
	close(m.to_parent[0]);
	assert_int_equal(harness_wait(pid), 0);
	/*
	 * A step per 4 KiB copied, then per page of the old place, and of
	 * the new one and the 1 MiB block once the mover freed them.  (The
	 * copy made at once, in the reply's turn, took none of the first.)
	 */
	steps = steps_of(fx.pool, false) - before;
	printf("move: %" PRIu64 " steps\n", steps);
	assert_true(steps >= (2 * MOVE_FROM + MOVE_TO + MiB) / 4096);
	assert_int_equal(stats().allocated_bytes, 0);
	assert_int_equal(stats().failed_allocs, 0);
	check_ok();
}

/*
 * The mover is killed while its block is copied: the copy stops, both
 * places are freed, and the daemon goes on serving.
 */
static void
mover_dies_mid_move(void **state)
{
	struct mover m = {.old_taken = false};
	struct pool_stats st;
	pool_off_t a;
	pid_t pid;

	(void)state;
	start_with_pool(MOVE_CONF, MOVE_POOL);
	pid = mover_start(&m, &a);
	wait_copy_begun();
	kill(pid, SIGKILL);
	assert_int_equal(harness_wait(pid), 128 + SIGKILL);
	close(m.to_parent[0]);
	/* The daemon notices the hang-up in its own time. */
	for (int i = 0; i < 1000 && stats().live_blocks; i++)
		harness_sleep_ms(10);
	st = stats();	/* waits for the pool to settle */
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.committed_bytes, 0);
	EXPECT_RC(pool_free(fx.pool, a), -EINVAL);
	check_ok();
	assert_int_equal(pool_alloc(fx.pool, MOVE_TO, &a), 0);
	assert_int_equal(pool_free(fx.pool, a), 0);
}

/*
 * A calloc the daemon zeroes in steps: 256 MiB of 32 KiB blocks written
 * and freed stay resident (retain keeps them for reuse), then a child's
 * 256 MiB calloc lands on them.  Its pages are punched 4 KiB per loop
 * turn, a step of the pool's each, and every byte reads zero.
 */
#define CALLOC_SIZE (256 * MiB)

struct zeroer {
	const char *sock;
	int to_parent[2];	/* a byte when it starts; the offset at the end */
};

static int
zeroer_child(void *arg)
{
	static const unsigned char zero[4096];
	struct zeroer *z = arg;
	struct pool_conn *c;
	struct pool *p;
	unsigned char *b;
	pool_off_t off;
	size_t i;

	close(z->to_parent[0]);
	CHECK_RC(pool_connect(z->sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "big", &p), 0, 3);
	CHECK(harness_write_full(z->to_parent[1], "g", 1) == 0, 4);
	CHECK_RC(pool_calloc(p, 1, CALLOC_SIZE, &off), 0, 5);
	CHECK(harness_write_full(z->to_parent[1], &off, sizeof(off)) == 0, 6);
	b = pool_ptr(p, off);
	for (i = 0; i < CALLOC_SIZE; i += sizeof(zero))
		CHECK(memcmp(b + i, zero, sizeof(zero)) == 0, 7);
	CHECK_RC(pool_free(p, off), 0, 8);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static void
big_calloc_goes_in_steps(void **state)
{
	enum { NBLOCKS = 8192, BLOCK = 32 * 1024 };
	static pool_off_t offs[NBLOCKS];
	static size_t sizes[NBLOCKS];
	struct zeroer z;
	pool_off_t got = 0;
	uint8_t *base;
	size_t dirty;
	char go;
	uint64_t before, steps;
	pid_t pid;
	int i;

	(void)state;
	start_with_pool(MOVE_CONF, "1G\nretain = 512M");
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	for (i = 0; i < NBLOCKS; i++)
		sizes[i] = BLOCK;
	for (i = 0; i < NBLOCKS; i += 1024)
		assert_int_equal(pool_alloc_batch(fx.pool, 1024, sizes + i,
						  offs + i), 0);
	base = pool_ptr(fx.pool, 0);
	for (i = 0; i < NBLOCKS; i++)
		memset(base + offs[i], 0xee, BLOCK);
	for (i = 0; i < NBLOCKS; i += 1024)
		assert_int_equal(pool_free_batch(fx.pool, 1024, offs + i), 0);
	/* Kept for reuse, dirty: the calloc has them to zero. */
	dirty = harness_resident_pages(base, CALLOC_SIZE);
	assert_true(dirty * 4096 >= CALLOC_SIZE / 2);
	before = steps_of(fx.pool, false);

	z.sock = fx.d.sock;
	assert_int_equal(pipe(z.to_parent), 0);
	pid = harness_spawn(zeroer_child, &z);
	assert_true(pid > 0);
	close(z.to_parent[1]);
	assert_int_equal(harness_read_full(z.to_parent[0], &go, 1), 0);
	assert_int_equal(harness_read_full(z.to_parent[0], &got, sizeof(got)),
			 0);
	close(z.to_parent[0]);
	assert_int_equal(harness_wait(pid), 0);
	/*
	 * A step per 4 KiB zeroed, then per page of the block once the
	 * zeroer freed it.  (Zeroed at once, in the reply's turn, it took
	 * none of the first.)
	 */
	steps = steps_of(fx.pool, false) - before;
	printf("calloc: %" PRIu64 " steps\n", steps);
	assert_true(steps >= 2 * CALLOC_SIZE / 4096);
	assert_int_equal(stats().allocated_bytes, 0);
	check_ok();
}

/*
 * Shrinking a big block in place gives its tail back in steps: they leave
 * by themselves after the reply, a step per page; the kept part reads as
 * written.
 */
static void
big_shrink_goes_in_steps(void **state)
{
	size_t len = 512 * MiB, keep = 1 * MiB, left = 0, first;
	uint64_t before, steps;
	pool_off_t off, out;
	unsigned char *m;
	int i;

	(void)state;
	start_with_pool("release_step = 4K\n", "1G");
	off = written_block(len, 0x3c);
	m = pool_ptr(fx.pool, off);
	before = steps_of(fx.pool, false);
	assert_int_equal(pool_realloc(fx.pool, off, keep, &out), 0);
	assert_int_equal(out, off);
	first = harness_resident_pages(m + keep, len - keep);
	/* No request from here on: the daemon finishes on its own. */
	for (i = 0; i < 1000; i++) {
		if ((left = harness_resident_pages(m + keep, len - keep)) == 0)
			break;
		harness_sleep_ms(10);
	}
	assert_int_equal(left, 0);
	steps = steps_of(fx.pool, false) - before;
	printf("shrink: %zu of %zu tail pages still resident at the reply, "
	       "%" PRIu64 " steps\n", first, (len - keep) / 4096, steps);
	assert_true(steps >= (len - keep) / 4096);
	for (size_t k = 0; k < keep; k += 512)
		if (m[k] != 0x3c)
			fail_msg("byte %zu of the shrunk block reads %#x", k,
				 m[k]);
	assert_int_equal(stats().allocated_bytes, keep);
	check_ok();
	assert_int_equal(pool_free(fx.pool, off), 0);
}

/*
 * The free pages a pool keeps for reuse are bounded by a quarter of its
 * live pages: 200 MiB of small blocks freed beside a live 1 GiB block stay
 * resident, and once that block is freed the pool keeps far more than its
 * bound.  The excess goes back in steps, with no idle trim.
 */
enum cut_at_reply { CUT_ANY, CUT_IN_STEPS, CUT_AT_ONCE };

/*
 * Start on conf, reload with reload (if not NULL), then free the pages:
 * none of them is kept at the free's reply and no step was taken for them
 * (CUT_AT_ONCE), or they went in steps of step bytes (CUT_IN_STEPS).
 */
static void
retained_excess_goes_back(const char *conf, const char *reload,
			  enum cut_at_reply at_reply, size_t step)
{
	enum { NBLOCKS = 6400, BLOCK = 32 * 1024 };
	static pool_off_t offs[NBLOCKS];
	static size_t sizes[NBLOCKS];
	size_t kept, left = 0;
	uint64_t before, steps;
	pool_off_t big;
	uint8_t *base;
	int i;

	start_with_pool(conf, "2G");
	if (reload) {
		char text[256];

		snprintf(text, sizeof(text),
			 SETTLE_CONF "%s[pool big]\nsize = 2G\n", reload);
		assert_int_equal(harness_reload_with(&fx.d, text), 0);
	}
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	for (i = 0; i < NBLOCKS; i++)
		sizes[i] = BLOCK;
	for (i = 0; i < NBLOCKS; i += 640)
		assert_int_equal(pool_alloc_batch(fx.pool, 640, sizes + i,
						  offs + i), 0);
	big = written_block(1024 * MiB, 0x11);
	base = pool_ptr(fx.pool, 0);
	for (i = 0; i < NBLOCKS; i++)
		memset(base + offs[i], 0xee, BLOCK);
	for (i = 0; i < NBLOCKS; i += 640)
		assert_int_equal(pool_free_batch(fx.pool, 640, offs + i), 0);
	kept = harness_resident_pages(base, 200 * MiB);
	assert_true(kept * 4096 >= 150 * MiB);
	before = steps_of(fx.pool, true);
	assert_int_equal(pool_free(fx.pool, big), 0);
	left = harness_resident_pages(base, 200 * MiB);
	printf("retain: %zu kept pages, %zu at the big free's reply\n", kept,
	       left);
	if (at_reply == CUT_AT_ONCE)
		assert_true(left * 4096 <= 2 * MiB);
	steps = steps_of(fx.pool, true) - before;
	left = harness_resident_pages(base, 200 * MiB);
	printf("retain: %zu kept pages down to %zu after the big free, in "
	       "%" PRIu64 " steps\n", kept, left, steps);
	/*
	 * All but the pool's bound (1 MiB), at most a step's worth per turn,
	 * or a block's run whole where a step is shorter.
	 */
	if (step < BLOCK)
		step = BLOCK;
	if (at_reply == CUT_IN_STEPS)
		assert_true(steps * step >= kept * 4096 - 2 * MiB);
	if (at_reply == CUT_AT_ONCE)
		assert_int_equal(steps, 0);
	assert_true(left * 4096 <= 2 * MiB);
	assert_int_equal(stats().allocated_bytes, 0);
	check_ok();
}

static void
retained_excess_goes_back_by_itself(void **state)
{
	(void)state;
	retained_excess_goes_back("idle_trim = 0\nrelease_step = 64K\n", NULL,
				  CUT_IN_STEPS, 64 * 1024);
	teardown(NULL);
	/* No steps: all of it inside the free, however many ranges. */
	retained_excess_goes_back("idle_trim = 0\nrelease_step = 0\n", NULL,
				  CUT_AT_ONCE, 0);
}

static void
reload_moves_the_retention_cut(void **state)
{
	(void)state;
	retained_excess_goes_back("idle_trim = 0\nrelease_step = 0\n",
				  "idle_trim = 0\nrelease_step = 4K\n",
				  CUT_IN_STEPS, 4096);
	teardown(NULL);
	retained_excess_goes_back("idle_trim = 0\nrelease_step = 64K\n",
				  "idle_trim = 0\nrelease_step = 0\n",
				  CUT_AT_ONCE, 0);
}

/*
 * n written blocks of size freed in one FreeBatch: their pages go in
 * steps, step bytes (the release step) a turn, at most a step's worth of
 * them given back in the request's own turn; stay pages of them may be
 * kept for reuse.
 */
static void
batch_goes_in_steps(const char *conf, size_t n, size_t size, size_t step,
		    size_t stay)
{
	static pool_off_t offs[POOL_BATCH_MAX];
	static size_t sizes[POOL_BATCH_MAX];
	uint8_t *base;
	size_t i, from, left, len = 0;
	uint64_t before, steps;

	start_with_pool(conf, "1G");
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	base = pool_ptr(fx.pool, 0);
	for (i = 0; i < n; i++)
		sizes[i] = size;
	assert_int_equal(pool_alloc_batch(fx.pool, n, sizes, offs), 0);
	for (i = 0; i < n; i++) {
		memset(base + offs[i], 0x5a, size);
		if (offs[i] + size > len)
			len = offs[i] + size;
	}
	from = harness_resident_pages(base, len);
	assert_true(from >= n * size / 4096);
	before = steps_of(fx.pool, false);
	assert_int_equal(pool_free_batch(fx.pool, n, offs), 0);
	steps = steps_of(fx.pool, false) - before;
	left = harness_resident_pages(base, len);
	printf("%zu pages down to %zu in %" PRIu64 " steps\n", from, left,
	       steps);
	assert_true(left <= stay);
	assert_true((steps + 1) * step >= (from - stay) * 4096);
	assert_int_equal(stats().allocated_bytes, 0);
	check_ok();
}

static void
batch_of_spans_goes_in_steps(void **state)
{
	(void)state;
	batch_goes_in_steps("idle_trim = 0\n", 512, 512 * 1024, 1 * MiB, 16);
}

static void
batch_of_pages_goes_in_steps(void **state)
{
	(void)state;
	batch_goes_in_steps("idle_trim = 0\nrelease_step = 4K\n", 4096,
			    4096, 4096, 256 + 16);
}

struct holder {
	const char *sock;
	int to_parent[2];	/* a byte once its blocks are written */
};

static int
holder_child(void *arg)
{
	static pool_off_t offs[1024];
	static size_t sizes[1024];
	struct holder *k = arg;
	struct pool_conn *c;
	struct pool *p;
	size_t i;

	close(k->to_parent[0]);
	CHECK_RC(pool_connect(k->sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "big", &p), 0, 3);
	for (i = 0; i < 1024; i++)
		sizes[i] = 128 * 1024;
	CHECK_RC(pool_alloc_batch(p, 1024, sizes, offs), 0, 4);
	for (i = 0; i < 1024; i++)
		memset(pool_ptr(p, offs[i]), 0x5a, sizes[i]);
	CHECK(harness_write_full(k->to_parent[1], "w", 1) == 0, 5);
	pause();
	return 0;
}

/* The holder, started on the fixture's daemon: its pid, once it holds. */
static pid_t
holder_started(void)
{
	struct holder k = {.sock = fx.d.sock};
	char written;
	pid_t pid;

	assert_int_equal(pipe(k.to_parent), 0);
	pid = harness_spawn(holder_child, &k);
	assert_true(pid > 0);
	close(k.to_parent[1]);
	assert_int_equal(harness_read_full(k.to_parent[0], &written, 1), 0);
	close(k.to_parent[0]);
	return pid;
}

/*
 * Wait until the daemon has closed every handle of p but n (a closed or
 * killed client's noticed): stats of p after that wait for what it let go.
 */
static void
handles_left(struct pool *p, uint64_t n)
{
	struct pool_stats st;
	int i;

	for (i = 0; i < 1000; i++) {
		assert_int_equal(pool_stats(p, &st), 0);
		if (st.clients == n)
			return;
		harness_sleep_ms(10);
	}
	fail_msg("%" PRIu64 " handles still open, not %" PRIu64, st.clients,
		 n);
}

static void
dead_client_spans_go_in_steps(void **state)
{
	uint8_t *base;
	size_t from, left;
	uint64_t before, steps;
	pid_t pid;

	(void)state;
	start_with_pool("idle_trim = 0\nrelease_step = 128K\n", "256M");
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	base = pool_ptr(fx.pool, 0);
	pid = holder_started();
	from = harness_resident_pages(base, 256 * MiB);
	assert_true(from >= 128 * MiB / 4096);
	before = steps_of(fx.pool, false);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(harness_wait(pid) != 0);
	handles_left(fx.pool, 1);
	steps = steps_of(fx.pool, false) - before;
	left = harness_resident_pages(base, 256 * MiB);
	printf("%zu pages down to %zu in %" PRIu64 " steps\n", from, left,
	       steps);
	/* A block of 128 KiB a turn, the first in the turn of the death. */
	assert_true(steps + 1 >= 1024);
	assert_true(left <= 16);
	assert_int_equal(stats().allocated_bytes, 0);
	check_ok();
}

/* Our mapping of pool name's share map (/proc/self/maps). */
static const uint8_t *
share_map_of(const char *name, size_t *len)
{
	char line[512], want[96];
	uintptr_t lo, hi;
	const uint8_t *m = NULL;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	snprintf(want, sizeof(want), "poolmgr:%s:shared", name);
	while (!m && fgets(line, sizeof(line), f))
		if (strstr(line, want) &&
		    sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {
			m = (const uint8_t *)lo;
			*len = hi - lo;
		}
	fclose(f);
	assert_non_null(m);
	return m;
}

/* The bit of the block at off in a share map, at granularity g. */
static bool
share_bit_of(const uint8_t *map, pool_off_t off, uint32_t g)
{
	uint64_t bit = off / g;

	return map[bit / 8] & (1u << (bit % 8));
}

static void
frees_leave_the_share_map_alone(void **state)
{
	static pool_off_t offs[512];
	static size_t sizes[512];
	const uint8_t *map;
	size_t i, len, before, after;

	(void)state;
	start_with_pool("idle_trim = 0\n", "1G");
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn2), 0);
	assert_int_equal(pool_open(fx.conn2, "big", &fx.pool2), 0);
	assert_int_equal(pool_set_cache(fx.pool2, 0), 0);
	for (i = 0; i < 512; i++)
		sizes[i] = 512 * 1024;
	assert_int_equal(pool_alloc_batch(fx.pool, 512, sizes, offs), 0);
	map = share_map_of("big", &len);
	assert_int_equal(pool_retain(fx.pool2, offs[7]), 0);
	assert_true(share_bit_of(map, offs[7], stats().granularity));
	before = harness_resident_pages((void *)map, len);
	assert_int_equal(pool_free_batch(fx.pool, 512, offs), 0);
	assert_int_equal(stats().allocated_bytes, 512 * 1024);
	after = harness_resident_pages((void *)map, len);
	printf("share map: %zu pages resident before the FreeBatch, %zu "
	       "after\n", before, after);
	assert_true(after <= before);
	assert_false(share_bit_of(map, offs[7], stats().granularity));
	assert_int_equal(pool_free(fx.pool2, offs[7]), 0);
	assert_false(share_bit_of(map, offs[7], stats().granularity));
	assert_int_equal(stats().allocated_bytes, 0);
	assert_true(harness_resident_pages((void *)map, len) <= before);
	check_ok();
}

static void
dead_client_leaves_the_share_map_alone(void **state)
{
	const uint8_t *map;
	size_t len, before, after;
	pid_t pid;

	(void)state;
	start_with_pool("idle_trim = 0\n", "256M");
	pid = holder_started();
	map = share_map_of("big", &len);
	before = harness_resident_pages((void *)map, len);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(harness_wait(pid) != 0);
	assert_int_equal(stats().allocated_bytes, 0);
	after = harness_resident_pages((void *)map, len);
	printf("share map: %zu pages resident before the kill, %zu after\n",
	       before, after);
	assert_true(after <= before);
	check_ok();
}

struct dropper {
	const char *sock;
	int to_parent[2];	/* the offsets once the blocks are written */
};

/* Opens "other", then "big" (closed first when it dies), and waits. */
static int
dropper_child(void *arg)
{
	struct dropper *k = arg;
	struct pool_conn *c;
	struct pool *other, *big;
	pool_off_t offs[4];
	int i;

	close(k->to_parent[0]);
	CHECK_RC(pool_connect(k->sock, &c), 0, 2);
	CHECK_RC(pool_open(c, "other", &other), 0, 3);
	CHECK_RC(pool_set_cache(other, 0), 0, 4);
	for (i = 0; i < 3; i++)
		CHECK_RC(pool_alloc(other, 64, &offs[i]), 0, 5);
	CHECK_RC(pool_open(c, "big", &big), 0, 6);
	CHECK_RC(pool_alloc(big, 64 * MiB, &offs[3]), 0, 7);
	memset(pool_ptr(big, offs[3]), 0x5a, 64 * MiB);
	CHECK(harness_write_full(k->to_parent[1], offs, sizeof(offs)) == 0, 8);
	pause();
	return 0;
}

static void
drops_count_per_turn(void **state)
{
	struct pool_conn *c3;
	struct pool *p3;
	struct dropper k;
	pool_off_t offs[4], mine[3];
	const uint8_t *map;
	size_t len, from, left;
	uint64_t before_big, before_other, big, other;
	uint8_t *block;
	uint32_t g;
	pid_t pid;
	int i;

	(void)state;
	start_with_pool("idle_trim = 0\nrelease_step = 4K\ndrop_step = 4\n"
			"[pool other]\nsize = 16M\n", "256M");
	assert_int_equal(pool_set_cache(fx.pool, 0), 0);
	assert_int_equal(pool_open(fx.conn, "other", &fx.pool2), 0);
	assert_int_equal(pool_set_cache(fx.pool2, 0), 0);
	k.sock = fx.d.sock;
	assert_int_equal(pipe(k.to_parent), 0);
	pid = harness_spawn(dropper_child, &k);
	assert_true(pid > 0);
	close(k.to_parent[1]);
	assert_int_equal(harness_read_full(k.to_parent[0], offs, sizeof(offs)),
			 0);
	close(k.to_parent[0]);
	assert_int_equal(pool_retain(fx.pool2, offs[0]), 0);
	g = stats().granularity;	/* "other"'s too: both the default */
	map = share_map_of("other", &len);
	assert_true(share_bit_of(map, offs[0], g));
	block = (uint8_t *)pool_ptr(fx.pool, offs[3]);
	from = harness_resident_pages(block, 64 * MiB);
	assert_true(from >= 64 * MiB / 4096 - 16);
	/* Three references dropped at once, in a turn of their own. */
	assert_int_equal(pool_connect(fx.d.sock, &c3), 0);
	assert_int_equal(pool_open(c3, "other", &p3), 0);
	assert_int_equal(pool_set_cache(p3, 0), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(pool_alloc(p3, 64, &mine[i]), 0);
	pool_close(p3);
	pool_disconnect(c3);
	/* Its close seen, and (a round trip more) the turn after it. */
	handles_left(fx.pool2, 2);
	before_big = steps_of(fx.pool, false);
	before_other = steps_of(fx.pool2, false);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(harness_wait(pid) != 0);
	handles_left(fx.pool2, 1);
	/*
	 * "other"'s stats wait for its own work only: the handle's drops,
	 * had they been queued behind the 64 MiB, would show as its steps.
	 */
	other = steps_of(fx.pool2, false) - before_other;
	big = steps_of(fx.pool, false) - before_big;
	left = harness_resident_pages(block, 64 * MiB);
	printf("64 MiB block: %zu pages, %zu left after %" PRIu64 " steps; "
	       "\"other\": %" PRIu64 " steps, shared block's bit %s\n",
	       from, left, big, other,
	       share_bit_of(map, offs[0], g) ? "set" : "clear");
	assert_int_equal(other, 0);
	assert_true(big >= 64 * MiB / 4096);
	assert_true(left <= 16);
	assert_false(share_bit_of(map, offs[0], g));
	assert_int_equal(stats().allocated_bytes, 0);
	check_ok();
}

/*
 * A request refused while the pool's work is still queued waits for it,
 * and waits no longer for work queued after it than settle_wait_ms: 0
 * here, so that a wait that happens is one for the work queued before
 * the request, nothing more.  The requests are a raw client's, which
 * does not try again (retry_follows is not set): libpoolclient, with its
 * cache, would ask a second time after a refusal, a new request that
 * waits for all that was queued by then.
 */
#define NO_SETTLE_CONF \
	"settle_wait_ms = 0\nrelease_step = 4K\nidle_trim = 0\n"

/*
 * Pool of 256 MiB, limit 128 MiB: we hold 64 MiB and free it, released
 * in 16384 steps of 4 KiB; another client asks at once for 96 MiB.  The
 * engine has room for both, the limit not while the 64 MiB are held (a
 * block whose pages go back is still the engine's, and counts):
 * 64 + 96 = 160 MiB > 128 MiB.  The limit's refusal waits as the
 * engine's does, for the release, and the request is served; the books
 * then hold its 96 MiB alone, and no failure shows.  The same for an
 * AllocBatch (counted by its sum).
 */
static void
limit_refusal_waits_for_release(void **state)
{
	const uint64_t sizes[2] = {56 * MiB, 56 * MiB};
	struct pool_stats st;
	uint64_t t0, steps, other, batch[2];
	pool_off_t off;
	uint32_t h;
	int fd;

	(void)state;
	start_with_pool(NO_SETTLE_CONF, "256M\nlimit = 128M");
	fd = harness_raw_client(fx.d.sock, "other");
	h = harness_raw_handle(fd, "big");
	off = written_block(64 * MiB, 0x5a);
	st = stats();
	assert_int_equal(st.allocated_bytes, 64 * MiB);
	assert_int_equal(st.limit, 128 * MiB);
	steps = st.release_steps;

	assert_int_equal(pool_free(fx.pool, off), 0);
	t0 = harness_now_ms();
	EXPECT_RAW(harness_raw_alloc(fd, h, 96 * MiB, &other, NULL), 0);
	printf("limit: 96 MiB served after %" PRIu64 " ms\n", harness_now_ms() - t0);
	st = stats();
	printf("limit: allocated %" PRIu64 " of %" PRIu64 ", %" PRIu64
	       " steps, %" PRIu64 " failed\n", st.allocated_bytes, st.limit,
	       st.release_steps - steps, st.failed_allocs);
	assert_int_equal(st.allocated_bytes, 96 * MiB);
	assert_true(st.release_steps - steps >= 64 * MiB / 4096);
	assert_int_equal(st.failed_allocs, 0);

	/* 96 MiB held for their release, and 112 MiB asked for at once. */
	EXPECT_RAW(harness_raw_free(fd, h, other), 0);
	EXPECT_RAW(harness_raw_alloc_batch(fd, h, sizes, 2, batch), 0);
	st = stats();
	assert_int_equal(st.allocated_bytes, 112 * MiB);
	assert_int_equal(st.failed_allocs, 0);
	/* A request the limit refuses even then is still refused. */
	EXPECT_RAW(harness_raw_alloc(fd, h, 17 * MiB, &other, NULL), -ENOMEM);
	assert_int_equal(stats().failed_allocs, 1);
	EXPECT_RAW(harness_raw_free(fd, h, batch[0]), 0);
	EXPECT_RAW(harness_raw_free(fd, h, batch[1]), 0);
	close(fd);
	check_ok();
}

/*
 * A block grows in place into the room of a neighbour freed after the
 * request came (settle_wait_ms = 0: the request waits for no such work
 * as a rule), refused by the limit while the neighbour's pages go back.
 * An engine's refusal waits for the neighbour (its run is the only room
 * the growth can have); so does the limit's, when the neighbour's bytes
 * are what the limit lacks.  Limit 383 MiB: we hold 127 MiB, a raw
 * client 128 MiB (x), another 128 MiB right after it (n).  We free ours
 * (32512 steps), the first asks x to grow to 256 MiB (383 + 128 MiB:
 * refused, held for our release), then the other frees n, queued after
 * the request.  Once
 * ours is back, 256 + 128 MiB still pass the limit; once n is, 128 + 128
 * do not, and the run after x holds the growth.
 */
static void
limit_refusal_waits_for_neighbour(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Realloc m = POOLMGR__REALLOC__INIT;
	Poolmgr__Reply *rep;
	struct pool_stats st;
	uint64_t t0, x, n;
	pool_off_t off;
	uint32_t h, hn;
	int fd, fn;

	(void)state;
	start_with_pool(NO_SETTLE_CONF, "1G\nlimit = 383M");
	fd = harness_raw_client(fx.d.sock, "other");
	fn = harness_raw_client(fx.d.sock, "neighbour");
	h = harness_raw_handle(fd, "big");
	hn = harness_raw_handle(fn, "big");
	off = written_block(127 * MiB, 0x77);
	EXPECT_RAW(harness_raw_alloc(fd, h, 128 * MiB, &x, NULL), 0);
	EXPECT_RAW(harness_raw_alloc(fn, hn, 128 * MiB, &n, NULL), 0);
	assert_int_equal(n, x + 128 * MiB);
	st = stats();
	assert_int_equal(st.allocated_bytes, 383 * MiB);

	assert_int_equal(pool_free(fx.pool, off), 0);
	m.handle = h;
	m.offset = x;
	m.size = 256 * MiB;
	req.body_case = POOLMGR__REQUEST__BODY_REALLOC;
	req.realloc = &m;
	t0 = harness_now_ms();
	assert_int_equal(harness_raw_post(fd, &req), 0);
	harness_sleep_ms(5);	/* the request is in, and held */
	EXPECT_RAW(harness_raw_free(fn, hn, n), 0);
	assert_non_null(rep = harness_raw_reply(fd, req.id, 30000));
	printf("neighbour: x to 256 MiB: %s (%d) after %" PRIu64 " ms\n",
	       rep->error ? pool_strerror(rep->error) : "served", rep->error,
	       harness_now_ms() - t0);
	st = stats();
	printf("neighbour: then allocated %" PRIu64 " of limit %" PRIu64
	       ", %" PRIu64 " failed\n", st.allocated_bytes, st.limit,
	       st.failed_allocs);
	EXPECT_RAW(rep->error, 0);
	assert_int_equal(rep->alloc->offset, x);	/* in place */
	poolmgr__reply__free_unpacked(rep, NULL);
	assert_int_equal(st.allocated_bytes, 256 * MiB);
	assert_int_equal(st.failed_allocs, 0);
	EXPECT_RAW(harness_raw_free(fd, h, x), 0);
	close(fd);
	close(fn);
	check_ok();
}

/*
 * A block the daemon moves in steps holds both places until the copy is
 * done, and then its old place until that is released, in steps too:
 * both are the move's work.  The mover (a child) grows a 256 MiB block
 * at 0 to 300 MiB behind a 1 MiB block (at 512 MiB); while the copy
 * goes, the engine holds 256 + 1 + 300 = 557 MiB, and another client asks
 * for want bytes, which fit once the old place is back and not before.
 * What refuses it meanwhile is the limit (400 MiB: 557 + 64 MiB pass it,
 * 301 + 64 do not; it also makes the client leave the move to the
 * daemon, 257 + 300 MiB at once passing it), or the engine (a quota has
 * the daemon move: the 256 MiB asked fit in no free run, 255 MiB after
 * the 1 MiB block being the longest, until the old place is free).  The
 * request waits for the move and for the old place's release, and is
 * served.
 */
static void
move_refusal_waits(const char *pool, uint64_t want, uint64_t limit)
{
	struct pool_stats st;
	struct mover m = {.old_taken = false};
	pool_off_t a, out;
	uint64_t t0, mine;
	uint32_t h;
	pid_t pid;
	int fd, rc;

	start_with_pool(NO_SETTLE_CONF, pool);
	fd = harness_raw_client(fx.d.sock, "other");
	h = harness_raw_handle(fd, "big");
	m.old_taken = want > 255 * MiB;	/* it can only go there */
	pid = mover_start(&m, &a);
	assert_int_equal(a, 0);
	wait_copy_begun();
	t0 = harness_now_ms();
	rc = harness_raw_alloc(fd, h, want, &mine, NULL);
	printf("%s: %" PRIu64 " MiB during the move: %s after %" PRIu64
	       " ms\n", limit ? "limit" : "room", (uint64_t)(want / MiB),
	       rc ? pool_strerror(rc) : "served", harness_now_ms() - t0);
	assert_int_equal(harness_read_full(m.to_parent[0], &out, sizeof(out)),
			 0);
	close(m.to_parent[0]);
	assert_int_equal(harness_wait(pid), 0);
	st = stats();
	printf("%s: then allocated %" PRIu64 " of limit %" PRIu64 ", %"
	       PRIu64 " failed\n", limit ? "limit" : "room",
	       st.allocated_bytes, st.limit, st.failed_allocs);
	assert_int_equal(out, 512 * MiB);
	EXPECT_RAW(rc, 0);
	assert_int_equal(st.allocated_bytes, want);	/* the mover's gone */
	assert_int_equal(st.limit, limit);
	assert_int_equal(st.failed_allocs, 0);
	EXPECT_RAW(harness_raw_free(fd, h, mine), 0);
	close(fd);
	check_ok();
}

static void
move_refusal_by_limit_waits(void **state)
{
	(void)state;
	move_refusal_waits("1G\nlimit = 400M", 64 * MiB, 400 * MiB);
}

static void
move_refusal_by_room_waits(void **state)
{
	(void)state;
	move_refusal_waits(MOVE_POOL, 256 * MiB, 0);
}

/*
 * A closed handle's references dropped in steps (drop_step = 4, the
 * handle holding 8) free its blocks, and a big one's release is the
 * close's work too.  We hold 256 MiB and free it (65536 steps of 4 KiB)
 * and a raw client closes a handle holding 7 pages and 64 MiB, queued
 * behind that; then another asks for 384 MiB under a 400 MiB limit:
 * refused while the 64 MiB are held (64 + 384 MiB), it waits for the
 * release and for the drops, and for the 64 MiB going back, which the
 * drops queued after the request came.
 */
static void
closed_handle_refusal_waits(void **state)
{
	struct pool_stats st;
	uint64_t t0, steps, big, small, mine;
	pool_off_t off;
	uint32_t hc, h;
	int fc, fd, i, rc;

	(void)state;
	start_with_pool(NO_SETTLE_CONF "drop_step = 4\n", "1G\nlimit = 400M");
	fc = harness_raw_client(fx.d.sock, "closer");
	fd = harness_raw_client(fx.d.sock, "other");
	hc = harness_raw_handle(fc, "big");
	h = harness_raw_handle(fd, "big");
	off = written_block(256 * MiB, 0x3c);
	for (i = 0; i < 7; i++)
		EXPECT_RAW(harness_raw_alloc(fc, hc, 4096, &small, NULL), 0);
	EXPECT_RAW(harness_raw_alloc(fc, hc, 64 * MiB, &big, NULL), 0);
	st = stats();
	assert_int_equal(st.allocated_bytes, 320 * MiB + 7 * 4096);
	steps = st.release_steps;

	assert_int_equal(pool_free(fx.pool, off), 0);
	EXPECT_RAW(harness_raw_close(fc, hc), 0);
	t0 = harness_now_ms();
	rc = harness_raw_alloc(fd, h, 384 * MiB, &mine, NULL);
	printf("close: 384 MiB %s after %" PRIu64 " ms\n",
	       rc ? pool_strerror(rc) : "served", harness_now_ms() - t0);
	st = stats();
	printf("close: then allocated %" PRIu64 " of limit %" PRIu64 ", %"
	       PRIu64 " steps, %" PRIu64 " failed\n", st.allocated_bytes,
	       st.limit, st.release_steps - steps, st.failed_allocs);
	EXPECT_RAW(rc, 0);
	assert_int_equal(st.allocated_bytes, 384 * MiB);
	assert_true(st.release_steps - steps >= 320 * MiB / 4096);
	assert_int_equal(st.failed_allocs, 0);
	EXPECT_RAW(harness_raw_free(fd, h, mine), 0);
	close(fc);
	close(fd);
	check_ok();
}

/*
 * A calloc's block its client lets go of while the daemon zeroes it: the
 * zeroing stops and the block is released in steps, as the zeroing's
 * last part.  A raw client asks for 256 MiB zeroed at 0
 * of the pool, sees no reply 5 ms later (the zeroing, 65536 steps of
 * 4 KiB, is under way: the reply waits for it), and is killed or closes
 * its socket; then another client asks for want bytes, which only the
 * block's can give: by the limit (400 MiB: 256 + 256 MiB pass it) or by
 * the pool's size (512 MiB: 256 + 384 MiB do not fit).  The request is
 * served once the block is back, and the books hold its bytes alone.
 */
#define LET_GO_SIZE (256 * MiB)

struct leaver {
	const char *sock;
	int to_parent[2];	/* a byte once the zeroing is seen under way */
};

/*
 * Post the calloc on fd; true if no reply has come 5 ms later (the
 * daemon holds it while it zeroes the block).
 */
static bool
calloc_posted_and_held(int fd, uint32_t h)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc m = POOLMGR__ALLOC__INIT;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	m.handle = h;
	m.size = LET_GO_SIZE;
	m.zero = true;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &m;
	if (harness_raw_post(fd, &req) != 0)
		return false;
	harness_sleep_ms(5);
	return poll(&pfd, 1, 0) == 0;
}

static int
leaver_child(void *arg)
{
	struct leaver *g = arg;
	uint32_t h;
	int fd;

	close(g->to_parent[0]);
	CHECK((fd = harness_raw_greeted(g->sock, "leaver")) >= 0, 2);
	CHECK_RC(harness_raw_open(fd, "big", &h), 0, 3);
	CHECK(calloc_posted_and_held(fd, h), 4);
	CHECK(harness_write_full(g->to_parent[1], "z", 1) == 0, 5);
	for (;;)
		pause();	/* killed while the block is zeroed */
}

/* A raw client of our own whose calloc is under way, then let go of. */
static void
zeroed_block_closed(void)
{
	int fd = harness_raw_client(fx.d.sock, "leaver");
	uint32_t h = harness_raw_handle(fd, "big");

	if (!calloc_posted_and_held(fd, h))
		fail_msg("the calloc was answered within 5 ms: not zeroed in "
			 "steps, or too fast to see");
	close(fd);
}

/*
 * A child of ours whose calloc is under way, killed: its pid, to be
 * reaped once the request that follows is in (its death is then seen by
 * the daemon about when that request is, as a close's is).
 */
static pid_t
zeroed_block_killed(void)
{
	struct leaver g = {.sock = fx.d.sock};
	pid_t pid;
	char z;

	assert_int_equal(pipe(g.to_parent), 0);
	pid = harness_spawn(leaver_child, &g);
	assert_true(pid > 0);
	close(g.to_parent[1]);
	if (harness_read_full(g.to_parent[0], &z, 1) != 0) {
		harness_wait(pid);
		fail_msg("the calloc was answered within 5 ms: not zeroed in "
			 "steps, or too fast to see");
	}
	close(g.to_parent[0]);
	kill(pid, SIGKILL);
	return pid;
}

static void
zeroed_block_let_go_waits(const char *pool, uint64_t want, uint64_t limit,
			  bool killed)
{
	const char *how = killed ? "killed" : "closed";
	struct pool_stats st;
	uint64_t t0, steps, mine;
	pid_t pid = 0;
	uint32_t h;
	int fd, rc;

	start_with_pool(NO_SETTLE_CONF, pool);
	fd = harness_raw_client(fx.d.sock, "other");
	h = harness_raw_handle(fd, "big");
	steps = stats().release_steps;
	if (killed)
		pid = zeroed_block_killed();
	else
		zeroed_block_closed();
	t0 = harness_now_ms();
	rc = harness_raw_alloc(fd, h, want, &mine, NULL);
	if (killed)
		assert_int_equal(harness_wait(pid), 128 + SIGKILL);
	printf("%s: %" PRIu64 " MiB while the calloc is let go of: %s after %"
	       PRIu64 " ms\n", how, (uint64_t)(want / MiB),
	       rc ? pool_strerror(rc) : "served", harness_now_ms() - t0);
	st = stats();
	printf("%s: then allocated %" PRIu64 " of limit %" PRIu64 ", %" PRIu64
	       " steps, %" PRIu64 " failed\n", how, st.allocated_bytes,
	       st.limit, st.release_steps - steps, st.failed_allocs);
	EXPECT_RAW(rc, 0);
	assert_int_equal(mine, 0);	/* the calloc's place, the only one */
	assert_int_equal(st.allocated_bytes, want);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(st.limit, limit);
	assert_int_equal(st.failed_allocs, 0);
	/* Some zeroing, then the block's release, all in steps. */
	assert_true(st.release_steps - steps > LET_GO_SIZE / 4096);
	check_ok();
	EXPECT_RAW(harness_raw_free(fd, h, mine), 0);
	close(fd);
	st = stats();
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	check_ok();
}

static void
killed_calloc_refusal_by_limit_waits(void **state)
{
	(void)state;
	zeroed_block_let_go_waits("1G\nlimit = 400M", 256 * MiB, 400 * MiB,
				  true);
}

static void
closed_calloc_refusal_by_room_waits(void **state)
{
	(void)state;
	zeroed_block_let_go_waits("512M", 384 * MiB, 0, false);
}

/* ---- trims joined, and a trim's pool destroyed under it ------------------ */

#define TRIM_CONF "release_step = 4K\nidle_trim = 0\n" \
		  "[pool kept]\nsize = 256M\nretain = 256M\n" \
		  "[pool doomed]\nsize = 256M\nretain = 256M\n"
#define TRIM_BLOCK (64 * 1024)		/* small: its pages are kept */

/*
 * mib MiB of small blocks of pool name written and freed: their pages
 * stay, kept for reuse (retain is the pool's size), until a trim.
 */
static void
keep_free_pages(const char *name, unsigned mib)
{
	size_t i, n = (size_t)mib * MiB / TRIM_BLOCK;
	pool_off_t *offs = calloc(n, sizeof(*offs));
	struct pool *p;

	assert_non_null(offs);
	EXPECT_RC(pool_open(fx.conn, name, &p), 0);
	for (i = 0; i < n; i++) {
		EXPECT_RC(pool_alloc(p, TRIM_BLOCK, &offs[i]), 0);
		memset(pool_ptr(p, offs[i]), 0x5a, TRIM_BLOCK);
	}
	for (i = 0; i < n; i++)
		EXPECT_RC(pool_free(p, offs[i]), 0);
	pool_close(p);
	free(offs);
	assert_true(harness_stats_of(fx.conn, name).free_resident_bytes >=
		    (uint64_t)mib * MiB / 2);
}

/* A Trim of pool name posted on raw connection fd: its id. */
static uint64_t
post_trim(int fd, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Trim t = POOLMGR__TRIM__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;

	ref.name = (char *)name;
	t.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_TRIM;
	req.trim = &t;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	return req.id;
}

/*
 * Two trims of one pool at once, in 4 KiB steps: the second joins the
 * first (one pass more, not a second queue entry), both are answered,
 * each with what the trims gave back since it came (the second no more
 * than the first), and then the pool keeps no free page and the bytes
 * add up in its counter.  A trim whose pool is destroyed by force under
 * it is answered (done, or -ENOENT: the pool went first), the daemon
 * serves on, the name can be made again, and the daemon stops cleanly.
 */
static void
trims_joined_and_destroyed_under(void **state)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	Poolmgr__Reply *r1, *r2;
	uint64_t id1, id2, rel1, rel2, kept;
	int a, b;

	(void)state;
	assert_int_equal(harness_start(&fx.d, TRIM_CONF), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
	keep_free_pages("kept", 128);
	kept = harness_stats_of(fx.conn, "kept").free_resident_bytes;
	a = harness_raw_client(fx.d.sock, "trim-a");
	b = harness_raw_client(fx.d.sock, "trim-b");
	id1 = post_trim(a, "kept");
	id2 = post_trim(b, "kept");
	assert_non_null(r1 = harness_raw_reply(a, id1, HARNESS_RAW_WAIT_MS));
	assert_non_null(r2 = harness_raw_reply(b, id2, HARNESS_RAW_WAIT_MS));
	assert_int_equal(r1->error, 0);
	assert_int_equal(r2->error, 0);
	rel1 = r1->trim->released_bytes;
	rel2 = r2->trim->released_bytes;
	poolmgr__reply__free_unpacked(r1, NULL);
	poolmgr__reply__free_unpacked(r2, NULL);
	printf("two trims of %" PRIu64 " kept bytes: %" PRIu64 " and %"
	       PRIu64 " released\n", kept, rel1, rel2);
	assert_int_equal(rel1, kept);
	assert_true(rel2 <= rel1);
	assert_int_equal(harness_stats_of(fx.conn, "kept").free_resident_bytes,
			 0);
	harness_expect_checked(fx.conn, "kept");

	keep_free_pages("doomed", 128);
	id1 = post_trim(a, "doomed");
	EXPECT_RC(pool_destroy_force(fx.conn, "doomed"), 0);
	assert_non_null(r1 = harness_raw_reply(a, id1, HARNESS_RAW_WAIT_MS));
	printf("a trim of a pool destroyed under it: %d\n", r1->error);
	assert_true(r1->error == 0 || r1->error == -ENOENT);
	poolmgr__reply__free_unpacked(r1, NULL);
	EXPECT_RC(pool_create(fx.conn, "doomed", &o), 0);
	harness_expect_checked(fx.conn, "doomed");
	harness_expect_checked(fx.conn, "kept");
	close(a);
	close(b);
	pool_disconnect(fx.conn);
	fx.conn = NULL;
	assert_int_equal(harness_stop(&fx.d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(big_free_goes_back_by_itself,
					  teardown),
		cmocka_unit_test_teardown(idle_pool_trims_itself, teardown),
		cmocka_unit_test_teardown(stats_and_check_settle_first,
					  teardown),
		cmocka_unit_test_teardown(held_block_never_refuses, teardown),
		cmocka_unit_test_teardown(shared_block_grows_into_held_room,
					  teardown),
		cmocka_unit_test_teardown(destroy_and_stop_right_after,
					  teardown),
		cmocka_unit_test_teardown(unmapped_pool_destroyed_in_steps,
					  teardown),
		cmocka_unit_test_teardown(mapped_pool_destroyed_keeps_its_bytes,
					  teardown),
		cmocka_unit_test_teardown(release_step_zero_frees_at_once,
					  teardown),
		cmocka_unit_test_teardown(
			unaligned_step_gives_whole_pages_back, teardown),
		cmocka_unit_test_teardown(big_realloc_moved_by_the_client,
					  teardown),
		cmocka_unit_test_teardown(big_move_goes_in_steps, teardown),
		cmocka_unit_test_teardown(mover_dies_mid_move, teardown),
		cmocka_unit_test_teardown(big_calloc_goes_in_steps, teardown),
		cmocka_unit_test_teardown(big_shrink_goes_in_steps, teardown),
		cmocka_unit_test_teardown(retained_excess_goes_back_by_itself,
					  teardown),
		cmocka_unit_test_teardown(reload_moves_the_retention_cut,
					  teardown),
		cmocka_unit_test_teardown(batch_of_spans_goes_in_steps,
					  teardown),
		cmocka_unit_test_teardown(batch_of_pages_goes_in_steps,
					  teardown),
		cmocka_unit_test_teardown(dead_client_spans_go_in_steps,
					  teardown),
		cmocka_unit_test_teardown(frees_leave_the_share_map_alone,
					  teardown),
		cmocka_unit_test_teardown(dead_client_leaves_the_share_map_alone,
					  teardown),
		cmocka_unit_test_teardown(drops_count_per_turn, teardown),
		cmocka_unit_test_teardown(limit_refusal_waits_for_release,
					  teardown),
		cmocka_unit_test_teardown(limit_refusal_waits_for_neighbour,
					  teardown),
		cmocka_unit_test_teardown(move_refusal_by_limit_waits,
					  teardown),
		cmocka_unit_test_teardown(move_refusal_by_room_waits,
					  teardown),
		cmocka_unit_test_teardown(closed_handle_refusal_waits,
					  teardown),
		cmocka_unit_test_teardown(killed_calloc_refusal_by_limit_waits,
					  teardown),
		cmocka_unit_test_teardown(closed_calloc_refusal_by_room_waits,
					  teardown),
		cmocka_unit_test_teardown(trims_joined_and_destroyed_under,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
