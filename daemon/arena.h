/*
 * arena.h - memory for one request's decoded message.
 *
 * protobuf-c allocates every part of a decoded message separately.  The
 * daemon decodes one request at a time and is done with it before the next,
 * so the parts come from one bump arena that is emptied after each request:
 * no malloc or free per request in the common case.
 */
#ifndef POOLMGRD_ARENA_H
#define POOLMGRD_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

/* The allocator to decode with; its free does nothing. */
extern ProtobufCAllocator arena_allocator;

/* Forget everything allocated since the last reset. */
void arena_reset(void);

/* Did an allocation fail for want of memory since the last reset? */
bool arena_failed(void);

/* Give back the arena's pages; between requests only (memtrim.c). */
void arena_release(void);

#endif /* POOLMGRD_ARENA_H */
