/*
 * poolctl_acl_text.c - access control entries in words and in JSON, as
 * acl, create, set and stats print them: names where the password and
 * group databases have them and they read back as their ids (numbers
 * where not), rights in the words pool_acl_parse reads;
 * and the uids and gids of every text table by the same names (id_who,
 * -n for numbers), in JSON beside the numbers (id_json).
 * Apart from poolctl_acl.c so that the printing of stats
 * (poolctl_print_stats.c) needs nothing of the command's.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/*
 * The name of uid or gid where the database has one (and it fits in
 * len), copied into buf, else NULL.  poolctl is one thread: getpwuid and
 * getgrgid may serve it, and their buffers grow to a group of any number
 * of members, where a fixed one would say ERANGE.
 */
const char *
acl_id_name(uint32_t kind, uint32_t id, char *buf, size_t len)
{
	struct passwd	*pw;
	struct group	*gr;
	const char	*name = NULL;

	if (kind == POOL_ACL_USER) {
		if ((pw = getpwuid(id)) != NULL)
			name = pw->pw_name;
	} else if ((gr = getgrgid(id)) != NULL)
		name = gr->gr_name;
	if (name == NULL || (size_t)snprintf(buf, len, "%s", name) >= len)
		return NULL;
	return buf;
}

/*
 * The names looked up so far, the last 64: blocks may list millions of
 * blocks of a handful of persisters, and each getpwuid may read the
 * whole password database (or ask a directory server).  A name is cut at
 * 255 bytes, as acl_who's copy cuts it; names are shorter (LOGIN_NAME_MAX).
 */
#define ID_SEEN_MAX	64

struct id_seen {
	uint32_t	kind, id;
	bool		named;
	char		name[256];
};

static struct id_seen	id_seen[ID_SEEN_MAX];
static size_t		id_seen_n, id_seen_next;

/*
 * The name of uid or gid (kind POOL_ACL_USER or POOL_ACL_GROUP), or NULL:
 * none known.  Good until the next call, which may reuse its slot.
 */
static const char *
id_name(uint32_t kind, uint32_t id)
{
	struct id_seen	*s;
	const char	*name;
	char		 buf[16384];
	size_t		 i;

	for (i = 0; i < id_seen_n; i++)
		if (id_seen[i].kind == kind && id_seen[i].id == id)
			return id_seen[i].named ? id_seen[i].name : NULL;
	if (id_seen_n < ID_SEEN_MAX)
		s = &id_seen[id_seen_n++];
	else
		s = &id_seen[id_seen_next++ % ID_SEEN_MAX];
	name = acl_id_name(kind, id, buf, sizeof buf);
	s->kind = kind;
	s->id = id;
	s->named = name != NULL;
	if (name != NULL)
		snprintf(s->name, sizeof s->name, "%.*s",
		    (int)sizeof s->name - 1, name);
	return s->named ? s->name : NULL;
}

struct acl_who
acl_who(uint32_t kind, uint32_t id)
{
	struct acl_who	 w;
	const char	*name = id_name(kind, id);

	if (name != NULL)
		snprintf(w.s, sizeof w.s, "%s", safe(name).s);
	else
		snprintf(w.s, sizeof w.s, "%" PRIu32, id);
	return w;
}

struct acl_who
id_who(const struct ctl *ctl, uint32_t kind, uint32_t id)
{
	struct acl_who	w;

	if (!ctl->numeric)
		return acl_who(kind, id);
	snprintf(w.s, sizeof w.s, "%" PRIu32, id);
	return w;
}

struct json_object *
id_json(uint32_t kind, uint32_t id)
{
	const char	*name = id_name(kind, id);

	return name != NULL ? json_object_new_string(name) : NULL;
}

/* An entry's rights in the words pool_acl_parse reads: rw, r, w or -. */
const char *
acl_rights_word(uint32_t rights)
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

struct acl_perm
acl_perm(uint32_t rights)
{
	struct acl_perm	p;

	p.s[0] = rights & POOL_ACL_READ ? 'r' : '-';
	p.s[1] = rights & POOL_ACL_WRITE ? 'w' : '-';
	p.s[2] = '-';
	p.s[3] = '\0';
	return p;
}

/* Is every byte of s printable ASCII, as safe() leaves it? */
static bool
acl_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/*
 * Entry e in words, as pool_acl_format writes it (names when asked: a
 * name that reads back as e's id), into buf.  A name the terminal would
 * not see as it is (a byte past printable ASCII, which safe() shows as
 * '?') is the number instead: a '?' names no one, and the words must
 * read back as the entry.  False when the words do not fit.
 */
bool
acl_entry_words(const struct pool_acl_entry *e, bool names, char *buf,
    size_t len)
{
	int	k;

	k = pool_acl_format(e, 1, names ? POOL_ACL_FORMAT_NAMES : 0, buf,
	    len);
	if (k >= 0 && (size_t)k < len && !acl_printable(buf))
		k = pool_acl_format(e, 1, 0, buf, len);
	return k >= 0 && (size_t)k < len;
}

void
acl_words(const struct pool_acl_entry *e, size_t n, bool names, char *buf,
    size_t len)
{
	char	one[sizeof(struct acl_who) + 16];
	size_t	i, at = 0;
	int	k;

	if (n == 0 || len == 0) {
		snprintf(buf, len, "none");
		return;
	}
	*buf = '\0';
	for (i = 0; i < n && at < len; i++) {
		if (!acl_entry_words(&e[i], names, one, sizeof one))
			snprintf(one, sizeof one, "?");
		k = snprintf(buf + at, len - at, "%s%s", i ? "," : "", one);
		if (k < 0)
			break;
		at += (size_t)k;
	}
}

struct json_object *
acl_json(const struct pool_acl_entry *e, size_t n)
{
	struct json_object	*a, *o;
	const char		*name;
	char			 buf[16384];
	size_t			 i;

	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		name = acl_id_name(e[i].kind, e[i].id, buf, sizeof buf);
		o = json_object_new_object();
		json_object_object_add(o, "kind", json_object_new_string(
		    e[i].kind == POOL_ACL_USER ? "user" : "group"));
		json_object_object_add(o, "id", json_object_new_uint64(
		    e[i].id));
		json_object_object_add(o, "name", name != NULL ?
		    json_object_new_string(name) : NULL);
		json_object_object_add(o, "rights", json_object_new_string(
		    acl_rights_word(e[i].rights)));
		json_object_array_add(a, o);
	}
	return a;
}
