/*
 * dispatch.h - carry out one request from a client (docs/protocol.md).
 */
#ifndef POOLMGRD_DISPATCH_H
#define POOLMGRD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct dpool;
struct event_base;
struct peer;
struct session;

/* The configuration in force (admin group); kept by the caller. */
void dispatch_set_config(const struct config *cf);

/* Tell a connection over a limit why it is closed (id 0, error err). */
void dispatch_refuse_connection(int fd, int err, const char *why);

/*
 * Decode buf, carry it out for session s, and queue the reply on peer; or
 * hold it on peer (peer_hold) until the pool it reads has settled.
 */
void dispatch_message(struct peer *peer, struct session *s,
		      const uint8_t *buf, size_t len);

/* After each release step: resume the held requests whose wait is over. */
void dispatch_wake(void);

/* Session s is going: forget that it waits (before session_free). */
void dispatch_forget(struct session *s);

/* dispatch_wait.c: the loop its waiting Lookups' deadlines run on. */
void dispatch_wait_setup(struct event_base *base);
/*
 * A restart in place waits for a quiet moment: every waiting Lookup is
 * answered -EINTR (the client asks the new image again), as is any that
 * would wait until reads go on.
 */
void dispatch_wait_interrupt(void);
/*
 * Check: the lookups waiting in p are as many as p counts, each its
 * session's one, on a handle its session has open on p.  0, or -EFAULT.
 */
int dispatch_wait_check(const struct dpool *p, char *problem, size_t len);

/*
 * dispatch_room.c: Allocs that wait for room, on base; 0, or -ENOMEM.
 * Teardown once every session is gone.
 */
int dispatch_room_setup(struct event_base *base);
void dispatch_room_teardown(void);
/* A restart in place: every waiting Alloc is answered -EINTR, as above. */
void dispatch_room_interrupt(void);
/*
 * Check: the allocations waiting for room in p are as many as p counts,
 * each its session's one, on a handle its session has open on p.
 */
int dispatch_room_check(const struct dpool *p, char *problem, size_t len);

/*
 * The daemon's totals since it started (DaemonStats): counted by the code
 * that sees each event, since this image started, on top of what the
 * images before it carried over (state.proto's DaemonTotals).
 */
struct daemon_totals {
	uint64_t started;		/* CLOCK_REALTIME seconds */
	uint64_t started_ns;		/* CLOCK_MONOTONIC */
	uint64_t restarts;
	uint64_t connections, connections_refused, hello_timeouts;
	uint64_t requests, requests_refused, bad_messages;
	uint64_t log_lines_left_out;
};

/*
 * dispatch_status.c: the start, once this image has restored what it
 * was handed: carried, the old image's totals (one restart more), or
 * NULL (a fresh start, a crash recovery, an older image's state): now.
 */
void dispatch_status_start(const struct daemon_totals *carried);
/* The totals as they are now, what this image counted added (a save). */
void dispatch_status_totals(struct daemon_totals *out);

/* Give back the reply buffer's pages; between requests only (memtrim.c). */
void dispatch_buffers_release(void);

#endif /* POOLMGRD_DISPATCH_H */
