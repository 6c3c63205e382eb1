/*
 * itest_blocks.c - ListBlocks through pool_blocks and `poolctl blocks`,
 * against the real daemon.
 *
 *   lists_what_is_held   two client processes hold known blocks of pool
 *       p (sizes from 24 bytes to a 256 KiB span; one of them, b, on two
 *       handles), one (a, as uid nobody when run as root) retains a
 *       block of the other's, persists one of its own and publishes one
 *       evictable; the test's own handle persisted a block and closed.
 *       Paging to the end lists exactly those 13 blocks, in address
 *       order, each with its usable size, the bytes asked for, its
 *       holders (2 for the shared one, both pid:handle), its flags and
 *       its persister.  --pid a lists a's 6 and the shared one; --pid b,
 *       handle by handle, each handle's (as pool_clients numbers them).
 *   refusals   -ESRCH for a process with no handle on the pool and for a
 *       handle the process does not have, -EINVAL for a handle without a
 *       pid, -ENOENT, -EACCES for nobody on a 0600 pool: each leaves the
 *       caller's cursor, array, count and done as they were.
 *   pages_of_128   300 blocks: pages of at most 128, offsets only
 *       growing, none twice, the 300 allocated and no other.
 *   filter_passes_over_many   3 blocks of a process among 20,000 of
 *       another's: several pages, some of them empty without being the
 *       last (the daemon looks at a bounded number of blocks a reply),
 *       3 blocks in all.
 *   listed_while_others_churn   2000 blocks of 16 B to 300 KiB held, a
 *       third of them freed again (cached in the engine, merged into
 *       runs), while another process allocates and frees without pause,
 *       spans among its blocks: five listings, each in order, each
 *       holding every block held throughout with its size, and by the
 *       test's pid exactly those; then the pool checks.
 *   listing_across_a_restart   a listing of 300 blocks whose first page
 *       came before a restart in place goes on after it, on the same
 *       connection, from the cursor it had: the 300, once each.
 *   many_handles_of_one_process   20 handles of the test's on a pool,
 *       a block each: by pid, the 20 (more handles than the daemon
 *       compares by pointer); by pid and each handle's number, its one.
 *   pid_filter_walks_the_pools_handles   64 connections of the test's,
 *       each with handle 1 on a pool and a block there, and 1023 handles
 *       on p: by pid, and by pid and handle 1, the 64 blocks, and 32 once
 *       half the connections are gone; the pools check.  The daemon's
 *       CPU for 640 such listings is printed.
 *   poolctl_blocks   the table, kv and JSON (pretty and short) of p, a
 *       --pid listing, --by-size (text, kv and JSON, its counts and
 *       sums against the listing's), and the exit codes: 1 with the
 *       words for a pid with no handle and for no such pool, 2 for a
 *       handle without a pid or a bad format, 77 for nobody on a 0600
 *       pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <inttypes.h>
#include <setjmp.h>
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
#include "poolclient.h"

#define NOBODY 65534
#define PAGE_MOST 128		/* ListBlocksReply's most: docs/protocol.md */
#define MANY 300
#define BIG 20000
#define OUT_MAX (1 << 20)
#define KIDS_MAX 16		/* blocks a child reports */

/* The blocks a child allocated, as it reports them. */
struct kid_block {
	uint64_t off, asked, usable;
	int handle_no;		/* which of its handles: 1 or 2 */
};

struct kid_report {
	int n;
	struct kid_block b[KIDS_MAX];
};

/* What a child does: which pool, which sizes, on which handle. */
struct kid_args {
	const char *sock;
	const char *pool;
	int n1, n2;		/* blocks on its first handle, its second */
	const size_t *sizes;	/* n1 + n2 of them */
	uint64_t retain;	/* a block to retain, or POOL_OFF_NONE */
	int persist, publish;	/* indices of its blocks, or -1 */
};

/* A child that holds blocks until the test says stop. */
struct kid {
	pid_t pid;
	int stop[2], out[2];
	struct kid_args a;
	struct kid_report r;
};

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct kid a, b, c;
	uint64_t unheld;	/* the test's persisted block, no holder */
	char out[OUT_MAX];
	char err[4096];
};

static struct fixture fx;

static const size_t a_sizes[] = {24, 100, 1000, 4096, 5000, 200 << 10};
static const size_t b_sizes[] = {48, 300, 70000, 256 << 10, 64, 128};

/* ---- the children ---------------------------------------------------- */

/* A read-write handle of pool name without a cache: no block but ours. */
static int
open_uncached(struct pool_conn *c, const char *name, struct pool **p)
{
	int rc = pool_open(c, name, p);

	if (rc == 0 && (rc = pool_set_cache(*p, 0)) == -EOPNOTSUPP)
		rc = 0;
	return rc;
}

static int
kid_allocs(struct pool *p, const struct kid_args *a, int first, int n,
	   int handle_no, struct kid_report *r)
{
	int i;

	for (i = first; i < first + n; i++) {
		struct kid_block *b = &r->b[r->n++];
		size_t usable = 0;
		pool_off_t off;

		CHECK_RC(pool_alloc(p, a->sizes[i], &off), 0, 20);
		CHECK_RC(pool_usable_size(p, off, &usable), 0, 21);
		b->off = off;
		b->asked = a->sizes[i];
		b->usable = usable;
		b->handle_no = handle_no;
	}
	return 0;
}

static int
kid_main(void *arg)
{
	struct kid *k = arg;
	struct pool_conn *c;
	struct pool *p1, *p2 = NULL;
	char stop;
	int rc;

	close(k->stop[1]);
	close(k->out[0]);
	memset(&k->r, 0, sizeof(k->r));
	CHECK_RC(pool_connect(k->a.sock, &c), 0, 10);
	CHECK_RC(open_uncached(c, k->a.pool, &p1), 0, 11);
	if ((rc = kid_allocs(p1, &k->a, 0, k->a.n1, 1, &k->r)) != 0)
		return rc;
	if (k->a.n2 > 0) {
		CHECK_RC(open_uncached(c, k->a.pool, &p2), 0, 12);
		if ((rc = kid_allocs(p2, &k->a, k->a.n1, k->a.n2, 2,
				     &k->r)) != 0)
			return rc;
	}
	if (k->a.retain != POOL_OFF_NONE)
		CHECK_RC(pool_retain(p1, k->a.retain), 0, 13);
	if (k->a.persist >= 0)
		CHECK_RC(pool_persist(p1, k->r.b[k->a.persist].off), 0, 14);
	if (k->a.publish >= 0)
		CHECK_RC(pool_publish_flags(p1, k->r.b[k->a.publish].off,
					    "ev", POOL_PUBLISH_EVICTABLE),
			 0, 15);
	CHECK(harness_write_full(k->out[1], &k->r, sizeof(k->r)) == 0, 16);
	CHECK(harness_read_full(k->stop[0], &stop, 1) == 0, 17);
	pool_close(p2);
	pool_close(p1);
	pool_disconnect(c);
	return 0;
}

/* Start k (as nobody if as_nobody and root) and read its report. */
static void
kid_start(struct kid *k, bool as_nobody)
{
	assert_int_equal(pipe(k->stop), 0);
	assert_int_equal(pipe(k->out), 0);
	fflush(stdout);
	fflush(stderr);
	if (as_nobody && geteuid() == 0)
		k->pid = harness_spawn_as(NOBODY, NOBODY, kid_main, k);
	else
		k->pid = harness_spawn(kid_main, k);
	assert_true(k->pid > 0);
	close(k->stop[0]);
	close(k->out[1]);
	if (harness_read_full(k->out[0], &k->r, sizeof(k->r)) != 0)
		fail_msg("child %d made no report: exit %d", (int)k->pid,
			 harness_wait(k->pid));
}

static void
kid_stop(struct kid *k)
{
	if (k->pid <= 0)
		return;
	assert_int_equal(harness_write_full(k->stop[1], "s", 1), 0);
	close(k->stop[1]);
	close(k->out[0]);
	assert_int_equal(harness_wait(k->pid), 0);
	k->pid = 0;
}

/* ---- the fixture ----------------------------------------------------- */

static void
make_pool(const char *name, uint64_t size, uint32_t mode)
{
	struct pool_create_opts o;

	memset(&o, 0, sizeof(o));
	o.max_size = size;
	o.mode = mode;
	EXPECT_RC(pool_create(fx.conn, name, &o), 0);
}

static int
setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	assert_int_equal(harness_start(&fx.d, "idle_trim = 0\n"), 0);
	EXPECT_RC(pool_connect(fx.d.sock, &fx.conn), 0);
	make_pool("p", 16 << 20, 0666);
	make_pool("secret", 1 << 20, 0600);
	return 0;
}

/*
 * p's holders: b (two handles: 4 blocks, then 2), then a (6 blocks, b's
 * second retained, its fourth persisted, its fifth published evictable),
 * and a block of the test's, persisted and let go.
 */
static int
setup_held(void **state)
{
	struct pool *p;
	pool_off_t off;

	setup(state);
	fx.b.a = (struct kid_args){fx.d.sock, "p", 4, 2, b_sizes,
				   POOL_OFF_NONE, -1, -1};
	kid_start(&fx.b, false);
	fx.a.a = (struct kid_args){fx.d.sock, "p", 6, 0, a_sizes,
				   fx.b.r.b[1].off, 3, 4};
	kid_start(&fx.a, true);
	EXPECT_RC(open_uncached(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_alloc(p, 2000, &off), 0);
	EXPECT_RC(pool_persist(p, off), 0);
	fx.unheld = off;
	pool_close(p);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kid_stop(&fx.a);
	kid_stop(&fx.b);
	kid_stop(&fx.c);
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

/* ---- listing ----------------------------------------------------------- */

struct listing {
	struct pool_block_info *b;
	size_t n;
	int pages, empty_pages;	/* empty and not the last */
};

/*
 * Every page of pool name's blocks (pid, handle as pool_blocks'), each
 * checked as it comes: at most 128, offsets growing over the whole
 * listing, the cursor moving on.
 */
static void
list_all(const char *name, uint32_t pid, uint32_t handle,
	 struct listing *l)
{
	struct pool_block_info *page;
	uint64_t from = 0, last = 0;
	size_t n, i;
	int done = 0;

	memset(l, 0, sizeof(*l));
	while (!done) {
		uint64_t was = from;

		EXPECT_RC(pool_blocks(fx.conn, name, pid, handle, &from,
				      &page, &n, &done), 0);
		assert_non_null(page);
		assert_true(n <= PAGE_MOST);
		assert_true(from >= was);
		l->pages++;
		if (n == 0 && !done)
			l->empty_pages++;
		if (!done)
			assert_true(from > was);
		for (i = 0; i < n; i++) {
			if (l->n + i > 0 && page[i].offset <= last)
				fail_msg("%s: block at %#" PRIx64 " after %#"
					 PRIx64, name, page[i].offset, last);
			assert_true(page[i].offset >= was);
			last = page[i].offset;
			assert_true(page[i].nlisted <= page[i].holders);
			assert_true(page[i].nlisted <=
				    POOL_BLOCK_HOLDERS_LISTED);
		}
		if (n > 0)
			assert_true(from > last);
		l->b = realloc(l->b, (l->n + n + 1) * sizeof(*l->b));
		assert_non_null(l->b);
		memcpy(l->b + l->n, page, n * sizeof(*page));
		l->n += n;
		free(page);
		assert_true(l->pages < 1000000);
	}
}

/* What the test expects of one block. */
struct want {
	uint64_t off, asked, usable;
	uint32_t flags, persister;
	uint32_t nholders;
	struct pool_block_holder h[2];
};

static int
cmp_want(const void *x, const void *y)
{
	const struct want *a = x, *b = y;

	return a->off < b->off ? -1 : a->off > b->off;
}

/* Pid pid's handles on p, told apart by the blocks they hold. */
static void
handles_of(pid_t pid, uint64_t blocks1, uint32_t *h1, uint64_t blocks2,
	   uint32_t *h2)
{
	struct pool_client_info *ci;
	size_t n, i;

	*h1 = *h2 = 0;
	EXPECT_RC(pool_clients(fx.conn, "p", &ci, &n), 0);
	for (i = 0; i < n; i++) {
		if (ci[i].pid != (uint32_t)pid)
			continue;
		if (ci[i].blocks == blocks1 && !*h1)
			*h1 = ci[i].handle;
		else if (ci[i].blocks == blocks2)
			*h2 = ci[i].handle;
	}
	free(ci);
	assert_true(*h1 != 0);
}

static uint32_t
a_uid(void)
{
	return geteuid() == 0 ? NOBODY : (uint32_t)geteuid();
}

/* The blocks of kid k on handle number no (0: all) into w; how many. */
static size_t
want_kid(const struct kid *k, int no, uint32_t uid, uint32_t h1,
	 uint32_t h2, struct want *w)
{
	size_t n = 0;
	int i;

	for (i = 0; i < k->r.n; i++) {
		const struct kid_block *b = &k->r.b[i];

		if (no && b->handle_no != no)
			continue;
		memset(&w[n], 0, sizeof(w[n]));
		w[n].off = b->off;
		w[n].asked = b->asked;
		w[n].usable = b->usable;
		w[n].nholders = 1;
		w[n].h[0].pid = (uint32_t)k->pid;
		w[n].h[0].uid = uid;
		w[n].h[0].handle = b->handle_no == 1 ? h1 : h2;
		n++;
	}
	return n;
}

/* a's marks on the blocks in w: the shared one, persisted, published. */
static void
mark_a(struct want *w, size_t n, uint32_t ha)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (w[i].off == fx.b.r.b[1].off) {
			w[i].nholders = 2;
			w[i].h[1].pid = (uint32_t)fx.a.pid;
			w[i].h[1].uid = a_uid();
			w[i].h[1].handle = ha;
		}
		if (w[i].off == fx.a.r.b[3].off) {
			w[i].flags = POOL_BLOCK_PERSISTENT;
			w[i].persister = a_uid();
		}
		if (w[i].off == fx.a.r.b[4].off) {
			w[i].flags = POOL_BLOCK_NAMED | POOL_BLOCK_EVICTABLE |
				     POOL_BLOCK_PERSISTENT;
			w[i].persister = a_uid();
		}
	}
}

/* Holder h among b's listed ones. */
static bool
has_holder(const struct pool_block_info *b, const struct pool_block_holder *h)
{
	uint32_t i;

	for (i = 0; i < b->nlisted; i++)
		if (b->first_holders[i].pid == h->pid &&
		    b->first_holders[i].uid == h->uid &&
		    b->first_holders[i].handle == h->handle)
			return true;
	return false;
}

/* The listing l is exactly w (sorted here), field by field. */
static void
expect_listing(const char *what, const struct listing *l, struct want *w,
	       size_t n)
{
	size_t i;
	uint32_t j;

	qsort(w, n, sizeof(*w), cmp_want);
	if (l->n != n)
		fail_msg("%s: %zu blocks listed, not %zu", what, l->n, n);
	for (i = 0; i < n; i++) {
		const struct pool_block_info *b = &l->b[i];

		if (b->offset != w[i].off || b->usable_size != w[i].usable ||
		    b->holders != w[i].nholders || b->flags != w[i].flags ||
		    b->persister != w[i].persister ||
		    b->nlisted != w[i].nholders)
			fail_msg("%s: block %zu: offset %#" PRIx64 " size %"
				 PRIu64 " holders %u (%u listed) flags %#x "
				 "persister %u; wanted %#" PRIx64 " %" PRIu64
				 " %u %#x %u", what, i, b->offset,
				 b->usable_size, b->holders, b->nlisted,
				 b->flags, b->persister, w[i].off, w[i].usable,
				 w[i].nholders, w[i].flags, w[i].persister);
		/*
		 * Under four granules a block keeps only the high bits of its
		 * slack: the bytes asked for may read a little high.
		 */
		if (b->requested < w[i].asked || b->requested > w[i].usable ||
		    (w[i].usable >= 64 && b->requested != w[i].asked))
			fail_msg("%s: block %#" PRIx64 ": requested %" PRIu64
				 ", asked %" PRIu64 " of %" PRIu64, what,
				 b->offset, b->requested, w[i].asked,
				 w[i].usable);
		for (j = 0; j < w[i].nholders; j++)
			if (!has_holder(b, &w[i].h[j]))
				fail_msg("%s: block %#" PRIx64 " lacks holder "
					 "%u:%u (uid %u)", what, b->offset,
					 w[i].h[j].pid, w[i].h[j].handle,
					 w[i].h[j].uid);
		for (j = 0; j < sizeof(b->reserved) / sizeof(b->reserved[0]);
		     j++)
			assert_int_equal(b->reserved[j], 0);
		if (!(b->flags & POOL_BLOCK_PERSISTENT))
			assert_int_equal(b->persisted_ms, 0);
	}
}

/* The test's block: persisted, then let go by its handle. */
static void
want_unheld(struct want *w)
{
	struct pool *p;
	size_t usable;

	EXPECT_RC(pool_open_readonly(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_usable_size(p, fx.unheld, &usable), 0);
	pool_close(p);
	memset(w, 0, sizeof(*w));
	w->off = fx.unheld;
	w->asked = 2000;
	w->usable = usable;
	w->flags = POOL_BLOCK_PERSISTENT;
	w->persister = (uint32_t)geteuid();
}

/* Of a's 6 then b's 6 in w, those a holds: its own and the shared one. */
static size_t
keep_a(struct want *w, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (i < 6 || w[i].off == fx.b.r.b[1].off)
			w[k++] = w[i];
	return k;
}

static void
lists_what_is_held(void **state)
{
	struct want w[32];
	struct listing l;
	uint32_t ha, hdummy, hb1, hb2;
	size_t n;

	(void)state;
	handles_of(fx.a.pid, 7, &ha, 99, &hdummy);
	handles_of(fx.b.pid, 4, &hb1, 2, &hb2);
	assert_true(hb2 != 0 && hb2 != hb1);

	/* Everything: a's, b's and the test's unheld persistent one. */
	n = want_kid(&fx.b, 0, (uint32_t)geteuid(), hb1, hb2, w);
	n += want_kid(&fx.a, 0, a_uid(), ha, 0, w + n);
	mark_a(w, n, ha);
	want_unheld(&w[n++]);
	list_all("p", 0, 0, &l);
	expect_listing("all of p", &l, w, n);
	printf("blocks: all %zu of p in %d page(s), sizes 24 B to 256 KiB; "
	       "the shared one with 2 holders\n", l.n, l.pages);
	free(l.b);

	/* a's: its 6 and b's it retained. */
	n = want_kid(&fx.a, 0, a_uid(), ha, 0, w);
	n += want_kid(&fx.b, 0, (uint32_t)geteuid(), hb1, hb2, w + n);
	mark_a(w, n, ha);
	n = keep_a(w, n);
	list_all("p", (uint32_t)fx.a.pid, 0, &l);
	expect_listing("--pid a", &l, w, n);
	free(l.b);
	list_all("p", (uint32_t)fx.a.pid, ha, &l);
	expect_listing("--pid a --handle", &l, w, n);
	free(l.b);

	/* b's, all and handle by handle. */
	n = want_kid(&fx.b, 0, (uint32_t)geteuid(), hb1, hb2, w);
	mark_a(w, n, ha);
	list_all("p", (uint32_t)fx.b.pid, 0, &l);
	expect_listing("--pid b", &l, w, n);
	free(l.b);
	n = want_kid(&fx.b, 1, (uint32_t)geteuid(), hb1, hb2, w);
	mark_a(w, n, ha);
	list_all("p", (uint32_t)fx.b.pid, hb1, &l);
	expect_listing("--pid b --handle 1st", &l, w, n);
	free(l.b);
	n = want_kid(&fx.b, 2, (uint32_t)geteuid(), hb1, hb2, w);
	list_all("p", (uint32_t)fx.b.pid, hb2, &l);
	expect_listing("--pid b --handle 2nd", &l, w, n);
	free(l.b);
	printf("blocks: --pid a: 7 (b's shared one too); --pid b: 6, by "
	       "handle 4 and 2\n");
}

/* ---- refusals ---------------------------------------------------------- */

/* pool_blocks must fail with want and leave every output as it was. */
static int
refused(struct pool_conn *c, const char *name, uint32_t pid,
	uint32_t handle, int want)
{
	struct pool_block_info *out = (struct pool_block_info *)&out;
	uint64_t from = 12345;
	size_t n = 77;
	int done = 5, rc;

	rc = pool_blocks(c, name, pid, handle, &from, &out, &n, &done);
	if (rc != want) {
		fprintf(stderr, "pool_blocks(%s, %u, %u) = %d (%s), not %d\n",
			name, pid, handle, rc, pool_strerror(rc), want);
		return 1;
	}
	if (from != 12345 || out != (struct pool_block_info *)&out ||
	    n != 77 || done != 5) {
		fprintf(stderr, "pool_blocks(%s) = %d changed its outputs\n",
			name, rc);
		return 1;
	}
	return 0;
}

static int
nobody_refused(void *arg)
{
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 30);
	CHECK(refused(c, "secret", 0, 0, -EACCES) == 0, 31);
	pool_disconnect(c);
	return 0;
}

static void
refusals(void **state)
{
	uint32_t ha, hdummy;
	pid_t pid;

	(void)state;
	handles_of(fx.a.pid, 7, &ha, 99, &hdummy);
	assert_int_equal(refused(fx.conn, "p", (uint32_t)getpid(), 0, -ESRCH),
			 0);
	assert_int_equal(refused(fx.conn, "p", (uint32_t)fx.a.pid, ha + 100,
				 -ESRCH), 0);
	assert_int_equal(refused(fx.conn, "p", 0, ha, -EINVAL), 0);
	assert_int_equal(refused(fx.conn, "nosuch", 0, 0, -ENOENT), 0);
	assert_int_equal(refused(fx.conn, NULL, 0, 0, -EINVAL), 0);
	assert_int_equal(refused(NULL, "p", 0, 0, -EINVAL), 0);
	printf("blocks: -ESRCH (no handle, no such handle), -EINVAL, -ENOENT: "
	       "nothing changed\n");
	if ((pid = harness_spawn_as(NOBODY, NOBODY, nobody_refused,
				    fx.d.sock)) < 0) {
		printf("blocks: not root: cannot ask as nobody; skipped\n");
		return;
	}
	assert_int_equal(harness_wait(pid), 0);
	printf("blocks: nobody on a 0600 pool: -EACCES\n");
}

/* ---- paging -------------------------------------------------------------- */

static int
cmp_off(const void *x, const void *y)
{
	const pool_off_t *a = x, *b = y;

	return *a < *b ? -1 : *a > *b;
}

/* n blocks of size in pool name through a handle of the test's, in offs. */
static struct pool *
hold_many(const char *name, size_t n, size_t size, pool_off_t *offs)
{
	static size_t sizes[POOL_BATCH_MAX];
	struct pool *p;
	size_t i, k;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = size;
	EXPECT_RC(open_uncached(fx.conn, name, &p), 0);
	for (i = 0; i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		EXPECT_RC(pool_alloc_batch(p, k, sizes, offs + i), 0);
	}
	return p;
}

static void
pages_of_128(void **state)
{
	static pool_off_t offs[MANY];
	struct listing l;
	struct pool *p;
	size_t i;

	(void)state;
	make_pool("many", 1 << 20, 0600);
	p = hold_many("many", MANY, 32, offs);
	list_all("many", 0, 0, &l);
	qsort(offs, MANY, sizeof(offs[0]), cmp_off);
	assert_int_equal(l.n, MANY);
	for (i = 0; i < MANY; i++)
		if (l.b[i].offset != offs[i] || l.b[i].holders != 1 ||
		    l.b[i].requested != 32)
			fail_msg("many: block %zu at %#" PRIx64 ", not %#"
				 PRIx64, i, l.b[i].offset, offs[i]);
	assert_true(l.pages >= (MANY + PAGE_MOST - 1) / PAGE_MOST);
	printf("blocks: %d blocks in %d pages of at most %d, each once, in "
	       "order\n", MANY, l.pages, PAGE_MOST);
	free(l.b);
	pool_close(p);
}

static void
filter_passes_over_many(void **state)
{
	static pool_off_t offs[BIG];
	static const size_t three[] = {16, 400, 3000};
	struct listing l;
	struct pool *p;
	int i;

	(void)state;
	make_pool("big", 8 << 20, 0666);
	p = hold_many("big", BIG, 16, offs);
	fx.c.a = (struct kid_args){fx.d.sock, "big", 3, 0, three,
				   POOL_OFF_NONE, -1, -1};
	kid_start(&fx.c, false);
	list_all("big", (uint32_t)fx.c.pid, 0, &l);
	printf("blocks: --pid of 3 among %d: %d pages, %d of them empty "
	       "before the last\n", BIG + 3, l.pages, l.empty_pages);
	assert_int_equal(l.n, 3);
	for (i = 0; i < 3; i++) {
		assert_true(l.b[i].holders == 1 && l.b[i].nlisted == 1);
		assert_int_equal(l.b[i].first_holders[0].pid, fx.c.pid);
	}
	assert_true(l.pages > 2);
	assert_true(l.empty_pages > 0);
	free(l.b);
	kid_stop(&fx.c);
	pool_close(p);
}

/* ---- poolctl ------------------------------------------------------------- */

static int
ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
ctl(const char *fmt, ...)
{
	char args[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return harness_poolctl(&fx.d, NULL, fx.out, sizeof(fx.out), fx.err,
			       sizeof(fx.err), "%s", args);
}

/* How many times what is in s. */
static int
count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

static int
exec_as_nobody(void *arg)
{
	char bin[256];
	int fd = open("/dev/null", O_WRONLY);

	snprintf(bin, sizeof(bin), "%s/poolctl", harness_build());
	dup2(fd, 1);
	dup2(fd, 2);
	execl(bin, "poolctl", "-s", (const char *)arg, "blocks", "secret",
	      (char *)NULL);
	return 126;
}

/* Distinct requested sizes of a listing. */
static size_t
sizes_in(const struct listing *l)
{
	size_t i, j, n = 0;

	for (i = 0; i < l->n; i++) {
		for (j = 0; j < i && l->b[j].requested != l->b[i].requested;
		     j++)
			;
		n += j == i;
	}
	return n;
}

/*
 * blocks --by-size against the listing itself: a's blocks counted and
 * summed per size asked for, and in all; the table a line per size of
 * the whole pool between its header and its total; JSON an object.
 */
static void
by_size_agrees(void)
{
	char want[128];
	struct listing l;
	uint64_t bytes = 0, k;
	size_t i, j;

	list_all("p", (uint32_t)fx.a.pid, 0, &l);
	assert_int_equal(ctl("blocks p --pid %d --by-size --format=kv",
			     (int)fx.a.pid), 0);
	for (i = 0; i < l.n; i++) {
		for (j = 0, k = 0; j < l.n; j++)
			k += l.b[j].requested == l.b[i].requested;
		snprintf(want, sizeof(want), "p %" PRIu64 " blocks %" PRIu64
			 "\n", l.b[i].requested, k);
		assert_non_null(strstr(fx.out, want));
		bytes += l.b[i].usable_size;
	}
	assert_int_equal(count(fx.out, " blocks "), sizes_in(&l) + 1);
	snprintf(want, sizeof(want), "p total blocks %zu\np total bytes %"
		 PRIu64 "\n", l.n, bytes);
	assert_non_null(strstr(fx.out, want));
	free(l.b);

	list_all("p", 0, 0, &l);
	assert_int_equal(ctl("blocks p --by-size"), 0);
	assert_non_null(strstr(fx.out, "REQUESTED"));
	assert_int_equal(count(fx.out, "\n"), sizes_in(&l) + 2);
	/* Each size in exact bytes, at the start of its line. */
	for (i = 0; i < l.n; i++) {
		snprintf(want, sizeof(want), "\n%12" PRIu64 " ",
			 l.b[i].requested);
		assert_non_null(strstr(fx.out, want));
	}
	snprintf(want, sizeof(want), " total %10zu ", l.n);
	assert_non_null(strstr(fx.out, want));
	free(l.b);
	assert_int_equal(ctl("--json=short blocks p --by-size"), 0);
	assert_int_equal(strncmp(fx.out, "{\"pool\":\"p\",\"sizes\":[{", 20),
			 0);
	printf("blocks: --by-size agrees with the listing\n");
}

static void
poolctl_blocks(void **state)
{
	char want[128];
	uint32_t ha, hdummy;
	pid_t pid;
	int i, rc;

	(void)state;
	handles_of(fx.a.pid, 7, &ha, 99, &hdummy);

	/* The table: a header, and a line per block of the 13. */
	assert_int_equal(ctl("blocks p"), 0);
	assert_non_null(strstr(fx.out, "OFFSET"));
	assert_non_null(strstr(fx.out, "PID:HANDLE"));
	assert_int_equal(count(fx.out, "\n"), 14);
	for (i = 0; i < fx.a.r.n; i++) {
		/* As names writes offsets: 0 is "0", the others 0x... */
		if (fx.a.r.b[i].off == 0)
			continue;
		snprintf(want, sizeof(want), "%#" PRIx64 " ",
			 fx.a.r.b[i].off);
		assert_int_equal(count(fx.out, want), 1);
	}
	snprintf(want, sizeof(want), " NEP ");
	assert_int_equal(count(fx.out, want), 1);
	snprintf(want, sizeof(want), " %u:%u", (unsigned)fx.a.pid, ha);
	assert_int_equal(count(fx.out, want), 7);
	/* The test's persisted block, which no handle holds: "-". */
	assert_int_equal(count(fx.out, " -\n"), 1);

	/* kv: one line per field, a holder line per holder listed. */
	assert_int_equal(ctl("blocks p --pid %d --format=kv", (int)fx.a.pid),
			 0);
	assert_int_equal(count(fx.out, " usable_size "), 7);
	snprintf(want, sizeof(want), "p %#" PRIx64 " persister %u\n",
		 fx.a.r.b[3].off, a_uid());
	assert_non_null(strstr(fx.out, want));
	snprintf(want, sizeof(want), " holder %u:%u\n", (unsigned)fx.a.pid,
		 ha);
	assert_int_equal(count(fx.out, want), 7);
	snprintf(want, sizeof(want), "p %#" PRIx64 " holders 2\n",
		 fx.b.r.b[1].off);
	assert_non_null(strstr(fx.out, want));

	/* JSON, pretty and short: an array of the 13. */
	assert_int_equal(ctl("--json blocks p"), 0);
	assert_int_equal(fx.out[0], '[');
	assert_non_null(strstr(fx.out, "\n]\n"));
	assert_int_equal(count(fx.out, "\"offset\":"), 13);
	assert_int_equal(count(fx.out, "\"evictable\": true"), 1);
	assert_int_equal(ctl("--json=short blocks p --format=json"), 0);
	assert_int_equal(count(fx.out, "\"pool\":"), 13);
	assert_int_equal(strncmp(fx.out, "[{", 2), 0);
	assert_int_equal(strcmp(fx.out + strlen(fx.out) - 3, "}]\n"), 0);
	assert_int_equal(ctl("--json blocks p --pid %d --handle %u",
			     (int)fx.b.pid, ha + 100), 1);
	assert_string_equal(fx.out, "");

	by_size_agrees();

	/* The refusals, in words, and their exit codes. */
	assert_int_equal(ctl("blocks p --pid %d", (int)getpid()), 1);
	snprintf(want, sizeof(want), "process %d has no handle on pool p",
		 (int)getpid());
	assert_non_null(strstr(fx.err, want));
	assert_int_equal(ctl("blocks nosuch"), 1);
	assert_non_null(strstr(fx.err, "no such pool: nosuch"));
	assert_int_equal(ctl("blocks p --handle 1"), 2);
	assert_int_equal(ctl("blocks p --format=prometheus"), 2);
	assert_int_equal(ctl("--json blocks p --format=kv"), 2);
	assert_non_null(strstr(fx.err, "poolctl: blocks: --json conflicts "
			       "with --format=kv\n"));
	assert_int_equal(ctl("blocks p --pid 0"), 2);
	fflush(stdout);
	if ((pid = harness_spawn_as(NOBODY, NOBODY, exec_as_nobody,
				    fx.d.sock)) < 0) {
		printf("blocks: not root: cannot run poolctl as nobody\n");
		return;
	}
	rc = harness_wait(pid);
	if (rc == 126) {
		printf("blocks: nobody cannot run %s/poolctl\n",
		       harness_build());
		return;
	}
	assert_int_equal(rc, 77);
	printf("blocks: nobody on a 0600 pool: exit 77\n");
}

/*
 * The churning child: allocations and frees in "churn" until its pipe's
 * write end, which only the test holds, closes.
 */
static int churn_stop[2] = {-1, -1};

static int
churn_main(void *arg)
{
	static const size_t sizes[] = {16, 40, 200, 3000, 70000, 150 << 10};
	pool_off_t held[64];
	struct pollfd pfd = {.fd = churn_stop[0], .events = POLLIN};
	struct pool_conn *c;
	struct pool *p;
	unsigned i = 0, n = 0;

	(void)arg;
	close(churn_stop[1]);
	if (pool_connect(fx.d.sock, &c) != 0 ||
	    open_uncached(c, "churn", &p) != 0)
		return 1;
	while (poll(&pfd, 1, 0) == 0) {
		if (n == 64 || (n > 0 && i % 3 == 0)) {
			unsigned k = i % n;

			if (pool_free(p, held[k]) != 0)
				return 2;
			held[k] = held[--n];
		} else if (pool_alloc(p, sizes[i % 6], &held[n]) == 0) {
			n++;
		}
		i++;
	}
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* A block the test holds: its offset and the bytes it asked for. */
struct held {
	pool_off_t off;
	size_t asked;
};

static int
cmp_held(const void *x, const void *y)
{
	const struct held *a = x, *b = y;

	return a->off < b->off ? -1 : a->off > b->off;
}

static void
listed_while_others_churn(void **state)
{
	static const size_t sizes[] = {16, 48, 100, 1000, 5000, 300 << 10};
	static struct held h[2000];
	struct listing l, mine;
	struct pool *p;
	size_t i, n = 0, j;
	int round;
	pid_t kid;

	(void)state;
	make_pool("churn", 512 << 20, 0600);
	EXPECT_RC(open_uncached(fx.conn, "churn", &p), 0);
	for (i = 0; i < 2000; i++) {
		h[i].asked = sizes[i % 6];
		EXPECT_RC(pool_alloc(p, h[i].asked, &h[i].off), 0);
	}
	for (i = 0; i < 2000; i++) {	/* a third freed, the rest kept */
		if (i % 3 == 1)
			EXPECT_RC(pool_free(p, h[i].off), 0);
		else
			h[n++] = h[i];
	}
	qsort(h, n, sizeof(h[0]), cmp_held);
	assert_int_equal(pipe(churn_stop), 0);
	kid = harness_spawn(churn_main, NULL);
	close(churn_stop[0]);
	for (round = 0; round < 5; round++) {
		list_all("churn", 0, 0, &l);
		list_all("churn", (uint32_t)getpid(), 0, &mine);
		/* Every block held throughout, in the full listing... */
		for (i = 0, j = 0; i < n; i++) {
			while (j < l.n && l.b[j].offset < h[i].off)
				j++;
			if (j == l.n || l.b[j].offset != h[i].off)
				fail_msg("round %d: held block %#" PRIx64
					 " not listed", round, h[i].off);
			assert_int_equal(l.b[j].requested, h[i].asked);
		}
		/* ... and by this pid, those and no other. */
		assert_int_equal(mine.n, n);
		for (i = 0; i < n; i++) {
			assert_int_equal(mine.b[i].offset, h[i].off);
			assert_int_equal(mine.b[i].requested, h[i].asked);
			assert_true(mine.b[i].usable_size >= h[i].asked);
			assert_int_equal(mine.b[i].holders, 1);
		}
		printf("blocks: churn round %d: %zu listed in %d pages, %zu "
		       "of them held throughout\n", round, l.n, l.pages, n);
		free(l.b);
		free(mine.b);
	}
	close(churn_stop[1]);
	assert_int_equal(harness_wait(kid), 0);
	EXPECT_RC(pool_check_by_name(fx.conn, "churn", NULL, 0), 0);
	pool_close(p);
}

static void
listing_across_a_restart(void **state)
{
	static pool_off_t offs[MANY];
	struct pool_block_info *page;
	uint64_t from = 0;
	size_t n, i, got = 0;
	struct pool *p;
	int done = 0, pages = 0;

	(void)state;
	make_pool("across", 1 << 20, 0600);
	p = hold_many("across", MANY, 32, offs);
	qsort(offs, MANY, sizeof(offs[0]), cmp_off);
	while (!done) {
		EXPECT_RC(pool_blocks(fx.conn, "across", 0, 0, &from, &page,
				      &n, &done), 0);
		for (i = 0; i < n; i++, got++) {
			assert_true(got < MANY);
			assert_int_equal(page[i].offset, offs[got]);
		}
		free(page);
		if (++pages == 1)	/* the daemon is replaced meanwhile */
			assert_int_equal(harness_restart_in_place(&fx.d), 0);
	}
	assert_int_equal(got, MANY);
	assert_true(pages >= 3);
	pool_close(p);
	printf("blocks: %d pages, the first before a restart in place, the "
	       "rest after: %zu blocks once each\n", pages, got);
}

#define HANDS 20

static void
many_handles_of_one_process(void **state)
{
	struct pool *p[HANDS];
	pool_off_t off[HANDS];
	struct pool_client_info *ci;
	struct listing l;
	size_t n, i, k;

	(void)state;
	make_pool("hands", 1 << 20, 0600);
	for (i = 0; i < HANDS; i++) {
		EXPECT_RC(open_uncached(fx.conn, "hands", &p[i]), 0);
		EXPECT_RC(pool_alloc(p[i], 16 * (i + 1), &off[i]), 0);
	}
	list_all("hands", (uint32_t)getpid(), 0, &l);
	assert_int_equal(l.n, HANDS);
	for (i = 0; i < HANDS; i++)
		assert_int_equal(l.b[i].holders, 1);
	free(l.b);
	/* Each handle's number, as clients lists it, keeps its one block. */
	EXPECT_RC(pool_clients(fx.conn, "hands", &ci, &n), 0);
	assert_int_equal(n, HANDS);
	for (k = 0; k < n; k++) {
		list_all("hands", (uint32_t)getpid(), ci[k].handle, &l);
		assert_int_equal(l.n, 1);
		i = l.b[0].requested / 16 - 1;
		assert_true(i < HANDS);
		assert_int_equal(l.b[0].offset, off[i]);
		assert_int_equal(ci[k].bytes, l.b[0].usable_size);
		free(l.b);
	}
	free(ci);
	for (i = 0; i < HANDS; i++)
		pool_close(p[i]);
	printf("blocks: %d handles of one process: by pid, and by each "
	       "handle's number\n", HANDS);
}

#define SPREAD_CONNS 64	/* connections of the test's process */
#define SPREAD_ROUNDS 10	/* of 64 filtered listings each */

/* n read-write opens of pool on raw connection fd, 8 at a time. */
static void
raw_open_many(int fd, const char *pool, int n)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	int i, j, k;

	m.name = (char *)pool;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	for (i = 0; i < n; i += k) {
		k = n - i < 8 ? n - i : 8;
		for (j = 0; j < k; j++) {
			req.id = 100 + (uint64_t)j;
			assert_int_equal(harness_raw_send(fd, &req), 0);
		}
		for (j = 0; j < k; j++) {
			Poolmgr__Reply *r = harness_raw_reply(fd, 100 + j,
							      30000);

			assert_non_null(r);
			assert_int_equal(r->error, 0);
			poolmgr__reply__free_unpacked(r, NULL);
		}
	}
}

/* The nanoseconds the daemon has run on a CPU (/proc/PID/schedstat). */
static uint64_t
daemon_cpu_ns(void)
{
	char path[64], text[128];
	unsigned long long ns = 0;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)fx.d.pid);
	harness_read_text(path, text, sizeof(text));
	assert_int_equal(sscanf(text, "%llu", &ns), 1);
	return ns;
}

/*
 * The daemon's CPU for SPREAD_ROUNDS batches of 64 listings of pool by
 * pid, on raw connection fd: each must be answered.
 */
static uint64_t
filtered_listings_cpu(int fd, const char *pool)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ListBlocks lb = POOLMGR__LIST_BLOCKS__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	uint64_t before = daemon_cpu_ns();
	int round, i;

	ref.name = (char *)pool;
	lb.pool = &ref;
	lb.pid = (uint32_t)getpid();
	req.body_case = POOLMGR__REQUEST__BODY_LIST_BLOCKS;
	req.list_blocks = &lb;
	for (round = 0; round < SPREAD_ROUNDS; round++) {
		for (i = 0; i < 64; i++) {
			req.id = 500 + (uint64_t)i;
			assert_int_equal(harness_raw_send(fd, &req), 0);
		}
		for (i = 0; i < 64; i++) {
			Poolmgr__Reply *r = harness_raw_reply(fd, 500 + i,
							      30000);

			assert_non_null(r);
			assert_int_equal(r->error, 0);
			poolmgr__reply__free_unpacked(r, NULL);
		}
	}
	return daemon_cpu_ns() - before;
}

/*
 * A process with SPREAD_CONNS connections, each with one handle on pool
 * "few" (opened first: handle 1 on each) holding a block, and 1023 more
 * on pool p: by its pid, "few" lists the SPREAD_CONNS blocks, and by its
 * pid and handle 1 the same (a handle 1 on each connection); with half
 * the connections closed, half of them; the pools check throughout
 * (their accounts' lists of handles included).  The daemon finds the
 * process's handles on "few" by the pool's accounts, not by walking each
 * of the process's 65,536 handles, most of them on p, at every request:
 * the CPU that 640 such listings cost it is printed (the old daemon's
 * walk made each of them cost as much as 64 handles per connection
 * times the connections; measured, not asserted).
 */
static void
pid_filter_walks_the_pools_handles(void **state)
{
	int fd[SPREAD_CONNS], i;
	uint32_t h;
	uint64_t off, cpu;
	struct listing l;

	(void)state;
	make_pool("few", 1 << 20, 0666);
	for (i = 0; i < SPREAD_CONNS; i++) {
		assert_true((fd[i] = harness_raw_greeted(fx.d.sock,
							 "spread")) >= 0);
		EXPECT_RAW(harness_raw_open(fd[i], "few", &h), 0);
		assert_int_equal(h, 1);
		EXPECT_RAW(harness_raw_alloc(fd[i], h, 64, &off, NULL), 0);
		raw_open_many(fd[i], "p", 1023);
	}
	harness_raw_check(fd[0], "few");
	harness_raw_check(fd[0], "p");
	list_all("few", (uint32_t)getpid(), 0, &l);
	assert_int_equal(l.n, SPREAD_CONNS);
	free(l.b);
	list_all("few", (uint32_t)getpid(), 1, &l);
	assert_int_equal(l.n, SPREAD_CONNS);
	free(l.b);
	cpu = filtered_listings_cpu(fd[0], "few");
	for (i = 0; i < SPREAD_CONNS / 2; i++)
		close(fd[i]);
	harness_raw_check(fd[SPREAD_CONNS / 2], "few");
	harness_raw_check(fd[SPREAD_CONNS / 2], "p");
	list_all("few", (uint32_t)getpid(), 0, &l);
	assert_int_equal(l.n, SPREAD_CONNS / 2);
	free(l.b);
	list_all("few", (uint32_t)getpid(), 1, &l);
	assert_int_equal(l.n, SPREAD_CONNS / 2);
	free(l.b);
	for (i = SPREAD_CONNS / 2; i < SPREAD_CONNS; i++)
		close(fd[i]);
	printf("blocks: %d listings by pid of a process with %d handles on "
	       "another pool: %llu ms of the daemon's CPU\n",
	       SPREAD_ROUNDS * 64, SPREAD_CONNS * 1023,
	       (unsigned long long)(cpu / 1000000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lists_what_is_held, setup_held,
						teardown),
		cmocka_unit_test_setup_teardown(refusals, setup_held,
						teardown),
		cmocka_unit_test_setup_teardown(pages_of_128, setup, teardown),
		cmocka_unit_test_setup_teardown(filter_passes_over_many, setup,
						teardown),
		cmocka_unit_test_setup_teardown(listed_while_others_churn,
						setup, teardown),
		cmocka_unit_test_setup_teardown(listing_across_a_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			pid_filter_walks_the_pools_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(many_handles_of_one_process,
						setup, teardown),
		cmocka_unit_test_setup_teardown(poolctl_blocks, setup_held,
						teardown),
	};

	return cmocka_run_group_tests_name("ListBlocks", tests, NULL, NULL);
}
