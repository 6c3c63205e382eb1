/*
 * bench_window.c - the window workload (see bench_window.h).  The clock is
 * read once every CHECK_EVERY pairs so that it costs nothing measurable.
 */
#include <string.h>

#include "bench_window.h"

#define CHECK_EVERY 32

/* A few bytes at each end of the block, as a user of it would. */
static inline void
touch(void *ptr, size_t size, uint8_t v)
{
	uint8_t *b = ptr;
	size_t n = size < 8 ? size : 8;

	memset(b, v, n);
	memset(b + size - n, v, n);
}

static int
window_one(struct window *w, unsigned i)
{
	size_t size = mix_size(&w->rng, w->mix);
	void *ptr;
	int rc;

	rc = w->ops.alloc(w->ops.ctx, size, &w->h[i], &ptr);
	if (rc == 0)
		touch(ptr, size, (uint8_t)i);
	return rc;
}

/* Slot i holds no live block any more: drop it from the window. */
static void
window_forget(struct window *w, unsigned i)
{
	w->h[i] = w->h[--w->filled];
}

void
window_init(struct window *w, const struct heap_ops *ops, enum mix m,
	    uint64_t seed, uint64_t stream)
{
	memset(w, 0, sizeof *w);
	w->ops = *ops;
	w->mix = m;
	rng_seed(&w->rng, seed, stream);
}

int
window_fill(struct window *w)
{
	int rc;

	for (; w->filled < WINDOW; w->filled++)
		if ((rc = window_one(w, (unsigned)w->filled)) != 0)
			return rc;
	return 0;
}

int
window_run(struct window *w, double seconds, uint64_t *pairs)
{
	double end = now_sec() + seconds;
	uint64_t n = 0;
	int rc;

	*pairs = 0;
	do {
		for (int k = 0; k < CHECK_EVERY; k++, n++) {
			unsigned i = (unsigned)rng_below(&w->rng, WINDOW);

			if ((rc = w->ops.free(w->ops.ctx, w->h[i])) != 0 ||
			    (rc = window_one(w, i)) != 0) {
				window_forget(w, i);
				*pairs = n;
				return rc;
			}
		}
	} while (now_sec() < end);
	*pairs = n;
	return 0;
}

int
window_drain(struct window *w)
{
	int rc, first = 0;

	while (w->filled > 0) {
		rc = w->ops.free(w->ops.ctx, w->h[--w->filled]);
		if (rc != 0 && first == 0)
			first = rc;
	}
	return first;
}
