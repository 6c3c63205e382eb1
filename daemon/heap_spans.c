/*
 * heap_spans.c - live page spans: blocks at or above the large threshold.
 *
 * Spans are few and large, so each gets a record (start, length, requested
 * size) in a red-black tree by start.  A span's start bit is set like any
 * extent's, its live bit is not: heap_free looks here for page-aligned
 * offsets whose live bit is clear.
 */
#include "heap_internal.h"

static int
span_cmp(struct span *a, struct span *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

RB_GENERATE(span_tree, span, link, span_cmp)

struct span *
spans_find(struct heap *h, uint64_t start)
{
	struct span key = {.start = start};

	return RB_FIND(span_tree, &h->spans, &key);
}

/* The span holding the byte at off, or NULL. */
struct span *
spans_containing(struct heap *h, uint64_t off)
{
	struct span key = {.start = off}, *s;

	s = RB_NFIND(span_tree, &h->spans, &key);
	if (s && s->start == off)
		return s;
	s = s ? RB_PREV(span_tree, &h->spans, s) : RB_MAX(span_tree, &h->spans);
	return s && off - s->start < s->len ? s : NULL;
}

struct span *
spans_insert(struct heap *h, uint64_t start, uint64_t len, uint64_t requested)
{
	struct span *s = heap_node_alloc(h, sizeof(*s));

	s->start = start;
	s->len = len;
	s->requested = requested;
	RB_INSERT(span_tree, &h->spans, s);
	h->st.spans++;
	return s;
}

void
spans_remove(struct heap *h, struct span *s)
{
	RB_REMOVE(span_tree, &h->spans, s);
	h->st.spans--;
	heap_node_free(h, s, sizeof(*s));
}

void
spans_destroy(struct heap *h)
{
	struct span *s, *next;

	for (s = RB_MIN(span_tree, &h->spans); s; s = next) {
		next = RB_NEXT(span_tree, &h->spans, s);
		spans_remove(h, s);
	}
}
