/*
 * pool_uquota.h - a pool's user quota entries: exceptions, uid by uid, to
 * the pool's user quota (dpool's user_quota, the default), as Linux disk
 * quotas have a default and limits of named users.
 *
 * A uid with an entry is bound by the entry's bytes instead of the
 * default; an entry of 0 bytes means no user quota for that uid, whatever
 * the default.  A uid without one is bound by the default (0: none).  So
 * "every uid 512 MiB, the trainer 8 GiB, the backup service none" is a
 * default of 512 MiB and two entries, and a default of 0 with entries
 * binds only the uids listed.
 *
 * A list holds at most UQUOTA_MAX entries, kept sorted by uid with no uid
 * twice, so that a uid's bound is found by a binary search (every
 * allocation under a user quota asks), two lists are equal when they bind
 * the same, and the log and the statistics show entries in one order.
 * uid 4294967295 is nobody's and has no entry.
 *
 * Everything here is plain data, no I/O: testable alone.
 */
#ifndef POOLMGRD_POOL_UQUOTA_H
#define POOLMGRD_POOL_UQUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UQUOTA_MAX	32	/* entries a pool's list may hold */

struct uquota_entry {
	uint32_t uid;
	uint64_t bytes;		/* 0: no user quota for uid */
};

struct uquota {
	uint32_t n;
	struct uquota_entry e[UQUOTA_MAX];
};

/*
 * uid's entry in q, or NULL: a binary search, O(log n).
 */
const struct uquota_entry *uquota_find(const struct uquota *q, uint32_t uid);

/*
 * The bound of uid under q and the default dflt: its entry's bytes if it
 * has one (*own true), else dflt (*own false); 0 is none.  own may be NULL.
 */
static inline uint64_t
uquota_bound(const struct uquota *q, uint64_t dflt, uint32_t uid, bool *own)
{
	const struct uquota_entry *e = q->n ? uquota_find(q, uid) : NULL;

	if (own)
		*own = e != NULL;
	return e ? e->bytes : dflt;
}

/*
 * Make *out the list of the n entries given, checked and sorted: 0, or
 * -EINVAL (uid 4294967295, a uid given twice) or -ENOSPC (more than
 * UQUOTA_MAX), with why said in words into why (len bytes; NULL for
 * none); *out unchanged then.
 */
int uquota_build(struct uquota *out, const struct uquota_entry *e, size_t n,
		 char *why, size_t len);

/*
 * *out = cur less the entries of the uids of rm (one not in cur is no
 * error), then with each of add set (in place of its uid's entry, or
 * added); add and rm may be NULL when their counts are 0.  A uid given
 * twice, in either or across both, is -EINVAL (which was meant cannot be
 * told), and so are uid 4294967295 among them (no list has it) and more
 * than UQUOTA_MAX uids to remove; otherwise errors
 * as uquota_build, -ENOSPC when add or the result passes UQUOTA_MAX;
 * *out unchanged then.
 */
int uquota_modify(struct uquota *out, const struct uquota *cur,
		  const struct uquota_entry *add, size_t nadd,
		  const uint32_t *rm, size_t nrm, char *why, size_t len);

bool uquota_equal(const struct uquota *a, const struct uquota *b);

/* Room for the words of the longest list, "4294967294:18446744073709551615". */
#define UQUOTA_TEXT_MAX	(UQUOTA_MAX * 32 + 8)

/*
 * The list in words, "1001:67108864,1002:none" (sorted; none for 0
 * bytes), or "none" for an empty one; cut at len if it must be.  Returns
 * buf.
 */
const char *uquota_text(const struct uquota *q, char *buf, size_t len);

/*
 * Is the list well formed: at most UQUOTA_MAX entries, no uid
 * 4294967295, sorted by uid with none twice?  The pool's check calls it;
 * 0 or -EFAULT with the first fault in words.
 */
int uquota_check(const struct uquota *q, char *why, size_t len);

#endif
