/*
 * state_save.h - the daemon's state as proto/state.proto, written into a
 * memfd sealed against any change (restart.c hands it to the new image).
 */
#ifndef POOLMGRD_STATE_SAVE_H
#define POOLMGRD_STATE_SAVE_H

#include <stdbool.h>
#include <stdint.h>

/* The descriptors the state names, in its order. */
struct state_fds {
	int *pool;		/* each pool's memfd */
	unsigned npools;
	int *conn;		/* each session's connection */
	unsigned nsessions;
	int *reply;		/* what unsent replies pass that no pool
				 * of the state has ("reply.<i>") */
	unsigned nreplies;
	uint64_t nblocks;
};

/*
 * The oldest state version that carries all there is to carry: the
 * current one while a pool has user quotas of uids, the one before while
 * a pool has an access control list (the pool's name to *why, when why
 * is not NULL), else the one before that, so that an image from before
 * either may take over a daemon that uses neither.
 */
unsigned state_version_needed(const char **why);
/*
 * What state version version carries that the one before drops, in
 * words for a refusal: "the access control lists".
 */
const char *state_version_carries(unsigned version);

/*
 * Save every pool and every session, as state version version (at least
 * state_version_needed's, one the next image reads); change nothing.
 * from_store: the state goes to systemd's fd store, not to an exec.  The
 * state's memfd, or -errno; fds is filled on success (state_fds_free).
 */
int state_save(bool socket_activated, const char *socket_path,
	       bool from_store, uint64_t saved_at_ns, unsigned version,
	       struct state_fds *fds);
void state_fds_free(struct state_fds *fds);

#endif /* POOLMGRD_STATE_SAVE_H */
