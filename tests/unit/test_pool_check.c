/*
 * test_pool_check.c - what a pool's Check (dpool_check) catches, on the
 * daemon's own session and pool code: a real session over a socketpair,
 * a real pool.  A fault no request can make is planted in the pool's
 * records directly, the Check must name it, and the fault is taken out
 * again before the pool goes.
 *
 *   unnamed_evictable_block   a block marked evictable that no name
 *       holds (its first hold or last release would find no name on the
 *       eviction's books): -EFAULT, the block named in the problem; the
 *       mark taken off, the Check passes.
 *   kept_name_on_evictable_block  the mark on a block whose name is
 *       kept: -EFAULT too.
 *   counts_of_one_in_the_singular  books one off where the count found
 *       is 1 (one name, one evictable name, one holder): the problem
 *       says "1 name", "1 evictable name", "of 1 holder", and the count
 *       of 2 beside it is still plural; the books put back, it passes.
 *   uid_books_checked  an evictable name's uid's list of unheld names:
 *       its bytes one off, or its order not the pool's, fail the Check
 *       with the uid named; the uid's own eviction (dpool_evict_user)
 *       counts only its own bytes, takes its oldest name first and no
 *       more than asked, none of another uid's, and its last name with
 *       its charge, the Check passing after each.
 *   shared_blocks_once_per_uid  blocks that two handles of the fixture's
 *       uid hold, and one a handle of another uid holds too: each uid's
 *       account counts each block once, through a persist and its end;
 *       a count of holds, or an account's bytes, one off fails the
 *       Check with the block or uid named.  The two handles close with
 *       drop_step 1, their references dropped one per step: after every
 *       step the Check passes, and the uid's account counts the blocks
 *       the second handle still holds, each once, until the last goes.
 *   holds_change_hands  a read-only handle's retain counts for its uid
 *       as a writer's, once; the block's first holder lets go and the
 *       reader's hold takes its place (hold_promote), the uid still
 *       charged the block once; of three holders of two uids, the first
 *       lets go, then the other uid's, the table's entries for the block
 *       going with its second holder.  A block moved in steps counts its
 *       growth once from the move's start, and a zeroed one being zeroed
 *       in steps, neither of which another handle may retain meanwhile;
 *       blocks of one holder make no table of holds.  The Check passes
 *       after each step.
 *   closing_counted_once  a handle closed with drop_step 1, dropping its
 *       three references a step at a time: its uid's count of closing
 *       handles one off either way, the pool's, or the handle counted on
 *       an account that is not the pool's, fails the Check with the uid
 *       or the handle's references named; each put back, it passes after
 *       every step.  Once the last reference is dropped, a count of one
 *       closing handle on the uid's account (kept by its open handle)
 *       fails it too.
 *   refused_retain_leaves_no_table  a child of the test's, under
 *       fail_malloc.so (tests/integration/fail_malloc.c) failing every
 *       private anonymous mapping, with every holder's record of the
 *       chunks mapped taken: a second handle's retain of a block of one
 *       holder needs a new chunk for its record and is refused -ENOMEM,
 *       and the pool is left with no table of holds (a table made for
 *       the refused hold stayed, empty, while the room came first); the
 *       Check passes, and with the records back the retain is counted.
 *       Skipped under AddressSanitizer, whose mappings come first.
 *   closing_of_each_pool_apart  handles of two pools closed in steps,
 *       the other pool's first in the queue: each pool's Check counts its
 *       own closed handle alone (one more on p's books fails p's), and p's
 *       passes after each step once the other pool is destroyed with its
 *       handle still queued.
 *   no_references_nothing_queued  a handle closed holding nothing, in a
 *       turn whose closes dropped more references than a drop step a
 *       reload lowered meanwhile, is let go of at once: nothing queued,
 *       the pool settled and the Check passing (queued, it counted as
 *       closing on no uid's account).
 *   growth_charges_other_uids  under a user quota of 256 KiB, a block
 *       of 128 KiB that another uid holds too, beside 128 KiB of its
 *       own: grown in place to 192 KiB through the fixture's handle,
 *       whose uid it fits, it takes the other uid to 320 KiB, past its
 *       quota, which only the asking uid's check could have refused
 *       (docs/protocol.md says so).  The Check passes; the other uid's
 *       next allocation is refused until it lets go of the block.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon_fixture.h"
#include "fail_malloc_beside.h"
#include "pool.h"
#include "pool_internal.h"
#include "pool_names.h"
#include "records.h"
#include "session.h"

/* The Check passes, failing the test with its problem if not. */
static void
check_ok(struct dpool *p)
{
	char problem[256];

	if (dpool_check(p, problem, sizeof(problem)) != 0)
		fail_msg("%s", problem);
}

/*
 * The Check with block b marked evictable: it fails, and its problem has
 * want in it.  The mark is taken off before anything is asserted: a
 * failed test's teardown drops b's hold, which must find the books whole.
 */
static void
check_fails_marked(struct dpool *p, struct block *b, const char *want)
{
	char problem[256];
	int rc;

	b->evictable = 1;
	rc = dpool_check(p, problem, sizeof(problem));
	b->evictable = 0;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
}

/*
 * The Check with *count one more than it should be: it fails, and its
 * problem has want in it.  The count is put back before anything is
 * asserted, as in check_fails_marked.
 */
static void
check_fails_counted(struct dpool *p, uint32_t *count, const char *want)
{
	char problem[256];
	int rc;

	(*count)++;
	rc = dpool_check(p, problem, sizeof(problem));
	(*count)--;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
}

static void
unnamed_evictable_block(void **state)
{
	struct daemon_fixture *fx = *state;
	struct block *a, *b;
	char where[32];

	/* Two blocks, so that the one marked is not at 0 ("0" is anywhere). */
	assert_int_equal(dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &a), 0);
	assert_int_equal(dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &b), 0);
	assert_int_not_equal(b->off, 0);
	check_ok(fx->p);
	snprintf(where, sizeof(where), "0x%llx", (unsigned long long)b->off);
	check_fails_marked(fx->p, b, where);
	check_fails_marked(fx->p, b, "evictable");
	check_ok(fx->p);
	assert_int_equal(dpool_free(fx->p, fx->h, b->off), 0);
	assert_int_equal(dpool_free(fx->p, fx->h, a->off), 0);
}

static void
kept_name_on_evictable_block(void **state)
{
	struct daemon_fixture *fx = *state;
	struct block *b;
	uint64_t off;

	assert_int_equal(dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &b), 0);
	off = b->off;
	assert_int_equal(dpool_publish(fx->p, fx->h, off, "kept", 4, false,
				       false), 0);
	check_ok(fx->p);
	check_fails_marked(fx->p, b, "kept");
	check_ok(fx->p);
	assert_int_equal(dpool_free(fx->p, fx->h, off), 0);
	assert_int_equal(dpool_unpublish(fx->p, "kept", 4), 0);
	check_ok(fx->p);
}

static void
counts_of_one_in_the_singular(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	char problem[256], want[64];
	struct block *b;
	uint64_t off;
	int rc;

	assert_int_equal(dpool_alloc(p, fx->h, 4096, 0, false, 0, &b), 0);
	off = b->off;
	assert_int_equal(dpool_publish(p, fx->h, off, "one", 3, false, true),
			 0);
	check_ok(p);
	/* Names are counted after the eviction's books are checked. */
	check_fails_counted(p, &p->evict.count, "pool p: 1 evictable name, "
			    "1 in the tree");
	check_fails_counted(p, &p->names.count, "pool p: 1 name, 1 named "
			    "block, the books say 2 names");

	/* Persistent (named), the block is shared, if by one holder. */
	assert_int_equal(b->nrefs, 1);
	assert_int_equal(b->shared, 1);
	b->shared = 0;
	rc = dpool_check(p, problem, sizeof(problem));
	b->shared = 1;
	assert_int_equal(rc, -EFAULT);
	snprintf(want, sizeof(want), "block 0x%llx of 1 holder, persistent: "
		 "its share bit is clear", (unsigned long long)off);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
	check_ok(p);

	assert_int_equal(dpool_free(p, fx->h, off), 0);
	assert_int_equal(dpool_unpublish(p, "one", 3), 0);
	check_ok(p);
}

/*
 * Two evictable names of the fixture's uid, nobody holding their blocks:
 * on the uid's list too, oldest first.  Faults planted in it are named
 * by the Check; the uid's eviction takes its oldest, then the rest, and
 * the books stay whole as its charge goes with its last block.
 */
static void
uid_books_checked(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uid_t uid = fx->s->uid, other = uid + 1;
	struct evict_link *l1, *l2;
	struct persist_charge *c;
	struct block *a, *b;
	char problem[256], want[64];
	int rc;

	assert_int_equal(dpool_alloc(p, fx->h, 4096, 0, false, 0, &a), 0);
	assert_int_equal(dpool_alloc(p, fx->h, 8192, 0, false, 0, &b), 0);
	assert_int_equal(dpool_publish(p, fx->h, a->off, "one", 3, false,
				       true), 0);
	assert_int_equal(dpool_publish(p, fx->h, b->off, "two", 3, false,
				       true), 0);
	assert_int_equal(dpool_free(p, fx->h, a->off), 0);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	check_ok(p);
	assert_non_null(c = dpool_charge(p, uid));
	assert_int_equal(c->evict.unheld, 2);
	assert_int_equal(c->evict.unheld_bytes, a->size + b->size);
	l1 = c->evict.oldest;
	l2 = c->evict.newest;
	assert_ptr_equal(l1->name->block, a);
	assert_ptr_equal(l2->name->block, b);

	/* Its bytes one off. */
	c->evict.unheld_bytes++;
	rc = dpool_check(p, problem, sizeof(problem));
	c->evict.unheld_bytes--;
	assert_int_equal(rc, -EFAULT);
	snprintf(want, sizeof(want), "uid %u has 2 unheld evictable names",
		 (unsigned)uid);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);

	/* Its order other than the pool's. */
	c->evict.oldest = l2;
	c->evict.newest = l1;
	l2->uid_prev = NULL;
	l2->uid_next = l1;
	l1->uid_prev = l2;
	l1->uid_next = NULL;
	rc = dpool_check(p, problem, sizeof(problem));
	c->evict.oldest = l1;
	c->evict.newest = l2;
	l1->uid_prev = NULL;
	l1->uid_next = l2;
	l2->uid_prev = l1;
	l2->uid_next = NULL;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, "not next on its uid's list"))
		fail_msg("no order fault in: %s", problem);
	check_ok(p);

	/* Only the uid's own bytes count, and only while they suffice. */
	assert_true(dpool_evict_user_may_fit(p, uid, a->size + b->size));
	assert_false(dpool_evict_user_may_fit(p, uid, a->size + b->size + 1));
	assert_false(dpool_evict_user_may_fit(p, other, 1));
	assert_int_equal(dpool_evict_user(p, other, 1), 0);
	/* Its oldest first, no more than asked. */
	assert_int_equal(dpool_evict_user(p, uid, 1), 1);
	assert_null(block_names_find(&p->names, "one", 3));
	assert_non_null(block_names_find(&p->names, "two", 3));
	assert_int_equal(p->evict.evictions, 1);
	check_ok(p);
	/* The last: its charge goes with it, looked up again each name. */
	assert_int_equal(dpool_evict_user(p, uid, UINT64_MAX), 1);
	assert_null(dpool_charge(p, uid));
	assert_int_equal(p->evict.count, 0);
	check_ok(p);
}

static void
no_queue_call(void)
{
}

/* The bytes of the blocks h still holds. */
static uint64_t
held_by(struct handle *h)
{
	struct hold *hd;
	uint64_t n = 0;

	LIST_FOREACH(hd, &h->refs, by_handle)
		n += hold_block(hd)->size;
	return n;
}

/* The Check fails, with want in its problem. */
static void
check_fails(struct dpool *p, const char *want)
{
	char problem[256];

	assert_int_equal(dpool_check(p, problem, sizeof(problem)), -EFAULT);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
}

#define SHARED 4

static void
shared_blocks_once_per_uid(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uid_t uid = fx->s->uid, other = uid + 1;
	struct handle *h2, *h3;
	struct session *s2;
	struct block *b[SHARED];
	uint64_t total = 0, age;
	char want[96];
	uid_t persister;
	int sv[2], i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_non_null(s2 = session_new(sv[0]));
	s2->uid = other;	/* before its first handle */
	assert_non_null(h2 = session_open(fx->s, p, false));
	assert_non_null(h3 = session_open(s2, p, false));
	for (i = 0; i < SHARED; i++) {
		assert_int_equal(dpool_alloc(p, fx->h, 4096 << i, 0, false, 0,
					     &b[i]), 0);
		assert_int_equal(dpool_retain(p, h2, b[i]->off, 0), 0);
		total += b[i]->size;
	}
	assert_int_equal(dpool_retain(p, h3, b[0]->off, 0), 0);
	assert_int_equal(session_user_bytes(p, uid), total);
	assert_int_equal(session_user_bytes(p, other), b[0]->size);
	/* Each handle pays for each block under the quota per connection. */
	assert_int_equal(session_pool_bytes(fx->s, p), 2 * total);
	check_ok(p);

	/* A count of holds, an account's bytes, one off. */
	snprintf(want, sizeof(want), "block 0x%llx of 3 holders: uid %u "
		 "holds it 2 times, counted 3",
		 (unsigned long long)b[0]->off, (unsigned)uid);
	(void)uid_holds_reserve(&p->uid_holds, 1);
	(void)uid_holds_add(&p->uid_holds, b[0], (uint32_t)uid);
	check_fails(p, want);
	(void)uid_holds_sub(&p->uid_holds, b[0], (uint32_t)uid);
	check_ok(p);
	fx->h->user->bytes++;
	snprintf(want, sizeof(want), "uid %u holds %llu bytes (each block "
		 "once), its account says %llu", (unsigned)uid,
		 (unsigned long long)total, (unsigned long long)total + 1);
	check_fails(p, want);
	fx->h->user->bytes--;
	check_ok(p);

	/* Persistent, the block is its persister's alone; then no more. */
	assert_int_equal(dpool_persist(p, h3, b[0]->off, 0), 0);
	assert_int_equal(session_user_bytes(p, uid), total - b[0]->size);
	assert_int_equal(session_user_bytes(p, other), 0);
	assert_int_equal(dpool_persisted_by(p, other), b[0]->size);
	check_ok(p);
	assert_int_equal(dpool_free_persisted(p, b[0]->off, 0, &age,
					      &persister), 0);
	assert_int_equal(persister, other);
	assert_int_equal(session_user_bytes(p, uid), total);
	assert_int_equal(session_user_bytes(p, other), b[0]->size);
	check_ok(p);

	/* Closed in steps: the blocks count until their last holder goes. */
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT, 1, no_queue_call);
	session_close(fx->s, fx->h);
	fx->h = NULL;
	assert_true(dpool_unsettled(p));
	session_close(fx->s, h2);
	/* h2 goes once the last handle dropping references is done. */
	while (p->closing) {
		check_ok(p);
		assert_int_equal(session_user_bytes(p, uid), held_by(h2));
		assert_int_equal(session_user_bytes(p, other), b[0]->size);
		(void)dpool_release_step();
	}
	while (dpool_release_step())
		;
	check_ok(p);
	assert_int_equal(session_user_bytes(p, uid), 0);
	assert_int_equal(session_user_bytes(p, other), b[0]->size);
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	session_free(s2);
	close(sv[1]);
	check_ok(p);
	assert_int_equal(block_index_count(&p->blocks), 0);
}

/* uid's holds on b as the pool's table counts them. */
static uint32_t
counted(struct dpool *p, struct block *b, uid_t uid)
{
	return uid_holds_count(&p->uid_holds, b, (uint32_t)uid);
}

static void
holds_change_hands(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uid_t uid = fx->s->uid, other = uid + 1;
	struct handle *ro, *h3;
	struct block *a, *b, *m, *next, *z, *out;
	uint64_t dst, size;
	struct session *s2;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_non_null(s2 = session_new(sv[0]));
	s2->uid = other;
	assert_non_null(ro = session_open(fx->s, p, true));
	assert_non_null(h3 = session_open(s2, p, false));

	/* A reader's hold is its uid's as a writer's is: once. */
	assert_int_equal(dpool_alloc(p, fx->h, 4096, 0, false, 0, &a), 0);
	assert_int_equal(dpool_retain(p, ro, a->off, 0), 0);
	assert_int_equal(counted(p, a, uid), 2);
	assert_int_equal(session_user_bytes(p, uid), a->size);
	check_ok(p);
	/* Its first holder lets go: the reader's hold takes its place. */
	assert_int_equal(dpool_free(p, fx->h, a->off), 0);
	assert_int_equal(a->nrefs, 1);
	assert_ptr_equal(hold_handle(&a->first), ro);
	assert_int_equal(p->uid_holds.count, 0);
	assert_int_equal(session_user_bytes(p, uid), a->size);
	check_ok(p);
	assert_int_equal(dpool_free(p, ro, a->off), 0);
	assert_int_equal(session_user_bytes(p, uid), 0);
	check_ok(p);

	/* Three holders of two uids: the first goes, then the other uid. */
	assert_int_equal(dpool_alloc(p, fx->h, 8192, 0, false, 0, &b), 0);
	assert_int_equal(dpool_retain(p, ro, b->off, 0), 0);
	assert_int_equal(dpool_retain(p, h3, b->off, 0), 0);
	assert_int_equal(counted(p, b, uid), 2);
	assert_int_equal(counted(p, b, other), 1);
	check_ok(p);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	assert_int_equal(counted(p, b, uid), 1);
	assert_int_equal(counted(p, b, other), 1);
	assert_int_equal(session_user_bytes(p, uid), b->size);
	assert_int_equal(session_user_bytes(p, other), b->size);
	check_ok(p);
	assert_int_equal(dpool_free(p, h3, b->off), 0);
	assert_int_equal(p->uid_holds.count, 0);
	assert_int_equal(session_user_bytes(p, uid), b->size);
	assert_int_equal(session_user_bytes(p, other), 0);
	check_ok(p);
	assert_int_equal(dpool_free(p, ro, b->off), 0);

	/*
	 * A move in steps (release_step 4096): its growth counts from its
	 * start, once, and nobody may retain the block meanwhile.
	 */
	dpool_release_setup(4096, DPOOL_DROP_STEP_DEFAULT, no_queue_call);
	assert_int_equal(dpool_alloc(p, fx->h, 65536, 0, false, 0, &m), 0);
	assert_int_equal(dpool_alloc(p, fx->h, 65536, 0, false, 0, &next),
			 0);
	size = m->size + next->size;
	assert_int_equal(dpool_realloc(p, fx->h, m->off, 2 * 65536, 0, false,
				       &out, &dst), DPOOL_IN_STEPS);
	assert_ptr_equal(out, m);
	assert_int_not_equal(fx->h->moving, 0);
	assert_int_equal(session_user_bytes(p, uid), size + fx->h->moving);
	assert_int_equal(dpool_retain(p, h3, m->off, 0), -EBUSY);
	assert_int_equal(dpool_retain(p, ro, m->off, 0), -EBUSY);
	check_ok(p);
	while (dpool_release_step())
		check_ok(p);
	assert_int_equal(m->off, dst);
	assert_int_equal(fx->h->moving, 0);
	assert_int_equal(session_user_bytes(p, uid), m->size + next->size);
	/* Blocks of one holder each: no table of holds was made for them. */
	assert_null(p->uid_holds.slot);
	check_ok(p);
	assert_int_equal(dpool_free(p, fx->h, m->off), 0);
	assert_int_equal(dpool_free(p, fx->h, next->off), 0);
	/* A calloc zeroed in steps: held from the start, by its one holder. */
	assert_int_equal(dpool_alloc(p, fx->h, 65536, 0, true, 0, &z),
			 DPOOL_IN_STEPS);
	assert_int_equal(session_user_bytes(p, uid), z->size);
	assert_int_equal(dpool_retain(p, h3, z->off, 0), -EBUSY);
	check_ok(p);
	while (dpool_release_step())
		check_ok(p);
	assert_int_equal(dpool_retain(p, h3, z->off, 0), 0);
	assert_int_equal(session_user_bytes(p, other), z->size);
	check_ok(p);
	assert_int_equal(dpool_free(p, h3, z->off), 0);
	assert_int_equal(dpool_free(p, fx->h, z->off), 0);
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	assert_int_equal(session_user_bytes(p, uid), 0);
	assert_int_equal(session_user_bytes(p, other), 0);
	check_ok(p);
	session_free(s2);
	close(sv[1]);
	assert_int_equal(block_index_count(&p->blocks), 0);
}

/*
 * The Check with *count changed by d: it fails, and its problem has want
 * in it; the count is put back first, as in check_fails_counted.
 */
static void
check_fails_off(struct dpool *p, uint32_t *count, int d, const char *want)
{
	char problem[256];
	int rc;

	*count += (uint32_t)d;
	rc = dpool_check(p, problem, sizeof(problem));
	*count -= (uint32_t)d;
	assert_int_equal(rc, -EFAULT);
	if (!strstr(problem, want))
		fail_msg("no \"%s\" in: %s", want, problem);
}

static void
closing_counted_once(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uid_t uid = fx->s->uid;
	struct user_account *u, stray;
	struct handle *h2;
	struct block *b;
	char want[128];
	int i;

	assert_non_null(h2 = session_open(fx->s, p, false));
	for (i = 0; i < 3; i++)
		assert_int_equal(dpool_alloc(p, h2, 4096, 0, false, 0, &b), 0);
	u = h2->user;
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT, 1, no_queue_call);
	session_close(fx->s, h2);
	assert_int_equal(p->closing, 1);
	assert_int_equal(u->nclosing, 1);
	check_ok(p);

	snprintf(want, sizeof(want), "pool p: uid %u has 1 closed handle "
		 "dropping references, its account counts 2", (unsigned)uid);
	check_fails_off(p, &u->nclosing, 1, want);
	snprintf(want, sizeof(want), "pool p: uid %u has 1 closed handle "
		 "dropping references, its account counts 0", (unsigned)uid);
	check_fails_off(p, &u->nclosing, -1, want);
	check_fails_off(p, &p->closing, 1, "pool p: 1 closed handle dropping "
			"references, the books say 2");
	/* Its uid's account, but not the pool's. */
	stray = *u;
	h2->user = &stray;
	check_fails(p, "pool p: a closed handle dropping 3 references counts "
		    "on no uid's account of the pool");
	h2->user = u;
	check_ok(p);

	while (p->closing) {
		check_ok(p);
		(void)dpool_release_step();
	}
	check_ok(p);
	assert_int_equal(u->nclosing, 0);
	/* The fixture's open handle keeps the account, none closing. */
	snprintf(want, sizeof(want), "pool p: uid %u has 0 closed handles "
		 "dropping references, its account counts 1", (unsigned)uid);
	check_fails_off(p, &u->nclosing, 1, want);
	check_ok(p);
	while (dpool_release_step())
		;
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	assert_int_equal(block_index_count(&p->blocks), 0);
	check_ok(p);
}

static void
closing_of_each_pool_apart(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool_params pp = {.size = 1 << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	struct dpool *p = fx->p, *q;
	struct handle *h2, *hq;
	struct block *b;
	int i;

	assert_int_equal(dpool_create("q", &pp, &q), 0);
	assert_non_null(hq = session_open(fx->s, q, false));
	assert_non_null(h2 = session_open(fx->s, p, false));
	for (i = 0; i < 3; i++) {
		assert_int_equal(dpool_alloc(q, hq, 4096, 0, false, 0, &b), 0);
		assert_int_equal(dpool_alloc(p, h2, 4096, 0, false, 0, &b), 0);
	}
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT, 1, no_queue_call);
	session_close(fx->s, hq);
	session_close(fx->s, h2);
	assert_int_equal(q->closing, 1);
	assert_int_equal(p->closing, 1);
	check_ok(p);
	check_ok(q);
	check_fails_off(p, &p->closing, 1, "pool p: 1 closed handle dropping "
			"references, the books say 2");

	(void)dpool_release_step();	/* one of q's three */
	check_ok(p);
	check_ok(q);
	dpool_destroy(q, false);
	while (p->closing) {
		check_ok(p);
		(void)dpool_release_step();
	}
	while (dpool_release_step())
		;
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	check_ok(p);
	assert_int_equal(block_index_count(&p->blocks), 0);
}

static void
no_references_nothing_queued(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	struct handle *h2, *h3;
	char problem[256];
	uint32_t closing;
	struct block *b;
	int i, rc;

	(void)dpool_release_step();	/* a new turn: nothing dropped yet */
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT, 4, no_queue_call);
	assert_non_null(h2 = session_open(fx->s, p, false));
	for (i = 0; i < 3; i++)
		assert_int_equal(dpool_alloc(p, h2, 4096, 0, false, 0, &b), 0);
	session_close(fx->s, h2);	/* 3 of 4: dropped at once */
	assert_int_equal(p->closing, 0);
	/* A reload lowers the step within the same turn. */
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT, 2, no_queue_call);
	assert_non_null(h3 = session_open(fx->s, p, false));
	session_close(fx->s, h3);
	closing = p->closing;
	rc = dpool_check(p, problem, sizeof(problem));
	/* Put back before the verdict, for the tests after this one. */
	while (dpool_release_step())
		;
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	if (closing || rc)
		fail_msg("%u closed handle%s queued; the Check: %s", closing,
			 closing == 1 ? "" : "s", rc ? problem : "passed");
	check_ok(p);
}

static void
growth_charges_other_uids(void **state)
{
	struct daemon_fixture *fx = *state;
	struct dpool *p = fx->p;
	uid_t uid = fx->s->uid, other = uid + 1;
	struct block *mine, *b, *out, *x;
	struct handle *h3;
	struct session *s2;
	uint64_t dst;
	int sv[2];

	p->user_quota = 256 << 10;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_non_null(s2 = session_new(sv[0]));
	s2->uid = other;
	assert_non_null(h3 = session_open(s2, p, false));
	assert_int_equal(dpool_alloc(p, h3, 128 << 10, 0, false, 0, &mine),
			 0);
	assert_int_equal(dpool_alloc(p, fx->h, 128 << 10, 0, false, 0, &b),
			 0);
	assert_int_equal(dpool_retain(p, h3, b->off, 0), 0);
	assert_int_equal(session_user_bytes(p, other), 256 << 10);
	/* At its quota: nothing more of its own. */
	assert_int_equal(dpool_alloc(p, h3, 4096, 0, false, 0, &x), -EDQUOT);
	check_ok(p);

	/* The fixture's uid fits the growth; the other is charged it too. */
	assert_int_equal(dpool_realloc(p, fx->h, b->off, 192 << 10, 0, false,
				       &out, &dst), 0);
	assert_ptr_equal(out, b);
	assert_int_equal(b->size, 192 << 10);
	assert_int_equal(session_user_bytes(p, uid), 192 << 10);
	assert_int_equal(session_user_bytes(p, other), 320 << 10);
	check_ok(p);
	assert_int_equal(dpool_alloc(p, h3, 4096, 0, false, 0, &x), -EDQUOT);

	/* Its own hold of the block let go, it is back under its quota. */
	assert_int_equal(dpool_free(p, h3, b->off), 0);
	assert_int_equal(session_user_bytes(p, other), 128 << 10);
	assert_int_equal(dpool_alloc(p, h3, 4096, 0, false, 0, &x), 0);
	check_ok(p);
	assert_int_equal(dpool_free(p, h3, x->off), 0);
	assert_int_equal(dpool_free(p, h3, mine->off), 0);
	assert_int_equal(dpool_free(p, fx->h, b->off), 0);
	p->user_quota = 0;
	session_free(s2);
	close(sv[1]);
	check_ok(p);
	assert_int_equal(block_index_count(&p->blocks), 0);
}

#define NOMEM_FLAG "--retain-nomem"

/*
 * The child: 0 when the retain was refused and left no table of holds,
 * anything else a failure (said on stderr).
 */
static int
retain_nomem_child(void)
{
	struct records_stats st;
	struct daemon_fixture *fx;
	void *state = NULL, **taken;
	struct handle *h2;
	struct block *b;
	char problem[256];
	size_t n = 0;
	int rc;

	if (daemon_fixture_setup_open(&state))
		return 3;
	fx = state;
	if (!(h2 = session_open(fx->s, fx->p, false)) ||
	    dpool_alloc(fx->p, fx->h, 4096, 0, false, 0, &b))
		return 4;
	/* Every record of the chunks mapped taken: the next maps one. */
	records_stats(&ref_records, &st);
	if (!(taken = calloc(st.capacity - st.live + 1, sizeof(*taken))))
		return 4;
	while (ref_records.live < st.capacity)
		if (!(taken[n++] = records_take(&ref_records)))
			return 4;
	raise(SIGRTMIN + 5);		/* fail_malloc.so: failures on */
	rc = dpool_retain(fx->p, h2, b->off, 0);
	raise(SIGRTMIN + 6);		/* off */
	if (rc != -ENOMEM) {
		fprintf(stderr, "the retain: %d, not -ENOMEM\n", rc);
		return 5;
	}
	if (fx->p->uid_holds.slot || fx->p->uid_holds.bytes) {
		fprintf(stderr, "refused, the retain left a table of holds "
			"of %llu bytes, %llu entries\n",
			(unsigned long long)fx->p->uid_holds.bytes,
			(unsigned long long)fx->p->uid_holds.count);
		return 6;
	}
	if (b->nrefs != 1 || dpool_check(fx->p, problem, sizeof(problem))) {
		fprintf(stderr, "refused, %u holders: %s\n", b->nrefs,
			b->nrefs != 1 ? "" : problem);
		return 7;
	}
	while (n)
		records_give(&ref_records, taken[--n]);
	free(taken);
	if ((rc = dpool_retain(fx->p, h2, b->off, 0)) ||
	    fx->p->uid_holds.count != 1 ||
	    dpool_check(fx->p, problem, sizeof(problem))) {
		fprintf(stderr, "retained again: %d, %llu entries\n", rc,
			(unsigned long long)fx->p->uid_holds.count);
		return 8;
	}
	return 0;
}

static void
refused_retain_leaves_no_table(void **state)
{
#ifdef UNDER_ASAN
	(void)state;
	skip();
#else
	char self[4096], so[4200];
	int status;
	pid_t pid;

	(void)state;
	fail_malloc_beside(self, sizeof(self), so, sizeof(so));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("LD_PRELOAD", so, 1);
		setenv("POOLMGR_FAIL_MALLOC", "every=1,only=mmap", 1);
		execl(self, self, NOMEM_FLAG, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("the child died of signal %d", WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unnamed_evictable_block,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(kept_name_on_evictable_block,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(counts_of_one_in_the_singular,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(uid_books_checked,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(shared_blocks_once_per_uid,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(holds_change_hands,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(closing_counted_once,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test(refused_retain_leaves_no_table),
		cmocka_unit_test_setup_teardown(closing_of_each_pool_apart,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(no_references_nothing_queued,
			daemon_fixture_setup_open, daemon_fixture_teardown),
		cmocka_unit_test_setup_teardown(growth_charges_other_uids,
			daemon_fixture_setup_open, daemon_fixture_teardown),
	};

	if (argc == 2 && strcmp(argv[1], NOMEM_FLAG) == 0)
		return retain_nomem_child();

	return cmocka_run_group_tests(tests, NULL, NULL);
}
