/*
 * heap_owner.h - the engine's owner as the unit tests play it: callbacks
 * that count what the engine asked for, and the few helpers every rule's
 * test uses (test_heap_rules.c, test_heap_split.c).
 */
#ifndef HEAP_OWNER_H
#define HEAP_OWNER_H

#include <stdint.h>

#include "heap.h"

#define PAGE 4096u

/* What the engine asked the owner to do. */
struct owner {
	uint64_t released, zeroed, copied;
	unsigned nrelease, nzero, ncopy;
	uint64_t last_zero_off, last_zero_len;
	uint64_t last_copy_dst, last_copy_src;
	uint64_t last_release_off;
};

extern struct owner own;

/* The callbacks make() installs, for a test that builds its own config. */
int on_release(void *ctx, uint64_t off, uint64_t len);
void on_zero(void *ctx, uint64_t off, uint64_t len);
void on_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len);

/* A heap of max bytes whose callbacks count into own (emptied first). */
struct heap *make(uint64_t max, uint32_t g, uint64_t threshold,
		  uint32_t cache);
/* heap_check, failing the test with its message. */
void check_ok(struct heap *h);
/* heap_alloc that must succeed. */
uint64_t alloc_ok(struct heap *h, uint64_t size);
struct heap_stats stats(struct heap *h);
/* heap_usable_size that must succeed. */
uint64_t usable(struct heap *h, uint64_t off);

#endif /* HEAP_OWNER_H */
