/*
 * consumer - read the strings a producer left in a pool, then free them.
 *
 *	consumer POOL [OFFSET...]
 *
 * Takes the offsets from the arguments, or one per line from standard
 * input when there are none (so `producer POOL ... | consumer POOL` works).
 * It opens POOL read-only to print the string at each offset: a read-only
 * handle maps the pool PROT_READ, so a reader cannot scribble on it.  Then
 * it opens the pool read-write and frees each block, which drops the
 * reference the producer's pool_persist gave the pool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolclient.h"

/* Parse one offset; 0 on success. */
static int
parse_offset(const char *s, pool_off_t *off)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno != 0 || v == POOL_OFF_NONE)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end != '\0')
		return -1;
	*off = v;
	return 0;
}

/* Append the offset in s to the array *offs of *n; 0 on success. */
static int
add_offset(const char *s, pool_off_t **offs, size_t *n)
{
	pool_off_t	*tmp;

	if ((tmp = realloc(*offs, (*n + 1) * sizeof *tmp)) == NULL)
		return -1;
	*offs = tmp;
	if (parse_offset(s, &tmp[*n]) != 0) {
		fprintf(stderr, "consumer: bad offset: %s\n", s);
		return -1;
	}
	(*n)++;
	return 0;
}

/* Collect the offsets from argv, or from stdin if argv has none. */
static int
read_offsets(int argc, char **argv, pool_off_t **offs, size_t *n)
{
	char	line[64];
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
	free(*offs);
	*offs = NULL;
	return -1;
}

int
main(int argc, char **argv)
{
	struct pool_conn	*c;
	struct pool		*p;
	pool_off_t		*offs;
	size_t			 n, i, usable;
	const char		*s;
	int			 error, status = 0;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: consumer POOL [OFFSET...]\n");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: consumer POOL [OFFSET...]\n");
		return 2;
	}
	if (read_offsets(argc, argv, &offs, &n) != 0)
		return 1;

	if ((error = pool_connect(NULL, &c)) != 0) {
		fprintf(stderr, "consumer: connect: %s\n", pool_strerror(error));
		free(offs);
		return 1;
	}

	/* Reading needs only a read-only handle. */
	if ((error = pool_open_readonly(c, argv[1], &p)) != 0) {
		fprintf(stderr, "consumer: %s: %s\n", argv[1],
		    pool_strerror(error));
		goto out;
	}
	for (i = 0; i < n; i++) {
		/*
		 * Ask the daemon how big the block is: that checks the offset
		 * names a live block, and bounds the string, so a missing NUL
		 * cannot make us read past it.
		 */
		if ((error = pool_usable_size(p, offs[i], &usable)) != 0) {
			fprintf(stderr, "consumer: %llu: %s\n",
			    (unsigned long long)offs[i], pool_strerror(error));
			status = 1;
			continue;
		}
		s = pool_ptr(p, offs[i]);
		printf("%.*s\n", (int)strnlen(s, usable), s);
	}
	pool_close(p);

	/* Freeing is writing: that needs a read-write handle. */
	if ((error = pool_open(c, argv[1], &p)) != 0) {
		fprintf(stderr, "consumer: %s: %s\n", argv[1],
		    pool_strerror(error));
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* We hold no reference, so this drops the pool's one. */
		if ((error = pool_free(p, offs[i])) != 0) {
			fprintf(stderr, "consumer: free %llu: %s\n",
			    (unsigned long long)offs[i], pool_strerror(error));
			status = 1;
		}
	}
	pool_close(p);
	error = 0;

out:
	pool_disconnect(c);
	free(offs);
	return status || error != 0;
}
