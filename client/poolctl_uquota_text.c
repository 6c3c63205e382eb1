/*
 * poolctl_uquota_text.c - uids' own user quotas as stats prints them
 * (text, kv, JSON), and as create and set print what they gave (JSON).
 * Names are shown where the password database has them, numbers where
 * it has none or under -n; kv output keeps the numbers, for scripts, as
 * it does for access control lists.  Apart from poolctl_uquota.c so that
 * the printing of stats (poolctl_print_stats.c) needs nothing of the command
 * line's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/* A SIZE as poolctl shows it: "8.0 GiB", or none for no user quota. */
static const char *
uq_bytes_text(uint64_t bytes, struct hsize *h)
{
	if (bytes == 0)
		return "none";
	*h = human(bytes);
	return h->s;
}

/*
 * "alice:8.0 GiB, 1005:64.0 MiB, backup:none", right-aligned as the
 * other lines while it fits, last, as the access control list is: 32
 * entries make it too long to be a column of the others.
 */
void
uquota_print_text(const struct ctl *ctl, const struct ctl_uquota *u,
    size_t w)
{
	char		 words[POOL_USER_QUOTA_MAX * 300];
	struct hsize	 h;
	size_t		 at = 0;
	int		 i, k;

	if (u == NULL || u->n < 1)
		return;
	words[0] = '\0';
	for (i = 0; i < u->n && at < sizeof words; i++) {
		k = snprintf(words + at, sizeof words - at, "%s%s:%s",
		    i > 0 ? ", " : "", id_who(ctl, POOL_ACL_USER,
		    u->e[i].uid).s, uq_bytes_text(u->e[i].bytes, &h));
		if (k < 0)
			break;
		at += (size_t)k;
	}
	printf("  %-20s %*s\n", "user quotas", (int)w, words);
}

/* "POOL user_quotas 1000:8589934592,1005:0": numbers only, 0 for none. */
void
uquota_print_kv(const char *pool, const struct ctl_uquota *u)
{
	int	i;

	if (u == NULL || u->n < 1)
		return;
	printf("%s user_quotas ", pool);
	for (i = 0; i < u->n; i++)
		printf("%s%" PRIu32 ":%" PRIu64, i > 0 ? "," : "",
		    u->e[i].uid, u->e[i].bytes);
	putchar('\n');
}

/* n entries as a JSON array of {uid, user, bytes}. */
static struct json_object *
uq_entries_json(const struct pool_user_quota *e, size_t n)
{
	struct json_object	*a, *o;
	size_t			 i;

	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "uid",
		    json_object_new_uint64(e[i].uid));
		json_object_object_add(o, "user", id_json(POOL_ACL_USER,
		    e[i].uid));
		json_object_object_add(o, "bytes",
		    json_object_new_uint64(e[i].bytes));
		json_object_array_add(a, o);
	}
	return a;
}

/* NULL where they could not be had: the key is then left out. */
struct json_object *
uquota_json(const struct ctl_uquota *u)
{
	if (u == NULL || u->n < 0)
		return NULL;
	return uq_entries_json(u->e, (size_t)u->n);
}

void
uquota_given_json(struct json_object *j, const struct uq_given *g)
{
	struct json_object	*a, *o;
	size_t			 i;

	if (g == NULL)
		return;
	if (g->nset > 0)
		json_object_object_add(j, "user_quotas",
		    uq_entries_json(g->set, g->nset));
	if (g->nrm > 0) {
		/* {uid, user}, as the entries set name theirs. */
		a = json_object_new_array();
		for (i = 0; i < g->nrm; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "uid",
			    json_object_new_uint64(g->rm[i]));
			json_object_object_add(o, "user",
			    id_json(POOL_ACL_USER, g->rm[i]));
			json_object_array_add(a, o);
		}
		json_object_object_add(j, "user_quotas_removed", a);
	}
}
