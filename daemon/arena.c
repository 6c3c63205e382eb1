/*
 * arena.c - a bump arena for decoded requests (see arena.h).
 *
 * ARENA_BYTES covers any request the daemon accepts in practice (a 64 KiB
 * datagram decodes into less than its size times eight); a request that
 * needs more gets the rest from malloc, and those blocks are chained and
 * freed at the reset.  The static buffer costs memory only where it has been
 * touched, and gives those pages back when the daemon is quiet
 * (arena_release, from memtrim.c).
 */
#include <assert.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "memtrim.h"

#define ARENA_BYTES	(512 * 1024)

struct spill {
	struct spill	*next;
	max_align_t	 data[];
};

static alignas(MEMTRIM_ALIGN) unsigned char arena[ARENA_BYTES];
static size_t arena_used;
static struct spill *spills;
static bool arena_short;	/* an allocation failed since the reset */

static void *
arena_alloc(void *data, size_t size)
{
	size_t align = alignof(max_align_t);
	size_t need = (size + align - 1) & ~(align - 1);
	struct spill *s;
	void *p;

	(void)data;
	if (need >= size && need <= ARENA_BYTES - arena_used) {
		p = arena + arena_used;
		arena_used += need;
		return p;
	}
	/* protobuf-c fails the decode: its message is not there to answer. */
	if (size > SIZE_MAX - sizeof(*s) || !(s = malloc(sizeof(*s) + size))) {
		arena_short = true;
		return NULL;
	}
	s->next = spills;
	spills = s;
	return s->data;
}

static void
arena_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

ProtobufCAllocator arena_allocator = {
	.alloc = arena_alloc,
	.free = arena_free,
	.allocator_data = NULL,
};

void
arena_reset(void)
{
	struct spill *s;

	while ((s = spills)) {
		spills = s->next;
		free(s);
	}
	arena_used = 0;
	arena_short = false;
}

bool
arena_failed(void)
{
	return arena_short;
}

/* Between requests the arena is empty: dispatch_message resets it. */
void
arena_release(void)
{
	assert(arena_used == 0 && spills == NULL);
	memtrim_pages(arena, sizeof(arena));
}
