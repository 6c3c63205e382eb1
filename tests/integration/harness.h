/*
 * harness.h - integration tests run the real poolmgrd on a temporary
 * socket and drive it from real client processes.
 */
#ifndef POOLMGR_HARNESS_H
#define POOLMGR_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "harness_raw.h"
#include "poolclient.h"

/*
 * In a child process (cmocka's asserts do not cross fork): report a failed
 * check on stderr and return code, which becomes the child's exit status.
 */
#define CHECK(cond, code)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "child %d: %s:%d: failed: %s "	\
				"(exit %d)\n", (int)getpid(), __FILE__,	\
				__LINE__, #cond, (code));		\
			return (code);					\
		}							\
	} while (0)

#define CHECK_RC(expr, want, code)					\
	do {								\
		int rc_ = (expr);					\
		if (rc_ != (want)) {					\
			fprintf(stderr, "child %d: %s:%d: %s = %d (%s), "\
				"expected %d (exit %d)\n", (int)getpid(),\
				__FILE__, __LINE__, #expr, rc_,		\
				pool_strerror(rc_), (want), (code));	\
			return (code);					\
		}							\
	} while (0)

/* In the test process: expr must return want, else the test fails. */
#define EXPECT_RC(expr, want)						\
	harness_expect_rc((expr), (want), #expr, __LINE__)
void harness_expect_rc(int got, int want, const char *what, int line);
/* The statistics of the pool p is a handle of; a failure fails the test. */
struct pool_stats harness_stats(struct pool *p);
/* The statistics of pool name, asked on c; a failure fails the test. */
struct pool_stats harness_stats_of(struct pool_conn *c, const char *name);
/* Fail the test, with the daemon's reason, unless pool name checks out. */
void harness_expect_checked(struct pool_conn *c, const char *name);

/*
 * In the test process, for the calls of harness_raw.h that return a
 * reply's error: expr must return want, else the test fails saying what
 * came instead (HARNESS_RAW_LOST: no reply, the reason on stderr).
 */
#define EXPECT_RAW(expr, want)						\
	harness_expect_raw((expr), (want), #expr, __LINE__)
void harness_expect_raw(int got, int want, const char *what, int line);
/*
 * req's round trip (harness_raw_ask) must be answered with error want,
 * else the test fails naming the request and what came instead.  Returns
 * the reply, to be freed with poolmgr__reply__free_unpacked.
 */
Poolmgr__Reply *harness_raw_expect(int fd, Poolmgr__Request *req, int want);
/* harness_raw_greeted and harness_raw_open, or the test fails. */
int harness_raw_client(const char *path, const char *name);
uint32_t harness_raw_handle(int fd, const char *pool);
/* Pool name passes the daemon's Check over fd, or the test fails. */
void harness_raw_check(int fd, const char *name);
/*
 * Block x of p is retained by raw client fd's handle h: p's free of it
 * must not let p's cache hand it out again (the share map reads shared),
 * and h's free must then be its last.  Frees everything it took.
 */
void harness_expect_kept_shared(struct pool *p, pool_off_t x, int fd,
				uint32_t h);

/*
 * The share maps of pool name that this process maps, as /proc/self/maps
 * lists them ("/memfd:poolmgr:NAME:shared"): how many mappings, and the
 * inode and start of the last (inode, at may be NULL).
 */
int harness_share_maps(const char *pool, unsigned long *inode, void **at);
/* The inode of the share map of pool name that daemon pid has open; 0 if
 * none. */
unsigned long harness_daemon_share_map(pid_t pid, const char *pool);

/* Whole reads and writes on pipes; 0, or -1 on error or end of file. */
int harness_write_full(int fd, const void *buf, size_t len);
int harness_read_full(int fd, void *buf, size_t len);
/* The text of a file (a log), at most len - 1 bytes; "" if unreadable. */
void harness_read_text(const char *path, char *buf, size_t len);
/* Close *fd if open and mark it closed. */
void harness_close_fd(int *fd);
void harness_sleep_ms(long ms);
/* Milliseconds of CLOCK_MONOTONIC: for a test's deadlines and times. */
uint64_t harness_now_ms(void);
/* Pages of [p, p + len) (page-aligned) resident in the page cache, as
 * mincore sees them; fails the test if mincore does. */
size_t harness_resident_pages(void *p, size_t len);

struct daemon_proc {
	pid_t pid;
	char dir[128];		/* temporary directory, mode 0755 */
	char sock[160];		/* dir/poolmgrd.sock, mode 0666 */
	char conf[160];		/* dir/poolmgrd.conf */
	char log[160];		/* dir/poolmgrd.log: the daemon's stderr */
};

/* The build directory: $POOLMGR_BUILD, else "build". */
const char *harness_build(void);

/*
 * The daemons started from now on run with the test library name (such
 * as "fail_memfd.so", under the build's tests/) preloaded; a sanitized
 * one is told its runtime need not come first.  What the library reads
 * from the environment the caller sets.  Returns what harness_preload_off
 * takes to put the environment back.
 */
char *harness_preload(const char *name);
void harness_preload_off(char *saved);

/*
 * The exit status of d's daemon once it is gone, within ms; -1 if it died
 * of a signal, or did not go in time (it is killed then).
 */
int harness_exit_status(struct daemon_proc *d, int ms);

/*
 * Do handles cache freed blocks in this run?  The suite runs with the
 * client-side cache on (the default) and off ($POOLMGR_CLIENT_CACHE=0).
 */
bool harness_client_cache(void);

/*
 * Start build/poolmgrd on a fresh socket (with $HARNESS_NOFILE set, the
 * daemon's descriptor limit is set to it; with $HARNESS_DAEMON_UID, it
 * runs as that uid and group, as under its unit) with extra_config (INI text that
 * is appended to a [daemon] section setting socket_mode 0666; may be NULL)
 * and wait until it accepts connections.  Sets $POOLMGRD_SOCKET.
 * Returns 0, or -1 (the test should fail).
 */
int harness_start(struct daemon_proc *d, const char *extra_config);

/* harness_start of the daemon binary at path (NULL: the build's). */
int harness_start_from(struct daemon_proc *d, const char *path,
		       const char *extra_config);

/*
 * Like harness_start, but the configuration file holds exactly config
 * (NULL: nothing) with no [daemon] section added: the daemon's own defaults
 * apply, socket_mode 0660 among them.  Returns once the daemon has
 * answered a Hello, so that its signal handling is in place.
 */
int harness_start_plain(struct daemon_proc *d, const char *config);

/*
 * Like harness_start, but as systemd starts a socket-activated service:
 * the socket d->sock is bound and listened on here and passed as
 * descriptor 3 with LISTEN_FDS=1 and LISTEN_PID; the daemon's --socket
 * names d->dir/fallback.sock, which it must not make.  With notify_fd,
 * NOTIFY_SOCKET names a datagram socket (SO_PASSCRED on) whose descriptor
 * goes to *notify_fd, for the caller to read and close.  Returns once the
 * daemon has answered a Hello: 0, or -1.
 */
int harness_start_activated(struct daemon_proc *d, const char *extra_config,
			    int *notify_fd);

/*
 * Start another poolmgrd on d's socket and configuration, its stderr
 * written to log, and return its pid at once (-1 on failure) without
 * waiting for it to listen or exit.  d is not changed.
 */
pid_t harness_exec_daemon(const struct daemon_proc *d, const char *log);

/*
 * Start poolmgrd again on d's socket and configuration, its stderr
 * appended to d's log, and wait until it answers a Hello (as
 * harness_start_plain does); for a daemon that stopped or was killed and
 * has been waited for.  Returns 0, or -1.
 */
int harness_restart(struct daemon_proc *d);

/*
 * Send SIGHUP and wait until the daemon has logged what it made of it: the
 * requests sent afterwards see the reloaded configuration, or the kept one.
 */
void harness_reload(struct daemon_proc *d);
/*
 * Write d's configuration again, as harness_start does with extra_config,
 * and reload it.  Returns 0, or -1 if the file cannot be written.
 */
int harness_reload_with(struct daemon_proc *d, const char *extra_config);

/* How many lines of the daemon's log hold what. */
int harness_log_count(const struct daemon_proc *d, const char *what);

/*
 * Wait (up to 10 s) until d's daemon has no descriptor of the file with
 * inode ino, as a destroyed pool's memfd it closes; fail the test if it
 * still has one then.
 */
void harness_wait_let_go(const struct daemon_proc *d, ino_t ino);
/*
 * Fail the test unless some line of the daemon's log holds what, within
 * 10 s (a line of the same turn of its loop may come a moment later).
 */
void harness_expect_logged(const struct daemon_proc *d, const char *what);
/*
 * The log's length now (its file's size, however long; 0 if there is
 * none): where the lines of what comes next begin.
 */
size_t harness_log_mark(const struct daemon_proc *d);
/*
 * The log from byte at (a mark) to its end, however long, in a buffer
 * of malloc's for the caller to free: "" if the log is no longer.
 */
char *harness_log_since(const struct daemon_proc *d, size_t at);
/*
 * Fail the test, with why and the log printed, if the daemon's log from
 * mark at on holds what.
 */
void harness_expect_not_logged_since(const struct daemon_proc *d, size_t at,
				     const char *what, const char *why);
/*
 * Bare connections made and closed until the log is longer than len
 * bytes (a --verbose daemon logs each as it comes and as it goes); the
 * test fails if one is refused, or if the log does not grow so.
 */
void harness_log_grow(const struct daemon_proc *d, size_t len);
/*
 * Wait at most ms milliseconds until more than before lines of the log
 * hold what: 0, or -1 (why on stderr) if the time ran out or the daemon
 * died; a dead daemon is waited for, its log printed and d->pid set to 0.
 * ms = 0 looks once, and says nothing if the line is not there yet.
 */
int harness_log_wait(struct daemon_proc *d, const char *what, int before,
		     int ms);

/*
 * Send SIGUSR2 (restart in place) and wait until the daemon logs that it
 * restarted, at most HARNESS_RESTART_WAIT_MS: 0, or -1 as
 * harness_log_wait.  The pid stays the same across the restart.
 */
#define HARNESS_RESTARTED "restarted in place"
#define HARNESS_RESTART_WAIT_MS 30000
int harness_restart_in_place(struct daemon_proc *d);

/* Remove d's temporary directory (for a daemon that is gone): 0 or -1. */
int harness_remove_dir(struct daemon_proc *d);

/*
 * Stop the daemon with SIGTERM.  Returns its exit status (0 for a clean
 * stop; non-zero if it crashed or, under ASan, leaked) and prints its log
 * when the status is not 0.  A daemon still running HARNESS_STOP_WAIT_MS
 * after the SIGTERM is killed with SIGKILL (status 137), so that a hung
 * daemon fails the test instead of hanging it.
 */
#define HARNESS_STOP_WAIT_MS 30000
int harness_stop(struct daemon_proc *d);

/* The [daemon] lines of harness_fixture_start: no trim behind its back. */
#define HARNESS_FIXTURE_CONF "idle_trim = 0\n"
/*
 * The daemon of a test that wants no trim behind its back:
 * HARNESS_FIXTURE_CONF and then extra (its pools); the test fails if it
 * does not start.
 * harness_fixture_stop stops it if it runs, and fails the test if it
 * did not exit cleanly: a cmocka teardown's whole work.
 */
void harness_fixture_start(struct daemon_proc *d, const char *extra);
void harness_fixture_stop(struct daemon_proc *d);
/*
 * harness_fixture_stop as a cmocka teardown, for a test whose state is its
 * daemon_proc from the start: HARNESS_FIXTURE_TEST(fn, &d) declares one.
 */
int harness_fixture_teardown(void **state);
#define HARNESS_FIXTURE_TEST(fn, d)					\
	cmocka_unit_test_prestate_setup_teardown(fn, NULL,		\
		harness_fixture_teardown, (d))

/* Is the daemon still running? */
bool harness_alive(struct daemon_proc *d);

/*
 * A fixture's teardown: stop the daemon if it still runs (its exit
 * status, as harness_stop), else remove its directory (0).
 */
int harness_finish(struct daemon_proc *d);

/*
 * Run fn(arg) in a child process and return its pid.  The child exits with
 * fn's return value; a child that crashes (its faults have their default
 * action, not cmocka's handlers) is seen through harness_wait.
 */
pid_t harness_spawn(int (*fn)(void *), void *arg);

/*
 * A child that works until the test says stop: fn(arg) calls
 * harness_child_ready, writes a byte on out[1] once it works, and at a
 * byte on stop[0] writes its report on out[1] and ends.
 */
struct harness_child {
	pid_t pid;
	int stop[2];		/* a byte: stop */
	int out[2];		/* a byte once it works; then its report */
};
/*
 * Make k's pipes, spawn fn(arg) and wait for its first byte; the test
 * fails if it never comes.
 */
void harness_child_start(struct harness_child *k, int (*fn)(void *),
			 void *arg);
/* In the child: close the test's ends of the pipes. */
void harness_child_ready(struct harness_child *k);
/*
 * Tell it to stop and read len bytes of its report: 0, or -1 if it did
 * not send them (harness_wait then says how it ended).  The pipes are
 * closed; the child is still to be waited for.
 */
int harness_child_stop(struct harness_child *k, void *report, size_t len);

/*
 * A copy of the build's poolmgrd, for a test that changes what is at the
 * daemon's path: a new directory in dir (/tmp/poolmgr-bin.XXXXXX, dirlen
 * bytes), the copy's path in bin.  harness_remove_binary(dir) takes the
 * directory away; it does nothing where dir is empty.
 */
void harness_copy_binary(char *dir, size_t dirlen, char *bin, size_t binlen);
void harness_remove_binary(const char *dir);

/*
 * One thread of a busy client (a child that works on a pool from several
 * threads across a restart): its pool, its number, the flag that stops
 * it, and what it did.
 */
struct harness_busy {
	struct pool *p;
	int id;
	volatile int *stop;
	uint64_t rounds, errors;
};

#define HARNESS_BUSY_MAX 8	/* threads of one busy client */

/* An error of b's: counted, and the first one said on stderr. */
void harness_busy_error(struct harness_busy *b, const char *what, int rc);

/*
 * In the busy client's child: n threads of fn on b[0..n-1] (pool p, ids
 * 0..n-1); a byte on go_fd once they run; at a byte on stop_fd, they stop
 * and their rounds and errors are added into sum.  0, or the child's exit
 * status: code if a thread did not start, code + 1 or + 2 if the byte
 * was not written or read.
 */
int harness_busy_run(struct harness_busy *b, int n, struct pool *p,
		     void *(*fn)(void *), int go_fd, int stop_fd,
		     uint64_t sum[2], int code);

/*
 * Like harness_spawn, but the child first drops to uid/gid (the test runs
 * as root).  Returns -1 when not root: the caller should skip.
 */
pid_t harness_spawn_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);

/*
 * Wait for a child: returns its exit code, or 128 + signal if it was
 * killed by one.
 */
int harness_wait(pid_t pid);

/*
 * Skip the calling cmocka test unless the process runs as root (it must
 * become another uid, or see what only root may); says why: "not root:
 * cannot WHAT; skipping".
 */
void harness_skip_unless_root(const char *what);

/* Run a shell command line; returns its exit status, output in out. */
int harness_run(const char *cmd, char *out, size_t outlen);

/*
 * Run "ENV poolctl ARGS" of this build (env may be NULL; ARGS, from fmt,
 * is a shell command line) beside daemon d: stdout in out, stderr in err;
 * returns the exit code.  The daemon's socket is $POOLMGRD_SOCKET, which
 * harness_start sets, unless env or ARGS say otherwise.
 */
int harness_poolctl(const struct daemon_proc *d, const char *env, char *out,
		    size_t outlen, char *err, size_t errlen, const char *fmt,
		    ...) __attribute__((format(printf, 7, 8)));
/*
 * The requests `poolctl ARGS` (a command line, as harness_poolctl's) made
 * of daemon d beyond those of `poolctl list`, which connects and lists
 * the pools the same way: the daemon's count of requests answered, read
 * on c, around each.  Both must exit 0, else the test fails with what
 * they printed; ARGS's stdout and stderr are left in out and err.
 */
uint64_t harness_poolctl_requests_beyond_list(const struct daemon_proc *d,
					      struct pool_conn *c,
					      const char *args, char *out,
					      size_t outlen, char *err,
					      size_t errlen);

/*
 * In a child process (it changes the child's mounts): /etc/group as it is
 * plus a group "pmbig" of gid and members members ("member0000", ...),
 * bound over /etc/group in a mount namespace of the child's own, so that
 * nothing outside sees it: a group whose entry passes the buffers that
 * fit ordinary ones.  0 when it holds, else 99.
 */
int harness_big_group(unsigned gid, int members);

#endif /* POOLMGR_HARNESS_H */
