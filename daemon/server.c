/*
 * server.c - the daemon's event loop: its start and stop, the listening
 * socket it listens on, signals and reload, and the timers of the loop.
 *
 * What it calls on stands apart: a new connection and its limits
 * (server_accept.c), the socket the daemon binds itself (server_listen.c),
 * and the file's pools made or given their settings (server_pools.c).
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "fdstore.h"
#include "journal.h"
#include "log.h"
#include "memtrim.h"
#include "notify.h"
#include "peer.h"
#include "peer_kept.h"
#include "peer_store.h"
#include "pool.h"
#include "restart.h"
#include "restart_probe.h"
#include "restore.h"
#include "server.h"
#include "server_internal.h"
#include "service.h"

static struct event_base *base;
static struct config *server_cf;
static const char *server_config_path;
static char server_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
static bool socket_activated;
/* --socket named the socket: the file's socket key is not used. */
static bool socket_given;
static struct event *status_ev, *idle_ev;

#define STATUS_INTERVAL_SEC 10

/* One line for systemctl status: pools, bytes in use, clients. */
static void
status_line(char *buf, size_t len)
{
	struct heap_stats st;
	uint64_t used = 0, size = 0, clients = 0;
	struct dpool *p;

	for (p = dpool_first(); p; p = dpool_next(p)) {
		heap_get_stats(p->heap, &st);
		used += st.allocated_bytes;
		size += st.max_size;
		clients += p->nhandles;
	}
	snprintf(buf, len, "%u pool%s, %llu of %llu bytes in use, %llu open "
		 "handle%s", dpool_count(), dpool_count() == 1 ? "" : "s",
		 (unsigned long long)used,
		 (unsigned long long)size, (unsigned long long)clients,
		 log_plural(clients));
}

/*
 * STATUS= for systemctl status, at most every STATUS_INTERVAL_SEC and only
 * when the line changed.  Only what is served changes it (a request, a
 * connection, a release step), so served arms the timer, once: an idle
 * daemon under systemd is woken by nothing but its watchdog.  The line a
 * READY=1 carried counts as sent.
 */
static char status_sent[160];
static bool status_armed;

static void
on_status_timer(evutil_socket_t fd, short what, void *arg)
{
	char line[sizeof(status_sent)];

	(void)fd;
	(void)what;
	(void)arg;
	status_armed = false;
	status_line(line, sizeof(line));
	if (strcmp(line, status_sent) == 0)
		return;
	service_status(line);
	memcpy(status_sent, line, sizeof(line));
}

static void
status_arm(void)
{
	static const struct timeval status_tv = {STATUS_INTERVAL_SEC, 0};

	if (!status_armed && status_ev && notify_enabled()) {
		status_armed = true;
		evtimer_add(status_ev, &status_tv);
	}
}

/* READY=1, with the status line as it is now. */
static void
status_ready(void)
{
	status_line(status_sent, sizeof(status_sent));
	service_ready(status_sent);
}

/*
 * Once a second while a tick is owed: pools idle for idle_trim seconds
 * give back their free pages kept for reuse, and a quiet daemon what
 * malloc keeps of its own.  Once nothing is owed the timer stops, and
 * only something served (served) arms it again: an idle daemon is not
 * woken every second to find nothing to do.
 */
static const struct timeval idle_tv = {1, 0};
static bool idle_armed;

static void
idle_arm(void)
{
	if (!idle_armed) {
		idle_armed = true;
		evtimer_add(idle_ev, &idle_tv);
	}
}

static void
on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct timespec ts;
	bool owed;

	(void)fd;
	(void)what;
	(void)arg;
	idle_armed = false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	owed = dpool_idle_tick((uint64_t)ts.tv_sec, server_cf->idle_trim);
	if (memtrim_tick((uint64_t)ts.tv_sec, server_cf->idle_trim) || owed)
		idle_arm();
}

/* A request, a connection or a release step: the idle ticks have work. */
void
served(void)
{
	memtrim_note();
	idle_arm();
	status_arm();
}

/*
 * Big freed blocks go back to the OS a step per loop turn: a zero timeout
 * runs once per turn, after the turn's ready sockets are served.  Requests
 * held until the work before them is done go on from here too.
 */
static struct event *release_ev;
static const struct timeval release_now_tv = {0, 0};

static void
on_release_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	served();
	if (dpool_release_step())
		evtimer_add(release_ev, &release_now_tv);
	dispatch_wake();
}

static void
release_queued(void)
{
	evtimer_add(release_ev, &release_now_tv);
}

/* The crash journal's work for later (journal_step). */
static struct event *journal_ev;

static void
on_journal_step(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	journal_step();
}

static void
journal_step_in(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(journal_ev, &tv);
}

/*
 * Counts of rate-limited lines left out, said once their window is over
 * (log_limits_flush).  Armed only while a count waits: an idle daemon is
 * not woken to find nothing to say.
 */
static struct event *log_limits_ev;

static void
log_limits_due_in(int seconds)
{
	struct timeval tv = {seconds, 0};

	evtimer_add(log_limits_ev, &tv);
}

static void
on_log_limits(evutil_socket_t fd, short what, void *arg)
{
	int seconds;

	(void)fd;
	(void)what;
	(void)arg;
	if ((seconds = log_limits_flush()) >= 0)
		log_limits_due_in(seconds);
}

static unsigned socket_mode_now(const struct config *cf);

/*
 * socket and socket_mode wait for a start with nothing to restore: where
 * the file's differ from the socket's, a warning says so at each reload,
 * as for a pool's size, and at a start that restores a restart's or a
 * stop's state, which applies the file as a reload does but keeps the
 * socket it was handed (systemd's socket has the unit's).
 */
static void
socket_kept_warn(const struct config *cf)
{
	char kept[sizeof(server_socket) * 2 + 64] = "";
	unsigned mode;

	if (socket_activated)
		return;
	if (!socket_given && strcmp(cf->socket, server_socket) != 0)
		snprintf(kept, sizeof(kept), ", socket %s -> %s",
			 server_socket, cf->socket);
	mode = socket_mode_now(server_cf);
	if (cf->socket_mode != mode)
		snprintf(kept + strlen(kept), sizeof(kept) - strlen(kept),
			 ", socket_mode %04o -> %04o", mode, cf->socket_mode);
	if (*kept)
		log_warnx("daemon: %s in the file, not applied: the socket "
			  "and its mode change only at a start with nothing "
			  "to restore", kept + 2);
}

/* The daemon's own settings a reload changes, on one line as a pool's are. */
static void
daemon_changes(const struct config *cf)
{
	char changed[512];

	if (*config_changes(server_cf, cf, changed, sizeof(changed)))
		log_info("daemon: %s", changed);
	socket_kept_warn(cf);
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct config *cf;
	char err[512];

	(void)sig;
	(void)what;
	(void)arg;
	service_reloading();
	if (!server_config_path) {
		log_info("SIGHUP: no configuration file to read");
		status_ready();
		return;
	}
	if (!(cf = malloc(sizeof(*cf)))) {
		log_warnx("SIGHUP: out of memory; keeping the running "
			  "configuration");
		status_ready();
		return;
	}
	config_defaults(cf);
	if (config_load(cf, server_config_path, err, sizeof(err)) != 0) {
		log_warnx("SIGHUP: %s; keeping the running configuration", err);
		free(cf);
		status_ready();
		return;
	}
	log_info("SIGHUP: reloading %s", server_config_path);
	for (unsigned i = 0; i < cf->nwarnings; i++)
		log_warnx("%s", cf->warnings[i]);
	/* First: a lowered retain gives pages back by the new step. */
	dpool_release_setup(cf->release_step, cf->drop_step, release_queued);
	dpool_persist_setup(cf->max_persistent_blocks_per_uid);
	restart_probe_setup(cf->restart_probe_timeout);
	apply_config(cf);
	forgotten_pools(server_cf, cf);
	daemon_changes(cf);
	/* Socket settings apply at the next start; the rest takes effect. */
	memcpy(server_cf->pools, cf->pools, sizeof(cf->pools));
	server_cf->npools = cf->npools;
	server_cf->has_admin_gid = cf->has_admin_gid;
	server_cf->admin_gid = cf->admin_gid;
	server_cf->max_connections = cf->max_connections;
	server_cf->admin_connections = cf->admin_connections;
	server_cf->max_connections_per_uid = cf->max_connections_per_uid;
	server_cf->max_blocks_per_session = cf->max_blocks_per_session;
	server_cf->max_persistent_blocks_per_uid =
		cf->max_persistent_blocks_per_uid;
	server_cf->hello_timeout = cf->hello_timeout;
	server_cf->idle_trim = cf->idle_trim;
	idle_arm();	/* a shorter idle_trim may make a trim due */
	server_cf->release_step = cf->release_step;
	server_cf->drop_step = cf->drop_step;
	server_cf->settle_wait_ms = cf->settle_wait_ms;
	server_cf->max_name_waits = cf->max_name_waits;
	server_cf->max_alloc_waits = cf->max_alloc_waits;
	server_cf->restart_probe_timeout = cf->restart_probe_timeout;
	free(cf);
	status_ready();
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	service_stopping();
	if (!restart_stop())
		event_base_loopexit(base, NULL);
}

/*
 * The one line a restore ends with: where from, what it kept, how long.
 * Only an exec restarted in place: a start from systemd's store is a new
 * process that found a stop's descriptors.
 */
static void
restored_line(const struct restored *rs)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* The old image's clock: the same one, unless the state lies. */
	if (rs->saved_at_ns == 0 || rs->saved_at_ns > now)
		now = rs->saved_at_ns;
	log_info("%s: %u pool%s, %llu block%s, %u client%s, in %llu ms",
		 rs->from_store ? "restored from systemd's fd store" :
		 "restarted in place", rs->npools, rs->npools == 1 ? "" : "s",
		 (unsigned long long)rs->nblocks, rs->nblocks == 1 ? "" : "s",
		 rs->nsessions,
		 rs->nsessions == 1 ? "" : "s",
		 (unsigned long long)(now - rs->saved_at_ns) / 1000000);
}

/*
 * The file did not load.  A fresh start stops there, as it always did;
 * but a restore must not lose every pool, block and client to a typo in
 * the file: it goes on with what the state carries (each pool's
 * settings), the daemon's own settings at their defaults, until a
 * SIGHUP reads a fixed file.
 */
static void
config_refused(const char *err, int restarted, struct restored *rs)
{
	if (restarted == 1)
		return;
	free(rs->stored);
	fatalx("%s", err);
}

static void
config_kept(const char *err, bool bound)
{
	log_warnx("%s; kept the restored settings (each pool's as it was, "
		  "the daemon's own at their defaults); fix the file and "
		  "reload (SIGHUP)", err);
	if (bound)
		log_warnx("listening on %s (mode %04o, the default): the "
			  "file's socket settings are not known",
			  server_socket, server_cf->socket_mode);
}

/*
 * The daemon binds its socket itself.  After a crash, where the crashed
 * daemon served, as its journal says, so that its clients find it again:
 * neither a file changed since (socket settings wait for a fresh start,
 * as at a SIGHUP) nor one that no longer loads moves it.
 */
static int
listen_own(const struct config *cf, const struct restored *rs)
{
	if (!rs->crashed || !rs->socket_path[0])
		return listen_on(server_socket, cf->socket_mode);
	if (strcmp(rs->socket_path, server_socket) != 0)
		log_warnx("after a crash: listening on %s again, as the "
			  "crashed daemon did; %s waits for a fresh start",
			  rs->socket_path, server_socket);
	snprintf(server_socket, sizeof(server_socket), "%s", rs->socket_path);
	return listen_on(server_socket, rs->socket_mode);
}

/* The mode of the socket file as it is now (a restart in place kept it). */
static unsigned
socket_mode_now(const struct config *cf)
{
	struct stat sb;

	if (lstat(server_socket, &sb) == 0 && S_ISSOCK(sb.st_mode))
		return sb.st_mode & 0777;
	return cf->socket_mode;
}

/*
 * Every connection costs a descriptor: take all the kernel allows (the soft
 * limit is often 1024, the hard one far more) and say so if the connection
 * limits could still run out of them.
 */
static void
raise_nofile(const struct config *cf)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)cf->max_connections + 2 * POOL_MAX_POOLS + 32 >
	    rl.rlim_cur)
		log_warnx("max_connections %u with %llu descriptors: clients "
			  "may be refused for want of descriptors before the "
			  "limit", cf->max_connections,
			  (unsigned long long)rl.rlim_cur);
}

int
server_run(const struct server_opts *o, struct config *cf)
{
	struct event *ev_term, *ev_int, *ev_hup;
	const char *path, *from;
	struct restored rs;
	struct dpool *p;
	int lfd, restarted;

	server_cf = cf;
	server_config_path = o->config_path;
	socket_given = o->socket_path != NULL;
	dispatch_set_config(cf);
	path = o->socket_path ? o->socket_path : cf->socket;
	/*
	 * Named by where it came from, as --check-config names it: the
	 * file's own path was refused at its line (config.c), so one refused
	 * here is --socket's.
	 */
	from = o->socket_path ? "--socket: " : "";
	/* An empty path would bind an abstract address nobody can chmod. */
	if (*path == '\0')
		fatalx("%sthe socket path is empty", from);
	if (strlen(path) >= sizeof(server_socket))
		fatalx("%ssocket path too long (%zu bytes, at most %zu): %s",
		       from, strlen(path), sizeof(server_socket) - 1, path);
	snprintf(server_socket, sizeof(server_socket), "%s", path);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A file grown past RLIMIT_FSIZE (the crash journal, the log) is
	 * that write's EFBIG, which the daemon handles, not its death.
	 */
	signal(SIGXFSZ, SIG_IGN);
	raise_nofile(cf);
	base = event_base_new();
	if (!base)
		fatalx("event_base_new failed");
	notify_setup(base);
	if (!peer_store_setup(base) || !peer_kept_setup(base))
		fatalx("evtimer_new failed");
	dispatch_wait_setup(base);
	if (dispatch_room_setup(base))
		fatalx("event_new failed");
	if (!(release_ev = evtimer_new(base, on_release_step, NULL)) ||
	    !(journal_ev = evtimer_new(base, on_journal_step, NULL)) ||
	    !(log_limits_ev = evtimer_new(base, on_log_limits, NULL)))
		fatalx("evtimer_new failed");
	log_limits_set_due_in(log_limits_due_in);
	journal_setup(journal_step_in);
	dpool_release_setup(cf->release_step, cf->drop_step, release_queued);
	dpool_persist_setup(cf->max_persistent_blocks_per_uid);
	restart_probe_setup(cf->restart_probe_timeout);
	/*
	 * Signals are caught before the socket exists: once a client (or a
	 * test) can see the daemon, SIGTERM stops it cleanly, never with the
	 * default action that would leave the socket behind.
	 */
	ev_term = evsignal_new(base, SIGTERM, on_stop, NULL);
	ev_int = evsignal_new(base, SIGINT, on_stop, NULL);
	ev_hup = evsignal_new(base, SIGHUP, on_reload, NULL);
	if (!ev_term || !ev_int || !ev_hup)
		fatalx("evsignal_new failed");
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	/*
	 * SIGUSR2 is caught only by restart_setup, once the socket exists
	 * and the pools are made: held in the kernel until then (it unblocks
	 * it), so that one sent as soon as the socket answers is a restart,
	 * not the default action's death with every pool.
	 */
	{
		sigset_t usr2;

		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		sigprocmask(SIG_BLOCK, &usr2, NULL);
	}
	/*
	 * Executed again by a restart in place: everything is handed over.
	 * Nothing it brings back, nor the file's limits, evicts a name until
	 * this start's crash journal is in the store (restore.h).
	 */
	dpool_evict_over_limit_hold(true);
	{
		struct restore_env re = {base, peer_dispatch,
					 cf->hello_timeout};

		restarted = restore_incoming(&re, &rs);
	}
	/* A store's kept connections are in it; an exec's may not be. */
	if (restarted >= 0 && !rs.from_store && !rs.crashed)
		peer_kept_push();
	if (o->config_error)
		config_refused(o->config_error, restarted, &rs);
	/* A crash recovery carries no totals: they start afresh. */
	dispatch_status_start(restarted == 1 && rs.has_totals ? &rs.totals :
			      NULL);
	if ((lfd = rs.listen_fd) >= 0) {
		socket_activated = rs.socket_activated;
		if (!socket_activated && rs.socket_path[0])
			snprintf(server_socket, sizeof(server_socket), "%s",
				 rs.socket_path);
	} else {
		lfd = service_listen_fd();
		socket_activated = lfd >= 0;
		if (!socket_activated)
			lfd = listen_own(cf, &rs);
	}
	if (!socket_activated)
		journal_socket(server_socket, socket_mode_now(cf));
	/* Connections made from now on take it over at connect. */
	peer_refuse_fds(lfd);
	accept_setup(base, cf);
	apply_config(cf);
	journal_start(restarted >= 0 ? rs.stored : NULL);
	restart_setup(base, o->argv, lfd, socket_activated, server_socket,
		      server_config_path);

	accept_start(lfd);
	if (restarted == 1 && rs.crashed) {
		log_info("after a crash: %u pool%s and %llu persistent block%s "
			 "recovered", rs.npools, rs.npools == 1 ? "" : "s",
			 (unsigned long long)rs.nblocks,
			 rs.nblocks == 1 ? "" : "s");
		if (fdstore_max() == 0)
			log_warnx("no fd store (FDSTORE= unset): no crash "
				  "journal from now on, a crash loses every "
				  "pool");
	} else if (restarted == 1) {
		restored_line(&rs);
		/* A broken file's settings are not known: config_kept says. */
		if (!o->config_error)
			socket_kept_warn(cf);
	} else if (socket_activated)
		log_info("listening on the socket systemd passed, %u pool%s",
			 dpool_count(), dpool_count() == 1 ? "" : "s");
	else
		log_info("listening on %s (mode %04o), %u pool%s", server_socket,
			 cf->socket_mode, dpool_count(),
			 dpool_count() == 1 ? "" : "s");
	if (o->config_error)
		config_kept(o->config_error, rs.listen_fd < 0 &&
			    !socket_activated &&
			    !(rs.crashed && rs.socket_path[0]));
	service_watchdog_start(base);
	/* STATUS= is for systemd: without it nothing reads the line. */
	if (!(status_ev = evtimer_new(base, on_status_timer, NULL)))
		fatalx("evtimer_new failed");
	/* Restored pools may have pages to give back. */
	idle_ev = evtimer_new(base, on_idle_timer, NULL);
	idle_arm();
	/* Ready only now: the socket accepts and the configured pools exist. */
	status_ready();
	/* Taken: a crash or a failed start must not find them again. */
	if (restarted >= 0 && rs.stored) {
		fdstore_remove(rs.stored);
		free(rs.stored);
	}
	journal_ready();
	restore_evict_over_limits();

	event_base_dispatch(base);

	/* Counted from here on, and said all at once before "stopped". */
	log_limits_set_due_in(NULL);
	journal_stop(!restart_stored());
	service_watchdog_stop();
	restart_teardown();
	event_free(status_ev);
	event_free(idle_ev);
	dpool_stop_releasing();
	if (!restart_stored())
		peer_kept_forget();
	peer_close_all();
	peer_kept_teardown();
	peer_store_teardown();
	dispatch_room_teardown();
	while ((p = dpool_first()))
		dpool_destroy(p, false);	/* exiting: no need to wait */
	event_free(release_ev);
	event_free(journal_ev);
	event_free(log_limits_ev);
	accept_teardown();
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	close(lfd);
	/* systemd owns a socket it passed, or its store holds ours. */
	if (!socket_activated && !restart_stored())
		unlink(server_socket);
	/*
	 * What systemd has not read yet, a stop's pushes among it: only once
	 * they went does the store hold the pools (else notify.c said what
	 * was not sent).
	 */
	if (notify_teardown() && restart_stored())
		log_info("systemd's fd store holds them; a start that follows "
			 "restores them");
	event_base_free(base);
	log_limits_flush_all();
	log_info("stopped");
	return 0;
}
