/*
 * journal_internal.h - what the crash journal's files share, and nothing
 * else in the daemon sees: journal.h stays the rest of the daemon's view.
 *
 *   journal.c        the journal: its records, groups, compaction in
 *                    steps, the way back after a write failed, the pools'
 *                    keep.<n> numbered and their refusals tried again,
 *                    and the one timer of every try
 *   journal_keep.c   the pools' memfds in the store as keep.<n>: one
 *                    pushed, all out and back, all let go of
 *   journal_names.c  the names in the store no journal of ours holds any
 *                    more, and those handed to the next image
 *                    (POOLMGRD_JOURNAL)
 *
 * (journal_compact.c, the live set a compaction writes, goes through
 * journal_compact.h.)
 */
#ifndef POOLMGRD_JOURNAL_INTERNAL_H
#define POOLMGRD_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#define ENV_NAMES	"POOLMGRD_JOURNAL"

/*
 * journal.c: a kind of try that fails and is made again after waits of
 * its own (a fresh journal's, the refused keeps' pushes, the removals
 * that failed), all on journal_step's one timer.  A removal that keeps
 * failing must not hold back a pool's keep, which until it is in leaves
 * the pool to a crash.
 */
struct again {
	bool due;
	unsigned ms;		/* the wait before the next try after it */
	uint64_t at;		/* when it is due (mono_ns) */
};

/* a's try once more, after backoff's wait. */
void again_later(struct again *a);
/*
 * A keep refused or a removal failed: a try of its kind, unless one is
 * due already.  That one stands, neither put off nor its wait doubled:
 * only a try that fails waits longer (pushes_retry, removals_retry), and
 * a burst of pools made while systemd reads nothing would otherwise push
 * the try a minute on.
 */
void again_ask(struct again *a);
/* journal_step: a's try if it is due, else the step by its time. */
bool again_now(const struct again *a);

/* The journal's n (journal.<n>), stored or not; 0 before the first. */
uint64_t journal_id(void);
/* fd into the store as prefix.<id>: 0, or why not. */
int push(const char *prefix, uint64_t id, int fd);

/* journal_keep.c */

struct dpool;
/* p's memfd into the store as keep.<id>: 0, or why not. */
int keep_push_as(struct dpool *p, uint64_t id);
/* Is rc, a keep's refusal, one that may pass (and be tried again)? */
bool keep_passing(int rc);
/* Every keep.<n> out of the store, the pools keeping their numbers. */
void keeps_out(void);
/*
 * Out of the store (keeps_out): every pool's keep.<n> back in, under its
 * number, all or none: 0, or why not.
 */
int keeps_back(void);
/*
 * Every pool's keep.<n> out of the store and its number let go of: the
 * journal that named them is let go of.  A removal that fails is
 * remembered (keep_remove).
 */
void keeps_forget(void);

/* journal_names.c */

/* prefix.<id> out of the store: 0, or why the request was not sent. */
int unstore(const char *prefix, uint64_t id);
/*
 * A keep.<n> no journal names any more (its pool destroyed, or the
 * journal let go of) out of the store, or tried again later and named
 * for the next image until it is out.
 */
void keep_remove(uint64_t id);
/*
 * A journal.<n> of ours that is no longer the journal (compacted into a
 * newer one, or withdrawn) out of the store, or tried again later as a
 * keep is.  Left there, a journal whole up to its end would be the one
 * a crash recovers from once the newer one has left the store.
 */
void old_journal_remove(uint64_t id);
/*
 * The old image's names, handed over in POOLMGRD_JOURNAL (list, as
 * names_ours took it), out of the store once this one is ready.
 */
void old_names_out(const char *list);
/* Our names set in the environment again (POOLMGRD_JOURNAL). */
void names_env(void);
/* journal_step: the removals that failed, if their try is due. */
void names_step(void);
/* journal_stop: no try more; forget: each asked once more, then let go. */
void names_stop(bool forget);
/* The highest n of "journal.<n>" or "keep.<n>" in list. */
uint64_t max_id(const char *list);
/*
 * Is list, POOLMGRD_JOURNAL as the process found it, one an image of
 * ours set (names_env)?  Any other value (set by hand, truncated, a
 * name with a newline that would be a line of its own in the store's
 * notification) is not ours to take out of the store nor to number
 * from.
 */
bool names_ours(const char *list);
/* How many names a ':'-separated list holds (NULL: none). */
unsigned names_count(const char *list);

#endif /* POOLMGRD_JOURNAL_INTERNAL_H */
