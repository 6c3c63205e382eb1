/*
 * itest_huge.c - pools on huge pages: the real daemon, real clients.
 *
 * A pool made with a huge page size lives in a hugetlbfs memfd whose
 * every page the daemon reserves when it makes the pool, and keeps for
 * the pool's life (docs/design.md).  So: a pool the kernel has too few
 * free huge pages for is refused with -ENOMEM and nothing is made; a bad
 * page size is -EINVAL; clients map the pool at a huge page boundary and
 * share its bytes; blocks below a huge page are cut to the granularity,
 * not to whole huge pages; freeing and trimming give no page back, so a client
 * that touches every page of the pool never faults for want of one even
 * when another program has taken every free huge page since; calloc
 * still zeroes what was written before; a destroyed pool gives its pages
 * back once nobody maps it, and keeps them while a child its client forked
 * still does, though the daemon knows of no mapping; a restart in place
 * keeps the pool, its bytes and its page size, and writes nothing over
 * its free pages (a calloc there is zeroed all the same), and so does a crash
 * under systemd (a memfd not of the page size the journal says is
 * refused); poolctl and the configuration file make such pools.
 *
 * The test reserves the huge pages it needs itself (as root, through
 * the kernel's count of 2 MiB pages) and puts the count back as it was
 * when it ends.  Where it cannot, it says "SKIP:" and why, and passes.
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
#include <sys/stat.h>
#include <unistd.h>

#include <linux/memfd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define MiB (1024ull * 1024)
#define HUGE (2 * MiB)
#define HUGE_DIR "/sys/kernel/mm/hugepages/hugepages-2048kB/"
/* The gigantic page of x86-64, where the kernel offers it. */
#define GIANT (1024 * MiB)
#define GIANT_DIR "/sys/kernel/mm/hugepages/hugepages-1048576kB/"
/* Huge pages the tests need free at once, at most. */
#define NEED 8

#define EXIT_USAGE 2

static long old_count = -1;	/* the kernel's count before, to put back */
static long giant_old = -1;	/* the same of GIANT_DIR's */
static const char *skip_why;	/* set: every test says so and passes */
static char skip_buf[160];

static struct daemon_proc d;
static struct harness_store *store;	/* crash_recovers_huge_pool's */
/* A test's pool and connection, closed by teardown if it failed with them
 * open: its mapping would keep the pool's huge pages from the tests after. */
static struct pool_conn *held_conn;
static struct pool *held_pool;
/* destroyed_pool_kept_for_forked_child's hog, let go of by teardown too. */
static void *held_hog;
static size_t held_hog_len;
static int held_hog_fd = -1;
static char out[16384], err[4096];

/* A count of dir's, or -1. */
static long
count_read(const char *dir, const char *file)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", dir, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static long
huge_read(const char *file)
{
	return count_read(HUGE_DIR, file);
}

static int
count_set(const char *dir, long n)
{
	char path[128];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%snr_hugepages", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;

	rc = fprintf(f, "%ld\n", n) < 0;
	return fclose(f) != 0 || rc ? -1 : 0;
}

static int
huge_set_count(long n)
{
	return count_set(HUGE_DIR, n);
}

/* Free huge pages nobody has reserved: what a new pool may take. */
static long
huge_available(void)
{
	return huge_read("free_hugepages") - huge_read("resv_hugepages");
}

/*
 * huge_available once it is want, or what it is after 10 s: the pages of
 * a destroyed pool go back as the daemon gets to them.
 */
static long
huge_wait_available(long want)
{
	int i;

	for (i = 0; i < 1000 && huge_available() != want; i++)
		harness_sleep_ms(10);
	return huge_available();
}

/* Free gigantic pages nobody has reserved. */
static long
giant_available(void)
{
	return count_read(GIANT_DIR, "free_hugepages") -
	       count_read(GIANT_DIR, "resv_hugepages");
}

static void
giant_put_back(void)
{
	if (giant_old >= 0 && count_set(GIANT_DIR, giant_old) == 0)
		giant_old = -1;
}

static void
huge_put_back(void)
{
	if (old_count >= 0 && huge_set_count(old_count) == 0)
		old_count = -1;
	giant_put_back();
}

/* A test run out of time is ended with SIGTERM: the count goes back. */
static void
on_term(int sig)
{
	huge_put_back();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
group_setup(void **state)
{
	long have;

	(void)state;
	if (geteuid() != 0) {
		skip_why = "not root: cannot reserve huge pages";
		return 0;
	}
	if ((have = huge_read("nr_hugepages")) < 0) {
		skip_why = "this kernel offers no 2 MiB huge pages";
		return 0;
	}
	if (huge_available() < NEED) {
		old_count = have;
		atexit(huge_put_back);
		signal(SIGTERM, on_term);
		signal(SIGINT, on_term);
		if (huge_set_count(have + NEED - huge_available()) != 0)
			fprintf(stderr, "cannot write %snr_hugepages: %s\n",
				HUGE_DIR, strerror(errno));
	}
	if (huge_available() < NEED) {
		snprintf(skip_buf, sizeof(skip_buf), "the kernel gave %ld of "
			 "the %d free 2 MiB huge pages the test needs",
			 huge_available(), NEED);
		skip_why = skip_buf;
		huge_put_back();
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	huge_put_back();
	return 0;
}

/* Pass, saying why, where the huge pages could not be had. */
static void
skip_without_pages(void)
{
	if (skip_why) {
		printf("SKIP: %s\n", skip_why);
		fflush(stdout);
		skip();
	}
}

static void
start(const char *config)
{
	skip_without_pages();
	assert_int_equal(harness_start(&d, config), 0);
}

/* Let go of the hog's pages (held_hog), if a test took them. */
static void
hog_release(void)
{
	if (held_hog)
		munmap(held_hog, held_hog_len);
	if (held_hog_fd >= 0)
		close(held_hog_fd);
	held_hog = NULL;
	held_hog_fd = -1;
}

/*
 * Stop what a test started, also when it failed half way: a daemon left
 * behind would keep its huge pages from going back to the kernel.
 */
static int
teardown(void **state)
{
	int rc = 0;

	(void)state;
	if (held_pool)
		pool_close(held_pool);
	if (held_conn)
		pool_disconnect(held_conn);
	held_pool = NULL;
	held_conn = NULL;
	hog_release();
	if (store) {
		harness_store_close(store);
		free(store);
		store = NULL;
	}
	if (d.pid > 0)
		rc = harness_stop(&d);
	d.pid = 0;
	assert_int_equal(rc, 0);
	return 0;
}

static void
create_huge(struct pool_conn *c, const char *name, uint64_t size)
{
	struct pool_create_opts o = {.max_size = size, .page_size = HUGE};

	EXPECT_RC(pool_create(c, name, &o), 0);
}

static struct pool_stats
stats_of(struct pool_conn *c, const char *name)
{
	struct pool_stats st;

	EXPECT_RC(pool_stats_by_name(c, name, &st), 0);
	return st;
}

/* What a reader child is told: where to look and what it must find. */
struct reader {
	const char *sock, *pool;
	uint64_t page;		/* the pool's page size; 0: HUGE */
	pool_off_t off;
	size_t len;
	unsigned char byte;
	bool touch_all;		/* write every page of the pool first */
	bool read_only;		/* open it read-only */
};

/*
 * Another process: its own connection and mapping, at a huge page
 * boundary, reading what the test wrote.  With touch_all, every page of
 * the pool is written first (free or not): a page without its huge page
 * would end the child with SIGBUS.
 */
static int
reader(void *arg)
{
	const struct reader *r = arg;
	struct pool_conn *c;
	struct pool *p;
	uint64_t page = r->page ? r->page : HUGE;
	unsigned char *base;
	size_t i;

	CHECK_RC(pool_connect(r->sock, &c), 0, 10);
	CHECK_RC(r->read_only ? pool_open_readonly(c, r->pool, &p) :
		 pool_open(c, r->pool, &p), 0, 11);
	base = pool_ptr(p, 0);
	CHECK((uintptr_t)base % page == 0, 12);
	CHECK(pool_size(p) % page == 0, 13);
	if (r->touch_all)
		for (i = 0; i < pool_size(p); i += 4096)
			if (i < r->off || i >= r->off + r->len)
				((volatile unsigned char *)base)[i] = 0x5a;
	for (i = 0; i < r->len; i++)
		CHECK(base[r->off + i] == r->byte, 14);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static int
read_in_child(struct reader *r)
{
	r->sock = d.sock;
	return harness_wait(harness_spawn(reader, r));
}

/* Made on huge pages, shared between processes, its stats say so. */
static void
huge_pool_shared(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	struct pool *p;
	struct reader r = {.pool = "hp", .len = 3 * MiB, .byte = 0xa5};
	long before;

	(void)state;
	start(NULL);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	before = huge_available();
	create_huge(c, "hp", 5 * MiB);
	/* Every page reserved at once, the size rounded up to them. */
	assert_int_equal(huge_available(), before - 3);
	st = stats_of(c, "hp");
	assert_int_equal(st.page_size, HUGE);
	assert_int_equal(st.max_size, 6 * MiB);

	EXPECT_RC(pool_open(c, "hp", &p), 0);
	assert_int_equal((uintptr_t)pool_ptr(p, 0) % HUGE, 0);
	EXPECT_RC(pool_alloc(p, r.len, &r.off), 0);
	memset(pool_ptr(p, r.off), r.byte, r.len);
	assert_int_equal(read_in_child(&r), 0);
	r.read_only = true;
	assert_int_equal(read_in_child(&r), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.page_size, HUGE);
	assert_int_equal(huge_available(), before - 3);

	/* The system page asked for by its size: an ordinary pool. */
	{
		struct pool_create_opts o = {
			.max_size = 5000,
			.page_size = (uint64_t)sysconf(_SC_PAGESIZE),
		};

		EXPECT_RC(pool_create(c, "small", &o), 0);
		st = stats_of(c, "small");
		assert_int_equal(st.page_size, sysconf(_SC_PAGESIZE));
	}
	pool_close(p);
	EXPECT_RC(pool_destroy(c, "hp"), 0);
	/* Its memfd is closed off the daemon's loop: the pages go soon. */
	assert_int_equal(huge_wait_available(before), before);
	pool_disconnect(c);
}

/*
 * A huge page is not a small block's unit: blocks below one are cut to
 * the granularity (the engine's threshold for spans is the huge page),
 * so nine 200 KiB blocks share one; only bigger ones take whole pages.
 */
static void
small_blocks_share_a_huge_page(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off[9], big;
	size_t usable;
	unsigned i;

	(void)state;
	start(NULL);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	create_huge(c, "share", 2 * HUGE);
	EXPECT_RC(pool_open(c, "share", &p), 0);
	for (i = 0; i < 9; i++) {
		EXPECT_RC(pool_alloc(p, 200 << 10, &off[i]), 0);
		EXPECT_RC(pool_usable_size(p, off[i], &usable), 0);
		assert_int_equal(usable, 200 << 10);
		assert_true(off[i] + usable <= HUGE);
	}
	/* A huge page and more: whole pages, the rest of the pool. */
	EXPECT_RC(pool_alloc(p, HUGE, &big), 0);
	assert_int_equal(big, HUGE);
	EXPECT_RC(pool_usable_size(p, big, &usable), 0);
	assert_int_equal(usable, HUGE);
	pool_close(p);
	EXPECT_RC(pool_destroy_force(c, "share"), 0);
	pool_disconnect(c);
}

/*
 * More than the kernel has free: refused, nothing made or reserved; the
 * words say where to reserve more (they named vm.nr_hugepages for 1 GiB
 * pages, which it does not count).
 */
static void
too_few_pages_refused(void **state)
{
	struct pool_stats *list, st;
	struct pool_conn *c;
	size_t n, n_after;
	long before;

	(void)state;
	start(NULL);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	create_huge(c, "first", HUGE);
	EXPECT_RC(pool_list(c, &list, &n), 0);
	free(list);
	before = huge_available();
	{
		struct pool_create_opts o = {
			.max_size = (uint64_t)(before + 1) * HUGE,
			.page_size = HUGE,
		};

		EXPECT_RC(pool_create(c, "big", &o), -ENOMEM);
	}
	assert_non_null(strstr(pool_strerror(-ENOMEM), "huge pages"));
	EXPECT_RC(pool_stats_by_name(c, "big", &st), -ENOENT);
	EXPECT_RC(pool_list(c, &list, &n_after), 0);
	assert_int_equal(n_after, n);
	assert_string_equal(list[0].name, "first");
	free(list);
	assert_int_equal(huge_available(), before);
	/* 1 GiB pages, where the kernel offers them but has none free. */
	if (count_read(GIANT_DIR, "free_hugepages") == 0) {
		struct pool_create_opts o = {
			.max_size = 1, .page_size = 1ull << 30,
		};

		EXPECT_RC(pool_create(c, "giant", &o), -ENOMEM);
		EXPECT_RC(pool_stats_by_name(c, "giant", &st), -ENOENT);
		/*
		 * The words name where 1 GiB pages are set: vm.nr_hugepages
		 * sets the default size's (2 MiB) alone.
		 */
		assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out),
						 err, sizeof(err), "create giant "
						 "--size 1 --page-size 1G"), 1);
		if (!strstr(err, "the system has 0 free (" GIANT_DIR
			    "nr_hugepages)"))
			fail_msg("words of too few 1 GiB pages: %s", err);
		/* And the log's, for a pool of the file. */
		assert_int_equal(harness_reload_with(&d, "[pool giant]\n"
						     "size = 1\n"
						     "page_size = 1G\n"), 0);
		assert_int_equal(harness_log_count(&d, "pool giant: cannot "
						   "create: not enough free "
						   "huge pages to reserve (0 "
						   "free; " GIANT_DIR
						   "nr_hugepages)"), 1);
	}
	/* The daemon serves on: what fits is made. */
	create_huge(c, "fits", (uint64_t)before * HUGE);
	assert_int_equal(huge_available(), 0);
	pool_disconnect(c);
}

/* A page size the kernel does not offer: -EINVAL, nothing made. */
static void
bad_page_size_refused(void **state)
{
	static const uint64_t bad[] = {
		3 * MiB, 1, 100, 8192, 4 * MiB, 1ull << 63, UINT64_MAX,
	};
	struct pool_conn *c;
	struct pool_stats st, *list;
	size_t i, n;
	long before;

	(void)state;
	start(NULL);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	before = huge_available();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pool_create_opts o = {
			.max_size = 4 * MiB, .page_size = bad[i],
		};

		if (bad[i] == (uint64_t)sysconf(_SC_PAGESIZE) ||
		    (bad[i] == 4 * MiB && huge_read("../hugepages-4096kB/"
						    "nr_hugepages") >= 0))
			continue;
		EXPECT_RC(pool_create(c, "bad", &o), -EINVAL);
		EXPECT_RC(pool_stats_by_name(c, "bad", &st), -ENOENT);
	}
	EXPECT_RC(pool_list(c, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(huge_available(), before);
	pool_disconnect(c);
}

/*
 * A memfd of n huge pages, mapped (so reserved): every free huge page
 * another program could take.
 */
static void *
hog(long n, int *fd)
{
	void *m;

	*fd = memfd_create("hog", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	assert_true(*fd >= 0);
	assert_int_equal(ftruncate(*fd, n * (off_t)HUGE), 0);
	m = mmap(NULL, (size_t)n * HUGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 *fd, 0);
	assert_true(m != MAP_FAILED);
	return m;
}

/*
 * Blocks written, freed, the pool trimmed: nothing goes back (a punched
 * huge page loses its reservation), so with every free huge page taken
 * by another program since, a client touching every page of the pool
 * still gets none of SIGBUS; and calloc zeroes what was written.
 */
static void
freed_pages_stay(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	struct reader r = {.pool = "hp", .len = 4096, .byte = 0,
			   .touch_all = true};
	pool_off_t span[2], small[64], z;
	uint64_t released = 1;
	unsigned char *b;
	void *m = NULL;
	long free_now;
	size_t i;
	int fd = -1;

	(void)state;
	start(NULL);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	create_huge(c, "hp", 4 * HUGE);
	EXPECT_RC(pool_open(c, "hp", &p), 0);
	for (i = 0; i < 2; i++) {
		EXPECT_RC(pool_alloc(p, HUGE, &span[i]), 0);
		memset(pool_ptr(p, span[i]), 0xee, HUGE);
	}
	for (i = 0; i < 64; i++) {
		EXPECT_RC(pool_alloc(p, 16384, &small[i]), 0);
		memset(pool_ptr(p, small[i]), 0xdd, 16384);
	}
	for (i = 0; i < 2; i++)
		EXPECT_RC(pool_free(p, span[i]), 0);
	for (i = 0; i < 64; i++)
		EXPECT_RC(pool_free(p, small[i]), 0);
	EXPECT_RC(pool_flush(p), 0);
	EXPECT_RC(pool_trim_by_name(c, "hp", &released), 0);
	assert_int_equal(released, 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.released_bytes, 0);
	assert_int_equal(st.live_blocks, 0);

	/* Another program takes every free huge page there is. */
	if ((free_now = huge_read("free_hugepages") -
			huge_read("resv_hugepages")) > 0)
		m = hog(free_now, &fd);
	assert_int_equal(huge_available(), 0);

	/* A block to read back, zeroed by calloc over written pages. */
	EXPECT_RC(pool_calloc(p, 1, HUGE, &z), 0);
	b = pool_ptr(p, z);
	for (i = 0; i < HUGE; i++)
		if (b[i] != 0)
			fail_msg("calloc'd byte %zu is %#x", i, b[i]);
	r.off = z;
	assert_int_equal(read_in_child(&r), 0);

	/* The whole pool is still there to be had. */
	EXPECT_RC(pool_free(p, z), 0);
	for (i = 0; i < 4; i++) {
		pool_off_t x;

		EXPECT_RC(pool_alloc(p, HUGE, &x), 0);
		memset(pool_ptr(p, x), 0x11, HUGE);
	}
	if (m) {
		munmap(m, (size_t)free_now * HUGE);
		close(fd);
	}
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The daemon's descriptor of pool name's memfd, opened again through
 * /proc (so the file outlives the daemon's close), or -1; *ino its inode.
 */
static int
daemon_memfd_open(const char *name, ino_t *ino)
{
	char path[64], link[128], want[96];
	struct stat sb;
	ssize_t n;
	int fd;

	snprintf(want, sizeof(want), "/memfd:poolmgr:%s (deleted)", name);
	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)d.pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want) == 0 && stat(path, &sb) == 0) {
			*ino = sb.st_ino;
			return open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	return -1;
}

/*
 * A persisted block of 3 huge pages written in pool hp (4 huge pages); the
 * daemon's memfd's inode in *ino.  The handle stays open.
 */
static pool_off_t
pool_with_block(struct pool_conn *c, struct pool **p, ino_t *ino)
{
	pool_off_t off;
	int fd;

	create_huge(c, "hp", 4 * HUGE);
	EXPECT_RC(pool_open(c, "hp", p), 0);
	EXPECT_RC(pool_alloc(*p, 3 * HUGE, &off), 0);
	memset(pool_ptr(*p, off), 0x4e, 3 * HUGE);
	EXPECT_RC(pool_persist(*p, off), 0);
	fd = daemon_memfd_open("hp", ino);
	assert_true(fd >= 0);
	close(fd);
	return off;
}

/*
 * A destroyed pool that no process maps gives all its huge pages back,
 * written or only reserved, once the daemon has closed its memfd.
 */
static void
destroyed_pool_gives_pages_back(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	long before, free_before;
	ino_t ino = 0;

	(void)state;
	start(NULL);
	before = huge_available();
	free_before = huge_read("free_hugepages");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	pool_with_block(c, &p, &ino);
	pool_close(p);
	assert_int_equal(huge_available(), before - 4);
	EXPECT_RC(pool_destroy_force(c, "hp"), 0);
	harness_wait_let_go(&d, ino);
	assert_int_equal(huge_wait_available(before), before);
	assert_int_equal(huge_read("free_hugepages"), free_before);
	pool_disconnect(c);
}

/* The forked child: the pool as it maps it, and a pipe. */
struct keeper {
	volatile unsigned char *base;
	size_t size;
	pool_off_t off;		/* the block: 3 huge pages of 0x4e */
	int go[2];		/* a byte (or its end): look now */
};

/*
 * Once told, read the block back and write every page of the pool: a
 * page given back, with every free huge page taken since, ends the child
 * with SIGBUS.
 */
static int
keeper(void *arg)
{
	struct keeper *k = arg;
	char byte;
	size_t i;

	alarm(60);
	/* cmocka's handler, inherited, would run the next tests here. */
	signal(SIGBUS, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	close(k->go[1]);
	CHECK(harness_read_full(k->go[0], &byte, 1) == 0, 10);
	for (i = 0; i < 3 * HUGE; i++)
		CHECK(k->base[k->off + i] == 0x4e, 11);
	for (i = 0; i < k->size; i += 4096)
		k->base[i] = 0x5a;
	return 0;
}

/*
 * A client forks after writing its block, then closes its handle, and the
 * pool is destroyed: the daemon knows of no mapping, but the child still
 * maps the pool.  Once the daemon has let go of the memfd and another
 * program has taken every free huge page, the child reads its block and
 * touches every page of the pool.  The daemon that punched such a memfd
 * out before its close gave the pages and their reservation back, and
 * the child died of SIGBUS; now its pages go only when it exits.
 */
static void
destroyed_pool_kept_for_forked_child(void **state)
{
	struct keeper k;
	struct pool_conn *c;
	struct pool *p;
	long before, free_now;
	ino_t ino = 0;
	pid_t pid;

	(void)state;
	start(NULL);
	before = huge_available();
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	k.off = pool_with_block(c, &p, &ino);
	k.base = pool_ptr(p, 0);
	k.size = pool_size(p);
	assert_int_equal(pipe(k.go), 0);
	pid = harness_spawn(keeper, &k);
	assert_true(pid > 0);
	close(k.go[0]);

	pool_close(p);
	EXPECT_RC(pool_destroy_force(c, "hp"), 0);
	harness_wait_let_go(&d, ino);
	/* Another program takes every free huge page there is. */
	if ((free_now = huge_available()) > 0) {
		held_hog_len = (size_t)free_now * HUGE;
		held_hog = hog(free_now, &held_hog_fd);
	}
	assert_int_equal(huge_available(), 0);
	assert_int_equal(harness_write_full(k.go[1], "x", 1), 0);
	close(k.go[1]);
	assert_int_equal(harness_wait(pid), 0);
	hog_release();
	/* The child gone, nobody maps the pool: its pages are free again. */
	assert_int_equal(huge_wait_available(before), before);
	pool_disconnect(c);
}

/* A restart in place keeps the pool, its bytes and its page size. */
static void
restart_keeps_huge_pool(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	struct reader r = {.pool = "hp", .len = HUGE + 4096, .byte = 0x3c};
	pool_off_t x;
	long before;

	(void)state;
	start("[pool hp]\nsize = 6M\npage_size = 2M\nmode = 0666\n");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "hp", &p), 0);
	EXPECT_RC(pool_alloc(p, r.len, &r.off), 0);
	memset(pool_ptr(p, r.off), r.byte, r.len);
	EXPECT_RC(pool_alloc(p, 100, &x), 0);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_flush(p), 0);	/* its cache's blocks are not live */
	before = huge_available();

	assert_int_equal(harness_restart_in_place(&d), 0);

	/* The same memory: nothing reserved again, nothing let go. */
	assert_int_equal(huge_available(), before);
	st = stats_of(c, "hp");
	assert_int_equal(st.page_size, HUGE);
	assert_int_equal(st.max_size, 6 * MiB);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(read_in_child(&r), 0);
	EXPECT_RC(pool_alloc(p, HUGE, &x), 0);
	memset(pool_ptr(p, x), 0x77, HUGE);
	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_free(p, r.off), 0);
	pool_close(p);

	/* Twice: the restored pool is handed on as it came. */
	assert_int_equal(harness_restart_in_place(&d), 0);
	st = stats_of(c, "hp");
	assert_int_equal(st.page_size, HUGE);
	assert_int_equal(huge_available(), before);
	pool_disconnect(c);
}

/*
 * A restart in place writes nothing over the free pages: of a pool of
 * eight huge pages, two written, it wrote zeros over the other six,
 * which made them all resident (a 4 GiB pool with one small block took
 * 11.6 s to restart, every client waiting).  The memfd holds what it
 * held, and a calloc, over freed pages or never touched ones, still
 * reads zero, small and big alike.
 */
static void
restart_leaves_free_pages_alone(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	pool_off_t kept, big, small, z[4];
	uint64_t committed;
	unsigned char *b;
	size_t i, k;

	(void)state;
	start("[pool hp]\nsize = 16M\npage_size = 2M\n");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	held_conn = c;
	EXPECT_RC(pool_open(c, "hp", &p), 0);
	held_pool = p;
	EXPECT_RC(pool_alloc(p, 100, &kept), 0);
	memset(pool_ptr(p, kept), 0x3c, 100);
	EXPECT_RC(pool_alloc(p, 4096, &small), 0);
	memset(pool_ptr(p, small), 0xdd, 4096);
	EXPECT_RC(pool_alloc(p, HUGE, &big), 0);
	memset(pool_ptr(p, big), 0xee, HUGE);
	EXPECT_RC(pool_free(p, small), 0);
	EXPECT_RC(pool_free(p, big), 0);
	EXPECT_RC(pool_flush(p), 0);
	st = stats_of(c, "hp");
	committed = st.committed_bytes;
	assert_int_equal(committed, 2 * HUGE);

	assert_int_equal(harness_restart_in_place(&d), 0);

	st = stats_of(c, "hp");
	printf("restart: %llu KiB of the pool resident, %llu before\n",
	       (unsigned long long)st.committed_bytes >> 10,
	       (unsigned long long)committed >> 10);
	assert_int_equal(st.committed_bytes, committed);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(((unsigned char *)pool_ptr(p, kept))[99], 0x3c);
	/* Every free byte of the pool, calloc'd: all zero. */
	EXPECT_RC(pool_calloc(p, 1, 4096, &z[0]), 0);
	EXPECT_RC(pool_calloc(p, 1, HUGE - 8192, &z[1]), 0);
	EXPECT_RC(pool_calloc(p, 1, HUGE, &z[2]), 0);
	EXPECT_RC(pool_calloc(p, 1, 5 * HUGE, &z[3]), 0);
	for (k = 0; k < 4; k++) {
		size_t len = k == 0 ? 4096 : k == 1 ? HUGE - 8192 :
			     k == 2 ? HUGE : 5 * HUGE;

		b = pool_ptr(p, z[k]);
		for (i = 0; i < len; i++)
			if (b[i] != 0)
				fail_msg("calloc'd block %zu at %#llx: byte %zu "
					 "is %#x", k, (unsigned long long)z[k],
					 i, b[i]);
	}
}

/*
 * A gigantic page where the kernel offers one (1 GiB on x86-64): a pool
 * of that one page, as a pool of 2 MiB pages.  The test reserves the page
 * itself; the kernel needs a free, contiguous GiB for it, and where it
 * has none the test says SKIP.  The pool is the whole page, so it is
 * one span the engine cuts small blocks and a big one from; every
 * client maps it at a 1 GiB boundary, and a restart in place hands the
 * page on.
 */
static void
gigantic_page_pool(void **state)
{
	struct pool_create_opts o = {.max_size = 1, .page_size = GIANT};
	struct reader r = {.pool = "giant", .page = GIANT, .len = 64 * MiB,
			   .byte = 0x6b};
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats st;
	pool_off_t small[3];
	long have = -1;
	int i;

	(void)state;
	if (geteuid() != 0 || (have = count_read(GIANT_DIR,
						 "nr_hugepages")) < 0) {
		printf("SKIP: %s\n", geteuid() != 0 ? "not root" :
		       "this kernel offers no 1 GiB pages");
		skip();
	}
	if (giant_available() < 1) {
		giant_old = have;
		atexit(huge_put_back);
		signal(SIGTERM, on_term);
		signal(SIGINT, on_term);
		(void)count_set(GIANT_DIR, have + 1);
	}
	if (giant_available() < 1) {
		giant_put_back();
		printf("SKIP: the kernel has no free contiguous GiB for a "
		       "1 GiB page\n");
		skip();
	}
	assert_int_equal(harness_start(&d, NULL), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_create(c, "giant", &o), 0);
	assert_int_equal(giant_available(), 0);
	st = stats_of(c, "giant");
	assert_int_equal(st.page_size, GIANT);
	assert_int_equal(st.max_size, GIANT);

	EXPECT_RC(pool_open(c, "giant", &p), 0);
	assert_int_equal((uintptr_t)pool_ptr(p, 0) % GIANT, 0);
	for (i = 0; i < 3; i++) {
		EXPECT_RC(pool_alloc(p, 100, &small[i]), 0);
		memset(pool_ptr(p, small[i]), 0x11 * (i + 1), 100);
	}
	EXPECT_RC(pool_alloc(p, r.len, &r.off), 0);
	memset(pool_ptr(p, r.off), r.byte, r.len);
	assert_int_equal(read_in_child(&r), 0);

	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(giant_available(), 0);
	st = stats_of(c, "giant");
	assert_int_equal(st.page_size, GIANT);
	assert_int_equal(read_in_child(&r), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(((unsigned char *)pool_ptr(p, small[i]))[99],
				 0x11 * (i + 1));
	/* Freed, nothing goes back: the page is the pool's for its life. */
	EXPECT_RC(pool_free(p, r.off), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	assert_int_equal(st.released_bytes, 0);
	assert_int_equal(giant_available(), 0);
	pool_close(p);

	EXPECT_RC(pool_destroy_force(c, "giant"), 0);
	for (i = 0; i < 1000 && giant_available() != 1; i++)
		harness_sleep_ms(10);
	assert_int_equal(giant_available(), 1);
	pool_disconnect(c);
	giant_put_back();
}

/* The crash's store (harness_store.c) plays systemd's. */
#define STORE_FDS "1796"

static void
store_start(struct harness_store *st)
{
	snprintf(st->fdstore, sizeof(st->fdstore), STORE_FDS);
	assert_int_equal(harness_store_start(st), 0);
	assert_int_equal(st->malformed, 0);
}

static void
expect_logged(const struct harness_store *st, const char *what)
{
	if (!harness_store_logged(st, what)) {
		harness_store_print_log(st);
		fail_msg("not logged: %s", what);
	}
}

/*
 * A crash under systemd: the pool comes back from its memfd in the store
 * with its page size and its persistent block's bytes, its reservation
 * never let go, and its free pages neither punched nor written (a calloc
 * over them reads zero all the same).  A memfd of system pages in its
 * place is refused: a fresh start.
 */
static void
crash_recovers_huge_pool(void **state)
{
	struct harness_store *st;
	struct pool_conn *c;
	struct pool *p;
	struct pool_stats sp;
	pool_off_t kept, gone;
	unsigned char *b;
	long before;
	size_t i;
	int k, fd;

	(void)state;
	skip_without_pages();
	assert_non_null(st = store = calloc(1, sizeof(*st)));
	assert_int_equal(harness_store_open(st, "[daemon]\n"
					    "socket_mode = 0666\n"), 0);
	store_start(st);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	create_huge(c, "hc", 3 * HUGE);
	EXPECT_RC(pool_open(c, "hc", &p), 0);
	EXPECT_RC(pool_alloc(p, MiB, &kept), 0);
	memset(pool_ptr(p, kept), 'h', MiB);
	EXPECT_RC(pool_persist(p, kept), 0);
	EXPECT_RC(pool_alloc(p, HUGE, &gone), 0);
	memset(pool_ptr(p, gone), 'g', HUGE);
	before = huge_available();

	assert_int_equal(harness_store_crash(st), 0);
	pool_disconnect(c);	/* its connection died with the daemon */
	assert_int_equal(huge_available(), before);
	store_start(st);
	expect_logged(st, "1 pool and 1 persistent block recovered");
	assert_int_equal(huge_available(), before);
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "hc", &sp), 0);
	assert_int_equal(sp.page_size, HUGE);
	assert_int_equal(sp.max_size, 3 * HUGE);
	assert_int_equal(sp.live_blocks, 1);
	EXPECT_RC(pool_open(c, "hc", &p), 0);
	b = pool_ptr(p, kept);
	for (i = 0; i < MiB; i++)
		if (b[i] != 'h')
			fail_msg("kept byte %zu is %#x", i, b[i]);
	/* Nothing written over the free pages; a calloc there is zeroed. */
	assert_int_equal(sp.committed_bytes, 2 * HUGE);
	EXPECT_RC(pool_calloc(p, 1, HUGE, &gone), 0);
	b = pool_ptr(p, gone);
	for (i = 0; i < HUGE; i++)
		if (b[i] != 0)
			fail_msg("calloc'd byte %zu is %#x", i, b[i]);
	pool_close(p);
	pool_disconnect(c);

	/* Its memfd swapped for one of system pages, sized and sealed alike. */
	assert_int_equal(harness_store_crash(st), 0);
	k = harness_store_prefix(st, "keep.");
	assert_true(k >= 0);
	fd = memfd_create("plain", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * (off_t)HUGE), 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW),
			 0);
	close(st->fd[k]);
	st->fd[k] = fd;
	store_start(st);
	expect_logged(st, "the journal is refused");
	expect_logged(st, "page size");
	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "hc", &sp), -ENOENT);
	pool_disconnect(c);
}

#define ctl(...) harness_poolctl(&d, NULL, out, sizeof(out), err, \
				 sizeof(err), __VA_ARGS__)

static void
expect_exit(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: exit %d, want %d\n--- stdout:\n%s--- stderr:\n%s",
			 what, got, want, out, err);
}

/*
 * poolctl create --page-size, its usage errors and its refusals; and
 * --granularity up to the huge page (it was refused above the system
 * page, whatever --page-size said).
 */
static void
poolctl_page_size(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	start(NULL);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	expect_exit(ctl("--json=short create hp --size 3M --page-size 2M"), 0,
		    "create --page-size 2M");
	assert_non_null(strstr(out, "\"page_size\":2097152"));
	st = stats_of(c, "hp");
	assert_int_equal(st.page_size, HUGE);
	assert_int_equal(st.max_size, 4 * MiB);
	expect_exit(ctl("stats hp"), 0, "stats");
	assert_non_null(strstr(out, "2097152"));
	expect_exit(ctl("--json=short list"), 0, "list --json");
	assert_non_null(strstr(out, "\"page_size\":2097152"));

	expect_exit(ctl("create u1 --size 1M --page-size 3M"), EXIT_USAGE,
		    "--page-size 3M");
	assert_non_null(strstr(err, "bad page size"));
	expect_exit(ctl("create u2 --size 1M --page-size 0"), EXIT_USAGE,
		    "--page-size 0");
	expect_exit(ctl("create u3 --size 1M --page-size 2X"), EXIT_USAGE,
		    "--page-size 2X");
	expect_exit(ctl("create u4 --size 1M --page-size"), EXIT_USAGE,
		    "--page-size without a size");
	expect_exit(ctl("stats hp --page-size 2M"), EXIT_USAGE,
		    "--page-size on stats");
	expect_exit(ctl("create u5 --size 1M --page-size 1K"), EXIT_USAGE,
		    "--page-size below the system page");
	/* A granularity up to the pool's page, a huge one too. */
	expect_exit(ctl("create g2 --size 3M --granularity 2M --page-size 2M"),
		    0, "--granularity 2M --page-size 2M");
	st = stats_of(c, "g2");
	assert_int_equal(st.granularity, HUGE);
	expect_exit(ctl("create g4 --size 3M --page-size 2M --granularity 4M"),
		    EXIT_USAGE, "--granularity 4M --page-size 2M");
	assert_non_null(strstr(err, "bad granularity '4M': too large (at most "
				    "the page size)"));
	/* A power of two the kernel offers no huge pages of. */
	expect_exit(ctl("create u6 --size 1M --page-size 32M"), 1,
		    "--page-size 32M");
	assert_non_null(strstr(err, "page size"));
	expect_exit(ctl("create u7 --size 1T --page-size 2M"), 1,
		    "more than the free huge pages");
	assert_non_null(strstr(err, "not enough huge pages: the pool needs "
				    "524288 huge pages of 2 MiB; the system "
				    "has "));
	EXPECT_RC(pool_stats_by_name(c, "u6", &st), -ENOENT);
	EXPECT_RC(pool_stats_by_name(c, "u7", &st), -ENOENT);
	expect_exit(ctl("help create"), 0, "help create");
	assert_non_null(strstr(out, "--page-size SIZE"));
	pool_disconnect(c);
}

/*
 * The configuration file's page_size; a bad one is refused.  A
 * granularity up to the huge page, given before page_size or after (the
 * file refused any above the system page, which CreatePool takes); a
 * limit up to the size rounded up to huge pages (it was refused above
 * the size as written).
 */
static void
config_page_size(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	char cmd[512];

	(void)state;
	start("[pool cf]\nsize = 3M\npage_size = 2M\nlimit = 4M\n"
	      "[pool cg]\nsize = 3M\ngranularity = 2097152\npage_size = 2M\n");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	st = stats_of(c, "cf");
	assert_int_equal(st.page_size, HUGE);
	assert_int_equal(st.max_size, 4 * MiB);
	assert_int_equal(st.limit, 4 * MiB);	/* all of its two pages */
	st = stats_of(c, "cg");
	assert_int_equal(st.granularity, HUGE);
	/* The log's line of each says its pages, as a CreatePool's does. */
	assert_int_equal(harness_log_count(&d, ", pages of 2097152"), 2);
	/* A live pool keeps its pages whatever the file says now. */
	assert_int_equal(harness_reload_with(&d, "[pool cf]\nsize = 3M\n"), 0);
	assert_int_equal(harness_log_count(&d, "page size 2097152 -> 4096"),
			 1);
	st = stats_of(c, "cf");
	assert_int_equal(st.page_size, HUGE);
	pool_disconnect(c);

	snprintf(cmd, sizeof(cmd), "printf '[pool x]\\nsize = 1M\\n"
		 "page_size = 3M\\n' > %s/bad.conf && %s/poolmgrd "
		 "--check-config --config %s/bad.conf 2>&1", d.dir,
		 harness_build(), d.dir);
	assert_int_not_equal(harness_run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "page_size 3M"));
	/* Above the pool's page: refused, the huge page's as the system's. */
	snprintf(cmd, sizeof(cmd), "printf '[pool x]\\nsize = 3M\\n"
		 "granularity = 4194304\\npage_size = 2M\\n' > %s/bad.conf && "
		 "%s/poolmgrd --check-config --config %s/bad.conf 2>&1", d.dir,
		 harness_build(), d.dir);
	assert_int_not_equal(harness_run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "[pool x] has a granularity above its "
				    "page size (4194304 above 2097152)"));
	snprintf(cmd, sizeof(cmd), "printf '[pool x]\\nsize = 3M\\n"
		 "granularity = %ld\\n' > %s/bad.conf && %s/poolmgrd "
		 "--check-config --config %s/bad.conf 2>&1",
		 2 * sysconf(_SC_PAGESIZE), d.dir, harness_build(), d.dir);
	assert_int_not_equal(harness_run(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "[pool x] has a granularity above its "
				    "page size"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(huge_pool_shared, teardown),
		cmocka_unit_test_teardown(small_blocks_share_a_huge_page,
					  teardown),
		cmocka_unit_test_teardown(too_few_pages_refused, teardown),
		cmocka_unit_test_teardown(bad_page_size_refused, teardown),
		cmocka_unit_test_teardown(freed_pages_stay, teardown),
		cmocka_unit_test_teardown(destroyed_pool_gives_pages_back,
					  teardown),
		cmocka_unit_test_teardown(destroyed_pool_kept_for_forked_child,
					  teardown),
		cmocka_unit_test_teardown(restart_keeps_huge_pool, teardown),
		cmocka_unit_test_teardown(restart_leaves_free_pages_alone,
					  teardown),
		cmocka_unit_test_teardown(gigantic_page_pool, teardown),
		cmocka_unit_test_teardown(crash_recovers_huge_pool, teardown),
		cmocka_unit_test_teardown(poolctl_page_size, teardown),
		cmocka_unit_test_teardown(config_page_size, teardown),
	};

	return cmocka_run_group_tests_name("integration: huge pages", tests,
					   group_setup, group_teardown);
}
