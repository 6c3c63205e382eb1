/*
 * py_abi.c - the layout of every structure of poolclient.h as this
 * compiler lays it out: "STRUCT FIELD OFFSET SIZE" lines, and "STRUCT -
 * 0 SIZE" for the whole; and the value of every constant the binding
 * copies: "#define NAME VALUE" lines.  itest_python.py holds the Python
 * binding's ctypes mirrors and constants against them, one by one.
 */
#include <stddef.h>
#include <stdio.h>

#include "poolclient.h"

#define FIELD(s, f)							\
	printf("%s %s %zu %zu\n", #s, #f, offsetof(struct s, f),	\
	    sizeof(((struct s *)0)->f))
#define WHOLE(s)							\
	printf("%s - 0 %zu\n", #s, sizeof(struct s))
#define CONST(c)							\
	printf("#define %s %llu\n", #c, (unsigned long long)(c))

static void
create_opts(void)
{
	WHOLE(pool_create_opts);
	FIELD(pool_create_opts, max_size);
	FIELD(pool_create_opts, granularity);
	FIELD(pool_create_opts, mode);
	FIELD(pool_create_opts, quota);
	FIELD(pool_create_opts, retain);
	FIELD(pool_create_opts, page_size);
	FIELD(pool_create_opts, numa_policy);
	FIELD(pool_create_opts, numa_node);
	FIELD(pool_create_opts, flags);
	FIELD(pool_create_opts, uid);
	FIELD(pool_create_opts, gid);
	FIELD(pool_create_opts, reserved);
}

static void
set_opts(void)
{
	WHOLE(pool_set_opts);
	FIELD(pool_set_opts, which);
	FIELD(pool_set_opts, mode);
	FIELD(pool_set_opts, uid);
	FIELD(pool_set_opts, gid);
	FIELD(pool_set_opts, quota);
	FIELD(pool_set_opts, retain);
	FIELD(pool_set_opts, limit);
	FIELD(pool_set_opts, user_quota);
	FIELD(pool_set_opts, acl);
	FIELD(pool_set_opts, nacl);
	FIELD(pool_set_opts, reserved);
}

static void
acl_entry(void)
{
	WHOLE(pool_acl_entry);
	FIELD(pool_acl_entry, kind);
	FIELD(pool_acl_entry, id);
	FIELD(pool_acl_entry, rights);
	FIELD(pool_acl_entry, reserved);
}

static void
user_quota(void)
{
	WHOLE(pool_user_quota);
	FIELD(pool_user_quota, uid);
	FIELD(pool_user_quota, reserved);
	FIELD(pool_user_quota, bytes);
}

static void
stats(void)
{
	WHOLE(pool_stats);
	FIELD(pool_stats, name);
	FIELD(pool_stats, max_size);
	FIELD(pool_stats, committed_bytes);
	FIELD(pool_stats, allocated_bytes);
	FIELD(pool_stats, requested_bytes);
	FIELD(pool_stats, free_bytes);
	FIELD(pool_stats, largest_free);
	FIELD(pool_stats, live_blocks);
	FIELD(pool_stats, clients);
	FIELD(pool_stats, allocs);
	FIELD(pool_stats, frees);
	FIELD(pool_stats, failed_allocs);
	FIELD(pool_stats, invalid_frees);
	FIELD(pool_stats, cached_bytes);
	FIELD(pool_stats, metadata_bytes);
	FIELD(pool_stats, released_bytes);
	FIELD(pool_stats, persistent_blocks);
	FIELD(pool_stats, granularity);
	FIELD(pool_stats, page_size);
	FIELD(pool_stats, mode);
	FIELD(pool_stats, uid);
	FIELD(pool_stats, gid);
	FIELD(pool_stats, alloc_waits);
	FIELD(pool_stats, quota);
	FIELD(pool_stats, client_cached_bytes);
	FIELD(pool_stats, retain_bytes);
	FIELD(pool_stats, free_resident_bytes);
	FIELD(pool_stats, books_bytes);
	FIELD(pool_stats, named_blocks);
	FIELD(pool_stats, release_steps);
	FIELD(pool_stats, retain_steps);
	FIELD(pool_stats, numa_policy);
	FIELD(pool_stats, numa_node);
	FIELD(pool_stats, evictions);
	FIELD(pool_stats, evicted_bytes);
	FIELD(pool_stats, limit);
	FIELD(pool_stats, user_quota);
	FIELD(pool_stats, quota_refusals);
	FIELD(pool_stats, user_quota_refusals);
	FIELD(pool_stats, acl_entries);
	FIELD(pool_stats, user_quota_entries);
	FIELD(pool_stats, reserved);
}

static void
client_info(void)
{
	WHOLE(pool_client_info);
	FIELD(pool_client_info, pid);
	FIELD(pool_client_info, uid);
	FIELD(pool_client_info, gid);
	FIELD(pool_client_info, name);
	FIELD(pool_client_info, pool);
	FIELD(pool_client_info, handle);
	FIELD(pool_client_info, read_only);
	FIELD(pool_client_info, blocks);
	FIELD(pool_client_info, bytes);
	FIELD(pool_client_info, cached_bytes);
	FIELD(pool_client_info, reserved);
}

static void
persisted_named(void)
{
	WHOLE(pool_persisted);
	FIELD(pool_persisted, uid);
	FIELD(pool_persisted, blocks);
	FIELD(pool_persisted, bytes);
	FIELD(pool_persisted, reserved);
	WHOLE(pool_user);
	FIELD(pool_user, uid);
	FIELD(pool_user, connections);
	FIELD(pool_user, handles);
	FIELD(pool_user, held_bytes);
	FIELD(pool_user, persisted_blocks);
	FIELD(pool_user, persisted_bytes);
	FIELD(pool_user, quota);
	FIELD(pool_user, quota_own);
	FIELD(pool_user, reserved32);
	FIELD(pool_user, reserved);
	WHOLE(pool_named);
	FIELD(pool_named, name);
	FIELD(pool_named, offset);
	FIELD(pool_named, usable_size);
	FIELD(pool_named, publisher);
	FIELD(pool_named, evictable);
	FIELD(pool_named, generation);
}

static void
daemon_stats(void)
{
	WHOLE(pool_daemon_stats);
	FIELD(pool_daemon_stats, server);
	FIELD(pool_daemon_stats, pid);
	FIELD(pool_daemon_stats, uid);
	FIELD(pool_daemon_stats, gid);
	FIELD(pool_daemon_stats, max_connections);
	FIELD(pool_daemon_stats, started);
	FIELD(pool_daemon_stats, uptime_ms);
	FIELD(pool_daemon_stats, restarts);
	FIELD(pool_daemon_stats, connections);
	FIELD(pool_daemon_stats, connections_total);
	FIELD(pool_daemon_stats, connections_refused);
	FIELD(pool_daemon_stats, hello_timeouts);
	FIELD(pool_daemon_stats, requests_total);
	FIELD(pool_daemon_stats, requests_refused);
	FIELD(pool_daemon_stats, bad_messages);
	FIELD(pool_daemon_stats, held);
	FIELD(pool_daemon_stats, pools);
	FIELD(pool_daemon_stats, live_blocks);
	FIELD(pool_daemon_stats, allocated_bytes);
	FIELD(pool_daemon_stats, rss_bytes);
	FIELD(pool_daemon_stats, log_lines_left_out);
	FIELD(pool_daemon_stats, features);
	FIELD(pool_daemon_stats, admin_connections);
	FIELD(pool_daemon_stats, max_connections_per_uid);
	FIELD(pool_daemon_stats, kept_connections);
	FIELD(pool_daemon_stats, reserved32);
	FIELD(pool_daemon_stats, reserved);
}

static void
block_info(void)
{
	WHOLE(pool_block_holder);
	FIELD(pool_block_holder, pid);
	FIELD(pool_block_holder, uid);
	FIELD(pool_block_holder, handle);
	WHOLE(pool_block_info);
	FIELD(pool_block_info, offset);
	FIELD(pool_block_info, usable_size);
	FIELD(pool_block_info, requested);
	FIELD(pool_block_info, holders);
	FIELD(pool_block_info, flags);
	FIELD(pool_block_info, persister);
	FIELD(pool_block_info, nlisted);
	FIELD(pool_block_info, first_holders);
	FIELD(pool_block_info, persisted_ms);
	FIELD(pool_block_info, reserved);
}

static void
constants(void)
{
	CONST(POOL_OFF_NONE);
	CONST(POOL_RETAIN_NONE);
	CONST(POOL_NAME_MAX);
	CONST(POOL_BLOCK_NAME_MAX);
	CONST(POOL_BATCH_MAX);
	CONST(POOL_CREATE_OWNER);
	CONST(POOL_CREATE_GROUP);
	CONST(POOL_SET_MODE);
	CONST(POOL_SET_OWNER);
	CONST(POOL_SET_GROUP);
	CONST(POOL_SET_QUOTA);
	CONST(POOL_SET_RETAIN);
	CONST(POOL_SET_LIMIT);
	CONST(POOL_SET_USER_QUOTA);
	CONST(POOL_SET_ACL);
	CONST(POOL_ACL_USER);
	CONST(POOL_ACL_GROUP);
	CONST(POOL_ACL_READ);
	CONST(POOL_ACL_WRITE);
	CONST(POOL_ACL_MAX);
	CONST(POOL_ACL_PARSE_NO_RIGHTS);
	CONST(POOL_ACL_FORMAT_NAMES);
	CONST(POOL_USER_QUOTA_MAX);
	CONST(POOL_NUMA_NONE);
	CONST(POOL_NUMA_PREFERRED);
	CONST(POOL_NUMA_BIND);
	CONST(POOL_NUMA_OTHER);
	CONST(POOL_BLOCK_NAMED);
	CONST(POOL_BLOCK_EVICTABLE);
	CONST(POOL_BLOCK_PERSISTENT);
	CONST(POOL_BLOCK_BUSY);
	CONST(POOL_BLOCK_HOLDERS_LISTED);
	CONST(POOL_ALLOC_ZERO);
	CONST(POOL_ALLOC_PART);
	CONST(POOL_ALLOC_PERSIST);
	CONST(POOL_PUBLISH_REPLACE);
	CONST(POOL_PUBLISH_EVICTABLE);
	CONST(POOL_LOOKUP_RETAIN);
}

int
main(void)
{
	create_opts();
	set_opts();
	acl_entry();
	user_quota();
	stats();
	client_info();
	persisted_named();
	daemon_stats();
	block_info();
	constants();
	return 0;
}
