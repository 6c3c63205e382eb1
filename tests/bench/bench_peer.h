/*
 * bench_peer.h - run the Boost.Interprocess program (bench_boost.cpp) for
 * one cell of the shared-heap table and read what it measured.
 */
#ifndef BENCH_PEER_H
#define BENCH_PEER_H

#include <stddef.h>

#include "bench_speed.h"

/* 0 with *rate and *m filled and the Boost version in note, or -1. */
int boost_run(const struct env *e, enum mix m, int procs, double *rate,
	      struct mem *mem, char *note, size_t len);

#endif /* BENCH_PEER_H */
