/*
 * itest_nomem.c - the daemon under allocation failure.  fail_malloc.so
 * (preloaded into the daemon, plain build only: see the Makefile) fails
 * its malloc, calloc and realloc by a rule, from the test's signal on
 * until the next; the engine's metadata allocations, which abort by
 * design, are spared.
 *
 * Each test starts the daemon with one rule, lets CHILDREN client
 * processes connect and open the pool, switches failures on (for the
 * connection tests, before the children connect) and runs them through
 * OPS requests of every kind:
 * alloc, calloc, realloc, free, batches, retain, publish (plain and
 * evictable), lookup, lookup-retain, waiting lookup, unpublish, stats,
 * list, clients, names, check, create/open/destroy of a pool of their
 * own, and new connections.  Each answer must be success, the answer the
 * request has without failures (-ENOENT for a lookup of a name gone,
 * -ETIMEDOUT for a wait, ...), -ENOMEM, or a dropped connection
 * (-ECONNRESET), after which the child connects again (where the daemon
 * cannot even take a connection in, a connect fails so, and the child
 * tries again).  Anything else fails the test.  The daemon must answer
 * throughout (no request waits past HANG_MS) and stay up.
 *
 * Then failures go off, and: every pool checks out; the pool's live
 * blocks and bytes are those the children hold plus those names hold;
 * its open handles are the children's; a new client is served; every
 * child's own pool is gone once destroyed; and once the children exit,
 * only the named blocks are left and the daemon stops cleanly.
 *
 *   connect_every_call_fails  every=1 from before the children connect:
 *                             nothing the daemon allocates succeeds, so
 *                             no connection is taken in.
 *   connect_every_third_fails every=3 from before they connect: neither.
 *   every_fifth_fails         every=5, once they are in: a connection
 *                             dropped is not taken in again.
 *   every_eleventh_fails      every=11: most requests are answered, so
 *   every_29th_fails          every=29: that every kind meets failures
 *   every_97th_fails          every=97: at each of its steps.
 *   mappings_fail_too         every=11 with the daemon's private anonymous
 *                             mmaps counted too (its block and holder
 *                             records, large index tables).
 *   records_run_out           only those mmaps fail, all of them: one
 *                             client allocates until the daemon has no
 *                             room for another block's record or index
 *                             slot, and a second handle retains those
 *                             blocks until no further holder's record can
 *                             be made: -ENOMEM each time (the retain's in
 *                             words that say it is the daemon's memory),
 *                             nothing changed.
 *   share_map_not_redone      only those mmaps fail, from just before a
 *                             restart in place whose exec fails: the
 *                             share map the restart set all shared cannot
 *                             be redone and stays so (as logged); frees
 *                             go to the daemon, a block another client
 *                             holds is not handed out again, the pool
 *                             checks out; mappings back, the next restart
 *                             renews the map and frees are kept again.
 *   held_in_steps             a calloc zeroed in steps (release_step
 *                             4K), and a realloc that moves a block in
 *                             steps, with one allocation of its request's
 *                             failing, the first, the second... to the
 *                             eighth (it makes fewer): each is a
 *                             block, or -ENOMEM with no block left, or
 *                             a dropped connection (no memory to keep a
 *                             request whose block was made: the block
 *                             goes with the handle).  Once the daemon
 *                             answered -ENOMEM and kept the block, held
 *                             by a handle whose program never had its
 *                             offset (or moved it, the program told its
 *                             realloc failed).
 *   persist_refused_ready     a persistent calloc zeroed in steps, the
 *                             pool's first persistent block: once it
 *                             is held, the daemon's next allocation
 *                             fails, which is the room for its uid's
 *                             charge: refused -ENOMEM (logged), the
 *                             block back in the engine, the connection
 *                             kept (nothing to drop it for); the
 *                             library may ask again and get one.  A
 *                             failure armed after the block was ready
 *                             (a loaded machine) is tried again, on a
 *                             new daemon, up to five times.
 *   batch_persist_undone      only those mmaps fail, once the chunk of
 *                             persist times (one record a persistent
 *                             block) is full but for two records: a
 *                             batch of four blocks persistent from the
 *                             start persists two, and the third is
 *                             refused -ENOMEM (logged): the two end,
 *                             the four go back, nothing is left, the
 *                             pool checks out; a batch of two then fits.
 *
 * A child that cannot connect in CONNECT_TRIES is done until failures
 * go off: trying on would only be refused again.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include "harness_raw.h"
#include "poolclient.h"

/* fail_malloc.so's switches. */
#define FAIL_ON_SIG	(SIGRTMIN + 5)
#define FAIL_OFF_SIG	(SIGRTMIN + 6)

#define POOL		"nomem"
#define CONF		"[pool " POOL "]\nsize = 64M\n"
#define CHILDREN	4
#define OPS		400
#define MAX_HELD	48
#define MAX_NAMES	8
#define HANG_MS		120000	/* a request unanswered this long: hung */
#define CONNECT_TRIES	500

struct kid {
	int id;
	unsigned seed;
	struct pool_conn *c;
	struct pool *p;
	/* Blocks its handle holds: one reference each, however often it
	 * retained them (a retain of a block held already does nothing). */
	pool_off_t held[MAX_HELD];
	int nheld;
	bool own_pool;		/* its pool t<id> may exist */
	bool shut_out;		/* no connection in CONNECT_TRIES: done */
	unsigned long ok, nomem, dropped, bad;
};

/* What a child reports once failures are off. */
struct report {
	int nheld;
	bool open;
	unsigned long ok, nomem, dropped, bad;
	pool_off_t off[MAX_HELD];
	uint64_t usable[MAX_HELD];
};

static int to_kid[CHILDREN][2], from_kid[CHILDREN][2];

static unsigned
roll(struct kid *k, unsigned n)
{
	k->seed = k->seed * 1103515245u + 12345u;
	return (k->seed >> 16) % n;
}

static bool
is_drop(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN;
}

static void
kid_close(struct kid *k)
{
	pool_close(k->p);
	pool_disconnect(k->c);
	k->p = NULL;
	k->c = NULL;
	k->nheld = 0;	/* the daemon frees what the session held */
}

/* Connect and open the pool, however often memory runs out meanwhile. */
static bool
kid_connect(struct kid *k)
{
	int i, rc;

	kid_close(k);
	for (i = 0; i < CONNECT_TRIES; i++) {
		if (!k->c && (rc = pool_connect(NULL, &k->c)) != 0) {
			k->c = NULL;
			k->dropped++;	/* not even taken in */
			if (rc != -ENOMEM && !is_drop(rc)) {
				fprintf(stderr, "child %d: connect: %s\n",
					k->id, pool_strerror(rc));
				k->bad++;
				return false;
			}
			continue;
		}
		if ((rc = pool_open(k->c, POOL, &k->p)) == 0)
			return true;
		k->p = NULL;
		if (is_drop(rc)) {
			pool_disconnect(k->c);
			k->c = NULL;
		} else if (rc != -ENOMEM) {
			fprintf(stderr, "child %d: open: %s\n", k->id,
				pool_strerror(rc));
			k->bad++;
			return false;
		}
	}
	k->shut_out = true;
	return false;
}

/*
 * The answer rc to request what: counted; a drop reconnects.  allowed is
 * the one error the request may have without failures (0: none).
 * Returns whether it succeeded.
 */
static bool
answer(struct kid *k, int rc, int allowed, const char *what)
{
	if (rc == 0) {
		k->ok++;
		return true;
	}
	if (rc == -ENOMEM) {
		k->nomem++;
	} else if (is_drop(rc)) {
		k->dropped++;
		kid_connect(k);
	} else if (rc == allowed) {
		k->ok++;
	} else {
		k->bad++;
		fprintf(stderr, "child %d: %s: %d (%s) \"%s\"\n", k->id, what,
			rc, pool_strerror(rc), pool_last_message(rc));
	}
	return false;
}

static int
held_find(struct kid *k, pool_off_t off)
{
	int i;

	for (i = 0; i < k->nheld; i++)
		if (k->held[i] == off)
			return i;
	return -1;
}

static void
held_add(struct kid *k, pool_off_t off)
{
	if (held_find(k, off) < 0)
		k->held[k->nheld++] = off;
}

/* held[i] let go: its one reference is gone. */
static void
held_drop(struct kid *k, int i)
{
	k->held[i] = k->held[--k->nheld];
}

static int
held_pick(struct kid *k)
{
	return k->nheld ? (int)roll(k, (unsigned)k->nheld) : -1;
}

static size_t
a_size(struct kid *k)
{
	return roll(k, 8) == 0 ? 100000 + roll(k, 300000) : 1 + roll(k, 4096);
}

static void
name_of(struct kid *k, unsigned n, char *buf, size_t len)
{
	snprintf(buf, len, "k%d-%u", k->id, n);
}

static void
do_alloc(struct kid *k, unsigned how)
{
	pool_off_t off;
	int rc;

	if (k->nheld >= MAX_HELD - 8)
		return;
	rc = how == 0 ? pool_alloc(k->p, a_size(k), &off) :
	    how == 1 ? pool_calloc(k->p, 1 + roll(k, 16), 1 + roll(k, 512),
				   &off) :
	    pool_alloc_aligned(k->p, a_size(k), 4096, &off);
	if (answer(k, rc, 0, "alloc"))
		held_add(k, off);
}

static void
do_batch(struct kid *k)
{
	size_t sizes[8];
	pool_off_t offs[8];
	unsigned i, n = 1 + roll(k, 8);

	if (k->nheld + (int)n > MAX_HELD)
		return;
	for (i = 0; i < n; i++)
		sizes[i] = 1 + roll(k, 2048);
	if (answer(k, pool_alloc_batch(k->p, n, sizes, offs), 0,
		   "alloc_batch"))
		for (i = 0; i < n; i++)
			held_add(k, offs[i]);
}

static void
do_free_batch(struct kid *k)
{
	pool_off_t offs[4];
	int i, n = 0;

	for (i = 0; i < k->nheld && n < 4; i++)
		offs[n++] = k->held[i];
	if (n == 0 || !answer(k, pool_free_batch(k->p, (size_t)n, offs), 0,
			      "free_batch"))
		return;
	for (i = 0; i < n; i++)
		held_drop(k, held_find(k, offs[i]));
}

static void
do_free(struct kid *k)
{
	int i = held_pick(k);

	if (i >= 0 && answer(k, pool_free(k->p, k->held[i]), 0, "free"))
		held_drop(k, i);
}

static void
do_realloc(struct kid *k)
{
	int i = held_pick(k);
	pool_off_t off;
	int rc;

	if (i < 0)
		return;
	rc = pool_realloc(k->p, k->held[i], a_size(k), &off);
	/* -EBUSY: another holder (a name, a retain) keeps it from moving. */
	if (answer(k, rc, -EBUSY, "realloc") && rc == 0) {
		held_drop(k, i);
		held_add(k, off);
	}
}

static void
do_retain(struct kid *k)
{
	int i = held_pick(k);

	/* Held already: the retain adds no reference. */
	if (i >= 0)
		answer(k, pool_retain(k->p, k->held[i]), 0, "retain");
}

static void
do_publish(struct kid *k)
{
	char name[32];
	int i = held_pick(k);
	unsigned flags = roll(k, 2) ? POOL_PUBLISH_REPLACE :
	    POOL_PUBLISH_EVICTABLE;
	int rc;

	if (i < 0)
		return;
	name_of(k, roll(k, MAX_NAMES), name, sizeof(name));
	rc = pool_publish_flags(k->p, k->held[i], name, flags);
	/* -EEXIST: the name is on another block; -EBUSY: the block has one. */
	if (rc == -EEXIST)
		rc = -EBUSY;
	answer(k, rc, -EBUSY, "publish");
}

static void
do_lookup(struct kid *k, unsigned how)
{
	char name[32];
	pool_off_t off;
	size_t usable;
	uint64_t gen;
	int rc;

	if (how == 1 && k->nheld >= MAX_HELD - 1)
		how = 0;
	name_of(k, roll(k, MAX_NAMES), name, sizeof(name));
	if (how == 0) {
		answer(k, pool_lookup(k->p, name, &off, &usable), -ENOENT,
		       "lookup");
		return;
	}
	if (how == 1) {
		if (answer(k, pool_lookup_retain(k->p, name, &off, &usable),
			   -ENOENT, "lookup_retain"))
			held_add(k, off);
		return;
	}
	/* A wait that ends: at once (0 ms), or at its time. */
	rc = pool_lookup_wait(k->p, name, roll(k, 2) ? 0 : UINT64_MAX / 2,
			      roll(k, 2) ? 0 : 5, 0, &off, &usable, &gen);
	if (rc == -ENOENT)	/* no such name, and no wait asked */
		rc = -ETIMEDOUT;
	answer(k, rc, -ETIMEDOUT, "lookup_wait");
}

static void
do_unpublish(struct kid *k)
{
	char name[32];

	name_of(k, roll(k, MAX_NAMES), name, sizeof(name));
	answer(k, pool_unpublish(k->p, name), -ENOENT, "unpublish");
}

static void
do_listing(struct kid *k, unsigned how)
{
	struct pool_client_info *ci;
	struct pool_stats st, *sts;
	struct pool_named *nm;
	char msg[256];
	size_t n, total;
	int rc;

	switch (how) {
	case 0:
		answer(k, pool_stats(k->p, &st), 0, "stats");
		break;
	case 1:
		answer(k, pool_stats_by_name(k->c, POOL, &st), 0,
		       "stats_by_name");
		break;
	case 2:
		if (answer(k, rc = pool_list(k->c, &sts, &n), 0, "list") &&
		    rc == 0)
			free(sts);
		break;
	case 3:
		if (answer(k, rc = pool_clients_total(k->c, POOL, &ci, &n,
		    &total), 0, "clients") && rc == 0)
			free(ci);
		break;
	case 4:
		if (answer(k, rc = pool_names(k->c, POOL, "k", &nm, &n,
		    &total), 0, "names") && rc == 0)
			free(nm);
		break;
	default:
		answer(k, pool_check_by_name(k->c, POOL, msg, sizeof(msg)), 0,
		       "check");
		break;
	}
}

/*
 * A pool of its own: create, open, use, close, destroy.  A drop
 * reconnects, and the disconnect closed q then.
 */
static void
do_own_pool(struct kid *k)
{
	struct pool_create_opts o = { .max_size = 1 << 20 };
	struct pool_conn *c = k->c;
	struct pool *q;
	pool_off_t off;
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "t%d", k->id);
	rc = pool_create(c, name, &o);
	if (rc == 0 || rc == -EEXIST)
		k->own_pool = true;
	if (!answer(k, rc, -EEXIST, "create") && rc != -EEXIST)
		return;
	if (!answer(k, pool_open(c, name, &q), 0, "open own"))
		return;
	if (answer(k, pool_alloc(q, 100, &off), 0, "alloc own") && roll(k, 2))
		answer(k, pool_free(q, off), 0, "free own");
	if (k->c != c)
		return;
	pool_close(q);
	rc = roll(k, 2) ? pool_destroy(c, name) : pool_destroy_force(c, name);
	/* -EBUSY: the close's word has not come in before the destroy. */
	if (answer(k, rc, -EBUSY, "destroy") && rc == 0)
		k->own_pool = false;
}

static void
kid_step(struct kid *k)
{
	unsigned op = roll(k, 20);

	/* Shut out once, it would only be shut out again: the rest is
	 * for after failures go off. */
	if (k->shut_out || (!k->p && !kid_connect(k)))
		return;
	switch (op) {
	case 0: case 1: case 2: do_alloc(k, op); break;
	case 3: case 4: do_free(k); break;
	case 5: do_realloc(k); break;
	case 6: do_batch(k); break;
	case 7: do_free_batch(k); break;
	case 8: do_retain(k); break;
	case 9: do_publish(k); break;
	case 10: case 11: case 12: do_lookup(k, op - 10); break;
	case 13: do_unpublish(k); break;
	case 14: case 15: do_listing(k, roll(k, 6)); break;
	case 16: do_own_pool(k); break;
	case 17: kid_connect(k); break;	/* a new connection */
	default: do_alloc(k, 0); break;
	}
}

/* With failures off: its pool gone, and what it holds. */
static void
kid_report(struct kid *k, struct report *r)
{
	char name[32];
	size_t usable;
	int i, rc;

	memset(r, 0, sizeof(*r));
	if (!k->p)
		kid_connect(k);
	snprintf(name, sizeof(name), "t%d", k->id);
	if (k->c && (rc = pool_destroy_force(k->c, name)) != 0 &&
	    rc != -ENOENT) {
		fprintf(stderr, "child %d: destroy %s: %s\n", k->id, name,
			pool_strerror(rc));
		k->bad++;
	}
	r->open = k->p != NULL;
	r->nheld = k->nheld;
	for (i = 0; i < k->nheld; i++) {
		r->off[i] = k->held[i];
		if ((rc = pool_usable_size(k->p, r->off[i], &usable)) != 0) {
			fprintf(stderr, "child %d: usable_size %#llx: %s\n",
				k->id, (unsigned long long)r->off[i],
				pool_strerror(rc));
			k->bad++;
		}
		r->usable[i] = usable;
	}
	r->ok = k->ok;
	r->nomem = k->nomem;
	r->dropped = k->dropped;
	r->bad = k->bad;
}

static int
kid_main(void *arg)
{
	struct kid k = { .id = (int)(intptr_t)arg };
	struct report r;
	char b;
	int i;

	k.seed = 7919u * (unsigned)(k.id + 1);
	close(to_kid[k.id][1]);
	close(from_kid[k.id][0]);
	kid_connect(&k);
	/* In and open; failures may go on now. */
	CHECK(harness_write_full(from_kid[k.id][1], "c", 1) == 0, 6);
	CHECK(harness_read_full(to_kid[k.id][0], &b, 1) == 0, 7);
	for (i = 0; i < OPS; i++)
		kid_step(&k);
	CHECK(harness_write_full(from_kid[k.id][1], "d", 1) == 0, 2);
	CHECK(harness_read_full(to_kid[k.id][0], &b, 1) == 0, 3);
	kid_report(&k, &r);
	CHECK(harness_write_full(from_kid[k.id][1], &r, sizeof(r)) == 0, 4);
	CHECK(harness_read_full(to_kid[k.id][0], &b, 1) == 0, 5);
	kid_close(&k);
	return r.bad ? 1 : 0;
}

/* Wait for len bytes from child i, at most HANG_MS: else the test fails. */
static void
from_child(int i, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = from_kid[i][0], .events = POLLIN };

	if (poll(&pfd, 1, HANG_MS) != 1)
		fail_msg("child %d: no word in %d ms: the daemon hangs", i,
			 HANG_MS);
	assert_int_equal(harness_read_full(from_kid[i][0], buf, len), 0);
}

/* The daemon must be up; else the test fails with the end of its log. */
static void
expect_alive(struct daemon_proc *d)
{
	static char text[1 << 16];
	size_t len;

	if (harness_alive(d))
		return;
	harness_read_text(d->log, text, sizeof(text));
	len = strlen(text);
	fail_msg("the daemon died; its log ends:\n%s",
		 text + (len > 2000 ? len - 2000 : 0));
}

/* Add block off (usable bytes) to the set, unless there already. */
static void
set_add(pool_off_t *set, uint64_t *bytes, size_t *n, pool_off_t off,
	uint64_t usable)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (set[i] == off)
			return;
	set[*n] = off;
	bytes[(*n)++] = usable;
}

/* Every pool checks out; the books of POOL are what reps and names say. */
static void
expect_books(struct report *reps, int nreps)
{
	pool_off_t set[CHILDREN * MAX_HELD + 1024];
	uint64_t bytes[CHILDREN * MAX_HELD + 1024], sum = 0;
	struct pool_client_info *ci;
	struct pool_stats st, *sts;
	struct pool_named *nm;
	struct pool_conn *c;
	size_t n = 0, i, ni, total, open = 0;
	int j, k;

	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_list(c, &sts, &ni), 0);
	for (i = 0; i < ni; i++)
		harness_expect_checked(c, sts[i].name);
	if (nreps == CHILDREN)	/* the children's own pools are gone */
		assert_int_equal(ni, 1);
	free(sts);
	for (j = 0; j < nreps; j++) {
		open += reps[j].open;
		for (k = 0; k < reps[j].nheld; k++)
			set_add(set, bytes, &n, reps[j].off[k],
				reps[j].usable[k]);
	}
	assert_int_equal(pool_names(c, POOL, NULL, &nm, &ni, &total), 0);
	assert_int_equal(ni, total);
	for (i = 0; i < ni; i++)
		set_add(set, bytes, &n, nm[i].offset, nm[i].usable_size);
	free(nm);
	for (i = 0; i < n; i++)
		sum += bytes[i];
	st = harness_stats_of(c, POOL);
	printf("pool " POOL ": %llu live blocks, %llu bytes; the clients and "
	       "names hold %zu, %llu\n", (unsigned long long)st.live_blocks,
	       (unsigned long long)st.allocated_bytes, n,
	       (unsigned long long)sum);
	assert_int_equal(st.live_blocks, n);
	assert_int_equal(st.allocated_bytes, sum);
	assert_int_equal(pool_clients_total(c, POOL, &ci, &ni, &total), 0);
	free(ci);
	assert_int_equal(total, open);
	pool_disconnect(c);
}

/* A new client is served. */
static void
expect_served(void)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, POOL, &p), 0);
	assert_int_equal(pool_alloc(p, 1000, &off), 0);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

/* Failures by rule, on from before the children connect if connecting. */
static void
run_rule(const char *rule, bool connecting)
{
	struct report reps[CHILDREN];
	unsigned long ok = 0, nomem = 0, dropped = 0, bad = 0;
	struct daemon_proc d;
	struct pool_conn *c;
	pid_t pids[CHILDREN];
	char *saved, b;
	int i;

	setenv("POOLMGR_CLIENT_CACHE", "0", 1);	/* exact books */
	saved = harness_preload("fail_malloc.so");
	setenv("POOLMGR_FAIL_MALLOC", rule, 1);
	harness_fixture_start(&d, CONF);
	harness_preload_off(saved);
	unsetenv("POOLMGR_FAIL_MALLOC");

	if (connecting) {
		/*
		 * The start's wait ends when the socket accepts, before the
		 * daemon has made its SIGUSR2 event: failures on from then
		 * would end the daemon's start, not test its requests.  A
		 * Hello answered comes from the loop, all made.
		 */
		assert_int_equal(pool_connect(NULL, &c), 0);
		pool_disconnect(c);
		assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	}
	for (i = 0; i < CHILDREN; i++) {
		assert_int_equal(pipe(to_kid[i]), 0);
		assert_int_equal(pipe(from_kid[i]), 0);
		pids[i] = harness_spawn(kid_main, (void *)(intptr_t)i);
		close(to_kid[i][0]);
		close(from_kid[i][1]);
	}
	for (i = 0; i < CHILDREN; i++)
		from_child(i, &b, 1);
	if (!connecting)
		assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	for (i = 0; i < CHILDREN; i++)
		assert_int_equal(harness_write_full(to_kid[i][1], "o", 1), 0);
	for (i = 0; i < CHILDREN; i++)
		from_child(i, &b, 1);
	expect_alive(&d);
	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);

	for (i = 0; i < CHILDREN; i++) {
		assert_int_equal(harness_write_full(to_kid[i][1], "g", 1), 0);
		from_child(i, &reps[i], sizeof(reps[i]));
		ok += reps[i].ok;
		nomem += reps[i].nomem;
		dropped += reps[i].dropped;
		bad += reps[i].bad;
	}
	printf("%s: %lu answered, %lu -ENOMEM, %lu dropped, %lu wrong\n",
	       rule, ok, nomem, dropped, bad);
	expect_books(reps, CHILDREN);
	expect_served();

	for (i = 0; i < CHILDREN; i++) {
		assert_int_equal(harness_write_full(to_kid[i][1], "x", 1), 0);
		assert_int_equal(harness_wait(pids[i]), 0);
		close(to_kid[i][1]);
		close(from_kid[i][0]);
	}
	expect_books(NULL, 0);
	assert_int_equal(bad, 0);
	assert_true(nomem + dropped > 0);	/* failures did happen */
	harness_fixture_stop(&d);
}

static void
connect_every_call_fails(void **state)
{
	(void)state;
	run_rule("every=1", true);
}

static void
connect_every_third_fails(void **state)
{
	(void)state;
	run_rule("every=3", true);
}

static void
every_fifth_fails(void **state)
{
	(void)state;
	run_rule("every=5", false);
}

static void
every_eleventh_fails(void **state)
{
	(void)state;
	run_rule("every=11", false);
}

static void
every_29th_fails(void **state)
{
	(void)state;
	run_rule("every=29", false);
}

static void
every_97th_fails(void **state)
{
	(void)state;
	run_rule("every=97", false);
}

static void
mappings_fail_too(void **state)
{
	(void)state;
	run_rule("every=11,mmap", false);
}

#define RUN_BATCH	512
#define RUN_MAX		65536

/* Allocate 16 B blocks in batches into offs until refused; the count. */
static size_t
alloc_until_refused(struct pool *p, pool_off_t *offs, int *rc)
{
	size_t sizes[RUN_BATCH], n = 0, i;

	for (i = 0; i < RUN_BATCH; i++)
		sizes[i] = 16;
	while (n + RUN_BATCH <= RUN_MAX &&
	       (*rc = pool_alloc_batch(p, RUN_BATCH, sizes, offs + n)) == 0)
		n += RUN_BATCH;
	return n;
}

/*
 * A daemon (with no client cache) whose every new mapping fails from its
 * start: its malloc has only the room it mapped before (fail_malloc.so).
 */
static void
start_without_new_mappings(struct daemon_proc *d)
{
	char *saved;

	setenv("POOLMGR_CLIENT_CACHE", "0", 1);
	saved = harness_preload("fail_malloc.so");
	setenv("POOLMGR_FAIL_MALLOC", "every=1,only=mmap", 1);
	harness_fixture_start(d, CONF);
	harness_preload_off(saved);
	unsetenv("POOLMGR_FAIL_MALLOC");
}

static void
records_run_out(void **state)
{
	static pool_off_t offs[RUN_MAX];
	struct daemon_proc d;
	struct pool_conn *c, *c2;
	struct pool *p, *q, *r;
	struct pool_stats st;
	char msg[256];
	pool_off_t evictable, off;
	size_t n, i, kept;
	int rc = 0;

	(void)state;
	start_without_new_mappings(&d);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, POOL, &p), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	assert_int_equal(pool_open(c2, POOL, &q), 0);
	assert_int_equal(pool_open(c2, POOL, &r), 0);
	/* The first records' chunk, mapped while mappings still work. */
	assert_int_equal(pool_alloc(p, 16, &offs[0]), 0);
	assert_int_equal(pool_retain(q, offs[0]), 0);
	assert_int_equal(pool_free(q, offs[0]), 0);
	assert_int_equal(pool_free(p, offs[0]), 0);
	/*
	 * An evictable name nobody holds: a pool with no room would evict
	 * it, but the daemon's own want of memory is no want of room.
	 */
	assert_int_equal(pool_alloc(p, 16, &evictable), 0);
	assert_int_equal(pool_publish_flags(p, evictable, "spare",
					    POOL_PUBLISH_EVICTABLE), 0);
	assert_int_equal(pool_free(p, evictable), 0);

	assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	n = alloc_until_refused(p, offs, &rc);
	expect_alive(&d);
	assert_int_equal(rc, -ENOMEM);
	assert_true(n < RUN_MAX);
	assert_int_equal(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, n + 1);
	assert_int_equal(pool_lookup(p, "spare", &off, NULL), 0);
	assert_int_equal(off, evictable);
	/*
	 * Further holders, q's then r's: refused once their records' chunk
	 * is full (it holds fewer than two for each block).
	 */
	for (i = 0; i < 2 * n &&
	     (rc = pool_retain(i < n ? q : r, offs[i % n])) == 0; i++)
		;
	expect_alive(&d);
	assert_int_equal(rc, -ENOMEM);
	/* The daemon's memory, not the pool's room, which -ENOMEM reads as. */
	assert_string_equal(pool_last_message(-ENOMEM),
			    "poolmgrd is out of memory");
	kept = i;
	assert_true(kept < 2 * n);
	assert_int_equal(pool_check_by_name(c, POOL, msg, sizeof(msg)), 0);
	assert_int_equal(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, n + 1);
	printf("records: %zu blocks, then -ENOMEM; %zu further holders, "
	       "then -ENOMEM\n", n, kept);

	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);
	assert_int_equal(pool_retain(kept < n ? q : r, offs[kept % n]), 0);
	for (i = 0; i <= kept; i++)
		assert_int_equal(pool_free(i < n ? q : r, offs[i % n]), 0);
	assert_int_equal(pool_free_batch(p, n, offs), 0);
	assert_int_equal(pool_unpublish(p, "spare"), 0);
	assert_int_equal(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(pool_check_by_name(c, POOL, msg, sizeof(msg)), 0);
	pool_close(r);
	pool_close(q);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
	expect_served();
	harness_fixture_stop(&d);
}

#define THAW_POOL	"thaw"
#define THAW_SIZE	(4u << 20)
#define THAW_GRANULE	16u
#define THAW_BLOCKS	32
#define THAW_LOGGED	"no memory to redo its share map"

/* The bytes of pool thaw's share map that hold its bits. */
static size_t
thaw_bits_len(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return ((THAW_SIZE / THAW_GRANULE + 7) / 8 + page - 1) & ~(page - 1);
}

/*
 * Free n blocks of p's; the daemon must count them all (sent, not kept
 * by the handle's cache) if sent, or none of them (with the cache on).
 */
static void
thaw_free(struct pool *p, const pool_off_t *off, size_t n, bool sent)
{
	struct pool_stats s0, s1;
	size_t i;

	assert_int_equal(pool_stats(p, &s0), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(pool_free(p, off[i]), 0);
	assert_int_equal(pool_stats(p, &s1), 0);
	printf("cache %s: %zu frees, the daemon counted %llu\n",
	       harness_client_cache() ? "on" : "off", n,
	       (unsigned long long)(s1.frees - s0.frees));
	if (sent || !harness_client_cache())
		assert_int_equal(s1.frees - s0.frees, n);
	else
		assert_int_equal(s1.frees, s0.frees);
}

/* Pool thaw must check out. */
static void
thaw_check(struct pool_conn *c)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, THAW_POOL, msg, sizeof(msg));

	if (rc != 0)
		fail_msg("pool %s: check: %s: %s", THAW_POOL,
			 pool_strerror(rc), msg);
}

static void
thaw_alloc(struct pool *p, pool_off_t *off, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(pool_alloc(p, 64, &off[i]), 0);
}

/*
 * A restart in place whose exec fails, with every private anonymous
 * mapping refused from before it: the daemon cannot redo the share maps
 * it set all shared for the exec.  Each stays all set ("replaced" back to
 * 0, so that handles keep it): frees go to the daemon instead of a
 * handle's cache, a block another client holds is never handed out
 * again, the pool checks out and is served.  Mappings back, the next
 * restart in place gives the pool a new map and frees are kept again.
 */
static void
share_map_not_redone(void **state)
{
	char dir[64], bin[128], script[160], cmd[300], swap[700];
	pool_off_t off[THAW_BLOCKS], live[THAW_BLOCKS];
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	const uint8_t *map;
	const uint64_t *words;
	unsigned long ino0 = 0, ino;
	void *at = NULL;
	char *saved;
	size_t i;
	uint32_t h;
	int fd, before;

	(void)state;
	/* Handles cache here, whatever the run (and a test before) said. */
	unsetenv("POOLMGR_CLIENT_CACHE");
	harness_copy_binary(dir, sizeof(dir), bin, sizeof(bin));
	saved = harness_preload("fail_malloc.so");
	setenv("POOLMGR_FAIL_MALLOC", "every=1,only=mmap", 1);
	assert_int_equal(harness_start_from(&d, bin, HARNESS_FIXTURE_CONF
					    "[pool " THAW_POOL "]\n"
					    "size = 4M\n"), 0);
	harness_preload_off(saved);
	unsetenv("POOLMGR_FAIL_MALLOC");
	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_open(c, THAW_POOL, &p), 0);
	thaw_alloc(p, live, THAW_BLOCKS);
	thaw_alloc(p, off, THAW_BLOCKS);
	assert_int_equal(harness_share_maps(THAW_POOL, &ino0, &at), 1);
	map = at;
	words = (const uint64_t *)(map + thaw_bits_len());

	/* The exec fails after the probe passed: the program deletes itself. */
	snprintf(script, sizeof(script), "%s.new", bin);
	snprintf(swap, sizeof(swap), "printf '#!/bin/sh\\nrm -f \"$0\"\\n"
		 "exec %s/poolmgrd \"$@\"\\n' > %s && chmod 755 %s && "
		 "mv %s %s", harness_build(), script, script, script, bin);
	assert_int_equal(harness_run(swap, NULL, 0), 0);
	before = harness_log_count(&d, "not executed");
	assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	assert_int_equal(kill(d.pid, SIGUSR2), 0);
	assert_int_equal(harness_log_wait(&d, "not executed", before,
					  HARNESS_RESTART_WAIT_MS), 0);
	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);
	expect_alive(&d);
	harness_expect_logged(&d, "pool " THAW_POOL ": " THAW_LOGGED);

	for (i = 0; i < thaw_bits_len(); i++)
		if (map[i] != 0xff)
			fail_msg("byte %zu of the map not redone: %#x", i,
				 map[i]);
	assert_int_equal(words[1], 0);
	assert_int_equal(harness_share_maps(THAW_POOL, &ino, NULL), 1);
	assert_int_equal(ino, ino0);
	thaw_free(p, off, THAW_BLOCKS, true);
	fd = harness_raw_client(d.sock, "retainer");
	h = harness_raw_handle(fd, THAW_POOL);
	assert_int_equal(pool_alloc(p, 64, &off[0]), 0);
	EXPECT_RAW(harness_raw_retain(fd, h, off[0]), 0);
	harness_expect_kept_shared(p, off[0], fd, h);
	close(fd);
	thaw_check(c);

	/* Mappings back, the real binary back: the next restart renews. */
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(), bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	assert_int_equal(harness_restart_in_place(&d), 0);
	thaw_free(p, live, THAW_BLOCKS, false);
	thaw_alloc(p, off, THAW_BLOCKS);
	thaw_free(p, off, THAW_BLOCKS, false);
	assert_int_equal(harness_share_maps(THAW_POOL, &ino, NULL), 1);
	assert_true(ino != ino0);
	thaw_check(c);
	pool_close(p);
	pool_disconnect(c);
	harness_fixture_stop(&d);
	harness_remove_binary(dir);
}

/* The blocks live in pool POOL, asked on a connection of its own. */
static uint64_t
live_blocks(void)
{
	struct pool_stats st;
	struct pool_conn *c;

	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, POOL, &st), 0);
	pool_disconnect(c);
	return st.live_blocks;
}

/* live_blocks once a freed block's pages have gone back (in steps). */
static uint64_t
live_blocks_settled(void)
{
	uint64_t n, t0 = harness_now_ms();

	while ((n = live_blocks()) != 0 && harness_now_ms() - t0 < 5000)
		harness_sleep_ms(10);
	return n;
}

/*
 * A daemon whose (m+1)th allocation, once failures are switched on,
 * alone fails (its rule in rule), steps of 4 KiB, and a handle of POOL on
 * a connection of this process's, its cache off.
 */
static void
start_failing_once(struct daemon_proc *d, unsigned m, char *rule,
		   size_t len, struct pool_conn **c, struct pool **p)
{
	char *saved;

	setenv("POOLMGR_CLIENT_CACHE", "0", 1);
	saved = harness_preload("fail_malloc.so");
	snprintf(rule, len, "every=1,after=%u,times=1", m);
	setenv("POOLMGR_FAIL_MALLOC", rule, 1);
	harness_fixture_start(d, "release_step = 4K\n" CONF);
	harness_preload_off(saved);
	unsetenv("POOLMGR_FAIL_MALLOC");
	assert_int_equal(pool_connect(NULL, c), 0);
	assert_int_equal(pool_open(*c, POOL, p), 0);
}

/*
 * A calloc zeroed in steps whose request's (m+1)th allocation alone
 * fails; its answer, once the books were checked.
 */
static int
calloc_in_steps_failing(unsigned m)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	char rule[64];
	uint64_t left;
	int rc;

	start_failing_once(&d, m, rule, sizeof(rule), &c, &p);
	assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	rc = pool_calloc(p, 1, 8 << 20, &off);
	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);
	expect_alive(&d);
	if (rc == 0)
		assert_int_equal(pool_free(p, off), 0);
	else if (!is_drop(rc))
		assert_int_equal(rc, -ENOMEM);
	/*
	 * Nothing left that this handle cannot name (the library may have
	 * asked again after a refusal: a block the refusal kept stays).
	 */
	if (!is_drop(rc) && (left = live_blocks_settled()) != 0)
		fail_msg("%s: %d, and %llu block(s) left held by the handle",
			 rule, rc, (unsigned long long)left);
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(live_blocks(), 0);
	harness_fixture_stop(&d);
	return rc;
}

/* More than a calloc in steps makes (a queue record, its copy, ...). */
#define STEPS_FAILED 8

/*
 * A realloc the daemon makes by moving the block in steps (under 1 MiB,
 * which the library leaves to the daemon; a block after it), whose
 * request's (m+1)th allocation alone fails.  Refused, the block is where
 * it was with its bytes.
 */
static int
move_in_steps_failing(unsigned m)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, b, moved;
	char rule[64];
	const size_t len = 512 << 10;
	unsigned char *at;
	uint64_t left;
	int rc;

	start_failing_once(&d, m, rule, sizeof(rule), &c, &p);
	assert_int_equal(pool_alloc(p, len, &a), 0);
	assert_int_equal(pool_alloc(p, 4096, &b), 0);
	memset(pool_ptr(p, a), 0x3c, len);
	assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	rc = pool_realloc(p, a, len + len / 2, &moved);
	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);
	expect_alive(&d);
	if (!is_drop(rc)) {
		if (rc == 0)
			a = moved;
		else
			assert_int_equal(rc, -ENOMEM);
		at = pool_ptr(p, a);
		if (at[0] != 0x3c || at[len - 1] != 0x3c)
			fail_msg("%s: %d, and the block's bytes are not at %llu",
				 rule, rc, (unsigned long long)a);
		assert_int_equal(pool_free(p, a), 0);
		assert_int_equal(pool_free(p, b), 0);
		if ((left = live_blocks_settled()) != 0)
			fail_msg("%s: %d, and %llu block(s) left held by the "
				 "handle", rule, rc, (unsigned long long)left);
	}
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(live_blocks(), 0);
	harness_fixture_stop(&d);
	return rc;
}

static void
held_in_steps(void **state)
{
	unsigned long dropped = 0, nomem = 0;
	unsigned m;
	int rc;

	(void)state;
	for (m = 0; m < STEPS_FAILED; m++) {
		rc = calloc_in_steps_failing(m);
		nomem += rc == -ENOMEM;
		dropped += is_drop(rc);
		rc = move_in_steps_failing(m);
		nomem += rc == -ENOMEM;
		dropped += is_drop(rc);
	}
	printf("held_in_steps: the request's first %d allocations failed in "
	       "turn, a calloc's and a move's: %lu -ENOMEM, %lu dropped, "
	       "the rest served\n",
	       STEPS_FAILED, nomem, dropped);
	assert_true(nomem + dropped > 0);
}

/* A persistent calloc of a thread's: its answer, and the block. */
struct persistent_calloc {
	struct pool *p;
	size_t size;
	pool_off_t off;
	int rc;
};

static void *
persistent_calloc_run(void *arg)
{
	struct persistent_calloc *a = arg;

	a->rc = pool_alloc_wait(a->p, a->size, 0,
				POOL_ALLOC_ZERO | POOL_ALLOC_PERSIST, 0,
				&a->off);
	return NULL;
}

/* Requests the daemon holds now, asked on c. */
static uint64_t
daemon_held(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	assert_int_equal(pool_daemon_stats(c, &ds), 0);
	return ds.held;
}

static bool
persist_refused_once(void)
{
	struct persistent_calloc a = {.size = 48 << 20};
	struct daemon_proc d;
	struct pool_conn *c, *asker;
	struct pool_stats st;
	struct pool *p;
	pthread_t t;
	char rule[64];
	uint64_t t0;
	bool refused;

	start_failing_once(&d, 0, rule, sizeof(rule), &c, &p);
	assert_int_equal(pool_connect(NULL, &asker), 0);
	a.p = p;
	assert_int_equal(pthread_create(&t, NULL, persistent_calloc_run, &a),
			 0);
	/* Zeroed a step of 4 KiB a loop turn: 12,288 turns. */
	t0 = harness_now_ms();
	while (daemon_held(asker) == 0) {
		assert_true(harness_now_ms() - t0 < HANG_MS);
		harness_sleep_ms(1);
	}
	/* The next allocation is the persist's, once the block is ready. */
	assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);
	expect_alive(&d);
	if (is_drop(a.rc))
		fail_msg("a persist with no memory for its charge dropped "
			 "the connection (%d), not refused -ENOMEM", a.rc);
	refused = harness_log_count(&d, "refused: poolmgrd is out of "
				    "memory") > 0;
	if (!refused)
		assert_int_equal(a.rc, 0);	/* the charge had its memory */
	/* The library may ask again: then its block, persistent. */
	if (a.rc != 0)
		assert_int_equal(a.rc, -ENOMEM);
	/* The connection, and its handle, still serve. */
	assert_int_equal(pool_stats(p, &st), 0);
	assert_int_equal(st.live_blocks, a.rc == 0);
	assert_int_equal(st.persistent_blocks, a.rc == 0);
	if (a.rc == 0)
		assert_int_equal(pool_free(p, a.off), 0);
	pool_close(p);
	pool_disconnect(c);
	pool_disconnect(asker);
	assert_int_equal(live_blocks_settled(), 0);
	harness_fixture_stop(&d);
	return refused;
}

/*
 * persist_refused_once until the failure came in time: a loaded machine
 * may run the daemon's last zeroing steps, and the persist's charge,
 * before it takes the signal that arms it (the block then persistent, as
 * no memory failed).  A few tries, each with a daemon of its own: the
 * first persistent block's charge is what must fail.
 */
#define PERSIST_REFUSED_TRIES	5

static void
persist_refused_ready(void **state)
{
	int i;

	(void)state;
	for (i = 1; !persist_refused_once(); i++) {
		if (i == PERSIST_REFUSED_TRIES)
			fail_msg("in %d tries the daemon never refused the "
				 "persist's charge: the failure always came "
				 "after the block was ready", i);
		printf("persist_refused_ready: the block was ready before "
		       "the failure was armed (try %d); again\n", i);
	}
}

/* Blocks of 16 bytes made (or freed) by p in batches: n of them. */
static void
batch_all(struct pool *p, pool_off_t *offs, size_t n, bool alloc)
{
	static size_t sizes[POOL_BATCH_MAX];
	size_t i, k;

	for (i = 0; i < POOL_BATCH_MAX; i++)
		sizes[i] = 16;
	for (i = 0; i < n; i += k) {
		k = n - i < POOL_BATCH_MAX ? n - i : POOL_BATCH_MAX;
		if (alloc)
			assert_int_equal(pool_alloc_batch(p, k, sizes,
							  offs + i), 0);
		else
			assert_int_equal(pool_free_batch(p, k, offs + i), 0);
	}
}

#define UNDO_PLAIN	12000	/* block records mapped before the failures */
#define UNDO_FREED	7000	/* ... and free again, for the blocks to come */
#define UNDO_MAX	65536	/* persist times in a chunk, at most */

static void
batch_persist_undone(void **state)
{
	static pool_off_t plain[UNDO_PLAIN], kept[UNDO_MAX];
	size_t sizes[4] = {16, 16, 16, 16}, n = 0, i;
	struct pool_stats before, after;
	pool_off_t offs[4] = {1, 1, 1, 1};
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	char msg[256];
	int rc;

	(void)state;
	start_without_new_mappings(&d);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, POOL, &p), 0);
	/*
	 * While mappings still work: block records and the index for many
	 * more blocks than the persistent ones to come, and the first chunk
	 * of persist times.  The index keeps its size (it shrinks at a
	 * quarter full), so only the persist times run out below.
	 */
	batch_all(p, plain, UNDO_PLAIN, true);
	batch_all(p, plain, UNDO_FREED, false);
	assert_int_equal(pool_alloc_wait(p, 16, 0, POOL_ALLOC_PERSIST, 0,
					 &kept[n++]), 0);

	assert_int_equal(kill(d.pid, FAIL_ON_SIG), 0);
	while ((rc = pool_alloc_wait(p, 16, 0, POOL_ALLOC_PERSIST, 0,
				     &kept[n])) == 0)
		assert_true(++n < UNDO_MAX);
	expect_alive(&d);
	assert_int_equal(rc, -ENOMEM);
	harness_expect_logged(&d, "refused: poolmgrd is out of memory");
	/* Two records free in the chunk: the batch's third finds none. */
	assert_int_equal(pool_free(p, kept[--n]), 0);
	assert_int_equal(pool_free(p, kept[--n]), 0);
	assert_int_equal(pool_stats(p, &before), 0);
	assert_int_equal(before.persistent_blocks, n);
	assert_int_equal(pool_alloc_batch_flags(p, 4, sizes,
						POOL_ALLOC_PERSIST, offs),
			 -ENOMEM);
	assert_true(offs[0] == 1 && offs[3] == 1);
	assert_int_equal(pool_stats(p, &after), 0);
	assert_int_equal(after.persistent_blocks, n);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(pool_check_by_name(c, POOL, msg, sizeof(msg)), 0);
	/* The two the batch had persisted are free again: two fit. */
	assert_int_equal(pool_alloc_batch_flags(p, 2, sizes,
						POOL_ALLOC_PERSIST, offs), 0);
	kept[n++] = offs[0];
	kept[n++] = offs[1];
	assert_int_equal(pool_stats(p, &after), 0);
	assert_int_equal(after.persistent_blocks, n);
	printf("batch_persist_undone: %zu persistent blocks fill the chunk "
	       "of persist times; a batch of 4 in its last 2 records undone\n",
	       n);

	assert_int_equal(kill(d.pid, FAIL_OFF_SIG), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(pool_free(p, kept[i]), 0);
	batch_all(p, plain + UNDO_FREED, UNDO_PLAIN - UNDO_FREED, false);
	assert_int_equal(pool_stats(p, &after), 0);
	assert_int_equal(after.live_blocks, 0);
	assert_int_equal(pool_check_by_name(c, POOL, msg, sizeof(msg)), 0);
	pool_close(p);
	pool_disconnect(c);
	expect_served();
	harness_fixture_stop(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connect_every_call_fails),
		cmocka_unit_test(connect_every_third_fails),
		cmocka_unit_test(every_fifth_fails),
		cmocka_unit_test(every_eleventh_fails),
		cmocka_unit_test(every_29th_fails),
		cmocka_unit_test(every_97th_fails),
		cmocka_unit_test(mappings_fail_too),
		cmocka_unit_test(records_run_out),
		cmocka_unit_test(share_map_not_redone),
		cmocka_unit_test(held_in_steps),
		cmocka_unit_test(persist_refused_ready),
		cmocka_unit_test(batch_persist_undone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
