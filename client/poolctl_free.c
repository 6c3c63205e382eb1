/*
 * poolctl_free.c - `poolctl free POOL OFFSET...`: end blocks by offset,
 * for an operator cleaning up after a program.
 *
 * The blocks a crashed producer leaves behind are persistent ones (those
 * it persisted, or allocated persistent, and never handed on): no handle
 * holds them, and `poolctl persisted` and `poolctl blocks` show them.  A
 * free through a handle that holds no reference to a persistent block
 * drops the pool's, as any writer's does, so this opens the pool for
 * writing and frees each offset in turn.  A block that handles hold and
 * that is not persistent is theirs to free (-EPERM); a named one is its
 * name's (-EBUSY: unpublish it).  Every offset is tried, whatever became
 * of the ones before it; the exit status is that of the last refusal.
 * It says what it ended on stdout, "freed N blocks" as sweep does (when
 * it ended any), or with --json, as every other command that changes a
 * pool, {"pool", "freed": [the offsets it ended]} (always, so that a
 * script need not tell an empty output from a failure to print); the
 * refusals go to stderr as ever.
 *
 * Offsets are places, not blocks: the block `blocks` listed may have been
 * freed by its consumer since, and a new one made at its offset.  With
 * --older-than SECONDS each free is pool_free_persisted's, which the
 * daemon refuses (-ESTALE) for a block persistent for less: the new
 * block is left alone while it is younger than SECONDS.  The age is the
 * block's at the free, not at the listing: SECONDS must be at least the
 * time since the listing, or the new block may be old enough by then.
 *
 * `poolctl sweep POOL --older-than SECONDS` is what a timer can run:
 * every persistent block without a name, listed a page at a time, that
 * has been persistent for at least that long is ended, each free guarded
 * by the age its page listed (at least SECONDS, and more than a block
 * made at its offset since the page could be).  A block that changed
 * between its page and its free (its consumer freed it, a new one took
 * its place, a name took it) is passed over in silence: the sweep ends
 * only what is still left behind.  It says what it ended: "freed N
 * blocks (SIZE)", or with --json {"pool", "freed": [...], "bytes"}.  Both
 * commands live here: each ends blocks by offset, for an operator.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "poolctl.h"

/*
 * An offset as blocks prints it (0x and hexadecimal) or in decimal: 0
 * and the value, or -1.
 */
static int
parse_offset(const char *s, uint64_t *out)
{
	unsigned long long	 v;
	const char		*digits = s;
	char			*end;
	int			 base = 10;

	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0) {
		digits = s + 2;
		base = 16;
	}
	/* strtoull takes signs, blanks and a second 0x: none of those. */
	if (*digits == '\0' || strspn(digits, base == 16 ?
	    "0123456789abcdefABCDEF" : "0123456789") != strlen(digits))
		return -1;
	errno = 0;
	v = strtoull(digits, &end, base);
	if (errno != 0 || *end != '\0' || v == UINT64_MAX)
		return -1;
	*out = v;
	return 0;
}

/*
 * For how long the block at off has been persistent, listed anew: after a
 * refusal by age, the operator sees whether the block is one made since
 * the listing or the age given was more than the listing showed.  0 and
 * the age, or -1 if it cannot be told (gone, or not persistent now).
 */
static int
persisted_now(struct ctl *ctl, const char *pool, uint64_t off, uint64_t *ms)
{
	struct pool_block_info	*b;
	uint64_t		 from = off;
	size_t			 n;
	int			 done, found;

	if (pool_blocks(ctl->conn, pool, 0, 0, &from, &b, &n, &done) != 0)
		return -1;
	found = n > 0 && b[0].offset == off &&
	    (b[0].flags & POOL_BLOCK_PERSISTENT);
	if (found)
		*ms = b[0].persisted_ms;
	free(b);
	return found ? 0 : -1;
}

/* -ESTALE's words, with the block's age now when it could be listed. */
static void
too_young(struct ctl *ctl, const char *pool, uint64_t off, char *buf,
    size_t len)
{
	uint64_t	ms;
	char		now[48] = "";

	if (persisted_now(ctl, pool, off, &ms) == 0)
		snprintf(now, sizeof now, "%s, ", age_text(ms).s);
	snprintf(buf, len, "%s: persistent for %sless than --older-than "
	    "says: perhaps a new block made there since it was listed; "
	    "left alone", offset_text(off).s, now);
}

/* Why the free of off was refused, in poolctl's words where they help. */
static const char *
free_refused(struct ctl *ctl, const char *pool, int error, uint64_t off,
    char *buf, size_t len)
{
	struct offset_text	at = offset_text(off);

	switch (error) {
	case -EINVAL:
		snprintf(buf, len, "%s: no live block starts there", at.s);
		break;
	case -EPERM:
		snprintf(buf, len, "%s: held by handles and not "
		    "persistent: only its holders free it", at.s);
		break;
	case -EBUSY:
		snprintf(buf, len, "%s: a name holds it: `poolctl "
		    "unpublish` removes the name", at.s);
		break;
	case -ESTALE:
		too_young(ctl, pool, off, buf, len);
		break;
	case -EOPNOTSUPP:
		snprintf(buf, len, "%s: the daemon is older than "
		    "--older-than (it cannot tell a block's age)", at.s);
		break;
	default:
		snprintf(buf, len, "%s: %s", at.s, pool_strerror(error));
		break;
	}
	return buf;
}

/*
 * What free ended.  In text, sweep's words without its size: the daemon's
 * answer to a free does not carry the block's size, and asking for it
 * first would cost a round trip per offset and could name another block,
 * one made at the offset in between.  Said when any block was ended, as
 * sweep says what it ended whatever stopped the rest.  With --json the
 * pool and the offsets freed, in the order given, always.
 */
static void
print_freed(const struct ctl *ctl, const char *pool, const uint64_t *offs,
    const int *freed, int argc)
{
	struct json_object	*j, *a;
	int			 i, n = 0;

	if (!ctl->json) {
		for (i = 1; i < argc; i++)
			n += freed[i] != 0;
		if (n > 0)
			printf("freed %d block%s\n", n, n == 1 ? "" : "s");
		return;
	}
	j = json_object_new_object();
	a = json_object_new_array();
	json_object_object_add(j, "pool", json_object_new_string(pool));
	for (i = 1; i < argc; i++)
		if (freed[i])
			json_object_array_add(a,
			    json_object_new_uint64(offs[i]));
	json_object_object_add(j, "freed", a);
	json_print(ctl, j);
}

/* --older-than SECONDS: whole seconds, as milliseconds; 0 or -1. */
static int
parse_older_than(const char *s, uint64_t *ms)
{
	unsigned long long	v;
	char			*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT64_MAX / 1000)
		return -1;
	*ms = v * 1000;
	return 0;
}

/* One offset: a plain free, or one only of a block persistent so long. */
static int
free_one(struct pool *p, uint64_t off, bool guarded, uint64_t min_ms)
{
	return guarded ? pool_free_persisted(p, off, min_ms) :
	    pool_free(p, off);
}

/* The offsets a sweep ended (or, dry, would end), for --json. */
struct swept {
	uint64_t	*offs;
	size_t		 n, cap;
	uint64_t	 bytes;
	bool		 dry;		/* --dry-run: list, end nothing */
};

static int
swept_add(struct swept *sw, uint64_t off, uint64_t bytes)
{
	uint64_t	*a;
	size_t		 cap;

	if (sw->n == sw->cap) {
		cap = sw->cap ? 2 * sw->cap : 64;
		if ((a = reallocarray(sw->offs, cap, sizeof(*a))) == NULL)
			return -ENOMEM;
		sw->offs = a;
		sw->cap = cap;
	}
	sw->offs[sw->n++] = off;
	sw->bytes += bytes;
	return 0;
}

/*
 * Was b left behind at least min_ms ago, as its page says?  A block a
 * handle holds is some live program's (a producer that persisted it and
 * has not handed it on yet, a consumer that retained it): ending its
 * persistence would free it under them once they let go.  What a crashed
 * program left, no handle holds: its references went with it.
 */
static bool
left_behind(const struct pool_block_info *b, uint64_t min_ms)
{
	return (b->flags & POOL_BLOCK_PERSISTENT) &&
	    !(b->flags & POOL_BLOCK_NAMED) && b->holders == 0 &&
	    b->persisted_ms >= min_ms;
}

/*
 * A dry run's line for block b: "OFFSET SIZE user PERSISTER AGE", the
 * persister by name as the other tables name users (id_who: the number
 * where the password database has no name, and under -n).
 */
static void
sweep_dry_line(const struct ctl *ctl, const struct pool_block_info *b)
{
	printf("%s %s user %s %s\n", offset_text(b->offset).s,
	    human(b->usable_size).s,
	    id_who(ctl, POOL_ACL_USER, b->persister).s,
	    age_text(b->persisted_ms).s);
}

/*
 * End the blocks of one page that were left behind: 0, or the error that
 * stops the sweep (a refusal that says the block changed does not).
 */
static int
sweep_page(const struct ctl *ctl, struct pool *p,
    const struct pool_block_info *b, size_t n, uint64_t min_ms,
    struct swept *sw)
{
	size_t	i;
	int	error;

	for (i = 0; i < n; i++) {
		if (!left_behind(&b[i], min_ms))
			continue;
		if (sw->dry) {
			if (!ctl->json)
				sweep_dry_line(ctl, &b[i]);
			error = swept_add(sw, b[i].offset,
			    b[i].usable_size);
			if (error != 0)
				return error;
			continue;
		}
		/* The age listed: a block made there since is younger. */
		error = pool_free_persisted(p, b[i].offset,
		    b[i].persisted_ms);
		if (error == 0)
			error = swept_add(sw, b[i].offset, b[i].usable_size);
		else if (error == -ESTALE || error == -EINVAL ||
		    error == -EPERM || error == -EBUSY)
			error = 0;	/* not what was listed any more */
		if (error != 0)
			return error;
	}
	return 0;
}

static void
print_swept(const struct ctl *ctl, const char *pool, const struct swept *sw)
{
	struct json_object	*j, *a;
	size_t			 i;

	if (!ctl->json) {
		printf("%s %zu block%s (%s)\n", sw->dry ? "would free" :
		    "freed", sw->n, sw->n == 1 ? "" : "s",
		    human(sw->bytes).s);
		return;
	}
	j = json_object_new_object();
	a = json_object_new_array();
	json_object_object_add(j, "pool", json_object_new_string(pool));
	for (i = 0; i < sw->n; i++)
		json_object_array_add(a, json_object_new_uint64(sw->offs[i]));
	json_object_object_add(j, sw->dry ? "would_free" : "freed", a);
	json_object_object_add(j, "bytes", json_object_new_uint64(sw->bytes));
	json_print(ctl, j);
}

int
cmd_sweep(struct ctl *ctl, int argc, char **argv)
{
	const char		*pool = argv[0];
	struct pool_block_info	*b;
	struct swept		 sw = {0};
	struct pool		*p;
	uint64_t		 from = 0, min_ms;
	size_t			 n;
	int			 done = 0, rc, error = 0;

	(void)argc;
	if ((rc = check_pool_name("sweep", pool)) != 0)
		return rc;
	if (ctl->older_than_arg == NULL)
		return usage_error("sweep: missing --older-than SECONDS: the "
		    "age of what was left behind");
	if (parse_older_than(ctl->older_than_arg, &min_ms) != 0)
		return usage_error("sweep: bad --older-than '%s': a whole "
		    "number of seconds", safe(ctl->older_than_arg).s);
	sw.dry = ctl->dry_run;
	if ((rc = ctl_connect(ctl)) != 0)
		return rc;
	/* A dry run only lists: read permission is enough. */
	if (!sw.dry && (error = pool_open(ctl->conn, pool, &p)) != 0)
		return fail_pool(error, "sweep", pool, NULL);
	while (error == 0 && !done) {
		error = pool_blocks(ctl->conn, pool, 0, 0, &from, &b, &n,
		    &done);
		if (error == 0) {
			error = sweep_page(ctl, sw.dry ? NULL : p, b, n,
			    min_ms, &sw);
			free(b);
		}
	}
	if (!sw.dry)
		pool_close(p);
	/* What was ended is said, whatever stopped the rest. */
	if (error == 0 || sw.n > 0)
		print_swept(ctl, pool, &sw);
	free(sw.offs);
	return error == 0 ? 0 : fail_pool(error, "sweep", pool, NULL);
}

int
cmd_free(struct ctl *ctl, int argc, char **argv)
{
	const char	*pool = argv[0];
	uint64_t	*offs, min_ms = 0;
	bool		 guarded = ctl->older_than_arg != NULL;
	int		*freed;
	struct pool	*p;
	char		 why[200];
	int		 i, rc, error, status = 0;

	if ((rc = check_pool_name("free", pool)) != 0)
		return rc;
	if (guarded && parse_older_than(ctl->older_than_arg, &min_ms) != 0)
		return usage_error("free: bad --older-than '%s': a whole "
		    "number of seconds", safe(ctl->older_than_arg).s);
	offs = calloc((size_t)argc, sizeof(*offs));
	freed = calloc((size_t)argc, sizeof(*freed));
	if (offs == NULL || freed == NULL) {
		free(offs);
		free(freed);
		ctl_warnx("free: out of memory");
		return 1;
	}
	for (i = 1; i < argc; i++)
		if (parse_offset(argv[i], &offs[i]) != 0) {
			free(offs);
			free(freed);
			return usage_error("free: bad offset '%s': a byte "
			    "offset in the pool, decimal or 0x hexadecimal",
			    safe(argv[i]).s);
		}
	if ((rc = ctl_connect(ctl)) != 0) {
		free(offs);
		free(freed);
		return rc;
	}
	if ((error = pool_open(ctl->conn, pool, &p)) != 0) {
		free(offs);
		free(freed);
		return fail_pool(error, "free", pool, NULL);
	}
	for (i = 1; i < argc; i++)
		if ((error = free_one(p, offs[i], guarded, min_ms)) != 0)
			status = fail_pool(error, "free", pool,
			    free_refused(ctl, pool, error, offs[i], why,
			    sizeof why));
		else
			freed[i] = 1;
	pool_close(p);
	print_freed(ctl, pool, offs, freed, argc);
	free(offs);
	free(freed);
	return status;
}
