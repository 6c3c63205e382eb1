/*
 * evict_util.h - what the tests of evictable names (itest_evict,
 * itest_evict_realloc, itest_evict_restart) make and look for alike: the
 * daemon of the test and its pools, a pool filled with blocks named n0 to
 * n7, evictable or kept, and which of those names are left.  In the test
 * process a failure fails the test.
 *
 * Each test starts its daemon (evict_setup, or a setup of its program's
 * for another configuration) and stops it (evict_teardown).
 */
#ifndef POOLMGR_EVICT_UTIL_H
#define POOLMGR_EVICT_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"
#include "poolclient.h"

#define POOL		"ev"
#define BLK		(512u << 10)
#define NBLK		8		/* of BLK: the whole pool */
#define CONF		"[pool ev]\nsize = 4M\n" \
			"[pool evq]\nsize = 4M\nquota = 3584K\n" \
			"[pool eva]\nsize = 4M\nlimit = 2M\n"
#define QBLK		(BLK / 2)	/* a page span: goes back in steps */
#define NQBLK		((int)(NBLK * BLK / QBLK))

/* The daemon of the test. */
extern struct daemon_proc d;

/* Each test's setup and teardown: d started with CONF; d stopped. */
int evict_setup(void **state);
int evict_teardown(void **state);

/* A connection to the daemon at sock in *c, and pool name opened in *p. */
void open_pool(const char *sock, const char *name, struct pool_conn **c,
	       struct pool **p);
/* The name n<i>. */
const char *name_of(int i);

/* ---- a pool filled with names ------------------------------------------ */

/* n blocks of size into o, by ascending offset with by_off. */
void alloc_blocks(struct pool *p, int n, size_t size, bool by_off,
		  pool_off_t *o);
/* NBLK blocks of BLK into o, by ascending offset with by_off. */
void alloc_all(struct pool *p, bool by_off, pool_off_t *o);
/*
 * Fill pool p with NBLK blocks of BLK, named n0..n7 (evictable where
 * mask has the bit), each written with its index and let go by the
 * handle in name order, so that the least recently used is n0.  With
 * by_off, the names go to the blocks by ascending offset.  offs[i] is
 * n<i>'s block.
 */
void fill(struct pool *p, unsigned mask, bool by_off, pool_off_t *offs);
/* Bit i set: n<i> is still published (at its block, with its bytes). */
unsigned names_left(struct pool *p, const pool_off_t *offs);
/* Bit i set: n<i> is published in pool p. */
unsigned published_of(struct pool *p, int n);
/* Unpublish the names bits has, n<i> for bit i. */
void unpublish(struct pool *p, unsigned bits);
/*
 * Of NQBLK names q<i> by offset, q0 and q<NQBLK - 1> not counted: bit i,
 * q<i> is still published; with drop, unpublished now.
 */
unsigned sixteen_left(struct pool *p, bool drop);

/* Fail, showing out, unless want is in it. */
void expect_in(const char *out, const char *want);

#endif /* POOLMGR_EVICT_UTIL_H */
