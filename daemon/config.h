/*
 * config.h - poolmgrd.conf, an INI file (parsed by inih):
 *
 *   [daemon]
 *   socket = /run/poolmgrd/poolmgrd.sock
 *   socket_mode = 0660
 *   admin_group = poolmgr          ; may create and destroy pools
 *   max_connections = 1024         ; clients at once, in all; this
 *                                  ; and the other counts take K, M,
 *                                  ; G, T (of 1024), not a byte unit
 *   admin_connections = 8          ; of max_connections, kept for root,
 *                                  ; the daemon's uid and admin_group:
 *                                  ; others may hold the rest; below
 *                                  ; max_connections; unset, at most
 *                                  ; half of it
 *   max_connections_per_uid = 256  ; clients at once, per uid
 *   max_blocks_per_session = 4194304 ; references one client may hold
 *   max_persistent_blocks_per_uid = 4194304 ; persistent blocks one uid
 *                                  ; may have in each pool
 *   hello_timeout = 10             ; seconds a new client has to say Hello
 *   idle_trim = 10                 ; seconds idle before a pool's kept free
 *                                  ; pages go back; 0: never
 *   release_step = 1M              ; a freed block larger than this goes
 *                                  ; back to the OS this much per loop
 *                                  ; turn; 0: all at once
 *   drop_step = 4096               ; a closed handle (or a client gone)
 *                                  ; drops this many references per loop
 *                                  ; turn; 0: all at once
 *   settle_wait_ms = 2000          ; a request held for its pool's queued
 *                                  ; work waits this long for what others
 *                                  ; queue after it
 *   max_name_waits = 256           ; Lookups waiting for a name, per pool
 *   max_alloc_waits = 256          ; Allocs waiting for room, per pool
 *   restart_probe_timeout = 10     ; seconds, 1 to 600, the binary a
 *                                  ; restart would execute has to answer
 *                                  ; --restart-probe; a reload applies it
 *                                  ; to the next probe
 *
 *   [pool NAME]
 *   size = 256M                    ; required; K, M, G, T suffixes
 *   granularity = 16
 *   owner = USER-or-UID            ; default: the daemon's uid
 *   group = GROUP-or-GID           ; default: the daemon's gid
 *   mode = 0660                    ; default 0600
 *   acl = user:USER:rw, group:GROUP:r ; rights beyond the mode for named
 *                                  ; users and groups (pool_acl.h); r,
 *                                  ; w, rw or - (refused); default none;
 *                                  ; indented lines continue the list
 *   quota = 64M                    ; bytes per session; default none
 *   user_quota = 256M              ; bytes per uid, all its sessions and
 *                                  ; persistent blocks; default none
 *   user_quotas = alice:8G, 1001:64M, backup:none ; uids' own user
 *                                  ; quotas in place of user_quota
 *                                  ; (pool_uquota.h), none: no user
 *                                  ; quota for that uid; default none;
 *                                  ; indented lines continue the list
 *   limit = 1G                     ; bytes of the pool's live blocks;
 *                                  ; default none (0); a reload changes it
 *   retain = 1M                    ; free memory kept for reuse; 0: none
 *   page_size = 2M                 ; huge pages of that size (hugetlbfs),
 *                                  ; reserved at creation; default: the
 *                                  ; system page
 *   numa_node = 0                  ; place the pages on this NUMA node;
 *                                  ; default: no policy (local)
 *   numa_policy = preferred        ; or bind (the node only); needs
 *                                  ; numa_node
 */
#ifndef POOLMGRD_CONFIG_H
#define POOLMGRD_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

#include "pool_acl.h"
#include "pool_uquota.h"

#define CONFIG_MAX_POOLS 256
#define CONFIG_MAX_POOL_SIZE (1ull << 46)	/* == POOL_MAX_SIZE, 64 TiB */

struct config_pool {
	char name[65];
	uint64_t size;
	uint32_t granularity;
	uid_t uid;
	gid_t gid;
	uint32_t mode;
	struct acl acl;		/* checked and sorted (acl_build); n = 0:
				 * none */
	uint64_t quota;
	uint64_t user_quota;
	struct uquota uquotas;	/* checked and sorted (uquota_build) */
	uint64_t limit;		/* bytes of its live blocks; 0 = none */
	uint64_t retain;	/* bytes; 0 = default, CONFIG_RETAIN_NONE =
				 * none (the file's "retain = 0") */
	uint64_t page_size;	/* 0: the system page; else one the kernel
				 * offers (hugepage_valid) */
	int has_numa_node;
	uint32_t numa_node;
	uint32_t numa_policy;	/* DPOOL_NUMA_*; 0: not given (preferred,
				 * with a node) */
};

#define CONFIG_RETAIN_NONE UINT64_MAX	/* == DPOOL_RETAIN_NONE */

/*
 * restart_probe_timeout, seconds.  Never 0: a probe that never answers
 * would hold every later SIGUSR2 and stop "on its way" for good; at most
 * ten minutes, well past any start, and a stop to systemd's fd store waits
 * for it too.
 */
#define CONFIG_PROBE_DEFAULT 10
#define CONFIG_PROBE_MIN 1
#define CONFIG_PROBE_MAX 600

/*
 * admin_connections when the file does not set it, or half of
 * max_connections if that is fewer: a file written before the key
 * existed (max_connections = 4, say) loads still, and leaves others most
 * of the places.
 */
#define CONFIG_ADMIN_CONNECTIONS 8

/*
 * What a load read but would have the reader know (see config.c): at
 * most seven sizes written with a byte unit, a line that counts those
 * past them, and an admin_group that is the daemon's own group, which no
 * count of sizes may hide.
 */
#define CONFIG_MAX_WARNINGS 9
#define CONFIG_WARNING_LEN 320

struct config {
	char socket[108];
	uint32_t socket_mode;
	int has_admin_gid;
	gid_t admin_gid;
	uint32_t max_connections;
	uint32_t admin_connections;	/* of max_connections, kept for the
					 * admins; below it */
	uint32_t max_connections_per_uid;
	uint64_t max_blocks_per_session;
	uint64_t max_persistent_blocks_per_uid;	/* in each pool */
	uint32_t hello_timeout;		/* seconds; 0: none */
	uint32_t idle_trim;		/* seconds; 0: never */
	uint64_t release_step;		/* bytes; 0: a free releases at once */
	uint32_t drop_step;		/* references; 0: a close drops all */
	uint32_t settle_wait_ms;	/* 0: only for what came before */
	uint32_t max_name_waits;	/* Lookups waiting, per pool */
	uint32_t max_alloc_waits;	/* Allocs waiting for room, per pool */
	uint32_t restart_probe_timeout;	/* seconds, CONFIG_PROBE_MIN to _MAX */
	unsigned npools;
	struct config_pool pools[CONFIG_MAX_POOLS];
	/* Each a line to log (the last may count those left out). */
	unsigned nwarnings;
	char warnings[CONFIG_MAX_WARNINGS][CONFIG_WARNING_LEN];
};

/* Fill in the defaults. */
void config_defaults(struct config *cf);

/*
 * The daemon-wide settings that differ from was to now, for a reload's
 * log line: "max_connections 1024 -> 64, admin_group none -> 27" (gids),
 * or "" when none does.  socket and socket_mode are not among them: a
 * reload does not apply them.
 */
const char *config_changes(const struct config *was, const struct config *now,
			   char *buf, size_t len);

/*
 * Read path into cf (on top of what is there).  Returns 0, or -1 with a
 * message naming the file, line and problem in err.  What loaded but the
 * reader should know is in cf->warnings, for the caller to say.
 */
int config_load(struct config *cf, const char *path, char *err, size_t errlen);

/*
 * The same from text (len bytes), as a file named name held it: what a
 * restart in place checked is what the new image applies (restart.c).
 */
int config_load_text(struct config *cf, const char *name, const char *text,
		     size_t len, char *err, size_t errlen);

/* The most a configuration file may hold. */
#define CONFIG_MAX_TEXT (16u * 1024 * 1024)
/*
 * Read the whole file at path into *text (malloc'ed, NUL after its *len
 * bytes).  Returns 0, or -1 with why in err.
 */
int config_read_text(const char *path, char **text, size_t *len, char *err,
		     size_t errlen);

/* Parse "256M", "1G", "4096": bytes with optional binary suffix; -1 on junk. */
int config_parse_size(const char *s, uint64_t *out);

/* Valid pool names: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
int config_valid_pool_name(const char *name);

#endif /* POOLMGRD_CONFIG_H */
