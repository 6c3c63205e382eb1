/*
 * consumer - read the strings a producer left in a pool, then free them.
 *
 *	consumer [-w SECONDS] POOL [OFFSET|NAME...]
 *
 * Takes the blocks from the arguments, or one per line from standard
 * input when there are none (so `producer POOL ... | consumer POOL` works):
 * a number is a block's offset, in hexadecimal after 0x as producer and
 * poolctl print it, or in decimal as a Python program's print() writes
 * it, anything else a block's name (`producer -n`).  It opens POOL
 * read-only to print the string of each block: a read-only handle maps
 * the pool PROT_READ, so a reader cannot scribble on it, and may look
 * names up.  Then it opens the pool read-write and lets each block it
 * printed go: frees a block given by offset, which drops the reference
 * the producer's pool_persist gave the pool, and unpublishes a named
 * one, which drops the reference its name held.  A block it could not
 * find is left alone: a name published meanwhile is not taken away
 * unread.  What it says of a block given by offset names the offset in
 * hexadecimal, as poolctl's refusals do, however it was given.
 *
 * With -w, a name that is not there yet is waited for, up to SECONDS
 * each (pool_lookup_wait), so the consumer may start before the
 * producer: it reads the block as soon as the name is published.
 */
/* getopt and strndup are POSIX's: declared under -std=c99 or -std=c11 too. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolclient.h"

/* Where pool_connect(NULL, ...) goes: $POOLMGRD_SOCKET, else the default. */
static const char *
socket_path(void)
{
	const char	*s = getenv("POOLMGRD_SOCKET");

	return s != NULL && *s != '\0' ? s : POOL_DEFAULT_SOCKET;
}

/*
 * Say why the connection failed.  For what it found at the path (no
 * socket, a mode that keeps us out, a directory or a file, a socket
 * nobody listens on or of another type) or a daemon that did not answer
 * in time, the library leaves words of its own (pool_last_message) that
 * name the path and what to check, where pool_strerror's text for the
 * code reads as a pool's or a block name's first.  Other words (a path
 * no socket address holds, a daemon that refused us) come after the
 * path; no words: the path, then the code's text.
 */
static void
connect_failed(int error)
{
	const char	*words = pool_last_message(error);
	int		 at_path = error == -ENOENT || error == -EACCES ||
			    error == -ETIMEDOUT || error == -ECONNREFUSED ||
			    error == -EPROTOTYPE;

	if (*words != '\0' && at_path)
		fprintf(stderr, "consumer: cannot connect: %s\n", words);
	else
		fprintf(stderr, "consumer: cannot connect to %s: %s\n",
		    socket_path(), *words != '\0' ? words :
		    pool_strerror(error));
}

/*
 * Say why the pool name would not open.  We are connected, so -ENOENT is
 * the pool, and -EACCES the pool's mode or access control list, where
 * pool_strerror's texts name block names, handles and sockets too.  The
 * daemon's words (pool_last_message) say which right was missing, and
 * for whom.
 */
static void
open_failed(const char *name, int error)
{
	const char	*words = pool_last_message(error);

	fprintf(stderr, "consumer: %s: %s", name, error == -ENOENT ?
	    "no such pool" : error == -EACCES ? "permission denied by the "
	    "pool's mode or access control list" : pool_strerror(error));
	if (error != -ENOENT && *words != '\0' && pool_message_adds(error))
		fprintf(stderr, "; poolmgrd says: %s", words);
	fputc('\n', stderr);
}

/* Parse one offset, decimal or 0x and hexadecimal; 0 on success. */
static int
parse_offset(const char *s, pool_off_t *off)
{
	char			*end;
	unsigned long long	 v;
	int			 base = 10;

	/* Not strtoull's base 0, which would read "010" as octal. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
	}
	/* A digit first: strtoull would take a sign or blanks too. */
	if (!isxdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (end == s || errno != 0 || v == POOL_OFF_NONE)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end != '\0')
		return -1;
	*off = v;
	return 0;
}

/* One block asked for: by offset, or by name (name not NULL). */
struct wanted {
	pool_off_t	 off;
	char		*name;
	int		 found;		/* read and printed: to be let go */
};

/* Append the block s names to the array *offs of *n; 0 on success. */
static int
add_offset(const char *s, struct wanted **offs, size_t *n)
{
	struct wanted	*tmp;
	size_t		 len;

	if ((tmp = realloc(*offs, (*n + 1) * sizeof *tmp)) == NULL)
		return -1;
	*offs = tmp;
	tmp[*n].name = NULL;
	tmp[*n].found = 0;
	if (parse_offset(s, &tmp[*n].off) != 0) {
		/* Not a number: a name, without the line's end. */
		len = strcspn(s, "\r\n");
		if (len == 0 || len > POOL_BLOCK_NAME_MAX ||
		    (tmp[*n].name = strndup(s, len)) == NULL) {
			fprintf(stderr, "consumer: bad offset or name: %s\n",
			    s);
			return -1;
		}
	}
	(*n)++;
	return 0;
}

static void
free_wanted(struct wanted *offs, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(offs[i].name);
	free(offs);
}

/* Collect the offsets from argv, or from stdin if argv has none. */
static int
read_offsets(int argc, char **argv, struct wanted **offs, size_t *n)
{
	char	line[POOL_BLOCK_NAME_MAX + 3];
	int	i;

	*offs = NULL;
	*n = 0;
	if (argc > 2) {
		for (i = 2; i < argc; i++) {
			if (add_offset(argv[i], offs, n) != 0)
				goto fail;
		}
		return 0;
	}
	while (fgets(line, sizeof line, stdin) != NULL) {
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;	/* a blank line */
		if (add_offset(line, offs, n) != 0)
			goto fail;
	}
	return 0;

fail:
	free_wanted(*offs, *n);
	*offs = NULL;
	return -1;
}

#define USAGE	"usage: consumer [-w SECONDS] POOL [OFFSET|NAME...]\n"

/* How long a name is waited for (-w), in ms; 0: not at all. */
static int	wait_ms;

/* The pool the blocks are in, for what is said of it. */
static const char	*pool_name;

/* Parse -w's SECONDS into wait_ms; 0 on success. */
static int
parse_wait(const char *s)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v > INT_MAX / 1000)
		return -1;
	wait_ms = (int)v * 1000;
	return 0;
}

/* Where the block is, and its usable size: 0, or the error said. */
static int
find(struct pool *p, struct wanted *w, size_t *usable)
{
	int	error;

	/*
	 * By name: the lookup answers the offset and size.  By offset: ask
	 * the daemon how big the block is, which checks the offset names a
	 * live block.  Either bounds the string, so a missing NUL cannot
	 * make us read past it.
	 */
	if (w->name != NULL && wait_ms > 0)
		error = pool_lookup_wait(p, w->name, 0, wait_ms, 0, &w->off,
		    usable, NULL);
	else if (w->name != NULL)
		error = pool_lookup(p, w->name, &w->off, usable);
	else
		error = pool_usable_size(p, w->off, usable);
	if (error == 0)
		return 0;
	if (w->name == NULL)
		fprintf(stderr, "consumer: 0x%llx: %s\n",
		    (unsigned long long)w->off, pool_strerror(error));
	else if (error == -ETIMEDOUT)
		fprintf(stderr, "consumer: %s: not published within %d s\n",
		    w->name, wait_ms / 1000);
	else if (error == -ENOENT && wait_ms > 0)
		/* A missing name is waited for: it is the pool that went. */
		fprintf(stderr, "consumer: %s: pool %s was destroyed while "
		    "waiting\n", w->name, pool_name);
	else if (error == -ENOENT)
		/* The pool is open: the name, not the pool or the socket. */
		fprintf(stderr, "consumer: %s: no such name\n", w->name);
	else
		fprintf(stderr, "consumer: %s: %s\n", w->name,
		    pool_strerror(error));
	return error;
}

/* Let the block go: unpublish a named one, free one given by offset. */
static int
let_go(struct pool *p, const struct wanted *w)
{
	int	error;

	/* We hold no reference, so this drops the pool's one. */
	if (w->name != NULL)
		error = pool_unpublish(p, w->name);
	else
		error = pool_free(p, w->off);
	if (error != 0 && w->name != NULL)
		fprintf(stderr, "consumer: unpublish %s: %s\n", w->name,
		    pool_strerror(error));
	else if (error != 0)
		fprintf(stderr, "consumer: free 0x%llx: %s\n",
		    (unsigned long long)w->off, pool_strerror(error));
	return error;
}

int
main(int argc, char **argv)
{
	struct pool_conn	*c;
	struct pool		*p;
	struct wanted		*offs;
	size_t			 n, i, usable;
	const char		*s;
	int			 ch, error, status = 0;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf(USAGE);
		return 0;
	}
	while ((ch = getopt(argc, argv, "+w:")) != -1) {
		if (ch == 'w' && parse_wait(optarg) == 0)
			continue;
		if (ch == 'w')
			fprintf(stderr, "consumer: -w: bad SECONDS '%s' (a "
			    "whole number from 0 to %d)\n", optarg,
			    INT_MAX / 1000);
		fprintf(stderr, USAGE);
		return 2;
	}
	/* Options before POOL only: a name may begin with a dash. */
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 2) {
		fprintf(stderr, USAGE);
		return 2;
	}
	if (read_offsets(argc, argv, &offs, &n) != 0)
		return 1;
	pool_name = argv[1];

	if ((error = pool_connect(NULL, &c)) != 0) {
		connect_failed(error);
		free_wanted(offs, n);
		return 1;
	}

	/* Reading needs only a read-only handle. */
	if ((error = pool_open_readonly(c, argv[1], &p)) != 0) {
		open_failed(argv[1], error);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (find(p, &offs[i], &usable) != 0) {
			status = 1;
			continue;
		}
		s = pool_ptr(p, offs[i].off);
		printf("%.*s\n", (int)strnlen(s, usable), s);
		offs[i].found = 1;
	}
	pool_close(p);

	/* Freeing is writing: that needs a read-write handle. */
	if ((error = pool_open(c, argv[1], &p)) != 0) {
		open_failed(argv[1], error);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (offs[i].found && let_go(p, &offs[i]) != 0)
			status = 1;
	}
	pool_close(p);
	error = 0;

out:
	pool_disconnect(c);
	free_wanted(offs, n);
	return status || error != 0;
}
