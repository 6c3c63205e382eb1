/*
 * poolctl_names.c - the commands on a pool's named blocks: names, wait
 * and unpublish.
 *
 * A block's name is a second argument beside the pool's, checked here as
 * the protocol takes it (check_block_name).  wait and unpublish go through
 * a handle of the pool, as a client program would, so once the pool is
 * open -ENOENT is the name, and they say so rather than let fail_pool say
 * "no such pool" (which only a wait that waited can meet: the pool
 * destroyed meanwhile).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolctl.h"

/* A block's name as the protocol takes it: 1 to 255 bytes. */
static int
check_block_name(const char *cmd, const char *name)
{
	if (*name == '\0')
		return usage_error("%s: empty block name", cmd);
	if (strlen(name) > POOL_BLOCK_NAME_MAX)
		return usage_error("%s: block name longer than %d bytes", cmd,
		    POOL_BLOCK_NAME_MAX);
	return 0;
}

/*
 * Every name of pool with prefix, into *all (*n of them), page after page
 * from the last name of the one before, until a page says none is left.
 * A name published or removed meanwhile is listed or not by where it
 * sorts; the library sees to it that none comes twice.  No bound at the
 * first page's total: names published ahead of the walk would push names
 * there all along past it.  The walk ends anyway: a page short of the
 * last is full and a pool holds 65536 names at most, so only a program
 * publishing a page's worth ahead of each page keeps it going.
 */
static int
names_every(struct ctl *ctl, const char *pool, const char *prefix,
    struct pool_named **all, size_t *n)
{
	struct pool_named	*page, *grown;
	size_t			 got, total;
	int			 error;

	*all = NULL;
	*n = 0;
	do {
		error = pool_names_after(ctl->conn, pool, prefix,
		    *n ? (*all)[*n - 1].name : NULL, &page, &got, &total);
		if (error != 0)
			return error;
		grown = realloc(*all, (*n + got ? *n + got : 1) * sizeof **all);
		if (grown == NULL) {
			free(page);
			return -ENOMEM;
		}
		*all = grown;
		memcpy(*all + *n, page, got * sizeof *page);
		*n += got;
		free(page);
	} while (total > got);
	return 0;
}

int
cmd_names(struct ctl *ctl, int argc, char **argv)
{
	struct pool_named	*pn = NULL;
	const char		*pool = argv[0];
	const char		*prefix = argc > 1 ? argv[1] : NULL;
	size_t			 n = 0, total = 0;
	int			 rc, error;

	if ((rc = check_pool_name("names", pool)) != 0)
		return rc;
	if (prefix != NULL && strlen(prefix) > POOL_BLOCK_NAME_MAX)
		return usage_error("names: prefix longer than %d bytes",
		    POOL_BLOCK_NAME_MAX);
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	error = names_every(ctl, pool, prefix, &pn, &n);
	total = n;
	/* A daemon from before paging by name: the one reply it has. */
	if (error == -EOPNOTSUPP) {
		free(pn);
		pn = NULL;
		error = pool_names(ctl->conn, pool, prefix, &pn, &n, &total);
	}
	if (error != 0) {
		free(pn);
		return fail_pool(error, "names", pool, NULL);
	}

	print_names(ctl, pool, pn, n);
	free(pn);
	if (total <= n)
		return 0;
	/*
	 * On stderr: stdout stays the table, or a JSON array, of those
	 * listed.  And not 0: names promises every name, and a script that
	 * took these for all of them (to unpublish each, or to look for one)
	 * would go on wrong, where a warning alone it does not read.
	 */
	ctl_warnx("names %s: %zu of %zu names listed: poolmgrd is older than "
	    "paging by name, and one reply holds at most 1000, fewer with "
	    "long names (a longer prefix lists the rest)", safe(pool).s, n,
	    total);
	return EXIT_FAILED;
}

/*
 * Why a wait failed, in its words.  The pool was opened: -ENOENT is the
 * name when the call did not wait, and the pool destroyed meanwhile when
 * it did.
 */
static int
wait_failed(int error, const char *pool, const char *name, int ms)
{
	char	why[sizeof("no such name: ") + sizeof(struct safe)];

	switch (error) {
	case -ETIMEDOUT:
		ctl_warnx("wait: %s was not published in %s within %d s",
		    safe(name).s, pool, ms / 1000);
		return EXIT_FAILED;
	case -EOPNOTSUPP:
		return fail_pool(error, "wait", pool, "poolmgrd is older than "
		    "lookups that wait: only --timeout 0 works");
	case -ENOENT:
		if (ms != 0)
			break;
		snprintf(why, sizeof why, "no such name: %s", safe(name).s);
		return fail_pool(error, "wait", pool, why);
	}
	return fail_pool(error, "wait", pool, NULL);
}

/*
 * Wait on a read-only handle: reading is all a lookup needs, and the
 * block is not held (as `names`, it only says where the name is).
 */
int
cmd_wait(struct ctl *ctl, int argc, char **argv)
{
	struct pool		*p;
	const char		*pool = argv[0], *name = argv[1];
	pool_off_t		 off;
	size_t			 usable = 0;
	uint64_t		 gen = 0;
	int			 rc, error, ms = -1;

	(void)argc;
	if ((rc = check_pool_name("wait", pool)) != 0 ||
	    (rc = check_block_name("wait", name)) != 0)
		return rc;
	if (ctl->timeout_arg != NULL && parse_timeout(ctl->timeout_arg,
	    &ms) != 0)
		return usage_error("wait: bad --timeout '%s' (whole seconds, "
		    "at most %d)", ctl->timeout_arg, INT_MAX / 1000);
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	if ((error = pool_open_readonly(ctl->conn, pool, &p)) != 0)
		return fail_pool(error, "wait", pool, NULL);
	/* --timeout 0 looks once: the name as it is, or no such name. */
	error = pool_lookup_wait(p, name, 0, ms, 0, &off, &usable, &gen);
	pool_close(p);
	if (error != 0)
		return wait_failed(error, pool, name, ms);
	print_wait(ctl, pool, name, off, usable, gen);
	return 0;
}

int
cmd_unpublish(struct ctl *ctl, int argc, char **argv)
{
	struct pool		*p;
	char			 why[sizeof("no such name: ") + sizeof(struct safe)];
	const char		*pool = argv[0], *name = argv[1];
	int			 rc, error;

	(void)argc;
	if ((rc = check_pool_name("unpublish", pool)) != 0 ||
	    (rc = check_block_name("unpublish", name)) != 0)
		return rc;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* Unpublish is a write, through a handle of the pool. */
	if ((error = pool_open(ctl->conn, pool, &p)) != 0)
		return fail_pool(error, "unpublish", pool, NULL);
	error = pool_unpublish(p, name);
	pool_close(p);
	/*
	 * The pool was opened, so -ENOENT is the name: neither fail_pool's
	 * "no such pool" nor pool_strerror's text, which names both.
	 */
	if (error == -ENOENT)
		snprintf(why, sizeof why, "no such name: %s", safe(name).s);
	if (error != 0)
		return fail_pool(error, "unpublish", pool,
		    error == -ENOENT ? why : NULL);
	return 0;
}
