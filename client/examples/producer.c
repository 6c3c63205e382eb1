/*
 * producer - put strings into a pool for another process to read.
 *
 *	producer POOL TEXT...
 *
 * Connects to poolmgrd ($POOLMGRD_SOCKET, or the default socket), opens
 * POOL read-write, and copies each TEXT (with its NUL) into a block of its
 * own.  Each block is persisted, so it outlives this process, and its
 * offset is printed, one per line: the offset is the block's name in every
 * process that opens the pool.  See consumer.c for the other side:
 *
 *	producer demo hello world | consumer demo
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolclient.h"

int
main(int argc, char **argv)
{
	struct pool_conn	*c;
	struct pool		*p;
	pool_off_t		 off;
	size_t			 len;
	int			 i, error;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: producer POOL TEXT...\n");
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: producer POOL TEXT...\n");
		return 2;
	}

	/* NULL: the socket named by $POOLMGRD_SOCKET, else the default. */
	if ((error = pool_connect(NULL, &c)) != 0) {
		fprintf(stderr, "producer: connect: %s\n", pool_strerror(error));
		return 1;
	}
	if ((error = pool_open(c, argv[1], &p)) != 0) {
		fprintf(stderr, "producer: %s: %s\n", argv[1],
		    pool_strerror(error));
		pool_disconnect(c);
		return 1;
	}

	for (i = 2; i < argc; i++) {
		len = strlen(argv[i]) + 1;

		/* The daemon picks the place; we get its offset. */
		if ((error = pool_alloc(p, len, &off)) != 0) {
			fprintf(stderr, "producer: alloc %zu bytes: %s\n", len,
			    pool_strerror(error));
			break;
		}

		/* The pool is mapped here too: write through a pointer. */
		memcpy(pool_ptr(p, off), argv[i], len);

		/*
		 * Our handle's reference dies when we close the pool; the
		 * pool's reference keeps the block until a consumer frees it.
		 */
		if ((error = pool_persist(p, off)) != 0) {
			fprintf(stderr, "producer: persist %llu: %s\n",
			    (unsigned long long)off, pool_strerror(error));
			pool_free(p, off);
			break;
		}
		printf("%llu\n", (unsigned long long)off);
	}

	/* Closing the pool drops our references; persisted blocks stay. */
	pool_close(p);
	pool_disconnect(c);
	if (fflush(stdout) != 0)
		return 1;
	return error != 0;
}
