/*
 * journal.h - what survives a crash under systemd (docs/design.md, "The
 * crash journal"): each pool's memfd, kept in systemd's fd store as
 * "keep.<n>", and an append-only journal memfd, "journal.<n>", of what a
 * crash must not lose: the pools, their settings and their persistent
 * blocks.  After a crash (no "state" in the store) recover.c rebuilds
 * exactly that, as if every client had disconnected at once.
 *
 * Only with the store (fdstore_max() > 0); otherwise every call is a
 * no-op.  Every change is written before the reply that reports it
 * leaves, and the free of a persistent block before its pages can be
 * handed out again: the journal lives in memory, so it costs a memcpy.
 */
#ifndef POOLMGRD_JOURNAL_H
#define POOLMGRD_JOURNAL_H

#include <stdbool.h>

struct dpool;
struct block;

/*
 * Once the pools are what the start made of them (restored, recovered or
 * fresh): a new journal with every pool and persistent block, and a new
 * keep.<n> for every pool, all under names newer than any in stored (the
 * names the start found, ':'-separated, or NULL) or left by the image
 * that executed this one.
 */
void journal_start(const char *stored);

/*
 * Before journal_start, if the daemon bound its socket itself: the path
 * and mode, which every journal from then on records, for a crash
 * recovery to bind again (recover.h).
 */
void journal_socket(const char *path, unsigned mode);

/*
 * After READY=1 and the start's own names are out of the store: take the
 * old image's journal and keeps out too, then, if the store had no room
 * for the new ones beside the old, push them now.
 */
void journal_ready(void);

/*
 * step_in(ms) asks for a journal_step after ms (0: on the next turn of
 * the loop); without it (NULL) nothing runs later.
 */
void journal_setup(void (*step_in)(unsigned ms));

/*
 * Work left for later: after a write failed took the journal out of the
 * store, a fresh one of the pools as they are now.
 */
void journal_step(void);

/*
 * Just before a restart in place's exec: our names in the store set in
 * the environment again (POOLMGRD_JOURNAL), for the new image to take
 * out once ready.  -ENOMEM if they could not be: the exec must not be
 * made, or the new image, knowing none of them, would leave this image's
 * journal in the store beside its own, and a crash would recover from
 * either.
 */
int journal_exec_names(void);

/* The store's descriptors the journal holds: a planned stop needs room. */
unsigned journal_slots(void);

/*
 * Exiting: nothing more is written (the pools' destruction is not).  If
 * the stop frees everything (forget), the journal and every keep.<n>
 * leave the store too: a unit restarted after a clean exit (Restart=
 * always) must start fresh, as it would without the store.
 */
void journal_stop(bool forget);

void journal_pool_made(struct dpool *p);
/*
 * bounds_changed: the limit or the user quota changed, and a record of
 * them follows the settings' (JREC_BOUNDS); acl_changed: the access
 * control list changed, and a record of it follows those (JREC_ACL);
 * uquotas_changed: the uids' own user quotas changed, and a record of
 * them comes last (JREC_USER_QUOTAS).  The journal's end moves once,
 * over all of them.
 */
void journal_pool_set(const struct dpool *p, bool bounds_changed,
		      bool acl_changed, bool uquotas_changed);
void journal_pool_gone(struct dpool *p);
/*
 * A change of many records (AllocBatch.persist's persists, a FreeBatch's
 * ends of persistence, a Publish's persist and name, a replace's name
 * moved and old block's end, an Unpublish's or an eviction's name and
 * block's end): from journal_group_begin to journal_group_end each
 * hook's record is written but not read, and journal_group_end(true)
 * moves the journal's end once, over them all, so that a crash between
 * two of them recovers none of the change.  journal_group_end(false):
 * the change was undone whole within the group, each of its records
 * followed by one that cancels it; the end never covers them (a journal
 * out of the store has taken them all, and they cancel out there).  No
 * compaction begins inside a group.  A group opens and closes within a
 * request; one inside another is part of the outer one's change, which
 * the outermost's end ends.  The rule above holds for a group: a block
 * whose persistence ends in one is freed only after journal_group_end.
 */
void journal_group_begin(void);
void journal_group_end(bool keep);
/* Is a group open?  Where a block is freed, none may be (see above). */
bool journal_grouped(void);
void journal_persist(const struct dpool *p, const struct block *b);
void journal_resize(const struct dpool *p, const struct block *b);
void journal_unpersist(const struct dpool *p, const struct block *b);
/*
 * A name given to persistent block n->block (with its generation), a new
 * generation of name n published in place, and a name taken from b.
 */
struct block_name;
void journal_name(const struct dpool *p, const struct block_name *n);
void journal_generation(const struct dpool *p, const struct block_name *n);
void journal_unname(const struct dpool *p, const struct block *b);

#endif /* POOLMGRD_JOURNAL_H */
