/*
 * poolctl_print.c - what poolctl prints on stdout: each command's result.
 *
 * Each command's result is printed by print_COMMAND, as text or, with
 * --json, as one JSON document.  The statistics of a pool are described
 * once, in stat_fields[]; the text table, JSON, kv and Prometheus output
 * are all generated from that one table so that they cannot drift.  The
 * count of a pool's access control list's entries, no quantity of its
 * use, is not in it: it goes beside the mode (list's "+", acl_entries in
 * JSON and kv), and the count of its uids' own user quotas after it
 * (user_quota_entries); Prometheus has both as gauges of their own.
 * Diagnostics on stderr, and the exit status each failure means, are
 * poolctl_fail.c's.
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

/*
 * A name as one field of a line of data, for block names (any bytes but
 * NUL) and client names: printable ASCII as it is, but the blank, the
 * backslash and every other byte as \xHH, so that no name splits its
 * field or starts a line of its own (a newline), the line keeps its
 * number of fields for awk, and the bytes come back whole (printf '%b'
 * of bash or coreutils reads \xHH).  A block name (255 bytes) fits.
 */
struct field {
	char	s[4 * POOL_BLOCK_NAME_MAX + 1];
};

static struct field
field(const char *in)
{
	static const char	 hex[] = "0123456789abcdef";
	struct field		 o;
	const unsigned char	*p = (const unsigned char *)in;
	size_t			 n = 0;

	for (; *p != '\0' && n + 4 < sizeof o.s; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '\\') {
			o.s[n++] = (char)*p;
			continue;
		}
		o.s[n++] = '\\';
		o.s[n++] = 'x';
		o.s[n++] = hex[*p >> 4];
		o.s[n++] = hex[*p & 0xf];
	}
	o.s[n] = '\0';
	return o;
}

/* Permission bits as chmod writes them, "0660". */
struct omode {
	char	s[8];
};

static struct omode
octal_mode(uint32_t mode)
{
	struct omode	m;

	snprintf(m.s, sizeof m.s, "%04" PRIo32, mode & 07777);
	return m;
}

/*
 * The mode as list shows it: "0660", and "0660+" for a pool with an
 * access control list, as ls -l marks a file that has one.
 */
static struct omode
list_mode(const struct pool_stats *ps)
{
	struct omode	m = octal_mode(ps->mode);

	if (ps->acl_entries > 0)
		strcat(m.s, "+");
	return m;
}

static double
percent(uint64_t part, uint64_t whole)
{
	if (whole == 0)
		return 0.0;
	return 100.0 * (double)part / (double)whole;
}

/* External fragmentation: 1 - largest_free / free_bytes, 0 if none free. */
static double
fragmentation(const struct pool_stats *ps)
{
	if (ps->free_bytes == 0)
		return 0.0;
	return 100.0 - percent(ps->largest_free, ps->free_bytes);
}

/* A NUMA policy's name, as numa_maps writes the kernel's. */
static const char *
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

/* A pool's NUMA policy in a word: "default", or "preferred:0". */
struct numa_word {
	char	s[24];
};

static struct numa_word
numa_word(const struct pool_stats *ps)
{
	struct numa_word	w;

	if (ps->numa_policy == POOL_NUMA_NONE)
		snprintf(w.s, sizeof w.s, "%s", numa_name(ps->numa_policy));
	else
		snprintf(w.s, sizeof w.s, "%s:%" PRIu32,
		    numa_name(ps->numa_policy), ps->numa_node);
	return w;
}

/* ---------------------------------------------------------------------- */
/* The statistics of a pool, described once for every output format. */

enum field_kind {
	K_BYTES,	/* a byte count: human size */
	K_NUM,		/* a plain number */
	K_MODE,		/* permission bits: octal */
	K_BYTES_OR_NONE, /* bytes, 0 meaning none (quota, retain) */
	K_UID,		/* a uid: its name in text, beside it in JSON */
	K_GID,		/* a gid: likewise */
};

struct stat_field {
	const char	*key;		/* pool_stats member, JSON key */
	const char	*label;		/* text table */
	size_t		 off, size;
	enum field_kind	 kind;
	bool		 counter;	/* only grows (Prometheus counter) */
	const char	*metric;	/* Prometheus name; NULL: none */
	const char	*mhelp;		/* Prometheus HELP */
};

#define SF(f, label, kind, counter, metric, mhelp)			\
	{ #f, label, offsetof(struct pool_stats, f),			\
	  sizeof(((struct pool_stats *)0)->f), kind, counter, metric, mhelp }

static const struct stat_field stat_fields[] = {
	SF(max_size, "size", K_BYTES, false, "poolmgr_pool_size_bytes",
	    "Size of the pool."),
	SF(committed_bytes, "committed", K_BYTES, false,
	    "poolmgr_pool_committed_bytes",
	    "Bytes resident in the pool's memfd."),
	SF(allocated_bytes, "allocated", K_BYTES, false,
	    "poolmgr_pool_allocated_bytes",
	    "Bytes in live blocks, at their rounded sizes."),
	SF(requested_bytes, "requested", K_BYTES, false,
	    "poolmgr_pool_requested_bytes",
	    "Bytes the callers asked for in live blocks."),
	SF(free_bytes, "free", K_BYTES, false, "poolmgr_pool_free_bytes",
	    "Free bytes in the pool."),
	SF(largest_free, "largest free run", K_BYTES, false,
	    "poolmgr_pool_largest_free_bytes",
	    "Length of the longest free run."),
	SF(live_blocks, "live blocks", K_NUM, false,
	    "poolmgr_pool_live_blocks", "Live blocks."),
	SF(clients, "open handles", K_NUM, false, "poolmgr_pool_clients",
	    "Open handles of the pool."),
	SF(allocs, "allocations", K_NUM, true, "poolmgr_pool_allocs_total",
	    "Successful allocations."),
	SF(frees, "frees", K_NUM, true, "poolmgr_pool_frees_total",
	    "Blocks freed."),
	SF(failed_allocs, "failed allocations", K_NUM, true,
	    "poolmgr_pool_failed_allocs_total", "Allocations that failed."),
	SF(quota_refusals, "quota refusals", K_NUM, true,
	    "poolmgr_pool_quota_refusals_total",
	    "Requests refused by the quota per connection."),
	SF(user_quota_refusals, "user quota refusals", K_NUM, true,
	    "poolmgr_pool_user_quota_refusals_total",
	    "Requests refused by the quota per user."),
	SF(alloc_waits, "waiting allocations", K_NUM, false,
	    "poolmgr_pool_alloc_waits",
	    "Allocations waiting for room in the pool now."),
	SF(invalid_frees, "invalid frees", K_NUM, true,
	    "poolmgr_pool_invalid_frees_total",
	    "Frees of offsets that were not live blocks."),
	SF(cached_bytes, "in reuse caches", K_BYTES, false,
	    "poolmgr_pool_cached_bytes",
	    "Bytes held in the daemon's reuse caches."),
	SF(client_cached_bytes, "in client caches", K_BYTES, false,
	    "poolmgr_pool_client_cached_bytes",
	    "Bytes of live blocks freed by programs and kept in their "
	    "handles' caches."),
	SF(metadata_bytes, "allocator metadata", K_BYTES, false,
	    "poolmgr_pool_metadata_bytes",
	    "Daemon memory used by the pool's allocator metadata."),
	SF(books_bytes, "daemon bookkeeping", K_BYTES, false,
	    "poolmgr_pool_books_bytes",
	    "Daemon memory the pool's books take: allocator metadata, a "
	    "record per live block and per further holder, the index of "
	    "blocks."),
	SF(free_resident_bytes, "free, still resident", K_BYTES, false,
	    "poolmgr_pool_free_resident_bytes",
	    "Bytes of wholly free pages kept resident for reuse; a trim "
	    "gives them back (not on huge pages, kept for the pool's "
	    "life)."),
	SF(released_bytes, "released to the OS", K_BYTES, true,
	    "poolmgr_pool_released_bytes_total",
	    "Bytes given back to the OS so far."),
	SF(persistent_blocks, "persistent blocks", K_NUM, false,
	    "poolmgr_pool_persistent_blocks",
	    "Blocks the pool itself holds a reference to."),
	SF(named_blocks, "named blocks", K_NUM, false,
	    "poolmgr_pool_named_blocks",
	    "Blocks with a name; each name holds the pool's reference."),
	SF(evictions, "evictions", K_NUM, true,
	    "poolmgr_pool_evictions_total",
	    "Evictable named blocks evicted: for room, a quota or the limit."),
	SF(evicted_bytes, "evicted", K_BYTES, true,
	    "poolmgr_pool_evicted_bytes_total",
	    "Bytes of the named blocks evicted."),
	SF(granularity, "granularity", K_NUM, false,
	    "poolmgr_pool_granularity_bytes", "Allocation granularity."),
	SF(page_size, "page size", K_NUM, false,
	    "poolmgr_pool_page_size_bytes", "Page size of the pool."),
	SF(mode, "mode", K_MODE, false, NULL, NULL),
	SF(uid, "owner", K_UID, false, NULL, NULL),
	SF(gid, "group", K_GID, false, NULL, NULL),
	SF(quota, "quota per connection", K_BYTES_OR_NONE, false,
	    "poolmgr_pool_quota_bytes", "Per-connection quota; 0 means none."),
	SF(user_quota, "quota per user", K_BYTES_OR_NONE, false,
	    "poolmgr_pool_user_quota_bytes",
	    "Most bytes all connections of one uid may hold together, with "
	    "the blocks it made persistent; 0 means none."),
	SF(limit, "limit", K_BYTES_OR_NONE, false,
	    "poolmgr_pool_limit_bytes",
	    "Most bytes the pool's live blocks may hold together; 0 means "
	    "none."),
	SF(retain_bytes, "retain", K_BYTES_OR_NONE, false,
	    "poolmgr_pool_retain_bytes",
	    "Free memory of small blocks kept for reuse before it goes back "
	    "to the OS; 0 means none."),
};
#define NFIELDS (sizeof stat_fields / sizeof stat_fields[0])

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

static uint64_t
field_value(const struct pool_stats *ps, const struct stat_field *f)
{
	return member_value(ps, f->off, f->size);
}

/*
 * One line of a pool's text statistics: its label, its value and, for a
 * size of 1 KiB or more, the exact count after it.
 */
struct stat_line {
	const char	*label;
	char		 value[sizeof(struct acl_who)];	/* names fit */
	bool		 exact;
	uint64_t	 bytes;
};

/* The narrowest the value column is: most values fit without widening. */
#define STAT_VALUE_WIDTH	10

static void
stat_line_field(const struct ctl *ctl, struct stat_line *l,
    const struct pool_stats *ps, const struct stat_field *f)
{
	uint64_t	v = field_value(ps, f);

	l->label = f->label;
	l->exact = false;
	switch (f->kind) {
	case K_BYTES_OR_NONE:
		if (v == 0) {
			snprintf(l->value, sizeof l->value, "none");
			break;
		}
		/* FALLTHROUGH */
	case K_BYTES:
		snprintf(l->value, sizeof l->value, "%s", human(v).s);
		l->exact = v >= 1024;
		l->bytes = v;
		break;
	case K_MODE:
		snprintf(l->value, sizeof l->value, "%s",
		    octal_mode((uint32_t)v).s);
		break;
	case K_NUM:
		snprintf(l->value, sizeof l->value, "%" PRIu64, v);
		break;
	case K_UID:
	case K_GID:
		snprintf(l->value, sizeof l->value, "%s", id_who(ctl,
		    f->kind == K_UID ? POOL_ACL_USER : POOL_ACL_GROUP,
		    (uint32_t)v).s);
		break;
	}
}

static void
stat_line_text(struct stat_line *l, const char *label, const char *value)
{
	l->label = label;
	l->exact = false;
	snprintf(l->value, sizeof l->value, "%s", value);
}

static void
stat_line_percent(struct stat_line *l, const char *label, double v)
{
	l->label = label;
	l->exact = false;
	snprintf(l->value, sizeof l->value, "%.1f%%", v);
}

/* A pool's text statistics, in lines (NFIELDS + 3 of them). */
#define STAT_LINES	(NFIELDS + 3)

static void
stat_lines(const struct ctl *ctl, const struct pool_stats *ps,
    struct stat_line *lines)
{
	size_t	i, n = 0;

	for (i = 0; i < NFIELDS; i++)
		stat_line_field(ctl, &lines[n++], ps, &stat_fields[i]);
	stat_line_text(&lines[n++], "NUMA policy", numa_word(ps).s);
	stat_line_percent(&lines[n++], "used", percent(ps->allocated_bytes,
	    ps->max_size));
	stat_line_percent(&lines[n++], "fragmentation", fragmentation(ps));
}

/*
 * The value column is as wide as the widest value of all the pools shown
 * (a counter past 10 digits, "preferred:1023"), so that none pushes its
 * line out of step with the others.
 */
static size_t
stats_text_width(const struct ctl *ctl, const struct pool_stats *ps,
    size_t n)
{
	struct stat_line	 lines[STAT_LINES];
	size_t			 i, j, w = STAT_VALUE_WIDTH;

	for (i = 0; i < n; i++) {
		stat_lines(ctl, &ps[i], lines);
		for (j = 0; j < STAT_LINES; j++) {
			if (strlen(lines[j].value) > w)
				w = strlen(lines[j].value);
		}
	}
	return w;
}

/*
 * The pool's access control list, last: in words with names (numbers
 * under -n), as long as 32 entries make it, so it is no stat_line (whose
 * value would widen every pool's column); right-aligned as the others
 * while it fits.  Nothing when the daemon has no lists (acl NULL) or the
 * pool's could not be had.
 */
static void
print_stats_text_acl(const struct ctl *ctl, const struct ctl_acl *acl,
    size_t w)
{
	char	words[POOL_ACL_MAX * 300];

	if (acl == NULL || acl->n < 0)
		return;
	acl_words(acl->e, (size_t)acl->n, !ctl->numeric, words,
	    sizeof words);
	printf("  %-20s %*s\n", "access control list", (int)w, words);
}

static void
print_stats_text(const struct ctl *ctl, const struct pool_stats *ps,
    const struct ctl_acl *acl, const struct ctl_uquota *uq, size_t w)
{
	struct stat_line	 lines[STAT_LINES];
	size_t			 i;

	stat_lines(ctl, ps, lines);
	printf("pool %s\n", safe(ps->name).s);
	for (i = 0; i < STAT_LINES; i++) {
		printf("  %-20s %*s", lines[i].label, (int)w, lines[i].value);
		if (lines[i].exact)
			printf("  (%" PRIu64 ")", lines[i].bytes);
		putchar('\n');
	}
	print_stats_text_acl(ctl, acl, w);
	uquota_print_text(ctl, uq, w);
}

static struct json_object *
json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

/* A percentage as a JSON number with two decimals, not %.17g noise. */
static struct json_object *
json_pct(double v)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "%.2f", v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *
json_stats(const struct pool_stats *ps, const struct ctl_acl *acl,
    const struct ctl_uquota *uq)
{
	const struct stat_field	*f;
	struct json_object	*o, *uqj;
	struct omode		 mode;
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(ps->name));
	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		if (f->kind == K_MODE) {
			/* JSON has no octal; "0660" reads as a mode. */
			mode = octal_mode((uint32_t)field_value(ps, f));
			json_object_object_add(o, f->key,
			    json_object_new_string(mode.s));
			/* Beside the mode, as list's text marks it there. */
			json_object_object_add(o, "acl_entries",
			    json_u64(ps->acl_entries));
			json_object_object_add(o, "user_quota_entries",
			    json_u64(ps->user_quota_entries));
		} else
			json_object_object_add(o, f->key,
			    json_u64(field_value(ps, f)));
		/* Beside the number, the name: a script may want either. */
		if (f->kind == K_UID)
			json_object_object_add(o, "user", id_json(
			    POOL_ACL_USER, (uint32_t)field_value(ps, f)));
		else if (f->kind == K_GID)
			json_object_object_add(o, "group", id_json(
			    POOL_ACL_GROUP, (uint32_t)field_value(ps, f)));
	}
	json_object_object_add(o, "numa_policy",
	    json_object_new_string(numa_name(ps->numa_policy)));
	json_object_object_add(o, "numa_node",
	    ps->numa_policy == POOL_NUMA_NONE ? NULL :
	    json_u64(ps->numa_node));
	json_object_object_add(o, "used_percent",
	    json_pct(percent(ps->allocated_bytes, ps->max_size)));
	json_object_object_add(o, "fragmentation_percent",
	    json_pct(fragmentation(ps)));
	/* Absent where the daemon has no lists: not an empty one. */
	if (acl != NULL && acl->n >= 0)
		json_object_object_add(o, "acl",
		    acl_json(acl->e, (size_t)acl->n));
	/* Likewise absent where the daemon has no uids' own user quotas. */
	if ((uqj = uquota_json(uq)) != NULL)
		json_object_object_add(o, "user_quotas", uqj);
	return o;
}

/*
 * One "POOL KEY VALUE" line per statistic, as memcached's stats: the JSON
 * key, a plain number (a mode in octal), so that
 * `poolctl stats --format=kv | awk '$2 == "free_bytes"'` needs no parsing.
 * Pool names hold no blanks (the daemon's rule).
 */
static void
print_stats_kv(const struct pool_stats *ps, const struct ctl_acl *acl,
    const struct ctl_uquota *uq)
{
	char			 words[POOL_ACL_MAX * 24];
	const struct stat_field	*f;
	uint64_t		 v;
	size_t			 i;

	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		v = field_value(ps, f);
		if (f->kind == K_MODE) {
			printf("%s %s %s\n", ps->name, f->key,
			    octal_mode((uint32_t)v).s);
			printf("%s acl_entries %" PRIu32 "\n", ps->name,
			    ps->acl_entries);
			printf("%s user_quota_entries %" PRIu32 "\n",
			    ps->name, ps->user_quota_entries);
		} else
			printf("%s %s %" PRIu64 "\n", ps->name, f->key, v);
	}
	/* A word, as mode is octal; no node without a policy. */
	printf("%s numa_policy %s\n", ps->name, numa_name(ps->numa_policy));
	if (ps->numa_policy != POOL_NUMA_NONE)
		printf("%s numa_node %" PRIu32 "\n", ps->name, ps->numa_node);
	/* The derived figures the text and JSON give, as JSON words them. */
	printf("%s used_percent %.2f\n", ps->name,
	    percent(ps->allocated_bytes, ps->max_size));
	printf("%s fragmentation_percent %.2f\n", ps->name, fragmentation(ps));
	/* Numbers, not names: "acl user:1001:r,group:27:rw" or "acl none". */
	if (acl != NULL && acl->n >= 0) {
		acl_words(acl->e, (size_t)acl->n, false, words, sizeof words);
		printf("%s acl %s\n", ps->name, words);
	}
	uquota_print_kv(ps->name, uq);
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

/*
 * A gauge of a count kept outside stat_fields (as uint32_t at offset off
 * of struct pool_stats): HELP and TYPE, then a sample per pool.
 */
static void
prom_count(const char *metric, const char *mhelp, size_t off,
    const struct pool_stats *ps, size_t n)
{
	uint32_t	v;
	size_t		j;

	prom_family(metric, "gauge", mhelp);
	for (j = 0; j < n; j++) {
		memcpy(&v, (const char *)&ps[j] + off, sizeof v);
		printf("%s{pool=\"", metric);
		prom_label(ps[j].name);
		printf("\"} %" PRIu32 "\n", v);
	}
}

/*
 * The Prometheus text exposition format: each family's HELP and TYPE once,
 * then one sample per pool.  Mode and owner are not quantities, so they go
 * into the labels of a constant poolmgr_pool_info, as node_exporter does.
 */
static void
print_stats_prometheus(const struct pool_stats *ps, size_t n)
{
	const struct stat_field	*f;
	size_t			 i, j;

	for (i = 0; i < NFIELDS; i++) {
		f = &stat_fields[i];
		if (f->metric == NULL)
			continue;
		prom_family(f->metric, f->counter ? "counter" : "gauge",
		    f->mhelp);
		for (j = 0; j < n; j++) {
			printf("%s{pool=\"", f->metric);
			prom_label(ps[j].name);
			printf("\"} %" PRIu64 "\n", field_value(&ps[j], f));
		}
	}
	prom_family("poolmgr_pool_used_ratio", "gauge",
	    "allocated_bytes / size.");
	for (j = 0; j < n; j++) {
		printf("poolmgr_pool_used_ratio{pool=\"");
		prom_label(ps[j].name);
		printf("\"} %.6f\n",
		    percent(ps[j].allocated_bytes, ps[j].max_size) / 100.0);
	}
	prom_family("poolmgr_pool_fragmentation_ratio", "gauge",
	    "1 - largest_free / free_bytes; 0 when nothing is free.");
	for (j = 0; j < n; j++) {
		printf("poolmgr_pool_fragmentation_ratio{pool=\"");
		prom_label(ps[j].name);
		printf("\"} %.6f\n", fragmentation(&ps[j]) / 100.0);
	}
	prom_count("poolmgr_pool_acl_entries", "Entries on the pool's "
	    "access control list.", offsetof(struct pool_stats, acl_entries),
	    ps, n);
	prom_count("poolmgr_pool_user_quota_entries", "Uids with a user "
	    "quota of their own on the pool.",
	    offsetof(struct pool_stats, user_quota_entries), ps, n);
	prom_family("poolmgr_pool_info", "gauge",
	    "Mode, owner and NUMA policy of the pool (numa_node empty "
	    "without one); the value is always 1.");
	for (j = 0; j < n; j++) {
		printf("poolmgr_pool_info{pool=\"");
		prom_label(ps[j].name);
		printf("\",mode=\"%s\",uid=\"%" PRIu32 "\",gid=\"%" PRIu32
		    "\",numa_policy=\"%s\",numa_node=\"",
		    octal_mode(ps[j].mode).s, ps[j].uid, ps[j].gid,
		    numa_name(ps[j].numa_policy));
		if (ps[j].numa_policy != POOL_NUMA_NONE)
			printf("%" PRIu32, ps[j].numa_node);
		printf("\"} 1\n");
	}
}

/* ---------------------------------------------------------------------- */
/* Output helpers. */

/* Print a JSON document (consuming it) on stdout. */
void
json_print(const struct ctl *ctl, struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, ctl->json_flags));
	json_object_put(o);
}

/*
 * The length of the valid UTF-8 sequence (RFC 3629: no overlong form, no
 * surrogate, nothing past U+10FFFF) at p, or 0 if the byte there starts
 * none.
 */
static size_t
utf8_len(const unsigned char *p)
{
	size_t		i, n;
	uint32_t	c, min;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f, min = 0x80;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f, min = 0x800;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/*
 * A block name, which may be any bytes, in JSON, which must be UTF-8
 * (RFC 8259; json-c copies bytes as they are): "name" as it is when it is
 * UTF-8, else with U+FFFD for each byte that is not, and then "name_hex",
 * its bytes in hexadecimal, so that a program still has the name whole.
 */
static void
json_add_name(struct json_object *o, const char *name)
{
	static const char	 hex_digits[] = "0123456789abcdef";
	static const char	 fffd[] = "\xef\xbf\xbd";
	const unsigned char	*p = (const unsigned char *)name;
	/* At most 3 bytes out for each in; room for a last 4-byte one. */
	char			 text[3 * POOL_BLOCK_NAME_MAX + 4 + 1];
	char			 hex[2 * POOL_BLOCK_NAME_MAX + 1];
	size_t			 k, n = 0, h = 0;
	bool			 bad = false;

	for (; *p != '\0' && n + 4 < sizeof text; p += k) {
		if ((k = utf8_len(p)) == 0) {
			memcpy(text + n, fffd, 3);
			n += 3;
			bad = true;
			k = 1;
			continue;
		}
		memcpy(text + n, p, k);
		n += k;
	}
	text[n] = '\0';
	json_object_object_add(o, "name", json_object_new_string(text));
	if (!bad)
		return;
	for (p = (const unsigned char *)name; *p != '\0' &&
	    h + 2 < sizeof hex; p++) {
		hex[h++] = hex_digits[*p >> 4];
		hex[h++] = hex_digits[*p & 0xf];
	}
	hex[h] = '\0';
	json_object_object_add(o, "name_hex", json_object_new_string(hex));
}

static struct json_object *
json_client(const struct pool_client_info *ci)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "pid", json_u64(ci->pid));
	json_object_object_add(o, "uid", json_u64(ci->uid));
	json_object_object_add(o, "user", id_json(POOL_ACL_USER, ci->uid));
	json_object_object_add(o, "gid", json_u64(ci->gid));
	json_object_object_add(o, "group", id_json(POOL_ACL_GROUP, ci->gid));
	json_object_object_add(o, "name", json_object_new_string(ci->name));
	json_object_object_add(o, "pool", json_object_new_string(ci->pool));
	json_object_object_add(o, "handle", json_u64(ci->handle));
	json_object_object_add(o, "read_only",
	    json_object_new_boolean(ci->read_only != 0));
	json_object_object_add(o, "blocks", json_u64(ci->blocks));
	json_object_object_add(o, "bytes", json_u64(ci->bytes));
	json_object_object_add(o, "cached_bytes", json_u64(ci->cached_bytes));
	return o;
}

/* ---------------------------------------------------------------------- */
/* Each command's result. */

void
print_list(const struct ctl *ctl, const struct pool_stats *ps, size_t n)
{
	struct json_object	*a;
	size_t			 i, w = 4;

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_stats(&ps[i], NULL,
			    NULL));
		json_print(ctl, a);
		return;
	}

	for (i = 0; i < n; i++) {
		if (strlen(ps[i].name) > w)
			w = strlen(ps[i].name);
	}
	/* MODE is as wide as "0660+": the others stay in step. */
	printf("%-*s %-5s %10s %10s %6s %8s %7s\n", (int)w, "NAME", "MODE",
	    "SIZE", "USED", "USE%", "BLOCKS", "CLIENTS");
	for (i = 0; i < n; i++) {
		printf("%-*s %-5s %10s %10s %5.1f%% %8" PRIu64 " %7" PRIu64 "\n",
		    (int)w, safe(ps[i].name).s, list_mode(&ps[i]).s,
		    human(ps[i].max_size).s,
		    human(ps[i].allocated_bytes).s,
		    percent(ps[i].allocated_bytes, ps[i].max_size),
		    ps[i].live_blocks, ps[i].clients);
	}
}

/*
 * acls: the pools' lists, one per pool; uqs: their uids' own user
 * quotas; each NULL where the daemon has none.
 */
void
print_stats(const struct ctl *ctl, enum format fmt,
    const struct pool_stats *ps, const struct ctl_acl *acls,
    const struct ctl_uquota *uqs, size_t n)
{
	struct json_object	*a;
	size_t			 i, w;

	switch (fmt) {
	case FMT_JSON:
		/* Always an array: scripts need not care if POOL was given. */
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_stats(&ps[i],
			    acls != NULL ? &acls[i] : NULL,
			    uqs != NULL ? &uqs[i] : NULL));
		json_print(ctl, a);
		break;
	case FMT_PROMETHEUS:
		print_stats_prometheus(ps, n);
		break;
	case FMT_KV:
		for (i = 0; i < n; i++)
			print_stats_kv(&ps[i], acls != NULL ? &acls[i] :
			    NULL, uqs != NULL ? &uqs[i] : NULL);
		break;
	case FMT_TEXT:
		w = stats_text_width(ctl, ps, n);
		for (i = 0; i < n; i++) {
			if (i > 0)
				putchar('\n');
			print_stats_text(ctl, &ps[i], acls != NULL ? &acls[i] :
			    NULL, uqs != NULL ? &uqs[i] : NULL, w);
		}
		break;
	}
}

/* Of the quota, as text: "-" for no quota. */
struct quota_share {
	char	s[16];
};

static struct quota_share
quota_share(uint64_t bytes, uint64_t quota)
{
	struct quota_share	q;

	if (quota == 0)
		snprintf(q.s, sizeof q.s, "-");
	else
		snprintf(q.s, sizeof q.s, "%.1f%%", percent(bytes, quota));
	return q;
}

/* A uid column as wide as its widest name or number, 10 at least. */
static void
print_persisted_text(const struct ctl *ctl, const struct persisted_row *r,
    size_t n)
{
	size_t	i, w = 4, wu = 10;

	for (i = 0; i < n; i++) {
		if (strlen(r[i].pool) > w)
			w = strlen(r[i].pool);
		if (strlen(id_who(ctl, POOL_ACL_USER, r[i].by.uid).s) > wu)
			wu = strlen(id_who(ctl, POOL_ACL_USER, r[i].by.uid).s);
	}
	printf("%-*s %*s %8s %10s %9s %14s\n", (int)w, "POOL", (int)wu, "UID",
	    "BLOCKS", "BYTES", "OF QUOTA", "OF USER QUOTA");
	for (i = 0; i < n; i++)
		printf("%-*s %*s %8" PRIu64 " %10s %9s %14s\n",
		    (int)w, safe(r[i].pool).s, (int)wu,
		    id_who(ctl, POOL_ACL_USER, r[i].by.uid).s, r[i].by.blocks,
		    human(r[i].by.bytes).s,
		    quota_share(r[i].by.bytes, r[i].quota).s,
		    quota_share(r[i].by.bytes, r[i].user_quota_bound).s);
}

static struct json_object *
json_persisted(const struct persisted_row *r)
{
	struct json_object	*o;

	o = json_object_new_object();
	json_object_object_add(o, "pool", json_object_new_string(r->pool));
	json_object_object_add(o, "uid", json_u64(r->by.uid));
	json_object_object_add(o, "user", id_json(POOL_ACL_USER, r->by.uid));
	json_object_object_add(o, "blocks", json_u64(r->by.blocks));
	json_object_object_add(o, "bytes", json_u64(r->by.bytes));
	json_object_object_add(o, "quota", json_u64(r->quota));
	json_object_object_add(o, "user_quota", json_u64(r->user_quota));
	json_object_object_add(o, "user_quota_bound",
	    json_u64(r->user_quota_bound));
	return o;
}

/* One Prometheus family of the rows, labelled by pool and uid. */
static void
prom_persisted(const struct persisted_row *r, size_t n, const char *name,
    const char *mhelp, bool bytes)
{
	size_t	i;

	prom_family(name, "gauge", mhelp);
	for (i = 0; i < n; i++) {
		printf("%s{pool=\"", name);
		prom_label(r[i].pool);
		printf("\",uid=\"%" PRIu32 "\"} %" PRIu64 "\n", r[i].by.uid,
		    bytes ? r[i].by.bytes : r[i].by.blocks);
	}
}

/*
 * Who persisted what: a table, a JSON array, "POOL persisted_bytes.UID N"
 * lines (and persisted_blocks.UID) or Prometheus gauges labelled by pool
 * and uid.
 */
void
print_persisted(const struct ctl *ctl, enum format fmt,
    const struct persisted_row *r, size_t n)
{
	struct json_object	*a;
	size_t			 i;

	switch (fmt) {
	case FMT_JSON:
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_persisted(&r[i]));
		json_print(ctl, a);
		break;
	case FMT_PROMETHEUS:
		prom_persisted(r, n, "poolmgr_pool_persisted_bytes",
		    "Bytes of persistent blocks a uid made so: they count "
		    "against the quota of each of its sessions, and its user "
		    "quota.", true);
		prom_persisted(r, n, "poolmgr_pool_persisted_blocks",
		    "Persistent blocks a uid made so.", false);
		break;
	case FMT_KV:
		for (i = 0; i < n; i++) {
			printf("%s persisted_blocks.%" PRIu32 " %" PRIu64 "\n",
			    r[i].pool, r[i].by.uid, r[i].by.blocks);
			printf("%s persisted_bytes.%" PRIu32 " %" PRIu64 "\n",
			    r[i].pool, r[i].by.uid, r[i].by.bytes);
		}
		break;
	case FMT_TEXT:
		print_persisted_text(ctl, r, n);
		break;
	}
}

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
print_clients(const struct ctl *ctl, const struct pool_client_info *ci,
    size_t n)
{
	struct json_object	*a;
	size_t			 i, wn = 4, wp = 4, wu = 6, wg = 6;

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_client(&ci[i]));
		json_print(ctl, a);
		return;
	}

	for (i = 0; i < n; i++) {
		if (strlen(field(ci[i].name).s) > wn)
			wn = strlen(field(ci[i].name).s);
		if (strlen(ci[i].pool) > wp)
			wp = strlen(ci[i].pool);
		if (strlen(id_who(ctl, POOL_ACL_USER, ci[i].uid).s) > wu)
			wu = strlen(id_who(ctl, POOL_ACL_USER, ci[i].uid).s);
		if (strlen(id_who(ctl, POOL_ACL_GROUP, ci[i].gid).s) > wg)
			wg = strlen(id_who(ctl, POOL_ACL_GROUP, ci[i].gid).s);
	}
	printf("%7s %*s %*s  %-*s  %-*s %6s %-6s %8s %10s %10s\n", "PID",
	    (int)wu, "UID", (int)wg, "GID", (int)wn, "NAME", (int)wp, "POOL",
	    "HANDLE", "ACCESS", "BLOCKS", "BYTES", "CACHED");
	for (i = 0; i < n; i++) {
		printf("%7" PRIu32 " %*s %*s  %-*s  %-*s "
		    "%6" PRIu32 " %-6s %8" PRIu64 " %10s %10s\n", ci[i].pid,
		    (int)wu, id_who(ctl, POOL_ACL_USER, ci[i].uid).s, (int)wg,
		    id_who(ctl, POOL_ACL_GROUP, ci[i].gid).s, (int)wn,
		    field(ci[i].name).s,
		    (int)wp, safe(ci[i].pool).s, ci[i].handle,
		    ci[i].read_only ? "ro" : "rw", ci[i].blocks,
		    human(ci[i].bytes).s, human(ci[i].cached_bytes).s);
	}
}

void
print_names(const struct ctl *ctl, const char *pool,
    const struct pool_named *pn, size_t n)
{
	struct json_object	*a, *o;
	size_t			 i, w = 4, pw = 10;
	int			 gw = 12, len;
	char			 gen[24];

	if (ctl->json) {
		a = json_object_new_array();
		for (i = 0; i < n; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "pool",
			    json_object_new_string(pool));
			json_add_name(o, pn[i].name);
			json_object_object_add(o, "offset",
			    json_u64(pn[i].offset));
			json_object_object_add(o, "usable_size",
			    json_u64(pn[i].usable_size));
			json_object_object_add(o, "publisher",
			    json_u64(pn[i].publisher));
			json_object_object_add(o, "publisher_user",
			    id_json(POOL_ACL_USER, pn[i].publisher));
			json_object_object_add(o, "evictable",
			    json_object_new_boolean(pn[i].evictable != 0));
			json_object_object_add(o, "generation",
			    json_u64(pn[i].generation));
			json_object_array_add(a, o);
		}
		json_print(ctl, a);
		return;
	}
	/* Generations only grow: widen their column rather than misalign. */
	for (i = 0; i < n; i++) {
		if (strlen(field(pn[i].name).s) > w)
			w = strlen(field(pn[i].name).s);
		len = snprintf(gen, sizeof gen, "%" PRIu64, pn[i].generation);
		if (len > gw)
			gw = len;
		if (strlen(id_who(ctl, POOL_ACL_USER, pn[i].publisher).s) > pw)
			pw = strlen(id_who(ctl, POOL_ACL_USER,
			    pn[i].publisher).s);
	}
	printf("%-*s %18s %10s %*s %*s %s\n", (int)w, "NAME", "OFFSET",
	    "SIZE", (int)pw, "PUBLISHER", gw, "GENERATION", "EVICT");
	for (i = 0; i < n; i++)
		printf("%-*s %18s %10s %*s %*" PRIu64
		    " %s\n", (int)w, field(pn[i].name).s,
		    offset_text(pn[i].offset).s,
		    human(pn[i].usable_size).s, (int)pw,
		    id_who(ctl, POOL_ACL_USER, pn[i].publisher).s, gw,
		    pn[i].generation, pn[i].evictable ? "yes" : "no");
}

/*
 * The block `wait` found, or one object.  The line is for a script, as
 * --format=kv's are: one field each, the size a plain count of bytes
 * (names' "1.0 KiB" would split it in two), as --json's usable_size.
 */
void
print_wait(const struct ctl *ctl, const char *pool, const char *name,
    uint64_t off, uint64_t usable, uint64_t gen)
{
	struct json_object	*o;

	if (ctl->json) {
		o = json_object_new_object();
		json_object_object_add(o, "pool", json_object_new_string(pool));
		json_add_name(o, name);
		json_object_object_add(o, "offset", json_u64(off));
		json_object_object_add(o, "usable_size", json_u64(usable));
		json_object_object_add(o, "generation", json_u64(gen));
		json_print(ctl, o);
		return;
	}
	printf("%s %s %" PRIu64 " %" PRIu64 "\n", field(name).s,
	    offset_text(off).s, usable, gen);
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
