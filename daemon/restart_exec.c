/*
 * restart_exec.c - a restart in place's exec: the descriptors go to the
 * new image as systemd passes sockets, at 3, 4, ... without FD_CLOEXEC,
 * named in LISTEN_FDNAMES, with LISTEN_PID the pid, which execve keeps.
 * They are first duplicated past the targets (3 + n and up, wherever the
 * kernel finds room), and whatever sat at 3, 4, ... and is not passed
 * itself is saved aside, so that an execv that returns can put every
 * descriptor back as it was.  So a restart needs about one spare
 * descriptor per one passed, not room above the highest in use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "closer.h"
#include "log.h"
#include "notify.h"
#include "restart_exec.h"

#define RESTART_FD_START 3	/* SD_LISTEN_FDS_START */

/*
 * What the exec changes and its undo needs: the duplicates to pass, what
 * was at each target before, and whether it was close-on-exec.
 */
struct handover {
	unsigned n;
	int *fd;		/* the descriptors, in the state's order */
	int *dup;		/* their duplicates, past the targets */
	int *saved;		/* what was at RESTART_FD_START + i, or -1 */
	int *saved_from;	/* or j: it was fd[j], which dup[j] keeps */
	int *saved_flags;
};

static void
handover_free(struct handover *ho)
{
	unsigned i;

	for (i = 0; i < ho->n; i++) {
		if (ho->dup && ho->dup[i] >= 0)
			close(ho->dup[i]);
		if (ho->saved && ho->saved[i] >= 0)
			close(ho->saved[i]);
	}
	free(ho->dup);
	free(ho->saved);
	free(ho->saved_from);
	free(ho->saved_flags);
}

/* The index of t among the descriptors to pass, or -1. */
static int
handover_index(const struct handover *ho, int t)
{
	unsigned j;

	for (j = 0; j < ho->n; j++)
		if (ho->fd[j] == t)
			return (int)j;
	return -1;
}

/* Duplicate every descriptor past the targets, and what is at them. */
static int
handover_prepare(struct handover *ho)
{
	/* Anywhere free but the targets: F_DUPFD takes the lowest such. */
	int base = RESTART_FD_START + (int)ho->n, t;
	unsigned i;

	ho->dup = malloc(ho->n * sizeof(int));
	ho->saved = malloc(ho->n * sizeof(int));
	ho->saved_from = malloc(ho->n * sizeof(int));
	ho->saved_flags = malloc(ho->n * sizeof(int));
	if (!ho->dup || !ho->saved || !ho->saved_from || !ho->saved_flags) {
		free(ho->dup);
		free(ho->saved);
		free(ho->saved_from);
		free(ho->saved_flags);
		ho->dup = ho->saved = ho->saved_from = ho->saved_flags = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < ho->n; i++)
		ho->dup[i] = ho->saved[i] = ho->saved_from[i] = -1;
	for (i = 0; i < ho->n; i++)
		if ((ho->dup[i] = fcntl(ho->fd[i], F_DUPFD_CLOEXEC, base)) < 0)
			return -errno;
	/*
	 * Most targets hold descriptors that are passed too (connections,
	 * memfds): their duplicates can put them back, so only the others
	 * need a copy of their own.
	 */
	for (i = 0; i < ho->n; i++) {
		t = RESTART_FD_START + (int)i;
		if ((ho->saved_flags[i] = fcntl(t, F_GETFD)) == -1)
			continue;	/* nothing there */
		if ((ho->saved_from[i] = handover_index(ho, t)) >= 0)
			continue;
		if ((ho->saved[i] = fcntl(t, F_DUPFD_CLOEXEC, base)) < 0)
			return -errno;
	}
	return 0;
}

/* Put back every descriptor the exec was to take: nothing changed. */
static void
handover_undo(struct handover *ho)
{
	unsigned i;
	int t, from;

	for (i = 0; i < ho->n; i++) {
		t = RESTART_FD_START + (int)i;
		if (ho->saved_from[i] >= 0)
			from = ho->dup[ho->saved_from[i]];
		else if ((from = ho->saved[i]) < 0) {
			close(t);	/* was not open: dup2 made it */
			continue;
		}
		if (dup2(from, t) == -1 ||
		    fcntl(t, F_SETFD, ho->saved_flags[i]) == -1)
			fatal("restart: putting descriptor %d back", t);
	}
}

/*
 * Pass the descriptors and exec.  Returns only if that failed, every
 * change undone, with -errno.
 */
static int
handover_exec(struct handover *ho, const char *path, char **argv,
	      const char *names)
{
	char num[32];
	unsigned i;
	int rc, err;

	/*
	 * What waits for systemd goes first: the new image knows nothing of
	 * it, and the moves below may put others at notify.c's descriptors.
	 */
	notify_flush();
	/*
	 * A destroyed pool's memfd still queued for its close may sit at a
	 * target: once dup2 put a passed descriptor there, the closer's
	 * thread would close that one instead.
	 */
	closer_drain();
	if ((rc = handover_prepare(ho)) != 0) {
		log_warnx("restart: cannot duplicate the descriptors to pass "
			  "(%u): %s", ho->n, strerror(-rc));
		return rc;
	}
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("LISTEN_PID", num, 1);
	snprintf(num, sizeof(num), "%u", ho->n);
	setenv("LISTEN_FDS", num, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	/* dup2 leaves the new descriptor without FD_CLOEXEC. */
	for (i = 0; i < ho->n; i++)
		if (dup2(ho->dup[i], RESTART_FD_START + (int)i) == -1)
			break;
	if (i == ho->n)
		execv(path, argv);
	err = -errno;
	log_warnx("restart: cannot %s: %s", i == ho->n ? "execute" :
		  "move the descriptors to pass", strerror(-err));
	handover_undo(ho);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return err;
}

int
restart_exec(const char *path, char **argv, unsigned n, const int *fd,
	     const char *names)
{
	struct handover ho = {.n = n, .fd = (int *)fd};
	int rc;

	rc = handover_exec(&ho, path, argv, names);
	handover_free(&ho);
	return rc;
}
