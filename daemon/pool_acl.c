/*
 * pool_acl.c - a pool's access control list (the rules: pool_acl.h).
 *
 * A list is a small sorted array: at most ACL_MAX entries, searched
 * linearly, since a pool is opened far less often than it is used and
 * the few entries fit a cache line or four.
 */
#include "pool_acl.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "why.h"

static bool
entry_valid(const struct acl_entry *e)
{
	return (e->kind == ACL_USER || e->kind == ACL_GROUP) &&
	       e->id != (uint32_t)-1 && (e->rights & ~ACL_RIGHTS) == 0;
}

/* Users before groups, each by id: the one order every list is kept in. */
static int
entry_cmp(const void *va, const void *vb)
{
	const struct acl_entry *a = va, *b = vb;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

static const char *
kind_name(unsigned kind)
{
	return kind == ACL_USER ? "user" : "group";
}

bool
acl_caller_in_group(const struct acl_caller *who, gid_t gid)
{
	int i;

	if (who->gid == gid)
		return true;
	for (i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return true;
	return false;
}

bool
acl_grants(const struct acl *acl, uid_t owner, gid_t group, uint32_t mode,
	   const struct acl_caller *who, unsigned want)
{
	bool matched = false, maybe = false;
	uint32_t i;

	assert(acl->n <= ACL_MAX);
	if (who->uid == owner)
		return ((mode >> 6) & want) == want;
	for (i = 0; i < acl->n && acl->e[i].kind == ACL_USER; i++)
		if (acl->e[i].id == who->uid)
			return (acl->e[i].rights & want) == want;
	/* The group class: any of the caller's that grants it all. */
	if (acl_caller_in_group(who, group)) {
		if (((mode >> 3) & want) == want)
			return true;
		matched = true;
	} else if (who->groups_unknown && ((mode >> 3) & want) != want) {
		maybe = true;
	}
	for (; i < acl->n; i++) {
		bool grants = (acl->e[i].rights & want) == want;

		if (!acl_caller_in_group(who, acl->e[i].id)) {
			maybe |= who->groups_unknown && !grants;
			continue;
		}
		if (grants)
			return true;
		matched = true;
	}
	if (matched || maybe)
		return false;
	return (mode & want) == want;
}

static int
entry_refused(const struct acl_entry *e, char *why, size_t len)
{
	if (e->kind != ACL_USER && e->kind != ACL_GROUP)
		return say(why, len, -EINVAL, "an access control entry of "
			   "kind %u: neither a user (1) nor a group (2)",
			   (unsigned)e->kind);
	if (e->id == (uint32_t)-1)
		return say(why, len, -EINVAL, "%s %u is nobody's",
			   kind_name(e->kind), (unsigned)e->id);
	return say(why, len, -EINVAL, "%s %u: rights %#x beyond read (4) "
		   "and write (2)", kind_name(e->kind), (unsigned)e->id,
		   (unsigned)e->rights);
}

/* Sort n entries of t and refuse a kind and id twice. */
static int
sort_unique(struct acl_entry *t, size_t n, char *why, size_t len)
{
	size_t i;

	qsort(t, n, sizeof(*t), entry_cmp);
	for (i = 1; i < n; i++)
		if (entry_cmp(&t[i - 1], &t[i]) == 0)
			return say(why, len, -EINVAL, "%s %u is given twice",
				   kind_name(t[i].kind), (unsigned)t[i].id);
	return 0;
}

int
acl_build(struct acl *out, const struct acl_entry *e, size_t n, char *why,
	  size_t len)
{
	struct acl t;
	size_t i;
	int rc;

	if (n > ACL_MAX)
		return say(why, len, -ENOSPC, "an access control list holds "
			   "at most %d entries, not %zu", ACL_MAX, n);
	for (i = 0; i < n; i++) {
		if (!entry_valid(&e[i]))
			return entry_refused(&e[i], why, len);
		t.e[i] = e[i];
	}
	t.n = (uint32_t)n;
	if ((rc = sort_unique(t.e, n, why, len)))
		return rc;
	memset(out, 0, sizeof(*out));
	out->n = t.n;
	memcpy(out->e, t.e, n * sizeof(t.e[0]));
	return 0;
}

/* The index of the entry of e's kind and id in t's first n, or -1. */
static int
find_entry(const struct acl_entry *t, size_t n, const struct acl_entry *e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].kind == e->kind && t[i].id == e->id)
			return (int)i;
	return -1;
}

int
acl_modify(struct acl *out, const struct acl *cur,
	   const struct acl_entry *add, size_t nadd,
	   const struct acl_entry *rm, size_t nrm, char *why, size_t len)
{
	struct acl_entry t[2 * ACL_MAX];
	size_t i, n;
	int rc;

	if (nadd > ACL_MAX || nrm > ACL_MAX)
		return say(why, len, -ENOSPC, "an access control list holds "
			   "at most %d entries, not %zu", ACL_MAX,
			   nadd > nrm ? nadd : nrm);
	for (i = 0; i < nrm; i++)
		if (rm[i].kind != ACL_USER && rm[i].kind != ACL_GROUP)
			return entry_refused(&rm[i], why, len);
	for (i = 0; i < nadd; i++)
		if (!entry_valid(&add[i]))
			return entry_refused(&add[i], why, len);
	/* What add names twice is a mistake, as in acl_build.  add may be
	 * NULL with nadd 0, which memcpy must not be given. */
	if (nadd)
		memcpy(t, add, nadd * sizeof(*t));
	if ((rc = sort_unique(t, nadd, why, len)))
		return rc;
	n = nadd;
	for (i = 0; i < cur->n; i++)
		if (find_entry(rm, nrm, &cur->e[i]) < 0 &&
		    find_entry(add, nadd, &cur->e[i]) < 0)
			t[n++] = cur->e[i];
	if (n > ACL_MAX)
		return say(why, len, -ENOSPC, "an access control list holds "
			   "at most %d entries: this would make %zu", ACL_MAX,
			   n);
	return acl_build(out, t, n, why, len);
}

bool
acl_equal(const struct acl *a, const struct acl *b)
{
	uint32_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (entry_cmp(&a->e[i], &b->e[i]) != 0 ||
		    a->e[i].rights != b->e[i].rights)
			return false;
	return true;
}

static const char *
rights_text(unsigned rights)
{
	switch (rights & ACL_RIGHTS) {
	case ACL_READ | ACL_WRITE:
		return "rw";
	case ACL_READ:
		return "r";
	case ACL_WRITE:
		return "w";
	default:
		return "-";
	}
}

const char *
acl_text(const struct acl *acl, char *buf, size_t len)
{
	size_t at = 0;
	uint32_t i;
	int k;

	if (len == 0)
		return buf;
	if (acl->n == 0) {
		snprintf(buf, len, "none");
		return buf;
	}
	*buf = '\0';
	for (i = 0; i < acl->n && at < len; i++) {
		k = snprintf(buf + at, len - at, "%s%s:%u:%s", i ? "," : "",
			     kind_name(acl->e[i].kind),
			     (unsigned)acl->e[i].id,
			     rights_text(acl->e[i].rights));
		if (k < 0)
			break;
		at += (size_t)k;
	}
	return buf;
}

uint64_t
acl_word(const struct acl_entry *e)
{
	return (uint64_t)e->id | (uint64_t)e->rights << 32 |
	       (uint64_t)e->kind << 40;
}

bool
acl_unword(uint64_t w, struct acl_entry *e)
{
	struct acl_entry t = {
		.id = (uint32_t)w,
		.rights = (uint8_t)(w >> 32),
		.kind = (uint8_t)(w >> 40),
	};

	if ((w >> 48) != 0 || !entry_valid(&t))
		return false;
	*e = t;
	return true;
}

int
acl_check(const struct acl *acl, char *why, size_t len)
{
	uint32_t i;

	if (acl->n > ACL_MAX)
		return say(why, len, -EFAULT, "access control list of %u "
			   "entries, more than %d", (unsigned)acl->n, ACL_MAX);
	for (i = 0; i < acl->n; i++) {
		if (!entry_valid(&acl->e[i]))
			return say(why, len, -EFAULT, "access control entry %u "
				   "is not valid (kind %u, id %u, rights %#x)",
				   (unsigned)i, (unsigned)acl->e[i].kind,
				   (unsigned)acl->e[i].id,
				   (unsigned)acl->e[i].rights);
		if (i && entry_cmp(&acl->e[i - 1], &acl->e[i]) >= 0)
			return say(why, len, -EFAULT, "access control entries "
				   "%u and %u are out of order or the same",
				   (unsigned)i - 1, (unsigned)i);
	}
	return 0;
}

/* snprintf at buf[*at], never past len. */
static void
append(char *buf, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
append(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (k > 0)
		*at += (size_t)k;
}

/* Room the group class's tail, " and 33 more", takes with its NUL. */
#define DECIDER_TAIL	16

/*
 * One piece of the group class's words, whole or not at all: a piece cut
 * short would name a group the list does not have ("group:30" of
 * group:3002:w) to the caller it refused.  Unless it is the last, it
 * leaves room for the tail that counts what is left out.  False: no room.
 */
static bool
decider_piece(char *buf, size_t len, size_t *at, unsigned shown, bool last,
	      const char *piece)
{
	size_t need = strlen(piece) + 2 + (last ? 1 : DECIDER_TAIL);

	if (*at + need > len)
		return false;
	append(buf, len, at, "%s%s", shown ? ", " : " ", piece);
	return true;
}

/*
 * The group class's pieces the caller is in: the pool's group and each
 * group entry from i on, as many as fit whole, then how many did not.
 * How many it is in.
 */
static unsigned
decider_groups(const struct acl *acl, uint32_t i, gid_t group, uint32_t mode,
	       const struct acl_caller *who, char *buf, size_t len,
	       size_t *at)
{
	unsigned total, shown = 0;
	bool full = false;
	char piece[48];
	uint32_t j;

	total = acl_caller_in_group(who, group) ? 1 : 0;
	for (j = i; j < acl->n; j++)
		total += acl_caller_in_group(who, acl->e[j].id);
	if (acl_caller_in_group(who, group)) {
		snprintf(piece, sizeof(piece), "group %u (mode %04o)",
			 (unsigned)group, mode);
		full = !decider_piece(buf, len, at, shown, total == 1, piece);
		shown += !full;
	}
	for (j = i; j < acl->n && !full; j++) {
		if (!acl_caller_in_group(who, acl->e[j].id))
			continue;
		snprintf(piece, sizeof(piece), "group:%u:%s",
			 (unsigned)acl->e[j].id,
			 rights_text(acl->e[j].rights));
		full = !decider_piece(buf, len, at, shown,
				      shown + 1 == total, piece);
		shown += !full;
	}
	if (shown < total)
		append(buf, len, at, "%s%u more", shown ? " and " : " ",
		       total - shown);
	return total;
}

const char *
acl_decider(const struct acl *acl, uid_t owner, gid_t group, uint32_t mode,
	    const struct acl_caller *who, char *buf, size_t len)
{
	bool matched;
	size_t at = 0;
	uint32_t i;

	if (len == 0)
		return buf;
	*buf = '\0';
	if (who->uid == owner) {
		append(buf, len, &at, "uid %u owns it (mode %04o)",
		       (unsigned)who->uid, mode);
		return buf;
	}
	for (i = 0; i < acl->n && acl->e[i].kind == ACL_USER; i++)
		if (acl->e[i].id == who->uid) {
			append(buf, len, &at, "its entry user:%u:%s",
			       (unsigned)who->uid,
			       rights_text(acl->e[i].rights));
			return buf;
		}
	append(buf, len, &at, "the group class:");
	matched = decider_groups(acl, i, group, mode, who, buf, len, &at) > 0;
	if (!matched && who->groups_unknown) {
		/* A group it may be in, or the other bits: either refused. */
		at = 0;
		append(buf, len, &at, "its groups unknown: a group it may be "
		       "in, or the other bits (mode %04o)", mode);
	} else if (!matched) {
		at = 0;
		append(buf, len, &at, "the other bits (mode %04o)", mode);
	}
	return buf;
}
