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
 * daemon that is busy every second reuses what it freed anyway.
 */
#include <malloc.h>
#include <stdbool.h>

#include "memtrim.h"

static uint64_t served;		/* memtrim_note calls */
static uint64_t served_seen;	/* served at the last tick */
static uint64_t trimmed_at;	/* when malloc_trim last ran */
static bool owed;		/* served since then */

void
memtrim_note(void)
{
	served++;
}

void
memtrim_tick(uint64_t now, uint32_t every)
{
	if (served != served_seen) {
		served_seen = served;
		owed = true;
		return;		/* not quiet for a whole second yet */
	}
	if (!owed || every == 0 || now - trimmed_at < every)
		return;
	owed = false;
	trimmed_at = now;
	malloc_trim(0);
}
