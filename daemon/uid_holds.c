/*
 * uid_holds.c - the count of each uid's holds on a pool's shared blocks
 * (uid_holds.h says what for, and what it costs).
 *
 * The resize is block_index.c's, whose comment argues it: the new table
 * is made empty and the old one kept beside it; each add and sub first
 * moves UID_HOLDS_STEP of the old table's slots into the new one, going
 * down from just below a slot s that was empty when the move began, once
 * round.  New entries go into the new table; a count is found, changed
 * or removed in whichever table holds its entry (a removal from the old
 * one shifts entries back within their run, which ends before the part
 * moved, so the slot above the one being moved stays empty and the entry
 * moved is on no other's probe).  The table is at most half full,
 * counting both tables' entries in the new one: it grows past half and
 * shrinks under an eighth.  After a grow from C slots at C/2 entries the
 * next resize needs C/2 adds or C/4 subs, after a shrink from C at C/8
 * entries C/8 adds or C/16 subs (C >= 32); the move takes C /
 * UID_HOLDS_STEP = C/16 changes: it is always done before the next
 * begins.
 */
#include "uid_holds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

#define UID_HOLDS_STEP 16	/* old slots moved per change */

/* Where an entry is, or would be: a table and a slot of it. */
struct place {
	struct uid_hold *slot;
	uint64_t mask;
	uint64_t i;
};

void
uid_holds_init(struct uid_holds *t)
{
	*t = (struct uid_holds){0};
}

void
uid_holds_free(struct uid_holds *t)
{
	free(t->slot);
	free(t->old);
	uid_holds_init(t);
}

/* A block's address and a uid, mixed so that neighbours spread. */
static uint64_t
mix(const struct block *b, uint32_t uid)
{
	uint64_t x = (uint64_t)(uintptr_t)b ^
		     ((uint64_t)uid * 0x9e3779b97f4a7c15ull);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* The slot of (b, uid) in a table, or of the empty slot its probe ends at. */
static uint64_t
probe(const struct uid_hold *slot, uint64_t mask, const struct block *b,
      uint32_t uid)
{
	uint64_t i = mix(b, uid) & mask;

	/* Never full: the probe ends at an empty slot. */
	while (slot[i].block && (slot[i].block != b || slot[i].uid != uid))
		i = (i + 1) & mask;
	return i;
}

/*
 * Empty slot i, moving back each entry after it whose probe passes i
 * (linear probing's removal, which leaves no tombstone).
 */
static void
remove_at(struct uid_hold *slot, uint64_t mask, uint64_t i)
{
	uint64_t j = i, h;

	for (;;) {
		j = (j + 1) & mask;
		if (!slot[j].block)
			break;
		h = mix(slot[j].block, slot[j].uid) & mask;
		/* j's entry may move to i if i lies on its way, h .. j. */
		if (((j - h) & mask) >= ((j - i) & mask)) {
			slot[i] = slot[j];
			i = j;
		}
	}
	slot[i] = (struct uid_hold){0};
}

/* (b, uid)'s entry, in the new table or the old: false if there is none. */
static bool
find(const struct uid_holds *t, const struct block *b, uint32_t uid,
     struct place *pl)
{
	if (!t->count)
		return false;
	*pl = (struct place){t->slot, t->mask,
			     probe(t->slot, t->mask, b, uid)};
	if (pl->slot[pl->i].block)
		return true;
	if (!t->old_count)
		return false;
	*pl = (struct place){t->old, t->old_mask,
			     probe(t->old, t->old_mask, b, uid)};
	return pl->slot[pl->i].block != NULL;
}

static void
old_free(struct uid_holds *t)
{
	t->bytes -= (t->old_mask + 1) * sizeof(*t->old);
	free(t->old);
	t->old = NULL;
	t->old_mask = t->old_count = t->old_next = t->old_left = 0;
}

/* Move up to UID_HOLDS_STEP of the old table's slots into the new one. */
static void
move_step(struct uid_holds *t)
{
	struct uid_hold *e;
	uint64_t n;

	for (n = 0; t->old && n < UID_HOLDS_STEP; n++) {
		if (t->old_count == 0) {	/* nothing left to move */
			old_free(t);
			break;
		}
		e = &t->old[t->old_next];
		if (e->block) {
			t->slot[probe(t->slot, t->mask, e->block, e->uid)] = *e;
			*e = (struct uid_hold){0};
			t->old_count--;
		}
		t->old_next = (t->old_next - 1) & t->old_mask;
		if (--t->old_left == 0)
			old_free(t);
	}
}

/*
 * Begin moving the entries into a table of slots slots (a power of two):
 * false if there is no memory for it, the tables as they were.
 */
static bool
resize(struct uid_holds *t, uint64_t slots)
{
	struct uid_hold *n = calloc(slots, sizeof(*n));
	uint64_t s;

	if (!n)
		return false;
	if (t->old) {
		t->hurried++;
		while (t->old)
			move_step(t);
	}
	t->bytes += slots * sizeof(*n);
	if (!t->slot) {
		t->slot = n;
		t->mask = slots - 1;
		return true;
	}
	t->old = t->slot;
	t->old_mask = t->mask;
	t->old_count = t->count;
	t->slot = n;
	t->mask = slots - 1;
	/* An empty slot to start below: at most half of them are full. */
	for (s = 0; t->old[s].block; s++)
		;
	t->old_next = (s - 1) & t->old_mask;
	t->old_left = t->old_mask;	/* all but s, which stays empty */
	return true;
}

int
uid_holds_reserve(struct uid_holds *t, uint64_t n)
{
	uint64_t slots = t->slot ? t->mask + 1 : UID_HOLDS_MIN;

	/* At most half full, so that a probe stays short. */
	while ((t->count + n) * 2 > slots)
		slots *= 2;
	if (t->slot && slots == t->mask + 1)
		return 0;
	return resize(t, slots) ? 0 : -ENOMEM;
}

uint32_t
uid_holds_count(const struct uid_holds *t, const struct block *b,
		uint32_t uid)
{
	struct place pl;

	return find(t, b, uid, &pl) ? pl.slot[pl.i].count : 0;
}

uint32_t
uid_holds_add(struct uid_holds *t, const struct block *b, uint32_t uid)
{
	struct place pl;

	if (!t->slot)
		fatalx("uid holds: an entry added without room for it");
	move_step(t);
	if (find(t, b, uid, &pl))
		return ++pl.slot[pl.i].count;
	if ((t->count + 1) * 2 > t->mask + 1)
		fatalx("uid holds: an entry added without room for it");
	t->slot[probe(t->slot, t->mask, b, uid)] =
		(struct uid_hold){.block = b, .uid = uid, .count = 1};
	t->count++;
	return 1;
}

uint32_t
uid_holds_sub(struct uid_holds *t, const struct block *b, uint32_t uid)
{
	struct place pl;
	uint32_t left;

	move_step(t);
	if (!find(t, b, uid, &pl))
		fatalx("uid holds: uid %u's hold on a block it has no entry "
		       "for let go", (unsigned)uid);
	if ((left = --pl.slot[pl.i].count))
		return left;
	remove_at(pl.slot, pl.mask, pl.i);
	t->count--;
	if (pl.slot == t->old)
		t->old_count--;
	/* None left, no table: most pools share no block most of the time. */
	if (t->count == 0)
		uid_holds_free(t);
	/* Back to at most a quarter full; without memory, the larger does. */
	else if (!t->old && t->mask + 1 > UID_HOLDS_MIN &&
		 t->count * 8 < t->mask + 1)
		(void)resize(t, (t->mask + 1) / 2);
	return 0;
}

/* One table's entries: each on an unbroken probe from its home, found
 * there, and (the old one's) where the move has not been; how many. */
static int
table_check(const struct uid_holds *t, bool old, uint64_t *entries,
	    char *problem, size_t len)
{
	const struct uid_hold *slot = old ? t->old : t->slot;
	uint64_t mask = old ? t->old_mask : t->mask, i, j;
	struct place pl;

	*entries = 0;
	for (i = 0; i <= mask; i++) {
		if (!slot[i].block)
			continue;
		++*entries;
		if (old && ((t->old_next - i) & mask) >= t->old_left) {
			snprintf(problem, len, "uid holds: an entry of uid %u "
				 "at slot %llu of the old table, moved "
				 "already", (unsigned)slot[i].uid,
				 (unsigned long long)i);
			return -EFAULT;
		}
		for (j = mix(slot[i].block, slot[i].uid) & mask; j != i;
		     j = (j + 1) & mask)
			if (!slot[j].block) {
				snprintf(problem, len, "uid holds: an entry of "
					 "uid %u at slot %llu, past the empty "
					 "slot %llu", (unsigned)slot[i].uid,
					 (unsigned long long)i,
					 (unsigned long long)j);
				return -EFAULT;
			}
		if (!slot[i].count ||
		    !find(t, slot[i].block, slot[i].uid, &pl) ||
		    &pl.slot[pl.i] != &slot[i]) {
			snprintf(problem, len, "uid holds: the entry of uid "
				 "%u at slot %llu%s counts %u, or is not "
				 "what a look for it finds",
				 (unsigned)slot[i].uid, (unsigned long long)i,
				 old ? " (old)" : "", slot[i].count);
			return -EFAULT;
		}
	}
	return 0;
}

int
uid_holds_check(const struct uid_holds *t, char *problem, size_t len)
{
	uint64_t slots = t->slot ? t->mask + 1 : 0, in_new, in_old = 0;
	uint64_t bytes = (slots + (t->old ? t->old_mask + 1 : 0)) *
			 sizeof(struct uid_hold);

	if (!t->slot && (t->count || t->old)) {
		snprintf(problem, len, "uid holds: no table, but %llu "
			 "entr%s", (unsigned long long)t->count,
			 t->count == 1 ? "y" : "ies");
		return -EFAULT;
	}
	/* It goes with its last entry (uid_holds_sub): none kept empty. */
	if (t->slot && !t->count) {
		snprintf(problem, len, "uid holds: a table of %llu slots with "
			 "no entry", (unsigned long long)slots);
		return -EFAULT;
	}
	if (t->hurried || t->bytes != bytes || t->count * 2 > slots) {
		snprintf(problem, len, "uid holds: %llu entr%s in %llu slots "
			 "of %llu bytes counted as %llu, %llu move%s hurried",
			 (unsigned long long)t->count,
			 t->count == 1 ? "y" : "ies",
			 (unsigned long long)slots, (unsigned long long)bytes,
			 (unsigned long long)t->bytes,
			 (unsigned long long)t->hurried,
			 log_plural(t->hurried));
		return -EFAULT;
	}
	if (!t->slot)
		return 0;
	if (table_check(t, false, &in_new, problem, len) ||
	    (t->old && table_check(t, true, &in_old, problem, len)))
		return -EFAULT;
	if (in_new + in_old != t->count || in_old != t->old_count) {
		snprintf(problem, len, "uid holds: %llu entries and %llu in "
			 "the old table, counted %llu and %llu",
			 (unsigned long long)(in_new + in_old),
			 (unsigned long long)in_old,
			 (unsigned long long)t->count,
			 (unsigned long long)t->old_count);
		return -EFAULT;
	}
	return 0;
}
