/*
 * poolctl.h - what the files of poolctl share; nothing else includes it.
 *
 *   poolctl.c          the command line: options, the table of commands
 *                      and their help, the connection, main
 *   poolctl_parse.c    the values of arguments: sizes, modes, users...
 *   poolctl_admin.c    create, destroy, set, and what their refusals mean
 *   poolctl_show.c     list, stats, clients, persisted, trim, check,
 *                      status
 *   poolctl_names.c    names, wait, unpublish
 *   poolctl_blocks.c   blocks: a pool's live blocks, page after page, as
 *                      text, JSON or kv
 *   poolctl_free.c     free: end blocks by offset (what a crashed program
 *                      left persistent)
 *   poolctl_acl.c      acl: a pool's access control list listed and
 *                      changed; the lists of create, set and stats
 *   poolctl_acl_text.c access control entries in words and JSON; users
 *                      and groups by name in the tables
 *   poolctl_uquota.c   uids' own user quotas: the USER=SIZE words of
 *                      create and set, and the entries stats asks for
 *   poolctl_uquota_text.c  ... and those entries in words and JSON
 *   poolctl_print.c    what poolctl says: the ways of writing a value
 *                      that every command's output shares; create's,
 *                      destroy's, set's, trim's and check's results
 *   poolctl_print_stats.c  list's and stats' results: the statistics of
 *                      pools as text or JSON (and kv and Prometheus)
 *   poolctl_print_rows.c   the rows of clients, persisted (as kv and
 *                      Prometheus too), names and wait
 *   poolctl_status.c   what status says: the daemon's own statistics as
 *                      text, JSON, kv or Prometheus
 *   poolctl_fail.c     the diagnostics on stderr, with the exit status
 *                      each one means
 */
#ifndef POOLCTL_H
#define POOLCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "poolclient.h"

/* EX_USAGE (64) would also do, but 2 is what getopt-style tools use. */
#define EXIT_USAGE	2
#define EXIT_FAILED	1

/* What stats and persisted print: --format=FMT, or --json. */
enum format {
	FMT_TEXT,
	FMT_JSON,
	FMT_PROMETHEUS,
	FMT_KV,
};

/*
 * The --user-quota USER=SIZE words a command line may give: a pool's
 * entries and as many removals, each uid once (more are refused before
 * anything is asked, as the daemon would refuse them).
 */
#define CTL_UQ_WORDS	(2 * POOL_USER_QUOTA_MAX)

/* The command line, as parsed, and the connection once made. */
struct ctl {
	const char		*socket;	/* resolved path */
	int			 json;		/* print JSON */
	int			 json_flags;	/* JSON_C_TO_STRING_* */
	bool			 help;
	bool			 version;
	const char		*cmd;		/* the command, once known */

	unsigned		 opts;		/* O_* bits seen */
	const char		*size_arg;
	const char		*granularity_arg;
	const char		*mode_arg;
	const char		*quota_arg;
	const char		*user_quota_arg;	/* --user-quota SIZE */
	/* --user-quota USER=SIZE, each given (at most CTL_UQ_WORDS) */
	const char		*uq_words[CTL_UQ_WORDS];
	size_t			 nuq_words;
	bool			 uq_too_many;	/* more than CTL_UQ_WORDS */
	const char		*limit_arg;
	const char		*format_arg;
	const char		*retain_arg;
	const char		*page_size_arg;
	const char		*numa_node_arg;
	const char		*numa_policy_arg;
	const char		*timeout_arg;
	const char		*owner_arg;
	const char		*group_arg;
	const char		*pid_arg;
	const char		*handle_arg;
	const char		*older_than_arg;	/* free --older-than */
	const char		*acl_arg;	/* create, set --acl */
	const char		*modify_arg;	/* acl -m */
	const char		*remove_arg;	/* acl -x */
	const char		*set_acl_arg;	/* acl --set */
	bool			 force;
	bool			 by_size;	/* blocks --by-size */
	bool			 dry_run;	/* sweep --dry-run */
	bool			 numeric;	/* -n: ids as numbers */
	const char		*twice;		/* an option given twice */

	struct pool_conn	*conn;
};

/*
 * Client names come from whatever program connected, and a hostile one
 * could embed terminal escape sequences for the admin running `poolctl
 * clients`; safe() keeps only printable ASCII, '?' for the rest.
 */
struct safe {
	char	s[256];
};

/*
 * What a refusal means to the command that got it (fail_refusal).  text:
 * poolctl's words for the code, NULL for pool_strerror's.  whole: they
 * name the one case the code can mean there, so the daemon's words could
 * only say it again and are left out; otherwise the daemon's words follow
 * them and name the case, with its numbers.  bare: what to say instead of
 * text when the daemon gave no words (an older one), such as the cases
 * text sums up; NULL for text.
 */
struct why {
	const char	*text;
	bool		 whole;
	const char	*bare;
};

/* One uid's persistent blocks in one pool, and that pool's quotas. */
struct persisted_row {
	const char		*pool;
	uint64_t		 quota;
	uint64_t		 user_quota;	/* the pool's */
	uint64_t		 user_quota_bound; /* the uid's: its own, or
						    * the pool's; 0: none */
	struct pool_persisted	 by;
};

/*
 * A pool's access control list as stats shows it: n entries of e, or n
 * -1 for a pool whose list could not be had (destroyed or made
 * unreadable meanwhile).
 */
struct ctl_acl {
	int			 n;
	struct pool_acl_entry	 e[POOL_ACL_MAX];
};

/* poolctl.c: connect, once the arguments are good; 0 or the exit code */
int	ctl_connect(struct ctl *);

/*
 * poolctl_show.c: --format=FMT (or --json) of stats, persisted, status
 * and users; 0 or the exit code.
 */
int	parse_format(const struct ctl *, enum format *);
/*
 * The stats of the pool a command names (argv[0], in *one), or of every
 * pool when it names none (*ps then malloc'd): connects first.  0 or the
 * exit code.
 */
int	pools_asked(struct ctl *, const char *, int, char **,
	    struct pool_stats *, struct pool_stats **, size_t *);

/*
 * poolctl_parse.c: 0 and the value, or -1 for a refused word, errno
 * ERANGE when it is a size above the most given (or past 64 bits),
 * EINVAL otherwise (the caller words the usage error); check_pool_name:
 * 0 or the exit code.
 */
int	parse_size(const char *, uint64_t, uint64_t *);
int	parse_size_prefix(const char *, size_t, uint64_t, uint64_t *);
int	parse_numa_node(const char *, uint32_t *);
int	parse_timeout(const char *, int *);
int	parse_mode(const char *, uint32_t *);
int	parse_uid(const char *, uint32_t *);
int	parse_gid(const char *, uint32_t *);
int	parse_id(const char *, uint32_t *);
int	check_pool_name(const char *, const char *);

/*
 * The commands, as cmds[] in poolctl.c calls them: the arguments after
 * the command's name, the options already in ctl; the exit code.
 */
/* poolctl_admin.c */
int	cmd_create(struct ctl *, int, char **);
int	cmd_destroy(struct ctl *, int, char **);
int	cmd_set(struct ctl *, int, char **);
/* poolctl_show.c */
int	cmd_list(struct ctl *, int, char **);
int	cmd_stats(struct ctl *, int, char **);
int	cmd_clients(struct ctl *, int, char **);
int	cmd_persisted(struct ctl *, int, char **);
int	cmd_users(struct ctl *, int, char **);
int	cmd_trim(struct ctl *, int, char **);
int	cmd_check(struct ctl *, int, char **);
int	cmd_status(struct ctl *, int, char **);
/* poolctl_names.c */
int	cmd_names(struct ctl *, int, char **);
int	cmd_wait(struct ctl *, int, char **);
int	cmd_unpublish(struct ctl *, int, char **);
/* poolctl_blocks.c */
int	cmd_blocks(struct ctl *, int, char **);
/* poolctl_free.c */
int	cmd_free(struct ctl *, int, char **);
int	cmd_sweep(struct ctl *, int, char **);

/* poolctl_acl.c */
int	cmd_acl(struct ctl *, int, char **);
/*
 * The ENTRIES of option opt of cmd (pool_acl_parse's flags; none_ok:
 * "none", the empty list, may be given) into e, room for POOL_ACL_MAX,
 * *n of them: 0, or the exit code of a usage error that says why.
 */
int	acl_parse_opt(const char *, const char *, const char *, int, bool,
	    struct pool_acl_entry *, size_t *);
/*
 * The lists of the n pools ps, for stats, asked only of those whose
 * acl_entries count some: *out malloc'd, or NULL when the daemon has no
 * lists.  0 or the exit code.
 */
int	acl_of_pools(struct ctl *, const struct pool_stats *, size_t,
	    struct ctl_acl **);
/*
 * After a change the daemon made, a note on stderr for each of the n
 * entries e given for pool that changes nothing (a user entry for root,
 * the daemon's uid or the pool's owner), saying why.  Sent all the same:
 * the daemon takes them, and the exit status stays the change's.
 */
void	acl_notes(const struct ctl *, const char *,
	    const struct pool_acl_entry *, size_t);

/* poolctl_uquota.c */
struct json_object;
/*
 * The --user-quota USER=SIZE words of cmd into set (room for
 * POOL_USER_QUOTA_MAX, *nset) and, where removals_ok (set), the uids of
 * USER=default into rm (*nrm): 0, or the exit code of a usage error that
 * says which word is wrong and why.
 */
int	uquota_opts(const struct ctl *, const char *, bool,
	    struct pool_user_quota *, size_t *, uint32_t *, size_t *);
/*
 * A pool's uids' own user quotas as stats shows them: n entries of e, or
 * n -1 where they could not be had (a daemon without them, or a pool
 * destroyed or made unreadable meanwhile).
 */
struct ctl_uquota {
	int			 n;
	struct pool_user_quota	 e[POOL_USER_QUOTA_MAX];
};
/*
 * The entries of the n pools ps, for stats: asked of each pool, or,
 * of every pool (every), only of those whose user_quota_entries count
 * some (the others n -1); *out malloc'd, or NULL when the daemon has
 * none.  0 or the exit code.
 */
int	uquota_of_pools(struct ctl *, const struct pool_stats *, size_t,
	    bool, struct ctl_uquota **);
/* What a create or set gave of them: entries set, uids removed. */
struct uq_given {
	const struct pool_user_quota	*set;
	size_t				 nset;
	const uint32_t			*rm;
	size_t				 nrm;
};
/* Them into create's or set's JSON object: nothing when none. */
void	uquota_given_json(struct json_object *, const struct uq_given *);
/*
 * poolctl_uquota_text.c: stats' line, kv line (nothing for n < 1) and
 * JSON array of them (NULL for n -1).
 */
void	uquota_print_text(const struct ctl *, const struct ctl_uquota *,
	    size_t);
void	uquota_print_kv(const char *, const struct ctl_uquota *);
struct json_object *uquota_json(const struct ctl_uquota *);

/* poolctl_acl_text.c: entries in words and JSON */
/* The name of a uid (kind POOL_ACL_USER) or gid, or NULL: none known. */
const char	*acl_id_name(uint32_t, uint32_t, char *, size_t);
/* The name for a uid or gid, or its number: a getfacl line's. */
struct acl_who {
	char	s[256];
};
struct acl_who	 acl_who(uint32_t, uint32_t);
/*
 * A uid or gid in a text table: acl_who's name or number, the number
 * alone under -n (ctl->numeric), as ls -n.
 */
struct acl_who	 id_who(const struct ctl *, uint32_t, uint32_t);
struct json_object;
/* A uid's or gid's name as a JSON string, or null: none known. */
struct json_object *id_json(uint32_t, uint32_t);
/* An entry's rights as pool_acl_parse reads them: rw, r, w or -. */
const char	*acl_rights_word(uint32_t);
/*
 * Rights in getfacl's three letters, "rw-".  A pool has no execute right:
 * the third letter is always '-', so the line reads back as an entry.
 */
struct acl_perm {
	char	s[4];
};
struct acl_perm	 acl_perm(uint32_t);
/*
 * One entry in words, "user:bob:r" (names: where known, where they read
 * back as the entry's id and the terminal sees them as they are; else
 * the number): false when it does not fit.
 */
bool		 acl_entry_words(const struct pool_acl_entry *, bool, char *,
		    size_t);
/* n entries in words, "user:bob:r,group:27:rw", as acl_entry_words. */
void		 acl_words(const struct pool_acl_entry *, size_t, bool,
		    char *, size_t);
struct json_object;
/* n entries as a JSON array of {kind, id, name, rights}. */
struct json_object *acl_json(const struct pool_acl_entry *, size_t);

/* poolctl_fail.c: diagnostics, "poolctl: WHAT: WHY" on stderr */
void		ctl_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
int		usage_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		usage_hint(const char *);
int		fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		fail_connect(int, const char *);
int		fail_pool(int, const char *, const char *, const char *);
int		fail_refusal(int, const char *, const char *,
		    const struct why *);
struct safe	safe(const char *);

/*
 * poolctl_print.c: the ways of writing a value shared by every command's
 * output, and the results of the commands that act on one pool
 */
/*
 * A human size, "256.0 MiB".  Returned by value so that several can appear
 * in one printf.  Values under 1 KiB are exact ("512 B").
 */
struct hsize {
	char	s[32];
};
struct hsize	human(uint64_t);
/* For how long, in two units at most: "850ms", "42s", "3m05s", "2d04h". */
struct age_text {
	char	s[24];
};
struct age_text	age_text(uint64_t);
/*
 * An offset as poolctl writes it in text, "0x1000": printf's "%#x" writes
 * zero as a bare "0", which reads as decimal beside the others.
 */
struct offset_text {
	char	s[24];
};
struct offset_text	offset_text(uint64_t);
/* Permission bits as chmod writes them, "0660". */
struct omode {
	char	s[8];
};
struct omode	octal_mode(uint32_t);
/* How much of whole part is, in percent: 0 when whole is 0. */
double		percent(uint64_t, uint64_t);
/* A NUMA policy's name, as numa_maps writes the kernel's. */
const char	*numa_name(uint32_t);
uint64_t	member_value(const void *, size_t, size_t);
void		prom_label(const char *);
void		prom_family(const char *, const char *, const char *);
struct json_object;
/* A count as a JSON number. */
struct json_object *json_u64(uint64_t);
void		json_print(const struct ctl *, struct json_object *);
void	print_create(const struct ctl *, const char *,
	    const struct pool_create_opts *, const struct pool_set_opts *,
	    const struct uq_given *);
void	print_destroy(const struct ctl *, const char *);
void	print_set(const struct ctl *, const char *,
	    const struct pool_set_opts *, const struct uq_given *);
void	print_trim(const struct ctl *, const char *, uint64_t);
void	print_check(const struct ctl *, const char *, int, const char *);

/* poolctl_print_stats.c: the statistics of pools, on stdout */
void	print_list(const struct ctl *, const struct pool_stats *, size_t);
void	print_stats(const struct ctl *, enum format,
	    const struct pool_stats *, const struct ctl_acl *,
	    const struct ctl_uquota *, size_t);

/* poolctl_print_rows.c: rows of handles, uids and block names, on stdout */
void	print_clients(const struct ctl *, const struct pool_client_info *,
	    size_t);
void	print_persisted(const struct ctl *, enum format,
	    const struct persisted_row *, size_t);
void	print_names(const struct ctl *, const char *,
	    const struct pool_named *, size_t);
void	print_wait(const struct ctl *, const char *, const char *,
	    uint64_t, uint64_t, uint64_t);

/* poolctl_status.c: the daemon's own statistics, on stdout */
void	print_status(const struct ctl *, enum format,
	    const struct pool_daemon_stats *);

#endif /* POOLCTL_H */
