/*
 * producer - put strings into a pool for another process to read.
 *
 *	producer [-n NAME] [-w SECONDS] POOL TEXT...
 *
 * Connects to poolmgrd ($POOLMGRD_SOCKET, or the default socket), opens
 * POOL read-write, and copies each TEXT (with its NUL) into a block of its
 * own, which outlives this process.  Without -n each block is persisted
 * and its offset printed, one per line, in hexadecimal after 0x as
 * poolctl writes offsets (so one can be found in `poolctl blocks`): the
 * offset is the block's address in every process that opens the pool.
 * With -n NAME each block is published under a name instead (NAME for one
 * TEXT, NAME.1, NAME.2 ... for several), replacing any block of that name
 * before, and the names are printed.  With -w a full pool is waited on,
 * up to SECONDS for each block (pool_alloc_wait), until a consumer frees
 * room; by default the producer gives up at once.  See consumer.c for
 * the other side:
 *
 *	producer demo hello world | consumer demo
 *	producer -n greeting demo hello && consumer demo greeting
 */
/* getopt is POSIX's: declared under -std=c99 or -std=c11 too. */
#define _POSIX_C_SOURCE 200809L

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
		fprintf(stderr, "producer: cannot connect: %s\n", words);
	else
		fprintf(stderr, "producer: cannot connect to %s: %s\n",
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

	fprintf(stderr, "producer: %s: %s", name, error == -ENOENT ?
	    "no such pool" : error == -EACCES ? "permission denied by the "
	    "pool's mode or access control list" : pool_strerror(error));
	if (error != -ENOENT && *words != '\0' && pool_message_adds(error))
		fprintf(stderr, "; poolmgrd says: %s", words);
	fputc('\n', stderr);
}

/*
 * Say why an allocation of len bytes failed.  The code alone leaves out
 * which bound refused it: -EDQUOT is the quota per connection or the
 * user quota (all this uid's processes together), -ENOMEM a full pool
 * or its limit, and a wait that ran out waited for one of them.  The
 * daemon's words (pool_last_message) say which, and how large it is.
 */
static void
alloc_failed(size_t len, int error)
{
	const char	*words = pool_last_message(error);

	fprintf(stderr, "producer: alloc %zu bytes: %s", len,
	    error == -ETIMEDOUT ? "no room came in time" :
	    pool_strerror(error));
	if (*words != '\0' && pool_message_adds(error))
		fprintf(stderr, "; poolmgrd says: %s", words);
	fputc('\n', stderr);
}

/* -w's SECONDS into *ms; 0 on success. */
static int
parse_wait(const char *s, int *ms)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v > INT_MAX / 1000)
		return -1;
	*ms = (int)v * 1000;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: producer [-n NAME] [-w SECONDS] POOL TEXT...\n");
}

/*
 * Keep the block at off beyond this process: by a name (the pool's
 * reference is the name's until someone unpublishes it), or by persisting
 * it (the pool's until someone frees it).  Prints how to find it.
 */
static int
keep(struct pool *p, pool_off_t off, const char *base, int i, int n)
{
	char	name[POOL_BLOCK_NAME_MAX + 1];
	int	error;

	if (base == NULL) {
		if ((error = pool_persist(p, off)) != 0) {
			fprintf(stderr, "producer: persist 0x%llx: %s\n",
			    (unsigned long long)off, pool_strerror(error));
			return error;
		}
		/* Not "%#llx", which writes 0 for 0, without its 0x. */
		printf("0x%llx\n", (unsigned long long)off);
		return 0;
	}
	if (n == 1)
		snprintf(name, sizeof name, "%s", base);
	else
		snprintf(name, sizeof name, "%s.%d", base, i);
	/* A reader that retained the block of the old name keeps it. */
	if ((error = pool_publish_replace(p, off, name)) != 0) {
		fprintf(stderr, "producer: publish %s: %s\n", name,
		    pool_strerror(error));
		return error;
	}
	printf("%s\n", name);
	return 0;
}

int
main(int argc, char **argv)
{
	struct pool_conn	*c;
	struct pool		*p;
	pool_off_t		 off;
	const char		*name = NULL;
	size_t			 len;
	int			 i, ch, error, wait_ms = 0;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	while ((ch = getopt(argc, argv, "n:w:")) != -1) {
		if (ch == 'w') {
			if (parse_wait(optarg, &wait_ms) == 0)
				continue;
			fprintf(stderr, "producer: -w: bad SECONDS '%s' (a "
			    "whole number from 0 to %d)\n", optarg,
			    INT_MAX / 1000);
			usage(stderr);
			return 2;
		}
		if (ch != 'n') {
			usage(stderr);
			return 2;
		}
		/* Room is kept for the ".N" of several TEXTs. */
		if (*optarg == '\0' ||
		    strlen(optarg) > POOL_BLOCK_NAME_MAX - 12) {
			fprintf(stderr, "producer: -n: a name of 1 to %d "
			    "bytes, not %zu\n", POOL_BLOCK_NAME_MAX - 12,
			    strlen(optarg));
			usage(stderr);
			return 2;
		}
		name = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}

	/* NULL: the socket named by $POOLMGRD_SOCKET, else the default. */
	if ((error = pool_connect(NULL, &c)) != 0) {
		connect_failed(error);
		return 1;
	}
	if ((error = pool_open(c, argv[0], &p)) != 0) {
		open_failed(argv[0], error);
		pool_disconnect(c);
		return 1;
	}

	for (i = 1; i < argc; i++) {
		len = strlen(argv[i]) + 1;

		/*
		 * The daemon picks the place; we get its offset.  With a
		 * wait, a full pool holds the request until room is freed.
		 */
		if ((error = pool_alloc_wait(p, len, 0, 0, wait_ms, &off))
		    != 0) {
			alloc_failed(len, error);
			break;
		}

		/* The pool is mapped here too: write through a pointer. */
		memcpy(pool_ptr(p, off), argv[i], len);

		/*
		 * Our handle's reference dies when we close the pool; the
		 * pool's reference keeps the block until a consumer lets it
		 * go.
		 */
		if ((error = keep(p, off, name, i, argc - 1)) != 0) {
			pool_free(p, off);
			break;
		}
	}

	/* Closing the pool drops our references; kept blocks stay. */
	pool_close(p);
	pool_disconnect(c);
	if (fflush(stdout) != 0)
		return 1;
	return error != 0;
}
