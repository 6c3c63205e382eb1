/*
 * test_uquota_random.c - the user quota's count of shared blocks against
 * a model, on the daemon's own code of connections and pools: random
 * requests of three uids, each with two connections (over socketpairs)
 * of up to three handles on a pool of 1 MiB under a user quota, a new
 * pool per seed.
 *
 *   agrees_with_the_model  allocations (some zeroed in steps), retains
 *       of any block a handle can reach, frees through a holder and of
 *       persistent blocks by anyone, resizes (grown in place, moved in
 *       steps, shrunk), persists and their ends, publishes, replaces and
 *       unpublishes, handles closed and connections dropped with their
 *       references dropped at once or a step at a time, and steps of the
 *       pool's queue.  The model keeps each block's holders, its
 *       persister and name; after every request each uid's account
 *       is what the model says it holds, each block once, its
 *       persistent bytes are what it persisted, a request the model
 *       says the user quota refuses is refused -EDQUOT and no other
 *       is, and the Check passes.  Seeded: UQUOTA_SEED=n replays one
 *       run of STEPS requests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool.h"
#include "pool_internal.h"
#include "pool_names.h"
#include "session.h"

#define UIDS 3
#define CONNS (2 * UIDS)	/* connection k is uid k % UIDS's */
#define PER_CONN 3		/* open handles of a connection at most */
#define HANDLES 64		/* the model's handles, open or closing */
#define BLOCKS 256
#define NAMES 4
#define STEPS 20000
#define SEEDS 4
#define QUOTA (160 << 10)	/* and half as much again, every other seed */
#define MOST (40 << 10)		/* the largest block asked for */

/* A handle as the model knows it: open, closing, or a free slot. */
enum mh_state { MH_FREE, MH_OPEN, MH_CLOSING };

struct mhandle {
	enum mh_state state;
	struct handle *h;
	int conn;
	uid_t uid;
};

struct mblock {
	bool live;
	uint64_t off, size;
	bool holder[HANDLES];
	bool persistent;
	uid_t persister;
	int name;		/* -1: none */
};

struct model {
	struct dpool *p;
	struct session *s[CONNS];
	int sv[CONNS][2];
	uid_t uid[UIDS];
	struct mhandle h[HANDLES];
	struct mblock b[BLOCKS];
	int name_block[NAMES];	/* -1: the name is not published */
	/*
	 * A request answered in steps: its connection waits (-1: dropped
	 * meanwhile), its block is busy (-1: let go of meanwhile).
	 */
	bool pending;
	int pending_conn;
	int pending_block;
	int pending_handle;	/* the block's one holder (-1: closed) */
	bool pending_move;
	uint64_t pending_dst;
	uint64_t pending_growth;	/* the move's, counted from its start */
	uint64_t step;
	unsigned seed;
	uint64_t quota;
	uint64_t refused, served;
	/* What the run went through. */
	uint64_t moves, zeroes, replaces, closing, entries;
};

static struct model m;

static void
no_queue_call(void)
{
}

static int
pick(int n)
{
	return (int)(random() % (unsigned)n);
}

static void
fail_at(const char *what, const char *problem)
{
	fail_msg("seed %u, step %llu: %s: %s", m.seed,
		 (unsigned long long)m.step, what, problem);
}

static void
conn_make(int k)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, m.sv[k]), 0);
	assert_non_null(m.s[k] = session_new(m.sv[k][0]));
	m.s[k]->uid = m.uid[k % UIDS];
}

/* Does handle slot i hold block j, in the model? */
static bool
holds(int j, int i)
{
	return m.b[j].holder[i];
}

static bool
held_open(int j)
{
	for (int i = 0; i < HANDLES; i++)
		if (m.b[j].holder[i] && m.h[i].state == MH_OPEN)
			return true;
	return false;
}

static bool
held_at_all(int j)
{
	for (int i = 0; i < HANDLES; i++)
		if (m.b[j].holder[i])
			return true;
	return false;
}

/*
 * What uid holds: each block once, none persistent, and the growth of a
 * block it moves in steps while the handle that asked is open.
 */
static uint64_t
model_held(uid_t uid)
{
	uint64_t n = 0;
	int i, j;

	for (j = 0; j < BLOCKS; j++) {
		if (!m.b[j].live || m.b[j].persistent)
			continue;
		for (i = 0; i < HANDLES; i++)
			if (m.b[j].holder[i] && m.h[i].uid == uid) {
				n += m.b[j].size;
				break;
			}
	}
	if (m.pending && m.pending_move && m.pending_handle >= 0 &&
	    m.h[m.pending_handle].uid == uid)
		n += m.pending_growth;
	return n;
}

static uint64_t
model_persisted(uid_t uid)
{
	uint64_t n = 0;

	for (int j = 0; j < BLOCKS; j++)
		if (m.b[j].live && m.b[j].persistent &&
		    m.b[j].persister == uid)
			n += m.b[j].size;
	return n;
}

/* What the user quota counts of uid. */
static uint64_t
model_used(uid_t uid)
{
	return model_held(uid) + model_persisted(uid);
}

/* The model's block at off, or -1. */
static int
block_at(uint64_t off)
{
	for (int j = 0; j < BLOCKS; j++)
		if (m.b[j].live && m.b[j].off == off)
			return j;
	return -1;
}

static int
block_slot(void)
{
	for (int j = 0; j < BLOCKS; j++)
		if (!m.b[j].live)
			return j;
	return -1;
}

static int
handle_slot(void)
{
	for (int i = 0; i < HANDLES; i++)
		if (m.h[i].state == MH_FREE)
			return i;
	return -1;
}

/*
 * Block j goes if nobody holds it and it is not persistent (its work in
 * steps, if any, ends with nothing to show).
 */
static void
maybe_gone(int j)
{
	if (!m.b[j].live || m.b[j].persistent || held_at_all(j))
		return;
	m.b[j].live = false;
	if (m.pending && m.pending_block == j)
		m.pending_block = -1;
}

static bool
conn_waits(int k)
{
	return m.pending && m.pending_conn == k;
}

/* Is block j busy with a request answered in steps? */
static bool
busy(int j)
{
	return m.pending && m.pending_block == j;
}

/* A random open handle, of a connection that is not waiting: -1 if none. */
static int
open_handle(void)
{
	int i, tries;

	for (tries = 0; tries < 4 * HANDLES; tries++) {
		i = pick(HANDLES);
		if (m.h[i].state == MH_OPEN && !conn_waits(m.h[i].conn))
			return i;
	}
	return -1;
}

/* A random live block, -1 if none found. */
static int
live_block(void)
{
	int j, tries;

	for (tries = 0; tries < 4 * BLOCKS; tries++)
		if (m.b[j = pick(BLOCKS)].live)
			return j;
	return -1;
}

/* A random block handle i holds, -1 if none found. */
static int
held_block(int i)
{
	int j, tries;

	for (tries = 0; tries < 4 * BLOCKS; tries++)
		if (m.b[j = pick(BLOCKS)].live && holds(j, i))
			return j;
	return -1;
}

/*
 * The closing handles' holds as the pool has them: a handle no longer
 * queued has dropped them all.  Each hold the pool still has must be one
 * the model has.
 */
static void
closing_sync(void)
{
	const void *at;
	struct handle *h;
	struct hold *hd;
	bool queued, still[BLOCKS];
	int i, j;

	for (i = 0; i < HANDLES; i++) {
		if (m.h[i].state != MH_CLOSING)
			continue;
		queued = false;
		at = NULL;
		while ((h = dpool_closing_next(m.p, &at)))
			queued = queued || h == m.h[i].h;
		memset(still, 0, sizeof(still));
		if (queued)
			LIST_FOREACH(hd, &m.h[i].h->refs, by_handle) {
				j = block_at(hold_block(hd)->off);
				if (j < 0 || !holds(j, i))
					fail_at("a closing handle's hold",
						"not the model's");
				else
					still[j] = true;
			}
		for (j = 0; j < BLOCKS; j++)
			if (m.b[j].holder[i] && !still[j]) {
				m.b[j].holder[i] = false;
				maybe_gone(j);
			}
		if (!queued)
			m.h[i] = (struct mhandle){.state = MH_FREE};
	}
}

/* A request answered in steps that is done: its block where it went. */
static void
pending_sync(void)
{
	struct block *b;
	int j = m.pending_block;

	if (!m.pending || m.p->moving || m.p->zeroing)
		return;
	m.pending = false;
	if (!m.pending_move || j < 0)
		return;
	/* Its closed holder may have let go of it since. */
	if (!(b = block_index_find(&m.p->blocks, m.pending_dst))) {
		if (held_open(j))
			fail_at("a move's end", "no block at its new place");
		m.b[j].off = m.pending_dst;
		return;
	}
	m.b[j].off = b->off;
	m.b[j].size = b->size;
}

/* The pool's books against the model's, and the Check. */
static void
agree(void)
{
	char problem[256];
	uint64_t held, want;
	int u, j;

	pending_sync();
	closing_sync();
	if (m.p->closing > m.closing)
		m.closing = m.p->closing;
	if (m.p->uid_holds.count > m.entries)
		m.entries = m.p->uid_holds.count;
	if (dpool_check(m.p, problem, sizeof(problem)))
		fail_at("the Check", problem);
	for (u = 0; u < UIDS; u++) {
		held = session_user_bytes(m.p, m.uid[u]);
		want = model_held(m.uid[u]);
		if (held != want) {
			snprintf(problem, sizeof(problem), "uid %u holds %llu, "
				 "the model says %llu", (unsigned)m.uid[u],
				 (unsigned long long)held,
				 (unsigned long long)want);
			fail_at("an account", problem);
		}
		if (dpool_persisted_by(m.p, m.uid[u]) !=
		    model_persisted(m.uid[u]))
			fail_at("a charge", "not the model's");
	}
	for (j = 0; j < BLOCKS; j++)
		if (m.b[j].live &&
		    !block_index_find(&m.p->blocks, m.b[j].off))
			fail_at("a live block", "not in the index");
}

/* rc of a request the user quota refuses by the model, or not. */
static void
quota_verdict(const char *what, int rc, bool refused)
{
	char problem[96];

	if ((rc == -EDQUOT) == refused) {
		m.refused += refused;
		return;
	}
	snprintf(problem, sizeof(problem), "%d, the model %s", rc,
		 refused ? "refuses it" : "does not refuse it");
	fail_at(what, problem);
}

static void
do_open(void)
{
	int k = pick(CONNS), i, n = 0;

	if (conn_waits(k) || (i = handle_slot()) < 0)
		return;
	for (int x = 0; x < HANDLES; x++)
		n += m.h[x].state == MH_OPEN && m.h[x].conn == k;
	if (n >= PER_CONN)
		return;
	assert_non_null(m.h[i].h = session_open(m.s[k], m.p, pick(4) == 0));
	m.h[i].state = MH_OPEN;
	m.h[i].conn = k;
	m.h[i].uid = m.s[k]->uid;
}

static void
do_alloc(void)
{
	int i = open_handle(), j = block_slot(), rc;
	uint64_t size = 1 + (uint64_t)pick(MOST), usable;
	bool zero = pick(8) == 0, refused;
	struct block *b;

	if (i < 0 || j < 0 || m.h[i].h->read_only || (zero && m.pending))
		return;
	usable = heap_block_size(m.p->heap, size);
	refused = model_used(m.h[i].uid) + usable > m.quota;
	rc = dpool_alloc(m.p, m.h[i].h, size, 0, zero, 0, &b);
	quota_verdict("an allocation", rc, refused);
	if (rc != 0 && rc != DPOOL_IN_STEPS)
		return;
	m.served++;
	m.b[j] = (struct mblock){.live = true, .off = b->off, .size = b->size,
				 .name = -1};
	m.b[j].holder[i] = true;
	if (rc == DPOOL_IN_STEPS) {
		m.zeroes++;
		m.pending = true;
		m.pending_conn = m.h[i].conn;
		m.pending_block = j;
		m.pending_handle = i;
		m.pending_move = false;
	}
}

static void
do_retain(void)
{
	int i = open_handle(), j = live_block(), rc, x;
	bool refused = false, reach, mine = false;

	if (i < 0 || j < 0)
		return;
	reach = m.b[j].persistent || held_open(j);
	for (x = 0; x < HANDLES; x++)
		mine = mine || (m.b[j].holder[x] && m.h[x].uid == m.h[i].uid);
	if (reach && !holds(j, i) && !m.b[j].persistent && !mine &&
	    !busy(j))
		refused = model_used(m.h[i].uid) + m.b[j].size > m.quota;
	rc = dpool_retain(m.p, m.h[i].h, m.b[j].off, 0);
	if (!reach) {
		if (rc != -EINVAL)
			fail_at("a retain of a block let go", "not -EINVAL");
		return;
	}
	if (busy(j) && !holds(j, i) && rc != -EBUSY)
		fail_at("a retain of a busy block", "not -EBUSY");
	quota_verdict("a retain", rc, refused);
	if (rc == 0)
		m.b[j].holder[i] = true;
}

static void
do_free(void)
{
	int i = open_handle(), j, rc;

	if (i < 0 || (j = held_block(i)) < 0)
		return;
	rc = dpool_free(m.p, m.h[i].h, m.b[j].off);
	if (rc)
		fail_at("a holder's free", "refused");
	m.b[j].holder[i] = false;
	maybe_gone(j);
}

/* A free of a persistent block by a handle that does not hold it. */
static void
do_free_persistent(void)
{
	int i = open_handle(), j = live_block(), rc;

	if (i < 0 || j < 0 || !m.b[j].persistent || holds(j, i) ||
	    m.h[i].h->read_only)
		return;
	rc = dpool_free(m.p, m.h[i].h, m.b[j].off);
	if (m.b[j].name >= 0) {
		if (rc != -EBUSY)
			fail_at("a free of a named block", "not -EBUSY");
		return;
	}
	if (rc)
		fail_at("a free of a persistent block", "refused");
	m.b[j].persistent = false;
	maybe_gone(j);
}

static void
do_realloc(void)
{
	int i = open_handle(), j, rc;
	uint64_t size = 1 + (uint64_t)pick(MOST), want, dst;
	uid_t payer;
	bool refused = false;
	struct block *out;

	if (m.pending || i < 0 || (j = held_block(i)) < 0 ||
	    m.h[i].h->read_only)
		return;
	want = heap_block_size(m.p->heap, size);
	payer = m.b[j].persistent ? m.b[j].persister : m.h[i].uid;
	if (want > m.b[j].size)
		refused = model_used(payer) + want - m.b[j].size > m.quota;
	rc = dpool_realloc(m.p, m.h[i].h, m.b[j].off, size, 0, pick(2) == 0,
			   &out, &dst);
	quota_verdict("a resize", rc, refused);
	if (rc == DPOOL_IN_STEPS) {
		assert_int_equal(heap_usable_size(m.p->heap, dst, &want), 0);
		m.moves++;
		m.pending = true;
		m.pending_conn = m.h[i].conn;
		m.pending_block = j;
		m.pending_handle = i;
		m.pending_move = true;
		m.pending_dst = dst;
		m.pending_growth = want > m.b[j].size ? want - m.b[j].size : 0;
		return;
	}
	if (rc)
		return;
	m.b[j].off = out->off;
	m.b[j].size = out->size;
}

static void
do_persist(void)
{
	int i = open_handle(), j;

	if (i < 0 || (j = held_block(i)) < 0 || m.b[j].persistent ||
	    m.h[i].h->read_only || busy(j))
		return;
	if (dpool_persist(m.p, m.h[i].h, m.b[j].off, 0))
		fail_at("a persist", "refused");
	m.b[j].persistent = true;
	m.b[j].persister = m.h[i].uid;
}

static void
do_free_persisted(void)
{
	int j = live_block(), rc;
	uint64_t age;
	uid_t who;

	if (j < 0 || !m.b[j].persistent)
		return;
	rc = dpool_free_persisted(m.p, m.b[j].off, 0, &age, &who);
	if (m.b[j].name >= 0) {
		if (rc != -EBUSY)
			fail_at("an end of a named block", "not -EBUSY");
		return;
	}
	if (rc || who != m.b[j].persister)
		fail_at("an end of persistence", "refused, or not its own");
	m.b[j].persistent = false;
	maybe_gone(j);
}

static void
do_publish(void)
{
	int i = open_handle(), j = live_block(), n = pick(NAMES), rc, old;
	bool replace = pick(2) == 0;
	char name[16];

	if (i < 0 || j < 0 || m.h[i].h->read_only || busy(j))
		return;
	snprintf(name, sizeof(name), "n%d", n);
	old = m.name_block[n];
	rc = dpool_publish(m.p, m.h[i].h, m.b[j].off, name, strlen(name),
			   replace, false);
	if (!m.b[j].persistent && !held_open(j)) {
		if (rc != -EINVAL)
			fail_at("a publish of a block let go", "not -EINVAL");
		return;
	}
	if (old >= 0 && !replace) {
		if (rc != -EEXIST)
			fail_at("a publish of a name taken", "not -EEXIST");
		return;
	}
	if (old == j) {
		if (rc)
			fail_at("a publish again", "refused");
		return;
	}
	if (m.b[j].name >= 0) {
		if (rc != -EBUSY)
			fail_at("a publish of a named block", "not -EBUSY");
		return;
	}
	if (!m.b[j].persistent && !holds(j, i)) {
		if (rc != -EPERM)
			fail_at("a publish by a non-holder", "not -EPERM");
		return;
	}
	if (rc)
		fail_at("a publish", "refused");
	if (!m.b[j].persistent) {
		m.b[j].persistent = true;
		m.b[j].persister = m.h[i].uid;
	}
	m.b[j].name = n;
	m.name_block[n] = j;
	if (old >= 0) {
		m.replaces++;
		m.b[old].name = -1;
		m.b[old].persistent = false;
		maybe_gone(old);
	}
}

static void
do_unpublish(void)
{
	int n = pick(NAMES), j = m.name_block[n], rc;
	char name[16];

	snprintf(name, sizeof(name), "n%d", n);
	rc = dpool_unpublish(m.p, name, strlen(name));
	if (j < 0) {
		if (rc != -ENOENT)
			fail_at("an unpublish of no name", "not -ENOENT");
		return;
	}
	if (rc)
		fail_at("an unpublish", "refused");
	m.name_block[n] = -1;
	m.b[j].name = -1;
	m.b[j].persistent = false;
	maybe_gone(j);
}

/*
 * Handle slot i's close: closing until its references are dropped, and
 * the growth of a block it moves no longer its uid's.
 */
static void
closed(int i)
{
	m.h[i].state = MH_CLOSING;
	if (m.pending && m.pending_handle == i)
		m.pending_handle = -1;
}

static void
do_close(void)
{
	int i = open_handle();

	if (i < 0)
		return;
	session_close(m.s[m.h[i].conn], m.h[i].h);
	closed(i);
}

/* A connection dropped (its client gone) and made anew. */
static void
do_drop(void)
{
	int k = pick(CONNS), i;

	for (i = 0; i < HANDLES; i++)
		if (m.h[i].state == MH_OPEN && m.h[i].conn == k)
			closed(i);
	session_free(m.s[k]);
	close(m.sv[k][0]);
	close(m.sv[k][1]);
	if (conn_waits(k))
		m.pending_conn = -1;	/* its block's work goes on */
	conn_make(k);
}

static void
do_steps(void)
{
	for (int n = 1 + pick(3); n > 0 && dpool_release_step(); n--)
		;
}

static void
do_setup(void)
{
	static const uint32_t drops[] = {1, 2, 3, 8, DPOOL_DROP_STEP_DEFAULT};

	dpool_release_setup(4096, drops[pick(5)], no_queue_call);
}

static void
one_step(void)
{
	int r = pick(100);

	if (r < 8)
		do_open();
	else if (r < 30)
		do_alloc();
	else if (r < 48)
		do_retain();
	else if (r < 60)
		do_free();
	else if (r < 62)
		do_free_persistent();
	else if (r < 70)
		do_realloc();
	else if (r < 74)
		do_persist();
	else if (r < 77)
		do_free_persisted();
	else if (r < 81)
		do_publish();
	else if (r < 83)
		do_unpublish();
	else if (r < 87)
		do_close();
	else if (r < 88)
		do_drop();
	else if (r < 99)
		do_steps();
	else
		do_setup();
}

static void
run(unsigned seed)
{
	struct dpool_params pp = {.size = 1 << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	struct dpool *p;
	int k, n;

	assert_int_equal(dpool_create("r", &pp, &p), 0);

	memset(&m, 0, sizeof(m));
	m.p = p;
	m.seed = seed;
	for (n = 0; n < NAMES; n++)
		m.name_block[n] = -1;
	for (k = 0; k < UIDS; k++)
		m.uid[k] = 5000 + (uid_t)k;
	for (k = 0; k < CONNS; k++)
		conn_make(k);
	m.quota = seed % 2 ? QUOTA : QUOTA + QUOTA / 2;
	p->user_quota = m.quota;
	srandom(seed);
	dpool_release_setup(4096, 2, no_queue_call);
	for (m.step = 0; m.step < STEPS; m.step++) {
		one_step();
		agree();
	}
	/* Everything let go: nothing held, nothing charged, no table. */
	for (n = 0; n < NAMES; n++)
		if (m.name_block[n] >= 0) {
			char name[16];

			snprintf(name, sizeof(name), "n%d", n);
			assert_int_equal(dpool_unpublish(p, name, strlen(name)),
					 0);
		}
	for (k = 0; k < CONNS; k++) {
		session_free(m.s[k]);
		close(m.sv[k][0]);
		close(m.sv[k][1]);
	}
	while (dpool_release_step())
		;
	for (k = 0; k < BLOCKS; k++)
		if (m.b[k].live && m.b[k].persistent && m.b[k].name < 0) {
			uint64_t age;
			uid_t who;

			assert_int_equal(dpool_free_persisted(p, m.b[k].off, 0,
							      &age, &who), 0);
		}
	while (dpool_release_step())
		;
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	for (k = 0; k < UIDS; k++)
		assert_int_equal(session_user_bytes(p, m.uid[k]), 0);
	assert_int_equal(block_index_count(&p->blocks), 0);
	assert_null(p->uid_holds.slot);
	dpool_destroy(p, false);
	printf("uquota_random: seed %u: %llu blocks made, %llu requests "
	       "refused by the user quota, %llu moves and %llu zeroings in "
	       "steps, %llu replaces; up to %llu handles closing, %llu "
	       "entries of holds\n", seed, (unsigned long long)m.served,
	       (unsigned long long)m.refused, (unsigned long long)m.moves,
	       (unsigned long long)m.zeroes, (unsigned long long)m.replaces,
	       (unsigned long long)m.closing, (unsigned long long)m.entries);
}

static void
agrees_with_the_model(void **state)
{
	const char *env = getenv("UQUOTA_SEED");
	unsigned seed;

	(void)state;
	if (env) {
		run((unsigned)strtoul(env, NULL, 10));
		return;
	}
	for (seed = 1; seed <= SEEDS; seed++)
		run(seed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agrees_with_the_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
