/*
 * dispatch_upkeep.c - the work a writer may ask for on a whole pool:
 * trim (its free pages given back to the kernel, in steps) and check (its
 * books walked, every block of them, paced per uid).  Write permission
 * for both: each is the daemon's time, not a read of the pool.
 *
 * Both first wait for the pool to settle (wait_settled): work its clients
 * let go of may still be queued (pool_release.c), and neither the trim's
 * count nor the check should see it half done.
 */
#include <errno.h>
#include <stdlib.h>

#include "dispatch.h"
#include "dispatch_internal.h"
#include "log.h"
#include "pool.h"
#include "session.h"

/*
 * Settled first (stage 0), then trimmed in steps while the client waits
 * (stage 1), to the end: nothing is left to do at once in the reply's
 * turn.  The reply counts what trims of the pool gave back meanwhile
 * (this one, and any it joined), not the releases of others' frees.
 */
int
do_trim(struct call *c, const Poolmgr__Trim *m)
{
	static Poolmgr__TrimReply tr;
	struct dpool *p;
	uint64_t now;
	int rc;

	if (!(p = get_pool(c, m->pool, true, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if (c->stage == 0) {
		c->stage = 1;
		c->note = p->trimmed_bytes;
		if (dpool_trim_begin(p))
			return HELD;
	} else if (p->trimming) {
		return HELD;
	}
	now = p->trimmed_bytes;
	poolmgr__trim_reply__init(&tr);
	/* (A pool destroyed and made again meanwhile starts from 0.) */
	tr.released_bytes = now > c->note ? now - c->note : 0;
	c->rep->body_case = POOLMGR__REPLY__BODY_TRIM;
	c->rep->trim = &tr;
	return 0;
}

/*
 * The checks that are not an admin's, of pools whose check is costly,
 * take at most a tenth of the daemon's time per uid: each walks every
 * block on its only thread (0.6 s for a million), and a writer sent 64 in
 * one read batch, served one after another while nobody else was (34 s),
 * as often as it liked.  So such a check within nine times the length of
 * its uid's last costly one after its end is refused (-EAGAIN), or of an
 * earlier one whose window ends later (check_done: a check that ran as
 * cheap and was found costly shortens no window).  Costly:
 * CHECK_FREE_BLOCKS blocks or more, or a last check of the pool that took
 * CHECK_FREE_NS or more (a check's cost grows with the blocks' sizes too:
 * 4000 blocks of 1 GiB took 20 ms).  A cheap pool's check is never
 * refused.
 *
 * The window is each uid's: one shared by all let one writer's checks
 * keep every other user's refused.  So n uids' checks may take n tenths
 * of the daemon's time together.  A window is kept only while it is open
 * (check_windows_prune, at the next costly check), one per uid, also
 * after the uid's connections close, or closing one would let it check
 * again at once.  However many uids check, few are open at once: the
 * checks run one after another, so an open window's check took more than
 * a ninth of all those that ended after it; of checks of one length, at
 * most nine windows are open, and some 200 if they range from 10 us to
 * an hour.  A window there is no memory for is kept in checks_free_at,
 * which every uid's checks wait out, as all did once.
 */
#define CHECK_FREE_BLOCKS 4096
#define CHECK_FREE_NS	  1000000u

struct check_window {
	LIST_ENTRY(check_window) entry;
	uid_t uid;
	uint64_t free_at;	/* dispatch_now_ns */
};

static LIST_HEAD(, check_window) check_windows =
    LIST_HEAD_INITIALIZER(check_windows);
static uint64_t checks_free_at;	/* the windows without memory of their own */

static bool
check_costly(const struct dpool *p)
{
	return block_index_count(&p->blocks) >= CHECK_FREE_BLOCKS ||
	       p->check_ns >= CHECK_FREE_NS;
}

/* Drop the windows closed by now; uid's open one, if it has one. */
static struct check_window *
check_windows_prune(uid_t uid, uint64_t now)
{
	struct check_window *w, *next, *found = NULL;

	for (w = LIST_FIRST(&check_windows); w; w = next) {
		next = LIST_NEXT(w, entry);
		if (w->free_at <= now) {
			LIST_REMOVE(w, entry);
			free(w);
		} else if (w->uid == uid) {
			found = w;
		}
	}
	return found;
}

static int
check_paced(struct call *c, const struct dpool *p)
{
	uint64_t now = dispatch_now_ns(), free_at = checks_free_at;
	struct check_window *w;

	if (may_admin(c->s) || !check_costly(p))
		return 0;
	if ((w = check_windows_prune(c->s->uid, now)) && w->free_at > free_at)
		free_at = w->free_at;
	if (now >= free_at)
		return 0;
	return refuse(c, -EAGAIN, "pool %s: checks of large pools take at "
		      "most a tenth of the daemon's time per user: again in "
		      "%llu ms", p->name,
		      (unsigned long long)((free_at - now) / 1000000 + 1));
}

static void
check_done(struct call *c, struct dpool *p, uint64_t began)
{
	uint64_t now = dispatch_now_ns(), free_at;
	struct check_window *w;

	p->check_ns = now - began;
	if (may_admin(c->s) || !check_costly(p))
		return;
	free_at = now + 9 * (now - began);
	if (!(w = check_windows_prune(c->s->uid, now)) &&
	    (w = malloc(sizeof(*w)))) {
		w->uid = c->s->uid;
		w->free_at = 0;
		LIST_INSERT_HEAD(&check_windows, w, entry);
	}
	/*
	 * The later end: a check that ran as cheap (under CHECK_FREE_BLOCKS,
	 * its last one quick) and was found costly was not paced, and its
	 * uid may have a longer window open.
	 */
	if (w && free_at > w->free_at)
		w->free_at = free_at;
	else if (!w && free_at > checks_free_at)
		checks_free_at = free_at;
}

int
do_check(struct call *c, const Poolmgr__Check *m)
{
	static Poolmgr__CheckReply cr;
	static char problem[256];
	struct dpool *p;
	uint64_t began;
	int rc;

	/*
	 * Write permission, as for Trim: the check walks every block on the
	 * daemon's only thread, so it is not for every reader to ask for,
	 * and a writer's is paced (check_paced).
	 */
	if (!(p = get_pool(c, m->pool, true, &rc)))
		return rc;
	if ((rc = wait_settled(c, p)))
		return rc;
	if ((rc = check_paced(c, p)))
		return rc;
	began = dispatch_now_ns();
	if ((rc = heap_check(p->heap, problem, sizeof(problem))) == -ENOMEM) {
		check_done(c, p, began);
		return refuse(c, rc, "out of memory for the check");
	}
	poolmgr__check_reply__init(&cr);
	cr.ok = rc == 0 && dpool_check(p, problem, sizeof(problem)) == 0 &&
		dispatch_wait_check(p, problem, sizeof(problem)) == 0 &&
		dispatch_room_check(p, problem, sizeof(problem)) == 0;
	check_done(c, p, began);
	cr.problem = problem;
	if (!cr.ok)
		log_msg(LOG_PRI_ERR, "pool %s: check failed: %s", p->name,
			problem);
	c->rep->body_case = POOLMGR__REPLY__BODY_CHECK;
	c->rep->check = &cr;
	return 0;
}

