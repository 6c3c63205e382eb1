/*
 * heap_owner.c - see heap_owner.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "heap_owner.h"

struct owner own;

int
on_release(void *ctx, uint64_t off, uint64_t len)
{
	struct owner *o = ctx;

	assert_int_equal(off % PAGE, 0);
	assert_int_equal(len % PAGE, 0);
	o->released += len;
	o->nrelease++;
	o->last_release_off = off;
	return 0;
}

void
on_zero(void *ctx, uint64_t off, uint64_t len)
{
	struct owner *o = ctx;

	o->zeroed += len;
	o->nzero++;
	o->last_zero_off = off;
	o->last_zero_len = len;
}

void
on_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len)
{
	struct owner *o = ctx;

	o->copied += len;
	o->ncopy++;
	o->last_copy_dst = dst;
	o->last_copy_src = src;
}

struct heap *
make(uint64_t max, uint32_t g, uint64_t threshold, uint32_t cache)
{
	struct heap_config cfg = {
		.max_size = max, .granularity = g, .page_size = PAGE,
		.large_threshold = threshold, .cache_blocks = cache,
		.release = on_release, .zero = on_zero, .copy = on_copy,
		.ctx = &own,
	};
	struct heap *h = NULL;

	memset(&own, 0, sizeof(own));
	assert_int_equal(heap_create(&cfg, &h), 0);
	return h;
}

void
check_ok(struct heap *h)
{
	char msg[256];
	int rc = heap_check(h, msg, sizeof(msg));

	if (rc)
		fail_msg("heap_check: %s", msg);
}

uint64_t
alloc_ok(struct heap *h, uint64_t size)
{
	uint64_t off = HEAP_OFF_NONE;
	int rc = heap_alloc(h, size, 0, &off);

	if (rc)
		fail_msg("alloc %llu: %s", (unsigned long long)size,
			 heap_strerror(rc));
	return off;
}

struct heap_stats
stats(struct heap *h)
{
	struct heap_stats st;

	heap_get_stats(h, &st);
	return st;
}

uint64_t
usable(struct heap *h, uint64_t off)
{
	uint64_t n = 0;

	assert_int_equal(heap_usable_size(h, off, &n), 0);
	return n;
}
