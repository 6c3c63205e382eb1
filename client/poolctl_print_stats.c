/*
 * poolctl_print_stats.c - what list and stats print: the statistics of
 * pools, list's as one table, stats' as text, JSON, kv or Prometheus.
 *
 * The statistics of a pool are described once, in stat_fields[]; the
 * text table, JSON, kv and Prometheus output are all generated from that
 * one table so that they cannot drift.  The count of a pool's access
 * control list's entries, no quantity of its use, is not in it: it goes
 * beside the mode (list's "+", acl_entries in JSON and kv), and the count
 * of its uids' own user quotas after it (user_quota_entries); Prometheus
 * has both as gauges of their own.
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

/* External fragmentation: 1 - largest_free / free_bytes, 0 if none free. */
static double
fragmentation(const struct pool_stats *ps)
{
	if (ps->free_bytes == 0)
		return 0.0;
	return 100.0 - percent(ps->largest_free, ps->free_bytes);
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
