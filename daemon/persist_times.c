/*
 * persist_times.c - when a pool's persistent blocks became so
 * (persist_times.h).
 *
 * Invariant: a record per persistent block of the pool, keyed by its
 * offset, and no other; x->count of them.  pool_check.c verifies it
 * against the blocks.
 */
#include <assert.h>
#include <errno.h>

#include "persist_times.h"
#include "records.h"

struct records persist_time_records =
	RECORDS_INIT(sizeof(struct persist_time));

static int
time_cmp(const struct persist_time *a, const struct persist_time *b)
{
	return a->off < b->off ? -1 : a->off > b->off;
}

/* Not RB_GENERATE_STATIC: see block_names.c. */
RB_PROTOTYPE(persist_time_tree, persist_time, entry, time_cmp)
RB_GENERATE(persist_time_tree, persist_time, entry, time_cmp)

void
persist_times_init(struct persist_times *x)
{
	RB_INIT(&x->tree);
	x->count = 0;
}

void
persist_times_free(struct persist_times *x)
{
	struct persist_time *t, *next;

	RB_FOREACH_SAFE(t, persist_time_tree, &x->tree, next) {
		RB_REMOVE(persist_time_tree, &x->tree, t);
		records_give(&persist_time_records, t);
	}
	persist_times_init(x);
}

static struct persist_time *
find(const struct persist_times *x, uint64_t off)
{
	struct persist_time key = {.off = off};

	return RB_FIND(persist_time_tree,
		       (struct persist_time_tree *)&x->tree, &key);
}

int
persist_times_add(struct persist_times *x, uint64_t off, uint64_t since_ns)
{
	struct persist_time *t;

	assert(!find(x, off));
	if (!(t = records_take(&persist_time_records)))
		return -ENOMEM;
	t->off = off;
	t->since_ns = since_ns;
	RB_INSERT(persist_time_tree, &x->tree, t);
	x->count++;
	return 0;
}

void
persist_times_remove(struct persist_times *x, uint64_t off)
{
	struct persist_time *t = find(x, off);

	assert(t && x->count > 0);
	RB_REMOVE(persist_time_tree, &x->tree, t);
	records_give(&persist_time_records, t);
	x->count--;
}

bool
persist_times_find(const struct persist_times *x, uint64_t off,
		   uint64_t *since_ns)
{
	const struct persist_time *t = find(x, off);

	if (!t)
		return false;
	*since_ns = t->since_ns;
	return true;
}

uint64_t
persist_times_bytes(const struct persist_times *x)
{
	return x->count * records_stride(sizeof(struct persist_time));
}
