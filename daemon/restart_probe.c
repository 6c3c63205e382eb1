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
 * The restart goes on only if the version the state needs, or a later
 * one this image writes, is among them (restart_probe_version); a binary
 * that says anything else, nothing, or nothing within restart_probe_timeout
 * seconds (poolmgrd.conf, 10 by default: a loaded machine may take more
 * than a second or two to start a real binary), is refused (and killed).
 * A reload sets the limit of the probes that start after it
 * (restart_probe_setup); one running keeps its own.
 *
 * The loop does not wait for it: the probe's pipe and a timer are events
 * like any other, and the daemon serves as usual until the answer is in
 * (a binary that answers takes a few milliseconds, one that does not, up
 * to the limit).  Whatever ends it (its answer, the time, an error,
 * restart_probe_cancel as the daemon exits, an exit through fatal()), its
 * process group is killed and it is reaped at once: no zombie, no
 * script's command left behind.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "restart_probe.h"
#include "state.pb-c.h"
#include "state_save.h"

#define PROBE_PREFIX "poolmgrd state versions:"

extern char **environ;

/*
 * The state versions below 64 the last binary that answered reads, a bit
 * each: what the restart's quiet moment checks the version it must write
 * against (restart_probe_reads).
 */
static uint64_t probe_read_versions;

/* The probe running, if any: one at a time. */
static struct {
	pid_t pid;		/* 0: none */
	int fd;			/* its stdout's read end */
	struct event *ev_read, *ev_time;
	const char *path;	/* the caller's, which outlives the probe */
	char answer[256];
	size_t got;
	restart_probe_fn done;
	void *arg;
	pid_t owner;		/* who registered probe_at_exit; 0: none */
	unsigned limit;		/* seconds, for the one running */
} probe = {.fd = -1};

/* Seconds the next probe has to answer in (restart_probe_timeout). */
static unsigned probe_limit = CONFIG_PROBE_DEFAULT;

void
restart_probe_setup(unsigned seconds)
{
	probe_limit = seconds;
}

void
restart_probe_answer(void)
{
	int v;

	/* Every version it reads: an older image may be restarting into it. */
	printf("%s", PROBE_PREFIX);
	for (v = POOLMGRD__STATE_VERSION__STATE_VERSION_FIRST;
	     v <= POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT; v++)
		printf(" %d", v);
	printf("\n");
	fflush(stdout);
}

/*
 * The versions the answer lists, a bit each (those of 64 and above left
 * out: none is needed); 0 for an answer that is not a list of versions.
 */
static uint64_t
probe_versions(const char *answer)
{
	uint64_t set = 0;
	const char *p;
	char *end;
	unsigned long v;

	if (strncmp(answer, PROBE_PREFIX, strlen(PROBE_PREFIX)) != 0)
		return 0;
	p = answer + strlen(PROBE_PREFIX);
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return set;
		if (*p < '0' || *p > '9')
			return 0;
		v = strtoul(p, &end, 10);
		if (*end != ' ' && *end != '\0')	/* "1x" is no version */
			return 0;
		if (v < 64)
			set |= 1ull << v;
		p = end;
	}
}

/*
 * Does the binary the last probe asked read state version v?  False when
 * none answered with a list of versions.
 */
static bool
restart_probe_reads(unsigned version)
{
	return version < 64 && (probe_read_versions >> version & 1);
}

unsigned
restart_probe_version(unsigned needed)
{
	unsigned v;

	for (v = needed; v <= POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT;
	     v++)
		if (restart_probe_reads(v))
			return v;
	return 0;
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

/*
 * Done or not, it has nothing more to say: neither it nor what it started
 * (a script's commands) may linger.  Its own group; after SIGKILL the wait
 * is short.
 */
static int
probe_kill(void)
{
	int status = 0;

	if (probe.pid > 0) {
		kill(-probe.pid, SIGKILL);
		while (waitpid(probe.pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	probe.pid = 0;
	return status;
}

static int
probe_end(void)
{
	if (probe.ev_read)
		event_free(probe.ev_read);
	if (probe.ev_time)
		event_free(probe.ev_time);
	probe.ev_read = probe.ev_time = NULL;
	if (probe.fd >= 0)
		close(probe.fd);
	probe.fd = -1;
	return probe_kill();
}

/*
 * Every exit, fatal() and fatalx() among them, ends the probe too: in a
 * group of its own, nothing else would, and a probe that never answers
 * would outlive the daemon.  Only the daemon's own exit: a child of ours
 * that exits has no probe.
 */
static void
probe_at_exit(void)
{
	if (getpid() == probe.owner)
		probe_kill();
}

/* The verdict on what it said (rc: how the reading ended), to done. */
static void
probe_finish(int rc)
{
	restart_probe_fn done = probe.done;
	void *arg = probe.arg;
	const char *pool = "";
	unsigned needed = 0;
	char why[512];
	int status;

	status = probe_end();
	probe.answer[strcspn(probe.answer, "\n")] = '\0';
	probe_read_versions = rc == 0 ? probe_versions(probe.answer) : 0;
	if (rc == -ETIMEDOUT)
		snprintf(why, sizeof(why), "%s did not answer --restart-probe "
			 "within %u s (restart_probe_timeout)", probe.path,
			 probe.limit);
	else if (rc != 0)
		snprintf(why, sizeof(why), "reading the answer of %s "
			 "--restart-probe: %s", probe.path, strerror(-rc));
	else if (!restart_probe_version(needed = state_version_needed(&pool))) {
		if (needed > POOLMGRD__STATE_VERSION__STATE_VERSION_THIRD &&
		    restart_probe_reads(needed - 1))
			snprintf(why, sizeof(why), "%s --restart-probe answered "
				 "\"%.80s\": it reads no state version %u, "
				 "which carries %s (pool %s has %s): it would "
				 "drop them", probe.path, probe.answer, needed,
				 state_version_carries(needed), pool,
				 needed == POOLMGRD__STATE_VERSION__STATE_VERSION_FOURTH
				 ? "one" : "some");
		else
			snprintf(why, sizeof(why), "%s --restart-probe answered "
				 "\"%.80s\" (exit %d), not state version %u: it "
				 "cannot take the state over", probe.path,
				 probe.answer, WIFEXITED(status) ?
				 WEXITSTATUS(status) : -1, needed);
		rc = -EPROTO;
	} else
		why[0] = '\0';
	done(rc, why, arg);
}

/* Its answer so far; the verdict at end of file or a full buffer. */
static void
probe_on_read(evutil_socket_t fd, short what, void *arg)
{
	size_t room = sizeof(probe.answer) - 1 - probe.got;
	ssize_t n;

	(void)what;
	(void)arg;
	n = read(fd, probe.answer + probe.got, room);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1) {
		probe_finish(-errno);
		return;
	}
	probe.got += (size_t)n;
	probe.answer[probe.got] = '\0';
	if (n == 0 || probe.got == sizeof(probe.answer) - 1)
		probe_finish(0);
}

static void
probe_on_time(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	probe_finish(-ETIMEDOUT);
}

int
restart_probe_start(struct event_base *base, const char *path,
		    restart_probe_fn done, void *arg, char *why, size_t len)
{
	struct timeval tv = {probe_limit, 0};
	int pfd[2], rc;

	if (probe.pid > 0)
		return -EBUSY;
	if (!probe.owner && atexit(probe_at_exit) == 0)
		probe.owner = getpid();
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == -1) {
		rc = -errno;
		snprintf(why, len, "cannot probe %s: pipe: %s", path,
			 strerror(-rc));
		return rc;
	}
	rc = probe_spawn(path, pfd[1], &probe.pid);
	close(pfd[1]);
	if (rc != 0) {
		probe.pid = 0;
		close(pfd[0]);
		snprintf(why, len, "cannot run %s --restart-probe: %s", path,
			 strerror(-rc));
		return rc;
	}
	probe.fd = pfd[0];
	probe.got = 0;
	probe.answer[0] = '\0';
	probe.done = done;
	probe.arg = arg;
	probe.path = path;
	probe.limit = probe_limit;
	probe.ev_read = event_new(base, probe.fd, EV_READ | EV_PERSIST,
				  probe_on_read, NULL);
	probe.ev_time = evtimer_new(base, probe_on_time, NULL);
	if (!probe.ev_read || !probe.ev_time)
		fatalx("event_new failed");
	event_add(probe.ev_read, NULL);
	evtimer_add(probe.ev_time, &tv);
	return 0;
}

bool
restart_probe_running(void)
{
	return probe.pid > 0;
}

void
restart_probe_cancel(void)
{
	probe_end();
}
