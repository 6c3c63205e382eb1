/*
 * memtrim.c - the daemon's own freed memory given back once it is quiet.
 *
 * What the daemon mallocs for its clients (sessions, handle tables and
 * handles, queued replies, the engine's metadata, the release queue's
 * records) is freed when they go, but glibc's malloc keeps what was freed:
 * it gives back only free memory at the top of its heap, past a threshold
 * that it raises as big blocks are freed, so one small allocation made
 * late in a burst holds all the memory under it.  200 clients of 1000
 * handles each left the daemon at 50 MB, 46 MB of them free in malloc.
 *
 * malloc_trim(0) gives back every free page of the heap, but it walks all
 * of malloc's free chunks to do it, which is no work for a request's turn.
 * So it runs from the once-a-second timer, in a tick after a second in
 * which nothing was served, and only if something was served since the
 * last one: at most once per idle_trim seconds, and never in a daemon that
 * nobody uses.  A client that asks once in a while still lets it run; a
 * daemon that is busy every second reuses what it freed anyway.  The timer
 * runs only while a tick is owed: memtrim_tick says when none is, and the
 * next thing served arms it again, so an idle daemon is not woken.
 *
 * The request path's static buffers (peer.c's read batch and reply stage,
 * the decode arena, dispatch.c's reply) cost memory only where a burst
 * touched them, but then keep it: up to 4.8 MiB.  Their owners give those
 * pages back at the same moment (memtrim_pages).  The tick runs from the
 * loop between callbacks, when no request is in progress, so every one of
 * them is empty: what a held request keeps is on the heap, not in them.
 */
#include <malloc.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "dispatch.h"
#include "memtrim.h"
#include "peer.h"

static uint64_t served;		/* memtrim_note calls */
static uint64_t served_seen;	/* served at the last tick */
static uint64_t trimmed_at;	/* when malloc_trim last ran */
static bool owed;		/* served since then */

void
memtrim_note(void)
{
	served++;
}

bool
memtrim_tick(uint64_t now, uint32_t every)
{
	if (served != served_seen) {
		served_seen = served;
		owed = true;
		return every != 0;	/* not quiet for a whole second yet */
	}
	if (!owed || every == 0)
		return false;
	if (now - trimmed_at < every)
		return true;
	owed = false;
	trimmed_at = now;
	malloc_trim(0);
	peer_buffers_release();
	arena_release();
	dispatch_buffers_release();
	return false;
}

void
memtrim_pages(void *buf, size_t len)
{
	static uintptr_t page;
	uintptr_t start = (uintptr_t)buf, end = start + len;

	if (page == 0)
		page = (uintptr_t)sysconf(_SC_PAGESIZE);
	start = (start + page - 1) & ~(page - 1);
	end &= ~(page - 1);
	/*
	 * Private zero-filled memory: the pages read as zeros again, and
	 * cost nothing until written.  Failure only leaves them resident.
	 */
	if (end > start)
		madvise((void *)start, end - start, MADV_DONTNEED);
}
