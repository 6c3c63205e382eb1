/*
 * restart.c - SIGUSR2: execute the daemon's binary again, in place.
 *
 * The signal first has the configuration file read and checked: one that
 * does not load would stop the new image and lose everything, so the
 * restart is refused instead, as a reload keeps what runs.  The text
 * checked goes to the new image (a sealed memfd named "config"), which
 * applies it instead of reading the file again: what was checked is what
 * applies, however long what follows takes.  Then the binary at the path
 * is asked whether it reads this state's version (restart_probe.c: an
 * older poolmgrd would leave the connections it is handed unserved).  The
 * loop does not wait for the answer: the daemon serves as usual, and only
 * a yes goes on ("wanted"); a refusal is logged and changes nothing.  A
 * second SIGUSR2 meanwhile is told the restart is on its way; a stop
 * meanwhile stops the daemon (restart_teardown kills and reaps the probe)
 * or, to systemd's store, takes the probe over.
 *
 * Once wanted, no connection is read (peer_pause_reads): the requests wait
 * in the sockets, which keep every datagram whole, and the new image reads
 * them, for it takes the connections over.  New connections are still
 * accepted, and go over unread too.  So what this image must finish is
 * bounded: the work queued in pool_release.c (its state lives in this
 * image only), the requests held for it, the clients being closed.  The
 * restart happens at the first moment none is left, checked every
 * RESTART_TICK_MS from a timer (never inside a peer's callbacks).  Replies
 * not sent yet are not in the way: they are datagrams already made, and
 * go over in the state, to be sent first by the new image (peer.c), so a
 * client that does not read them holds nobody up.  So do those that pass
 * descriptors: each descriptor goes as the pool whose memfd or share map
 * it is, and the new image passes its own (a destroyed pool's, which no
 * other has, goes as one more descriptor, "reply.<j>").  A client being
 * closed (it broke the protocol) is closed at once, with what it has not
 * read.  If the restart is given up, the connections are read again.
 *
 * Then, without changing anything, state_save.c writes the state, and the
 * descriptors go to the new image as systemd passes sockets, named (listen,
 * state, config, pool.<i>, conn.<i>, reply.<j>, unread.<k>: the
 * connections kept for descriptors their clients have not read,
 * peer_kept.c,
 * by the names systemd's store has them under)
 * in LISTEN_FDNAMES (restart_exec.c), runs of them as one ("conn.0-999",
 * restart_names.c).  If the exec fails, every descriptor is put back: the
 * daemon logs why and goes on serving, nothing changed.
 *
 * A stop (SIGTERM, SIGINT) under systemd with its fd store configured
 * asks the same binary (systemd's likely ExecStart=), serving meanwhile,
 * waits for the same quiet moment, saves the same state and pushes the
 * same descriptors, but for the configuration's text, to the store under
 * the same names (fdstore.c), all or none; the next start takes them back
 * as after an exec, and reads the file as it is then (a package upgrade
 * may install a new one between the stop and the start).  If the binary
 * refuses, the daemon stops as without a store.
 *
 * The clients' share maps are the one thing the new image cannot take
 * over (see dpool_share_freeze): their bits are all set just before the
 * exec (the clients free what they would have cached), then their
 * "replaced" word, and the clients ask the new image for its map
 * (ShareMap) and cache again.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "fdstore.h"
#include "journal.h"
#include "log.h"
#include "peer.h"
#include "peer_kept.h"
#include "pool.h"
#include "restart.h"
#include "restart_exec.h"
#include "restart_names.h"
#include "restart_probe.h"
#include "service.h"
#include "state_save.h"

#define RESTART_TICK_MS 10
#define RESTART_QUIET_SEC 5	/* a wait that goes on is logged this often */

static struct event *ev_usr2, *ev_tick;
static char exe_path[PATH_MAX];
static char **exe_argv;
static int listen_fd = -1;
static bool listen_activated;
static char listen_path[PATH_MAX];
static const char *config_path;

static struct event_base *loop_base;
static bool wanted, to_store;	/* to_store: a stop, to systemd's store */
static int config_fd = -1;	/* the text checked, to pass as "config" */
static bool stored;		/* the store holds everything now */
static uint64_t wanted_at, noted_at;	/* monotonic ns */
static unsigned dropped;
static bool first_look;		/* the wait's first: says so if not quiet */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}


/*
 * The descriptors a restart passes, each with a name that says exactly
 * which it is: "listen", "state", "pool.<i>", "conn.<i>", "reply.<i>", i
 * the pool's, session's or unsent replies' descriptor's index in the
 * state, and "unread.<id>", the connections kept for the descriptors
 * their clients have not read (peer_kept_fds), under the names they have
 * in systemd's store (peer_store.c).  The exec keeps their order,
 * systemd's store does not: the new image goes by the names (restore.c).
 */
#define PASSED_NAME RESTART_NAME_MAX

struct passed {
	unsigned n;
	int *fd;
	char **name;		/* n pointers, then their text */
};

static void
passed_free(struct passed *ps)
{
	free(ps->fd);
	free(ps->name);
	ps->fd = NULL;
	ps->name = NULL;
}

/* Named what, or what.index when index is not -1. */
static void
passed_add(struct passed *ps, int fd, const char *what, long index)
{
	ps->fd[ps->n] = fd;
	if (index < 0)
		snprintf(ps->name[ps->n], PASSED_NAME, "%s", what);
	else
		snprintf(ps->name[ps->n], PASSED_NAME, "%s.%ld", what, index);
	ps->n++;
}

/*
 * The listening socket (unless with_listen is false), the state, the
 * configuration's text (if cfd is not -1), the rest.  A stop pushes the
 * kept connections the store holds already too: systemd drops what a
 * full store is pushed without a word, and keeps what it holds once.
 */
static int
passed_build(struct passed *ps, int sfd, int cfd, const struct state_fds *sf,
	     bool with_listen)
{
	unsigned nkept = peer_kept_fds(NULL, NULL);
	unsigned n = (with_listen ? 2 : 1) + (cfd >= 0) + sf->npools +
	    sf->nsessions + sf->nreplies + nkept, i;
	unsigned *id = malloc((nkept ? nkept : 1) * sizeof(*id));
	char *text;
	int *kept;

	ps->n = 0;
	ps->fd = malloc(n * sizeof(int));
	ps->name = malloc(n * (sizeof(char *) + PASSED_NAME));
	if (!ps->fd || !ps->name || !id) {
		passed_free(ps);
		free(id);
		return -ENOMEM;
	}
	text = (char *)(ps->name + n);
	for (i = 0; i < n; i++)
		ps->name[i] = text + (size_t)i * PASSED_NAME;
	if (with_listen)
		passed_add(ps, listen_fd, "listen", -1);
	passed_add(ps, sfd, "state", -1);
	if (cfd >= 0)
		passed_add(ps, cfd, "config", -1);
	for (i = 0; i < sf->npools; i++)
		passed_add(ps, sf->pool[i], "pool", i);
	for (i = 0; i < sf->nsessions; i++)
		passed_add(ps, sf->conn[i], "conn", i);
	for (i = 0; i < sf->nreplies; i++)
		passed_add(ps, sf->reply[i], "reply", i);
	kept = ps->fd + ps->n;
	peer_kept_fds(kept, id);
	for (i = 0; i < nkept; i++)
		passed_add(ps, kept[i], "unread", id[i]);
	free(id);
	return 0;
}

static void
freeze_undo(unsigned *nfrozen)
{
	struct dpool *p = dpool_first();
	unsigned i;

	for (i = 0; i < *nfrozen && p; i++, p = dpool_next(p))
		dpool_share_thaw(p);
	*nfrozen = 0;
}

/* Every pool's share map to "all shared", or none of them. */
static int
freeze_all(unsigned *nfrozen)
{
	struct dpool *p;
	int rc;

	for (p = dpool_first(); p; p = dpool_next(p)) {
		if ((rc = dpool_share_freeze(p)) != 0) {
			log_warnx("pool %s: share map: %s", p->name,
				  strerror(-rc));
			freeze_undo(nfrozen);
			return rc;
		}
		(*nfrozen)++;
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
 * Does the configuration file load?  The new image applies it as it
 * starts, and one that does not load would stop it, every pool and client
 * with it.  The text checked is what the new image gets (config_pass), not
 * the file, which may change before it would read it.  *text NULL: the
 * daemon has no file.
 */
static bool
config_checked(char **text, size_t *len, char *err, size_t errlen)
{
	struct config *cf;
	bool ok;

	*text = NULL;
	if (!config_path)
		return true;
	if (config_read_text(config_path, text, len, err, errlen) != 0)
		return false;
	if (!(cf = malloc(sizeof(*cf)))) {
		snprintf(err, errlen, "out of memory");
		ok = false;
	} else {
		config_defaults(cf);
		ok = config_load_text(cf, config_path, *text, *len, err,
				      errlen) == 0;
		free(cf);
	}
	if (!ok) {
		free(*text);
		*text = NULL;
	}
	return ok;
}

/* The checked text in a sealed memfd, to pass as "config"; or -errno. */
static int
config_pass(const char *text, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = memfd_create("poolmgrd-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		return -errno;
	while (done < len) {
		if ((n = write(fd, text + done, len - done)) == -1) {
			if (errno == EINTR)
				continue;
			n = -errno;
			close(fd);
			return (int)n;
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_WRITE | F_SEAL_SEAL) == -1) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	return fd;
}

/* The checked text's memfd, once the restart no longer needs it. */
static void
config_drop(void)
{
	if (config_fd >= 0)
		close(config_fd);
	config_fd = -1;
}

/*
 * The configuration file checked, and its text in a memfd for the new
 * image: false with why if the restart cannot go on.
 */
static bool
config_ready(char *why, size_t len)
{
	char *text;
	size_t tlen = 0;
	int fd;

	config_drop();
	if (!config_checked(&text, &tlen, why, len))
		return false;
	if (!text)
		return true;
	fd = config_pass(text, tlen);
	free(text);
	if (fd < 0) {
		snprintf(why, len, "cannot put the configuration's text in a "
			 "memfd for the new image: %s", strerror(-fd));
		return false;
	}
	config_fd = fd;
	return true;
}

/*
 * The state version to write for the binary probed, or 0 if it reads
 * none that carries all there is now.  Requests wait since the probe,
 * but a reload meanwhile may have given a pool an access control list or
 * user quotas of uids, which the version the binary reads would drop
 * (state_version_needed):
 * then say so under what.  A stop to the store of a daemon that does not
 * know its binary asked none (restart_stop): the version needed, as
 * before there was a probe.
 */
static unsigned
readable_version(const char *what)
{
	const char *pool = "";
	unsigned needed = state_version_needed(&pool), v;

	if (!exe_path[0])
		return needed;
	if ((v = restart_probe_version(needed)))
		return v;
	log_warnx("%s: pool %s needs state version %u, which carries %s, "
		  "since %s was asked, and it reads none such: it would drop "
		  "them", what, pool, needed, state_version_carries(needed),
		  exe_path);
	return 0;
}

/* The quiet moment: save, hand over, exec.  Returns if it failed. */
static void
restart_now(void)
{
	struct passed ps = {0};
	struct state_fds sf;
	sigset_t block, old;
	unsigned nfrozen = 0;
	char *names = NULL;
	int sfd, cfd = config_fd, rc;
	unsigned version;

	config_fd = -1;	/* closed here whatever happens */
	if (!(version = readable_version("restart"))) {
		log_warnx("restart: %s not executed; going on as before",
			  exe_path);
		if (cfd >= 0)
			close(cfd);
		peer_pause_reads(false);
		return;
	}
	/*
	 * From here the signals wait in the kernel: a handler of this image
	 * would only note them for a loop turn that never comes.
	 */
	caught_signals(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	service_reloading();
	/* The new image starts with no counts: say this one's now. */
	log_limits_flush_all();
	log_info("restarting in place: executing %s", exe_path);
	sfd = state_save(listen_activated, listen_path, false, now_ns(),
			 version, &sf);
	if (sfd < 0) {
		log_warnx("restart: cannot save the state: %s; going on as "
			  "before", strerror(-sfd));
		service_ready("restart failed; serving as before");
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (cfd >= 0)
			close(cfd);
		peer_pause_reads(false);
		return;
	}
	rc = -ENOMEM;
	if (passed_build(&ps, sfd, cfd, &sf, true) == 0 &&
	    (names = restart_names_join(ps.n, ps.name)) &&
	    (rc = journal_exec_names()) == 0 &&
	    (rc = freeze_all(&nfrozen)) == 0) {
		rc = restart_exec(exe_path, exe_argv, ps.n, ps.fd, names);
		freeze_undo(&nfrozen);
	}
	if (rc == -ENOMEM)
		log_warnx("restart: out of memory");
	log_warnx("restart: %s not executed; going on as before", exe_path);
	passed_free(&ps);
	free(names);
	close(sfd);
	if (cfd >= 0)
		close(cfd);
	state_fds_free(&sf);
	service_ready("restart failed; serving as before");
	sigprocmask(SIG_SETMASK, &old, NULL);
	peer_pause_reads(false);
}

/*
 * The same quiet moment, on a stop with systemd's store: the descriptors
 * the exec would pass go to the store instead (not systemd's own
 * listening socket: it has it), every one or none, and the loop ends.
 * Whatever failed, the daemon stops as it always did.
 */
static void
store_now(void)
{
	struct passed ps = {0};
	struct state_fds sf;
	unsigned nfrozen = 0, version;
	int sfd, rc;

	config_drop();	/* a restart it overtook checked it */
	if (!(version = readable_version("stop"))) {
		log_warnx("stop: nothing left in the fd store; every pool and "
			  "client is freed");
		event_base_loopbreak(loop_base);
		return;
	}
	sfd = state_save(listen_activated, listen_path, true, now_ns(),
			 version, &sf);
	if (sfd < 0) {
		log_warnx("stop: cannot save the state: %s; everything is "
			  "freed", strerror(-sfd));
		event_base_loopbreak(loop_base);
		return;
	}
	if ((rc = passed_build(&ps, sfd, -1, &sf, !listen_activated)) != 0)
		log_warnx("stop: out of memory");
	else if (ps.n + journal_slots() > fdstore_max()) {
		log_warnx("stop: %u descriptor%s to keep, the fd store takes "
			  "%u (FileDescriptorStoreMax=, FDSTORE=)", ps.n,
			  log_plural(ps.n), fdstore_max());
		rc = -ENOSPC;
	} else if ((rc = freeze_all(&nfrozen)) == 0 &&
		   (rc = fdstore_push(ps.n, ps.fd, ps.name)) != 0)
		freeze_undo(&nfrozen);
	if (rc == 0) {
		struct dpool *p;

		/* Frozen for the clients: the exit must not clear a bit. */
		for (p = dpool_first(); p; p = dpool_next(p))
			dpool_share_detach(p);
		stored = true;
		log_info("stopping: %u pool%s, %llu block%s, %u client%s "
			 "to keep in systemd's fd store", sf.npools,
			 log_plural(sf.npools),
			 (unsigned long long)sf.nblocks,
			 log_plural(sf.nblocks), sf.nsessions,
			 log_plural(sf.nsessions));
	} else
		log_warnx("stop: nothing left in the fd store (%s); every "
			  "pool and client is freed", strerror(-rc));
	passed_free(&ps);
	close(sfd);
	state_fds_free(&sf);
	/*
	 * At once, not after this turn's other callbacks: a request read
	 * now would change what the store holds, and its answer be lost.
	 */
	event_base_loopbreak(loop_base);
}

static bool
quiet(void)
{
	return dpool_release_passed(dpool_release_mark()) && peer_all_quiet();
}

/* What the restart waits for, once it is not quiet. */
static const char *
not_quiet_why(void)
{
	return dpool_release_passed(dpool_release_mark()) ?
	    "requests wait for their pools" :
	    "released memory still going back";
}

/* The logs' word for what waits: a restart, or a stop to the fd store. */
static const char *
what_waits(void)
{
	return to_store ? "stop" : "restart";
}

static void
restart_try(bool first)
{
	struct timeval tick = {0, RESTART_TICK_MS * 1000};
	uint64_t now = now_ns();

	/* Its last replies cannot be carried over: it was leaving anyway. */
	dropped += peer_drop_closing();
	if (quiet()) {
		if (now - wanted_at >= 1000000)
			log_info("%s: waited %llu ms for a quiet moment%s",
				 what_waits(), (unsigned long long)(now -
				 wanted_at) / 1000000, dropped ? ", dropped "
				 "clients in the way" : "");
		wanted = false;
		if (to_store)
			store_now();
		else
			restart_now();
		return;
	}
	/*
	 * Said once as the wait begins, then every RESTART_QUIET_SEC: an
	 * operator (or a test) knows the restart waits, and for what.
	 */
	if (first)
		log_info("%s: waiting for a quiet moment: %s", what_waits(),
			 not_quiet_why());
	else if (now - noted_at >= RESTART_QUIET_SEC * 1000000000ull) {
		log_info("%s: not quiet after %d s: %s", what_waits(),
			 RESTART_QUIET_SEC, not_quiet_why());
		noted_at = now;
	}
	evtimer_add(ev_tick, &tick);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	bool first = first_look;

	(void)fd;
	(void)what;
	(void)arg;
	first_look = false;
	restart_try(first);
}

/* The binary said yes: from now on nothing is read, and the wait begins. */
static void
want(void)
{
	if (!to_store)
		log_info("%s takes the state over: restarting in place at the "
			 "first quiet moment", exe_path);
	wanted = true;
	peer_pause_reads(true);
	/* A lookup waiting for a name could wait its whole wait_ms. */
	dispatch_wait_interrupt();
	dispatch_room_interrupt();	/* and an allocation, for room */
	dropped = 0;
	wanted_at = noted_at = now_ns();
	/*
	 * The first look comes after the waits just interrupted are answered
	 * (the loop runs what is active in the order it was made so): they
	 * are no reason to wait, and a look now would find them held.
	 */
	first_look = true;
	event_active(ev_tick, EV_TIMEOUT, 1);
}

/*
 * The probe's verdict.  A refused restart changed nothing (the reads were
 * never paused); a refused stop stops as without a store: systemd starts
 * ExecStart= next, not surely this path, but that is where an upgrade or
 * a downgrade put its binary, and one that could not take the store over
 * would leave its connections unserved: better they see the stop.
 */
static void
on_probed(int rc, const char *why, void *arg)
{
	(void)arg;
	if (rc == 0) {
		want();
		return;
	}
	config_drop();
	if (to_store) {
		log_warnx("stop: %s; nothing left in the fd store, every pool "
			  "and client is freed", why);
		event_base_loopbreak(loop_base);
	} else
		log_warnx("restart: %s; going on as before", why);
}

/*
 * Ask the binary at the path, without stopping the loop: the daemon
 * serves as usual until it answers (restart_probe.c).
 */
static void
probe(void)
{
	char why[512];
	int rc;

	rc = restart_probe_start(loop_base, exe_path, on_probed, NULL, why,
				 sizeof(why));
	if (rc != 0)
		on_probed(rc, why, NULL);
}

static bool
on_its_way(void)
{
	return wanted || restart_probe_running();
}

static void
on_usr2(evutil_socket_t sig, short what, void *arg)
{
	char why[512];

	(void)sig;
	(void)what;
	(void)arg;
	if (on_its_way()) {
		log_info("SIGUSR2: a %s is already on its way", to_store ?
			 "stop to systemd's fd store" : "restart");
		return;
	}
	if (!exe_path[0]) {
		log_warnx("restart: the daemon's binary is not known; going on");
		return;
	}
	/*
	 * The file is checked before the binary is asked, not after: a bad
	 * one is refused at once, and the text checked is the one the new
	 * image applies however long the probe and the quiet moment take.
	 */
	if (!config_ready(why, sizeof(why))) {
		log_warnx("restart: %s; going on as before", why);
		return;
	}
	log_info("SIGUSR2: asking %s --restart-probe whether it takes the "
		 "state over, serving meanwhile", exe_path);
	to_store = false;
	probe();
}

bool
restart_stop(void)
{
	if (stored || fdstore_max() == 0)
		return false;
	if (on_its_way() && to_store) {
		log_info("the stop is already on its way");
		return true;
	}
	log_info("stopping at the first quiet moment, pushing everything "
		 "to systemd's fd store");
	/* The stop overtakes a restart: the same probe, the same wait. */
	if (on_its_way()) {
		to_store = true;
		return true;
	}
	to_store = true;
	if (exe_path[0])
		probe();
	else
		want();
	return true;
}

bool
restart_stored(void)
{
	return stored;
}

/* Why exe_path is empty, for restart_setup to say ("" while unread). */
static char exe_unknown[64];

void
restart_note_binary(void)
{
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);

	if (n <= 0 || (size_t)n >= sizeof(exe_path) - 1) {
		snprintf(exe_unknown, sizeof(exe_unknown), "%s",
			 n <= 0 ? strerror(errno) : "too long");
		exe_path[0] = '\0';
	} else
		exe_path[n] = '\0';
}

void
restart_setup(struct event_base *base, char **argv, int lfd,
	      bool socket_activated, const char *socket_path,
	      const char *config_file)
{
	if (!exe_path[0] && !exe_unknown[0])
		restart_note_binary();
	if (!exe_path[0])
		log_warnx("the daemon's binary is not known (readlink "
			  "/proc/self/exe: %s); SIGUSR2 cannot restart in "
			  "place", exe_unknown);
	exe_argv = argv;
	config_path = config_file;
	loop_base = base;
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
	/* The daemon exits: a probe still running is killed and reaped. */
	if (restart_probe_running())
		log_info("the %s waiting for %s --restart-probe is given up",
			 to_store ? "stop to the fd store" : "restart",
			 exe_path);
	restart_probe_cancel();
	config_drop();
	if (ev_usr2)
		event_free(ev_usr2);
	if (ev_tick)
		event_free(ev_tick);
	ev_usr2 = ev_tick = NULL;
}
