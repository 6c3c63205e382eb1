/*
 * pool_uquota.c - a pool's user quota entries (the rules: pool_uquota.h).
 *
 * A small sorted array: found by a binary search, since every
 * allocation in a pool with user quotas asks for its uid's bound, and
 * changed by building a new array whole, which happens only at a
 * SetPool, a CreatePool or a reload.
 */
#include "pool_uquota.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "why.h"

#define UQUOTA_NOBODY	((uint32_t)-1)

static int
entry_cmp(const void *va, const void *vb)
{
	const struct uquota_entry *a = va, *b = vb;

	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return 0;
}

const struct uquota_entry *
uquota_find(const struct uquota *q, uint32_t uid)
{
	uint32_t lo = 0, hi = q->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (q->e[mid].uid == uid)
			return &q->e[mid];
		if (q->e[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
uquota_build(struct uquota *out, const struct uquota_entry *e, size_t n,
	     char *why, size_t len)
{
	struct uquota t;
	size_t i;

	if (n > UQUOTA_MAX)
		return say(why, len, -ENOSPC, "a pool holds at most %d user "
			   "quota entries, not %zu", UQUOTA_MAX, n);
	for (i = 0; i < n; i++)
		if (e[i].uid == UQUOTA_NOBODY)
			return say(why, len, -EINVAL, "uid %u is nobody's: it "
				   "has no user quota entry",
				   (unsigned)e[i].uid);
	memset(&t, 0, sizeof(t));
	if (n)
		memcpy(t.e, e, n * sizeof(*e));
	t.n = (uint32_t)n;
	qsort(t.e, n, sizeof(t.e[0]), entry_cmp);
	for (i = 1; i < n; i++)
		if (t.e[i - 1].uid == t.e[i].uid)
			return say(why, len, -EINVAL, "uid %u's user quota "
				   "entry is given twice",
				   (unsigned)t.e[i].uid);
	*out = t;
	return 0;
}

/* Is uid among the first n of rm? */
static bool
uid_in(const uint32_t *rm, size_t n, uint32_t uid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rm[i] == uid)
			return true;
	return false;
}

/* Is uid among the first n entries of add? */
static bool
entry_in(const struct uquota_entry *add, size_t n, uint32_t uid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (add[i].uid == uid)
			return true;
	return false;
}

/*
 * A uid given twice in one change, in rm, in add or in both, or uid
 * 4294967295 removed: -EINVAL.
 * At most UQUOTA_MAX of each (uquota_modify's bound), so this is
 * quadratic in 32 at worst.
 */
static int
modify_twice(const struct uquota_entry *add, size_t nadd, const uint32_t *rm,
	     size_t nrm, char *why, size_t len)
{
	size_t i;

	for (i = 0; i < nrm; i++) {
		/* Never in a list: a removal of it is a mistake (-1?). */
		if (rm[i] == UQUOTA_NOBODY)
			return say(why, len, -EINVAL, "uid %u is nobody's: "
				   "it has no user quota entry to remove",
				   (unsigned)rm[i]);
		if (uid_in(rm, i, rm[i]))
			return say(why, len, -EINVAL, "uid %u is removed "
				   "twice in one change", (unsigned)rm[i]);
	}
	for (i = 0; i < nadd; i++) {
		if (entry_in(add, i, add[i].uid))
			return say(why, len, -EINVAL, "uid %u's user quota "
				   "entry is given twice in one change",
				   (unsigned)add[i].uid);
		if (uid_in(rm, nrm, add[i].uid))
			return say(why, len, -EINVAL, "uid %u's user quota "
				   "entry is both removed and set in one "
				   "change (a set alone replaces it)",
				   (unsigned)add[i].uid);
	}
	return 0;
}

int
uquota_modify(struct uquota *out, const struct uquota *cur,
	      const struct uquota_entry *add, size_t nadd,
	      const uint32_t *rm, size_t nrm, char *why, size_t len)
{
	struct uquota_entry t[2 * UQUOTA_MAX];
	size_t i, n;
	int rc;

	if (nadd > UQUOTA_MAX)
		return say(why, len, -ENOSPC, "a pool holds at most %d user "
			   "quota entries: %zu cannot be set", UQUOTA_MAX,
			   nadd);
	/* More could name only uids the list has not: a mistake. */
	if (nrm > UQUOTA_MAX)
		return say(why, len, -EINVAL, "%zu uids to remove: a list "
			   "holds at most %d entries", nrm, UQUOTA_MAX);
	if ((rc = modify_twice(add, nadd, rm, nrm, why, len)))
		return rc;
	n = nadd;
	if (nadd)
		memcpy(t, add, nadd * sizeof(*add));
	for (i = 0; i < cur->n; i++)
		if (!uid_in(rm, nrm, cur->e[i].uid) &&
		    !entry_in(add, nadd, cur->e[i].uid))
			t[n++] = cur->e[i];
	if (n > UQUOTA_MAX)
		return say(why, len, -ENOSPC, "a pool holds at most %d user "
			   "quota entries: this would make %zu (remove some "
			   "in the same change)", UQUOTA_MAX, n);
	return uquota_build(out, t, n, why, len);
}

bool
uquota_equal(const struct uquota *a, const struct uquota *b)
{
	uint32_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->e[i].uid != b->e[i].uid ||
		    a->e[i].bytes != b->e[i].bytes)
			return false;
	return true;
}

const char *
uquota_text(const struct uquota *q, char *buf, size_t len)
{
	size_t at = 0;
	uint32_t i;
	int k;

	if (len == 0)
		return buf;
	if (q->n == 0) {
		snprintf(buf, len, "none");
		return buf;
	}
	*buf = '\0';
	for (i = 0; i < q->n && at < len; i++) {
		if (q->e[i].bytes)
			k = snprintf(buf + at, len - at, "%s%u:%llu",
				     i ? "," : "", (unsigned)q->e[i].uid,
				     (unsigned long long)q->e[i].bytes);
		else
			k = snprintf(buf + at, len - at, "%s%u:none",
				     i ? "," : "", (unsigned)q->e[i].uid);
		if (k < 0)
			break;
		at += (size_t)k;
	}
	return buf;
}

int
uquota_check(const struct uquota *q, char *why, size_t len)
{
	uint32_t i;

	if (q->n > UQUOTA_MAX)
		return say(why, len, -EFAULT, "user quota list of %u entries, "
			   "more than %d", (unsigned)q->n, UQUOTA_MAX);
	for (i = 0; i < q->n; i++) {
		if (q->e[i].uid == UQUOTA_NOBODY)
			return say(why, len, -EFAULT, "user quota entry %u is "
				   "of uid %u, nobody's", (unsigned)i,
				   (unsigned)q->e[i].uid);
		if (i && q->e[i - 1].uid >= q->e[i].uid)
			return say(why, len, -EFAULT, "user quota entries %u "
				   "and %u are out of order or the same",
				   (unsigned)i - 1, (unsigned)i);
	}
	return 0;
}
