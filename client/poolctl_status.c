/*
 * poolctl_status.c - what `poolctl status` prints: the daemon's own
 * statistics (pool_daemon_stats), as text, JSON, kv or Prometheus.
 *
 * As the statistics of a pool in poolctl_print_stats.c, the daemon's are
 * described once, in status_fields[], and every format is generated from
 * that one table, so that none can leave out or misname what another
 * shows.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "poolctl.h"

enum status_kind {
	S_NUM,		/* a plain number */
	S_BYTES,	/* a byte count: human size */
	S_TIME,		/* seconds since the epoch: a UTC date */
	S_MS,		/* a duration in ms: days, hours, minutes */
	S_HEX,		/* bits: hexadecimal */
	S_UID,		/* a uid: its name in text, as ls names it */
	S_GID,		/* a gid: likewise */
};

/*
 * When a 0 says the daemon did not tell: the figure is then printed as
 * "unknown" (null in JSON) and left out of kv and Prometheus, where a 0
 * would read as a value.
 */
enum status_known {
	K_ALWAYS,	/* every value is one */
	K_NONZERO,	/* 0: the daemon could not read it (rss_bytes) */
	K_LIMITS,	/* a daemon before fields 23 and 24 sends neither:
			 * max_connections_per_uid, at least 1, is 0 */
	K_KEPT,		/* a daemon before field 25 sends nothing, as one
			 * with none kept does: a count, or features bit
			 * 15, which came after the field, says it knows */
};

/* WaitOver answered: every daemon that says so has field 25, its 0 a count. */
#define STATUS_FEATURE_WAIT_OVER	((uint64_t)1 << 15)

struct status_field {
	const char	*key;		/* pool_daemon_stats member, JSON key */
	const char	*label;		/* text */
	size_t		 off, size;
	enum status_kind kind;
	bool		 counter;	/* only grows (Prometheus counter) */
	const char	*metric;	/* Prometheus name; NULL: in _info */
	const char	*mhelp;		/* Prometheus HELP */
	enum status_known known;
};

#define DF(f, label, kind, counter, metric, mhelp)			\
	DFK(f, label, kind, counter, metric, mhelp, K_ALWAYS)
#define DFK(f, label, kind, counter, metric, mhelp, known)		\
	{ #f, label, offsetof(struct pool_daemon_stats, f),		\
	  sizeof(((struct pool_daemon_stats *)0)->f), kind, counter,	\
	  metric, mhelp, known }

static const struct status_field status_fields[] = {
	DF(pid, "pid", S_NUM, false, NULL, NULL),
	DF(uid, "user", S_UID, false, NULL, NULL),
	DF(gid, "group", S_GID, false, NULL, NULL),
	DF(started, "started", S_TIME, false,
	    "poolmgr_daemon_start_time_seconds",
	    "When the daemon started, in seconds since the epoch (kept "
	    "across restarts in place)."),
	DF(uptime_ms, "uptime", S_MS, false, "poolmgr_daemon_uptime_seconds",
	    "Seconds since the daemon started."),
	DF(restarts, "restarts in place", S_NUM, true,
	    "poolmgr_daemon_restarts_total",
	    "Restarts in place (and through systemd's fd store) since the "
	    "daemon started."),
	DF(connections, "connections", S_NUM, false,
	    "poolmgr_daemon_connections", "Connections open now."),
	DF(max_connections, "max connections", S_NUM, false,
	    "poolmgr_daemon_max_connections",
	    "The max_connections setting in force."),
	DFK(admin_connections, "reserved for admins", S_NUM, false,
	    "poolmgr_daemon_admin_connections",
	    "The admin_connections setting in force: of max_connections, "
	    "the places reserved for root, the daemon's uid and admin_group.",
	    K_LIMITS),
	DFK(max_connections_per_uid, "max per uid", S_NUM, false,
	    "poolmgr_daemon_max_connections_per_uid",
	    "The max_connections_per_uid setting in force.", K_LIMITS),
	DFK(kept_connections, "kept for unread fds", S_NUM, false,
	    "poolmgr_daemon_kept_connections",
	    "Connections let go of while their clients had descriptors "
	    "unread, kept until they read or close: counted in "
	    "max_connections and max_connections_per_uid.", K_KEPT),
	DF(connections_total, "connections accepted", S_NUM, true,
	    "poolmgr_daemon_connections_accepted_total",
	    "Connections accepted since the daemon started, refused ones "
	    "among them."),
	DF(connections_refused, "connections refused", S_NUM, true,
	    "poolmgr_daemon_connections_refused_total",
	    "Connections closed at once for a limit (max_connections, "
	    "admin_connections, max_connections_per_uid, descriptors)."),
	DF(hello_timeouts, "hello timeouts", S_NUM, true,
	    "poolmgr_daemon_hello_timeouts_total",
	    "Connections dropped for saying no Hello in time."),
	DF(requests_total, "requests answered", S_NUM, true,
	    "poolmgr_daemon_requests_total",
	    "Requests answered since the daemon started."),
	DF(requests_refused, "requests refused", S_NUM, true,
	    "poolmgr_daemon_requests_refused_total",
	    "Requests answered with an error."),
	DF(bad_messages, "bad messages", S_NUM, true,
	    "poolmgr_daemon_bad_messages_total",
	    "Datagrams that did not decode (each closed its connection)."),
	DF(held, "held requests", S_NUM, false,
	    "poolmgr_daemon_held_requests",
	    "Requests waiting now: for a pool to settle, for a name, or "
	    "for room."),
	DF(pools, "pools", S_NUM, false, "poolmgr_daemon_pools",
	    "Pools the caller may read."),
	DF(live_blocks, "live blocks", S_NUM, false,
	    "poolmgr_daemon_live_blocks", "Live blocks, over the pools the caller may read."),
	DF(allocated_bytes, "allocated", S_BYTES, false,
	    "poolmgr_daemon_allocated_bytes",
	    "Bytes in live blocks, over the pools the caller may read."),
	DFK(rss_bytes, "resident memory", S_BYTES, false,
	    "poolmgr_daemon_resident_memory_bytes",
	    "The daemon's resident memory.", K_NONZERO),
	DF(log_lines_left_out, "log lines left out", S_NUM, true,
	    "poolmgr_daemon_log_lines_left_out_total",
	    "Log lines the daemon's rate limits left out."),
	DF(features, "features", S_HEX, false, NULL, NULL),
};
#define NSTATUS (sizeof status_fields / sizeof status_fields[0])

static uint64_t
status_value(const struct pool_daemon_stats *ds, const struct status_field *f)
{
	return member_value(ds, f->off, f->size);
}

/* Whether the daemon told f: else its 0 is no value (enum status_known). */
static bool
status_known(const struct pool_daemon_stats *ds, const struct status_field *f)
{
	switch (f->known) {
	case K_NONZERO:
		return status_value(ds, f) != 0;
	case K_LIMITS:
		return ds->max_connections_per_uid != 0;
	case K_KEPT:
		return status_value(ds, f) != 0 ||
		    (ds->features & STATUS_FEATURE_WAIT_OVER) != 0;
	case K_ALWAYS:
		break;
	}
	return true;
}

/* A duration: "3d 04:05:06", or "04:05:06" under a day. */
static void
status_duration(char *buf, size_t len, uint64_t ms)
{
	uint64_t	s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 "d %02u:%02u:%02u", s / 86400,
		    (unsigned)(s % 86400 / 3600), (unsigned)(s % 3600 / 60),
		    (unsigned)(s % 60));
	else
		snprintf(buf, len, "%02u:%02u:%02u", (unsigned)(s / 3600),
		    (unsigned)(s % 3600 / 60), (unsigned)(s % 60));
}

/* One text line's value, and the exact number after it when it differs. */
static bool
status_text_value(const struct ctl *ctl, const struct status_field *f,
    uint64_t v, char *buf, size_t len)
{
	char		number[24];
	time_t		t;
	struct tm	tm;

	switch (f->kind) {
	case S_UID:
	case S_GID:
		snprintf(buf, len, "%s", id_who(ctl, f->kind == S_UID ?
		    POOL_ACL_USER : POOL_ACL_GROUP, (uint32_t)v).s);
		snprintf(number, sizeof number, "%" PRIu64, v);
		return strcmp(buf, number) != 0;
	case S_BYTES:
		snprintf(buf, len, "%s", human(v).s);
		return v >= 1024;
	case S_TIME:
		t = (time_t)v;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
			snprintf(buf, len, "%" PRIu64, v);
		return true;
	case S_MS:
		status_duration(buf, len, v);
		return true;
	case S_HEX:
		snprintf(buf, len, "0x%" PRIx64, v);
		return false;
	case S_NUM:
		break;
	}
	snprintf(buf, len, "%" PRIu64, v);
	return false;
}

static void
print_status_text(const struct ctl *ctl, const struct pool_daemon_stats *ds)
{
	const struct status_field	*f;
	char				 value[272];
	uint64_t			 v;
	size_t				 i;

	printf("daemon %s\n", safe(ds->server).s);
	for (i = 0; i < NSTATUS; i++) {
		f = &status_fields[i];
		v = status_value(ds, f);
		printf("  %-20s ", f->label);
		if (!status_known(ds, f))
			printf("unknown\n");
		else if (status_text_value(ctl, f, v, value, sizeof value))
			printf("%s  (%" PRIu64 "%s)\n", value, v,
			    f->kind == S_MS ? " ms" : "");
		else
			printf("%s\n", value);
	}
}

static struct json_object *
json_status(const struct pool_daemon_stats *ds)
{
	struct json_object	*o;
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "server",
	    json_object_new_string(ds->server));
	for (i = 0; i < NSTATUS; i++) {
		json_object_object_add(o, status_fields[i].key,
		    !status_known(ds, &status_fields[i]) ? NULL :
		    json_object_new_uint64(status_value(ds,
		    &status_fields[i])));
		/* The names beside the numbers, as stats' JSON has them. */
		if (status_fields[i].kind == S_GID) {
			json_object_object_add(o, "user",
			    id_json(POOL_ACL_USER, ds->uid));
			json_object_object_add(o, "group",
			    id_json(POOL_ACL_GROUP, ds->gid));
		}
	}
	return o;
}

/*
 * One "KEY VALUE" line per figure, the JSON keys and plain numbers, as
 * stats' kv has them without the pool: the server's words are the rest
 * of their line.  A figure the daemon did not tell has no line.
 */
static void
print_status_kv(const struct pool_daemon_stats *ds)
{
	size_t	i;

	printf("server %s\n", safe(ds->server).s);
	for (i = 0; i < NSTATUS; i++)
		if (status_known(ds, &status_fields[i]))
			printf("%s %" PRIu64 "\n", status_fields[i].key,
			    status_value(ds, &status_fields[i]));
}

/*
 * The text exposition format: a family per figure with a metric, the
 * durations in seconds as Prometheus has them; who the daemon is (server,
 * pid, ids, feature bits) in the labels of a constant
 * poolmgr_daemon_info, as node_exporter does.
 */
static void
print_status_prometheus(const struct pool_daemon_stats *ds)
{
	const struct status_field	*f;
	uint64_t			 v;
	size_t				 i;

	for (i = 0; i < NSTATUS; i++) {
		f = &status_fields[i];
		if (f->metric == NULL || !status_known(ds, f))
			continue;
		prom_family(f->metric, f->counter ? "counter" : "gauge",
		    f->mhelp);
		v = status_value(ds, f);
		if (f->kind == S_MS)
			printf("%s %" PRIu64 ".%03u\n", f->metric, v / 1000,
			    (unsigned)(v % 1000));
		else
			printf("%s %" PRIu64 "\n", f->metric, v);
	}
	printf("# HELP poolmgr_daemon_info Who the daemon is: its version, "
	    "process, ids and feature bits; the value is always 1.\n"
	    "# TYPE poolmgr_daemon_info gauge\n"
	    "poolmgr_daemon_info{server=\"");
	prom_label(ds->server);
	printf("\",pid=\"%" PRIu32 "\",uid=\"%" PRIu32 "\",gid=\"%" PRIu32
	    "\",features=\"0x%" PRIx64 "\"} 1\n", ds->pid, ds->uid, ds->gid,
	    ds->features);
}

void
print_status(const struct ctl *ctl, enum format fmt,
    const struct pool_daemon_stats *ds)
{
	switch (fmt) {
	case FMT_JSON:
		json_print(ctl, json_status(ds));
		break;
	case FMT_PROMETHEUS:
		print_status_prometheus(ds);
		break;
	case FMT_KV:
		print_status_kv(ds);
		break;
	case FMT_TEXT:
		print_status_text(ctl, ds);
		break;
	}
}
