/*
 * itest_books.c - what the daemon keeps as running totals instead of
 * walking for them reads the same as the walk would.
 *
 *   cached_sum_follows_every_change   raw connections report their
 *       handles' cached bytes (more than a handle holds, too) while their
 *       blocks are allocated, retained, grown in place while shared,
 *       persisted and freed back from persistence, moved, shrunk in steps,
 *       moved in steps, and their handles closed (at once, in steps, by a
 *       disconnect) and their pool destroyed under them.  After every
 *       change the pool's client_cached_bytes is the sum over its listed
 *       handles of their cached bytes, each the smaller of what it
 *       reported and what it holds, and the pool passes its check.
 *   closed_holders_stay_unseen   drop_step = 1 and a handle of 400,000
 *       blocks closed first, so that 40 holders closed after it (two
 *       connections of 20 handles) drop their references in steps behind
 *       it, and the pool has more handles dropping than a block has
 *       holders: a block that 20 of them and one open handle hold (its
 *       first holder, kept in the block's own record) is live for the open
 *       one, again and again, also once a second open handle retains it
 *       and closes; so is one whose first holder is closed and the open
 *       one the last of 40 on its list; a block that only closed handles
 *       hold is no block (usable
 *       size, retain, free, persist: -EINVAL), and stays none; one of
 *       theirs that is persistent is live; and once settled the pool holds
 *       just what the open handle and the pool hold, and passes its check.
 *   first_holder_goes_any_time   a block's first holder is kept in its
 *       own record and a later one takes its place when it lets go
 *       (pool_hold.c): blocks of 1, 2 and 9 holders on 9 handles of two
 *       connections (one handle holding many more blocks, so that a
 *       holder is looked for on both of the lists) whose holders let go
 *       first, last and in between, by free, by a close at once and in
 *       steps, and by a disconnect, while a block is persisted and freed
 *       back, and freed and retained again by a former holder.  After
 *       every change each listed handle's blocks and bytes, each block's
 *       usable size (-EINVAL once nobody holds it), a free by a handle
 *       that does not hold it (-EPERM), the live blocks and the pool's
 *       check are as a model of who holds what says.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define CONF "drop_step = 1\n[pool p]\nsize = 64M\n"
#define MAX_REPORTS 32
#define HOLDERS 20
#define BALLAST 400000

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;	/* asks for stats, the clients and checks */
};

static struct fixture fx;

/* What each handle last reported as cached, by connection name. */
static struct report {
	const char *conn;
	uint32_t handle;
	uint64_t cached;
} reports[MAX_REPORTS];
static unsigned nreports;

static int
teardown(void **state)
{
	(void)state;
	if (fx.conn)
		pool_disconnect(fx.conn);
	if (fx.d.pid > 0)
		assert_int_equal(harness_stop(&fx.d), 0);
	memset(&fx, 0, sizeof(fx));
	nreports = 0;
	return 0;
}

static void
start(void)
{
	assert_int_equal(harness_start(&fx.d, CONF), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
}

/* ---- raw connections (harness_raw.h) ----------------------------------- */

static uint64_t
raw_alloc(int fd, uint32_t h, uint64_t size)
{
	uint64_t off = 0;

	EXPECT_RAW(harness_raw_alloc(fd, h, size, &off, NULL), 0);
	return off;
}

#define FREE(fd, h, off) \
	harness_raw_block(fd, POOLMGR__REQUEST__BODY_FREE, h, off)
#define RETAIN(fd, h, off) \
	harness_raw_block(fd, POOLMGR__REQUEST__BODY_RETAIN, h, off)
#define PERSIST(fd, h, off) \
	harness_raw_block(fd, POOLMGR__REQUEST__BODY_PERSIST, h, off)
#define USABLE(fd, h, off) \
	harness_raw_block(fd, POOLMGR__REQUEST__BODY_USABLE_SIZE, h, off)

/*
 * Report h's cached bytes as a client cache does, on a request it makes
 * anyway (here its pool's stats), and remember what was reported.
 */
static void
report(int fd, const char *conn, uint32_t h, uint64_t cached)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	unsigned i;

	ref.handle = h;
	req.cache_handle = h;
	req.cache_bytes = cached;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), 0);
	for (i = 0; i < nreports; i++)
		if (reports[i].conn == conn && reports[i].handle == h)
			break;
	if (i == nreports) {
		assert_true(nreports < MAX_REPORTS);
		nreports++;
	}
	reports[i] = (struct report){conn, h, cached};
}

static uint64_t
reported(const char *name, uint32_t h)
{
	for (unsigned i = 0; i < nreports; i++)
		if (strcmp(reports[i].conn, name) == 0 &&
		    reports[i].handle == h)
			return reports[i].cached;
	return 0;
}

static void
check_ok(void)
{
	char msg[256] = "";
	int rc = pool_check_by_name(fx.conn, "p", msg, sizeof(msg));

	if (rc)
		fail_msg("check: %s: %s", pool_strerror(rc), msg);
}

/*
 * The pool's client_cached_bytes against its handles: each listed with
 * the smaller of what it reported and what it holds, and the stats with
 * their sum.  Returns the sum.
 */
static uint64_t
agree(const char *step)
{
	struct pool_client_info *ci;
	struct pool_stats st;
	uint64_t sum = 0, want;
	size_t n, i;

	assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
	assert_int_equal(pool_clients(fx.conn, "p", &ci, &n), 0);
	for (i = 0; i < n; i++) {
		want = reported(ci[i].name, ci[i].handle);
		if (want > ci[i].bytes)
			want = ci[i].bytes;
		if (ci[i].cached_bytes != want)
			fail_msg("%s: %s handle %u holds %llu bytes and "
				 "reported %llu cached, listed with %llu",
				 step, ci[i].name, ci[i].handle,
				 (unsigned long long)ci[i].bytes,
				 (unsigned long long)reported(ci[i].name,
							      ci[i].handle),
				 (unsigned long long)ci[i].cached_bytes);
		sum += want;
	}
	free(ci);
	if (st.client_cached_bytes != sum || st.clients != n)
		fail_msg("%s: stats say %llu bytes cached by %llu handles, the "
			 "%zu listed handles %llu", step,
			 (unsigned long long)st.client_cached_bytes,
			 (unsigned long long)st.clients, n,
			 (unsigned long long)sum);
	check_ok();
	return sum;
}

/* ---- the tests ------------------------------------------------------------ */

/* Wait until no handle of connection name is listed. */
static void
wait_unlisted(const char *name)
{
	struct pool_client_info *ci;
	size_t n, i;

	for (int tries = 0; tries < 30000; tries++) {
		assert_int_equal(pool_clients(fx.conn, "p", &ci, &n), 0);
		for (i = 0; i < n && strcmp(ci[i].name, name) != 0; i++)
			;
		free(ci);
		if (i == n)
			return;
		harness_sleep_ms(1);
	}
	fail_msg("the daemon still lists %s after 30 s", name);
}


static void
cached_sum_follows_every_change(void **state)
{
	static const char A[] = "books-a", B[] = "books-b";
	uint64_t small, big, d, e, f, other;
	uint32_t a1, a2, a3, b1;
	int fa, fb;

	(void)state;
	start();
	fa = harness_raw_client(fx.d.sock, A);
	fb = harness_raw_client(fx.d.sock, B);
	a1 = harness_raw_handle(fa, "p");
	a2 = harness_raw_handle(fa, "p");
	a3 = harness_raw_handle(fa, "p");
	b1 = harness_raw_handle(fb, "p");
	assert_int_equal(agree("opened"), 0);

	small = raw_alloc(fa, a1, 1000);
	report(fa, A, a1, 300);
	assert_int_equal(agree("a part reported"), 300);
	report(fa, A, a1, UINT64_MAX);	/* more than it holds */
	assert_true(agree("more than held") >= 1000);
	report(fa, A, a2, 1ull << 40);
	assert_int_equal(RETAIN(fa, a2, small), 0);
	agree("retained");

	/* Shared, so it grows in place: every holder's bytes change. */
	big = raw_alloc(fa, a1, 1 * MiB);
	assert_int_equal(RETAIN(fa, a2, big), 0);
	agree("big retained");
	EXPECT_RAW(harness_raw_realloc(fa, a1, &big, 2 * MiB, true), 0);
	agree("shared block grown");
	/* Its bytes go to its persister, and back to its holders. */
	assert_int_equal(PERSIST(fa, a2, big), 0);
	agree("persisted");
	assert_int_equal(FREE(fa, a3, big), 0);	/* the pool's reference */
	agree("persistence freed");
	assert_int_equal(FREE(fa, a2, big), 0);
	assert_int_equal(FREE(fa, a2, small), 0);
	agree("a2 let go");

	/* Moved at once, shrunk in steps, moved in steps. */
	EXPECT_RAW(harness_raw_realloc(fa, a1, &small, 50000, false), 0);
	agree("moved");
	d = raw_alloc(fa, a1, 8 * MiB);
	EXPECT_RAW(harness_raw_realloc(fa, a1, &d, 1 * MiB, false), 0);
	agree("shrunk in steps");
	e = raw_alloc(fa, a1, 2 * MiB);
	f = raw_alloc(fa, a1, 2 * MiB);
	EXPECT_RAW(harness_raw_realloc(fa, a1, &e, 6 * MiB, false), 0);
	agree("moved in steps");
	assert_int_equal(FREE(fa, a1, f), 0);
	assert_int_equal(FREE(fa, a1, d), 0);
	agree("freed");

	other = raw_alloc(fb, b1, 4096);
	assert_int_equal(RETAIN(fa, a3, other), 0);
	report(fb, B, b1, 100);
	report(fa, A, a3, 5000);
	agree("another connection");

	/* Closed at once; closed holding more than drop_step. */
	assert_int_equal(harness_raw_close(fa, a2), 0);
	agree("a2 closed");
	EXPECT_RAW(harness_raw_alloc_many(fa, a3, 16, 5000), 0);
	report(fa, A, a3, UINT64_MAX);
	agree("a3 full");
	assert_int_equal(harness_raw_close(fa, a3), 0);
	agree("a3 closed in steps");
	close(fb);
	wait_unlisted(B);
	agree("b disconnected");
	report(fa, A, a1, 7);
	assert_int_equal(agree("a1 reports little"), 7);

	/* Destroyed under its open handle, and made again. */
	assert_int_equal(pool_destroy_force(fx.conn, "p"), 0);
	assert_int_equal(pool_create(fx.conn, "p", &(struct pool_create_opts){
		.max_size = 64 * MiB}), 0);
	nreports = 0;
	assert_int_equal(agree("made again"), 0);
	close(fa);
}

static void
closed_holders_stay_unseen(void **state)
{
	uint64_t b, c = 0, x = 0, y = 0, mine[2 * HOLDERS];
	uint32_t s1, s2, k1, h1[HOLDERS], h2[HOLDERS];
	struct pool_stats st;
	int fs, fk, f1, f2, i, round;

	(void)state;
	start();
	fs = harness_raw_client(fx.d.sock, "survivor");
	s1 = harness_raw_handle(fs, "p");
	s2 = harness_raw_handle(fs, "p");
	b = raw_alloc(fs, s1, 64);	/* its first holder, looked at first */
	f1 = harness_raw_client(fx.d.sock, "holders-1");
	f2 = harness_raw_client(fx.d.sock, "holders-2");
	for (i = 0; i < HOLDERS; i++) {
		h1[i] = harness_raw_handle(f1, "p");
		assert_int_equal(RETAIN(f1, h1[i], b), 0);
		/* c: a closed first holder, the open one last on its list. */
		if (i == 0) {
			c = raw_alloc(f1, h1[i], 64);
			assert_int_equal(RETAIN(fs, s1, c), 0);
		} else
			assert_int_equal(RETAIN(f1, h1[i], c), 0);
		/* Two references each: more than drop_step, in steps. */
		mine[i] = raw_alloc(f1, h1[i], 64);
		h2[i] = harness_raw_handle(f2, "p");
		assert_int_equal(RETAIN(f2, h2[i], c), 0);
		if (i == 0) {
			x = raw_alloc(f2, h2[i], 64);
			y = raw_alloc(f2, h2[i], 64);
			assert_int_equal(PERSIST(f2, h2[i], y), 0);
		} else {
			assert_int_equal(RETAIN(f2, h2[i], x), 0);
			assert_int_equal(RETAIN(f2, h2[i], y), 0);
			mine[HOLDERS + i] = raw_alloc(f2, h2[i], 64);
		}
	}
	/* Dropped one reference per loop turn: the others queue behind it. */
	fk = harness_raw_client(fx.d.sock, "ballast");
	k1 = harness_raw_handle(fk, "p");
	EXPECT_RAW(harness_raw_alloc_many(fk, k1, 16, BALLAST), 0);
	close(fk);
	wait_unlisted("ballast");
	close(f1);
	close(f2);
	wait_unlisted("holders-1");
	wait_unlisted("holders-2");

	for (round = 0; round < 2; round++) {
		/* b: 21 holders, 41 handles dropping, then one more holder. */
		for (i = 0; i < 3; i++) {
			assert_int_equal(USABLE(fs, s1, b), 0);
			assert_int_equal(USABLE(fs, s1, c), 0);
		}
		assert_int_equal(USABLE(fs, s1, x), -EINVAL);
		assert_int_equal(RETAIN(fs, s1, x), -EINVAL);
		assert_int_equal(PERSIST(fs, s1, x), -EINVAL);
		assert_int_equal(FREE(fs, s1, x), -EINVAL);
		assert_int_equal(USABLE(fs, s1, mine[0]), -EINVAL);
		assert_int_equal(USABLE(fs, s1, mine[HOLDERS + 1]), -EINVAL);
		assert_int_equal(USABLE(fs, s1, y), 0);
		assert_int_equal(RETAIN(fs, s2, b), 0);
		assert_int_equal(USABLE(fs, s2, b), 0);
	}
	/* The holder looked at first closes: the other is found. */
	assert_int_equal(harness_raw_close(fs, s2), 0);
	assert_int_equal(USABLE(fs, s1, b), 0);
	assert_int_equal(USABLE(fs, s1, x), -EINVAL);

	/* Settled: b, c and the persistent y are all that is left. */
	assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
	assert_int_equal(st.live_blocks, 3);
	assert_int_equal(st.persistent_blocks, 1);
	check_ok();
	assert_int_equal(USABLE(fs, s1, b), 0);
	assert_int_equal(USABLE(fs, s1, x), -EINVAL);
	assert_int_equal(FREE(fs, s1, y), 0);
	assert_int_equal(FREE(fs, s1, b), 0);
	assert_int_equal(FREE(fs, s1, c), 0);
	assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
	assert_int_equal(st.live_blocks, 0);
	check_ok();
	close(fs);
}

/* ---- a model of who holds what ------------------------------------------- */

#define NA 6			/* handles of connection "hold-a" */
#define NB 3			/* ... of "hold-b", which disconnects */
#define NH (NA + NB)
#define NBLK 4
#define BIG_HANDLE 0		/* also holds MANY other blocks */
#define MANY 40

static struct model {
	int fd[2];
	uint32_t id[NH];
	bool open[NH];
	bool held[NH][NBLK];
	bool persistent[NBLK];
	uint64_t off[NBLK], size[NBLK];
	uint64_t many_bytes;	/* of BIG_HANDLE's other blocks */
} m;

static int
m_fd(int k)
{
	return m.fd[k >= NA];
}

static const char *
m_name(int k)
{
	return k < NA ? "hold-a" : "hold-b";
}

static bool
m_live(int j)
{
	if (m.persistent[j])
		return true;
	for (int k = 0; k < NH; k++)
		if (m.held[k][j])
			return true;
	return false;
}

/* Is j gone, and its place not another block's since? */
static bool
m_gone(int j)
{
	if (m_live(j))
		return false;
	for (int i = 0; i < NBLK; i++)
		if (i != j && m.off[i] == m.off[j] && m_live(i))
			return false;
	return true;
}

/* Every book the daemon keeps of the model's blocks, as the model says. */
static void
m_verify(const char *step)
{
	struct pool_client_info *ci;
	struct pool_stats st;
	uint64_t live = MANY, blocks, bytes;
	size_t n, i, listed = 0;
	int k, j;

	assert_int_equal(pool_clients(fx.conn, "p", &ci, &n), 0);
	for (k = 0; k < NH; k++) {
		for (i = 0; i < n; i++)
			if (strcmp(ci[i].name, m_name(k)) == 0 &&
			    ci[i].handle == m.id[k])
				break;
		if (!m.open[k]) {
			if (i < n)
				fail_msg("%s: closed handle %d listed", step, k);
			continue;
		}
		if (i == n)
			fail_msg("%s: open handle %d not listed", step, k);
		listed++;
		blocks = k == BIG_HANDLE ? MANY : 0;
		bytes = k == BIG_HANDLE ? m.many_bytes : 0;
		for (j = 0; j < NBLK; j++) {
			if (!m.held[k][j])
				continue;
			blocks++;
			if (!m.persistent[j])
				bytes += m.size[j];
		}
		if (ci[i].blocks != blocks || ci[i].bytes != bytes)
			fail_msg("%s: handle %d listed with %llu blocks of %llu "
				 "bytes, holds %llu of %llu", step, k,
				 (unsigned long long)ci[i].blocks,
				 (unsigned long long)ci[i].bytes,
				 (unsigned long long)blocks,
				 (unsigned long long)bytes);
	}
	if (listed != n)
		fail_msg("%s: %zu handles listed, %zu open", step, n, listed);
	free(ci);
	for (j = 0; j < NBLK; j++) {
		if (!m.off[j])
			continue;
		for (k = 0; k < NH; k++) {
			if (!m.open[k])
				continue;
			if (!m_live(j)) {
				if (m_gone(j) && USABLE(m_fd(k), m.id[k],
							m.off[j]) != -EINVAL)
					fail_msg("%s: block %d is still live",
						 step, j);
				continue;
			}
			if (USABLE(m_fd(k), m.id[k], m.off[j]) != 0)
				fail_msg("%s: block %d not live", step, j);
			if (!m.held[k][j] && !m.persistent[j] &&
			    FREE(m_fd(k), m.id[k], m.off[j]) != -EPERM)
				fail_msg("%s: handle %d freed block %d, which "
					 "it does not hold", step, k, j);
		}
		live += m_live(j);
	}
	assert_int_equal(pool_stats_by_name(fx.conn, "p", &st), 0);
	if (st.live_blocks != live)
		fail_msg("%s: %llu live blocks, the model has %llu", step,
			 (unsigned long long)st.live_blocks,
			 (unsigned long long)live);
	check_ok();
}

static void
m_alloc(int k, int j, uint64_t size)
{
	EXPECT_RAW(harness_raw_alloc(m_fd(k), m.id[k], size, &m.off[j],
				     &m.size[j]), 0);
	m.held[k][j] = true;
}

static void
m_retain(int k, int j)
{
	assert_int_equal(RETAIN(m_fd(k), m.id[k], m.off[j]), 0);
	m.held[k][j] = true;
}

/* k lets go of j: its free, or the pool's if k does not hold it. */
static void
m_free(int k, int j)
{
	assert_int_equal(FREE(m_fd(k), m.id[k], m.off[j]), 0);
	if (m.held[k][j])
		m.held[k][j] = false;
	else
		m.persistent[j] = false;
}

static void
m_forget(int k)
{
	m.open[k] = false;
	for (int j = 0; j < NBLK; j++)
		m.held[k][j] = false;
}

static void
m_close(int k)
{
	assert_int_equal(harness_raw_close(m_fd(k), m.id[k]), 0);
	m_forget(k);
}

static void
first_holder_goes_any_time(void **state)
{
	struct pool_client_info *ci;
	size_t n;
	int k, j;

	(void)state;
	start();
	memset(&m, 0, sizeof(m));
	m.fd[0] = harness_raw_client(fx.d.sock, "hold-a");
	m.fd[1] = harness_raw_client(fx.d.sock, "hold-b");
	for (k = 0; k < NH; k++) {
		m.id[k] = harness_raw_handle(m_fd(k), "p");
		m.open[k] = true;
	}
	EXPECT_RAW(harness_raw_alloc_many(m.fd[0], m.id[BIG_HANDLE], 64, MANY),
		   0);
	assert_int_equal(pool_clients(fx.conn, "p", &ci, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (ci[i].handle == m.id[BIG_HANDLE] && ci[i].blocks)
			m.many_bytes = ci[i].bytes;
	free(ci);
	m_verify("opened");

	/* One holder, freed; another closed with its one block. */
	m_alloc(1, 0, 100);
	m_verify("one holder");
	m_free(1, 0);
	m_verify("one holder freed");
	m_alloc(2, 0, 100);
	m_close(2);
	m_verify("one holder closed");

	/* Two: the first lets go first, retains again, and goes last. */
	m_alloc(1, 1, 5000);
	m_retain(3, 1);
	m_verify("two holders");
	m_free(1, 1);
	m_verify("the first of two freed");
	m_retain(1, 1);
	m_verify("retained again");
	m_free(3, 1);
	m_verify("the first of two freed again");
	m_free(1, 1);
	m_verify("both freed");

	/* Nine, and a block of five some of them hold too. */
	m_alloc(BIG_HANDLE, 2, 3000);
	for (k = 1; k < NH; k++)
		if (k != 2)
			m_retain(k, 2);
	m_alloc(NA, 3, 64);
	m_retain(4, 3);
	m_retain(5, 3);
	m_retain(NA + 1, 3);
	m_retain(1, 3);
	m_verify("eight and five holders");
	m_free(BIG_HANDLE, 2);
	m_verify("the first of eight freed");
	m_free(3, 2);
	m_verify("one in between freed");
	assert_int_equal(PERSIST(m_fd(4), m.id[4], m.off[2]), 0);
	m.persistent[2] = true;
	m_verify("persisted");
	m_free(BIG_HANDLE, 2);	/* not a holder: the pool's goes */
	m_verify("freed back from persistence");
	m_close(1);		/* two blocks: in steps (drop_step 1) */
	m_verify("the last holder closed");
	close(m.fd[1]);
	wait_unlisted("hold-b");
	for (k = NA; k < NH; k++)
		m_forget(k);
	m_verify("a connection of three holders gone");
	m_free(5, 2);
	m_verify("five let go of the block of three");
	m_free(4, 3);
	m_verify("four let go of the block of two");
	m_retain(BIG_HANDLE, 2);
	m_retain(BIG_HANDLE, 3);
	m_verify("the big handle holds both");
	m_close(4);
	m_verify("four closed");
	m_free(5, 3);
	m_free(BIG_HANDLE, 3);
	m_free(BIG_HANDLE, 2);
	m_verify("all let go");
	for (j = 0; j < NBLK; j++)
		assert_false(m_live(j));
	close(m.fd[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(cached_sum_follows_every_change,
					  teardown),
		cmocka_unit_test_teardown(closed_holders_stay_unseen,
					  teardown),
		cmocka_unit_test_teardown(first_holder_goes_any_time,
					  teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
