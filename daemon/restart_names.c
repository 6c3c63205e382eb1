/*
 * restart_names.c - LISTEN_FDNAMES of an exec, kept short.
 *
 * An exec names each descriptor it passes ("conn.<i>" and so on), but the
 * kernel takes at most 128 KiB in one environment string (MAX_ARG_STRLEN),
 * which "conn.0:conn.1:..." passed at about 12,900 clients: the exec then
 * failed, and so did every restart.  The names come in runs ("pool.0" to
 * "pool.<p>", "conn.0" to "conn.<c>"), so a run of two or more is written
 * as one "first-last" entry, "conn.0-29999", and the list stays about as
 * long as its few kinds whatever the count.  Only "pool", "conn",
 * "reply" and "unread" runs are written so, and read so: a systemd
 * socket's name with a '-' in it stays a name.  systemd's store still gets one name per descriptor
 * (fdstore.c): it needs them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restart_names.h"

#define INDEX_MAX (1L << 24)	/* as restore_fds.c takes (FDS_MAX) */

static const char *const run_kinds[] = {"pool.", "conn.", "reply.",
					     "unread.", NULL};

/* Digits d[0 .. len), no leading zero, below INDEX_MAX: 0, else -1. */
static int
parse_index(const char *d, size_t len, long *index)
{
	size_t i;

	if (len == 0 || len > 8 || (d[0] == '0' && len > 1))
		return -1;
	*index = 0;
	for (i = 0; i < len; i++) {
		if (d[i] < '0' || d[i] > '9')
			return -1;
		*index = *index * 10 + (d[i] - '0');
	}
	return *index < INDEX_MAX ? 0 : -1;
}

/* The kind of "pool.<i>" and the like ("pool."), its i; or NULL. */
static const char *
run_kind(const char *name, size_t len, long *index)
{
	size_t n;
	int k;

	for (k = 0; run_kinds[k]; k++) {
		n = strlen(run_kinds[k]);
		if (len > n && strncmp(name, run_kinds[k], n) == 0)
			return parse_index(name + n, len - n, index) == 0 ?
			    run_kinds[k] : NULL;
	}
	return NULL;
}

char *
restart_names_join(unsigned n, char *const *name)
{
	const char *kind;
	size_t size = 1, used = 0;
	unsigned i, j;
	long first, at;
	char *s;

	for (i = 0; i < n; i++)
		size += strlen(name[i]) + 1;
	if (!(s = malloc(size)))
		return NULL;
	s[0] = '\0';
	for (i = 0; i < n; i = j) {
		j = i + 1;
		kind = run_kind(name[i], strlen(name[i]), &first);
		while (kind && j < n &&
		       run_kind(name[j], strlen(name[j]), &at) == kind &&
		       at == first + (long)(j - i))
			j++;
		/* Never longer than the names it stands for. */
		if (j - i >= 2)
			used += (size_t)sprintf(s + used, "%s%s%ld-%ld",
						used ? ":" : "", kind, first,
						first + (long)(j - i) - 1);
		else
			used += (size_t)sprintf(s + used, "%s%s",
						used ? ":" : "", name[i]);
	}
	return s;
}

/* "pool.<a>-<b>", a < b: the kind, a and the count; else NULL. */
static const char *
run_of(const char *tok, size_t len, long *first, long *count)
{
	const char *dash = memchr(tok, '-', len), *kind;
	long last;

	if (!dash || !(kind = run_kind(tok, (size_t)(dash - tok), first)) ||
	    parse_index(dash + 1, len - (size_t)(dash + 1 - tok), &last) != 0 ||
	    last <= *first)
		return NULL;
	*count = last - *first + 1;
	return kind;
}

int
restart_names_split(char *list, unsigned n, char **name, char **made)
{
	char *save = NULL, *tok, *p;
	const char *kind;
	long first, count, k;
	size_t room, len;
	unsigned i = 0, total = 0;

	*made = NULL;
	/* First the room the runs' names take, then the names. */
	for (p = list; *p; p += len + (p[len] == ':')) {
		len = strcspn(p, ":");
		if (run_of(p, len, &first, &count)) {
			if ((unsigned long)count > n - total)
				return -EINVAL;
			total += (unsigned)count;
		}
	}
	room = (size_t)total * RESTART_NAME_MAX;
	if (room && !(*made = malloc(room)))
		return -ENOMEM;
	p = *made;
	for (tok = strtok_r(list, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		if (!(kind = run_of(tok, strlen(tok), &first, &count))) {
			if (i == n)
				goto bad;
			name[i++] = tok;
			continue;
		}
		if ((unsigned long)count > n - i)
			goto bad;
		for (k = 0; k < count; k++) {
			snprintf(p, RESTART_NAME_MAX, "%s%ld", kind, first + k);
			name[i++] = p;
			p += RESTART_NAME_MAX;
		}
	}
	if (i == n)
		return 0;
bad:
	free(*made);
	*made = NULL;
	return -EINVAL;
}
