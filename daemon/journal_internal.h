/*
 * journal_internal.h - what the crash journal's files share, and nothing
 * else in the daemon sees: journal.h stays the rest of the daemon's view.
 *
 *   journal.c          the journal: where a change's records go,
 *                      snapshots, groups, compaction in steps, the way
 *                      back after a write failed, the pools' keep.<n>
 *                      numbered and their refusals tried again, and the
 *                      one timer of every try
 *   journal_file.c     a journal's memfd made, mapped, grown and appended
 *                      to, and the spill's memory
 *   journal_records.c  what each record says of a pool, a block, a name
 *                      and the daemon's socket
 *   journal_keep.c     the pools' memfds in the store as keep.<n>: one
 *                      pushed, all out and back, all let go of
 *   journal_names.c    the names in the store no journal of ours holds
 *                      any more, and those handed to the next image
 *                      (POOLMGRD_JOURNAL)
 *
 * (journal_compact.c, the live set a compaction writes, goes through
 * journal_compact.h.)
 */
#ifndef POOLMGRD_JOURNAL_INTERNAL_H
#define POOLMGRD_JOURNAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal_rec.h"

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

/* A journal; fd -1: a spill, in memory (malloc'd map). */
struct jfile {
	int fd;
	uint64_t id;
	uint64_t *map;
	size_t cap;		/* bytes mapped and of the memfd */
	uint64_t end;		/* bytes written; the header's JH_END */
};

/* The spill: what the journal, out of the store, could not take. */
extern struct jfile journal_spill;
/*
 * The record of type with payload w[1..n-1] (w[0] and w[n] left for its
 * head and sum): a change's (f NULL), to the journal or the spill, or a
 * snapshot's, into f.  0, or why not.
 */
int journal_append(struct jfile *f, enum jrec_type type, uint64_t *w,
		   unsigned n);

/* journal_file.c */

/* A journal as memfd id, its header written: 0, or why not. */
int jfile_open(struct jfile *f, uint64_t id);
/* The spill, empty: 0, or -ENOMEM. */
int spill_open(void);
/* f unmapped and closed (the spill: freed); a closed one is left be. */
void jfile_close(struct jfile *f);
/* f holding need bytes at least: 0, or why not. */
int jfile_grow(struct jfile *f, size_t need);
/* A record put past f's end, not yet read: 0, or why not. */
int jfile_put(struct jfile *f, enum jrec_type type, uint64_t *w, unsigned n);
/* The header's end moved over the records put. */
void jfile_publish(struct jfile *f);
/* A record put and published: 0, or why not. */
int jfile_append(struct jfile *f, enum jrec_type type, uint64_t *w,
		 unsigned n);

/* journal_records.c: each through journal_append (f NULL: a change) */

struct block;
struct block_name;
struct dpool;
/* Pool p: its number, size, settings and name. */
int rec_pool(struct jfile *f, const struct dpool *p);
/* A persist (JREC_PERSIST) or a resize (JREC_RESIZE) of b. */
int rec_block(struct jfile *f, enum jrec_type type, const struct dpool *p,
	      const struct block *b);
/* Name n's generation, after its record or a publish in place. */
int rec_generation(struct jfile *f, const struct dpool *p,
		   const struct block_name *n);
/* Name n, then its generation. */
int rec_name(struct jfile *f, const struct dpool *p,
	     const struct block_name *n);
/*
 * p's limit and user quota, its access control list, its user quotas of
 * uids: no record while they are 0 or empty, unless changed.
 */
int rec_bounds(struct jfile *f, const struct dpool *p, bool changed);
int rec_acl(struct jfile *f, const struct dpool *p, bool changed);
int rec_user_quotas(struct jfile *f, const struct dpool *p, bool changed);
/* The daemon's own socket (journal_socket), into f; none: systemd's. */
int rec_socket(struct jfile *f);
/* Pool p as a snapshot has it; *walked counts the blocks looked at. */
int rec_pool_whole(struct jfile *f, struct dpool *p, uint64_t *walked);

/* journal_keep.c */

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
