/*
 * restore_fds.h - the descriptors a restart in place hands over, by name:
 * after an exec (restart_exec.c) in the order they were passed, from
 * systemd's fd store (fdstore.c) in any order and beside the sockets of
 * poolmgrd.socket.  Names say which each is: "listen", "state",
 * "config", "pool.<i>", "conn.<i>", "reply.<i>", "unread.<id>" (a kept
 * connection, taken back at any start, peer_store.c), and the crash journal's
 * "journal.<n>" and "keep.<n>" (journal.h, recover.h); any other name is
 * a socket systemd passed.
 */
#ifndef POOLMGRD_RESTORE_FDS_H
#define POOLMGRD_RESTORE_FDS_H

#include <stddef.h>

struct passed_fds {
	unsigned n;
	int *fd;		/* -1 once placed or closed */
	char **name;
	char *list;		/* LISTEN_FDNAMES, split in place */
	char *made;		/* the names of its runs (restart_names.c) */
	int listen, state;	/* -1: none */
};

/*
 * Take LISTEN_*, if they are ours (LISTEN_PID) and name any descriptor a
 * restart passes: 0, with the environment cleared and every descriptor
 * close-on-exec.  -1: nothing for a restart; the environment is left for
 * socket activation (service.c).
 */
int restore_fds_take(struct passed_fds *pf);

/*
 * Before restore_fds_take, when the daemon reads its configuration: the
 * text the old image checked, if an exec passed it as "config" (the
 * descriptors ours by LISTEN_PID).  1 with it in *text (malloc'ed, a NUL
 * after its *len bytes), 0 if none was passed, -1 if it cannot be read.
 * Nothing is taken: restore_fds_take closes the descriptor later.
 */
int restore_fds_config(char **text, size_t *len);

/*
 * Put the descriptors of a state with npools, nsessions and nreplies
 * (restore_check.h's state_replies) in its order,
 * fds[0 .. 2 + npools + nsessions + nreplies): the listening socket, the
 * state, each pool's memfd, each client's connection, each descriptor
 * its unsent replies pass that no pool has ("reply.<i>").  A client's
 * connection that systemd's store dropped (it does when the client hangs
 * up) becomes one already hung up: the client is restored and goes at
 * once.  0, or -EINVAL with why.
 */
int restore_fds_place(struct passed_fds *pf, unsigned npools,
		      unsigned nsessions, unsigned nreplies, int *fds,
		      char *why, size_t len);

/*
 * The names a restart passes, ':'-separated (to take out of the store),
 * but the kept connections': they stay in it under those names.
 */
char *restore_fds_ours(const struct passed_fds *pf);

/* Close every descriptor not placed, but the listening socket; free. */
void restore_fds_free(struct passed_fds *pf);

#endif /* POOLMGRD_RESTORE_FDS_H */
