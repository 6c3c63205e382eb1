/*
 * evict_util.c - the eviction tests' daemon, and a pool filled with
 * named blocks and looked at (evict_util.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "evict_util.h"

struct daemon_proc d;

int
evict_setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, CONF) == 0 ? 0 : -1;
}

int
evict_teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		assert_int_equal(harness_stop(&d), 0);
	return 0;
}

void
open_pool(const char *sock, const char *name, struct pool_conn **c,
	  struct pool **p)
{
	EXPECT_RC(pool_connect(sock, c), 0);
	EXPECT_RC(pool_open(*c, name, p), 0);
}

const char *
name_of(int i)
{
	static char buf[NBLK][16];

	snprintf(buf[i], sizeof(buf[i]), "n%d", i);
	return buf[i];
}

void
alloc_blocks(struct pool *p, int n, size_t size, bool by_off, pool_off_t *o)
{
	pool_off_t t;
	int i, j;

	for (i = 0; i < n; i++)
		EXPECT_RC(pool_alloc(p, size, &o[i]), 0);
	for (i = 0; by_off && i < n; i++)
		for (j = i + 1; j < n; j++)
			if (o[j] < o[i]) {
				t = o[i];
				o[i] = o[j];
				o[j] = t;
			}
}

void
alloc_all(struct pool *p, bool by_off, pool_off_t *o)
{
	alloc_blocks(p, NBLK, BLK, by_off, o);
}

void
fill(struct pool *p, unsigned mask, bool by_off, pool_off_t *offs)
{
	pool_off_t o[NBLK];
	int i;

	alloc_all(p, by_off, o);
	for (i = 0; i < NBLK; i++) {
		memset(pool_ptr(p, o[i]), '0' + i, BLK);
		EXPECT_RC(pool_publish_flags(p, o[i], name_of(i),
					     (mask >> i) & 1 ?
					     POOL_PUBLISH_EVICTABLE : 0), 0);
		offs[i] = o[i];
	}
	for (i = 0; i < NBLK; i++)
		EXPECT_RC(pool_free(p, o[i]), 0);	/* the name's alone */
	assert_int_equal(harness_stats(p).free_bytes, 0);
}

unsigned
names_left(struct pool *p, const pool_off_t *offs)
{
	unsigned left = 0;
	pool_off_t off;
	int i, rc;

	for (i = 0; i < NBLK; i++) {
		rc = pool_lookup(p, name_of(i), &off, NULL);
		if (rc == -ENOENT)
			continue;
		EXPECT_RC(rc, 0);
		assert_int_equal(off, offs[i]);
		assert_int_equal(((char *)pool_ptr(p, off))[BLK - 1], '0' + i);
		left |= 1u << i;
	}
	return left;
}

void
unpublish(struct pool *p, unsigned bits)
{
	int i;

	for (i = 0; i < NBLK; i++)
		if (bits & (1u << i))
			EXPECT_RC(pool_unpublish(p, name_of(i)), 0);
}

unsigned
sixteen_left(struct pool *p, bool drop)
{
	unsigned left = 0;
	char name[16];
	pool_off_t t;
	int i;

	for (i = 1; i < NQBLK - 1; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		if (pool_lookup(p, name, &t, NULL) != 0)
			continue;
		left |= 1u << i;
		if (drop)
			EXPECT_RC(pool_unpublish(p, name), 0);
	}
	return left;
}

unsigned
published_of(struct pool *p, int n)
{
	unsigned bits = 0;
	pool_off_t off;
	int i;

	for (i = 0; i < n; i++)
		if (pool_lookup(p, name_of(i), &off, NULL) == 0)
			bits |= 1u << i;
	return bits;
}

void
expect_in(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("no \"%s\" in:\n%s", want, out);
}
