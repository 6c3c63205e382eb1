/*
 * acl.c - pools' access control lists: reading one (pool_acl_get),
 * changing some of its entries in one request (pool_acl_modify), the
 * encoding pool_set and pool_create_set send (POOL_SET_ACL), and the
 * words poolctl, the Python binding and programs read and print lists in
 * (pool_acl_parse, pool_acl_format).
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_internal.h"

int
client_acl_check(const struct pool_acl_entry *e, size_t n, int rights_matter)
{
	size_t i;

	if (n > POOL_ACL_MAX)
		return -ENOSPC;
	if (n > 0 && e == NULL)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (e[i].kind != POOL_ACL_USER && e[i].kind != POOL_ACL_GROUP)
			return -EINVAL;
		if (e[i].id == (uint32_t)-1 || e[i].reserved != 0)
			return -EINVAL;
		if (rights_matter && (e[i].rights &
		    ~(POOL_ACL_READ | POOL_ACL_WRITE)) != 0)
			return -EINVAL;
	}
	return 0;
}

Poolmgr__Acl *
client_acl_encode(struct client_acl_msg *m, const struct pool_acl_entry *e,
    size_t n)
{
	size_t i;

	poolmgr__acl__init(&m->acl);
	for (i = 0; i < n && i < POOL_ACL_MAX; i++) {
		poolmgr__acl_entry__init(&m->e[i]);
		m->e[i].kind = e[i].kind;
		m->e[i].id = e[i].id;
		m->e[i].rights = e[i].rights;
		m->ptr[i] = &m->e[i];
	}
	m->acl.n_entries = i;
	m->acl.entries = m->ptr;
	return &m->acl;
}

POOL_API int
pool_acl_get(struct pool_conn *c, const char *name, struct pool_acl_entry *out,
    size_t max)
{
	Poolmgr__Reply		*reply;
	const Poolmgr__Acl	*acl;
	size_t			 i, n;
	int			 error;

	conn_forget_refusal();
	if (c == NULL || (out == NULL && max > 0))
		return -EINVAL;
	error = client_stats_reply(c, name, CONN_FEATURE_ACL, &reply);
	if (error != 0)
		return error;
	acl = reply->stats != NULL ? reply->stats->acl : NULL;
	n = acl != NULL ? acl->n_entries : 0;
	if (n > POOL_ACL_MAX) {
		poolmgr__reply__free_unpacked(reply, NULL);
		return -EPROTO;
	}
	for (i = 0; i < n && i < max; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].kind = acl->entries[i]->kind;
		out[i].id = acl->entries[i]->id;
		out[i].rights = acl->entries[i]->rights;
	}
	poolmgr__reply__free_unpacked(reply, NULL);
	return (int)n;
}

POOL_API int
pool_acl_modify(struct pool_conn *c, const char *name,
    const struct pool_acl_entry *add, size_t nadd,
    const struct pool_acl_entry *rm, size_t nrm)
{
	Poolmgr__Request	req = POOLMGR__REQUEST__INIT;
	Poolmgr__SetPool	sp = POOLMGR__SET_POOL__INIT;
	struct client_acl_msg	add_msg, rm_msg;
	int			error;

	conn_forget_refusal();
	if (c == NULL)
		return -EINVAL;
	if ((error = client_acl_check(add, nadd, 1)) != 0 ||
	    (error = client_acl_check(rm, nrm, 0)) != 0)
		return error;
	if ((error = client_check_name(name)) != 0)
		return error;
	if ((c->features & CONN_FEATURE_ACL) == 0)
		return -EOPNOTSUPP;
	sp.name = (char *)name;
	/* Both present, even empty: the daemon then changes nothing. */
	sp.acl_modify = client_acl_encode(&add_msg, add, nadd);
	sp.acl_remove = client_acl_encode(&rm_msg, rm, nrm);
	req.body_case = POOLMGR__REQUEST__BODY_SET;
	req.set = &sp;
	return conn_call(c, &req, POOLMGR__REPLY__BODY__NOT_SET, NULL, NULL);
}

/* The words of a refusal into err, if the caller gave room for them. */
static int
acl_say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
acl_say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A decimal id, all digits, below (uint32_t)-1: 1 and *id, else 0. */
static int
acl_number(const char *s, uint32_t *id)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return 0;
		v = v * 10 + (unsigned)(*s - '0');
		if (v >= UINT32_MAX)
			return -1;
	}
	*id = (uint32_t)v;
	return 1;
}

/* The most a look-up's buffer grows to: far past any real group. */
#define ACL_DB_MOST	(64u << 20)

/*
 * One look-up in the password (kind POOL_ACL_USER) or group database, by
 * the name who, or by *id when who is NULL, in buf's size bytes: 0 with
 * *id and the name into name (len bytes, when name is not NULL), -ERANGE
 * when the entry does not fit in buf, -ENOENT when there is none (or the
 * name does not fit in name).
 */
static int
acl_db_once(unsigned kind, const char *who, uint32_t *id, char *name,
    size_t len, char *buf, size_t size)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	const char *found = NULL;
	int rc;

	if (kind == POOL_ACL_USER) {
		rc = who != NULL ? getpwnam_r(who, &pw, buf, size, &pwp) :
		    getpwuid_r(*id, &pw, buf, size, &pwp);
		if (rc == 0 && pwp != NULL) {
			*id = (uint32_t)pw.pw_uid;
			found = pw.pw_name;
		}
	} else {
		rc = who != NULL ? getgrnam_r(who, &gr, buf, size, &grp) :
		    getgrgid_r(*id, &gr, buf, size, &grp);
		if (rc == 0 && grp != NULL) {
			*id = (uint32_t)gr.gr_gid;
			found = gr.gr_name;
		}
	}
	if (rc == ERANGE)
		return -ERANGE;
	if (rc != 0 || found == NULL)
		return -ENOENT;
	if (name != NULL && (size_t)snprintf(name, len, "%s", found) >= len)
		return -ENOENT;
	return 0;
}

/*
 * acl_db_once with a buffer grown while the entry does not fit: a group
 * of thousands of members takes more than any fixed size would give.
 * 0, -ENOENT or -ENOMEM.
 */
static int
acl_db_grown(unsigned kind, const char *who, uint32_t *id, char *name,
    size_t len)
{
	char *buf = NULL, *bigger;
	size_t size = 4096;
	int rc;

	for (;;) {
		if ((bigger = realloc(buf, size)) == NULL) {
			free(buf);
			return -ENOMEM;
		}
		buf = bigger;
		rc = acl_db_once(kind, who, id, name, len, buf, size);
		if (rc != -ERANGE)
			break;
		if (size >= ACL_DB_MOST) {
			rc = -ENOENT;
			break;
		}
		size *= 2;
	}
	free(buf);
	return rc;
}

/*
 * acl_db_grown, never cancelled halfway (see client_nocancel): the
 * look-ups open the databases' files, cancellation points, and a thread
 * cancelled there would leave its buffer, and pool_acl_parse's copy of
 * the text, behind.
 */
static int
acl_db(unsigned kind, const char *who, uint32_t *id, char *name, size_t len)
{
	int cancel = client_nocancel(), rc;

	rc = acl_db_grown(kind, who, id, name, len);
	client_cancel_restore(cancel);
	return rc;
}

/* rw, r, w, -, and getfacl's three-letter forms; x is no right a pool has. */
static int
acl_rights(const char *s, uint32_t *rights)
{
	static const struct {
		const char *text;
		uint32_t rights;
	} forms[] = {
		{ "rw", POOL_ACL_READ | POOL_ACL_WRITE },
		{ "r", POOL_ACL_READ }, { "w", POOL_ACL_WRITE }, { "-", 0 },
		{ "rw-", POOL_ACL_READ | POOL_ACL_WRITE },
		{ "r--", POOL_ACL_READ }, { "-w-", POOL_ACL_WRITE },
		{ "---", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof forms / sizeof forms[0]; i++)
		if (strcmp(s, forms[i].text) == 0) {
			*rights = forms[i].rights;
			return 0;
		}
	return strchr(s, 'x') != NULL ? -EDOM : -EINVAL;
}

static int
acl_parse_one(char *word, int flags, struct pool_acl_entry *e, char *err,
    size_t errlen)
{
	char *kind = word, *who, *rights = NULL;
	int no_rights = (flags & POOL_ACL_PARSE_NO_RIGHTS) != 0;
	int rc;

	memset(e, 0, sizeof *e);
	if ((who = strchr(word, ':')) == NULL)
		return acl_say(err, errlen, -EINVAL, "'%s': an entry is "
		    "user:WHO%s or group:WHO%s", word, no_rights ? "" :
		    ":RIGHTS", no_rights ? "" : ":RIGHTS");
	*who++ = '\0';
	if (!no_rights && (rights = strrchr(who, ':')) != NULL)
		*rights++ = '\0';
	if (strcmp(kind, "user") == 0 || strcmp(kind, "u") == 0)
		e->kind = POOL_ACL_USER;
	else if (strcmp(kind, "group") == 0 || strcmp(kind, "g") == 0)
		e->kind = POOL_ACL_GROUP;
	else
		return acl_say(err, errlen, -EINVAL, "'%s': an entry is of "
		    "a user or a group (user:, group:, u:, g:)", kind);
	if (!no_rights && rights == NULL)
		return acl_say(err, errlen, -EINVAL, "%s:%s: no rights "
		    "(rw, r, w or -)", kind, who);
	/*
	 * A colon parts the fields of /etc/passwd and /etc/group: no name
	 * holds one, and poolmgrd.conf(5)'s reader refuses such an entry.
	 * Read alike here, rather than look up a name no one can have.
	 * One colon too many in a removal is more likely its rights.
	 */
	if (strchr(who, ':') != NULL && (!no_rights ||
	    strchr(who, ':') != strrchr(who, ':')))
		return acl_say(err, errlen, -EINVAL, "%s:%s%s%s: no %s name "
		    "holds a colon", kind, who, no_rights ? "" : ":",
		    no_rights ? "" : rights, e->kind == POOL_ACL_USER ?
		    "user" : "group");
	if (no_rights && strchr(who, ':') != NULL)
		return acl_say(err, errlen, -EINVAL, "%s:%s: a removal names "
		    "the %s alone, without rights", kind, who,
		    e->kind == POOL_ACL_USER ? "user" : "group");
	if (*who == '\0')
		return acl_say(err, errlen, -EINVAL, "%s:: no %s named", kind,
		    e->kind == POOL_ACL_USER ? "user" : "group");
	rc = no_rights ? 0 : acl_rights(rights, &e->rights);
	if (rc == -EDOM)
		return acl_say(err, errlen, -EINVAL, "%s:%s:%s: x (execute) "
		    "means nothing for a pool: rights are r and w", kind, who,
		    rights);
	if (rc != 0)
		return acl_say(err, errlen, -EINVAL, "%s:%s:%s: rights are "
		    "rw, r, w or - (or rw-, r--, -w-, ---)", kind, who,
		    rights);
	rc = acl_number(who, &e->id);
	if (rc < 0)
		return acl_say(err, errlen, -EINVAL, "%s:%s: an id must be "
		    "below 4294967295", kind, who);
	/* A number is the id itself; else a name to look up. */
	rc = rc == 1 ? 0 : acl_db(e->kind, who, &e->id, NULL, 0);
	if (rc == -ENOMEM)
		return acl_say(err, errlen, -ENOMEM, "%s:%s: out of memory "
		    "looking the %s up", kind, who, e->kind == POOL_ACL_USER ?
		    "user" : "group");
	if (rc != 0)
		return acl_say(err, errlen, -ENOENT, "%s:%s: no such %s", kind,
		    who, e->kind == POOL_ACL_USER ? "user" : "group");
	return 0;
}

POOL_API int
pool_acl_parse(const char *text, int flags, struct pool_acl_entry *out,
    size_t max, char *err, size_t errlen)
{
	char *copy, *word, *save = NULL;
	size_t n = 0;
	int rc = 0;

	/* Nothing is asked: a failure here has no refusal's words. */
	conn_forget_refusal();
	if (err != NULL && errlen > 0)
		*err = '\0';
	if (text == NULL || (out == NULL && max > 0) ||
	    (flags & ~POOL_ACL_PARSE_NO_RIGHTS) != 0)
		return -EINVAL;
	if ((copy = strdup(text)) == NULL)
		return -ENOMEM;
	for (word = strtok_r(copy, ", \t\n", &save); word != NULL;
	    word = strtok_r(NULL, ", \t\n", &save)) {
		/* "none" is the empty list, and only when said alone. */
		if (strcmp(word, "none") == 0) {
			if (n == 0 && strtok_r(NULL, ", \t\n", &save) == NULL)
				break;
			rc = acl_say(err, errlen, -EINVAL, "none stands alone: "
			    "it is the list of no entries");
			break;
		}
		if (n == max) {
			rc = acl_say(err, errlen, -ENOSPC, "more than %zu "
			    "entries", max);
			break;
		}
		if ((rc = acl_parse_one(word, flags, &out[n], err,
		    errlen)) != 0)
			break;
		n++;
	}
	free(copy);
	return rc != 0 ? rc : (int)n;
}

/*
 * Does name read as a number?  Digits, after a sign or not: pool_acl_parse
 * takes digits for the id itself, and poolmgrd.conf(5)'s reader (strtoul)
 * takes "+1000" for uid 1000 too.
 */
static int
acl_name_numeric(const char *name)
{
	if (*name == '+' || *name == '-')
		name++;
	return *name != '\0' && strspn(name, "0123456789") == strlen(name);
}

/*
 * Would pool_acl_parse, and poolmgrd.conf(5), read name back as the entry
 * of kind and id?  Not when it holds what parts entries or their fields
 * (a comma, a colon, a blank) or a control character (a tab, a newline;
 * bytes, whatever the locale), nor when it reads as a number, nor when a
 * look-up by the name finds another id (one name on two entries of a
 * database: the first wins).  Such names come from NSS sources (LDAP,
 * sssd) and /etc/group; the number says the same entry in every case.
 */
static int
acl_name_reads_back(unsigned kind, const char *name, uint32_t id)
{
	const unsigned char *c;
	uint32_t back;

	for (c = (const unsigned char *)name; *c != '\0'; c++)
		if (*c == ',' || *c == ':' || *c == ' ' || *c < 0x20 ||
		    *c == 0x7f)
			return 0;
	if (*name == '\0' || acl_name_numeric(name))
		return 0;
	return acl_db(kind, name, &back, NULL, 0) == 0 && back == id;
}

/*
 * A name for e's id when asked, the database has one and it reads back
 * as e's id (acl_name_reads_back), else NULL: the number is written.
 */
static const char *
acl_name(const struct pool_acl_entry *e, int flags, char *buf, size_t len)
{
	uint32_t id = e->id;

	if ((flags & POOL_ACL_FORMAT_NAMES) == 0)
		return NULL;
	if (acl_db(e->kind, NULL, &id, buf, len) != 0)
		return NULL;
	return acl_name_reads_back(e->kind, buf, e->id) ? buf : NULL;
}

static const char *
acl_rights_text(uint32_t rights)
{
	switch (rights & (POOL_ACL_READ | POOL_ACL_WRITE)) {
	case POOL_ACL_READ | POOL_ACL_WRITE:
		return "rw";
	case POOL_ACL_READ:
		return "r";
	case POOL_ACL_WRITE:
		return "w";
	default:
		return "-";
	}
}

POOL_API int
pool_acl_format(const struct pool_acl_entry *e, size_t n, int flags,
    char *buf, size_t len)
{
	char namebuf[256], idbuf[16];
	size_t i, need = 0;
	const char *name;
	int k;

	/* As pool_acl_parse: nothing is asked, so no words are left. */
	conn_forget_refusal();
	if ((n > 0 && e == NULL) || (buf == NULL && len > 0) ||
	    (flags & ~POOL_ACL_FORMAT_NAMES) != 0)
		return -EINVAL;
	if (len > 0)
		*buf = '\0';
	if (n == 0)
		return snprintf(buf, len, "none");
	for (i = 0; i < n; i++) {
		/*
		 * Words that would read back as another entry, or as none
		 * (rights 8 as "-", id 4294967295, which pool_acl_parse
		 * refuses), would break the promise that they read back.
		 */
		if ((e[i].kind != POOL_ACL_USER &&
		    e[i].kind != POOL_ACL_GROUP) || e[i].id == UINT32_MAX ||
		    (e[i].rights & ~(uint32_t)(POOL_ACL_READ |
		    POOL_ACL_WRITE)) != 0)
			return -EINVAL;
		name = acl_name(&e[i], flags, namebuf, sizeof namebuf);
		if (name == NULL) {
			snprintf(idbuf, sizeof idbuf, "%u", (unsigned)e[i].id);
			name = idbuf;
		}
		k = snprintf(need < len ? buf + need : NULL,
		    need < len ? len - need : 0, "%s%s:%s:%s", i ? "," : "",
		    e[i].kind == POOL_ACL_USER ? "user" : "group", name,
		    acl_rights_text(e[i].rights));
		if (k < 0)
			return -EINVAL;
		need += (size_t)k;
	}
	return need > INT_MAX ? -EOVERFLOW : (int)need;
}
