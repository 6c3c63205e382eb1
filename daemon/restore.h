/*
 * restore.h - the new image's side of a restart in place (restart.h):
 * take the descriptors and the state, check all of it, rebuild every pool
 * and session, and only then serve.  A state that fails any check is
 * refused whole: every passed descriptor but the listening socket is
 * closed (its clients see the connection reset, as at a stop) and the
 * daemon starts as on a fresh start.
 */
#ifndef POOLMGRD_RESTORE_H
#define POOLMGRD_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "dispatch.h"
#include "peer.h"

struct event_base;

struct restore_env {
	struct event_base *base;
	peer_dispatch_fn dispatch;	/* each restored client's peer's */
	unsigned hello_timeout;		/* for those that had not said Hello */
};

struct restored {
	int listen_fd;			/* -1: none handed over */
	bool socket_activated;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned socket_mode;		/* after a crash with socket_path:
					 * its mode, as the journal says */
	unsigned npools, nsessions;
	uint64_t nblocks;
	uint64_t saved_at_ns;		/* CLOCK_MONOTONIC, the old image's */
	bool crashed;			/* recovered from the crash journal
					 * (recover.h): pools only */
	bool from_store;		/* a stop's, from systemd's fd store;
					 * else an exec's */
	char *stored;			/* names to take out of systemd's
					 * store once ready, or NULL (free) */
	bool has_totals;		/* the state carried totals: */
	struct daemon_totals totals;	/* DaemonStats', as at the save */
};

/*
 * If this image was executed by a restart in place, or started with what
 * a stop left in systemd's fd store (LISTEN_FDNAMES names a descriptor of
 * a restart, LISTEN_PID is ours): 1 and everything restored, or 0 with the
 * state refused (logged) and only out->listen_fd kept, if it was good.
 * With no state but a crash journal in the store, the same for the
 * journal's pools and persistent blocks (recover.h; out->crashed).
 * -1: no restart handed anything over; the environment is left for
 * socket activation (service.c).
 */
int restore_incoming(const struct restore_env *env, struct restored *out);

/*
 * Once the start's crash journal is in the fd store (journal_ready),
 * before anything is served: evictions over limits, held back until then
 * (restore_incoming and a start's configuration evict nothing), go on
 * again, and every pool holding more than its limit evicts its unheld
 * evictable names down to it, logged.
 */
void restore_evict_over_limits(void);

#endif /* POOLMGRD_RESTORE_H */
