/*
 * peer_kept.c - connections let go of while their clients had
 * descriptors unread.
 *
 * Descriptors a reply passed are in flight until the client reads them,
 * and the kernel counts them against the daemon's uid whether or not the
 * daemon still has its end (peer.c says why that matters).  So a peer
 * let go of with such replies unread keeps its socket here, shut down
 * both ways (the client reads what came, then its end), until its client
 * reads it all or closes: SIOCOUTQ reads 0 then.  Each counts as a
 * connection of its uid (server_accept.c), and, under systemd's fd
 * store, is in the store from the moment it is kept (peer_store.c), so
 * that a crash loses none.
 *
 * Nothing tells the daemon that a client is done: a kept socket reads
 * POLLHUP from the start.  So they are looked at: all of them, a system
 * call each, where the count decides something (a refusal, a full
 * store's room); some in turn for anyone who asks (DaemonStats); and all
 * of them every KEPT_SWEEP_SEC while any is kept, so that one whose
 * client is done leaves the count and the store within that time even
 * when nobody asks.
 *
 * A kept connection is named by the lowest id free ("unread.<id>"), and
 * the list is in the order of the ids, each once: an exec's list of
 * names stays short, and a restart in place or a start from the store
 * takes each back under its own (peer_keep_taken).
 */
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/sys/queue.h>

#include "fdstore.h"
#include "log.h"
#include "peer.h"
#include "peer_kept.h"
#include "peer_store.h"

#define KEPT_SWEEP_SEC	10	/* all looked at, while any is kept */

/* A connection let go of while its client had descriptors unread. */
struct kept {
	LIST_ENTRY(kept) entry;
	int fd;
	uid_t uid;
	unsigned id;		/* its name: "unread.<id>" */
	bool stored;		/* in systemd's fd store under it */
	/*
	 * Its client is done with it, but the store could not be asked to
	 * take it out: kept, and not counted, until it has been (its id
	 * given to no other, for a removal takes every descriptor of the
	 * name).
	 */
	bool leaving;
};

/* In the order of their ids, each id once. */
static LIST_HEAD(, kept) kept = LIST_HEAD_INITIALIZER(kept);
static unsigned kept_in_store;	/* those stored */
static unsigned look_from;	/* the id peer_kept_look goes on from */
static struct event *sweep_ev;

/* All looked at within KEPT_SWEEP_SEC, unless a look is due already. */
static void
sweep_arm(void)
{
	struct timeval tv = {KEPT_SWEEP_SEC, 0};

	if (sweep_ev && !evtimer_pending(sweep_ev, NULL))
		evtimer_add(sweep_ev, &tv);
}

static void
on_sweep(evutil_socket_t fd, short what, void *arg)
{
	unsigned of_uid;

	(void)fd;
	(void)what;
	(void)arg;
	if (peer_kept((uid_t)-1, &of_uid, true) > 0)
		sweep_arm();
}

int
peer_unread_bytes(int fd)
{
	int n;

	/* Unknown reads as unread: the socket is kept, never wrongly let go. */
	return ioctl(fd, SIOCOUTQ, &n) == -1 ? 1 : n;
}

/* The lowest id no kept connection has; *after, the one it goes after. */
static unsigned
kept_free_id(struct kept **after)
{
	struct kept *k;
	unsigned id = 0;

	*after = NULL;
	LIST_FOREACH(k, &kept, entry) {
		if (k->id != id)
			break;
		id++;
		*after = k;
	}
	return id;
}

/* The kept connection with id, or the one it would go after (NULL: first). */
static struct kept *
kept_at(unsigned id, bool *has)
{
	struct kept *k, *after = NULL;

	*has = false;
	LIST_FOREACH(k, &kept, entry) {
		if (k->id >= id) {
			*has = k->id == id;
			break;
		}
		after = k;
	}
	return *has ? k : after;
}

static void
kept_insert(struct kept *k, struct kept *after)
{
	if (after)
		LIST_INSERT_AFTER(after, k, entry);
	else
		LIST_INSERT_HEAD(&kept, k, entry);
}

/* Out of the store, or never in it: closed and forgotten. */
static void
kept_free(struct kept *k)
{
	LIST_REMOVE(k, entry);
	kept_in_store -= k->stored;
	close(k->fd);
	free(k);
}

/*
 * Its client is done with it: out of the store, and closed.  A removal
 * the store cannot be asked for now (systemd reads no notification, or
 * memory is short) is asked again later (peer_kept_leave).
 */
static void
kept_close(struct kept *k)
{
	if (k->stored && peer_store_remove(k->id) != 0) {
		k->leaving = true;
		peer_store_again();
		return;
	}
	kept_free(k);
}

/*
 * No memory to keep uid's connection: the caller closes it, and its
 * descriptors stay in flight, counted nowhere.  Said, within the limit
 * of every line a client can cause.
 */
static void
keep_lost(uid_t uid)
{
	static struct log_limit lim;

	log_limited(&lim, LOG_PRI_WARNING, "uid %u: out of memory to keep a "
		    "connection whose client has descriptors unread: closed, "
		    "and not counted", (unsigned)uid);
}

bool
peer_kept_add(int fd, uid_t uid)
{
	struct kept *k, *after;

	if (!(k = malloc(sizeof(*k)))) {
		keep_lost(uid);
		return false;
	}
	(void)shutdown(fd, SHUT_RDWR);
	k->fd = fd;
	k->uid = uid;
	k->leaving = false;
	/* Those done with leave first: a system call each, so only now. */
	if (kept_in_store > 0 && kept_in_store >= peer_store_room()) {
		unsigned of_uid;

		(void)peer_kept(uid, &of_uid, true);
	}
	k->id = kept_free_id(&after);
	k->stored = peer_store_push(k->id, k->fd, kept_in_store) == 0;
	kept_in_store += k->stored;
	kept_insert(k, after);
	sweep_arm();
	return true;
}

unsigned
peer_kept(uid_t uid, unsigned *of_uid, bool sweep)
{
	struct kept *k, *next;
	unsigned n = 0;

	*of_uid = 0;
	for (k = LIST_FIRST(&kept); k; k = next) {
		next = LIST_NEXT(k, entry);
		if (k->leaving)
			continue;
		/* Read, or closed by the client, which drops what it had. */
		if (sweep && peer_unread_bytes(k->fd) == 0) {
			kept_close(k);
			continue;
		}
		n++;
		*of_uid += k->uid == uid;
	}
	return n;
}

unsigned
peer_kept_look(unsigned most)
{
	struct kept *k, *next;
	unsigned looked = 0, of_uid, from = look_from;
	int pass;

	/* Those from look_from on, then those before it: each in turn. */
	for (pass = 0; pass < 2 && looked < most; pass++)
		for (k = LIST_FIRST(&kept); k && looked < most; k = next) {
			next = LIST_NEXT(k, entry);
			if (k->leaving || (k->id >= from) != (pass == 0))
				continue;
			looked++;
			look_from = k->id + 1;
			if (peer_unread_bytes(k->fd) == 0)
				kept_close(k);
		}
	return peer_kept((uid_t)-1, &of_uid, false);
}

unsigned
peer_kept_fds(int *fd, unsigned *id)
{
	struct kept *k;
	unsigned n = 0;

	LIST_FOREACH(k, &kept, entry) {
		if (fd)
			fd[n] = k->fd;
		if (id)
			id[n] = k->id;
		n++;
	}
	return n;
}

void
peer_keep_taken(int fd, unsigned id)
{
	struct kept *k = malloc(sizeof(*k)), *after;
	bool has;

	/*
	 * Closed, as the older image would have had to without memory, and
	 * out of the store: nothing would name it again.
	 */
	if (!k) {
		keep_lost(peer_uid(fd));
		close(fd);
		if (fdstore_max() > 0)
			peer_store_remove(id);
		return;
	}
	k->fd = fd;
	k->uid = peer_uid(fd);
	k->leaving = false;
	after = kept_at(id, &has);
	if (!has) {
		/*
		 * Under the store, it is there under its name if a start
		 * from the store took it; an exec's image may not have
		 * pushed it (peer_kept_push).
		 */
		k->id = id;
		k->stored = fdstore_max() > 0;
	} else {
		/* The name twice (not ours): another, pushed anew. */
		k->id = kept_free_id(&after);
		k->stored = peer_store_push(k->id, fd, kept_in_store) == 0;
	}
	kept_in_store += k->stored;
	kept_insert(k, after);
	sweep_arm();
}

/*
 * One refused stays taken for stored, and counted: the older image may
 * have pushed it, and asking out a name the store lacks costs nothing.
 */
void
peer_kept_push(void)
{
	struct kept *k;
	unsigned pushed = 0;

	LIST_FOREACH(k, &kept, entry)
		pushed += peer_store_push(k->id, k->fd, pushed) == 0;
}

bool
peer_kept_leave(void)
{
	struct kept *k, *next;
	bool left = false;

	for (k = LIST_FIRST(&kept); k; k = next) {
		next = LIST_NEXT(k, entry);
		if (!k->leaving)
			continue;
		if (peer_store_remove(k->id) == 0)
			kept_free(k);
		else
			left = true;
	}
	return left;
}

void
peer_kept_forget(void)
{
	struct kept *k;

	LIST_FOREACH(k, &kept, entry)
		if (k->stored) {
			peer_store_remove(k->id);
			k->stored = false;
		}
	kept_in_store = 0;
}

void
peer_kept_close_all(void)
{
	struct kept *k;

	/* Left in the store, if there: the next start may take them. */
	while ((k = LIST_FIRST(&kept))) {
		LIST_REMOVE(k, entry);
		close(k->fd);
		free(k);
	}
	kept_in_store = 0;
}

bool
peer_kept_setup(struct event_base *base)
{
	sweep_ev = evtimer_new(base, on_sweep, NULL);
	return sweep_ev != NULL;
}

void
peer_kept_teardown(void)
{
	if (sweep_ev)
		event_free(sweep_ev);
	sweep_ev = NULL;
}
