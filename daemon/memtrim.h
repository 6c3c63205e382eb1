/*
 * memtrim.h - the daemon's own freed memory given back once it is quiet.
 */
#ifndef POOLMGRD_MEMTRIM_H
#define POOLMGRD_MEMTRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Something was served: a request, a connection, a release step. */
void memtrim_note(void);

/*
 * Once a second, at now (seconds): after a second with nothing served, at
 * most once per every seconds (0: never), give malloc's free memory back,
 * and the pages of the request path's static buffers.  True while a trim
 * is owed and so a further tick is needed; false until the next
 * memtrim_note.
 */
bool memtrim_tick(uint64_t now, uint32_t every);

/* Buffers given to memtrim_pages are aligned so: all their pages go. */
#define MEMTRIM_ALIGN 4096

/*
 * The whole pages within [buf, buf + len) of a static buffer that holds
 * nothing now go back to the kernel, and read as zeros from then on.
 */
void memtrim_pages(void *buf, size_t len);

#endif /* POOLMGRD_MEMTRIM_H */
