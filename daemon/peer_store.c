/*
 * peer_store.c - the kept connections in systemd's fd store.
 *
 * A connection let go of while its client had descriptors unread is kept
 * (peer.c), for the kernel counts those descriptors against the daemon's
 * uid until they are read.  A crash would close it, and the next image
 * would count nothing while they stay in flight: its client could
 * connect again and leave as many more.  So, as each pool's memfd (the
 * crash journal's keep.<n>), each kept connection goes to the store
 * from the moment it is kept, as "unread.<id>" (id the lowest free, so
 * that the names run and an exec's list of them stays short), and leaves
 * it when its client reads all or closes.  Any start takes them back as
 * kept connections (restore_fds.c) and leaves them where they are; a
 * stop to the store pushes them all again, for systemd drops without a
 * word what a full store is pushed (one taken for stored may not be
 * there: a unit whose FileDescriptorStoreMax= is below the FDSTORE= it
 * sets).  An exec's image
 * pushes again those it is handed: the older one may have lacked room
 * for some, or been from before the store held them, and systemd keeps a
 * descriptor it holds already once, under its first name.
 *
 * They go with FDPOLL=0 (fdstore.c): shut down both ways, they read
 * POLLHUP at once, and systemd would drop them.  They take at most the
 * room the unit's FileDescriptorStoreMax= gives connections: what the
 * store takes, less a stop's state, listening socket and every pool,
 * less the crash journal's room (two of each pool and of the journal,
 * journal.c).  So they never leave a journal or a pool's keep.<n>
 * without room: systemd drops, without a word, what a full store is
 * pushed.  Nor in the daemon's queue of notifications while systemd
 * reads none: they take half of what it lets wait (notify.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fdstore.h"
#include "log.h"
#include "notify.h"
#include "peer_store.h"
#include "pool.h"
#include "restart_names.h"

/* What a stop and the crash journal may need of the store, at most. */
#define STORE_OTHERS (1 + 1 + POOL_MAX_POOLS + 2 * (POOL_MAX_POOLS + 1))

static void
name_of(unsigned id, char *name)
{
	snprintf(name, RESTART_NAME_MAX, "unread.%u", id);
}

unsigned
peer_store_room(void)
{
	unsigned max = fdstore_max();

	return max > STORE_OTHERS ? max - STORE_OTHERS : 0;
}

int
peer_store_push(unsigned id, int fd, unsigned stored)
{
	static struct log_limit lim;
	char name[RESTART_NAME_MAX], *names[1] = {name};
	unsigned max = fdstore_max();
	int rc;

	if (max == 0)
		return -ENOTSUP;
	name_of(id, name);
	if (stored >= peer_store_room())
		rc = -ENOSPC;
	else if (!notify_room_spare())
		rc = -ENOBUFS;
	else if ((rc = fdstore_push(1, &fd, names)) == 0)
		return 0;
	log_limited(&lim, LOG_PRI_WARNING, "a connection kept for "
		    "descriptors its client has not read is not in the fd "
		    "store (%s, FDSTORE=%u): a crash forgets it",
		    strerror(-rc), max);
	return rc;
}

void
peer_store_remove(unsigned id)
{
	char name[RESTART_NAME_MAX];

	name_of(id, name);
	(void)fdstore_remove(name);
}
