/*
 * itest_restart_fds.c - a restart in place (SIGUSR2) with replies that
 * pass descriptors queued and unread: OpenPool's (the pool's memfd and
 * share map), ShareMap's.  They go over with the rest of the client's
 * unsent replies, and the restart waits for nobody.  The fixture and
 * client processes: harness_restart.c.
 *
 *   unread_descriptors_carried   a client that does not read, its last
 *       replies an open (memfd and share map), a read-only open and a
 *       ShareMap: the restart does not wait for it (how long it took is
 *       printed), nor drops it; it then reads every reply in order, maps
 *       the memfds and reads what another client wrote, the read-only
 *       one reading only; the open's handle works, its share map and
 *       the ShareMap's are the new image's (not "replaced").
 *   destroyed_pool_carried       the same for an open of a pool destroyed
 *       by force before the restart, another pool made under its name
 *       since: the client still gets the destroyed pool's memory (what
 *       was written there, not what the new pool holds), its handle is
 *       gone (EBADF) as it would be without a restart, and once it has
 *       read them the daemon holds no descriptor of that memory.
 *   share_map_lost               the same client's ShareMap and open
 *       carried into a new image that could not make the pool's share
 *       map (its memfd refused there only, fail_memfd.so): the ShareMap
 *       reply comes with no descriptor, the open's with the memfd only,
 *       and the open's handle works; a ShareMap asked now is -ENODEV.  A
 *       library handle that cached before cannot renew its map and goes
 *       on without a cache: every call answered, every free the
 *       daemon's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_restart.h"
#include "poolmgr.pb-c.h"

#define FLOOD 5000
#define FLOOD_ID 1000000ull
#define ASK_ID 3000000ull	/* the requests whose replies pass fds */

/* The next reply, to request id, with its descriptors (n of them). */
static Poolmgr__Reply *
reply_with(int fd, uint64_t id, int n, int *fds)
{
	Poolmgr__Reply *rep;
	int got = 0;

	rep = harness_raw_reply_fds(fd, id, 10000, fds, 2, &got);
	if (!rep)
		fail_msg("no reply to request %" PRIu64 " after the restart: "
			 "the client was dropped", id);
	if (rep->error != 0 || got != n)
		fail_msg("request %" PRIu64 ": error %d, %d descriptors, "
			 "expected 0 and %d", id, (int)rep->error, got, n);
	return rep;
}

static void
post_open(int fd, const char *pool, bool read_only, uint64_t id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;

	o.name = (char *)pool;
	o.read_only = read_only;
	o.want_share_map = !read_only;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	assert_int_equal(harness_raw_send(fd, &req), 0);
}

static void
post_share_map(int fd, uint32_t h, uint64_t id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap sm = POOLMGR__SHARE_MAP__INIT;

	sm.handle = h;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	req.share_map = &sm;
	assert_int_equal(harness_raw_send(fd, &req), 0);
}

/*
 * Until the daemon has served want opens of pool by the client named
 * name: everything it sent before them was served too.
 */
static void
wait_opens(const char *pool, const char *name, size_t want)
{
	struct pool_client_info *ci;
	size_t n, i, k = 0;
	int tries;

	for (tries = 0; tries < 2000; tries++) {
		EXPECT_RC(pool_clients(rfx.conn, pool, &ci, &n), 0);
		for (i = 0, k = 0; i < n; i++)
			k += strcmp(ci[i].name, name) == 0;
		free(ci);
		if (k == want)
			return;
		harness_sleep_ms(5);
	}
	fail_msg("%zu of %zu opens of %s served", k, want, pool);
}

/*
 * SIGUSR2, and the restart's end: how long it took, as the test saw it
 * and as the new image logged it ("... in N ms").
 */
static void
restart_timed(void)
{
	struct timespec t0, t1;
	char line[512], *at;
	int before = harness_log_count(&rfx.d, HARNESS_RESTARTED);
	long ms = -1;
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(kill(rfx.d.pid, SIGUSR2), 0);
	assert_int_equal(harness_log_wait(&rfx.d, HARNESS_RESTARTED, before,
					  HARNESS_RESTART_WAIT_MS), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(f = fopen(rfx.d.log, "r"));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, HARNESS_RESTARTED) &&
		    (at = strstr(line, ", in ")))
			ms = strtol(at + 5, NULL, 10);
	fclose(f);
	printf("restarted %.3f s after SIGUSR2; the new image says the "
	       "clients waited %ld ms\n", (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, ms);
	assert_true(harness_alive(&rfx.d));
}

/* The share map at fd, of size bytes: the new image's, not replaced. */
static void
share_map_current(int fd, uint64_t size, const char *what)
{
	const uint64_t *word;
	long page = sysconf(_SC_PAGESIZE);
	void *m;

	assert_true(size > (uint64_t)page);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	/* The last page's words: the state, then "replaced". */
	word = (const uint64_t *)((const uint8_t *)m + size - (uint64_t)page);
	if (word[1] != 0)
		fail_msg("%s: the share map passed is marked replaced", what);
	munmap(m, size);
}

static uint8_t *
map_memfd(int fd, uint64_t size, bool write)
{
	void *m = mmap(NULL, size, PROT_READ | (write ? PROT_WRITE : 0),
		       MAP_SHARED, fd, 0);

	assert_true(m != MAP_FAILED);
	return m;
}

/* The book's blocks read as written through base. */
static void
book_intact(const uint8_t *base, const char *what)
{
	for (int i = 0; i < rfx.nbook; i++)
		if (!pattern_intact(base, rfx.book[i].off, rfx.book[i].len,
				    rfx.book[i].seed))
			fail_msg("%s: block at %" PRIu64 " does not read as "
				 "written", what, rfx.book[i].off);
}

static void
unread_descriptors_carried(void **state)
{
	Poolmgr__Reply *sm, *rw, *ro;
	int smfd[2], rwfd[2], rofd[2], fd;
	uint64_t off, usable, off2, size = 64 * MiB;
	struct remote *A;
	uint8_t *mrw, *mro;
	uint32_t h;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	A = remote_start(0, "p", 0);
	remote_block(A, OP_ALLOC, 5000);
	remote_block(A, OP_ALLOC, 2 * MiB);
	fd = harness_raw_client(rfx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	EXPECT_RAW(harness_raw_alloc(fd, h, 1000, &off, &usable), 0);
	assert_int_equal(harness_raw_flood(fd, h, off, FLOOD, FLOOD_ID),
			 FLOOD);
	post_share_map(fd, h, ASK_ID);
	post_open(fd, "p", false, ASK_ID + 1);
	post_open(fd, "p", true, ASK_ID + 2);
	wait_opens("p", "slow", 3);

	restart_timed();
	assert_int_equal(harness_raw_flood_replies(fd, FLOOD, FLOOD_ID,
						   usable), FLOOD);
	sm = reply_with(fd, ASK_ID, 1, smfd);
	rw = reply_with(fd, ASK_ID + 1, 2, rwfd);
	ro = reply_with(fd, ASK_ID + 2, 1, rofd);
	assert_int_equal(rw->body_case, POOLMGR__REPLY__BODY_OPEN);
	assert_int_equal(rw->open->max_size, size);
	share_map_current(smfd[0], sm->share_map->share_map_size, "ShareMap");
	share_map_current(rwfd[1], rw->open->share_map_size, "OpenPool");

	/* The same memory as everyone's, writable, and the other not. */
	mrw = map_memfd(rwfd[0], size, true);
	book_intact(mrw, "the carried open's memfd");
	assert_int_equal(fcntl(rofd[0], F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 rofd[0], 0) == MAP_FAILED);
	mro = map_memfd(rofd[0], size, false);
	book_intact(mro, "the carried read-only open's memfd");

	/* Its handle works: a block written through it, read by us. */
	EXPECT_RAW(harness_raw_alloc(fd, rw->open->handle, 4096, &off2, NULL),
		   0);
	memcpy(mrw + off2, "carried over", 13);
	assert_string_equal((char *)pool_ptr(rfx.pool, off2), "carried over");
	assert_string_equal((char *)mro + off2, "carried over");
	EXPECT_RAW(harness_raw_free(fd, rw->open->handle, off2), 0);
	EXPECT_RAW(harness_raw_close(fd, ro->open->handle), 0);
	EXPECT_RAW(harness_raw_close(fd, rw->open->handle), 0);
	EXPECT_RAW(harness_raw_free(fd, h, off), 0);

	munmap(mrw, size);
	munmap(mro, size);
	close(smfd[0]);
	close(rwfd[0]);
	close(rwfd[1]);
	close(rofd[0]);
	poolmgr__reply__free_unpacked(sm, NULL);
	poolmgr__reply__free_unpacked(rw, NULL);
	poolmgr__reply__free_unpacked(ro, NULL);
	close(fd);
	book_verify("after the restart");
	rfx_check("p");
}

/* How many of the daemon's descriptors are the memfds of pool name. */
static int
memfds_of(const char *name)
{
	char path[300], link[256], want[96];
	struct dirent *e;
	size_t n0;
	ssize_t n;
	DIR *dir;
	int k = 0;

	n0 = (size_t)snprintf(want, sizeof(want), "/memfd:poolmgr:%s", name);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)rfx.d.pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)rfx.d.pid,
			 e->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		/* "/memfd:poolmgr:d (deleted)", or its share map's */
		if (strncmp(link, want, n0) == 0 &&
		    (link[n0] == ' ' || link[n0] == ':'))
			k++;
	}
	closedir(dir);
	return k;
}

static void
destroyed_pool_carried(void **state)
{
	struct pool_create_opts co = {.max_size = 1 << 20, .mode = 0666};
	Poolmgr__Reply *rw, *ro;
	int rwfd[2], rofd[2], fd;
	uint64_t off, usable;
	pool_off_t goff, noff;
	struct pool *g;
	uint8_t *m;
	uint32_t h;

	(void)state;
	rfx_start("[pool p]\nsize = 16M\n", "p");
	EXPECT_RC(pool_create(rfx.conn, "gone", &co), 0);
	EXPECT_RC(pool_open(rfx.conn, "gone", &g), 0);
	EXPECT_RC(pool_alloc(g, 64, &goff), 0);
	strcpy(pool_ptr(g, goff), "the destroyed pool's");

	fd = harness_raw_client(rfx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	EXPECT_RAW(harness_raw_alloc(fd, h, 1000, &off, &usable), 0);
	assert_int_equal(harness_raw_flood(fd, h, off, FLOOD, FLOOD_ID),
			 FLOOD);
	post_open(fd, "gone", false, ASK_ID);
	post_open(fd, "gone", true, ASK_ID + 1);
	wait_opens("gone", "slow", 2);

	/* Gone with its handles; another under its name, other bytes. */
	pool_close(g);
	EXPECT_RC(pool_destroy_force(rfx.conn, "gone"), 0);
	EXPECT_RC(pool_create(rfx.conn, "gone", &co), 0);
	EXPECT_RC(pool_open(rfx.conn, "gone", &g), 0);
	EXPECT_RC(pool_alloc(g, 64, &noff), 0);
	strcpy(pool_ptr(g, noff), "the new pool's");
	printf("the destroyed pool's block at %" PRIu64 ", the new one's at "
	       "%" PRIu64 "\n", (uint64_t)goff, (uint64_t)noff);

	restart_timed();
	assert_int_equal(harness_raw_flood_replies(fd, FLOOD, FLOOD_ID,
						   usable), FLOOD);
	rw = reply_with(fd, ASK_ID, 2, rwfd);
	ro = reply_with(fd, ASK_ID + 1, 1, rofd);
	m = map_memfd(rwfd[0], 1 << 20, true);
	assert_string_equal((char *)m + goff, "the destroyed pool's");
	munmap(m, 1 << 20);
	assert_int_equal(fcntl(rofd[0], F_GETFL) & O_ACCMODE, O_RDONLY);
	m = map_memfd(rofd[0], 1 << 20, false);
	assert_string_equal((char *)m + goff, "the destroyed pool's");
	munmap(m, 1 << 20);
	/* Its handles closed with the pool, as without a restart. */
	EXPECT_RAW(harness_raw_alloc(fd, rw->open->handle, 64, &off, NULL),
		   -EBADF);
	close(rwfd[0]);
	close(rwfd[1]);
	close(rofd[0]);
	poolmgr__reply__free_unpacked(rw, NULL);
	poolmgr__reply__free_unpacked(ro, NULL);

	/* Sent, so not kept: the new pool's memfd and share map only. */
	printf("the daemon's descriptors of memfds named gone: %d, of p: "
	       "%d\n", memfds_of("gone"), memfds_of("p"));
	assert_int_equal(memfds_of("gone"), memfds_of("p"));
	assert_string_equal((char *)pool_ptr(g, noff), "the new pool's");
	EXPECT_RC(pool_free(g, noff), 0);
	pool_close(g);
	close(fd);
	rfx_check("p");
}

/*
 * rfx_start with the daemon's memfd_create of memfd refused, in the image
 * a restart in place starts only (fail_memfd.c).
 */
static void
start_failing_in_new_image(const char *conf, const char *pool,
			   const char *memfd)
{
	char *saved = harness_preload("fail_memfd.so");

	setenv("POOLMGR_FAIL_MEMFD", memfd, 1);
	setenv("POOLMGR_FAIL_MEMFD_IN", "restored", 1);
	rfx_start(conf, pool);
	unsetenv("POOLMGR_FAIL_MEMFD");
	unsetenv("POOLMGR_FAIL_MEMFD_IN");
	harness_preload_off(saved);
}

static void
share_map_lost(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap m = POOLMGR__SHARE_MAP__INIT;
	Poolmgr__Reply *sm, *rw, *rep;
	int smfd[2], rwfd[2], fd, i;
	uint64_t off, usable, off2, size = 16 * MiB;
	struct pool_stats st0, st1;
	struct remote *A;
	struct ans a;
	uint8_t *mrw;
	uint32_t h;

	(void)state;
	start_failing_in_new_image("[pool p]\nsize = 16M\n", "p",
				   "poolmgr:p:shared");
	assert_int_equal(harness_log_count(&rfx.d, "no share map"), 0);
	/* A library handle with a cache, a freed block in it. */
	A = remote_start(0, "p", 1 << 20);
	remote_block(A, OP_ALLOC, 5000);
	a = REMOTE_OK(A, OP_ALLOC, 0, 64, 0);
	REMOTE_OK(A, OP_FREE, a.off, 0, 0);

	fd = harness_raw_client(rfx.d.sock, "slow");
	h = harness_raw_handle(fd, "p");
	EXPECT_RAW(harness_raw_alloc(fd, h, 1000, &off, &usable), 0);
	assert_int_equal(harness_raw_flood(fd, h, off, FLOOD, FLOOD_ID),
			 FLOOD);
	post_share_map(fd, h, ASK_ID);
	post_open(fd, "p", false, ASK_ID + 1);
	wait_opens("p", "slow", 2);

	restart_timed();
	assert_int_equal(harness_log_count(&rfx.d, "pool p: no share map "
					   "(Operation not permitted)"), 1);
	assert_int_equal(harness_raw_flood_replies(fd, FLOOD, FLOOD_ID,
						   usable), FLOOD);
	/* Made with the old map: its size says so, but no map comes. */
	sm = reply_with(fd, ASK_ID, 0, smfd);
	assert_int_equal(sm->body_case, POOLMGR__REPLY__BODY_SHARE_MAP);
	rw = reply_with(fd, ASK_ID + 1, 1, rwfd);
	assert_int_equal(rw->body_case, POOLMGR__REPLY__BODY_OPEN);
	printf("carried: ShareMap of %" PRIu64 " bytes and an open with a "
	       "map of %" PRIu64 " bytes, neither with the map\n",
	       (uint64_t)sm->share_map->share_map_size,
	       (uint64_t)rw->open->share_map_size);
	mrw = map_memfd(rwfd[0], size, true);
	book_intact(mrw, "the carried open's memfd");
	EXPECT_RAW(harness_raw_alloc(fd, rw->open->handle, 4096, &off2, NULL),
		   0);
	memcpy(mrw + off2, "no map", 7);
	assert_string_equal((char *)pool_ptr(rfx.pool, off2), "no map");
	EXPECT_RAW(harness_raw_free(fd, rw->open->handle, off2), 0);
	munmap(mrw, size);

	/* Asked now, the map is plainly not there. */
	m.handle = h;
	req.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	req.share_map = &m;
	rep = harness_raw_expect(fd, &req, -ENODEV);
	poolmgr__reply__free_unpacked(rep, NULL);

	/*
	 * The library's handle: its map frozen and not renewed, it caches
	 * nothing, and every call is answered.
	 */
	st0 = rfx_stats();
	for (i = 0; i < 100; i++) {
		a = REMOTE_OK(A, OP_ALLOC, 0, 64, 0);
		REMOTE_OK(A, OP_FREE, a.off, 0, 0);
	}
	st1 = rfx_stats();
	assert_int_equal(st1.allocs, st0.allocs + 100);
	assert_int_equal(st1.frees, st0.frees + 100);
	remote_block(A, OP_CALLOC, 3000);
	book_verify("after the restart without a share map");
	for (i = 0; i < rfx.nbook; i++)
		remote_verify(A, rfx.book[i].off);

	EXPECT_RAW(harness_raw_close(fd, rw->open->handle), 0);
	EXPECT_RAW(harness_raw_free(fd, h, off), 0);
	close(rwfd[0]);
	poolmgr__reply__free_unpacked(sm, NULL);
	poolmgr__reply__free_unpacked(rw, NULL);
	close(fd);
	remote_exit(A);
	rfx_check("p");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(unread_descriptors_carried,
					  rfx_teardown),
		cmocka_unit_test_teardown(destroyed_pool_carried,
					  rfx_teardown),
		cmocka_unit_test_teardown(share_map_lost, rfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
