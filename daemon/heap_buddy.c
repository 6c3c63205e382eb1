/*
 * heap_buddy.c - the binary buddy system over the pool's pages.
 *
 * The buddy holds the pool's whole free pages as blocks of 2^k pages aligned
 * to 2^k pages (order k).  Invariant: a block's buddy (page ^ 2^k, same
 * order) is never also a free block, so the blocks are the unique maximal
 * aligned decomposition of the free pages and two free buddies always merge.
 * The free pages are W(run) for every run (heap_runs.c keeps this true), so
 * the buddy and the bins are two indexes over the same free space, never two
 * partitions of it: a request can always be placed across the boundary
 * between what one index and the other see.
 *
 * Page spans ask the buddy first: the lowest block of the smallest order that
 * holds the span gives a placement aligned to its own size (good for huge
 * pages and for keeping large free blocks whole), and the span takes only the
 * pages it needs, so the tail of the block stays free with no power-of-two
 * waste.  When no block is big enough the bins still find any run that can
 * hold the span (rule 4: a pure buddy would refuse pages 1-2 free as one
 * 2-page block).
 *
 * The view is kept only from order kmin up, the smallest order a span can
 * ask for (2^kmin pages >= the large threshold): the smallest span of the
 * default configuration is 32 pages, so the view is one of whole free
 * 128 KiB units and churning small blocks, which rarely free or take a
 * whole unit, almost never touch it.  Everything below is the classic buddy
 * system with units for pages.
 *
 * Each order keeps its blocks in a red-black tree by page, so the lowest
 * block is the tree minimum and a buddy is found in O(log n); a 64-bit mask
 * of non-empty orders finds the smallest usable order at once.
 */
#include "heap_internal.h"

static int
bblock_cmp(struct bblock *a, struct bblock *b)
{
	return a->page < b->page ? -1 : a->page > b->page;
}

RB_GENERATE(bblock_tree, bblock, link, bblock_cmp)

static struct bblock *
order_find(struct heap *h, uint64_t page, unsigned k)
{
	struct bblock key = {.page = page};

	return RB_FIND(bblock_tree, &h->order[k], &key);
}

static void
order_remove(struct heap *h, struct bblock *b, unsigned k)
{
	RB_REMOVE(bblock_tree, &h->order[k], b);
	if (RB_EMPTY(&h->order[k]))
		h->order_nonempty &= ~(1ull << k);
	h->buddy_blocks--;
	heap_node_free(h, b, sizeof(*b));
}

bool
buddy_has(struct heap *h, uint64_t page, unsigned order)
{
	return order < BUDDY_ORDERS && order_find(h, page, order) != NULL;
}

/* Free the block (page, k), merging with its buddy as long as it is free. */
static void
block_insert(struct heap *h, uint64_t page, unsigned k)
{
	struct bblock *b;

	assert((page & ((1ull << k) - 1)) == 0);
	while (k + 1 < BUDDY_ORDERS) {
		uint64_t buddy = page ^ (1ull << k);
		struct bblock *nb = order_find(h, buddy, k);

		if (!nb)
			break;
		order_remove(h, nb, k);
		page &= ~(1ull << k);
		k++;
	}
	b = heap_node_alloc(h, sizeof(*b));
	b->page = page;
	RB_INSERT(bblock_tree, &h->order[k], b);
	h->order_nonempty |= 1ull << k;
	h->buddy_blocks++;
}

/* Largest order k such that page is 2^k-aligned and page + 2^k <= end. */
static unsigned
largest_fit(uint64_t page, uint64_t end)
{
	unsigned k = page ? (unsigned)__builtin_ctzll(page) : BUDDY_ORDERS - 1;

	if (k > BUDDY_ORDERS - 1)
		k = BUDDY_ORDERS - 1;
	while (page + (1ull << k) > end)
		k--;
	return k;
}

/* The pages [first, end), whole units, became wholly free. */
void
buddy_add(struct heap *h, uint64_t first, uint64_t end)
{
	assert(((first | end) & ((1ull << h->kmin) - 1)) == 0);
	while (first < end) {
		unsigned k = largest_fit(first, end);

		block_insert(h, first, k);
		first += 1ull << k;
	}
}

/* The free block that holds page, and its order. */
static struct bblock *
block_containing(struct heap *h, uint64_t page, unsigned *order)
{
	unsigned k;

	for (k = h->kmin; k < BUDDY_ORDERS; k++) {
		struct bblock *b;

		if (!(h->order_nonempty & (1ull << k)))
			continue;
		b = order_find(h, page & ~((1ull << k) - 1), k);
		if (b) {
			*order = k;
			return b;
		}
	}
	return NULL;
}

/* The pages [first, end), whole free units, are being taken. */
void
buddy_remove(struct heap *h, uint64_t first, uint64_t end)
{
	assert(((first | end) & ((1ull << h->kmin) - 1)) == 0);
	while (first < end) {
		unsigned k;
		struct bblock *b = block_containing(h, first, &k);
		uint64_t bf, be;

		assert(b != NULL);
		bf = b->page;
		be = bf + (1ull << k);
		order_remove(h, b, k);
		/* Give back what lies outside [first, end). */
		buddy_add(h, bf, first);
		if (end < be)
			buddy_add(h, end, be);
		first = be < end ? be : end;
	}
}

/*
 * The lowest block of the smallest order that holds npages pages aligned to
 * align_pages (a power of two); false if there is none.
 */
bool
buddy_find(struct heap *h, uint64_t npages, uint64_t align_pages,
	   uint64_t *page)
{
	unsigned k = log2_ceil(npages);
	unsigned a = log2_floor(align_pages);
	uint64_t mask;

	if (a > k)
		k = a;
	if (k >= BUDDY_ORDERS)
		return false;
	mask = h->order_nonempty & (~0ull << k);
	if (mask == 0)
		return false;
	k = (unsigned)__builtin_ctzll(mask);
	*page = RB_MIN(bblock_tree, &h->order[k])->page;
	return true;
}

void
buddy_destroy(struct heap *h)
{
	unsigned k;

	for (k = 0; k < BUDDY_ORDERS; k++) {
		struct bblock *b, *next;

		for (b = RB_MIN(bblock_tree, &h->order[k]); b; b = next) {
			next = RB_NEXT(bblock_tree, &h->order[k], b);
			RB_REMOVE(bblock_tree, &h->order[k], b);
			heap_node_free(h, b, sizeof(*b));
		}
	}
}
