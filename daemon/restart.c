/*
 * restart.c - SIGUSR2: execute the daemon's binary again, in place.
 *
 * The signal only sets "wanted".  The restart happens at the first quiet
 * moment, checked every RESTART_TICK_MS from a timer (never inside a
 * peer's callbacks): no work queued in pool_release.c (its state lives in
 * this image only), no client whose request is held, whose replies wait
 * to be sent, or that is being closed.  A daemon that is not quiet within
 * RESTART_QUIET_SEC drops the clients in the way, as if they had hung up
 * (their handles close as usual, in steps), and waits for quiet again.
 *
 * Then, without changing anything, state_save.c writes the state, and the
 * descriptors go to the new image as systemd passes sockets: at 3, 4, ...
 * without FD_CLOEXEC, named in LISTEN_FDNAMES (listen, state, one pool per
 * pool, one conn per client), with LISTEN_PID the pid, which execve keeps.
 * They are first duplicated past the targets (3 + n and up, wherever the
 * kernel finds room), and whatever sat at 3, 4, ... and is not passed
 * itself is saved aside, so that an execv that returns can put every
 * descriptor back as it was: then the daemon logs why and goes on
 * serving, nothing changed.  So a restart needs about one spare
 * descriptor per one passed, not room above the highest in use.
 *
 * The configuration file is read first, as the new image will read it:
 * one that does not load would stop the new image and lose everything,
 * so the restart is refused instead, as a reload keeps what runs.
 *
 * The clients' share maps are the one thing the new image cannot take
 * over (see dpool_share_freeze): their bits are all set just before the
 * exec, and the clients free what they would have cached.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "restart.h"
#include "service.h"
#include "state_save.h"

#define RESTART_TICK_MS 10
#define RESTART_QUIET_SEC 5
#define RESTART_FD_START 3	/* SD_LISTEN_FDS_START */

static struct event *ev_usr2, *ev_tick;
static char exe_path[PATH_MAX];
static char **exe_argv;
static int listen_fd = -1;
static bool listen_activated;
static char listen_path[PATH_MAX];
static const char *config_path;

static bool wanted;
static uint64_t wanted_at, drop_at;	/* monotonic ns */
static unsigned dropped;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
	unsigned nfrozen;	/* pools whose share map was frozen */
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

/* "listen:state:pool:...:conn:..." */
static char *
fd_names(const struct state_fds *sf)
{
	size_t len = sizeof("listen:state") + 5 * (size_t)sf->npools +
		     5 * (size_t)sf->nsessions;
	char *s = malloc(len), *p;
	unsigned i;

	if (!s)
		return NULL;
	p = s + sprintf(s, "listen:state");
	for (i = 0; i < sf->npools; i++)
		p += sprintf(p, ":pool");
	for (i = 0; i < sf->nsessions; i++)
		p += sprintf(p, ":conn");
	return s;
}

static void
freeze_undo(struct handover *ho)
{
	struct dpool *p = dpool_first();
	unsigned i;

	for (i = 0; i < ho->nfrozen && p; i++, p = dpool_next(p))
		dpool_share_thaw(p);
	ho->nfrozen = 0;
}

/* Every pool's share map to "all shared", or none of them. */
static int
freeze_all(struct handover *ho)
{
	struct dpool *p;
	int rc;

	for (p = dpool_first(); p; p = dpool_next(p)) {
		if ((rc = dpool_share_freeze(p)) != 0) {
			log_warnx("pool %s: share map: %s", p->name,
				  strerror(-rc));
			freeze_undo(ho);
			return rc;
		}
		ho->nfrozen++;
	}
	return 0;
}

/*
 * The signals the daemon catches: between the exec and the new image's
 * handlers their default action would kill it, and every pool with it (a
 * second SIGUSR2 sent at once, say).  Blocked from the save on, they wait
 * in the kernel until restart_setup has them caught again (or, if the
 * exec failed, this image's handlers take them).
 */
static void
caught_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/*
 * Pass the descriptors and exec.  Returns only if that failed, every
 * change undone, with -errno.
 */
static int
handover_exec(struct handover *ho, const char *names)
{
	char num[32];
	unsigned i;
	int rc, err;

	if ((rc = handover_prepare(ho)) != 0) {
		log_warnx("restart: cannot duplicate the descriptors to pass "
			  "(%u): %s", ho->n, strerror(-rc));
		return rc;
	}
	if ((rc = freeze_all(ho)) != 0)
		return rc;
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
		execv(exe_path, exe_argv);
	err = -errno;
	log_warnx("restart: cannot %s: %s", i == ho->n ? "execute" :
		  "move the descriptors to pass", strerror(-err));
	handover_undo(ho);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	freeze_undo(ho);
	return err;
}

/*
 * The new image reads the configuration file as it starts, and one that
 * does not read would stop it, every pool and client with it: refuse to
 * restart instead, as a reload keeps the running configuration.
 */
static bool
config_readable(char *err, size_t len)
{
	struct config *cf;
	bool ok;

	if (!config_path)
		return true;
	if (!(cf = malloc(sizeof(*cf)))) {
		snprintf(err, len, "out of memory");
		return false;
	}
	config_defaults(cf);
	ok = config_load(cf, config_path, err, len) == 0;
	free(cf);
	return ok;
}

/* The quiet moment: save, hand over, exec.  Returns if it failed. */
static void
restart_now(void)
{
	char err[512];
	struct handover ho = {0};
	struct state_fds sf;
	sigset_t block, old;
	char *names = NULL;
	int sfd, rc;
	unsigned i;

	if (!exe_path[0]) {
		log_warnx("restart: the daemon's binary is not known; going on");
		return;
	}
	if (!config_readable(err, sizeof(err))) {
		log_warnx("restart: %s; going on as before", err);
		return;
	}
	/*
	 * From here the signals wait in the kernel: a handler of this image
	 * would only note them for a loop turn that never comes.
	 */
	caught_signals(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	service_reloading();
	log_info("restarting in place: executing %s", exe_path);
	sfd = state_save(listen_activated, listen_path, now_ns(), &sf);
	if (sfd < 0) {
		log_warnx("restart: cannot save the state: %s; going on as "
			  "before", strerror(-sfd));
		service_ready("restart failed; serving as before");
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	ho.n = 2 + sf.npools + sf.nsessions;
	rc = -ENOMEM;
	if ((ho.fd = malloc(ho.n * sizeof(int))) && (names = fd_names(&sf))) {
		ho.fd[0] = listen_fd;
		ho.fd[1] = sfd;
		for (i = 0; i < sf.npools; i++)
			ho.fd[2 + i] = sf.pool[i];
		for (i = 0; i < sf.nsessions; i++)
			ho.fd[2 + sf.npools + i] = sf.conn[i];
		rc = handover_exec(&ho, names);
	}
	if (rc == -ENOMEM)
		log_warnx("restart: out of memory");
	log_warnx("restart: %s not executed; going on as before", exe_path);
	handover_free(&ho);
	free(ho.fd);
	free(names);
	close(sfd);
	state_fds_free(&sf);
	service_ready("restart failed; serving as before");
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static bool
quiet(void)
{
	return dpool_release_passed(dpool_release_mark()) && peer_all_quiet();
}

static void
restart_try(void)
{
	struct timeval tick = {0, RESTART_TICK_MS * 1000};
	uint64_t now = now_ns();

	if (quiet()) {
		if (now - wanted_at >= 1000000)
			log_info("restart: waited %llu ms for a quiet moment%s",
				 (unsigned long long)(now - wanted_at) /
				 1000000, dropped ? ", dropped clients in the "
				 "way" : "");
		wanted = false;
		restart_now();
		return;
	}
	if (now - drop_at >= RESTART_QUIET_SEC * 1000000000ull) {
		unsigned n = peer_drop_busy();

		log_info("restart: not quiet after %d s: dropped %u client%s "
			 "that held a request or did not read%s",
			 RESTART_QUIET_SEC, n, n == 1 ? "" : "s",
			 dpool_release_passed(dpool_release_mark()) ? "" :
			 "; released memory still going back");
		dropped += n;
		drop_at = now;
	}
	evtimer_add(ev_tick, &tick);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	restart_try();
}

static void
on_usr2(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (wanted) {
		log_info("SIGUSR2: a restart is already on its way");
		return;
	}
	log_info("SIGUSR2: restarting in place at the first quiet moment");
	wanted = true;
	dropped = 0;
	wanted_at = drop_at = now_ns();
	restart_try();
}

void
restart_setup(struct event_base *base, char **argv, int lfd,
	      bool socket_activated, const char *socket_path,
	      const char *config_file)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);

	if (n <= 0 || (size_t)n >= sizeof(exe_path) - 1) {
		log_warn("readlink /proc/self/exe: SIGUSR2 cannot restart");
		exe_path[0] = '\0';
	} else
		exe_path[n] = '\0';
	exe_argv = argv;
	config_path = config_file;
	listen_fd = lfd;
	listen_activated = socket_activated;
	snprintf(listen_path, sizeof(listen_path), "%s", socket_path);
	ev_usr2 = evsignal_new(base, SIGUSR2, on_usr2, NULL);
	ev_tick = evtimer_new(base, on_tick, NULL);
	if (!ev_usr2 || !ev_tick)
		fatalx("evsignal_new failed");
	event_add(ev_usr2, NULL);
	/* Caught again, if a restart blocked them across its exec. */
	{
		sigset_t set;

		caught_signals(&set);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
}

void
restart_teardown(void)
{
	if (ev_usr2)
		event_free(ev_usr2);
	if (ev_tick)
		event_free(ev_tick);
	ev_usr2 = ev_tick = NULL;
}
