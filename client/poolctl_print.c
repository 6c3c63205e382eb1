/*
 * poolctl_print.c - what poolctl prints on stdout: the ways of writing a
 * value that every command's output shares (sizes, ages, offsets, modes,
 * names safe for a terminal, JSON's numbers, Prometheus's labels, a JSON
 * document), and the results of the commands that act on one pool:
 * create, destroy and set (as JSON only), trim and check.
 *
 * Each command's result is printed by print_COMMAND, as text or, with
 * --json, as one JSON document: list's and stats' by
 * poolctl_print_stats.c, those of the commands that list rows (clients,
 * persisted, names, wait) by poolctl_print_rows.c, status's by
 * poolctl_status.c.  Diagnostics on stderr, and the exit status each
 * failure means, are poolctl_fail.c's.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/* ---------------------------------------------------------------------- */
/* Formatting values. */

struct age_text
age_text(uint64_t ms)
{
	struct age_text	a;
	uint64_t	s = ms / 1000;

	if (ms < 1000)
		snprintf(a.s, sizeof a.s, "%" PRIu64 "ms", ms);
	else if (s < 60)
		snprintf(a.s, sizeof a.s, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(a.s, sizeof a.s, "%" PRIu64 "m%02us", s / 60,
		    (unsigned)(s % 60));
	else if (s < 86400)
		snprintf(a.s, sizeof a.s, "%" PRIu64 "h%02um", s / 3600,
		    (unsigned)(s % 3600 / 60));
	else
		snprintf(a.s, sizeof a.s, "%" PRIu64 "d%02uh", s / 86400,
		    (unsigned)(s % 86400 / 3600));
	return a;
}

struct offset_text
offset_text(uint64_t off)
{
	struct offset_text	o;

	snprintf(o.s, sizeof o.s, "0x%" PRIx64, off);
	return o;
}

struct hsize
human(uint64_t n)
{
	static const char	*unit[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	struct hsize		 h;
	double			 v;
	size_t			 i = 0;

	if (n < 1024) {
		snprintf(h.s, sizeof h.s, "%" PRIu64 " B", n);
		return h;
	}
	/* Move up a unit when "%.1f" would round to 1024.0. */
	v = (double)n / 1024.0;
	while (v >= 1023.95 && i + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024.0;
		i++;
	}
	snprintf(h.s, sizeof h.s, "%.1f %s", v, unit[i]);
	return h;
}

/* Printable ASCII only: see struct safe. */
struct safe
safe(const char *in)
{
	struct safe	 o;
	size_t		 i;

	for (i = 0; i < sizeof o.s - 1 && in[i] != '\0'; i++)
		o.s[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	o.s[i] = '\0';
	return o;
}

struct omode
octal_mode(uint32_t mode)
{
	struct omode	m;

	snprintf(m.s, sizeof m.s, "%04" PRIo32, mode & 07777);
	return m;
}

double
percent(uint64_t part, uint64_t whole)
{
	if (whole == 0)
		return 0.0;
	return 100.0 * (double)part / (double)whole;
}

const char *
numa_name(uint32_t policy)
{
	switch (policy) {
	case POOL_NUMA_NONE:
		return "default";
	case POOL_NUMA_PREFERRED:
		return "preferred";
	case POOL_NUMA_BIND:
		return "bind";
	default:
		return "other";
	}
}

/* The 32- or 64-bit unsigned member at off of a struct at base. */
uint64_t
member_value(const void *base, size_t off, size_t size)
{
	const char	*p = (const char *)base + off;
	uint32_t	 v32;
	uint64_t	 v64;

	if (size == sizeof v32) {
		memcpy(&v32, p, sizeof v32);
		return v32;
	}
	memcpy(&v64, p, sizeof v64);
	return v64;
}

/* ---------------------------------------------------------------------- */
/* JSON, and the Prometheus text format. */

struct json_object *
json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* A Prometheus label value: escape backslash, quote and newline. */
void
prom_label(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

/* A Prometheus family's HELP and TYPE lines. */
void
prom_family(const char *name, const char *type, const char *mhelp)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, mhelp, name, type);
}

/* Print a JSON document (consuming it) on stdout. */
void
json_print(const struct ctl *ctl, struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, ctl->json_flags));
	json_object_put(o);
}

/* ---------------------------------------------------------------------- */
/* Each command's result. */

/* As JSON only: the pool as made, with the daemon's defaults filled in. */
void
print_create(const struct ctl *ctl, const char *name,
    const struct pool_create_opts *o, const struct pool_set_opts *s,
    const struct uq_given *g)
{
	struct json_object	*j;

	if (!ctl->json)
		return;
	j = json_object_new_object();
	json_object_object_add(j, "pool",
	    json_object_new_string(name));
	json_object_object_add(j, "created",
	    json_object_new_boolean(1));
	json_object_object_add(j, "max_size", json_u64(o->max_size));
	json_object_object_add(j, "granularity",
	    json_u64(o->granularity != 0 ? o->granularity : 16));
	json_object_object_add(j, "mode", json_object_new_string(
	    octal_mode(o->mode != 0 ? o->mode : 0600).s));
	json_object_object_add(j, "quota", json_u64(o->quota));
	json_object_object_add(j, "user_quota", json_u64(s->user_quota));
	json_object_object_add(j, "limit", json_u64(s->limit));
	if (o->retain != 0)
		json_object_object_add(j, "retain", json_u64(
		    o->retain == POOL_RETAIN_NONE ? 0 : o->retain));
	if (o->page_size != 0)
		json_object_object_add(j, "page_size", json_u64(o->page_size));
	/*
	 * Absent: the creator's, which the daemon knows and poolctl not.
	 * The name beside the number, as stats' JSON has them.
	 */
	if (o->flags & POOL_CREATE_OWNER) {
		json_object_object_add(j, "uid", json_u64(o->uid));
		json_object_object_add(j, "user", id_json(POOL_ACL_USER,
		    o->uid));
	}
	if (o->flags & POOL_CREATE_GROUP) {
		json_object_object_add(j, "gid", json_u64(o->gid));
		json_object_object_add(j, "group", id_json(POOL_ACL_GROUP,
		    o->gid));
	}
	if (o->numa_policy != POOL_NUMA_NONE) {
		json_object_object_add(j, "numa_policy",
		    json_object_new_string(numa_name(o->numa_policy)));
		json_object_object_add(j, "numa_node",
		    json_u64(o->numa_node));
	}
	if (s->which & POOL_SET_ACL)
		json_object_object_add(j, "acl", acl_json(s->acl, s->nacl));
	uquota_given_json(j, g);
	json_print(ctl, j);
}

/* As JSON only. */
void
print_destroy(const struct ctl *ctl, const char *name)
{
	struct json_object	*j;

	if (!ctl->json)
		return;
	j = json_object_new_object();
	json_object_object_add(j, "pool",
	    json_object_new_string(name));
	json_object_object_add(j, "destroyed",
	    json_object_new_boolean(1));
	json_object_object_add(j, "force",
	    json_object_new_boolean(ctl->force));
	json_print(ctl, j);
}

/* The settings a set gave, as it gave them; nothing without --json. */
void
print_set(const struct ctl *ctl, const char *name,
    const struct pool_set_opts *o, const struct uq_given *g)
{
	struct json_object	*j;

	if (!ctl->json)
		return;
	j = json_object_new_object();
	json_object_object_add(j, "pool", json_object_new_string(name));
	json_object_object_add(j, "set", json_object_new_boolean(1));
	if (o->which & POOL_SET_MODE)
		json_object_object_add(j, "mode", json_object_new_string(
		    octal_mode(o->mode).s));
	if (o->which & POOL_SET_OWNER) {
		json_object_object_add(j, "uid", json_u64(o->uid));
		json_object_object_add(j, "user", id_json(POOL_ACL_USER,
		    o->uid));
	}
	if (o->which & POOL_SET_GROUP) {
		json_object_object_add(j, "gid", json_u64(o->gid));
		json_object_object_add(j, "group", id_json(POOL_ACL_GROUP,
		    o->gid));
	}
	if (o->which & POOL_SET_ACL)
		json_object_object_add(j, "acl", acl_json(o->acl, o->nacl));
	if (o->which & POOL_SET_QUOTA)
		json_object_object_add(j, "quota", json_u64(o->quota));
	if (o->which & POOL_SET_USER_QUOTA)
		json_object_object_add(j, "user_quota",
		    json_u64(o->user_quota));
	if (o->which & POOL_SET_LIMIT)
		json_object_object_add(j, "limit", json_u64(o->limit));
	/* As create's: 0 is none; the default, "default". */
	if ((o->which & POOL_SET_RETAIN) && o->retain == 0)
		json_object_object_add(j, "retain",
		    json_object_new_string("default"));
	else if (o->which & POOL_SET_RETAIN)
		json_object_object_add(j, "retain", json_u64(
		    o->retain == POOL_RETAIN_NONE ? 0 : o->retain));
	uquota_given_json(j, g);
	json_print(ctl, j);
}

void
print_trim(const struct ctl *ctl, const char *name, uint64_t released)
{
	struct json_object	*j;

	if (ctl->json) {
		j = json_object_new_object();
		json_object_object_add(j, "pool",
		    json_object_new_string(name));
		json_object_object_add(j, "released_bytes", json_u64(released));
		json_print(ctl, j);
	} else if (released >= 1024)
		printf("released %s (%" PRIu64 " bytes)\n", human(released).s,
		    released);
	else
		printf("released %" PRIu64 " bytes\n", released);
}

/*
 * The verdict of a check: error 0 (ok) or -EFAULT with the problem in msg.
 * The verdict is data, so a failed check goes to stdout too.
 */
void
print_check(const struct ctl *ctl, const char *name, int error,
    const char *msg)
{
	struct json_object	*j;

	if (ctl->json) {
		j = json_object_new_object();
		json_object_object_add(j, "pool",
		    json_object_new_string(name));
		json_object_object_add(j, "ok",
		    json_object_new_boolean(error == 0));
		json_object_object_add(j, "problem", error == 0 ? NULL :
		    json_object_new_string(msg));
		json_print(ctl, j);
	} else if (error == 0)
		puts("ok");
	else
		printf("%s\n", safe(msg).s);
}
