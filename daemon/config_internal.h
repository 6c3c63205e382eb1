/*
 * config_internal.h - what the configuration reader's files share
 * (config_read.c reads the file, its lines and sections; config.c its
 * keys and values; config_lists.c the lists of a pool's acl and
 * user_quotas keys).  Not for the rest of the daemon: config.h is its
 * view of the file.
 */
#ifndef POOLMGR_CONFIG_INTERNAL_H
#define POOLMGR_CONFIG_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* The reading of one file, from its first line to its last. */
struct load_state {
	struct config *cf;
	const char *name;	/* of the file, for warnings */
	unsigned warnings_left_out;	/* past cf->warnings' room */
	FILE *f;
	int line;		/* of the file: the one inih is on */
	char section[80];	/* in effect, whole (pool names fit) */
	int has_key;		/* a key since: an indented line continues it */
	int continues;		/* the line inih is on is such a line */
	int acl_none;		/* the acl being read said "none" */
	int uq_none;		/* ... the user_quotas being read */
	int read_errno;		/* reading the file failed: why */
	int long_line;		/* a line too long for inih, or 0 */
	int max_line;		/* the most bytes inih takes in a line */
	int pool_line[CONFIG_MAX_POOLS];	/* where each pool's section
						 * first starts */
	int acl_line[CONFIG_MAX_POOLS];		/* where its acl key is, or 0 */
	int uq_line[CONFIG_MAX_POOLS];		/* ... its user_quotas, or 0 */
	int problem_line;	/* the line of problem, or 0 */
	int admin_line;		/* the admin_group in force, or 0 */
	int admin_conns_line;	/* the admin_connections in force, or 0 */
	char admin_conns_value[200];	/* as written there (a line's most) */
	char problem[256];
};

/*
 * A size as config_parse_size reads it: 0, -1 for a word of another form,
 * or SIZE_TOO_LARGE for one of the form whose value passes 64 bits (digits
 * or multiplier), which a bounded value's problem words as its bound.
 */
#define SIZE_TOO_LARGE 1
int config_read_size(const char *s, uint64_t *out);

/*
 * A warning of the file's, kept in cf->warnings (past their room counted,
 * the last room says how many, at the end of the load).
 */
void config_warn(struct load_state *ls, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A size written with a byte unit ("256MB"): the reader is told, once. */
void config_note_decimal_unit(struct load_state *ls, const char *key,
			      const char *value);

/*
 * A user (group) name or its id into *out: 0; -1 for no such user
 * (group); -2 for 4294967295, which means none.
 */
int config_parse_user(const char *s, uid_t *out);
int config_parse_group(const char *s, gid_t *out);

/*
 * A key of the file, in section (config.c): 1, or 0 with ls->problem
 * said.  config_read.c calls it for each key inih reads.
 */
int config_on_key(struct load_state *ls, const char *section, const char *key,
		  const char *value);
/*
 * A section header, checked when it is read, whether or not keys follow
 * (config.c): 1, or 0 with ls->problem said.
 */
int config_on_section(struct load_state *ls, const char *section);

/*
 * A pool's acl and user_quotas keys (config_lists.c): 0, or -1 with
 * ls->problem said; p's list changes only when the line is good.
 */
int config_acl_key(struct load_state *ls, struct config_pool *p,
		   const char *value);
int config_uquotas_key(struct load_state *ls, struct config_pool *p,
		       const char *value);

#endif
