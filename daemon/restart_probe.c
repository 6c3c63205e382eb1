/*
 * restart_probe.c - will the binary a restart would execute take the state
 * over?  It may not be this one: an upgrade put another there, or a
 * downgrade an older one that knows nothing of restarting in place, which
 * would leave every connection handed to it unserved.  So before anything
 * is saved, the binary is run as "<path> --restart-probe", alone: stdin
 * and stderr /dev/null, stdout a pipe, no other descriptor, no signal
 * blocked, in a process group of its own.  A poolmgrd that restarts in
 * place answers with one line,
 *
 *	poolmgrd state versions: 1 2 ...
 *
 * the versions of proto/state.proto it reads (StateVersion), and exits.
 * The restart goes on only if the current version is among them; a binary
 * that says anything else, nothing, or nothing within RESTART_PROBE_MS,
 * is refused (and killed).  The loop waits for the probe: a binary that
 * answers takes a few milliseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "restart_probe.h"
#include "state.pb-c.h"

#define RESTART_PROBE_MS 2000
#define PROBE_PREFIX "poolmgrd state versions:"

extern char **environ;

void
restart_probe_answer(void)
{
	printf("%s %d\n", PROBE_PREFIX,
	       POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT);
	fflush(stdout);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Read the probe's answer into buf until end of file or the time is up. */
static int
probe_read(int fd, char *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec t0;
	size_t got = 0;
	ssize_t n;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if ((left = RESTART_PROBE_MS - ms_since(&t0)) <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd.revents == 0)
			continue;
		n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		got += (size_t)n;
		buf[got] = '\0';
		if (n == 0 || got == len - 1)
			return 0;
	}
}

/* Does the answer list the current version? */
static bool
probe_accepts(const char *answer)
{
	const char *p;
	char *end;
	unsigned long v;

	if (strncmp(answer, PROBE_PREFIX, strlen(PROBE_PREFIX)) != 0)
		return false;
	p = answer + strlen(PROBE_PREFIX);
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		v = strtoul(p, &end, 10);
		if (*end != ' ' && *end != '\0')	/* "1x" is no version */
			return false;
		if (v == POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT)
			return true;
		p = end;
	}
}

static int
probe_spawn(const char *path, int out, pid_t *pid)
{
	char *argv[] = {(char *)path, (char *)"--restart-probe", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t held, all;
	int rc;

	/*
	 * The signals an operator sends the daemon wait, blocked, in the
	 * probe (the mask outlives the exec; its exit discards them):
	 * `systemctl kill -s USR2` signals every process of the unit, the
	 * probe too, whose default action would end it mid-answer and
	 * refuse the very restart that was asked for.
	 */
	sigemptyset(&held);
	sigaddset(&held, SIGHUP);
	sigaddset(&held, SIGINT);
	sigaddset(&held, SIGTERM);
	sigaddset(&held, SIGUSR1);
	sigaddset(&held, SIGUSR2);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return -rc;
	if ((rc = posix_spawnattr_init(&sa)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -rc;
	}
	/* Default actions for all: the loop's handlers are not the probe's. */
	if ((rc = posix_spawnattr_setsigmask(&sa, &held)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&sa, &all)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(&sa, 0)) != 0 ||
	    (rc = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
					   POSIX_SPAWN_SETSIGDEF |
					   POSIX_SPAWN_SETPGROUP)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
						   O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
						   O_WRONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto out;
	rc = posix_spawn(pid, path, &fa, &sa, argv, environ);
out:
	posix_spawnattr_destroy(&sa);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

int
restart_probe(const char *path, char *why, size_t len)
{
	char answer[256];
	int pfd[2], rc, status = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(why, len, "cannot probe %s: pipe: %s", path,
			 strerror(errno));
		return -errno;
	}
	rc = probe_spawn(path, pfd[1], &pid);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(why, len, "cannot run %s --restart-probe: %s", path,
			 strerror(-rc));
		return rc;
	}
	answer[0] = '\0';
	rc = probe_read(pfd[0], answer, sizeof(answer));
	close(pfd[0]);
	/*
	 * Done or not, it has nothing more to say: neither it nor what it
	 * started (a script's commands) may linger.  Its own group.
	 */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	answer[strcspn(answer, "\n")] = '\0';
	if (rc == -ETIMEDOUT) {
		snprintf(why, len, "%s did not answer --restart-probe within "
			 "%d ms", path, RESTART_PROBE_MS);
		return rc;
	}
	if (rc != 0) {
		snprintf(why, len, "reading the answer of %s --restart-probe: "
			 "%s", path, strerror(-rc));
		return rc;
	}
	if (!probe_accepts(answer)) {
		snprintf(why, len, "%s --restart-probe answered \"%.80s\" "
			 "(exit %d), not state version %d: it cannot take the "
			 "state over", path, answer,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			 POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT);
		return -EPROTO;
	}
	return 0;
}
