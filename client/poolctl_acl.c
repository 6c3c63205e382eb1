/*
 * poolctl_acl.c - pools' access control lists: `poolctl acl POOL`, which
 * lists a pool's list getfacl's way (-m, -x and --set change it), the
 * --acl of create and set, and the list stats shows beside a pool's
 * other figures.
 *
 * Entries are read by pool_acl_parse, as poolmgrd.conf(5) reads them, so
 * that one list is written one way wherever it is given; each refusal of
 * the words is a usage error (exit 2) said in its words, before poolctl
 * connects.  Names are shown where the password and group databases have
 * them, numbers where they do not, and an entry's name only where it
 * reads back as that entry; kv output keeps the numbers, for scripts.
 *
 * An entry that can change nothing (a user entry for root, the daemon's
 * uid or the pool's owner) is sent all the same, as the daemon takes it
 * and scripts may give it, with a note on stderr saying why (acl_notes,
 * after create's, set's and acl's changes).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/* What a refusal names when the daemon is older than lists. */
#define ACL_TOO_OLD	"this poolmgrd has no access control lists (it is " \
			"older than them)"

/* ---------------------------------------------------------------------- */
/* Reading entries from the command line. */

/* Does text hold no entry at all: empty, or separators only? */
static bool
acl_blank(const char *text)
{
	return text[strspn(text, ", \t\n")] == '\0';
}

/*
 * A kind and id given twice in one list: the daemon would refuse the
 * list, and which of the two rights was meant only the caller knows.
 * Said before connecting, as the other mistakes of the words are.
 */
static int
acl_twice(const char *cmd, const char *opt, const struct pool_acl_entry *e,
    size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (e[i].kind == e[j].kind && e[i].id == e[j].id)
				return usage_error("%s: %s: %s %" PRIu32
				    " given twice (one entry each)", cmd, opt,
				    e[i].kind == POOL_ACL_USER ? "user" :
				    "group", e[i].id);
	return 0;
}

static int
acl_no_entries(const char *cmd, const char *opt, int flags, bool none_ok)
{
	return usage_error("%s: %s: no entries (user:WHO%s or group:WHO%s, "
	    "separated by commas%s)", cmd, opt,
	    flags & POOL_ACL_PARSE_NO_RIGHTS ? "" : ":RIGHTS",
	    flags & POOL_ACL_PARSE_NO_RIGHTS ? "" : ":RIGHTS",
	    none_ok ? "; none for an empty list" : "");
}

int
acl_parse_opt(const char *cmd, const char *opt, const char *text, int flags,
    bool none_ok, struct pool_acl_entry *e, size_t *n)
{
	char	why[256];
	int	rc;

	*n = 0;
	/* An empty word is an unset variable more often than a wish. */
	if (acl_blank(text))
		return acl_no_entries(cmd, opt, flags, none_ok);
	rc = pool_acl_parse(text, flags, e, POOL_ACL_MAX, why, sizeof why);
	/* "none", blanks around it or not, where entries must be given. */
	if (rc == 0 && !none_ok)
		return acl_no_entries(cmd, opt, flags, none_ok);
	if (rc == -ENOMEM) {
		ctl_warnx("out of memory");
		return EXIT_FAILED;
	}
	if (rc == -ENOSPC)
		return usage_error("%s: %s: %s (a pool's list holds at most "
		    "%d)", cmd, opt, safe(why).s, POOL_ACL_MAX);
	if (rc < 0)
		return usage_error("%s: %s: %s", cmd, opt, *why != '\0' ?
		    safe(why).s : pool_strerror(rc));
	*n = (size_t)rc;
	if ((flags & POOL_ACL_PARSE_NO_RIGHTS) == 0)
		return acl_twice(cmd, opt, e, *n);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The lists of the pools stats shows. */

/*
 * The list of pool ps into *a.  A pool destroyed since it was listed
 * (-ENOENT), or made unreadable since (-EACCES), keeps its figures
 * without a list (n -1): the others are still worth showing.
 */
static int
acl_of_pool(struct ctl *ctl, const struct pool_stats *ps, struct ctl_acl *a)
{
	int	got;

	got = pool_acl_get(ctl->conn, ps->name, a->e, POOL_ACL_MAX);
	if (got == -ENOENT || got == -EACCES)
		got = -1;
	a->n = got;
	return got < -1 ? got : 0;
}

/*
 * Only the pools whose statistics count entries are asked for their
 * lists: the others have none, and a request each would cost a round
 * trip per pool.  When none has any, the first is asked all the same,
 * and that is needed: it alone tells "none" to show from no list at all
 * (a daemon older than lists, whose pools are shown as before them).
 * acl_entries is 0 from both.  The library knows which from the
 * daemon's Hello, but says it only through pool_acl_get, which answers
 * -EOPNOTSUPP without asking where the daemon lacks lists and asks where
 * it has them; poolclient.h has no call that tells the daemon's features
 * without a request (pool_daemon_stats says them, in a request of its
 * own).  So the request goes only to a daemon with lists, and once for
 * all the pools shown.
 */
int
acl_of_pools(struct ctl *ctl, const struct pool_stats *ps, size_t n,
    struct ctl_acl **out)
{
	struct ctl_acl	*acls;
	size_t		 i;
	bool		 any = false;
	int		 error;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((acls = calloc(n, sizeof *acls)) == NULL) {
		ctl_warnx("out of memory");
		return EXIT_FAILED;
	}
	for (i = 0; i < n; i++)
		any = any || ps[i].acl_entries > 0;
	for (i = 0; i < n; i++) {
		if (ps[i].acl_entries == 0 && (any || i > 0))
			continue;	/* none: n stays 0 */
		error = acl_of_pool(ctl, &ps[i], &acls[i]);
		if (error == -EOPNOTSUPP) {
			free(acls);
			return 0;
		}
		if (error != 0) {
			free(acls);
			return fail_pool(error, "stats", ps[i].name, NULL);
		}
	}
	*out = acls;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* poolctl acl POOL: the listing. */

/* The owner, group and other classes of a pool's mode, as rights. */
static uint32_t
acl_class(uint32_t mode, int shift)
{
	uint32_t	bits = (mode >> shift) & 07;

	return (bits & 04 ? POOL_ACL_READ : 0) | (bits & 02 ? POOL_ACL_WRITE :
	    0);
}

/*
 * The WHO of entry e as acl_entry_words writes it: its name where that
 * reads back as e's id and the terminal sees it as it is, else its
 * number; so that each entry's line reads back as that entry (`acl
 * --set`, create --acl).  The number alone under -n.
 */
static struct acl_who
acl_entry_who(const struct ctl *ctl, const struct pool_acl_entry *e)
{
	struct acl_who	 w;
	char		 text[sizeof w.s + 16], *who;

	snprintf(w.s, sizeof w.s, "%" PRIu32, e->id);
	if (ctl->numeric || !acl_entry_words(e, true, text, sizeof text))
		return w;
	/* "user:WHO:r": WHO between the first colon and the last. */
	who = strchr(text, ':') + 1;
	*strrchr(text, ':') = '\0';
	snprintf(w.s, sizeof w.s, "%s", who);
	return w;
}

/*
 * getfacl's layout: the pool and its owner and group as comments, the
 * owner's line, the user entries, the group's line, the group entries
 * and the others' line (numbers for names under -n, as getfacl -n).  The
 * list is sorted users first, so each part is a run of it.
 */
static void
acl_print_text(const struct ctl *ctl, const char *name,
    const struct pool_stats *st, const struct pool_acl_entry *e, size_t n)
{
	size_t	i;

	printf("# pool: %s\n", safe(name).s);
	printf("# owner: %s\n", id_who(ctl, POOL_ACL_USER, st->uid).s);
	printf("# group: %s\n", id_who(ctl, POOL_ACL_GROUP, st->gid).s);
	printf("user::%s\n", acl_perm(acl_class(st->mode, 6)).s);
	for (i = 0; i < n; i++)
		if (e[i].kind == POOL_ACL_USER)
			printf("user:%s:%s\n", acl_entry_who(ctl,
			    &e[i]).s, acl_perm(e[i].rights).s);
	printf("group::%s\n", acl_perm(acl_class(st->mode, 3)).s);
	for (i = 0; i < n; i++)
		if (e[i].kind == POOL_ACL_GROUP)
			printf("group:%s:%s\n", acl_entry_who(ctl,
			    &e[i]).s, acl_perm(e[i].rights).s);
	printf("other::%s\n", acl_perm(acl_class(st->mode, 0)).s);
}

static void
acl_print_json(const struct ctl *ctl, const char *name,
    const struct pool_stats *st, const struct pool_acl_entry *e, size_t n)
{
	struct json_object	*o;
	char			 buf[16384], mode[8];
	const char		*who;

	o = json_object_new_object();
	json_object_object_add(o, "pool", json_object_new_string(name));
	who = acl_id_name(POOL_ACL_USER, st->uid, buf, sizeof buf);
	json_object_object_add(o, "owner", who != NULL ?
	    json_object_new_string(who) : NULL);
	json_object_object_add(o, "uid", json_object_new_uint64(st->uid));
	who = acl_id_name(POOL_ACL_GROUP, st->gid, buf, sizeof buf);
	json_object_object_add(o, "group", who != NULL ?
	    json_object_new_string(who) : NULL);
	json_object_object_add(o, "gid", json_object_new_uint64(st->gid));
	snprintf(mode, sizeof mode, "%04" PRIo32, st->mode & 07777);
	json_object_object_add(o, "mode", json_object_new_string(mode));
	json_object_object_add(o, "acl", acl_json(e, n));
	json_print(ctl, o);
}

/*
 * "POOL KEY VALUE" lines as stats' kv: the owner, group and mode, then
 * "POOL user.UID RIGHTS" and "POOL group.GID RIGHTS" per entry, numbers
 * only, so that `awk '$2 == "user.1001"'` finds an entry.
 */
static void
acl_print_kv(const char *name, const struct pool_stats *st,
    const struct pool_acl_entry *e, size_t n)
{
	size_t	i;

	printf("%s uid %" PRIu32 "\n", name, st->uid);
	printf("%s gid %" PRIu32 "\n", name, st->gid);
	printf("%s mode %04" PRIo32 "\n", name, st->mode & 07777);
	for (i = 0; i < n; i++)
		printf("%s %s.%" PRIu32 " %s\n", name, e[i].kind ==
		    POOL_ACL_USER ? "user" : "group", e[i].id,
		    acl_rights_word(e[i].rights));
}

static int
acl_list(struct ctl *ctl, const char *name, enum format fmt)
{
	struct pool_acl_entry	 e[POOL_ACL_MAX];
	struct pool_stats	 st;
	int			 rc, got, error;

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* The list first: a daemon without lists is told nothing. */
	got = pool_acl_get(ctl->conn, name, e, POOL_ACL_MAX);
	if (got < 0)
		return fail_pool(got, "acl", name, got == -EOPNOTSUPP ?
		    ACL_TOO_OLD : NULL);
	if ((error = pool_stats_by_name(ctl->conn, name, &st)) != 0)
		return fail_pool(error, "acl", name, NULL);
	switch (fmt) {
	case FMT_JSON:
		acl_print_json(ctl, name, &st, e, (size_t)got);
		break;
	case FMT_KV:
		acl_print_kv(name, &st, e, (size_t)got);
		break;
	default:
		acl_print_text(ctl, name, &st, e, (size_t)got);
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* poolctl acl POOL -m/-x/--set: a change. */

static struct why
acl_why(int error)
{
	struct why	w = { NULL, false, NULL };

	switch (error) {
	case -EPERM:
		w.text = "not permitted";
		w.bare = "not permitted (the pool's owner, the daemon's uid, "
		    "root and its admin group may change its list)";
		break;
	case -EROFS:
		w.text = "the daemon's configuration file defines it: change "
		    "the pool's list there and reload the daemon";
		w.whole = true;
		break;
	case -ENOSPC:
		w.text = "the list would hold more entries than a pool's may";
		w.bare = "the list would hold more than 32 entries";
		break;
	case -EINVAL:
		w.text = "invalid entries";
		break;
	case -EOPNOTSUPP:
		w.text = ACL_TOO_OLD;
		w.whole = true;
		break;
	}
	return w;
}

/*
 * What the notes of entries that change nothing need to know: the pool's
 * owner and the daemon's uid, where they could be asked.
 */
struct acl_idle {
	bool		owner_known, daemon_known;
	uint32_t	owner, daemon_uid;
};

/* Does any user entry of e name a uid other than 0 and the owner? */
static bool
acl_idle_needs_daemon(const struct acl_idle *k,
    const struct pool_acl_entry *e, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (e[i].kind == POOL_ACL_USER && e[i].id != 0 &&
		    !(k->owner_known && e[i].id == k->owner))
			return true;
	return false;
}

/*
 * The owner of pool and the daemon's uid, each only where some user
 * entry could be one of them.  A question refused (an older daemon, a
 * pool gone since) leaves its answer unknown and its note unsaid: the
 * change is made, and the notes are only advice about it.
 */
static void
acl_idle_ask(const struct ctl *ctl, const char *pool,
    const struct pool_acl_entry *e, size_t n, struct acl_idle *k)
{
	struct pool_stats		st;
	struct pool_daemon_stats	ds;

	memset(k, 0, sizeof *k);
	if (pool_stats_by_name(ctl->conn, pool, &st) == 0) {
		k->owner_known = true;
		k->owner = st.uid;
	}
	if (acl_idle_needs_daemon(k, e, n) &&
	    pool_daemon_stats(ctl->conn, &ds) == 0) {
		k->daemon_known = true;
		k->daemon_uid = ds.uid;
	}
}

/*
 * A note for user entry e if it changes nothing.  Root and the daemon's
 * uid have every right to every pool before any list is read
 * (session_may_access in the daemon), and the owner's access is the
 * mode's owner bits, before any entry (the first rule of pool_acl.h).
 * A group entry gets none, the pool's own group's neither: the group
 * class grants what any of the caller's groups there grants, so such an
 * entry gives the group's members what the mode's group bits do not.
 */
static void
acl_idle_note(const struct acl_idle *k, const char *pool,
    const struct pool_acl_entry *e)
{
	char		words[sizeof(struct acl_who) + 16];
	struct acl_who	w;
	const char	*who = w.s;

	if (e->kind != POOL_ACL_USER)
		return;
	acl_words(e, 1, true, words, sizeof words);
	w = acl_who(POOL_ACL_USER, e->id);
	if (e->id == 0)
		ctl_warnx("note: %s changes nothing: %s (uid 0) has every "
		    "right to every pool, whatever its list says", words,
		    who);
	else if (k->daemon_known && e->id == k->daemon_uid)
		ctl_warnx("note: %s changes nothing: %s is the daemon's uid, "
		    "which has every right to every pool, whatever its list "
		    "says", words, who);
	else if (k->owner_known && e->id == k->owner)
		ctl_warnx("note: %s changes nothing: %s owns pool %s, whose "
		    "mode decides the owner's access", words, who,
		    safe(pool).s);
}

void
acl_notes(const struct ctl *ctl, const char *pool,
    const struct pool_acl_entry *e, size_t n)
{
	struct acl_idle	k;
	size_t		i;
	bool		users = false;

	for (i = 0; i < n; i++)
		users = users || e[i].kind == POOL_ACL_USER;
	if (!users)
		return;		/* nothing to ask for */
	acl_idle_ask(ctl, pool, e, n, &k);
	for (i = 0; i < n; i++)
		acl_idle_note(&k, pool, &e[i]);
}

/* As JSON only, as set's: the pool and what the request gave. */
static void
acl_print_change(const struct ctl *ctl, const char *name, bool whole,
    const struct pool_acl_entry *add, size_t nadd,
    const struct pool_acl_entry *rm, size_t nrm)
{
	struct json_object	*o;

	if (!ctl->json)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "pool", json_object_new_string(name));
	if (whole)
		json_object_object_add(o, "acl", acl_json(add, nadd));
	if (!whole && nadd > 0)
		json_object_object_add(o, "modified", acl_json(add, nadd));
	if (!whole && nrm > 0) {
		struct json_object *a = acl_json(rm, nrm);
		size_t i;

		/* A removal names kind and id: "-" would read as a refusal. */
		for (i = 0; i < nrm; i++)
			json_object_object_del(json_object_array_get_idx(a,
			    i), "rights");
		json_object_object_add(o, "removed", a);
	}
	json_print(ctl, o);
}

static int
acl_change(struct ctl *ctl, const char *name)
{
	struct pool_acl_entry	 add[POOL_ACL_MAX], rm[POOL_ACL_MAX];
	struct pool_set_opts	 s;
	struct why		 why;
	size_t			 nadd = 0, nrm = 0;
	int			 rc, error;

	if (ctl->set_acl_arg != NULL &&
	    (rc = acl_parse_opt("acl", "--set", ctl->set_acl_arg, 0, true,
	    add, &nadd)) != 0)
		return rc;
	if (ctl->modify_arg != NULL &&
	    (rc = acl_parse_opt("acl", "--modify", ctl->modify_arg, 0, false,
	    add, &nadd)) != 0)
		return rc;
	if (ctl->remove_arg != NULL &&
	    (rc = acl_parse_opt("acl", "--remove", ctl->remove_arg,
	    POOL_ACL_PARSE_NO_RIGHTS, false, rm, &nrm)) != 0)
		return rc;

	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if (ctl->set_acl_arg != NULL) {
		memset(&s, 0, sizeof s);
		s.which = POOL_SET_ACL;
		s.acl = add;
		s.nacl = (uint32_t)nadd;
		error = pool_set(ctl->conn, name, &s);
	} else
		error = pool_acl_modify(ctl->conn, name, add, nadd, rm, nrm);
	if (error != 0) {
		why = acl_why(error);
		return fail_refusal(error, "cannot change the list of pool",
		    name, &why);
	}
	acl_print_change(ctl, name, ctl->set_acl_arg != NULL, add, nadd, rm,
	    nrm);
	acl_notes(ctl, name, add, nadd);
	return 0;
}

int
cmd_acl(struct ctl *ctl, int argc, char **argv)
{
	const char	*name = argv[0];
	enum format	 fmt;
	bool		 change;
	int		 rc;

	(void)argc;
	if ((rc = check_pool_name("acl", name)) != 0)
		return rc;
	change = ctl->set_acl_arg != NULL || ctl->modify_arg != NULL ||
	    ctl->remove_arg != NULL;
	if (ctl->set_acl_arg != NULL && (ctl->modify_arg != NULL ||
	    ctl->remove_arg != NULL))
		return usage_error("acl: --set replaces the whole list: not "
		    "with --modify or --remove, which change some entries");
	if ((rc = parse_format(ctl, &fmt)) != 0)
		return rc;
	/* --format=json is --json, for a change as for a listing. */
	if (change && ctl->format_arg != NULL && fmt != FMT_JSON)
		return usage_error("acl: --format is for listing: a change "
		    "prints nothing (with --json or --format=json, what it "
		    "gave)");
	if (change && ctl->numeric)
		return usage_error("acl: --numeric is for listing: a change "
		    "prints nothing (with --json, what it gave)");
	if (change) {
		ctl->json = fmt == FMT_JSON;
		return acl_change(ctl, name);
	}
	if (fmt == FMT_PROMETHEUS)
		return usage_error("acl: --format=prometheus does not apply: "
		    "a list is no quantity (text, json or kv)");
	return acl_list(ctl, name, fmt);
}
