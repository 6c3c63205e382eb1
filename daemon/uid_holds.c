/*
 * uid_holds.c - the count of each uid's holds on a pool's shared blocks
 * (uid_holds.h says what for, and what it costs).
 */
#include "uid_holds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "log.h"

void
uid_holds_init(struct uid_holds *t)
{
	t->slot = NULL;
	t->mask = 0;
	t->count = 0;
	t->bytes = 0;
}

void
uid_holds_free(struct uid_holds *t)
{
	free(t->slot);
	uid_holds_init(t);
}

/* A block's address and a uid, mixed so that neighbours spread. */
static uint64_t
home(const struct uid_holds *t, const struct block *b, uint32_t uid)
{
	uint64_t x = (uint64_t)(uintptr_t)b ^
		     ((uint64_t)uid * 0x9e3779b97f4a7c15ull);

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x & t->mask;
}

/* The slot of (b, uid), or of the empty slot its probe ends at. */
static uint64_t
probe(const struct uid_holds *t, const struct block *b, uint32_t uid)
{
	uint64_t i = home(t, b, uid);

	/* Never full: the probe ends at an empty slot. */
	while (t->slot[i].block &&
	       (t->slot[i].block != b || t->slot[i].uid != uid))
		i = (i + 1) & t->mask;
	return i;
}

/* The entries into a table of slots slots (a power of two): false if
 * there is no memory for it, the table as it was. */
static bool
rehash(struct uid_holds *t, uint64_t slots)
{
	struct uid_holds n = {.mask = slots - 1, .count = t->count};
	uint64_t i;

	if (!(n.slot = calloc(slots, sizeof(*n.slot))))
		return false;
	n.bytes = slots * sizeof(*n.slot);
	for (i = 0; t->slot && i <= t->mask; i++)
		if (t->slot[i].block)
			n.slot[probe(&n, t->slot[i].block,
				     t->slot[i].uid)] = t->slot[i];
	free(t->slot);
	*t = n;
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
	return rehash(t, slots) ? 0 : -ENOMEM;
}

uint32_t
uid_holds_count(const struct uid_holds *t, const struct block *b,
		uint32_t uid)
{
	uint64_t i;

	if (!t->count)
		return 0;
	i = probe(t, b, uid);
	return t->slot[i].block ? t->slot[i].count : 0;
}

uint32_t
uid_holds_add(struct uid_holds *t, const struct block *b, uint32_t uid)
{
	uint64_t i;

	if (!t->slot)
		fatalx("uid holds: an entry added without room for it");
	i = probe(t, b, uid);
	if (!t->slot[i].block) {
		if ((t->count + 1) * 2 > t->mask + 1)
			fatalx("uid holds: an entry added without room for "
			       "it");
		t->slot[i] = (struct uid_hold){.block = b, .uid = uid};
		t->count++;
	}
	return ++t->slot[i].count;
}

/*
 * Empty slot i, moving back each entry after it whose probe passes i
 * (linear probing's removal, which leaves no tombstone).
 */
static void
remove_at(struct uid_holds *t, uint64_t i)
{
	uint64_t j = i, h;

	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slot[j].block)
			break;
		h = home(t, t->slot[j].block, t->slot[j].uid);
		/* j's entry may move to i if i lies on its way, h .. j. */
		if (((j - h) & t->mask) >= ((j - i) & t->mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i] = (struct uid_hold){0};
	t->count--;
}

uint32_t
uid_holds_sub(struct uid_holds *t, const struct block *b, uint32_t uid)
{
	uint64_t i, slots;
	uint32_t left;

	i = t->count ? probe(t, b, uid) : 0;
	if (!t->count || !t->slot[i].block)
		fatalx("uid holds: uid %u's hold on a block it has no entry "
		       "for let go", (unsigned)uid);
	if ((left = --t->slot[i].count))
		return left;
	remove_at(t, i);
	/* Back to at most a quarter full; without memory, the larger does.
	 * None left, no table: most pools share no block most of the time. */
	slots = t->mask + 1;
	if (t->count == 0)
		uid_holds_free(t);
	else if (slots > UID_HOLDS_MIN && t->count * 8 < slots)
		(void)rehash(t, slots / 2);
	return 0;
}
