/*
 * fdstore.c - pushing descriptors to systemd's store and taking them out.
 *
 * The store hands descriptors back in no set order, so each goes under a
 * name that says exactly which it is (restart.c names them; FDNAME= takes
 * at most 255 characters, none of them ':').  The messages go through
 * notify.c, in order, never waiting for systemd to read them: one that
 * finds its socket full waits in the daemon's queue, and an exit sends
 * what waits first.  Once on the socket, systemd reads it before it
 * reaps the process that sent it, so the daemon may exit right after.
 *
 * systemd polls what it stores and drops a descriptor that reads POLLHUP
 * or POLLERR (a connection whose client hung up: restore_fds.c makes up
 * for it).  A connection kept for the descriptors its client has not
 * read ("unread.<i>", peer_kept.c) reads POLLHUP from the moment the daemon
 * shut it down, so it would leave the store as soon as it went in, and
 * the next image count none of them while their descriptors stay in
 * flight: those go with FDPOLL=0, and leave the store when their clients
 * are done with them (peer_store.c).
 *
 * Those come and go as clients misbehave, a push and a removal each: what
 * the store or the notification socket refuses is said within a rate
 * limit, as every line a client can cause.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdstore.h"
#include "log.h"
#include "notify.h"

#ifdef HAVE_SYSTEMD

unsigned
fdstore_max(void)
{
	const char *v = getenv("FDSTORE"), *sock = getenv("NOTIFY_SOCKET");
	char *end;
	unsigned long n;

	if (!sock || !*sock || !v || *v < '1' || *v > '9')
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n > 1u << 24)
		return 0;
	return (unsigned)n;
}

/* Pushed with FDPOLL=0: see above. */
static bool
unpolled(const char *name)
{
	return strncmp(name, "unread.", strlen("unread.")) == 0;
}

static int
remove_one(const char *name)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	return notify_send(msg, -1, NOTIFY_EVERY);
}

int
fdstore_push(unsigned n, const int *fd, char *const *name)
{
	static struct log_limit unheard, refused;
	char msg[300];
	unsigned i;
	int rc = 0;

	if (n > fdstore_max())
		return -ENOSPC;
	/*
	 * systemd has not read what we sent for a while: a push now would
	 * only wait, and a crash meanwhile lose it.  Refused, the caller
	 * says what is not kept.
	 */
	if (n > 0 && !notify_room()) {
		log_limited(&unheard, LOG_PRI_WARNING, "the fd store: "
			    "systemd reads no notification, %s not pushed",
			    name[0]);
		return -ENOBUFS;
	}
	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s%s", name[i],
			 unpolled(name[i]) ? "\nFDPOLL=0" : "");
		if ((rc = notify_send(msg, fd[i], NOTIFY_EVERY)) != 0)
			break;
	}
	if (i == n)
		return 0;
	log_limited(&refused, LOG_PRI_WARNING, "the fd store refused %s: "
		    "%s", name[i], strerror(-rc));
	while (i-- > 0)
		(void)remove_one(name[i]);
	return rc;
}

int
fdstore_remove(const char *list)
{
	static struct log_limit lim;
	char *copy = strdup(list), *tok, *save = NULL;
	int rc, first = 0;

	if (!copy) {
		/* Left in the store: said, as a failed removal is. */
		log_warnx("the fd store: out of memory; cannot remove %s",
			  list);
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save))
		if ((rc = remove_one(tok)) < 0) {
			log_limited(&lim, LOG_PRI_WARNING, "the fd store: "
				    "cannot remove %s (%s)", tok,
				    strerror(-rc));
			if (first == 0)
				first = rc;
		}
	free(copy);
	return first;
}

#else /* !HAVE_SYSTEMD */

unsigned
fdstore_max(void)
{
	return 0;
}

int
fdstore_push(unsigned n, const int *fd, char *const *name)
{
	(void)n;
	(void)fd;
	(void)name;
	return -ENOTSUP;
}

int
fdstore_remove(const char *list)
{
	(void)list;
	return 0;
}

#endif /* HAVE_SYSTEMD */
