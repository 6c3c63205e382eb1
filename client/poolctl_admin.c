/*
 * poolctl_admin.c - the commands that make, unmake and change pools:
 * create, destroy and set (the uids' own user quotas they give are read
 * in poolctl_uquota.c, and sent in the same request as the rest).
 *
 * Each needs more of the caller than the other commands do (the daemon's
 * uid, root or its admin group; a pool's owner may change its mode and
 * group), and each can be refused for reasons its arguments do not show:
 * a limit above a live pool's size, huge pages the kernel lacks, a uid
 * the daemon does not know.  So next to the option readers of create
 * and set live create_why and set_why, which say what a refusal means to
 * that command, in the words fail_refusal (poolctl_fail.c) prints with
 * or instead of the daemon's.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "poolctl.h"

/*
 * What an older daemon lacks when the library refuses the settings s
 * and the uids' own user quotas g with -EOPNOTSUPP: it would skip a
 * limit, user quota, access control list or entry it does not know, and
 * the pool would silently have none.  NULL: they give none of them.
 * The uids' own user quotas, then a list of entries, which the library
 * refuses to any daemon without them, are named first and alone: each
 * came after the ones below it, so a daemon too old for those lacks it
 * too, and one that knows them may still lack it.
 */
static const char *
too_old_for(const struct pool_set_opts *s, const struct uq_given *g)
{
	bool	limit = (s->which & POOL_SET_LIMIT) != 0;
	bool	user_quota = (s->which & POOL_SET_USER_QUOTA) != 0;
	bool	acl = (s->which & POOL_SET_ACL) != 0;

	/* The newest of them all: a daemon too old for any lacks these. */
	if (g->nset > 0 || g->nrm > 0)
		return "not supported: the daemon is too old for per-user "
		    "quotas (--user-quota USER=SIZE)";
	if (acl && (s->nacl > 0 || (!limit && !user_quota)))
		return "not supported: the daemon is too old for access "
		    "control lists";
	if (limit && user_quota)
		return "not supported: the daemon is too old for a limit or "
		    "a user quota";
	if (user_quota)
		return "not supported: the daemon is too old for a user quota";
	if (limit)
		return "not supported: the daemon is too old for a limit";
	return NULL;
}

/*
 * What the daemon's refusal of a create means.  The name, mode, granularity,
 * a size of 0 or above the largest pool and a limit above the size were
 * checked here, so -EINVAL is what only the daemon knows: a page size the
 * kernel does not offer, a limit below a granule...; its words say which,
 * and the list is for a daemon that gives none.  pool_strerror's texts would speak
 * of blocks and runs, or of block names.
 */
static struct why
create_why(int error, const struct pool_create_opts *o,
    const struct pool_set_opts *s, const struct uq_given *g)
{
	struct why	w = { NULL, true, NULL };

	switch (error) {
	case -EINVAL:
		w.text = "invalid size or option";
		w.whole = false;
		w.bare = "invalid size or option (a pool is at most 64 TiB, "
		    "its granularity at most the page size, its page size "
		    "one in /sys/kernel/mm/hugepages, a NUMA policy only on "
		    "system pages, its limit a granule to its size)";
		break;
	case -EEXIST:
		w.text = "a pool with that name exists";
		break;
	case -ENOMEM:
		if (o->page_size == 0) {
			w.text = "out of memory";
			break;
		}
		/* The daemon's words count the pages needed and free. */
		w.text = "cannot reserve the pool's huge pages";
		w.whole = false;
		w.bare = "not enough huge pages: the kernel has too few free "
		    "to reserve the whole pool (vm.nr_hugepages)";
		break;
	case -EPERM:
		w.text = "not permitted (only the daemon's uid, root and its "
		    "admin group may create pools)";
		break;
	case -ENODEV:
		w.text = "no such NUMA node: it does not exist on the daemon's "
		    "machine, has no memory, or is outside the daemon's "
		    "cpuset";
		break;
	case -EOPNOTSUPP:
		if ((w.text = too_old_for(s, g)) == NULL)
			w.text = "not supported: the daemon's kernel has no "
			    "NUMA policies, or its system-call filter refuses "
			    "mbind";
		break;
	default:
		w.whole = false;
		break;
	}
	return w;
}

/* What a size option takes, for the usage error of a word it cannot read. */
#define SIZE_FORMS	"a number of bytes, optionally followed by K, M, G " \
			"or T, or KiB to TiB"
/* The most a size option takes, for one above it (bad_size). */
#define MOST_BYTES	"18446744073709551615"
#define MOST_POOL	"64T, the largest pool"
/* The daemon's largest pool (POOL_MAX_SIZE), which no size may pass. */
#define POOL_MOST_BYTES	((uint64_t)1 << 46)

/*
 * The usage error for the word of a size option: "create: bad quota '12x'
 * (FORMS)".  A byte unit ("64MB", "2kb") is refused rather than read as
 * the daemon's file reads it, since "MB" usually means powers of 1000;
 * but the word is a size without its B, so say why it was refused and
 * what to write instead, both spellings, unit in capitals as the file's
 * warning gives them.  A bare B ("4096B") is the bytes a size counts
 * anyway.  A size of those forms above max, the most the option takes
 * where poolctl knows it ("99999999999T", or "65T" for a pool), is too
 * large, and what to write is then that most (most), not the forms; so
 * is one with a byte unit that would be too large without its B
 * ("99999999999TB"), since writing the unit as told would not make it
 * fit.  Every size option words its refusal here, so each gets the same
 * hint.
 */
static int
bad_size(const char *cmd, const char *what, const char *word, uint64_t max,
    const char *forms, const char *most)
{
	uint64_t	 v;
	size_t		 n = strlen(word);
	char		 unit = '\0';
	bool		 byte_unit = false;
	int		 rc;

	/* "4KiBB" is no size with a unit after it: only "4KB" or "4B". */
	if (n >= 2 && (word[n - 1] == 'B' || word[n - 1] == 'b')) {
		unit = (char)toupper((unsigned char)word[n - 2]);
		byte_unit = isdigit((unsigned char)unit) ||
		    strchr("KMGT", unit) != NULL;
	}
	if (byte_unit)
		rc = parse_size_prefix(word, n - 1, max, &v);
	else
		rc = parse_size(word, max, &v);
	if (rc != 0 && errno == ERANGE)
		return usage_error("%s: bad %s '%s': too large (at most %s)",
		    cmd, what, word, most);
	if (!byte_unit || rc != 0)
		return usage_error("%s: bad %s '%s' (%s)", cmd, what,
		    safe(word).s, forms);
	if (isdigit((unsigned char)unit))
		return usage_error("%s: bad %s '%s': a size is a number of "
		    "bytes, without B: write %.*s", cmd, what, word,
		    (int)(n - 1), word);
	return usage_error("%s: bad %s '%s': sizes are powers of 1024, and "
	    "%cB usually means powers of 1000: write %.*s%c or %.*s%ciB",
	    cmd, what, word, unit, (int)(n - 2), word, unit, (int)(n - 2),
	    word, unit);
}

/* --numa-node N [--numa-policy preferred|bind] into o. */
static int
numa_opts(const struct ctl *ctl, struct pool_create_opts *o)
{
	if (ctl->numa_node_arg == NULL) {
		if (ctl->numa_policy_arg != NULL)
			return usage_error("create: --numa-policy needs "
			    "--numa-node");
		return 0;
	}
	if (parse_numa_node(ctl->numa_node_arg, &o->numa_node) != 0)
		return usage_error("create: bad NUMA node '%s' (a number "
		    "below 1024)", ctl->numa_node_arg);
	/* hugetlbfs keeps no policy for the pages other processes touch. */
	if (o->page_size > (uint64_t)sysconf(_SC_PAGESIZE))
		return usage_error("create: --numa-node needs system pages, "
		    "not --page-size %s", ctl->page_size_arg);
	if (ctl->numa_policy_arg == NULL ||
	    strcmp(ctl->numa_policy_arg, "preferred") == 0)
		o->numa_policy = POOL_NUMA_PREFERRED;
	else if (strcmp(ctl->numa_policy_arg, "bind") == 0)
		o->numa_policy = POOL_NUMA_BIND;
	else
		return usage_error("create: bad NUMA policy '%s' (preferred "
		    "or bind)", ctl->numa_policy_arg);
	return 0;
}

/* --owner and --group into o, names resolved here as set resolves them. */
static int
owner_opts(const struct ctl *ctl, struct pool_create_opts *o)
{
	if (ctl->owner_arg != NULL) {
		if (parse_uid(ctl->owner_arg, &o->uid) != 0)
			return usage_error("create: no such user '%s'",
			    safe(ctl->owner_arg).s);
		o->flags |= POOL_CREATE_OWNER;
	}
	if (ctl->group_arg != NULL) {
		if (parse_gid(ctl->group_arg, &o->gid) != 0)
			return usage_error("create: no such group '%s'",
			    safe(ctl->group_arg).s);
		o->flags |= POOL_CREATE_GROUP;
	}
	return 0;
}

/*
 * The most a limit of the pool o makes may be: its size, rounded up to
 * its pages as the daemon rounds it before it compares.
 */
static uint64_t
create_limit_most(const struct pool_create_opts *o)
{
	uint64_t	 page = o->page_size;
	long		 pagesize;

	if (page == 0) {
		pagesize = sysconf(_SC_PAGESIZE);
		page = pagesize > 0 ? (uint64_t)pagesize : 1;
	}
	return (o->max_size + page - 1) & ~(page - 1);
}

/*
 * --limit into o: a size, 0 or "none" for no limit; at most max, the
 * pool's size where poolctl knows it (create), else the largest pool's.
 */
static int
limit_opt(const struct ctl *ctl, const char *cmd, uint64_t max,
    struct pool_set_opts *o)
{
	if (ctl->limit_arg == NULL)
		return 0;
	if (strcmp(ctl->limit_arg, "none") == 0)
		o->limit = 0;
	else if (parse_size(ctl->limit_arg, max, &o->limit) != 0)
		return bad_size(cmd, "limit", ctl->limit_arg, max,
		    "none, or " SIZE_FORMS, "the pool's size");
	o->which |= POOL_SET_LIMIT;
	return 0;
}

/*
 * A --quota or --user-quota of cmd, arg, into *bytes: a size, 0 or
 * "none" for none (stats prints a pool without one so).  what names it
 * in a usage error.
 */
static int
quota_arg(const char *cmd, const char *what, const char *arg,
    uint64_t *bytes)
{
	if (strcmp(arg, "none") == 0) {
		*bytes = 0;
		return 0;
	}
	if (parse_size(arg, UINT64_MAX, bytes) != 0)
		return bad_size(cmd, what, arg, UINT64_MAX,
		    "none, or " SIZE_FORMS, MOST_BYTES);
	return 0;
}

/*
 * A --retain of cmd, arg, into *bytes: a size, 0 or "none" for none
 * (stats prints a pool that keeps no free page so), which the protocol
 * says as POOL_RETAIN_NONE (its 0 is the default).  forms are those cmd
 * takes, for a usage error.
 */
static int
retain_arg(const char *cmd, const char *arg, const char *forms,
    uint64_t *bytes)
{
	if (strcmp(arg, "none") == 0)
		*bytes = 0;
	else if (parse_size(arg, UINT64_MAX, bytes) != 0)
		return bad_size(cmd, "retain", arg, UINT64_MAX, forms,
		    MOST_BYTES);
	if (*bytes == 0)
		*bytes = POOL_RETAIN_NONE;
	return 0;
}

/*
 * --acl ENTRIES into o, the entries into e (room for POOL_ACL_MAX), which
 * o points to: "none" is no entries, as it replaces the list whole.
 */
static int
acl_opt(const struct ctl *ctl, const char *cmd, struct pool_set_opts *o,
    struct pool_acl_entry *e)
{
	size_t	n;
	int	rc;

	if (ctl->acl_arg == NULL)
		return 0;
	if ((rc = acl_parse_opt(cmd, "--acl", ctl->acl_arg, 0, true, e,
	    &n)) != 0)
		return rc;
	o->acl = e;
	o->nacl = (uint32_t)n;
	o->which |= POOL_SET_ACL;
	return 0;
}

/* --user-quota into o, read as --quota is.  cmd names the command. */
static int
user_quota_opt(const struct ctl *ctl, const char *cmd,
    struct pool_set_opts *o)
{
	int	rc;

	if (ctl->user_quota_arg == NULL)
		return 0;
	if ((rc = quota_arg(cmd, "user quota", ctl->user_quota_arg,
	    &o->user_quota)) != 0)
		return rc;
	o->which |= POOL_SET_USER_QUOTA;
	return 0;
}

int
cmd_create(struct ctl *ctl, int argc, char **argv)
{
	struct pool_create_opts	 o;
	struct pool_set_opts	 s;
	struct pool_acl_entry	 acl[POOL_ACL_MAX];
	struct pool_user_quota	 uq[POOL_USER_QUOTA_MAX];
	uint32_t		 no_rm[1];
	struct uq_given		 g = { uq, 0, no_rm, 0 };
	struct why		 why;
	const char		*name = argv[0];
	uint64_t		 v, most;
	long			 pagesize;
	int			 rc, error;

	(void)argc;
	memset(&o, 0, sizeof o);
	if ((rc = check_pool_name("create", name)) != 0)
		return rc;
	if (ctl->size_arg == NULL)
		return usage_error("create: --size is required");
	if (parse_size(ctl->size_arg, POOL_MOST_BYTES, &o.max_size) != 0)
		return bad_size("create", "size", ctl->size_arg,
		    POOL_MOST_BYTES, SIZE_FORMS, MOST_POOL);
	if (o.max_size == 0)
		return usage_error("create: bad size '%s' (not 0)",
		    ctl->size_arg);
	if (ctl->page_size_arg != NULL) {
		/* Which huge pages there are, only the daemon's kernel says. */
		pagesize = sysconf(_SC_PAGESIZE);
		if (parse_size(ctl->page_size_arg, UINT64_MAX,
		    &o.page_size) != 0 || o.page_size == 0 ||
		    (o.page_size & (o.page_size - 1)) ||
		    (pagesize > 0 && o.page_size < (uint64_t)pagesize))
			return bad_size("create", "page size",
			    ctl->page_size_arg, UINT64_MAX, "the system page, "
			    "or a huge page size such as 2M or 1G",
			    "the largest huge page size");
	}
	if (ctl->granularity_arg != NULL) {
		/*
		 * The daemon checks too; refusing here makes it exit 2.  The
		 * pool's page bounds it, a huge one if --page-size names it:
		 * the system page's bound refused --granularity 2M with
		 * --page-size 2M, which the daemon takes.
		 */
		pagesize = sysconf(_SC_PAGESIZE);
		most = o.page_size != 0 ? o.page_size : pagesize > 0 ?
		    (uint64_t)pagesize : UINT64_MAX;
		if (parse_size(ctl->granularity_arg, most, &v) != 0 ||
		    v < 8 || (v & (v - 1)) != 0)
			return bad_size("create", "granularity",
			    ctl->granularity_arg, most,
			    "a power of two from 8 to the page size",
			    "the page size");
		o.granularity = (uint32_t)v;
	}
	if (ctl->mode_arg != NULL) {
		/* The protocol reads mode 0 as "default 0600": refuse it. */
		if (parse_mode(ctl->mode_arg, &o.mode) != 0 || o.mode == 0)
			return usage_error("create: bad mode '%s' (octal, "
			    "0001 to 0777)", ctl->mode_arg);
	}
	if (ctl->quota_arg != NULL &&
	    (rc = quota_arg("create", "quota", ctl->quota_arg, &o.quota)) != 0)
		return rc;
	if (ctl->retain_arg != NULL &&
	    (rc = retain_arg("create", ctl->retain_arg,
	    "none, or " SIZE_FORMS, &o.retain)) != 0)
		return rc;
	if ((rc = numa_opts(ctl, &o)) != 0 || (rc = owner_opts(ctl, &o)) != 0)
		return rc;
	memset(&s, 0, sizeof s);
	if ((rc = limit_opt(ctl, "create", create_limit_most(&o), &s)) != 0 ||
	    (rc = user_quota_opt(ctl, "create", &s)) != 0 ||
	    (rc = acl_opt(ctl, "create", &s, acl)) != 0 ||
	    (rc = uquota_opts(ctl, "create", false, uq, &g.nset, no_rm,
	    &g.nrm)) != 0)
		return rc;

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* The entries in the same request: no moment without them. */
	if ((error = pool_create_user_quotas(ctl->conn, name, &o, &s, uq,
	    g.nset)) != 0) {
		why = create_why(error, &o, &s, &g);
		return fail_refusal(error, "cannot create pool", name, &why);
	}

	print_create(ctl, name, &o, &s, &g);
	if (s.which & POOL_SET_ACL)
		acl_notes(ctl, name, s.acl, s.nacl);
	return 0;
}

int
cmd_destroy(struct ctl *ctl, int argc, char **argv)
{
	const char		*name = argv[0];
	struct why		 why = { NULL, false, NULL };
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("destroy", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if (ctl->force)
		error = pool_destroy_force(ctl->conn, name);
	else
		error = pool_destroy(ctl->conn, name);
	/*
	 * pool_strerror's -EBUSY also speaks of blocks that cannot move; the
	 * daemon's words count the pool's handles and blocks.
	 */
	if (error == -EBUSY)
		why.text = "it has live blocks or open handles (use --force "
		    "to destroy it anyway)";
	else if (error == -EPERM) {
		why.text = "not permitted (only the daemon's uid, root and "
		    "its admin group may destroy pools)";
		why.whole = true;
	}
	if (error != 0)
		return fail_refusal(error, "cannot destroy pool", name, &why);

	print_destroy(ctl, name);
	return 0;
}

/*
 * What the daemon's refusal of a set means.  Every value was checked here
 * but whether the daemon's system knows a uid or gid, and whether a limit
 * fits the pool: the daemon's words say which, and which of the rules of
 * permission the caller met; the lists are for a daemon that gives none.
 */
static struct why
set_why(int error, const struct pool_set_opts *o, const struct uq_given *g)
{
	struct why	w = { NULL, true, NULL };

	switch (error) {
	case -EPERM:
		w.text = "not permitted";
		w.whole = false;
		w.bare = "not permitted (the daemon's uid, root and its admin "
		    "group may change a pool; its owner only its mode and "
		    "access control list, and its group to one of the "
		    "owner's)";
		break;
	case -EROFS:
		w.text = "the daemon's configuration file defines it: change "
		    "the pool there and reload the daemon";
		break;
	case -EINVAL:
		w.text = "invalid setting";
		w.whole = false;
		w.bare = "invalid setting (a uid or gid the daemon does not "
		    "know, or a limit below a granule or above the pool's "
		    "size)";
		break;
	case -EOPNOTSUPP:
		if ((w.text = too_old_for(o, g)) == NULL)
			w.whole = false;
		break;
	case -ENOSPC:
		/* pool_strerror's text speaks of pools and block names. */
		w.whole = false;
		if (g->nset > 0)
			w.text = "too many user quota entries";
		break;
	default:
		w.whole = false;
		break;
	}
	return w;
}

/* --mode, --owner and --group into o, as create reads a mode. */
static int
set_access_opts(const struct ctl *ctl, struct pool_set_opts *o)
{
	if (ctl->mode_arg != NULL) {
		if (parse_mode(ctl->mode_arg, &o->mode) != 0 || o->mode == 0)
			return usage_error("set: bad mode '%s' (octal, "
			    "0001 to 0777)", ctl->mode_arg);
		o->which |= POOL_SET_MODE;
	}
	if (ctl->owner_arg != NULL) {
		if (parse_uid(ctl->owner_arg, &o->uid) != 0)
			return usage_error("set: no such user '%s'",
			    safe(ctl->owner_arg).s);
		o->which |= POOL_SET_OWNER;
	}
	if (ctl->group_arg != NULL) {
		if (parse_gid(ctl->group_arg, &o->gid) != 0)
			return usage_error("set: no such group '%s'",
			    safe(ctl->group_arg).s);
		o->which |= POOL_SET_GROUP;
	}
	return 0;
}

/* --quota and --retain into o, as create reads them ("default" too). */
static int
set_room_opts(const struct ctl *ctl, struct pool_set_opts *o)
{
	int	rc;

	if (ctl->quota_arg != NULL) {
		if ((rc = quota_arg("set", "quota", ctl->quota_arg,
		    &o->quota)) != 0)
			return rc;
		o->which |= POOL_SET_QUOTA;
	}
	if (ctl->retain_arg != NULL) {
		if (strcmp(ctl->retain_arg, "default") == 0)
			o->retain = 0;
		else if ((rc = retain_arg("set", ctl->retain_arg,
		    "default, none, or " SIZE_FORMS, &o->retain)) != 0)
			return rc;
		o->which |= POOL_SET_RETAIN;
	}
	return 0;
}

int
cmd_set(struct ctl *ctl, int argc, char **argv)
{
	struct pool_set_opts	 o;
	struct pool_acl_entry	 acl[POOL_ACL_MAX];
	struct pool_user_quota	 uq[POOL_USER_QUOTA_MAX];
	uint32_t		 rm[CTL_UQ_WORDS];
	struct uq_given		 g = { uq, 0, rm, 0 };
	struct why		 why;
	const char		*name = argv[0];
	int			 rc, error;

	(void)argc;
	memset(&o, 0, sizeof o);
	if ((rc = check_pool_name("set", name)) != 0)
		return rc;
	if ((rc = set_access_opts(ctl, &o)) != 0 ||
	    (rc = acl_opt(ctl, "set", &o, acl)) != 0 ||
	    (rc = set_room_opts(ctl, &o)) != 0 ||
	    (rc = limit_opt(ctl, "set", POOL_MOST_BYTES, &o)) != 0 ||
	    (rc = user_quota_opt(ctl, "set", &o)) != 0 ||
	    (rc = uquota_opts(ctl, "set", true, uq, &g.nset, rm,
	    &g.nrm)) != 0)
		return rc;
	if (o.which == 0 && g.nset == 0 && g.nrm == 0)
		return usage_error("set: nothing to change (--mode, --owner, "
		    "--group, --acl, --quota, --user-quota, --retain or "
		    "--limit)");

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* The entries and the settings in one request, all or nothing. */
	if ((error = pool_set_user_quotas(ctl->conn, name, &o, uq, g.nset, rm,
	    g.nrm)) != 0) {
		why = set_why(error, &o, &g);
		return fail_refusal(error, "cannot set pool", name, &why);
	}

	print_set(ctl, name, &o, &g);
	if (o.which & POOL_SET_ACL)
		acl_notes(ctl, name, o.acl, o.nacl);
	return 0;
}
