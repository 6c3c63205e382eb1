/*
 * recover.h - after a crash under systemd: the journal and the kept
 * memfds the store gave back (journal.h), made into a state that restore.c
 * rebuilds as it does a planned restart's: every pool, with only its
 * persistent blocks, no client, its counters from zero.
 */
#ifndef POOLMGRD_RECOVER_H
#define POOLMGRD_RECOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "restore_fds.h"
#include "state.pb-c.h"

/* Did the store give back a crash journal ("journal.<n>")? */
bool recover_wanted(const struct passed_fds *pf);

/*
 * The newest journal replayed into a state, and its descriptors in its
 * order (as restore_fds_place puts them): the listening socket systemd
 * passed or -1, the journal, each pool's kept memfd, taken out of pf.
 * NULL with why if the journal fails any check (then nothing is taken).
 * Free the state with poolmgrd__state__free_unpacked, *fds with free.
 */
Poolmgrd__State *recover_state(struct passed_fds *pf, int **fds,
			       unsigned *nfds, char *why, size_t len);

#endif /* POOLMGRD_RECOVER_H */
