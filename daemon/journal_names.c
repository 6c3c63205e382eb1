/*
 * journal_names.c - the crash journal's names in systemd's fd store that
 * no journal of ours holds any more, and the names handed to the image a
 * restart in place executes (journal_internal.h).
 *
 * A name whose removal the store could not be asked for (the daemon's
 * queue of notifications full, memory short) stays in the store: a
 * destroyed pool's keep.<n>, each keep.<n> of a journal let go of, whose
 * numbers the pools give up, and the old image's journal and keeps once
 * this one is ready.  Each is remembered, asked out again on waits of
 * its own (removals), which never hold back a refused pool's keep, and
 * named in POOLMGRD_JOURNAL until it is out: the next image numbers its
 * own above every name it is handed, so that no keep.<n> of its own
 * stands beside one of ours for a crash's recovery to take either.
 *
 * They are remembered however many they are (16 bytes each), but only
 * the UNREMOVED_NAMED highest numbered are named: an image of ours takes
 * a list of at most 2 * POOL_MAX_POOLS + 1 names (names_ours), and
 * ignores a longer one whole, as it would a list set by hand.  The value
 * itself could hold far more (execve takes one of 131072 bytes with its
 * name: 4680 names of 19-digit numbers), but an older image executed by
 * a restart in place must still read it.  The next image numbers above
 * the highest named, and so above every name left out: one of those can
 * share no number with a keep of its own.  A name left out is still
 * asked out by this image until it is out; only the next image does not
 * know it, and the store holds it until the next start, as it says.
 *
 * No want of memory forgets one of the first UNREMOVED_NAMED: they are
 * remembered in room of their own (first_room, 4 KiB), and the heap
 * takes the rest.  Should the heap fail one past them, the lowest
 * numbered of it and those remembered is forgotten, said to stay in the
 * store until the next start: the UNREMOVED_NAMED or more remembered
 * are numbered above it, the highest of them named, and the next image
 * numbers above it too.  Each name whose removal failed is so named for
 * the next image, or numbered below one that is.  (The room was all on
 * the heap: with none remembered yet, the name itself was forgotten,
 * the highest numbered in the store it may be, and nothing named it.)
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdstore.h"
#include "journal_internal.h"
#include "log.h"
#include "pool.h"

#define ID_MAX		(UINT64_MAX / 2)	/* a name's n, at most */
/* Unremoved names named for the next image, at most: with the journal
 * and a keep of each pool, as many as names_ours takes. */
#define UNREMOVED_NAMED	POOL_MAX_POOLS

/*
 * The names no journal of ours holds any more that the store was not
 * told to drop: the keep.<n> of pools gone or of a journal let go of,
 * and the old image's names (journal_ready).  Highest numbered first
 * whenever more than UNREMOVED_NAMED are (names_env).  In first_room
 * until more than UNREMOVED_NAMED are, then on the heap (the header
 * comment).
 */
struct unremoved {
	bool journal;		/* journal.<id>, else keep.<id> */
	uint64_t id;
};
static struct unremoved first_room[UNREMOVED_NAMED];
static struct unremoved *unremoved = first_room;
static unsigned nunremoved, unremoved_cap = UNREMOVED_NAMED;
static struct again removals;

static const char *unremoved_prefix(const struct unremoved *u);

/* qsort: the highest numbered first. */
static int
unremoved_down(const void *a, const void *b)
{
	uint64_t x = ((const struct unremoved *)a)->id;
	uint64_t y = ((const struct unremoved *)b)->id;

	return x > y ? -1 : x < y;
}

int
unstore(const char *prefix, uint64_t id)
{
	char name[48];

	snprintf(name, sizeof(name), "%s.%llu", prefix,
		 (unsigned long long)id);
	return fdstore_remove(name);
}

/* "name.<id>" at s + *n, after a ':' unless first; *n counts on past len
 * as snprintf's length does, and nothing more is written then. */
static void
name_add(char *s, size_t len, size_t *n, const char *name, uint64_t id)
{
	if (*n < len)
		*n += (size_t)snprintf(s + *n, len - *n, "%s%s.%llu",
				       *n ? ":" : "", name,
				       (unsigned long long)id);
}

/*
 * Our names in the store, for the image a restart in place executes:
 * the journal's, every pool's keep.<n> and those unremoved.
 * Taken out first and the buffer static: a setenv that fails (memory
 * short) leaves no name rather than an old journal's, which the next
 * image would take for ours.  No name is no image's to execute either:
 * it would leave our journal and keeps in the store, beside its own and
 * under the same numbers, and a crash would take ours, which lacks every
 * change since (journal_exec_names).
 *
 * Out of the store (broken) or let go of (lose), the journal and keeps
 * may be in it all the same, their removal refused like any other: they
 * are named too, for the next image to drop once ready and to number its
 * own above them, as are the destroyed pools' keeps whose removal failed.
 * A keep.<n> of the new image's beside one of ours would be either pool
 * to a crash's recovery.
 */
void
names_env(void)
{
	uint64_t journal = journal_id();
	static char s[32 * (2 * POOL_MAX_POOLS + 1)];
	size_t n = 0;
	struct dpool *p;
	unsigned i, named = 0;

	unsetenv(ENV_NAMES);
	if (journal)
		name_add(s, sizeof(s), &n, "journal", journal);
	for (p = dpool_first(); p; p = dpool_next(p))
		if (p->keep_id)
			name_add(s, sizeof(s), &n, "keep", p->keep_id);
	/* The next image drops them once ready, as the others; a journal
	 * withdrawn while it is still ours is named once.  Past the bound,
	 * the highest numbered (the header comment). */
	if (nunremoved > UNREMOVED_NAMED)
		qsort(unremoved, nunremoved, sizeof(*unremoved),
		      unremoved_down);
	for (i = 0; i < nunremoved && named < UNREMOVED_NAMED; i++)
		if (!unremoved[i].journal || unremoved[i].id != journal) {
			name_add(s, sizeof(s), &n,
				 unremoved_prefix(&unremoved[i]),
				 unremoved[i].id);
			named++;
		}
	if (n == 0)
		return;
	if (n >= sizeof(s) || setenv(ENV_NAMES, s, 1) == -1)
		log_warnx("crash journal: its names are not in the "
			  "environment: a restart in place sets them again "
			  "first, or is not made");
}

static const char *
unremoved_prefix(const struct unremoved *u)
{
	return u->journal ? "journal" : "keep";
}

/*
 * Room for twice as many unremoved names, on the heap (first_room full
 * or the heap's): false if memory is short.
 */
static bool
unremoved_room(void)
{
	struct unremoved *heap = unremoved == first_room ? NULL : unremoved;
	void *m;

	if (unremoved_cap > UINT_MAX / 2 ||
	    !(m = reallocarray(heap, 2 * unremoved_cap, sizeof(*unremoved))))
		return false;
	if (!heap)
		memcpy(m, first_room, sizeof(first_room));
	unremoved = m;
	unremoved_cap *= 2;
	return true;
}

/*
 * No room to remember u, past first_room: the lowest numbered of u and
 * those remembered is forgotten.  The UNREMOVED_NAMED or more left are
 * above it and the highest of them named, so the next image numbers
 * above the one forgotten too.
 */
static void
unremoved_forget(struct unremoved u)
{
	unsigned i, low = 0;
	struct unremoved gone = u;

	for (i = 1; i < nunremoved; i++)
		if (unremoved[i].id < unremoved[low].id)
			low = i;
	if (unremoved[low].id < u.id) {
		gone = unremoved[low];
		unremoved[low] = u;
		names_env();
	}
	log_warnx("the fd store holds %s.%llu, which no journal names, "
		  "until the next start (no memory to remember it)",
		  unremoved_prefix(&gone), (unsigned long long)gone.id);
}

/*
 * A name no journal of ours holds any more out of the store, or tried
 * again later and named for the next image until it is out.
 */
static void
name_remove(bool journal, uint64_t id)
{
	struct unremoved u = {journal, id};

	if (unstore(unremoved_prefix(&u), id) == 0)
		return;
	if (nunremoved == unremoved_cap && !unremoved_room()) {
		unremoved_forget(u);
		return;
	}
	unremoved[nunremoved++] = u;
	if (nunremoved > UNREMOVED_NAMED)
		log_warnx("the fd store holds %s.%llu, which no journal "
			  "names: asked out again, but past %u such names "
			  "the lowest numbered are not named for the next "
			  "image, which leaves them in the store until the "
			  "next start", unremoved_prefix(&u),
			  (unsigned long long)id, UNREMOVED_NAMED);
	names_env();
	again_ask(&removals);
}

void
keep_remove(uint64_t id)
{
	name_remove(false, id);
}

void
old_journal_remove(uint64_t id)
{
	name_remove(true, id);
}

/* The removals that failed, tried again. */
static void
removals_retry(void)
{
	unsigned i, n;

	removals.due = false;
	for (i = n = 0; i < nunremoved; i++)
		if (unstore(unremoved_prefix(&unremoved[i]),
			    unremoved[i].id) != 0)
			unremoved[n++] = unremoved[i];
	if (n != nunremoved) {
		nunremoved = n;
		names_env();
	}
	if (nunremoved > 0)
		again_later(&removals);
	else
		removals.ms = 0;
}

void
names_step(void)
{
	if (again_now(&removals))
		removals_retry();
}

void
names_stop(bool forget)
{
	unsigned i;

	removals = (struct again){0};
	/* A stop that frees everything asks once more, and is the last
	 * word on them; else the next image has their names (names_env). */
	for (i = 0; forget && i < nunremoved; i++)
		(void)unstore(unremoved_prefix(&unremoved[i]),
			      unremoved[i].id);
	if (forget) {
		if (unremoved != first_room)
			free(unremoved);
		unremoved = first_room;
		unremoved_cap = UNREMOVED_NAMED;
		nunremoved = 0;
	}
}

/*
 * The n of the name at s, "journal.<n>" or "keep.<n>" as this daemon
 * writes them (digits alone, no 0 first, n from 1 to ID_MAX) and ended
 * by ':' or the list's end; 0 if it is no such name.  A number near
 * 2^64 would wrap next_id round to 0, which says "not kept", and on to
 * names the store holds already.  *next: the next name, or NULL after
 * the last.
 */
static uint64_t
name_id(const char *s, const char **next)
{
	const char *d = NULL, *e;
	uint64_t v = 0;

	if (strncmp(s, "keep.", 5) == 0)
		d = s + 5;
	else if (strncmp(s, "journal.", 8) == 0)
		d = s + 8;
	e = strchr(s, ':');
	*next = e ? e + 1 : NULL;
	if (!d || *d == '0')
		return 0;
	for (e = d; *e >= '0' && *e <= '9'; e++) {
		if (v > (ID_MAX - (uint64_t)(*e - '0')) / 10)
			return 0;
		v = 10 * v + (uint64_t)(*e - '0');
	}
	return *e == ':' || *e == '\0' ? v : 0;
}

uint64_t
max_id(const char *list)
{
	const char *s = list;
	uint64_t best = 0, v;

	while (s && *s)
		if ((v = name_id(s, &s)) > best)
			best = v;
	return best;
}

bool
names_ours(const char *list)
{
	const char *s = list;
	unsigned n = 0;

	while (s)
		if (++n > 2 * POOL_MAX_POOLS + 1 || name_id(s, &s) == 0)
			return false;
	return true;
}

unsigned
names_count(const char *list)
{
	unsigned n;

	if (!list || !*list)
		return 0;
	for (n = 1; *list; list++)
		if (*list == ':')
			n++;
	return n;
}

/*
 * Each on its own: one whose removal fails is remembered as a destroyed
 * pool's keep is.  The old image's journal is whole, and a crash once
 * ours has left the store (broken) would recover from it, with blocks
 * ended since over whatever their pages hold now; and the image after
 * this one must number above it.
 */
void
old_names_out(const char *list)
{
	const char *s = list;
	bool journal;
	uint64_t id;

	while (s) {
		journal = strncmp(s, "journal.", 8) == 0;
		if ((id = name_id(s, &s)) != 0)
			name_remove(journal, id);
	}
}
