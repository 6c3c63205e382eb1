/*
 * fdstore.c - pushing descriptors to systemd's store and taking them out.
 *
 * The store hands descriptors back in no set order, so each goes under a
 * name that says exactly which it is (restart.c names them; FDNAME= takes
 * at most 255 characters, none of them ':').  A store message is only
 * queued on the notification socket: systemd reads it before it reaps
 * the process that sent it, so the daemon may exit right after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdstore.h"
#include "log.h"

#ifdef HAVE_SYSTEMD

#include <systemd/sd-daemon.h>

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

static int
remove_one(const char *name)
{
	return sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

int
fdstore_push(unsigned n, const int *fd, char *const *name)
{
	char msg[300];
	unsigned i;
	int rc = 0;

	if (n > fdstore_max())
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name[i]);
		/* 0: no NOTIFY_SOCKET after all, nothing went. */
		rc = sd_pid_notify_with_fds(0, 0, msg, &fd[i], 1);
		if (rc <= 0)
			break;
	}
	if (i == n)
		return 0;
	if (rc == 0)
		rc = -ENOTCONN;
	log_warnx("the fd store refused %s: %s", name[i], strerror(-rc));
	while (i-- > 0)
		(void)remove_one(name[i]);
	return rc;
}

void
fdstore_remove(const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;

	if (!copy)
		return;
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save))
		if (remove_one(tok) < 0)
			log_warnx("the fd store: cannot remove %s", tok);
	free(copy);
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

void
fdstore_remove(const char *list)
{
	(void)list;
}

#endif /* HAVE_SYSTEMD */
