/*
 * harness.c - start and stop a real poolmgrd for integration tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

const char *
harness_build(void)
{
	const char *b = getenv("POOLMGR_BUILD");

	return b && *b ? b : "build";
}

char *
harness_preload(const char *name)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char so[256], opts[512], *saved = asan ? strdup(asan) : NULL;

	snprintf(so, sizeof(so), "%s/tests/%s", harness_build(), name);
	assert_int_equal(access(so, R_OK), 0);
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
		 saved ? saved : "", saved && *saved ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	setenv("LD_PRELOAD", so, 1);
	return saved;
}

void
harness_preload_off(char *saved)
{
	unsetenv("LD_PRELOAD");
	if (saved)
		setenv("ASAN_OPTIONS", saved, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
}

int
harness_exit_status(struct daemon_proc *d, int ms)
{
	int status, waited;

	for (waited = 0; waited < ms; waited += 10) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		harness_sleep_ms(10);
	}
	kill(d->pid, SIGKILL);
	harness_wait(d->pid);
	d->pid = 0;
	return -1;
}

/*
 * In a daemon's child before exec: a test that dies (a crash, a timeout's
 * kill) takes its daemon with it instead of leaving it running.  And the
 * daemon gets no descriptor of the test's (its clients' pipes, or what
 * the test itself inherited) but stdin, stdout, stderr and those below
 * first, as a service manager starts it.
 */
static void
die_with_test(int first)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	close_range((unsigned)first, ~0u, 0);
}

bool
harness_client_cache(void)
{
	const char *v = getenv("POOLMGR_CLIENT_CACHE");

	return !(v && strcmp(v, "0") == 0);
}

static bool
can_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;
	bool ok;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

void
harness_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

uint64_t
harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t
harness_resident_pages(void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, k = 0;
	unsigned char *vec = malloc(n ? n : 1);

	assert_non_null(vec);
	assert_int_equal(mincore(p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		k += vec[i] & 1;
	free(vec);
	return k;
}

void
harness_expect_rc(int got, int want, const char *what, int line)
{
	if (got != want)
		fail_msg("line %d: %s = %d (%s), expected %d (%s)", line, what,
			 got, pool_strerror(got), want, pool_strerror(want));
}

struct pool_stats
harness_stats(struct pool *p)
{
	struct pool_stats st;

	EXPECT_RC(pool_stats(p, &st), 0);
	return st;
}

struct pool_stats
harness_stats_of(struct pool_conn *c, const char *name)
{
	struct pool_stats st;

	EXPECT_RC(pool_stats_by_name(c, name, &st), 0);
	return st;
}

void
harness_expect_checked(struct pool_conn *c, const char *name)
{
	char msg[256] = "";
	int rc = pool_check_by_name(c, name, msg, sizeof(msg));

	if (rc != 0)
		fail_msg("pool %s: check: %s: %s", name, pool_strerror(rc),
			 msg);
}

/* What a raw call returned, for a failure's message. */
static const char *
raw_what(int err)
{
	return err == HARNESS_RAW_LOST ? "no reply" : pool_strerror(err);
}

void
harness_expect_raw(int got, int want, const char *what, int line)
{
	if (got != want)
		fail_msg("line %d: %s = %d (%s), expected %d (%s)", line, what,
			 got, raw_what(got), want, raw_what(want));
}

Poolmgr__Reply *
harness_raw_expect(int fd, Poolmgr__Request *req, int want)
{
	Poolmgr__Reply *rep = harness_raw_ask(fd, req);

	if (!rep)
		fail_msg("%s request %llu: no reply", harness_raw_name(req),
			 (unsigned long long)req->id);
	if (rep->error != want)
		fail_msg("%s request %llu: %d (%s), expected %d (%s)",
			 harness_raw_name(req), (unsigned long long)req->id,
			 rep->error, raw_what(rep->error), want,
			 raw_what(want));
	return rep;
}

int
harness_raw_client(const char *path, const char *name)
{
	int fd = harness_raw_greeted(path, name);

	if (fd == -1)
		fail_msg("no raw connection of %s to %s", name, path);
	return fd;
}

void
harness_raw_check(int fd, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Check m = POOLMGR__CHECK__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;

	ref.name = (char *)name;
	m.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_CHECK;
	req.check = &m;
	rep = harness_raw_expect(fd, &req, 0);
	if (rep->body_case != POOLMGR__REPLY__BODY_CHECK)
		fail_msg("pool %s: Check answered with body %d", name,
			 (int)rep->body_case);
	if (!rep->check->ok)
		fail_msg("pool %s: check: %s", name, rep->check->problem);
	poolmgr__reply__free_unpacked(rep, NULL);
}

uint32_t
harness_raw_handle(int fd, const char *pool)
{
	uint32_t h = 0;

	EXPECT_RAW(harness_raw_open(fd, pool, &h), 0);
	return h;
}

void
harness_expect_kept_shared(struct pool *p, pool_off_t x, int fd, uint32_t h)
{
	pool_off_t y;

	EXPECT_RC(pool_free(p, x), 0);
	EXPECT_RC(pool_alloc(p, 64, &y), 0);
	if (y == x)
		fail_msg("block %#llx, retained by another client, was handed "
			 "out again by the holder's cache",
			 (unsigned long long)x);
	EXPECT_RAW(harness_raw_free(fd, h, x), 0);
	EXPECT_RAW(harness_raw_free(fd, h, x), -EINVAL);
	EXPECT_RC(pool_free(p, y), 0);
}

int
harness_share_maps(const char *pool, unsigned long *inode, void **at)
{
	char line[512], want[128];
	unsigned long start, ino;
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, pos;

	assert_non_null(f);
	snprintf(want, sizeof(want), "/memfd:poolmgr:%s:shared", pool);
	while (fgets(line, sizeof(line), f)) {
		/* start-end perms offset dev inode path */
		if (sscanf(line, "%lx-%*x %*s %*x %*s %lu %n", &start, &ino,
			   &pos) != 2 ||
		    strncmp(line + pos, want, strlen(want)) != 0 ||
		    (line[pos + strlen(want)] != ' ' &&
		     line[pos + strlen(want)] != '\n'))
			continue;
		n++;
		if (inode)
			*inode = ino;
		if (at)
			*at = (void *)start;
	}
	fclose(f);
	return n;
}

unsigned long
harness_daemon_share_map(pid_t pid, const char *pool)
{
	char path[300], link[256], want[128];
	struct dirent *e;
	struct stat st;
	unsigned long ino = 0;
	DIR *dir;
	ssize_t n;

	snprintf(want, sizeof(want), "/memfd:poolmgr:%s:shared", pool);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
			 e->d_name);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, want, strlen(want)) == 0 &&
		    (link[strlen(want)] == ' ' || !link[strlen(want)]) &&
		    stat(path, &st) == 0)
			ino = (unsigned long)st.st_ino;
	}
	closedir(dir);
	return ino;
}

int
harness_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, b, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int
harness_read_full(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;
	ssize_t n;

	while (len > 0) {
		n = read(fd, b, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

void
harness_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The configuration harness_start writes, into f, closed after. */
static void
write_config(FILE *f, const char *extra_config)
{
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s\n",
		extra_config ? extra_config : "");
	fclose(f);
}

/*
 * Wait until d's daemon answers a Hello; 0, or -1 if it died.  A socket
 * that accepts is not enough: the daemon listens before its event loop
 * (and with it its SIGTERM, SIGINT and SIGHUP handling) runs, and only the
 * loop answers.  A refusal (-EUSERS) is an answer too.
 */
static int
wait_listening(struct daemon_proc *d)
{
	struct pool_conn *c;
	int i, rc;

	for (i = 0; i < 500; i++) {
		if (can_connect(d->sock)) {
			rc = pool_connect(d->sock, &c);
			if (rc == 0)
				pool_disconnect(c);
			if (rc == 0 || rc == -EUSERS)
				return 0;
		}
		if (!harness_alive(d))
			return -1;
		harness_sleep_ms(10);
	}
	return -1;
}

int
harness_start(struct daemon_proc *d, const char *extra_config)
{
	return harness_start_from(d, NULL, extra_config);
}

int
harness_start_from(struct daemon_proc *d, const char *path,
		   const char *extra_config)
{
	/* $HARNESS_DAEMON_UID: the daemon runs as that uid, as under its
	 * unit, where the kernel bounds what it may have in flight. */
	const char *as = getenv("HARNESS_DAEMON_UID");
	uid_t daemon_uid = as ? (uid_t)strtoul(as, NULL, 10) : 0;
	char bin[256];
	FILE *f;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/poolmgr-test.XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	chmod(d->dir, 0755);	/* tests that drop privileges must reach it */
	/* A daemon of another uid than root's binds its socket there. */
	if (daemon_uid && chown(d->dir, daemon_uid, daemon_uid) == -1)
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/poolmgrd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poolmgrd.log", d->dir);
	if (!(f = fopen(d->conf, "w")))
		return -1;
	write_config(f, extra_config);
	if (path)
		snprintf(bin, sizeof(bin), "%s", path);
	else
		snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());

	d->pid = fork();
	if (d->pid == -1)
		return -1;
	if (d->pid == 0) {
		/* The daemon gets it as its stderr and as nothing else. */
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
		const char *nofile = getenv("HARNESS_NOFILE");

		if (nofile) {
			struct rlimit rl;

			rl.rlim_cur = rl.rlim_max = strtoul(nofile, NULL, 10);
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (daemon_uid && (setgroups(0, NULL) == -1 ||
				   setgid(daemon_uid) == -1 ||
				   setuid(daemon_uid) == -1))
			_exit(126);

		dup2(fd, 2);
		die_with_test(3);
		execl(bin, "poolmgrd", "--verbose", "--socket", d->sock,
		      "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	if (wait_listening(d) != 0)
		return -1;
	setenv("POOLMGRD_SOCKET", d->sock, 1);
	return 0;
}

/* Fork and exec poolmgrd on d's paths, stderr to log (appended or not). */
static pid_t
exec_daemon(const struct daemon_proc *d, const char *log, int append)
{
	char bin[256];
	pid_t pid;
	int fd;

	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC |
			  (append ? O_APPEND : O_TRUNC), 0644);
		if (fd >= 0)
			dup2(fd, 2);
		die_with_test(3);
		execl(bin, "poolmgrd", "--verbose", "--socket", d->sock,
		      "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int
harness_start_plain(struct daemon_proc *d, const char *config)
{
	FILE *f;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/poolmgr-test.XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof(d->sock), "%s/poolmgrd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poolmgrd.log", d->dir);
	if (!(f = fopen(d->conf, "w")))
		return -1;
	fprintf(f, "%s", config ? config : "");
	fclose(f);
	if ((d->pid = exec_daemon(d, d->log, 0)) == -1)
		return -1;
	if (wait_listening(d) != 0)
		return -1;
	setenv("POOLMGRD_SOCKET", d->sock, 1);
	return 0;
}

/* The socket systemd would make: bound at path, listening; or -1. */
static int
activation_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0666) == -1 || listen(fd, 128) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A NOTIFY_SOCKET at path that sees who sends; or -1. */
static int
notify_socket(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, one = 1;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* In the child: the environment of a socket-activated service, and exec. */
static void
exec_activated(const struct daemon_proc *d, int lfd, const char *notify)
{
	char bin[256], fallback[200], pid[16];
	int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0)
		dup2(fd, 2);
	/* dup2 leaves FD_CLOEXEC off; one already at 3 has it on. */
	if (lfd == 3 ? fcntl(3, F_SETFD, 0) == -1 : dup2(lfd, 3) == -1)
		_exit(126);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	unsetenv("LISTEN_FDNAMES");
	if (notify)
		setenv("NOTIFY_SOCKET", notify, 1);
	else
		unsetenv("NOTIFY_SOCKET");
	die_with_test(4);
	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	snprintf(fallback, sizeof(fallback), "%s/fallback.sock", d->dir);
	execl(bin, "poolmgrd", "--verbose", "--socket", fallback, "--config",
	      d->conf, (char *)NULL);
	_exit(127);
}

int
harness_start_activated(struct daemon_proc *d, const char *extra_config,
			int *notify_fd)
{
	char notify[200];
	FILE *f;
	int lfd;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/poolmgr-test.XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof(d->sock), "%s/activated.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poolmgrd.log", d->dir);
	snprintf(notify, sizeof(notify), "%s/notify.sock", d->dir);
	if (!(f = fopen(d->conf, "w")))
		return -1;
	write_config(f, extra_config);
	if ((lfd = activation_socket(d->sock)) == -1)
		return -1;
	if (notify_fd && (*notify_fd = notify_socket(notify)) == -1) {
		close(lfd);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((d->pid = fork()) == 0)
		exec_activated(d, lfd, notify_fd ? notify : NULL);
	close(lfd);
	if (d->pid == -1 || wait_listening(d) != 0)
		return -1;
	setenv("POOLMGRD_SOCKET", d->sock, 1);
	return 0;
}

pid_t
harness_exec_daemon(const struct daemon_proc *d, const char *log)
{
	return exec_daemon(d, log, 0);
}

int
harness_restart(struct daemon_proc *d)
{
	if ((d->pid = exec_daemon(d, d->log, 1)) == -1)
		return -1;
	return wait_listening(d);
}

int
harness_log_count(const struct daemon_proc *d, const char *what)
{
	char line[1024];
	FILE *f;
	int n = 0;

	if (!(f = fopen(d->log, "r")))
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	fclose(f);
	return n;
}

/*
 * A line the daemon writes in the turn of its loop that wrote the one
 * waited for may not be in the file yet (a reload's "SIGHUP: reloading"
 * comes before the pools' lines of that reload): wait for it, at most
 * 10 s, so that a loaded machine cannot fail the test between the two.
 */
void
harness_expect_logged(const struct daemon_proc *d, const char *what)
{
	int i;

	for (i = 0; i < 2000 && harness_log_count(d, what) == 0; i++)
		harness_sleep_ms(5);
	if (harness_log_count(d, what) == 0)
		fail_msg("no \"%s\" in the daemon's log", what);
}

/* The daemon's count of the requests it answered, read on c. */
static uint64_t
requests_answered(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	assert_int_equal(pool_daemon_stats(c, &ds), 0);
	return ds.requests_total;
}

/* `poolctl args` beside d, which must exit 0: its output in out, err. */
static void
poolctl_ok(const struct daemon_proc *d, const char *args, char *out,
	   size_t outlen, char *err, size_t errlen)
{
	int rc = harness_poolctl(d, NULL, out, outlen, err, errlen, "%s",
				 args);

	if (rc != 0)
		fail_msg("poolctl %s: exit %d, want 0\n--- stdout:\n%s"
			 "--- stderr:\n%s", args, rc, out, err);
}

uint64_t
harness_poolctl_requests_beyond_list(const struct daemon_proc *d,
				     struct pool_conn *c, const char *args,
				     char *out, size_t outlen, char *err,
				     size_t errlen)
{
	uint64_t r0, r1, r2;

	r0 = requests_answered(c);
	poolctl_ok(d, "list", out, outlen, err, errlen);
	r1 = requests_answered(c);
	poolctl_ok(d, args, out, outlen, err, errlen);
	r2 = requests_answered(c);
	return (r2 - r1) - (r1 - r0);
}

void
harness_expect_not_logged_since(const struct daemon_proc *d, size_t at,
				const char *what, const char *why)
{
	char *log = harness_log_since(d, at);
	bool found;

	assert_non_null(log);
	if ((found = strstr(log, what) != NULL))
		fprintf(stderr, "%s", log);
	free(log);
	if (found)
		fail_msg("%s: \"%s\" in the daemon's log", why, what);
}

/* Does d's daemon still have a descriptor of the file with inode ino? */
static bool
daemon_has_inode(const struct daemon_proc *d, ino_t ino)
{
	char path[64];
	struct stat sb;

	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)d->pid, fd);
		if (stat(path, &sb) == 0 && sb.st_ino == ino &&
		    S_ISREG(sb.st_mode))
			return true;
	}
	return false;
}

void
harness_wait_let_go(const struct daemon_proc *d, ino_t ino)
{
	int i;

	for (i = 0; i < 1000 && daemon_has_inode(d, ino); i++)
		harness_sleep_ms(10);
	if (daemon_has_inode(d, ino))
		fail_msg("the daemon still has the file of inode %llu open",
			 (unsigned long long)ino);
}

/*
 * The file's size, not the length of what a buffer holds of it: a log
 * read into one of 256 KiB gave a mark that far in however long the log
 * had grown, and the lines after the mark began before it.
 */
size_t
harness_log_mark(const struct daemon_proc *d)
{
	struct stat sb;

	return stat(d->log, &sb) == 0 ? (size_t)sb.st_size : 0;
}

/*
 * Read from the mark on, not from the start into a buffer of a fixed
 * size: a log longer than the buffer held nothing past its end, so no
 * line after a mark beyond it was ever found.
 */
char *
harness_log_since(const struct daemon_proc *d, size_t at)
{
	FILE *f = fopen(d->log, "r");
	struct stat sb;
	size_t len = 0, n = 0;
	char *text;

	if (f && fstat(fileno(f), &sb) == 0 && (size_t)sb.st_size > at &&
	    fseeko(f, (off_t)at, SEEK_SET) == 0)
		len = (size_t)sb.st_size - at;
	text = malloc(len + 1);
	assert_non_null(text);
	if (len)
		n = fread(text, 1, len, f);
	text[n] = '\0';
	if (f)
		fclose(f);
	return text;
}

void
harness_log_grow(const struct daemon_proc *d, size_t len)
{
	struct stat sb = {.st_size = 0};
	int i;

	for (i = 0; i < 100000; i++) {
		if (stat(d->log, &sb) == 0 && (size_t)sb.st_size > len)
			return;
		if (!can_connect(d->sock))
			fail_msg("no connection to %s", d->sock);
	}
	fail_msg("the log is %lld bytes after %d connections",
		 (long long)sb.st_size, i);
}

/* How many of the daemon's log lines tell of a SIGHUP, whatever came of it. */
static int
reloads_logged(const struct daemon_proc *d)
{
	return harness_log_count(d, "poolmgrd: SIGHUP: ");
}

/*
 * The daemon reads the file and applies it in the one turn of its loop
 * that handles the signal, and logs a "SIGHUP: " line there whether it
 * reloads or keeps the running configuration: every request sent once
 * that line is in the log is served after the reload.  Wait for it (at
 * most 10 s, then go on: the test's own checks say what went wrong).
 */
void
harness_reload(struct daemon_proc *d)
{
	int before = reloads_logged(d), i;

	kill(d->pid, SIGHUP);
	for (i = 0; i < 2000 && reloads_logged(d) == before; i++)
		harness_sleep_ms(5);
}

int
harness_reload_with(struct daemon_proc *d, const char *extra_config)
{
	FILE *f = fopen(d->conf, "w");

	if (!f)
		return -1;
	write_config(f, extra_config);
	harness_reload(d);
	return 0;
}

/*
 * The daemon died on us: say how, with its log, and forget its pid (it
 * has been waited for; the caller removes its directory).
 */
static void
report_death(struct daemon_proc *d, int status)
{
	char cmd[512];

	if (WIFSIGNALED(status))
		fprintf(stderr, "poolmgrd (pid %d) was killed by signal %d; "
			"its log:\n", (int)d->pid, WTERMSIG(status));
	else
		fprintf(stderr, "poolmgrd (pid %d) exited with %d; its log:\n",
			(int)d->pid, WEXITSTATUS(status));
	snprintf(cmd, sizeof(cmd), "cat %s >&2", d->log);
	if (system(cmd) == -1)
		perror("system");
	d->pid = 0;
}

int
harness_log_wait(struct daemon_proc *d, const char *what, int before, int ms)
{
	int status, waited;

	for (waited = 0;; waited += 5) {
		if (harness_log_count(d, what) > before)
			return 0;
		if (d->pid <= 0)
			return -1;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			if (harness_log_count(d, what) > before)
				return 0;
			report_death(d, status);
			return -1;
		}
		if (waited >= ms)
			break;
		harness_sleep_ms(5);
	}
	if (ms > 0)
		fprintf(stderr, "poolmgrd logged no \"%s\" in time\n", what);
	return -1;
}

int
harness_restart_in_place(struct daemon_proc *d)
{
	int before = harness_log_count(d, HARNESS_RESTARTED);

	if (d->pid <= 0 || kill(d->pid, SIGUSR2) == -1)
		return -1;
	return harness_log_wait(d, HARNESS_RESTARTED, before,
				HARNESS_RESTART_WAIT_MS);
}

int
harness_remove_dir(struct daemon_proc *d)
{
	char cmd[512];

	if (!d->dir[0])
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	d->dir[0] = '\0';
	return system(cmd) == 0 ? 0 : -1;
}

bool
harness_alive(struct daemon_proc *d)
{
	int status;

	return d->pid > 0 && waitpid(d->pid, &status, WNOHANG) == 0;
}

/*
 * Wait for the daemon after SIGTERM for at most HARNESS_STOP_WAIT_MS,
 * then SIGKILL it: one that no longer returns to its loop must fail the
 * test, not hang it (and a suite run with it).  0 with its status, or -1.
 */
static int
stop_wait(pid_t pid, int *status)
{
	pid_t got;
	long waited;

	for (waited = 0; waited < HARNESS_STOP_WAIT_MS; waited += 10) {
		if ((got = waitpid(pid, status, WNOHANG)) != 0)
			return got == pid ? 0 : -1;
		harness_sleep_ms(10);
	}
	fprintf(stderr, "poolmgrd (pid %d) did not stop within %d s of "
		"SIGTERM; killed\n", (int)pid, HARNESS_STOP_WAIT_MS / 1000);
	kill(pid, SIGKILL);
	return waitpid(pid, status, 0) == pid ? 0 : -1;
}

int
harness_stop(struct daemon_proc *d)
{
	int status, rc;
	char cmd[512];

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	if (stop_wait(d->pid, &status) == -1)
		return -1;
	d->pid = 0;
	rc = WIFEXITED(status) ? WEXITSTATUS(status)
			       : 128 + WTERMSIG(status);
	if (rc != 0) {
		fprintf(stderr, "poolmgrd exited with %d; its log:\n", rc);
		snprintf(cmd, sizeof(cmd), "cat %s >&2", d->log);
		if (system(cmd) == -1)
			perror("system");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	if (system(cmd) == -1)
		perror("system");
	return rc;
}

void
harness_fixture_start(struct daemon_proc *d, const char *extra)
{
	char text[4096];

	if ((size_t)snprintf(text, sizeof(text), "%s%s", HARNESS_FIXTURE_CONF,
			     extra) >= sizeof(text))
		fail_msg("the test's configuration is longer than %zu bytes",
			 sizeof(text));
	if (harness_start(d, text) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
}

void
harness_fixture_stop(struct daemon_proc *d)
{
	if (d->pid > 0)
		assert_int_equal(harness_stop(d), 0);
}

int
harness_fixture_teardown(void **state)
{
	harness_fixture_stop(*state);
	return 0;
}

int
harness_finish(struct daemon_proc *d)
{
	/* A daemon that died failed its test already, saying how. */
	if (d->pid > 0 && harness_alive(d))
		return harness_stop(d);
	harness_remove_dir(d);
	return 0;
}

/*
 * A child's faults end it, as they would any program: cmocka's handlers,
 * inherited through fork, would otherwise jump back into the test runner
 * and run the tests that follow inside the child.
 */
static void
child_faults_default(void)
{
	static const int sigs[] = {SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGSYS};
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
}

pid_t
harness_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		child_faults_default();
		_exit(fn(arg));
	}
	return pid;
}

void
harness_child_start(struct harness_child *k, int (*fn)(void *), void *arg)
{
	char go;

	assert_int_equal(pipe(k->stop), 0);
	assert_int_equal(pipe(k->out), 0);
	k->pid = harness_spawn(fn, arg);
	assert_true(k->pid > 0);
	close(k->stop[0]);
	close(k->out[1]);
	if (harness_read_full(k->out[0], &go, 1))
		fail_msg("child %d did not start: exit %d", (int)k->pid,
			 harness_wait(k->pid));
}

void
harness_child_ready(struct harness_child *k)
{
	close(k->stop[1]);
	close(k->out[0]);
}

int
harness_child_stop(struct harness_child *k, void *report, size_t len)
{
	int rc = harness_write_full(k->stop[1], "s", 1) == 0 &&
	    harness_read_full(k->out[0], report, len) == 0 ? 0 : -1;

	close(k->stop[1]);
	close(k->out[0]);
	return rc;
}

void
harness_copy_binary(char *dir, size_t dirlen, char *bin, size_t binlen)
{
	char cmd[512];

	snprintf(dir, dirlen, "/tmp/poolmgr-bin.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(bin, binlen, "%s/poolmgrd", dir);
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(), bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
}

void
harness_remove_binary(const char *dir)
{
	char cmd[128];

	if (!dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	harness_run(cmd, NULL, 0);
}

void
harness_busy_error(struct harness_busy *b, const char *what, int rc)
{
	if (b->errors++ == 0)
		fprintf(stderr, "child %d thread %d: %s: %s\n", (int)getpid(),
			b->id, what, pool_strerror(rc));
}

int
harness_busy_run(struct harness_busy *b, int n, struct pool *p,
		 void *(*fn)(void *), int go_fd, int stop_fd, uint64_t sum[2],
		 int code)
{
	pthread_t t[HARNESS_BUSY_MAX];
	volatile int stop = 0;
	char x;

	CHECK(n <= HARNESS_BUSY_MAX, code);
	for (int i = 0; i < n; i++) {
		b[i] = (struct harness_busy){.p = p, .id = i, .stop = &stop};
		CHECK(pthread_create(&t[i], NULL, fn, &b[i]) == 0, code);
	}
	CHECK(harness_write_full(go_fd, "g", 1) == 0, code + 1);
	CHECK(harness_read_full(stop_fd, &x, 1) == 0, code + 2);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		sum[0] += b[i].rounds;
		sum[1] += b[i].errors;
	}
	return 0;
}

pid_t
harness_spawn_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid, parent;

	if (geteuid() != 0)
		return -1;
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		child_faults_default();
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1)
			_exit(126);
		/*
		 * Gone with the test (a new uid clears the signal, so set
		 * after): a child a failed test never told to end, such as
		 * one holding sockets full of a daemon's descriptors, would
		 * run on, and those descriptors count against the daemon's
		 * uid in every later run on the machine.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(125);
		_exit(fn(arg));
	}
	return pid;
}

int
harness_wait(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

void
harness_read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

void
harness_skip_unless_root(const char *what)
{
	if (geteuid() != 0) {
		printf("note: not root: cannot %s; skipping\n", what);
		fflush(stdout);
		skip();
	}
}

int
harness_run(const char *cmd, char *out, size_t outlen)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int status;

	if (!f)
		return -1;
	if (out && outlen) {
		n = fread(out, 1, outlen - 1, f);
		out[n] = '\0';
	}
	while (fgetc(f) != EOF)
		;
	status = pclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
harness_poolctl(const struct daemon_proc *d, const char *env, char *out,
		size_t outlen, char *err, size_t errlen, const char *fmt, ...)
{
	char args[512], cmd[1024], errpath[200];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(errpath, sizeof(errpath), "%s/poolctl.err", d->dir);
	snprintf(cmd, sizeof(cmd), "%s %s/poolctl %s 2>%s", env ? env : "",
		 harness_build(), args, errpath);
	rc = harness_run(cmd, out, outlen);
	harness_read_text(errpath, err, errlen);
	printf("poolctl: `poolctl %s`%s%s -> %d\n", args, env ? " with " : "",
	       env ? env : "", rc);
	fflush(stdout);
	return rc;
}

int
harness_big_group(unsigned gid, int members)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096], line[64];
	FILE *in, *out;
	size_t n;
	int fd, i, ok;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return 99;
	snprintf(path, sizeof(path), "%s/poolmgr-group.XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if ((fd = mkstemp(path)) < 0 || (out = fdopen(fd, "w")) == NULL)
		return 99;
	if ((in = fopen("/etc/group", "r")) != NULL) {
		while ((n = fread(line, 1, sizeof(line), in)) > 0)
			fwrite(line, 1, n, out);
		fclose(in);
	}
	fprintf(out, "pmbig:x:%u:", gid);
	for (i = 0; i < members; i++)
		fprintf(out, "%smember%04d", i ? "," : "", i);
	fputc('\n', out);
	/* The mount keeps the file: its name may go at once. */
	ok = fclose(out) == 0 &&
	     mount(path, "/etc/group", NULL, MS_BIND, NULL) == 0;
	unlink(path);
	return ok && getgrnam("pmbig") != NULL ? 0 : 99;
}
