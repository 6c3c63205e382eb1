/*
 * sd_holder - a client that holds blocks across restarts of the daemon,
 * for systemd_real.sh.
 *
 *	sd_holder POOL [IDLE]
 *
 * Two connections open POOL.  The first allocates two blocks and fills
 * them; it persists the first (so the pool holds it) and the second
 * connection retains the second, then the first frees both: each block
 * lives on through one reference of another kind.  Prints "ready X Y"
 * (the two offsets), then reads commands from stdin, one a line.  IDLE
 * more connections (none by default) only say hello and stay open, so
 * that a restart has that many more clients to keep.  The commands:
 *
 *	check	the blocks still read back what was written, and each
 *		connection still gets answers: an allocation and a free on
 *		the first, the retained block's size on the second, a list
 *		of the pools on every idle one.  Prints "ok" or
 *		"fail WHAT: WHY".
 *	recovered
 *		after a crash of the daemon: a new connection opens POOL
 *		again, the persisted block reads back what was written at
 *		its offset, and a block of the retained one's size is
 *		allocated beside it (the crash let go of the retained
 *		block, as a disconnect does).  Prints "ok" or
 *		"fail WHAT: WHY".
 *	quit	the second connection frees its block; exits 0.
 *
 * Exits 1 on a failed start; at the end of input, as quit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolclient.h"

#define PERSIST_LEN	4096
#define RETAIN_LEN	100000

struct holder {
	struct pool_conn	*ca, *cb;
	struct pool		*pa, *pb;
	pool_off_t		 x, y;	/* persisted, retained */
	struct pool_conn	**idle;
	unsigned		 nidle;
};

static unsigned char
pattern(pool_off_t off, size_t i)
{
	return (unsigned char)((off >> 4) + i * 7 + (i >> 8));
}

static void
fill(struct pool *p, pool_off_t off, size_t len)
{
	unsigned char *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = pattern(off, i);
}

static int
same(struct pool *p, pool_off_t off, size_t len)
{
	const unsigned char *b = pool_ptr(p, off);
	size_t i;

	if (!b)
		return 0;
	for (i = 0; i < len; i++)
		if (b[i] != pattern(off, i))
			return 0;
	return 1;
}

static int
fail(const char *what, int error)
{
	printf("fail %s: %s\n", what, pool_strerror(error));
	fflush(stdout);
	return -1;
}

static int
holder_start(struct holder *h, const char *name, unsigned nidle)
{
	int error;

	if ((error = pool_connect(NULL, &h->ca)) != 0)
		return fail("connect", error);
	if ((error = pool_open(h->ca, name, &h->pa)) != 0)
		return fail("open", error);
	if ((error = pool_alloc(h->pa, PERSIST_LEN, &h->x)) != 0 ||
	    (error = pool_alloc(h->pa, RETAIN_LEN, &h->y)) != 0)
		return fail("alloc", error);
	fill(h->pa, h->x, PERSIST_LEN);
	fill(h->pa, h->y, RETAIN_LEN);
	if ((error = pool_persist(h->pa, h->x)) != 0)
		return fail("persist", error);
	if ((error = pool_connect(NULL, &h->cb)) != 0)
		return fail("connect", error);
	if ((error = pool_open(h->cb, name, &h->pb)) != 0)
		return fail("open", error);
	if ((error = pool_retain(h->pb, h->y)) != 0)
		return fail("retain", error);
	if ((error = pool_free(h->pa, h->x)) != 0 ||
	    (error = pool_free(h->pa, h->y)) != 0)
		return fail("free", error);
	/* Nothing cached by the first: its next allocation asks. */
	if ((error = pool_flush(h->pa)) != 0)
		return fail("flush", error);
	for (h->nidle = 0; h->nidle < nidle; h->nidle++)
		if ((error = pool_connect(NULL, &h->idle[h->nidle])) != 0)
			return fail("connect an idle one", error);
	printf("ready %llu %llu\n", (unsigned long long)h->x,
	    (unsigned long long)h->y);
	fflush(stdout);
	return 0;
}

static int
holder_check(struct holder *h)
{
	struct pool_stats *list;
	pool_off_t off;
	size_t usable, n;
	unsigned i;
	int error;

	if (!same(h->pa, h->x, PERSIST_LEN))
		return fail("persisted block", 0);
	if (!same(h->pb, h->y, RETAIN_LEN))
		return fail("retained block", 0);
	if ((error = pool_alloc(h->pa, 512, &off)) != 0)
		return fail("alloc on the first connection", error);
	if (off == h->x || off == h->y)
		return fail("alloc handed out a held block", 0);
	if ((error = pool_free(h->pa, off)) != 0 ||
	    (error = pool_flush(h->pa)) != 0)
		return fail("free on the first connection", error);
	if ((error = pool_usable_size(h->pb, h->y, &usable)) != 0)
		return fail("size on the second connection", error);
	if (usable < RETAIN_LEN)
		return fail("retained block shrank", 0);
	for (i = 0; i < h->nidle; i++) {
		if ((error = pool_list(h->idle[i], &list, &n)) != 0)
			return fail("list on an idle connection", error);
		free(list);
	}
	printf("ok\n");
	fflush(stdout);
	return 0;
}

static int
holder_recovered(struct holder *h, const char *name)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	int error, rc = -1;

	if ((error = pool_connect(NULL, &c)) != 0)
		return fail("connect after the crash", error);
	if ((error = pool_open(c, name, &p)) != 0) {
		pool_disconnect(c);
		return fail("open after the crash", error);
	}
	if ((error = pool_set_cache(p, 0)) != 0)
		fail("cache off", error);
	else if (!same(p, h->x, PERSIST_LEN))
		fail("persisted block after the crash", 0);
	else if ((error = pool_alloc(p, RETAIN_LEN, &off)) != 0)
		fail("the retained block's room", error);
	else if (off < h->x + PERSIST_LEN && h->x < off + RETAIN_LEN)
		fail("an allocation overlaps the persisted block", 0);
	else if ((error = pool_free(p, off)) != 0)
		fail("free after the crash", error);
	else {
		printf("ok\n");
		fflush(stdout);
		rc = 0;
	}
	pool_close(p);
	pool_disconnect(c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct holder h;
	char line[64];
	int error;

	unsigned long nidle = 0;

	if (argc < 2 || argc > 3 ||
	    (argc == 3 && (nidle = strtoul(argv[2], NULL, 10)) > 100000)) {
		fprintf(stderr, "usage: sd_holder POOL [IDLE]\n");
		return 2;
	}
	memset(&h, 0, sizeof(h));
	if (!(h.idle = calloc(nidle + 1, sizeof(*h.idle))))
		return 1;
	if (holder_start(&h, argv[1], (unsigned)nidle) != 0)
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "check\n") == 0)
			(void)holder_check(&h);
		else if (strcmp(line, "recovered\n") == 0)
			(void)holder_recovered(&h, argv[1]);
		else if (strcmp(line, "quit\n") == 0)
			break;
	}
	if ((error = pool_free(h.pb, h.y)) != 0)
		return fail("free on the second connection", error) ? 1 : 0;
	pool_close(h.pb);
	pool_close(h.pa);
	pool_disconnect(h.cb);
	pool_disconnect(h.ca);
	while (h.nidle > 0)
		pool_disconnect(h.idle[--h.nidle]);
	free(h.idle);
	return 0;
}
