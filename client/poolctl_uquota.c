/*
 * poolctl_uquota.c - uids' own user quotas: the --user-quota USER=SIZE
 * words of create and set (USER=default too, for set: the entry taken
 * out), and the entries stats shows beside a pool's other figures.
 *
 * A pool's user quota (--user-quota SIZE) binds every uid alike; an
 * entry binds its uid instead, SIZE 0 or none freeing it of any.  The
 * words are read here before poolctl connects, each refusal a usage
 * error (exit 2) that names the word, as the other options' are: a user
 * no database knows, a size that is none, a uid given twice (which of
 * its bounds was meant only the caller knows), more than 32 entries or
 * 32 removals.  Several words are one request, all or nothing, with the
 * command's other settings.
 *
 * How stats prints the entries is poolctl_uquota_text.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/* What a SIZE of USER=SIZE may be, for the usage error of a bad one. */
#define UQ_SIZE_FORMS	"none or 0 for no user quota, or a number of " \
			"bytes, optionally followed by K, M, G or T, or " \
			"KiB to TiB"

/* ---------------------------------------------------------------------- */
/* Reading the words. */

/*
 * The USER of a word (len bytes of it) into *uid: a name the password
 * database knows or a number below 4294967295.  0 or the exit code.
 */
static int
uq_user(const char *cmd, const char *word, size_t len, uint32_t *uid)
{
	char	user[256];

	if (len == 0)
		return usage_error("%s: --user-quota %s: no user before '=' "
		    "(USER=SIZE: a user name or a uid)", cmd,
		    safe(word).s);
	if (len >= sizeof user)
		return usage_error("%s: --user-quota %s: no such user (a user "
		    "name or a uid)", cmd, safe(word).s);
	memcpy(user, word, len);
	user[len] = '\0';
	if (parse_uid(user, uid) != 0)
		return usage_error("%s: --user-quota %s: no such user '%s' "
		    "(a user name, or a uid below 4294967295)", cmd,
		    safe(word).s, safe(user).s);
	return 0;
}

/*
 * The SIZE of a word into *bytes: none or 0 for no user quota, or a
 * size.  0 or the exit code.
 */
static int
uq_size(const char *cmd, const char *word, const char *size,
    uint64_t *bytes)
{
	if (strcmp(size, "none") == 0) {
		*bytes = 0;
		return 0;
	}
	if (parse_size(size, UINT64_MAX, bytes) == 0)
		return 0;
	if (errno == ERANGE)
		return usage_error("%s: --user-quota %s: size too large (at "
		    "most 18446744073709551615)", cmd, safe(word).s);
	return usage_error("%s: --user-quota %s: bad size '%s' (%s%s)", cmd,
	    safe(word).s, safe(size).s, UQ_SIZE_FORMS,
	    strcmp(cmd, "set") == 0 ? "; default takes the entry out" : "");
}

/* Has uid been given already, as an entry or a removal? */
static bool
uq_seen(uint32_t uid, const struct pool_user_quota *set, size_t nset,
    const uint32_t *rm, size_t nrm)
{
	size_t	i;

	for (i = 0; i < nset; i++)
		if (set[i].uid == uid)
			return true;
	for (i = 0; i < nrm; i++)
		if (rm[i] == uid)
			return true;
	return false;
}

/* The most a list holds: more entries are refused before asking. */
static int
uq_too_many(const char *cmd)
{
	return usage_error("%s: --user-quota: more than %d USER=SIZE entries "
	    "(a pool holds at most %d)", cmd, POOL_USER_QUOTA_MAX,
	    POOL_USER_QUOTA_MAX);
}

/* One USER=SIZE word into set or rm.  0 or the exit code. */
static int
uq_word(const char *cmd, const char *word, bool removals_ok,
    struct pool_user_quota *set, size_t *nset, uint32_t *rm, size_t *nrm)
{
	const char	*eq = strchr(word, '=');
	uint32_t	 uid;
	uint64_t	 bytes;
	int		 rc;

	if ((rc = uq_user(cmd, word, (size_t)(eq - word), &uid)) != 0)
		return rc;
	if (uq_seen(uid, set, *nset, rm, *nrm))
		return usage_error("%s: --user-quota %s: user %s (uid %" PRIu32
		    ") given twice (one entry each)", cmd, safe(word).s,
		    acl_who(POOL_ACL_USER, uid).s, uid);
	if (strcmp(eq + 1, "default") == 0) {
		if (!removals_ok)
			return usage_error("%s: --user-quota %s: default is "
			    "for set, which takes a pool's entry out (a new "
			    "pool has none)", cmd, safe(word).s);
		/* More could name only uids without one (the daemon's rule). */
		if (*nrm == POOL_USER_QUOTA_MAX)
			return usage_error("%s: --user-quota %s: more than %d "
			    "USER=default removals (a pool holds at most %d "
			    "entries)", cmd, safe(word).s,
			    POOL_USER_QUOTA_MAX, POOL_USER_QUOTA_MAX);
		rm[(*nrm)++] = uid;
		return 0;
	}
	if ((rc = uq_size(cmd, word, eq + 1, &bytes)) != 0)
		return rc;
	if (*nset == POOL_USER_QUOTA_MAX)
		return uq_too_many(cmd);
	memset(&set[*nset], 0, sizeof set[*nset]);
	set[*nset].uid = uid;
	set[(*nset)++].bytes = bytes;
	return 0;
}

int
uquota_opts(const struct ctl *ctl, const char *cmd, bool removals_ok,
    struct pool_user_quota *set, size_t *nset, uint32_t *rm, size_t *nrm)
{
	size_t	i;
	int	rc;

	*nset = *nrm = 0;
	if (ctl->uq_too_many)
		return uq_too_many(cmd);
	for (i = 0; i < ctl->nuq_words; i++)
		if ((rc = uq_word(cmd, ctl->uq_words[i], removals_ok, set,
		    nset, rm, nrm)) != 0)
			return rc;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The entries of the pools stats shows. */

/*
 * The entries of pool ps into *u.  A pool destroyed since it was listed
 * (-ENOENT), or made unreadable since (-EACCES), keeps its figures
 * without them (n -1): the others are still worth showing.
 */
static int
uq_of_pool(struct ctl *ctl, const struct pool_stats *ps, struct ctl_uquota *u)
{
	int	got;

	got = pool_user_quota_get(ctl->conn, ps->name, u->e,
	    POOL_USER_QUOTA_MAX);
	if (got == -ENOENT || got == -EACCES)
		got = -1;
	u->n = got;
	return got < -1 ? got : 0;
}

/*
 * The pool stats names is asked even when its statistics count none:
 * the count is 0 from a daemon without them too, and JSON tells an
 * empty list from none known.  Of every pool (every), only those whose
 * statistics count some are asked: the others have none to show, and a
 * request each would cost a round trip per pool; they are left as not
 * had (n -1: no line, no key).  A daemon without them answers the first
 * asked without being asked (-EOPNOTSUPP, said by the library): none
 * shown, as before them.
 */
int
uquota_of_pools(struct ctl *ctl, const struct pool_stats *ps, size_t n,
    bool every, struct ctl_uquota **out)
{
	struct ctl_uquota	*u;
	size_t			 i;
	int			 error;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((u = calloc(n, sizeof *u)) == NULL) {
		ctl_warnx("out of memory");
		return EXIT_FAILED;
	}
	for (i = 0; i < n; i++) {
		if (every && ps[i].user_quota_entries == 0) {
			u[i].n = -1;
			continue;
		}
		error = uq_of_pool(ctl, &ps[i], &u[i]);
		if (error == -EOPNOTSUPP) {
			free(u);
			return 0;
		}
		if (error != 0) {
			free(u);
			return fail_pool(error, "stats", ps[i].name, NULL);
		}
	}
	*out = u;
	return 0;
}
