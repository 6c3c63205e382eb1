/*
 * itest_systemd.c - poolmgrd under systemd's protocols, without a running
 * systemd:
 *
 *   socket activation  started by systemd-socket-activate --seqpacket, the
 *                      daemon serves on the socket it was passed (and binds
 *                      none of its own), then stops with exit 0 on SIGTERM
 *                      and leaves the passed socket in place;
 *   readiness          on a NOTIFY_SOCKET of our own: READY=1 with STATUS=
 *                      comes only when a client can connect at once and see
 *                      the configured pools; SIGHUP gives RELOADING=1 with
 *                      MONOTONIC_USEC=, then READY=1 once the new pools
 *                      exist; SIGTERM gives STOPPING=1 and exit 0;
 *   watchdog           WATCHDOG_USEC=200000 gives WATCHDOG=1 every 100 ms;
 *   fd store           with FDSTORE= set, SIGTERM pushes the state, each
 *                      pool and each connection (and the daemon's own
 *                      socket, never systemd's), each named, and a start
 *                      given them back in another order restores them: a
 *                      client carries on across the stop; a connection
 *                      dropped from the store (its client hung up) is
 *                      closed alone; a client with thousands of replies
 *                      unread is stored with them, not dropped, and
 *                      reads every one, in order, after the start, the
 *                      replies that pass descriptors too (a destroyed
 *                      pool's memory stored as reply.<i>, the pools'
 *                      not twice); a connection kept for descriptors
 *                      its client has not read stays in the store
 *                      though it reads POLLHUP (FDPOLL=0; the store
 *                      drops what does, as systemd's), the next start
 *                      counts it and leaves it there until its client
 *                      closes; a store without a pool is refused
 *                      whole; a holder's share map from before the stop
 *                      still reads shared for a block another retains,
 *                      and is replaced by the new start's on the handle's
 *                      next free (its frees kept again); every name goes
 *                      out of the store after READY=1; a stop that waits
 *                      for memory going back in steps says it is a stop
 *                      that waits.  Without FDSTORE=, or with too small a
 *                      one, nothing is pushed and the stop frees all.
 *
 * Every notification must come from the daemon's own pid (NotifyAccess=main).
 * Every wait has a deadline, and an alarm kills the daemons and fails the
 * run if something still hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "harness_store.h"
#include "poolclient.h"

/* Generous for a daemon under ASan; nothing waits this long when it works. */
#define START_TIMEOUT_MS	10000
#define EVENT_TIMEOUT_MS	5000
#define STOP_TIMEOUT_MS		10000
/* Each test must be done long before this. */
#define GUARD_SEC		45

#define WATCHDOG_USEC		200000
#define WATCHDOG_WINDOW_MS	1000

/* Processes the alarm kills if a test hangs. */
static volatile pid_t guarded[2];

static void
on_guard_alarm(int sig)
{
	static const char msg[] = "itest_systemd: timed out; killing the "
				  "daemons\n";
	size_t i;

	(void)sig;
	for (i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++)
		if (guarded[i] > 0)
			kill(guarded[i], SIGKILL);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

static void
guard(int slot, pid_t pid)
{
	guarded[slot] = pid;
}

/* Arm the alarm for one test; 0 disarms it. */
static void
guard_test(unsigned sec)
{
	signal(SIGALRM, on_guard_alarm);
	alarm(sec);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long long
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull +
	       (unsigned long long)ts.tv_nsec / 1000;
}

/*
 * Wait up to timeout_ms for pid to exit: its exit code, 128 + signal, or
 * -1 after killing it when it did not exit in time.
 */
static int
wait_exit(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			break;
		harness_sleep_ms(10);
	}
	fprintf(stderr, "pid %d did not exit in %d ms; killing it\n",
		(int)pid, timeout_ms);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void
print_file(const char *what, const char *path)
{
	char cmd[256];

	fprintf(stderr, "--- %s (%s):\n", what, path);
	snprintf(cmd, sizeof(cmd), "cat %s >&2", path);
	if (system(cmd) == -1)
		perror("system");
}

static void
remove_tree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) == -1)
		perror("system");
}

static bool
file_contains(const char *path, const char *needle)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, needle) != NULL;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The full path of prog found in $PATH, or false. */
static bool
find_in_path(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096], *dir, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s",
		 path && *path ? path : "/usr/bin:/bin");
	for (dir = strtok_r(dirs, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, len, "%s/%s", dir, prog);
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/*
 * A line of a notification: for "READY=1" the exact line, for a key ending
 * in '=' the value after it.  NULL if the message has no such line.
 */
static const char *
notify_line(const char *msg, const char *want)
{
	size_t n = strlen(want);
	const char *line = msg;

	while (line && *line) {
		if (strncmp(line, want, n) == 0 &&
		    (want[n - 1] == '=' || line[n] == '\n' || line[n] == '\0'))
			return line + n;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

/* One daemon started by hand, as systemd would with Type=notify. */
struct notified {
	char dir[64];
	char sock[96], conf[96], log[96], notify[96];
	int nfd;		/* our NOTIFY_SOCKET, SO_PASSCRED on */
	pid_t pid;
	unsigned watchdogs;	/* WATCHDOG=1 received so far */
	bool foreign;		/* a message from another pid came */
};

static void
notified_init(struct notified *n, const char *config)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int one = 1;

	memset(n, 0, sizeof(*n));
	n->nfd = -1;
	snprintf(n->dir, sizeof(n->dir), "/tmp/poolmgr-sd.XXXXXX");
	assert_non_null(mkdtemp(n->dir));
	snprintf(n->sock, sizeof(n->sock), "%s/poolmgrd.sock", n->dir);
	snprintf(n->conf, sizeof(n->conf), "%s/poolmgrd.conf", n->dir);
	snprintf(n->log, sizeof(n->log), "%s/poolmgrd.log", n->dir);
	snprintf(n->notify, sizeof(n->notify), "%s/notify.sock", n->dir);
	write_file(n->conf, config);

	n->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(n->nfd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", n->notify);
	assert_int_equal(bind(n->nfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(setsockopt(n->nfd, SOL_SOCKET, SO_PASSCRED, &one,
				    sizeof(one)), 0);
}

/* In the child: the environment systemd would give, then exec poolmgrd. */
static void
exec_notified(const struct notified *n, unsigned long watchdog_usec)
{
	char bin[256], val[32];
	int fd = open(n->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0)
		dup2(fd, 2);
	/* Nothing of the environment we may run in ourselves. */
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	setenv("NOTIFY_SOCKET", n->notify, 1);
	if (watchdog_usec) {
		snprintf(val, sizeof(val), "%lu", watchdog_usec);
		setenv("WATCHDOG_USEC", val, 1);
		snprintf(val, sizeof(val), "%d", (int)getpid());
		setenv("WATCHDOG_PID", val, 1);
	}
	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	execl(bin, "poolmgrd", "--verbose", "--socket", n->sock, "--config",
	      n->conf, (char *)NULL);
	_exit(127);
}

static void
notified_start(struct notified *n, unsigned long watchdog_usec)
{
	n->pid = fork();
	assert_true(n->pid >= 0);
	if (n->pid == 0)
		exec_notified(n, watchdog_usec);
	guard(0, n->pid);
}

/*
 * Receive one notification into buf within timeout_ms: 0, or -1 on
 * timeout.  Counts WATCHDOG=1 and notes messages not from the daemon.
 */
static int
notified_recv(struct notified *n, int timeout_ms, char *buf, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct pollfd pfd = {.fd = n->nfd, .events = POLLIN};
	struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cm;
	struct ucred cred = {0};
	ssize_t got;

	if (timeout_ms < 0)
		timeout_ms = 0;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	got = recvmsg(n->nfd, &msg, MSG_DONTWAIT);
	if (got < 0)
		return -1;
	buf[got] = '\0';
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS)
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
	if (cred.pid != n->pid) {
		fprintf(stderr, "notification from pid %d, not the daemon's "
			"%d: %s\n", (int)cred.pid, (int)n->pid, buf);
		n->foreign = true;
	}
	if (notify_line(buf, "WATCHDOG=1"))
		n->watchdogs++;
	return 0;
}

/*
 * Receive until a message with line want arrives (kept in buf), skipping
 * others; 0, or -1 when none came within timeout_ms.
 */
static int
notified_wait(struct notified *n, const char *want, int timeout_ms,
	      char *buf, size_t len)
{
	long long deadline = now_ms() + timeout_ms;

	while (notified_recv(n, (int)(deadline - now_ms()), buf, len) == 0)
		if (notify_line(buf, want))
			return 0;
	fprintf(stderr, "no %s within %d ms\n", want, timeout_ms);
	print_file("poolmgrd's log", n->log);
	return -1;
}

/* SIGTERM: STOPPING=1, then exit 0. */
static void
notified_stop(struct notified *n)
{
	char msg[1024];
	int rc;

	assert_int_equal(kill(n->pid, SIGTERM), 0);
	assert_int_equal(notified_wait(n, "STOPPING=1", EVENT_TIMEOUT_MS, msg,
				       sizeof(msg)), 0);
	rc = wait_exit(n->pid, STOP_TIMEOUT_MS);
	n->pid = 0;
	guard(0, 0);
	if (rc != 0) {
		print_file("poolmgrd's log", n->log);
		fail_msg("poolmgrd stopped with %d after SIGTERM, not 0", rc);
	}
}

static int
notified_teardown(void **state)
{
	struct notified *n = *state;

	if (!n)
		return 0;
	if (n->pid > 0) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
		guard(0, 0);
	}
	harness_close_fd(&n->nfd);
	if (n->dir[0])
		remove_tree(n->dir);
	free(n);
	*state = NULL;
	guard_test(0);
	return 0;
}

static int
notified_setup(void **state)
{
	struct notified *n = calloc(1, sizeof(*n));

	if (!n)
		return -1;
	n->nfd = -1;
	*state = n;
	guard_test(GUARD_SEC);
	return 0;
}

/*
 * READY=1 means ready: a client connecting at that moment, without retry,
 * finds the socket and the pools of the configuration.
 */
static void
ready_reload_stop(void **state)
{
	struct notified *n = *state;
	struct pool_conn *c;
	struct pool_stats st;
	char msg[1024];
	const char *status, *usec;
	unsigned long long before, after, stamp;

	notified_init(n, "[daemon]\nsocket_mode = 0666\n"
			 "[pool ready]\nsize = 1M\n");
	notified_start(n, 0);
	assert_int_equal(notified_wait(n, "READY=1", START_TIMEOUT_MS, msg,
				       sizeof(msg)), 0);
	EXPECT_RC(pool_connect(n->sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "ready", &st), 0);
	assert_int_equal(st.max_size, 1 << 20);
	status = notify_line(msg, "STATUS=");
	if (!status)
		fail_msg("READY=1 without STATUS=: '%s'", msg);
	print_message("READY=1 with STATUS=%.*s\n", (int)strcspn(status, "\n"),
		      status);
	assert_non_null(strstr(status, "1 pool,"));

	/* Reload: RELOADING=1 stamped now, READY=1 once the new pool exists. */
	write_file(n->conf, "[daemon]\nsocket_mode = 0666\n"
			    "[pool ready]\nsize = 1M\n"
			    "[pool added]\nsize = 2M\n");
	before = now_usec();
	assert_int_equal(kill(n->pid, SIGHUP), 0);
	assert_int_equal(notified_wait(n, "RELOADING=1", EVENT_TIMEOUT_MS, msg,
				       sizeof(msg)), 0);
	after = now_usec();
	usec = notify_line(msg, "MONOTONIC_USEC=");
	if (!usec)
		fail_msg("RELOADING=1 without MONOTONIC_USEC=: '%s'", msg);
	stamp = strtoull(usec, NULL, 10);
	if (stamp < before || stamp > after)
		fail_msg("MONOTONIC_USEC=%llu is not between %llu and %llu",
			 stamp, before, after);
	assert_int_equal(notified_wait(n, "READY=1", EVENT_TIMEOUT_MS, msg,
				       sizeof(msg)), 0);
	EXPECT_RC(pool_stats_by_name(c, "added", &st), 0);
	assert_int_equal(st.max_size, 2 << 20);
	assert_non_null(notify_line(msg, "STATUS="));
	pool_disconnect(c);

	notified_stop(n);
	assert_int_equal(n->watchdogs, 0);	/* no WATCHDOG_USEC, no pings */
	assert_false(n->foreign);
}

/* WATCHDOG_USEC=200000: pings at half of it, from the daemon's pid. */
static void
watchdog_pings(void **state)
{
	struct notified *n = *state;
	char msg[1024];
	long long deadline;

	notified_init(n, "[daemon]\nsocket_mode = 0666\n"
			 "[pool dog]\nsize = 1M\n");
	notified_start(n, WATCHDOG_USEC);
	assert_int_equal(notified_wait(n, "READY=1", START_TIMEOUT_MS, msg,
				       sizeof(msg)), 0);
	deadline = now_ms() + WATCHDOG_WINDOW_MS;
	while (n->watchdogs < 2 &&
	       notified_recv(n, (int)(deadline - now_ms()), msg,
			     sizeof(msg)) == 0)
		;
	if (n->watchdogs < 2) {
		print_file("poolmgrd's log", n->log);
		fail_msg("%u WATCHDOG=1 within %d ms of READY=1, expected 2 "
			 "or more", n->watchdogs, WATCHDOG_WINDOW_MS);
	}
	print_message("%u WATCHDOG=1 within %d ms of READY=1\n", n->watchdogs,
		      WATCHDOG_WINDOW_MS);
	notified_stop(n);
	assert_false(n->foreign);
}

/* A client's whole round on the activated daemon, in a child process. */
struct activated {
	char dir[64];
	char sock[96];		/* systemd-socket-activate listens here */
	char fallback[96];	/* --socket: must never be created */
	char log[96];		/* its and then the daemon's stderr */
	pid_t pid;
};

static int
client_round(void *arg)
{
	const struct activated *a = arg;
	struct pool_create_opts o = {.max_size = 1 << 20, .mode = 0600};
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	CHECK_RC(pool_connect(a->sock, &c), 0, 10);
	CHECK_RC(pool_create(c, "activated", &o), 0, 11);
	CHECK_RC(pool_open(c, "activated", &p), 0, 12);
	CHECK_RC(pool_alloc(p, 4096, &off), 0, 13);
	memset(pool_ptr(p, off), 0x5a, 4096);
	CHECK_RC(pool_free(p, off), 0, 14);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* "NAME=value" for -E when NAME is set: sanitizer options reach the daemon. */
static void
add_setenv(const char **argv, int *argc, char *buf, size_t len,
	   const char *name)
{
	const char *v = getenv(name);

	if (!v)
		return;
	snprintf(buf, len, "%s=%s", name, v);
	argv[(*argc)++] = "-E";
	argv[(*argc)++] = buf;
}

static void
exec_activate(const struct activated *a, const char *activate)
{
	static char env[3][1024];
	const char *argv[16];
	char bin[256];
	int argc = 0, fd;

	fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0)
		dup2(fd, 2);
	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	argv[argc++] = "systemd-socket-activate";
	argv[argc++] = "--seqpacket";
	argv[argc++] = "-l";
	argv[argc++] = a->sock;
	add_setenv(argv, &argc, env[0], sizeof(env[0]), "ASAN_OPTIONS");
	add_setenv(argv, &argc, env[1], sizeof(env[1]), "UBSAN_OPTIONS");
	add_setenv(argv, &argc, env[2], sizeof(env[2]), "LSAN_OPTIONS");
	argv[argc++] = bin;
	argv[argc++] = "--verbose";
	argv[argc++] = "--socket";
	argv[argc++] = a->fallback;
	argv[argc] = NULL;
	execv(activate, (char *const *)argv);
	_exit(127);
}

/* Wait for systemd-socket-activate to create its socket. */
static bool
wait_socket(const struct activated *a)
{
	long long deadline = now_ms() + START_TIMEOUT_MS;
	struct stat sb;
	int status;

	while (now_ms() < deadline) {
		/*
		 * The file exists from bind(); a connect before listen() is
		 * refused.  systemd-socket-activate says "Listening" after.
		 */
		if (stat(a->sock, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
		    file_contains(a->log, "Listening on"))
			return true;
		if (waitpid(a->pid, &status, WNOHANG) != 0)
			return false;
		harness_sleep_ms(10);
	}
	return false;
}

static int
activated_setup(void **state)
{
	struct activated *a = calloc(1, sizeof(*a));

	if (!a)
		return -1;
	snprintf(a->dir, sizeof(a->dir), "/tmp/poolmgr-sd.XXXXXX");
	if (!mkdtemp(a->dir)) {
		free(a);
		return -1;
	}
	snprintf(a->sock, sizeof(a->sock), "%s/activated.sock", a->dir);
	snprintf(a->fallback, sizeof(a->fallback), "%s/fallback.sock", a->dir);
	snprintf(a->log, sizeof(a->log), "%s/poolmgrd.log", a->dir);
	*state = a;
	guard_test(GUARD_SEC);
	return 0;
}

static int
activated_teardown(void **state)
{
	struct activated *a = *state;

	if (a->pid > 0) {
		kill(a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
		guard(0, 0);
	}
	remove_tree(a->dir);
	free(a);
	*state = NULL;
	guard_test(0);
	return 0;
}

/*
 * systemd-socket-activate waits for the first connection, then execs the
 * daemon in its own process with LISTEN_FDS=1 and LISTEN_PID set: the pid
 * we started is the daemon's from then on.
 */
static void
socket_activation(void **state)
{
	struct activated *a = *state;
	char activate[512];
	struct stat sb;
	pid_t client;
	int rc;

	if (!find_in_path("systemd-socket-activate", activate,
			  sizeof(activate)))
		fail_msg("systemd-socket-activate is not in PATH: install "
			 "systemd (make test-deps)");
	a->pid = fork();
	assert_true(a->pid >= 0);
	if (a->pid == 0)
		exec_activate(a, activate);
	guard(0, a->pid);
	if (!wait_socket(a)) {
		print_file("systemd-socket-activate's log", a->log);
		fail_msg("systemd-socket-activate did not listen on %s",
			 a->sock);
	}

	client = harness_spawn(client_round, a);
	assert_true(client > 0);
	guard(1, client);
	rc = wait_exit(client, START_TIMEOUT_MS);
	guard(1, 0);
	if (rc != 0) {
		print_file("systemd-socket-activate's and poolmgrd's log",
			   a->log);
		if (rc == -1)
			fail_msg("the client had no answer on %s within %d ms",
				 a->sock, START_TIMEOUT_MS);
		fail_msg("the client's round on %s failed: exit %d", a->sock,
			 rc);
	}
	assert_true(file_contains(a->log, "on the socket systemd passed"));
	assert_int_equal(stat(a->fallback, &sb), -1);

	assert_int_equal(kill(a->pid, SIGTERM), 0);
	rc = wait_exit(a->pid, STOP_TIMEOUT_MS);
	a->pid = 0;
	guard(0, 0);
	if (rc != 0) {
		print_file("poolmgrd's log", a->log);
		fail_msg("poolmgrd stopped with %d after SIGTERM, not 0", rc);
	}
	/* The socket belongs to whoever passed it: the daemon leaves it. */
	assert_int_equal(stat(a->sock, &sb), 0);
}

/*
 * systemd's fd store, played here: a listening socket of our own passed
 * as poolmgrd.socket's, FDSTORE= in the environment as the unit sets it,
 * every notification received, and the store's table harness_store.c's,
 * which applies it as systemd does: each FDSTORE=1 descriptor kept under
 * its FDNAME= (a file it holds already kept once), each FDSTOREREMOVE=1
 * applied, a descriptor that reads POLLHUP dropped unless pushed with
 * FDPOLL=0, and what it holds kept across the service's starts.  A start
 * is given exactly those descriptors and names, in another order.  What
 * is "left in the store" or "removed" is what the table holds.
 */
#define STORE_FDS	1796	/* FileDescriptorStoreMax= of the unit */

struct store {
	struct notified n;
	int lfd;		/* "poolmgrd.socket" */
	/* What systemd's store holds: only its table is used. */
	struct harness_store held;
};

/* The crash journal's names (itest_recover.c tests those). */
static bool
journal_name(const char *name)
{
	return strncmp(name, "keep.", 5) == 0 ||
	       strncmp(name, "journal.", 8) == 0;
}

/* How many descriptors the store holds, the crash journal's aside. */
static unsigned
stored_count(const struct store *st)
{
	unsigned i, k = 0;

	for (i = 0; i < st->held.n; i++)
		k += !journal_name(st->held.name[i]);
	return k;
}

static bool
stored_name(const struct store *st, const char *name)
{
	return harness_store_find(&st->held, name) >= 0;
}

/* What the store holds, the crash journal's aside, on the test's output. */
static void
print_stored(const struct store *st, const char *what)
{
	char names[1024] = "";
	unsigned i;

	for (i = 0; i < st->held.n; i++)
		if (!journal_name(st->held.name[i]))
			snprintf(names + strlen(names),
				 sizeof(names) - strlen(names), "%s:",
				 st->held.name[i]);
	print_message("%s: %s\n", what, names);
}

/*
 * One notification, applied to the store as systemd applies it; an
 * FDSTORE=1 must carry one descriptor and a name, and nothing else a
 * descriptor.  0, or -1 on timeout.
 */
static int
store_recv(struct store *st, int timeout_ms, char *buf, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct pollfd pfd = {.fd = st->n.nfd, .events = POLLIN};
	struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cm;
	const char *name;
	ssize_t got;
	int fd = -1;

	if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) != 1)
		return -1;
	got = recvmsg(st->n.nfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (got < 0)
		return -1;
	buf[got] = '\0';
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS) {
			assert_int_equal(cm->cmsg_len, CMSG_LEN(sizeof(int)));
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		}
	name = notify_line(buf, "FDNAME=");
	if (notify_line(buf, "FDSTORE=1")) {
		if (fd < 0 || !name)
			fail_msg("FDSTORE=1 without a descriptor or FDNAME=: "
				 "'%s'", buf);
		assert_int_equal(strchr(name, ':'), NULL);
	} else if (fd >= 0)
		fail_msg("a descriptor with '%s'", buf);
	if (notify_line(buf, "FDSTOREREMOVE=1"))
		assert_non_null(name);
	harness_store_apply(&st->held, buf, fd);
	return 0;
}

/*
 * Apply what the daemon sends until the store no longer holds name: 0,
 * or -1 if it still does after timeout_ms.
 */
static int
store_wait_gone(struct store *st, const char *name, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char msg[1024];

	while (stored_name(st, name))
		if (store_recv(st, (int)(deadline - now_ms()), msg,
			       sizeof(msg)) != 0) {
			print_stored(st, "still in the store");
			return -1;
		}
	return 0;
}

static int
store_wait(struct store *st, const char *want, int timeout_ms, char *buf,
	   size_t len)
{
	long long deadline = now_ms() + timeout_ms;

	while (store_recv(st, (int)(deadline - now_ms()), buf, len) == 0)
		if (notify_line(buf, want))
			return 0;
	fprintf(stderr, "no %s within %d ms\n", want, timeout_ms);
	print_file("poolmgrd's log", st->n.log);
	return -1;
}

/*
 * In the child: as systemd starts the service, the socket first, then
 * the store's descriptors (last received first: its order is not ours).
 */
static void
exec_stored(const struct store *st, const char *fdstore)
{
	char bin[256], val[32], names[4096];
	int fd = open(st->n.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		      0644), hi[HARNESS_STORE_MAX + 1];
	unsigned i, n = 0;

	if (fd >= 0)
		dup2(fd, 2);
	names[0] = '\0';
	if (st->lfd >= 0) {	/* else it binds its own socket */
		hi[n++] = fcntl(st->lfd, F_DUPFD_CLOEXEC, 100);
		snprintf(names, sizeof(names), "poolmgrd.socket");
	}
	for (i = 0; i < st->held.n; i++) {
		unsigned k = st->held.n - 1 - i;

		hi[n++] = fcntl(st->held.fd[k], F_DUPFD_CLOEXEC, 100);
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
			 "%s%s", *names ? ":" : "", st->held.name[k]);
	}
	for (i = 0; i < n; i++)
		dup2(hi[i], 3 + (int)i);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	setenv("NOTIFY_SOCKET", st->n.notify, 1);
	if (fdstore)
		setenv("FDSTORE", fdstore, 1);
	else
		unsetenv("FDSTORE");
	snprintf(val, sizeof(val), "%d", (int)getpid());
	setenv("LISTEN_PID", val, 1);
	snprintf(val, sizeof(val), "%u", n);
	setenv("LISTEN_FDS", val, 1);
	setenv("LISTEN_FDNAMES", names, 1);
	if (n == 0) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	execl(bin, "poolmgrd", "--verbose", "--socket", st->n.sock,
	      "--config", st->n.conf, (char *)NULL);
	_exit(127);
}

/*
 * Start with the socket and what the store holds; wait for READY=1.  As
 * systemd, the store keeps its own: nothing the start was given leaves
 * it before READY=1 (the crash journal's names aside).
 */
static void
store_start(struct store *st, const char *fdstore)
{
	char given[HARNESS_STORE_MAX][sizeof(st->held.name[0])], msg[1024];
	unsigned i, n = 0;

	snprintf(st->held.fdstore, sizeof(st->held.fdstore), "%s",
		 fdstore ? fdstore : "");
	(void)harness_store_hangups(&st->held);
	for (i = 0; i < st->held.n; i++)
		if (!journal_name(st->held.name[i]))
			memcpy(given[n++], st->held.name[i], sizeof(given[0]));
	st->n.pid = fork();
	assert_true(st->n.pid >= 0);
	if (st->n.pid == 0)
		exec_stored(st, fdstore);
	guard(0, st->n.pid);
	assert_int_equal(store_wait(st, "READY=1", START_TIMEOUT_MS, msg,
				    sizeof(msg)), 0);
	for (i = 0; i < n; i++)
		if (!stored_name(st, given[i]))
			fail_msg("%s left the store before READY=1", given[i]);
}

/* SIGTERM: STOPPING=1, exit 0, then whatever is still queued. */
static void
store_stop(struct store *st)
{
	char msg[1024];
	int rc;

	assert_int_equal(kill(st->n.pid, SIGTERM), 0);
	assert_int_equal(store_wait(st, "STOPPING=1", EVENT_TIMEOUT_MS, msg,
				    sizeof(msg)), 0);
	rc = wait_exit(st->n.pid, STOP_TIMEOUT_MS);
	st->n.pid = 0;
	guard(0, 0);
	if (rc != 0) {
		print_file("poolmgrd's log", st->n.log);
		fail_msg("poolmgrd stopped with %d after SIGTERM, not 0", rc);
	}
	while (store_recv(st, 0, msg, sizeof(msg)) == 0)
		;
	(void)harness_store_hangups(&st->held);
}

/*
 * Every store test's beginning: the daemon's first start with a store of
 * STORE_FDS descriptors (val keeps that for the next start), and a
 * client with pool s open.
 */
static void
store_first_start(struct store *st, char *val, size_t len,
		  struct pool_conn **c, struct pool **p)
{
	snprintf(val, len, "%d", STORE_FDS);
	store_start(st, val);
	EXPECT_RC(pool_connect(st->n.sock, c), 0);
	EXPECT_RC(pool_open(*c, "s", p), 0);
}

static void
store_init(struct store *st, const char *config)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	notified_init(&st->n, config);
	st->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(st->lfd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", st->n.sock);
	assert_int_equal(bind(st->lfd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(chmod(st->n.sock, 0666), 0);
	assert_int_equal(listen(st->lfd, 16), 0);
}

static int
store_setup(void **state)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return -1;
	st->n.nfd = st->lfd = -1;
	st->held.nfd = st->held.lfd = -1;
	*state = st;
	guard_test(GUARD_SEC);
	return 0;
}

static int
store_teardown(void **state)
{
	struct store *st = *state;

	if (st->n.pid > 0) {
		kill(st->n.pid, SIGKILL);
		waitpid(st->n.pid, NULL, 0);
		guard(0, 0);
	}
	while (st->held.n)
		harness_store_drop(&st->held, 0);
	harness_close_fd(&st->lfd);
	harness_close_fd(&st->n.nfd);
	if (st->n.dir[0])
		remove_tree(st->n.dir);
	free(st);
	*state = NULL;
	guard_test(0);
	return 0;
}

#define STORE_CONFIG "[daemon]\nsocket_mode = 0666\n[pool s]\nsize = 4M\n"
#define STORE_RESTORED "restored from systemd's fd store: "
#define STORE_BLOCKS 8

/* store_first_start with STORE_CONFIG, and 5000 bytes at *off in s. */
static void
store_first_block(struct store *st, char *val, size_t len,
		  struct pool_conn **c, struct pool **p, pool_off_t *off)
{
	store_init(st, STORE_CONFIG);
	store_first_start(st, val, len, c, p);
	EXPECT_RC(pool_alloc(*p, 5000, off), 0);
}

/*
 * systemctl restart: SIGTERM pushes the state, the pool and the client's
 * connection (not the socket systemd passed), each named; the next start
 * given them in another order restores everything, takes every name out
 * of the store after READY=1, and the client carries on with its handle
 * and its blocks, the pool's statistics as they were.
 */
static void
fdstore_restart(void **state)
{
	struct store *st = *state;
	struct pool_stats before, after;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off[STORE_BLOCKS], more;
	char val[16];
	unsigned i;

	store_init(st, STORE_CONFIG);
	store_first_start(st, val, sizeof(val), &c, &p);
	for (i = 0; i < STORE_BLOCKS; i++) {
		EXPECT_RC(pool_alloc(p, 1000 + 20000 * i, &off[i]), 0);
		memset(pool_ptr(p, off[i]), 'a' + (int)i, 1000 + 20000 * i);
	}
	EXPECT_RC(pool_free(p, off[0]), 0);
	EXPECT_RC(pool_stats(p, &before), 0);

	store_stop(st);
	print_stored(st, "stored");
	if (stored_count(st) != 3)
		fail_msg("%u descriptors stored, expected the state, pool.0 "
			 "and conn.0", stored_count(st));
	assert_true(stored_name(st, "state"));
	assert_true(stored_name(st, "pool.0"));
	assert_true(stored_name(st, "conn.0"));
	assert_true(file_contains(st->n.log, "1 client to keep in systemd's "
				  "fd store"));
	/* Said only once the pushes have gone to systemd. */
	assert_true(file_contains(st->n.log, "systemd's fd store holds them; "
				  "a start that follows restores them"));

	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	/* Those are SIGUSR2's words: this start did not exec. */
	assert_false(file_contains(st->n.log, "restarted in place"));
	/* After READY=1: every name out of the store. */
	assert_int_equal(store_wait_gone(st, "state", EVENT_TIMEOUT_MS), 0);
	assert_int_equal(store_wait_gone(st, "pool.0", EVENT_TIMEOUT_MS), 0);
	assert_int_equal(store_wait_gone(st, "conn.0", EVENT_TIMEOUT_MS), 0);
	print_stored(st, "left in the store");
	assert_int_equal(stored_count(st), 0);

	/* The client: same connection, handle and blocks. */
	EXPECT_RC(pool_stats(p, &after), 0);
	assert_int_equal(after.allocated_bytes, before.allocated_bytes);
	assert_int_equal(after.requested_bytes, before.requested_bytes);
	assert_int_equal(after.live_blocks, before.live_blocks);
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.frees, before.frees);
	assert_int_equal(after.clients, before.clients);
	for (i = 1; i < STORE_BLOCKS; i++) {
		const unsigned char *b = pool_ptr(p, off[i]);
		size_t k, len = 1000 + 20000 * i;

		for (k = 0; k < len; k++)
			if (b[k] != 'a' + i)
				fail_msg("block %u byte %zu: %#x after the "
					 "restart", i, k, b[k]);
	}
	EXPECT_RC(pool_free(p, off[1]), 0);
	EXPECT_RC(pool_free(p, off[0]), -EINVAL);	/* freed before */
	EXPECT_RC(pool_alloc(p, 4096, &more), 0);
	EXPECT_RC(pool_stats(p, &after), 0);
	/* Frees the client had cached may go to the daemon now too. */
	assert_true(after.frees > before.frees);
	pool_close(p);
	pool_disconnect(c);
	assert_false(st->n.foreign);
}

#define UNREAD 3000
#define UNREAD_ID 500000

/*
 * systemctl restart with a client that does not read: its replies go to
 * the store with its connection (not a reason to wait, nor to drop it),
 * and the next start sends them first; the client reads every one, in
 * order, then carries on.
 */
static void
fdstore_unread_replies_kept(void **state)
{
	struct store *st = *state;
	uint64_t off, usable;
	char val[16];
	uint32_t h;
	int slow;

	store_init(st, STORE_CONFIG);
	snprintf(val, sizeof(val), "%d", STORE_FDS);
	store_start(st, val);
	slow = harness_raw_client(st->n.sock, "slow");
	h = harness_raw_handle(slow, "s");
	EXPECT_RAW(harness_raw_alloc(slow, h, 1000, &off, &usable), 0);
	assert_int_equal(harness_raw_flood(slow, h, off, UNREAD, UNREAD_ID),
			 UNREAD);
	harness_sleep_ms(200);	/* the daemon answers what it read */

	store_stop(st);
	if (file_contains(st->n.log, "dropping"))
		fail_msg("the client that does not read was dropped");
	assert_true(stored_name(st, "conn.0"));
	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	assert_true(file_contains(st->n.log, "carried over"));
	assert_int_equal(harness_raw_flood_replies(slow, UNREAD, UNREAD_ID,
						   usable), UNREAD);
	EXPECT_RAW(harness_raw_free(slow, h, off), 0);
	close(slow);
	store_stop(st);
}

/* An OpenPool of pool, its reply (memfd and share map) left unread. */
static void
post_open(int fd, const char *pool, uint64_t id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;

	o.name = (char *)pool;
	o.want_share_map = true;
	req.id = id;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	assert_int_equal(harness_raw_send(fd, &req), 0);
}

/* Its reply after the start: the memfd of a pool whose block at off
 * reads text. */
static uint32_t
open_reply_reads(int fd, uint64_t id, pool_off_t off, const char *text)
{
	Poolmgr__Reply *rep;
	uint32_t h;
	int fds[2], n = 0;
	char *m;

	rep = harness_raw_reply_fds(fd, id, EVENT_TIMEOUT_MS, fds, 2, &n);
	assert_non_null(rep);
	assert_int_equal(rep->error, 0);
	assert_int_equal(n, 2);
	m = mmap(NULL, rep->open->max_size, PROT_READ, MAP_SHARED, fds[0], 0);
	assert_true(m != MAP_FAILED);
	assert_string_equal(m + off, text);
	munmap(m, rep->open->max_size);
	h = rep->open->handle;
	close(fds[0]);
	close(fds[1]);
	poolmgr__reply__free_unpacked(rep, NULL);
	return h;
}

/*
 * The same with the client's last replies opens, which pass descriptors:
 * one of pool s, one of a pool destroyed since.  The stop waits for
 * nobody; s's memfd goes to the store once, as pool.0, the destroyed
 * pool's as reply.<i>; after the start the client gets each open's
 * memory, s's handle works and the other's is gone.
 */
static void
fdstore_unread_descriptors_kept(void **state)
{
	struct pool_create_opts co = {.max_size = 1 << 20, .mode = 0666};
	struct store *st = *state;
	struct pool_conn *c;
	struct pool *p, *g;
	pool_off_t soff, goff;
	uint64_t off, usable, more;
	char val[16];
	uint32_t h, hs, hg;
	int slow;
	struct pool_client_info *ci;
	size_t n = 0;

	store_init(st, STORE_CONFIG);
	store_first_start(st, val, sizeof(val), &c, &p);
	EXPECT_RC(pool_alloc(p, 64, &soff), 0);
	strcpy(pool_ptr(p, soff), "pool s");
	EXPECT_RC(pool_create(c, "gone", &co), 0);
	EXPECT_RC(pool_open(c, "gone", &g), 0);
	EXPECT_RC(pool_alloc(g, 64, &goff), 0);
	strcpy(pool_ptr(g, goff), "pool gone");
	slow = harness_raw_client(st->n.sock, "slow");
	h = harness_raw_handle(slow, "s");
	EXPECT_RAW(harness_raw_alloc(slow, h, 1000, &off, &usable), 0);
	assert_int_equal(harness_raw_flood(slow, h, off, UNREAD, UNREAD_ID),
			 UNREAD);
	post_open(slow, "s", UNREAD_ID + UNREAD);
	post_open(slow, "gone", UNREAD_ID + UNREAD + 1);
	/* Both served once the second shows. */
	for (int i = 0; i < 2000 && n != 2; i++) {
		EXPECT_RC(pool_clients(c, "gone", &ci, &n), 0);
		free(ci);
		harness_sleep_ms(5);
	}
	assert_int_equal(n, 2);
	pool_close(g);
	EXPECT_RC(pool_destroy_force(c, "gone"), 0);

	store_stop(st);
	if (file_contains(st->n.log, "dropping"))
		fail_msg("the client that does not read was dropped");
	print_stored(st, "stored");
	assert_true(stored_name(st, "pool.0"));
	assert_true(stored_name(st, "reply.0"));
	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	assert_int_equal(harness_raw_flood_replies(slow, UNREAD, UNREAD_ID,
						   usable), UNREAD);
	hs = open_reply_reads(slow, UNREAD_ID + UNREAD, soff, "pool s");
	hg = open_reply_reads(slow, UNREAD_ID + UNREAD + 1, goff,
			      "pool gone");
	EXPECT_RAW(harness_raw_alloc(slow, hs, 64, &more, NULL), 0);
	EXPECT_RAW(harness_raw_free(slow, hs, more), 0);
	EXPECT_RAW(harness_raw_alloc(slow, hg, 64, &more, NULL), -EBADF);
	EXPECT_RAW(harness_raw_free(slow, h, off), 0);
	EXPECT_RC(pool_free(p, soff), 0);
	close(slow);
	pool_close(p);
	pool_disconnect(c);
	store_stop(st);
}

/* The daemon's kept connections, as its statistics say them. */
static uint32_t
kept_now(const char *sock)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	EXPECT_RC(pool_connect(sock, &c), 0);
	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	pool_disconnect(c);
	return ds.kept_connections;
}

/*
 * A connection let go of while its open's reply, a memfd in it, is
 * unread is kept (peer.c): its descriptors stay in flight, counted
 * against the daemon's uid, until the client reads them or closes.  It
 * is in the store as "unread.0" at the stop, and the next start counts
 * it still.  It went to the store as systemd polls it, and the daemon
 * had shut it down both ways: POLLHUP at once, and systemd dropped it,
 * so the next start counted none.  Now it is pushed with FDPOLL=0, and
 * counted until its client closes; the start leaves it in the store
 * (a crash after it must find it), and it leaves once its client closes.
 */
static void
fdstore_kept_connection_counted(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	struct store *st = *state;
	struct pool_conn *c;
	struct pool *p;
	struct pollfd pfd;
	char val[16], msg[1024];
	int held;

	store_init(st, STORE_CONFIG);
	store_first_start(st, val, sizeof(val), &c, &p);
	held = harness_raw_greeted(st->n.sock, "held");
	assert_true(held >= 0);
	o.name = "s";
	o.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	assert_int_equal(harness_raw_post(held, &req), 0);
	pfd = (struct pollfd){.fd = held, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, EVENT_TIMEOUT_MS), 1);	/* unread */
	assert_int_equal(send(held, "\xff\xff\xff", 3, MSG_NOSIGNAL), 3);
	pfd = (struct pollfd){.fd = held, .events = POLLRDHUP};
	assert_int_equal(poll(&pfd, 1, EVENT_TIMEOUT_MS), 1);	/* let go */
	assert_int_equal(kept_now(st->n.sock), 1);

	store_stop(st);
	assert_true(stored_name(st, "unread.0"));
	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	assert_int_equal(kept_now(st->n.sock), 1);
	/* The start's names out of the store once ready, but that one. */
	while (store_recv(st, 0, msg, sizeof(msg)) == 0)
		;
	assert_false(stored_name(st, "state"));
	assert_true(stored_name(st, "unread.0"));

	close(held);
	assert_int_equal(kept_now(st->n.sock), 0);
	assert_int_equal(store_wait_gone(st, "unread.0", EVENT_TIMEOUT_MS), 0);
	pool_close(p);
	pool_disconnect(c);
	store_stop(st);
	assert_false(stored_name(st, "unread.0"));
}

/*
 * Without poolmgrd.socket the daemon binds its own socket: that one goes
 * to the store too (as "listen"), its file stays, and the next start
 * serves on it, the client carrying on.
 */
static void
fdstore_own_socket(void **state)
{
	struct store *st = *state;
	struct pool_stats ps;
	struct pool_conn *c, *c2;
	struct pool *p;
	pool_off_t off;
	struct stat sb;
	char val[16];

	notified_init(&st->n, STORE_CONFIG);
	store_first_start(st, val, sizeof(val), &c, &p);
	EXPECT_RC(pool_alloc(p, 5000, &off), 0);
	store_stop(st);
	assert_int_equal(stored_count(st), 4);
	assert_true(stored_name(st, "listen"));
	assert_int_equal(stat(st->n.sock, &sb), 0);

	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	EXPECT_RC(pool_stats(p, &ps), 0);
	assert_int_equal(ps.live_blocks, 1);
	EXPECT_RC(pool_connect(st->n.sock, &c2), 0);
	pool_disconnect(c2);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A stop to the store waits for the quiet moment a restart waits for,
 * here 2 GiB going back in 4 KiB steps (half a million loop turns), and
 * its log says that a stop waits, not a restart.
 */
static void
fdstore_stop_waits_as_a_stop(void **state)
{
	struct store *st = *state;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t big;
	char val[16];

	store_init(st, "[daemon]\nsocket_mode = 0666\nrelease_step = 4K\n"
		   "[pool s]\nsize = 4G\n");
	store_first_start(st, val, sizeof(val), &c, &p);
	EXPECT_RC(pool_alloc(p, 2ull << 30, &big), 0);
	EXPECT_RC(pool_free(p, big), 0);
	store_stop(st);
	if (!file_contains(st->n.log, "stop: waiting for a quiet moment: "
			   "released memory still going back") ||
	    file_contains(st->n.log, "restart: waiting")) {
		print_file("poolmgrd's log", st->n.log);
		fail_msg("the stop's wait not logged as a stop's");
	}
	assert_true(stored_name(st, "state"));
	/* The client's connection is in the store: it is served again. */
	store_start(st, val);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The share map a handle got before the stop cannot be written by the
 * next start, and the stop must not write it either once it is frozen:
 * a block another client retains must still read shared for its holder,
 * whose cache must then not keep it when it frees it, nor hand it out
 * again.
 */
static void
fdstore_share_map_kept(void **state)
{
	struct store *st = *state;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	char val[16];
	uint32_t h;
	int fd;

	store_init(st, STORE_CONFIG);
	store_first_start(st, val, sizeof(val), &c, &p);
	EXPECT_RC(pool_alloc(p, 64, &x), 0);
	fd = harness_raw_greeted(st->n.sock, "retainer");
	assert_true(fd >= 0);
	EXPECT_RAW(harness_raw_open(fd, "s", &h), 0);
	EXPECT_RAW(harness_raw_retain(fd, h, x), 0);
	store_stop(st);
	assert_int_equal(stored_count(st), 4);

	store_start(st, val);
	harness_expect_kept_shared(p, x, fd, h);
	close(fd);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The frozen map of a handle from before the stop is replaced after the
 * next start, as after SIGUSR2: the handle's next free asks for the new
 * map, its frees are kept again (with the cache on: the daemon's frees
 * counter stays), and the process maps only the new start's map.
 */
static void
fdstore_share_map_renewed(void **state)
{
	struct store *st = *state;
	struct pool_stats s0, s1;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off[STORE_BLOCKS];
	unsigned long ino0 = 0, ino1 = 0;
	char val[16];
	unsigned i;

	store_init(st, STORE_CONFIG);
	store_first_start(st, val, sizeof(val), &c, &p);
	for (i = 0; i < STORE_BLOCKS; i++)
		EXPECT_RC(pool_alloc(p, 64, &off[i]), 0);
	assert_int_equal(harness_share_maps("s", &ino0, NULL), 1);
	store_stop(st);
	store_start(st, val);

	EXPECT_RC(pool_stats(p, &s0), 0);
	for (i = 0; i < STORE_BLOCKS; i++)
		EXPECT_RC(pool_free(p, off[i]), 0);
	EXPECT_RC(pool_stats(p, &s1), 0);
	print_message("cache %s: %u frees, the daemon counted %llu\n",
		      harness_client_cache() ? "on" : "off", STORE_BLOCKS,
		      (unsigned long long)(s1.frees - s0.frees));
	if (harness_client_cache())
		assert_int_equal(s1.frees, s0.frees);
	assert_int_equal(harness_share_maps("s", &ino1, NULL), 1);
	assert_true(ino1 != ino0);
	assert_int_equal(ino1, harness_daemon_share_map(st->n.pid, "s"));
	pool_close(p);
	pool_disconnect(c);
}

/* Drop what the store holds under name, as systemd would; was it there? */
static bool
store_drop(struct store *st, const char *name)
{
	int i = harness_store_find(&st->held, name);

	if (i < 0)
		return false;
	harness_store_drop(&st->held, (unsigned)i);
	return true;
}

/* A second client: a block, then a byte on fd, then it waits to die. */
static void
other_client(const char *sock, int fd)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	if (pool_connect(sock, &c) != 0 || pool_open(c, "s", &p) != 0 ||
	    pool_alloc(p, 5000, &off) != 0 || write(fd, "k", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/*
 * A client that hangs up while the daemon is stopped: systemd drops its
 * connection from the store (POLLHUP).  The rest is restored all the
 * same, and that client's handle closes as at a disconnect: its block
 * goes.
 */
static void
fdstore_client_gone(void **state)
{
	struct store *st = *state;
	struct pool_stats before, after;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	char val[16], name[16], ok;
	unsigned i, hups = 0;
	long long deadline;
	int ready[2];
	pid_t other;

	store_first_block(st, val, sizeof(val), &c, &p, &off);
	memset(pool_ptr(p, off), 'k', 5000);
	assert_int_equal(pipe(ready), 0);
	other = fork();
	assert_true(other >= 0);
	if (other == 0)
		other_client(st->n.sock, ready[1]);
	guard(1, other);
	close(ready[1]);
	assert_int_equal(read(ready[0], &ok, 1), 1);
	close(ready[0]);
	EXPECT_RC(pool_stats(p, &before), 0);
	assert_int_equal(before.live_blocks, 2);

	store_stop(st);
	assert_int_equal(stored_count(st), 4);
	/* It hangs up: no round trip, the daemon is not there to answer. */
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	guard(1, 0);
	for (i = 0; i < 2; i++) {
		struct pollfd pfd = {.fd = -1, .events = 0};
		int k;

		snprintf(name, sizeof(name), "conn.%u", i);
		if ((k = harness_store_find(&st->held, name)) >= 0)
			pfd.fd = st->held.fd[k];
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP)) {
			assert_true(store_drop(st, name));
			hups++;
		}
	}
	assert_int_equal(hups, 1);

	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	assert_true(file_contains(st->n.log, "systemd's fd store: 1 client "
				  "hung up while the daemon was stopped"));
	deadline = now_ms() + EVENT_TIMEOUT_MS;
	do {
		EXPECT_RC(pool_stats(p, &after), 0);
		if (after.live_blocks == 1)
			break;
		harness_sleep_ms(10);
	} while (now_ms() < deadline);
	assert_int_equal(after.live_blocks, 1);
	assert_int_equal(after.clients, 1);
	assert_int_equal(((unsigned char *)pool_ptr(p, off))[4999], 'k');
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * The file broken between the stop and the start (a typo, a bad package
 * upgrade): the start restores all the same, with the pool's settings
 * from the state, says why the file is not applied, and serves the
 * client on; a SIGHUP with the file fixed applies it as usual.
 */
static void
fdstore_broken_config_kept(void **state)
{
	struct store *st = *state;
	struct pool_stats ps;
	struct pool_conn *c, *c2;
	struct pool *p;
	pool_off_t off;
	char val[16], msg[1024];

	store_first_block(st, val, sizeof(val), &c, &p, &off);
	memset(pool_ptr(p, off), 'b', 5000);
	store_stop(st);
	assert_int_equal(stored_count(st), 3);
	write_file(st->n.conf, "[daemon]\nsocket_mode = 0666\n[pool s\n");

	store_start(st, val);
	assert_true(file_contains(st->n.log, STORE_RESTORED "1 pool"));
	assert_true(file_contains(st->n.log, "poolmgrd.conf:3: syntax error; "
				  "kept the restored settings"));
	assert_true(file_contains(st->n.log, "fix the file and reload"));
	EXPECT_RC(pool_stats(p, &ps), 0);
	assert_int_equal(ps.live_blocks, 1);
	assert_int_equal(ps.max_size, 4 << 20);
	assert_int_equal(((unsigned char *)pool_ptr(p, off))[4999], 'b');
	EXPECT_RC(pool_free(p, off), 0);
	EXPECT_RC(pool_connect(st->n.sock, &c2), 0);
	EXPECT_RC(pool_stats_by_name(c2, "t", &ps), -ENOENT);

	/* Fixed: the reload applies it, a new pool with it. */
	write_file(st->n.conf, STORE_CONFIG "[pool t]\nsize = 1M\n");
	assert_int_equal(kill(st->n.pid, SIGHUP), 0);
	assert_int_equal(store_wait(st, "RELOADING=1", EVENT_TIMEOUT_MS, msg,
				    sizeof(msg)), 0);
	assert_int_equal(store_wait(st, "READY=1", EVENT_TIMEOUT_MS, msg,
				    sizeof(msg)), 0);
	EXPECT_RC(pool_stats_by_name(c2, "t", &ps), 0);
	assert_int_equal(ps.max_size, 1 << 20);
	pool_disconnect(c2);
	pool_close(p);
	pool_disconnect(c);
	store_stop(st);
}

/*
 * With nothing to restore, a broken file still stops the start: exit 1,
 * the file's error in the log, READY=1 never sent.
 */
static void
fdstore_broken_config_fresh_exits(void **state)
{
	struct store *st = *state;
	char msg[1024];
	int rc;

	store_init(st, "[pool s\n");
	st->n.pid = fork();
	assert_true(st->n.pid >= 0);
	if (st->n.pid == 0)
		exec_stored(st, "1796");
	guard(0, st->n.pid);
	rc = wait_exit(st->n.pid, STOP_TIMEOUT_MS);
	st->n.pid = 0;
	guard(0, 0);
	assert_int_equal(rc, 1);
	assert_true(file_contains(st->n.log, "poolmgrd.conf:1: syntax "
				  "error"));
	while (store_recv(st, 0, msg, sizeof(msg)) == 0)
		assert_null(notify_line(msg, "READY=1"));
}

/*
 * A store without a pool's memfd: the state is refused whole (a fresh
 * start from the file, the client's connection closed), and what there
 * was is taken out of the store all the same.
 */
static void
fdstore_incomplete_refused(void **state)
{
	struct store *st = *state;
	struct pool_stats ps;
	struct pool_conn *c, *c2;
	struct pool *p;
	pool_off_t off;
	char val[16];

	store_first_block(st, val, sizeof(val), &c, &p, &off);
	store_stop(st);
	assert_true(store_drop(st, "pool.0"));

	store_start(st, val);
	assert_true(file_contains(st->n.log, "state handed over is refused"));
	assert_int_equal(store_wait_gone(st, "state", EVENT_TIMEOUT_MS), 0);
	assert_int_equal(store_wait_gone(st, "conn.0", EVENT_TIMEOUT_MS), 0);
	print_stored(st, "left in the store");
	assert_true(pool_stats(p, &ps) < 0);
	pool_close(p);
	pool_disconnect(c);
	EXPECT_RC(pool_connect(st->n.sock, &c2), 0);
	EXPECT_RC(pool_stats_by_name(c2, "s", &ps), 0);
	assert_int_equal(ps.live_blocks, 0);
	pool_disconnect(c2);
}

/*
 * Without FDSTORE= (no FileDescriptorStoreMax=), or with too few for the
 * descriptors (3 here, FDSTORE=2): a SIGTERM pushes nothing and stops as
 * it always did, the client's connection reset.
 */
static void
no_store(struct store *st, const char *fdstore)
{
	struct pool_stats ps;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	store_init(st, STORE_CONFIG);
	store_start(st, fdstore);
	EXPECT_RC(pool_connect(st->n.sock, &c), 0);
	EXPECT_RC(pool_open(c, "s", &p), 0);
	EXPECT_RC(pool_alloc(p, 4096, &off), 0);
	store_stop(st);
	if (stored_count(st)) {
		print_stored(st, "stored");
		fail_msg("%u descriptors stored", stored_count(st));
	}
	assert_true(pool_stats(p, &ps) < 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
fdstore_unset_stores_nothing(void **state)
{
	no_store(*state, NULL);
}

static void
fdstore_too_small_stores_nothing(void **state)
{
	struct store *st = *state;

	no_store(st, "2");
	assert_true(file_contains(st->n.log, "the fd store takes 2"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(socket_activation,
						activated_setup,
						activated_teardown),
		cmocka_unit_test_setup_teardown(ready_reload_stop,
						notified_setup,
						notified_teardown),
		cmocka_unit_test_setup_teardown(watchdog_pings, notified_setup,
						notified_teardown),
		cmocka_unit_test_setup_teardown(fdstore_restart, store_setup,
						store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_own_socket,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_stop_waits_as_a_stop,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_unread_replies_kept,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_kept_connection_counted,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_unread_descriptors_kept,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_share_map_kept,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_share_map_renewed,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_client_gone,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_incomplete_refused,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_broken_config_kept,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(
		    fdstore_broken_config_fresh_exits, store_setup,
		    store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_unset_stores_nothing,
						store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(fdstore_too_small_stores_nothing,
						store_setup, store_teardown),
	};

	return cmocka_run_group_tests_name("poolmgrd under systemd", tests,
					   NULL, NULL);
}
