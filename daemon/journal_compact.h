/*
 * journal_compact.h - what a crash journal's records leave live: the
 * records of a journal fed in order, then the pools and persistent blocks
 * they leave, with the blocks' names, read back out as the records of a
 * snapshot (journal_rec.h).
 * journal.c compacts a journal in steps with it: the old journal's
 * records to a mark fed a few thousand a turn, the snapshot written a
 * few thousand a turn, then the records past the mark copied after it.
 */
#ifndef POOLMGRD_JOURNAL_COMPACT_H
#define POOLMGRD_JOURNAL_COMPACT_H

#include <stdint.h>

struct jcompact;

/* For the records of bytes bytes at most: NULL if out of memory. */
struct jcompact *jcompact_new(uint64_t bytes);
void jcompact_free(struct jcompact *c);

/*
 * One record, w[0] its head, n words without its sum: 0, or -EINVAL for
 * a type this file does not know or a record that does not follow from
 * those before it (the journal is then snapshotted from the pools).
 */
int jcompact_feed(struct jcompact *c, const uint64_t *w, unsigned n);

/*
 * The snapshot's next record into w (JREC_MAX_WORDS), w[0] and the sum
 * left to the writer: its type, and in *n its words without the sum; 0
 * when every live pool and block has been read out.  Pools come first,
 * then the blocks, a named one's name record right after its own.
 */
int jcompact_next(struct jcompact *c, uint64_t *w, unsigned *n);

#endif /* POOLMGRD_JOURNAL_COMPACT_H */
