/*
 * bench_inproc.h - the in-process yardsticks as window heaps: glibc malloc
 * (its own entry points, whatever is interposed) and mimalloc (loaded with
 * dlopen, as bench_engine does, so both live in one binary).
 */
#ifndef BENCH_INPROC_H
#define BENCH_INPROC_H

#include <stdbool.h>
#include <stddef.h>

#include "bench_window.h"

void glibc_heap_ops(struct heap_ops *ops);

/* Load mimalloc; false (and why in note) when it cannot be had. */
bool mimalloc_load(char *note, size_t len);
void mimalloc_heap_ops(struct heap_ops *ops);

#endif /* BENCH_INPROC_H */
