/*
 * harness_raw.h - the protocol spoken directly, for tests and benchmarks
 * that send requests the library would not, or hold more handles than a
 * process could map.  No cmocka here: children and benchmarks use it too.
 */
#ifndef POOLMGR_HARNESS_RAW_H
#define POOLMGR_HARNESS_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "poolmgr.pb-c.h"

/* A bare connection to the daemon at path: the socket, or -1 with errno. */
int harness_raw_connect(const char *path);

/*
 * One round trip: req is sent as it is (its id too), its reply awaited for
 * up to ms milliseconds (-1: for ever) and the descriptors that come with
 * it closed (nothing that speaks raw maps a pool).  Returns the decoded
 * reply, to be freed with poolmgr__reply__free_unpacked, or NULL with the
 * reason on stderr: req did not fit a datagram or could not be sent, no
 * reply came in time, the connection closed, or the reply was cut, did not
 * decode or answered another request.  Not for threads: it packs and
 * receives in buffers of its own.
 */
Poolmgr__Reply *harness_raw_call(int fd, Poolmgr__Request *req, int ms);
/*
 * Its two halves, for a request whose reply comes later (one the daemon
 * holds): send req (0, or -1 with the reason on stderr), then await the
 * reply to request id as harness_raw_call does.
 */
int harness_raw_send(int fd, Poolmgr__Request *req);
Poolmgr__Reply *harness_raw_reply(int fd, uint64_t id, int ms);
/*
 * The same, keeping the descriptors that come with the reply: the first
 * max of them in fds[], their count in *nfds (the rest closed).  None is
 * kept when it returns NULL.
 */
Poolmgr__Reply *harness_raw_reply_fds(int fd, uint64_t id, int ms, int *fds,
				      int max, int *nfds);

/* The request's name, as the protocol spells its body ("open", "alloc"). */
const char *harness_raw_name(const Poolmgr__Request *req);

/*
 * Numbered round trips: each request gets the process's next id, and its
 * reply is awaited for harness_raw_set_wait's time (HARNESS_RAW_WAIT_MS
 * unless set; -1: for ever).
 */
#define HARNESS_RAW_WAIT_MS 30000	/* a lost reply fails, not hangs */
void harness_raw_set_wait(int ms);
/* req numbered and sent: its reply, or NULL (the reason on stderr). */
Poolmgr__Reply *harness_raw_ask(int fd, Poolmgr__Request *req);
/* req numbered and sent (harness_raw_send), its reply to be awaited with
 * harness_raw_reply(fd, req->id, ...): for a request the daemon holds. */
int harness_raw_post(int fd, Poolmgr__Request *req);

/*
 * The calls below return the reply's error (0 or -errno), or
 * HARNESS_RAW_LOST, which no daemon sends, when no reply came or a reply
 * of 0 lacked what its request asks for (the reason on stderr).  What a
 * call hands back (*out, *h, *off...) is set only when it returns 0.
 */
#define HARNESS_RAW_LOST 1
/* req's round trip; its reply kept in *out (out may be NULL). */
int harness_raw_error(int fd, Poolmgr__Request *req, Poolmgr__Reply **out);
/* A connection to path that said Hello as name: the socket, or -1. */
int harness_raw_greeted(const char *path, const char *name);
int harness_raw_open(int fd, const char *pool, uint32_t *h);
int harness_raw_close(int fd, uint32_t h);
/* usable may be NULL. */
int harness_raw_alloc(int fd, uint32_t h, uint64_t size, uint64_t *off,
		      uint64_t *usable);
/* n blocks of sizes[] in one AllocBatch; offs (may be NULL) gets n. */
int harness_raw_alloc_batch(int fd, uint32_t h, const uint64_t *sizes,
			    size_t n, uint64_t *offs);
/* n blocks of size each, in batches of up to 4096. */
int harness_raw_alloc_many(int fd, uint32_t h, uint64_t size, size_t n);
/* Realloc of *off through h; *off becomes the block's new offset. */
int harness_raw_realloc(int fd, uint32_t h, uint64_t *off, uint64_t size,
			bool in_place);
/* Free, Retain, Persist or UsableSize (what) of off through h. */
int harness_raw_block(int fd, Poolmgr__Request__BodyCase what, uint32_t h,
		      uint64_t off);
int harness_raw_free(int fd, uint32_t h, uint64_t off);
int harness_raw_retain(int fd, uint32_t h, uint64_t off);

/*
 * A client that does not read: n UsableSize requests of off through h,
 * ids from id on, sent without reading a reply (waiting while the socket
 * is full, as long as the daemon reads on): how many went.
 */
int harness_raw_flood(int fd, uint32_t h, uint64_t off, int n, uint64_t id);
/*
 * Then its replies, read at last: how many of the n came whole and in
 * order, each of 0 with usable bytes (why the next did not, on stderr).
 */
int harness_raw_flood_replies(int fd, int n, uint64_t id, uint64_t usable);

#endif /* POOLMGR_HARNESS_RAW_H */
