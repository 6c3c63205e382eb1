/*
 * config_changes.c - what a reload changes of the daemon's own settings,
 * in words for its log line, as a pool's changes are said: the operator
 * who raised max_connections and sent SIGHUP reads that it took.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static void change_add(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ", " and one change after the ones in buf. */
static void
change_add(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", ");
	if (n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

static void
count_change(char *buf, size_t len, const char *key, uint64_t was,
	     uint64_t now)
{
	if (was != now)
		change_add(buf, len, "%s %llu -> %llu", key,
			   (unsigned long long)was, (unsigned long long)now);
}

/* The admin group as a reload's line shows it: its gid, or none. */
static void
admin_change(char *buf, size_t len, const struct config *was,
	     const struct config *now)
{
	char a[16] = "none", b[16] = "none";

	if (was->has_admin_gid == now->has_admin_gid &&
	    (!now->has_admin_gid || was->admin_gid == now->admin_gid))
		return;
	if (was->has_admin_gid)
		snprintf(a, sizeof(a), "%u", (unsigned)was->admin_gid);
	if (now->has_admin_gid)
		snprintf(b, sizeof(b), "%u", (unsigned)now->admin_gid);
	change_add(buf, len, "admin_group %s -> %s", a, b);
}

const char *
config_changes(const struct config *was, const struct config *now,
	       char *buf, size_t len)
{
	buf[0] = '\0';
	admin_change(buf, len, was, now);
	count_change(buf, len, "max_connections", was->max_connections,
		     now->max_connections);
	count_change(buf, len, "admin_connections", was->admin_connections,
		     now->admin_connections);
	count_change(buf, len, "max_connections_per_uid",
		     was->max_connections_per_uid,
		     now->max_connections_per_uid);
	count_change(buf, len, "max_blocks_per_session",
		     was->max_blocks_per_session,
		     now->max_blocks_per_session);
	count_change(buf, len, "max_persistent_blocks_per_uid",
		     was->max_persistent_blocks_per_uid,
		     now->max_persistent_blocks_per_uid);
	count_change(buf, len, "hello_timeout", was->hello_timeout,
		     now->hello_timeout);
	count_change(buf, len, "idle_trim", was->idle_trim, now->idle_trim);
	count_change(buf, len, "release_step", was->release_step,
		     now->release_step);
	count_change(buf, len, "drop_step", was->drop_step, now->drop_step);
	count_change(buf, len, "settle_wait_ms", was->settle_wait_ms,
		     now->settle_wait_ms);
	count_change(buf, len, "max_name_waits", was->max_name_waits,
		     now->max_name_waits);
	count_change(buf, len, "max_alloc_waits", was->max_alloc_waits,
		     now->max_alloc_waits);
	count_change(buf, len, "restart_probe_timeout",
		     was->restart_probe_timeout, now->restart_probe_timeout);
	return buf;
}
