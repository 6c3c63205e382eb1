/*
 * poolctl_acl_text.c - access control entries in words and in JSON, as
 * acl, create, set and stats print them: names where the password and
 * group databases have them, rights in the words pool_acl_parse reads.
 * Apart from poolctl_acl.c so that the printing of stats
 * (poolctl_print.c) needs nothing of the command's.
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

struct acl_who
acl_who(uint32_t kind, uint32_t id)
{
	struct acl_who	 w;
	char		 buf[16384];
	const char	*name = acl_id_name(kind, id, buf, sizeof buf);

	if (name != NULL)
		snprintf(w.s, sizeof w.s, "%s", safe(name).s);
	else
		snprintf(w.s, sizeof w.s, "%" PRIu32, id);
	return w;
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

void
acl_words(const struct pool_acl_entry *e, size_t n, bool names, char *buf,
    size_t len)
{
	char	*p;

	if (pool_acl_format(e, n, names ? POOL_ACL_FORMAT_NAMES : 0, buf,
	    len) < 0)
		snprintf(buf, len, "?");
	/* A name from the databases is said, not obeyed by the terminal. */
	for (p = buf; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
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
