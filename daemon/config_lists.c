/*
 * config_lists.c - a pool's lists in poolmgrd.conf: its access control
 * list (acl = user:alice:rw, group:video:r) and its uids' own user quotas
 * (user_quotas = alice:8G, guest:none).
 *
 * Both are lists of entries apart by commas, blanks or both, which an
 * indented line continues (inih calls again with the same key), so that
 * a full list fits lines of inih's length; "none" alone is the empty
 * list.  Each is checked whole once read (acl_build, uquota_build: no id
 * twice, at most ACL_MAX or UQUOTA_MAX entries), and a bad entry names
 * itself and its pool.  A key given twice in a section is refused: a
 * later key replacing an earlier one would drop entries without a word.
 */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* What stands between the entries of an acl. */
#define ACL_APART	", \t"
/* Room for an entry: any that fits a line (inih's is 200 bytes). */
#define ACL_WORD_MAX	256
/* The most of an entry a problem repeats. */
#define ACL_SAID	64
/* What an acl entry is, for one that is not. */
#define ACL_FORM	"user:USER:RIGHTS or group:GROUP:RIGHTS, RIGHTS r, " \
			"w, rw or -"

/*
 * An entry's rights: setfacl's short forms and getfacl's three letters.
 * 0, -1 for a word of neither, or -2 for one with an execute bit, which a
 * pool has nothing to give to.
 */
static int
parse_acl_rights(const char *s, uint8_t *out)
{
	static const struct {
		const char *word;
		uint8_t rights;
	} forms[] = {
		{"rw", ACL_READ | ACL_WRITE}, {"r", ACL_READ},
		{"w", ACL_WRITE}, {"-", 0}, {"rw-", ACL_READ | ACL_WRITE},
		{"r--", ACL_READ}, {"-w-", ACL_WRITE}, {"---", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (strcmp(s, forms[i].word) == 0) {
			*out = forms[i].rights;
			return 0;
		}
	return strpbrk(s, "xX") ? -2 : -1;
}

/* "user" or "u", "group" or "g": the kind; else 0. */
static uint8_t
parse_acl_kind(const char *s)
{
	if (strcmp(s, "user") == 0 || strcmp(s, "u") == 0)
		return ACL_USER;
	if (strcmp(s, "group") == 0 || strcmp(s, "g") == 0)
		return ACL_GROUP;
	return 0;
}

/*
 * One entry of an acl, as written (entry), into *e: 0, or -1 with the
 * problem said, naming the entry.
 */
static int
parse_acl_entry(struct load_state *ls, const struct config_pool *p,
		const char *entry, struct acl_entry *e)
{
	char word[ACL_WORD_MAX], *id, *rights;
	const char *why;
	uid_t uid;
	gid_t gid;
	int rc;

	snprintf(word, sizeof(word), "%s", entry);
	id = strchr(word, ':');
	rights = id ? strchr(id + 1, ':') : NULL;
	if (!rights || strchr(rights + 1, ':')) {
		why = ACL_FORM;
		goto bad;
	}
	*id++ = '\0';
	*rights++ = '\0';
	if (!(e->kind = parse_acl_kind(word))) {
		/* setfacl's other and mask entries have no place here. */
		why = "an entry is user: or group: (u: or g:); the others' "
		      "rights are the mode's, and there is no mask";
		goto bad;
	}
	if (*id == '\0') {
		why = e->kind == ACL_USER ?
		      "no user named: the owner's rights are the mode's" :
		      "no group named: the pool's group's are the mode's";
		goto bad;
	}
	if ((rc = e->kind == ACL_USER ? config_parse_user(id, &uid) :
		  config_parse_group(id, &gid))) {
		why = rc == -2 ? "4294967295 is no id: it means none" :
		      e->kind == ACL_USER ? "no such user" : "no such group";
		goto bad;
	}
	e->id = e->kind == ACL_USER ? (uint32_t)uid : (uint32_t)gid;
	if ((rc = parse_acl_rights(rights, &e->rights)) == -2) {
		why = "execute means nothing for a pool: r, w, rw or -";
		goto bad;
	}
	if (rc) {
		why = "rights are r, w, rw or - (none), or getfacl's rw-, "
		      "r--, -w-, ---";
		goto bad;
	}
	return 0;
bad:
	/* An entry past ACL_SAID is cut: its start tells which it is. */
	snprintf(ls->problem, sizeof(ls->problem), "bad acl entry '%.*s' in "
		 "[pool %s] (%s)", ACL_SAID, entry, p->name, why);
	return -1;
}

/* How a list key reads where the two keys differ. */
struct list_key {
	const char *key;	/* "acl", "user_quotas" */
	const char *none_why;	/* why "none" may not be among entries */
	int *line;		/* ls's: where each pool's key is, or 0 */
	int *none;		/* ls's: the key being read said "none" */
};

/* "none" alone is the empty list; with entries, or continued, a mistake. */
static int
list_none_mixed(struct load_state *ls, const struct config_pool *p,
		const struct list_key *k)
{
	snprintf(ls->problem, sizeof(ls->problem), "bad %s in [pool %s] (%s)",
		 k->key, p->name, k->none_why);
	return -1;
}

/*
 * A second key of a pool, where an indented line was meant (-1, the
 * problem said), or the first (0, its line noted).  Where a later key
 * replaces an earlier one, a list meant to go on would lose its first
 * entries, and with them any refusal among them, without a word.
 */
static int
list_given_twice(struct load_state *ls, const struct config_pool *p,
		 const struct list_key *k)
{
	size_t i = (size_t)(p - ls->cf->pools);

	if (k->line[i]) {
		snprintf(ls->problem, sizeof(ls->problem), "%s given twice "
			 "in [pool %s] (first on line %d): a list goes on "
			 "over indented lines, or all on one", k->key, p->name,
			 k->line[i]);
		return -1;
	}
	k->line[i] = ls->line;
	return 0;
}

/*
 * The start of a line of key k: 1 for "none" alone (the empty list), 0
 * for entries to read, or -1 with the problem said.
 */
static int
list_begin(struct load_state *ls, const struct config_pool *p,
	   const struct list_key *k, const char *value)
{
	if (ls->continues && *k->none)
		return list_none_mixed(ls, p, k);
	if (!ls->continues && list_given_twice(ls, p, k))
		return -1;
	if (!ls->continues && strcmp(value, "none") == 0)
		return *k->none = 1;
	*k->none = 0;
	return 0;
}

/*
 * The next entry of a line from *at into word (ACL_WORD_MAX bytes): 1,
 * 0 at the line's end, or -1 for a "none" among entries, said.
 */
static int
list_word(struct load_state *ls, const struct config_pool *p,
	  const struct list_key *k, const char **at, char *word)
{
	size_t len;

	if (!*(*at += strspn(*at, ACL_APART)))
		return 0;
	len = strcspn(*at, ACL_APART);
	/* Longer than a line may be only if inih's grew: cut. */
	snprintf(word, ACL_WORD_MAX, "%.*s", (int)len, *at);
	*at += len;
	if (strcmp(word, "none") == 0)
		return list_none_mixed(ls, p, k);
	return 1;
}

/*
 * acl = ENTRY[, ENTRY...], entries separated by commas, blanks or both;
 * empty or "none": no list.  An indented line after it continues it (inih
 * calls again with the same key), so that a list of 32 fits lines of
 * inih's length: its entries join those before, checked as one list.  0,
 * or -1 with the problem said; p->acl changes only when the line is good.
 */
int
config_acl_key(struct load_state *ls, struct config_pool *p, const char *value)
{
	const struct list_key k = {"acl", "none is the whole list: alone, "
				   "with no entry before or after it",
				   ls->acl_line, &ls->acl_none};
	struct acl_entry e[ACL_MAX], one;
	char word[ACL_WORD_MAX], why[160];
	const char *at = value;
	struct acl built;
	size_t n = 0;
	int rc;

	if ((rc = list_begin(ls, p, &k, value)) > 0)
		memset(&p->acl, 0, sizeof(p->acl));
	if (rc)
		return rc < 0 ? -1 : 0;
	if (ls->continues) {
		memcpy(e, p->acl.e, p->acl.n * sizeof(e[0]));
		n = p->acl.n;
	}
	while ((rc = list_word(ls, p, &k, &at, word)) > 0) {
		if (parse_acl_entry(ls, p, word, &one))
			return -1;
		/* Past the room, counted only: the count is the problem. */
		if (n < ACL_MAX)
			e[n] = one;
		n++;
	}
	if (rc < 0)
		return -1;
	if (n > ACL_MAX)
		return snprintf(ls->problem, sizeof(ls->problem), "bad acl in "
				"[pool %s] (an access control list holds at "
				"most %d entries, not %zu)", p->name, ACL_MAX,
				n), -1;
	if (acl_build(&built, e, n, why, sizeof(why)))
		return snprintf(ls->problem, sizeof(ls->problem), "bad acl in "
				"[pool %s] (%s)", p->name, why), -1;
	p->acl = built;
	return 0;
}

/* What a user_quotas entry is, for one that is not. */
#define UQ_FORM		"USER:SIZE, USER a user name or uid, SIZE as the " \
			"file's sizes (64M) or none"

/*
 * One entry of a user_quotas, as written (entry), into *e: 0, or -1 with
 * the problem said, naming the entry.  "none" and "0" are no user quota
 * for the uid, whatever the pool's user_quota.
 */
static int
parse_uquota_entry(struct load_state *ls, const struct config_pool *p,
		   const char *entry, struct uquota_entry *e)
{
	char word[ACL_WORD_MAX], *size;
	const char *why = UQ_FORM;
	uint64_t bytes = 0;
	uid_t uid;
	int rc;

	snprintf(word, sizeof(word), "%s", entry);
	if (!(size = strchr(word, ':')) || size == word || !size[1] ||
	    strchr(size + 1, ':'))
		goto bad;
	*size++ = '\0';
	if ((rc = config_parse_user(word, &uid))) {
		why = rc == -2 ? "4294967295 is no uid: it means none" :
		      "no such user";
		goto bad;
	}
	if (strcmp(size, "none") != 0 && (rc = config_read_size(size, &bytes))) {
		why = rc == SIZE_TOO_LARGE ? "a size of at most 2^64 - 1 "
		      "bytes" : "a size is a number of bytes, optionally "
		      "followed by K, M, G or T, or none";
		goto bad;
	}
	if (strcmp(size, "none") != 0)
		config_note_decimal_unit(ls, "user_quotas", size);
	e->uid = (uint32_t)uid;
	e->bytes = bytes;
	return 0;
bad:
	snprintf(ls->problem, sizeof(ls->problem), "bad user_quotas entry "
		 "'%.*s' in [pool %s] (%s)", ACL_SAID, entry, p->name, why);
	return -1;
}

/*
 * user_quotas = USER:SIZE[, USER:SIZE...] (pool_uquota.h): uids' own user
 * quotas in place of user_quota; "none" alone: none.  Entries are
 * separated as an acl's, and an indented line continues the list, so
 * that 32 fit lines of inih's length; checked as one list (no uid twice,
 * at most UQUOTA_MAX).  0, or -1 with the problem said; p->uquotas
 * changes only when the line is good.
 */
int
config_uquotas_key(struct load_state *ls, struct config_pool *p,
		   const char *value)
{
	const struct list_key k = {"user_quotas", "none alone is the whole "
				   "value: no entry before or after it",
				   ls->uq_line, &ls->uq_none};
	struct uquota_entry e[UQUOTA_MAX], one;
	char word[ACL_WORD_MAX], why[160];
	const char *at = value;
	struct uquota built;
	size_t n = 0;
	int rc;

	if ((rc = list_begin(ls, p, &k, value)) > 0)
		memset(&p->uquotas, 0, sizeof(p->uquotas));
	if (rc)
		return rc < 0 ? -1 : 0;
	if (ls->continues) {
		memcpy(e, p->uquotas.e, p->uquotas.n * sizeof(e[0]));
		n = p->uquotas.n;
	}
	while ((rc = list_word(ls, p, &k, &at, word)) > 0) {
		if (parse_uquota_entry(ls, p, word, &one))
			return -1;
		if (n < UQUOTA_MAX)
			e[n] = one;
		n++;
	}
	if (rc < 0)
		return -1;
	if (n > UQUOTA_MAX)
		return snprintf(ls->problem, sizeof(ls->problem), "bad "
				"user_quotas in [pool %s] (at most %d "
				"entries, not %zu)", p->name, UQUOTA_MAX,
				n), -1;
	if (uquota_build(&built, e, n, why, sizeof(why)))
		return snprintf(ls->problem, sizeof(ls->problem), "bad "
				"user_quotas in [pool %s] (%s)", p->name,
				why), -1;
	p->uquotas = built;
	return 0;
}
