/*
 * journal_rec.h - the crash journal's format (journal.c writes it,
 * recover.c reads it).  Same machine, same build family: native byte
 * order, every field a 64-bit word.
 *
 * A header at offset 0, then records to the committed end the header
 * names.  Each record is its length and type (one word), its payload
 * and a hash of both: a record past the committed end (torn by a crash
 * before the header moved) is ignored, one before it that fails its
 * hash refuses the journal whole.
 */
#ifndef POOLMGRD_JOURNAL_REC_H
#define POOLMGRD_JOURNAL_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JREC_MAGIC	0x314c4e524a4d50ull	/* "PMJRNL1" */
/*
 * The magic of a journal taken out of the store (journal.c's withdraw):
 * a write to it failed, so it lacks a change, or the daemon stopped and
 * freed its pools.  Written before the store is asked to let it go, so
 * that a crash that finds it there all the same starts fresh.
 */
#define JREC_WITHDRAWN	0x3157444d4a4d50ull	/* "PMJMDW1" */
#define JREC_HEADER	64			/* bytes; records follow */
#define JREC_NAME_MAX	8			/* words of a pool's name */
#define JREC_BNAME_MAX	32			/* ... of a block's (255 B) */
/*
 * Words of a record, all told: a JREC_USER_QUOTAS of JREC_UQ_MAX entries,
 * two words each, with its head, keep and sum, the longest; a JREC_NAME's
 * (6 + JREC_BNAME_MAX) was, before it.  An image from before it refuses a
 * longer record as torn, which it would refuse anyway as of a type it
 * does not know.
 */
#define JREC_UQ_MAX	32
#define JREC_MAX_WORDS	(3 + 2 * JREC_UQ_MAX)

/* Header words. */
enum { JH_MAGIC, JH_ID, JH_END, JH_SUM };

enum jrec_type {
	JREC_POOL = 1,		/* keep, size, granularity, page size, uid,
				 * gid, mode, quota, retain, name... */
	JREC_SET,		/* keep, uid, gid, mode, quota, retain */
	JREC_GONE,		/* keep */
	JREC_PERSIST,		/* keep, off, size, requested, span, uid */
	JREC_RESIZE,		/* keep, off, size, requested */
	JREC_UNPERSIST,		/* keep, off */
	/*
	 * Names of persistent blocks (pool_names.c): an older image refuses
	 * a journal with them whole, as any record it does not know, and
	 * starts fresh.
	 */
	JREC_NAME,		/* keep, off, publisher, length, name... */
	JREC_UNNAME,		/* keep, off */
	/*
	 * The socket the daemon bound itself (not systemd's), after the
	 * pools of every snapshot, its last record: a crash recovery binds
	 * it again, whatever the file says then.  Once a journal: a run
	 * binds one socket and a reload does not move it.  Refused whole by
	 * an older image, as the names.
	 */
	JREC_SOCKET,		/* mode, length, path... (no NUL) */
	/*
	 * A name published evictable: JREC_NAME's words.  A journal of no
	 * evictable name has none, and an older image reads it as ever;
	 * one with any, it refuses whole, as the names.
	 */
	JREC_NAME_EVICTABLE,	/* keep, off, publisher, length, name... */
	/*
	 * Generations (Publish): the last a pool gave, in a snapshot right
	 * after its pool's record (none while it is 0), and a name's, right
	 * after its record and alone at each publish in place.  A name's is
	 * the pool's next, which it then becomes (a publish's), or, in the
	 * snapshot only, one the pool gave.  The snapshot ends at the first
	 * record only a change writes (JREC_SET, JREC_GONE, JREC_RESIZE,
	 * JREC_UNPERSIST, JREC_UNNAME, a name's next generation) or at
	 * JREC_SOCKET; anything else refuses the journal, and so do two
	 * names of one generation.  A name record is followed by its
	 * generation's, written with it: one followed by anything else
	 * refuses a journal with any record of this type or after it
	 * (JREC_BOUNDS), unless it is the last (a crash between the two,
	 * before the reply); an image from before them wrote none.  Names
	 * with none are given the pool's next in the order of their
	 * records.  A journal of no name has none, and an older image reads
	 * it as ever.
	 */
	JREC_GENERATIONS = 11,	/* keep, last */
	JREC_GENERATION,	/* keep, off, generation */
	/*
	 * A pool's limit and user quota (CreatePool.limit, .user_quota):
	 * after its record (in a snapshot, after its count of generations)
	 * when either is not 0, and after a JREC_SET that changed either.
	 * Neither begins nor ends the snapshot.  Without a user quota the
	 * record has no word for it (so an image from before user quotas
	 * reads a journal of none as ever).  A journal of no limit and no
	 * user quota has none, and an older image reads it as ever; one
	 * with any, it refuses whole, as the names.
	 */
	JREC_BOUNDS = 13,	/* keep, limit[, user quota] */
	/*
	 * A pool's access control list (CreatePool.acl, SetPool.acl,
	 * acl_modify, acl_remove), an entry a word (pool_acl.h's acl_word),
	 * as many as the record's length says: after its record (in a
	 * snapshot, after its JREC_BOUNDS if any) when the list is not
	 * empty, and after a JREC_SET that changed it, with no entry when
	 * the change emptied it.  Neither begins nor ends the snapshot.  A
	 * journal of no list has none, and an older image reads it as ever;
	 * one with any, it refuses whole, as the names, rather than leave
	 * the users and groups a list names to the mode alone.
	 */
	JREC_ACL = 14,		/* keep, entries... */
	/*
	 * A pool's own user quotas of uids (CreatePool.user_quotas,
	 * SetPool.user_quota_modify, user_quota_remove; pool_uquota.h), an
	 * entry two words, its uid and its bytes, as many as the record's
	 * length says (an odd count of words past keep refuses the
	 * journal): after its record (in a snapshot, after its JREC_ACL if
	 * any) when the list is not empty, and after a JREC_SET that changed
	 * it (after its JREC_BOUNDS and JREC_ACL, if any), with no entry
	 * when the change emptied it.  Neither begins nor ends the snapshot.
	 * A journal of no entry has none, and an older image reads it as
	 * ever; one with any, it refuses whole, as the names, rather than
	 * leave the uids listed to the pool's user quota.
	 */
	JREC_USER_QUOTAS = 15,	/* keep, (uid, bytes)... */
};

/* Entries a JREC_ACL holds at most: ACL_MAX (pool_acl.h), in its words. */
#define JREC_ACL_MAX	32
_Static_assert(3 + JREC_ACL_MAX <= JREC_MAX_WORDS,
	       "a JREC_ACL of every entry fits a record");
_Static_assert(6 + JREC_BNAME_MAX <= JREC_MAX_WORDS,
	       "a JREC_NAME of the longest name fits a record");

#define JREC_SOCKET_MAX	107	/* bytes of its path (sun_path less 1) */

/* A record's first word: its length in words (all told) and its type. */
static inline uint64_t
jrec_head(unsigned words, enum jrec_type type)
{
	return (uint64_t)words << 32 | (uint64_t)type;
}

/* The hash of n words: a torn or scribbled record fails it. */
static inline uint64_t
jrec_sum(const uint64_t *w, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	return h;
}

/*
 * The rules of where a name's generation goes (JREC_GENERATIONS), which
 * recover.c holds a journal to and journal_compact.c the records it
 * compacts, so that a compaction never makes a journal the replay refuses
 * into one it takes.  prev_type, prev_keep and prev_off are the record
 * before w: its type, and the pool and offset it is about.
 *
 * Is w about the block that record named?  Where a snapshot puts the
 * name's generation.
 */
static inline bool
jrec_after_its_name(uint32_t prev_type, uint64_t prev_keep,
		    uint64_t prev_off, const uint64_t *w)
{
	return (prev_type == JREC_NAME || prev_type == JREC_NAME_EVICTABLE) &&
	    prev_keep == w[1] && prev_off == w[2];
}

/*
 * Does w leave that record a bare name: a name record followed by
 * anything but its generation's?  Only a crash between the two parts
 * them, so a bare name refuses a journal with generations unless it is
 * the last record.
 */
static inline bool
jrec_leaves_name_bare(uint32_t prev_type, uint64_t prev_keep,
		      uint64_t prev_off, const uint64_t *w)
{
	if (prev_type != JREC_NAME && prev_type != JREC_NAME_EVICTABLE)
		return false;
	return (uint32_t)w[0] != JREC_GENERATION ||
	    !jrec_after_its_name(prev_type, prev_keep, prev_off, w);
}

/*
 * A record only a writer with generations writes, of their types or of
 * one after them (JREC_BOUNDS, JREC_ACL, JREC_USER_QUOTAS): its journal
 * holds names to the rule.
 */
static inline bool
jrec_of_generations(uint32_t type)
{
	return type >= JREC_GENERATIONS;
}

#endif /* POOLMGRD_JOURNAL_REC_H */
