/*
 * harness_raw.h - the protocol spoken directly, for tests and benchmarks
 * that send requests the library would not, or hold more handles than a
 * process could map.  No cmocka here: children and benchmarks use it too.
 */
#ifndef POOLMGR_HARNESS_RAW_H
#define POOLMGR_HARNESS_RAW_H

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

#endif /* POOLMGR_HARNESS_RAW_H */
