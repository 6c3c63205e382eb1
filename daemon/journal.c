/*
 * journal.c - the crash journal's writer (journal.h, journal_rec.h).
 *
 * The journal is a memfd the daemon maps and appends to; systemd's store
 * holds it, so what was written before a crash is there at the next
 * start.  A record is copied in first and the header's end moved over it
 * after, so a crash between the two leaves a record nobody reads; a
 * change of several records (a pool's settings and its access control
 * list, a batch's persists, a name moved from one block to another:
 * journal_group_begin) moves the end once, over them all, so that a
 * crash between two of them leaves none read rather than half the
 * change.  A batch undone before its end is rewound: the
 * end stays where it was and the next record is written over it.  Once
 * the records are much more than the last snapshot (persists and frees
 * cancel out), they are compacted into a new memfd under a newer name, in
 * steps between requests (compact_step), and the old one leaves the
 * store: recovery takes the newest.  A start's snapshot walks every
 * block of every pool, so the records allowed before the next grow with
 * the blocks walked too: a pool of 10^6 blocks and one persistent one is
 * walked once per 16 MiB of records, not once per MiB.
 *
 * The memfd itself, made, mapped, grown and appended to, and the spill's
 * memory (below) are journal_file.c's; what each record says of a pool,
 * its blocks and names is journal_records.c's (rec_pool_whole: a pool as
 * a snapshot has it).
 *
 * A pool's memfd goes to the store as its keep.<n> (journal_keep.c),
 * under a number of the journals' one series (keep_push).
 *
 * A write that fails takes the journal and every keep.<n> out of the
 * store: a crash then starts fresh, never from a journal that lacks a
 * change, until a fresh journal is in (journal_step).  The journal stays
 * mapped, whole to the record that failed, and that record and every one
 * after it go to a spill in memory instead; the fresh journal is then a
 * compaction of the two, in the same steps, and the keeps go back under
 * their names just before it.  Only when the spill too cannot take a
 * record is everything let go, and the fresh journal is a walk of every
 * pool in one go (begin).
 *
 * A pool's keep.<n> that the store refuses for a passing reason (its
 * socket full, memory or descriptors short) is tried again after waits
 * that double as a fresh journal's do (pushes_retry); until then a crash
 * loses that pool alone.  A destroyed pool's keep.<n> that the store
 * could not be asked to drop is asked again the same way, on waits of
 * its own (journal_names.c), which never hold back a refused pool's
 * try: its journal says the pool is gone, so no recovery takes it, but
 * the store holds the pool's memory as long as it holds the descriptor.
 * So is each keep.<n> of a journal let go of (lose), whose numbers the
 * pools give up, and each of the old image's names (journal_ready):
 * until it is out, it is named for the next image (names_env).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdstore.h"
#include "journal.h"
#include "journal_compact.h"
#include "journal_internal.h"
#include "journal_rec.h"
#include "log.h"
#include "pool.h"

#define COMPACT_SLACK	(1024 * 1024)	/* records beyond twice a snapshot */
#define COMPACT_WALKED	16		/* and bytes per block it walked */
#define STEP_NS		1000000		/* a compaction step's time, about */
#define STEP_CHECK	256		/* records between looks at the clock */
#define STEP_COPY	(1024 * 1024)	/* bytes a step copies */
#define STEP_RETIRE	(8 * 1024 * 1024)	/* bytes of pages it frees */
#define RETRY_MIN_MS	100		/* a fresh journal's second try */
#define RETRY_MAX_MS	60000		/* and the longest wait for one */

static struct jfile cur = {.fd = -1};
static bool on;
static uint64_t next_id = 1;
static uint64_t live_pools;
static uint64_t compact_at;	/* cur.end that calls for a snapshot */
static char *old_names;		/* the executing image's, to take out */
static bool deferred;		/* journal_start left it to journal_ready */
static bool out;		/* cur out of the store, records to spill */
struct jfile journal_spill = {.fd = -1};	/* what cur could not take */
static uint64_t spill_mark;	/* journal_spill.end a compaction feeds to */
/* Tries again (journal_internal.h): a fresh journal's (broken, lost,
 * or none made at the start) and the refused keeps' pushes. */
static struct again rebuilds, pushes;
static uint64_t armed_at;	/* when journal_step runs next; 0: none */
static unsigned grouped;	/* groups open (journal_group_begin) */
static uint64_t group_at;	/* cur.end when the outermost began */
static uint64_t group_id;	/* and cur.id */
static void (*later)(unsigned);	/* journal_step in so many ms */

/* A compaction in steps (compact_step): where it is. */
static enum { C_IDLE, C_FEED, C_WRITE, C_COPY, C_RETIRE } phase;
static struct jfile fresh = {.fd = -1};	/* its journal, not yet stored */
static struct jfile retiring = {.fd = -1};	/* the old one, let go of */
static struct jcompact *live;	/* what src's records to mark leave */
static struct jfile *src;	/* cur, then the spill if out */
static uint64_t mark;		/* src->end when it began */
static uint64_t at;		/* bytes of src it has read */
static unsigned steps;

static void compact_drop(void);
static void broken(int rc);
static uint64_t mono_ns(void);

/*
 * A change's record (f NULL) or a snapshot's (into f).  A change goes to
 * cur while it is stored, read only once the change is whole (published,
 * by done); when cur cannot take it, cur leaves the store (broken) and it
 * and the changes after it go to the spill.
 */
int
journal_append(struct jfile *f, enum jrec_type type, uint64_t *w, unsigned n)
{
	int rc;

	if (f)
		return jfile_append(f, type, w, n);
	if (!out && (rc = jfile_put(&cur, type, w, n)) != 0)
		broken(rc);
	if (out)
		return jfile_append(&journal_spill, type, w, n);
	return 0;
}

/* Every pool kept, whole; when the next is due. */
static int
snapshot(struct jfile *f)
{
	struct dpool *p;
	uint64_t walked = 0;
	int rc;

	live_pools = 0;
	for (p = dpool_first(); p; p = dpool_next(p)) {
		if (!p->keep_id)
			continue;
		if ((rc = rec_pool_whole(f, p, &walked)))
			return rc;
		live_pools++;
	}
	if ((rc = rec_socket(f)))
		return rc;
	compact_at = 2 * f->end + COMPACT_SLACK + COMPACT_WALKED * walked;
	return 0;
}

int
push(const char *prefix, uint64_t id, int fd)
{
	char name[48], *names[1] = {name};

	snprintf(name, sizeof(name), "%s.%llu", prefix,
		 (unsigned long long)id);
	return fdstore_push(1, &fd, names);
}

/*
 * cur taken out of the store: its magic changed first, then the store
 * asked to drop it.  That request can fail (the daemon's memory short,
 * as it often is when a write fails; systemd reading none of our
 * messages), and a journal left in the store that lacks a change would
 * be recovered as if whole: blocks ended since would come back over
 * whatever their pages hold now.  The magic is in pages the journal
 * has, so changing it cannot fail.  A removal that fails is remembered
 * (old_journal_remove): once a fresh journal takes cur's place, nothing
 * else would name it.
 */
static void
withdraw(void)
{
	if (cur.fd >= 0)
		__atomic_store_n(&cur.map[JH_MAGIC], JREC_WITHDRAWN,
				 __ATOMIC_RELEASE);
	old_journal_remove(cur.id);
}

uint64_t
journal_id(void)
{
	return cur.id;
}

int
journal_exec_names(void)
{
	names_env();
	return on && !out && !getenv(ENV_NAMES) ? -ENOMEM : 0;
}

/*
 * journal_step in ms, unless it runs sooner already: a fresh journal's
 * try, a compaction's next step and the keeps' next try share the one
 * timer, and none may put off another.
 */
static void
step_after(unsigned ms)
{
	uint64_t due = mono_ns() + (uint64_t)ms * 1000000;

	if (!later || (armed_at != 0 && armed_at <= due))
		return;
	armed_at = due;
	later(ms);
}

/*
 * The wait before a try that *ms counts for: on the next turn of the
 * loop the first time, then waits that double while tries fail (a limit
 * that stays, memory that stays short), so that the daemon does not
 * spend itself on what cannot be done.  Success sets *ms to 0.
 */
static unsigned
backoff(unsigned *ms)
{
	unsigned now = *ms;

	*ms = *ms == 0 ? RETRY_MIN_MS :
	    *ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : 2 * *ms;
	return now;
}

/* journal_step by when, in mono_ns (now, if past). */
static void
step_by(uint64_t when)
{
	uint64_t now = mono_ns();

	step_after(when > now ? (unsigned)((when - now) / 1000000) + 1 : 0);
}

void
again_later(struct again *a)
{
	unsigned ms = backoff(&a->ms);

	a->due = true;
	a->at = mono_ns() + (uint64_t)ms * 1000000;
	step_after(ms);
}

/* A fresh journal once more, after backoff's wait.  A compaction that
 * goes through ends the waits. */
static void
retry(void)
{
	again_later(&rebuilds);
}

void
again_ask(struct again *a)
{
	if (!a->due)
		again_later(a);
}

bool
again_now(const struct again *a)
{
	if (!a->due)
		return false;
	if (mono_ns() >= a->at)
		return true;
	step_by(a->at);
	return false;
}

/*
 * Nothing kept to build on (the spill cannot take a record, or cur and
 * the pools disagree): the journal and the keeps out of the store if they
 * are still in, and a fresh journal walks the pools (begin).
 */
static void
lose(int rc)
{
	if (!out)
		log_warnx("crash journal: %s; taken out of the fd store, a "
			  "crash loses every pool until a fresh one is in",
			  strerror(-rc));
	else
		log_warnx("crash journal: %s; the changes since it left the "
			  "fd store are let go, the fresh one walks every pool",
			  strerror(-rc));
	compact_drop();
	if (!out)
		withdraw();
	/*
	 * Out of the store already, each keep was asked out when the journal
	 * left (broken), and that request may have failed as any can: asked
	 * again.  A removal that fails is remembered (keep_remove): the
	 * number leaves the pool, and otherwise nothing would name it for
	 * the next image, which numbers its own from the journal's on and
	 * could push a keep.<n> of another pool beside it.
	 */
	keeps_forget();
	jfile_close(&cur);
	jfile_close(&journal_spill);
	on = false;
	out = false;
	names_env();
	retry();
}

/*
 * A write to cur failed: a crash must start fresh rather than miss a
 * change, so the journal and the keeps leave the store.  cur stays, whole
 * to here, and the keeps keep their numbers: the changes from here go to
 * the spill, and a compaction of cur and the spill (journal_step) puts
 * protection back.
 */
static void
broken(int rc)
{
	if (spill_open() != 0) {
		lose(rc);
		return;
	}
	log_warnx("crash journal: %s; taken out of the fd store, a crash "
		  "loses every pool until a fresh one is in", strerror(-rc));
	compact_drop();
	withdraw();
	keeps_out();
	out = true;
	names_env();
	retry();
}

/* A fresh snapshot under a newer name, then the old name out. */
static void
compact(void)
{
	struct jfile f = {.fd = -1};
	int rc;

	if ((rc = jfile_open(&f, next_id++)) == 0 &&
	    (rc = snapshot(&f)) == 0 &&
	    (rc = push("journal", f.id, f.fd)) == 0) {
		old_journal_remove(cur.id);
		jfile_close(&cur);
		cur = f;
		names_env();
		rebuilds.ms = 0;
		return;
	}
	jfile_close(&f);
	lose(rc);
}

/*
 * A compaction in steps, one per turn of the loop (journal_step), so that
 * no request waits for a whole journal: cur's records to mark are fed to
 * live; the snapshot of what they leave is written to fresh; feeding and
 * writing stop once a step has had STEP_NS (page faults and cache misses,
 * not the count of records, are most of it at 10^6 blocks).  Then cur's
 * records past mark, which the changes meanwhile appended, are copied
 * after it, STEP_COPY bytes a step, until fresh has caught up with cur.
 * In that same step fresh is pushed and cur's name removed.  Until then
 * cur is the journal in the store and takes every change as before, and
 * a crash recovers from it; fresh replays to exactly what cur does once
 * it has caught up.  The old journal's pages are given back STEP_RETIRE
 * bytes a step after: freeing 100 MiB of them at once is a pause of its
 * own.
 *
 * Out of the store (broken), the same builds the fresh journal: cur's
 * records are all fed (nothing is appended to it any more), then the
 * spill's to spill_mark; the changes meanwhile go to the spill, and it is
 * the spill past spill_mark that is copied.  Nothing protects the pools
 * until the push, as the log said when cur left the store.
 */
static int
compact_begin(void)
{
	uint64_t bytes = cur.end;
	int rc;

	if (!later) {		/* no loop to step in: at once */
		compact();
		return 0;
	}
	if (out) {
		spill_mark = journal_spill.end;
		bytes += journal_spill.end;
	}
	rc = jfile_open(&fresh, next_id++);
	if (rc == 0 && !(live = jcompact_new(bytes)))
		rc = -ENOMEM;
	if (rc != 0) {
		jfile_close(&fresh);
		if (out)
			return rc;
		log_warnx("crash journal: no compaction (%s)", strerror(-rc));
		compact_at = cur.end + COMPACT_SLACK;
		return 0;
	}
	phase = C_FEED;
	src = &cur;
	mark = cur.end;
	at = JREC_HEADER;
	steps = 0;
	log_debug("crash journal: compacting journal.%llu (%llu bytes%s) "
		  "into journal.%llu", (unsigned long long)cur.id,
		  (unsigned long long)bytes, out ? " with the spill" : "",
		  (unsigned long long)fresh.id);
	step_after(0);
	return 0;
}

/* The compaction given up (cur stays, fresh was never stored) or done. */
static void
compact_drop(void)
{
	if (phase == C_IDLE)
		return;
	phase = C_IDLE;
	jfile_close(&fresh);
	jfile_close(&retiring);
	jcompact_free(live);
	live = NULL;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Has the step begun at t0 had its time?  Looked at every STEP_CHECK. */
static bool
step_over(uint64_t t0, unsigned i)
{
	return i % STEP_CHECK == STEP_CHECK - 1 && mono_ns() - t0 > STEP_NS;
}

static int
feed_step(uint64_t t0)
{
	const uint64_t *w;
	unsigned i, n;
	int rc;

	for (i = 0; at < mark && !step_over(t0, i); i++) {
		w = &src->map[at / 8];
		n = (unsigned)(w[0] >> 32);
		/* The socket's goes after the snapshot (write_step). */
		if ((uint32_t)w[0] != JREC_SOCKET &&
		    (rc = jcompact_feed(live, w, n - 1)) != 0)
			return rc;
		at += 8ull * n;
	}
	if (at == mark && out && src == &cur) {
		src = &journal_spill;
		at = JREC_HEADER;
		mark = spill_mark;
	} else if (at == mark)
		phase = C_WRITE;
	return 0;
}

static int
write_step(uint64_t t0)
{
	uint64_t w[JREC_MAX_WORDS];
	unsigned i, n;
	int type, rc;

	for (i = 0; !step_over(t0, i); i++) {
		if (!(type = jcompact_next(live, w, &n))) {
			phase = C_COPY;
			return rec_socket(&fresh);
		}
		if ((rc = jfile_append(&fresh, (enum jrec_type)type, w, n)))
			return rc;
	}
	return 0;
}

/* Caught up: fresh in the store, cur's name out. */
static int
copy_step(void)
{
	uint64_t len = src->end - at;
	int rc;

	if (len > STEP_COPY)
		len = STEP_COPY;
	if (fresh.end + len > fresh.cap &&
	    (rc = jfile_grow(&fresh, fresh.end + len)))
		return rc;
	memcpy((char *)fresh.map + fresh.end, (char *)src->map + at, len);
	fresh.end += len;
	at += len;
	if (at < src->end)
		return 0;
	__atomic_store_n(&fresh.map[JH_END], fresh.end, __ATOMIC_RELEASE);
	if (out && (rc = keeps_back()) != 0)
		return rc;
	if ((rc = push("journal", fresh.id, fresh.fd)) != 0) {
		if (out)
			keeps_out();
		return rc;
	}
	log_debug("crash journal: journal.%llu compacted into journal.%llu, "
		  "%llu bytes to %llu, in %u step%s",
		  (unsigned long long)cur.id, (unsigned long long)fresh.id,
		  (unsigned long long)cur.end, (unsigned long long)fresh.end,
		  steps, log_plural(steps));
	if (out) {
		log_info("crash journal: journal.%llu in the fd store, a "
			 "crash keeps every pool again",
			 (unsigned long long)fresh.id);
		jfile_close(&journal_spill);
		out = false;
	} else
		old_journal_remove(cur.id);
	retiring = cur;
	cur = fresh;
	fresh.fd = -1;
	jcompact_free(live);
	live = NULL;
	phase = C_RETIRE;
	compact_at = 2 * cur.end + COMPACT_SLACK;
	names_env();
	rebuilds.ms = 0;
	return 0;
}

/* The old journal's pages given back from its end, then it is closed. */
static int
retire_step(void)
{
	size_t len = retiring.cap < STEP_RETIRE ? retiring.cap : STEP_RETIRE;

	munmap((char *)retiring.map + retiring.cap - len, len);
	retiring.cap -= len;
	if (retiring.cap > 0 &&
	    ftruncate(retiring.fd, (off_t)retiring.cap) == 0)
		return 0;
	if (retiring.cap == 0) {
		close(retiring.fd);
		retiring.fd = -1;
	}
	jfile_close(&retiring);		/* unmaps what is left */
	phase = C_IDLE;
	return 0;
}

static void
compact_step(void)
{
	uint64_t t0 = mono_ns();
	int rc;

	steps++;
	if (phase == C_FEED)
		rc = feed_step(t0);
	else if (phase == C_WRITE)
		rc = write_step(t0);
	else if (phase == C_COPY)
		rc = copy_step();
	else
		rc = retire_step();
	if (rc != 0 && out) {
		/* Nothing stored to keep: the next try later, and then from
		 * the pools if cur and the spill do not compact. */
		compact_drop();
		if (rc == -EINVAL) {
			lose(rc);
			return;
		}
		log_warnx("crash journal: a fresh one failed (%s); next try "
			  "in %u ms", strerror(-rc), rebuilds.ms);
		retry();
	} else if (rc == -EINVAL) {
		/* A record live does not know (or cur is not what journal.c
		 * wrote): the pools are the truth, in one go. */
		log_warnx("crash journal: journal.%llu at %llu cannot be "
			  "compacted in steps; snapshotted at once",
			  (unsigned long long)cur.id, (unsigned long long)at);
		compact_drop();
		compact();
	} else if (rc != 0) {
		/* cur is whole and still stored: only later, and less often. */
		log_warnx("crash journal: compaction into journal.%llu failed "
			  "(%s); journal.%llu kept", (unsigned long long)fresh.id,
			  strerror(-rc), (unsigned long long)cur.id);
		compact_drop();
		compact_at = cur.end + COMPACT_SLACK;
	} else if (phase != C_IDLE)
		step_after(0);
}

/* The change's records in cur are read from now on (stored, not broken). */
static void
published(void)
{
	if (on && !out)
		jfile_publish(&cur);
}

/*
 * The end of every change: its record, and a compaction if one is due.
 * Each hook is called once its change is made, so a snapshot taken here
 * has it already.  Inside a group the change is the group's, whole only
 * at its end (journal_group_end): a compaction begun before would take
 * a snapshot with half of it in.
 */
static void
done(int rc)
{
	if (rc != 0)
		lose(rc);
	else if (on && !out && !grouped) {
		published();
		if (cur.end > compact_at && phase == C_IDLE)
			(void)compact_begin();
	}
}

/* p's keep.<n>, under the next number. */
static int
keep_push(struct dpool *p)
{
	int rc;

	if ((rc = keep_push_as(p, next_id)) == 0)
		p->keep_id = next_id++;
	return rc;
}

/*
 * p's keep.<n>, for a pool new or one whose keep was refused: 0, or why
 * not.  As journal_start asks: room for every keep.<n> and the journal
 * twice.  A compaction pushes its journal before the old one leaves, and
 * a store that is full drops it without telling us; the next image (a
 * restart, a recovery) pushes its own beside ours.
 */
static int
keep_new(struct dpool *p)
{
	if (2 * (live_pools + 2) > fdstore_max())
		return -ENOSPC;
	if (out) {		/* stored with the others (keeps_back) */
		p->keep_id = next_id++;
		return 0;
	}
	return keep_push(p);
}

/* p not kept, for rc: tried again if it may pass. */
static void
keep_refused(struct dpool *p, int rc)
{
	if (!keep_passing(rc)) {
		log_warnx("pool %s: not kept in the fd store (%s): a crash "
			  "loses it", p->name, strerror(-rc));
		return;
	}
	log_warnx("pool %s: not kept in the fd store (%s): a crash loses it "
		  "until a later try keeps it", p->name, strerror(-rc));
	p->keep_due = true;
	again_ask(&pushes);
}

/*
 * The keeps refused for a passing reason, tried again.  A pool kept now
 * has its records as a snapshot would (persistent blocks and names may
 * have come since it was made), read all at once.  A pool that lost its
 * journal meanwhile is kept by the fresh one (begin), with every other.
 */
static void
pushes_retry(void)
{
	struct dpool *p;
	uint64_t walked = 0;
	int rc;

	pushes.due = false;
	for (p = dpool_first(); p; p = dpool_next(p)) {
		if (!p->keep_due)
			continue;
		if (!on || p->keep_id) {
			p->keep_due = false;
			continue;
		}
		if ((rc = keep_new(p)) != 0) {
			if (keep_passing(rc)) {
				pushes.due = true;
				continue;
			}
			p->keep_due = false;
			log_warnx("pool %s: not kept in the fd store (%s): a "
				  "crash loses it", p->name, strerror(-rc));
			continue;
		}
		p->keep_due = false;
		log_info("pool %s: kept in the fd store at last", p->name);
		live_pools++;
		names_env();
		done(rec_pool_whole(NULL, p, &walked));
	}
	if (pushes.due)
		again_later(&pushes);
	else
		pushes.ms = 0;
}

/* A keep.<n> for every pool, then a journal of them all: 0 or why not. */
static int
begin(void)
{
	struct dpool *p;
	int rc = 0;

	for (p = dpool_first(); p && rc == 0; p = dpool_next(p))
		rc = keep_push(p);
	if (rc == 0 && (rc = jfile_open(&cur, next_id++)) == 0 &&
	    (rc = snapshot(&cur)) == 0)
		rc = push("journal", cur.id, cur.fd);
	if (rc == 0) {
		on = true;
		names_env();
		return 0;
	}
	/* Their numbers are above the journal's: remembered as lose's. */
	keeps_forget();
	jfile_close(&cur);
	return rc;
}

/*
 * The start's journal, or the waits of a failed write's (retry) until
 * one is in: memory short or RLIMIT_FSIZE at the start may not last, and
 * a daemon that gave up here would run unprotected to its end.
 */
static void
begin_or_warn(void)
{
	int rc = begin();

	if (rc == 0)
		return;
	log_warnx("crash journal: %s; a crash loses every pool until a fresh "
		  "one is in", strerror(-rc));
	retry();
}

void
journal_start(const char *stored)
{
	const char *env = getenv(ENV_NAMES);
	uint64_t a = max_id(stored), b;
	unsigned held;

	if (env && !names_ours(env)) {
		log_warnx("crash journal: " ENV_NAMES " in the environment "
			  "is no list of an image of ours: ignored");
		env = NULL;
	}
	if (env && !(old_names = strdup(env)))
		fatalx("crash journal: out of memory for the names passed "
		       "in the environment");
	b = max_id(old_names);
	unsetenv(ENV_NAMES);
	/* Room for every keep.<n> and the journal twice: the old image's
	 * leave the store only once this one is ready. */
	if (fdstore_max() < 2 * (dpool_count() + 1)) {
		if (fdstore_max() > 0)
			log_warnx("crash journal: the fd store takes %u, too "
				  "few for %u pool%s: a crash loses every "
				  "pool", fdstore_max(), dpool_count(),
				  log_plural(dpool_count()));
		return;
	}
	next_id = (a > b ? a : b) + 1;
	/*
	 * Beside what the store holds now, which leaves once this image is
	 * ready: a planned stop's descriptors may fill it, and systemd drops
	 * a push to a full store without telling us.  Then the new names go
	 * in just after the old ones leave (journal_ready).  After an exec
	 * the store holds the old image's journal names only (stored names
	 * what the exec passed).
	 */
	held = old_names ? names_count(old_names) : names_count(stored);
	if (held + dpool_count() + 1 > fdstore_max()) {
		deferred = true;
		return;
	}
	begin_or_warn();
}

void
journal_ready(void)
{
	if (old_names)
		old_names_out(old_names);
	free(old_names);
	old_names = NULL;
	if (deferred) {
		deferred = false;
		begin_or_warn();
	}
}

void
journal_setup(void (*step_in)(unsigned ms))
{
	later = step_in;
}

void
journal_step(void)
{
	int rc;

	armed_at = 0;		/* the timer has run */
	names_step();
	if (again_now(&pushes))
		pushes_retry();
	if (phase != C_IDLE) {
		compact_step();
		return;
	}
	if (!again_now(&rebuilds))	/* none, or not yet */
		return;
	rebuilds.due = false;
	/* The room journal_start asks for; pools made meanwhile count. */
	if (2 * (dpool_count() + 1) > fdstore_max())
		rc = -ENOSPC;
	else if (out && (rc = compact_begin()) == 0)
		return;		/* in steps; compact_step says how it ends */
	else if (!out)
		rc = begin();
	if (rc == 0) {
		log_info("crash journal: journal.%llu in the fd store, a "
			 "crash keeps every pool again",
			 (unsigned long long)cur.id);
		return;
	}
	log_warnx("crash journal: a fresh one failed (%s); next try in "
		  "%u ms", strerror(-rc), rebuilds.ms);
	retry();
}

unsigned
journal_slots(void)
{
	return on && !out ? (unsigned)live_pools + 1 : 0;
}

void
journal_stop(bool forget)
{
	rebuilds = pushes = (struct again){0};
	later = NULL;
	compact_drop();
	jfile_close(&journal_spill);
	if (on && !out) {
		on = false;
		if (forget) {
			withdraw();
			keeps_out();
		}
	}
	names_stop(forget);	/* after withdraw, which may add to them */
}

void
journal_pool_made(struct dpool *p)
{
	int rc;

	if (!on)
		return;
	if ((rc = keep_new(p)) != 0) {
		keep_refused(p, rc);
		return;
	}
	live_pools++;
	names_env();
	if ((rc = rec_pool(NULL, p)) == 0 &&
	    (rc = rec_bounds(NULL, p, false)) == 0 &&
	    (rc = rec_acl(NULL, p, false)) == 0)
		rc = rec_user_quotas(NULL, p, false);
	done(rc);
}

void
journal_pool_set(const struct dpool *p, bool bounds_changed,
		 bool acl_changed, bool uquotas_changed)
{
	uint64_t w[8] = {0, p->keep_id, p->uid, p->gid, p->mode, p->quota,
			 p->retain};

	int rc;

	if (!on || !p->keep_id)
		return;
	if ((rc = journal_append(NULL, JREC_SET, w, 7)) == 0 && bounds_changed)
		rc = rec_bounds(NULL, p, true);
	if (rc == 0 && acl_changed)
		rc = rec_acl(NULL, p, true);
	if (rc == 0 && uquotas_changed)
		rc = rec_user_quotas(NULL, p, true);
	done(rc);
}

void
journal_pool_gone(struct dpool *p)
{
	uint64_t w[3] = {0, p->keep_id};
	int rc;

	if (!on || !p->keep_id)
		return;
	live_pools--;
	/*
	 * Its memfd leaves the store only once the journal says so.  Out of
	 * the store, its keep was asked out when the journal left (broken),
	 * and that request may have failed: asked again, and remembered if
	 * it fails, since the number leaves the pool here and nothing else
	 * would name it for the next image.
	 */
	if ((rc = journal_append(NULL, JREC_GONE, w, 2)) == 0) {
		published();
		keep_remove(p->keep_id);
		p->keep_id = 0;		/* no snapshot has it now */
		names_env();
	}
	done(rc);
}

void
journal_group_begin(void)
{
	if (grouped++ == 0) {
		group_at = cur.end;
		group_id = cur.id;
	}
}

/*
 * Out of the store (broken, even within the group), the records went on
 * to the spill as they came, and a compaction reads them all in order:
 * an undone group's cancel out there, a kept one's are whole, with
 * nothing to move.  Lost (lose), there is no journal to end.  A group
 * inside another is part of the outer one's change: only the outermost
 * moves the end, or rewinds it (an inner one undone has cancelled its
 * records with records of their own, which the outer change takes).
 */
void
journal_group_end(bool keep)
{
	assert(grouped > 0);
	if (--grouped > 0 || !on || out)
		return;
	if (keep)
		done(0);
	else if (cur.id == group_id)
		cur.end = group_at;	/* never read: written over next */
}

bool
journal_grouped(void)
{
	return grouped > 0;
}

void
journal_persist(const struct dpool *p, const struct block *b)
{
	if (on && p->keep_id)
		done(rec_block(NULL, JREC_PERSIST, p, b));
}

void
journal_resize(const struct dpool *p, const struct block *b)
{
	if (on && p->keep_id)
		done(rec_block(NULL, JREC_RESIZE, p, b));
}

void
journal_unpersist(const struct dpool *p, const struct block *b)
{
	uint64_t w[4] = {0, p->keep_id, b->off};

	if (on && p->keep_id)
		done(journal_append(NULL, JREC_UNPERSIST, w, 3));
}

void
journal_name(const struct dpool *p, const struct block_name *n)
{
	if (on && p->keep_id)
		done(rec_name(NULL, p, n));
}

void
journal_generation(const struct dpool *p, const struct block_name *n)
{
	if (on && p->keep_id)
		done(rec_generation(NULL, p, n));
}

void
journal_unname(const struct dpool *p, const struct block *b)
{
	uint64_t w[4] = {0, p->keep_id, b->off};

	if (on && p->keep_id)
		done(journal_append(NULL, JREC_UNNAME, w, 3));
}
