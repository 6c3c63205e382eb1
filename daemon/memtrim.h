/*
 * memtrim.h - the daemon's own freed memory given back once it is quiet.
 */
#ifndef POOLMGRD_MEMTRIM_H
#define POOLMGRD_MEMTRIM_H

#include <stdint.h>

/* Something was served: a request, a connection, a release step. */
void memtrim_note(void);

/*
 * Once a second, at now (seconds): after a second with nothing served, at
 * most once per every seconds (0: never), give malloc's free memory back.
 */
void memtrim_tick(uint64_t now, uint32_t every);

#endif /* POOLMGRD_MEMTRIM_H */
