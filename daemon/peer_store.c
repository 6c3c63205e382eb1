/*
 * peer_store.c - the kept connections in systemd's fd store.
 *
 * A connection let go of while its client had descriptors unread is kept
 * (peer_kept.c), for the kernel counts those descriptors against the daemon's
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
 *
 * A removal the store cannot be asked for (while 1024 notifications wait
 * for systemd, or memory is short) is asked again after a wait, doubled
 * while it fails (AGAIN_MIN_MS to AGAIN_MAX_MS), and the connection is
 * kept until then (peer_kept_leave): else its name stayed in the store
 * until a later start swept it, and the next kept connection, given the
 * same id, went beside it under the same name, which a removal takes out
 * whole.  The crash journal's own retries (journal_names.c) are of names
 * it hands the next image in its environment; these need none, for an
 * exec hands the connection itself over.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "fdstore.h"
#include "log.h"
#include "notify.h"
#include "peer.h"
#include "peer_kept.h"
#include "peer_store.h"
#include "pool.h"
#include "restart_names.h"

/* What a stop and the crash journal may need of the store, at most. */
#define STORE_OTHERS (1 + 1 + POOL_MAX_POOLS + 2 * (POOL_MAX_POOLS + 1))
#define AGAIN_MIN_MS	100	/* a refused removal's next try, first */
#define AGAIN_MAX_MS	10000	/* and the longest wait for one */

static struct event *again_ev;
static unsigned again_ms;	/* the last wait; 0: none failed since */

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

int
peer_store_remove(unsigned id)
{
	char name[RESTART_NAME_MAX];

	name_of(id, name);
	return fdstore_remove(name);
}

static void
on_again(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (peer_kept_leave())
		peer_store_again();
	else
		again_ms = 0;
}

void
peer_store_again(void)
{
	struct timeval tv;

	if (!again_ev || evtimer_pending(again_ev, NULL))
		return;
	again_ms = again_ms == 0 ? AGAIN_MIN_MS :
	    again_ms >= AGAIN_MAX_MS / 2 ? AGAIN_MAX_MS : 2 * again_ms;
	tv.tv_sec = again_ms / 1000;
	tv.tv_usec = (again_ms % 1000) * 1000;
	evtimer_add(again_ev, &tv);
}

bool
peer_store_setup(struct event_base *base)
{
	again_ev = evtimer_new(base, on_again, NULL);
	return again_ev != NULL;
}

void
peer_store_teardown(void)
{
	if (again_ev)
		event_free(again_ev);
	again_ev = NULL;
	again_ms = 0;
}
