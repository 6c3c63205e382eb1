/*
 * harness_store.c - systemd's fd store for tests (harness_store.h).
 *
 * The store holds as many descriptors as the unit's
 * FileDescriptorStoreMax= lets it (STORE_FDS): more than the tests push,
 * unless a test sets a smaller FDSTORE= of its own (st->fdstore).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_store.h"

#define STORE_FDS	"1796"
#define WAIT_MS		15000	/* generous for a daemon under ASan */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The value of key's line in a notification, or NULL. */
static const char *
field(const char *msg, const char *key)
{
	size_t n = strlen(key);

	while (msg && *msg) {
		if (strncmp(msg, key, n) == 0)
			return msg + n;
		msg = strchr(msg, '\n');
		msg = msg ? msg + 1 : NULL;
	}
	return NULL;
}

void
harness_store_drop(struct harness_store *st, unsigned i)
{
	close(st->fd[i]);
	st->n--;
	st->fd[i] = st->fd[st->n];
	st->unpolled[i] = st->unpolled[st->n];
	memcpy(st->name[i], st->name[st->n], sizeof(st->name[0]));
}

static void
forget(struct harness_store *st, const char *name)
{
	unsigned i = 0;

	while (i < st->n)
		if (strcmp(st->name[i], name) == 0)
			harness_store_drop(st, i);
		else
			i++;
}

/*
 * Does the store hold fd already?  As systemd's same_fd(): the same open
 * file (kcmp(2)).  Where kcmp is refused, every push is kept.
 */
static bool
held(const struct harness_store *st, int fd)
{
	pid_t pid = getpid();
	unsigned i;

	for (i = 0; i < st->n; i++)
		if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd, st->fd[i]) == 0)
			return true;
	return false;
}

/*
 * As systemd polls what it stores (on_fd_store_io): a descriptor that
 * reads POLLHUP or POLLERR is closed and leaves the store, unless it was
 * pushed with FDPOLL=0.  Looked at whenever a notification is applied
 * and before a start: systemd's loop would have seen it by then.
 */
unsigned
harness_store_hangups(struct harness_store *st)
{
	struct pollfd pfd;
	unsigned i = 0, gone = 0;

	while (i < st->n) {
		pfd = (struct pollfd){.fd = st->fd[i], .events = 0};
		if (!st->unpolled[i] && poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLHUP | POLLERR))) {
			harness_store_drop(st, i);
			gone++;
		} else
			i++;
	}
	return gone;
}

/*
 * A descriptor pushed: kept if the store takes it, else closed.  As
 * systemd, a full store takes nothing, and a file it holds already is
 * kept once, under its first name (and as it was first pushed, polled
 * or not).
 */
static void
keep(struct harness_store *st, int fd, const char *name, bool unpolled)
{
	unsigned max = (unsigned)atoi(st->fdstore);

	st->pushed++;
	if (fd < 0 || !*name || st->n >= HARNESS_STORE_MAX) {
		st->malformed++;
		if (fd >= 0)
			close(fd);
	} else if (st->n >= max || held(st, fd))
		close(fd);
	else {
		st->fd[st->n] = fd;
		st->unpolled[st->n] = unpolled;
		snprintf(st->name[st->n++], sizeof(st->name[0]), "%s", name);
	}
}

int
harness_store_receive(struct harness_store *st, int ms, const char *want)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	char buf[1024];
	struct pollfd pfd = {.fd = st->nfd, .events = POLLIN};
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cm;
	ssize_t got;
	int fd = -1;

	if (poll(&pfd, 1, ms < 0 ? 0 : ms) != 1 ||
	    (got = recvmsg(st->nfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0)
		return -1;
	buf[got] = '\0';
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	harness_store_apply(st, buf, fd);
	return want && field(buf, want) ? 1 : 0;
}

void
harness_store_apply(struct harness_store *st, const char *msg, int fd)
{
	char name[64] = "";
	const char *v;

	if ((v = field(msg, "FDNAME=")))
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(v, "\n"), v);
	if (field(msg, "FDSTORE=1"))
		keep(st, fd, name, field(msg, "FDPOLL=0") != NULL);
	else if (fd >= 0)
		close(fd);
	if (field(msg, "FDSTOREREMOVE=1"))
		forget(st, name);
	(void)harness_store_hangups(st);
}

int
harness_store_open(struct harness_store *st, const char *config)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	FILE *f;

	memset(st, 0, sizeof(*st));
	st->nfd = st->lfd = -1;
	snprintf(st->fdstore, sizeof(st->fdstore), "%s", STORE_FDS);
	snprintf(st->dir, sizeof(st->dir), "/tmp/harness_store.XXXXXX");
	if (!mkdtemp(st->dir))
		return -1;
	snprintf(st->sock, sizeof(st->sock), "%s/sock", st->dir);
	snprintf(st->notify, sizeof(st->notify), "%s/notify", st->dir);
	snprintf(st->conf, sizeof(st->conf), "%s/conf", st->dir);
	snprintf(st->log, sizeof(st->log), "%s/log", st->dir);
	if (!(f = fopen(st->conf, "w")))
		return -1;
	fputs(config, f);
	if (fclose(f) != 0)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", st->notify);
	st->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (st->nfd < 0 ||
	    bind(st->nfd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		return -1;
	return 0;
}

void
harness_store_close(struct harness_store *st)
{
	char cmd[128];

	if (st->pid > 0) {
		kill(st->pid, SIGKILL);
		waitpid(st->pid, NULL, 0);
		st->pid = 0;
	}
	while (st->n)
		harness_store_drop(st, 0);
	harness_close_fd(&st->nfd);
	harness_close_fd(&st->lfd);
	if (st->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", st->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", st->dir);
	}
}

/* One more LISTEN_FDS descriptor, duplicated out of the way first. */
static void
pass(int fd, const char *name, int *hi, unsigned *n, char *names,
     size_t len)
{
	hi[*n] = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	snprintf(names + strlen(names), len - strlen(names), "%s%s",
		 *n ? ":" : "", name);
	(*n)++;
}

/*
 * In the child: the socket unit's socket, if any, and the store's
 * descriptors from 3 on, then poolmgrd.
 */
static void
exec_daemon(const struct harness_store *st)
{
	char bin[256], val[32], names[4096] = "";
	int fd, hi[HARNESS_STORE_MAX + 1];
	unsigned i, n = 0;

	if ((fd = open(st->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		       0644)) >= 0)
		dup2(fd, 2);
	if (st->lfd >= 0)	/* as systemd: the socket unit's first */
		pass(st->lfd, "poolmgrd.socket", hi, &n, names, sizeof(names));
	for (i = 0; i < st->n; i++)
		pass(st->fd[i], st->name[i], hi, &n, names, sizeof(names));
	for (i = 0; i < n; i++)
		dup2(hi[i], 3 + (int)i);
	setenv("NOTIFY_SOCKET", st->notify, 1);
	if (*st->fdstore)
		setenv("FDSTORE", st->fdstore, 1);
	else
		unsetenv("FDSTORE");
	unsetenv("POOLMGRD_JOURNAL");
	if (n) {
		snprintf(val, sizeof(val), "%d", (int)getpid());
		setenv("LISTEN_PID", val, 1);
		snprintf(val, sizeof(val), "%u", n);
		setenv("LISTEN_FDS", val, 1);
		setenv("LISTEN_FDNAMES", names, 1);
	} else {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	snprintf(bin, sizeof(bin), "%s/poolmgrd", harness_build());
	if (st->own_socket)
		execl(bin, "poolmgrd", "--verbose", "--config", st->conf,
		      (char *)NULL);
	else
		execl(bin, "poolmgrd", "--verbose", "--socket", st->sock,
		      "--config", st->conf, (char *)NULL);
	_exit(127);
}

void
harness_store_print_log(const struct harness_store *st)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "cat %s >&2", st->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
}

int
harness_store_start(struct harness_store *st)
{
	long long end = now_ms() + WAIT_MS;

	(void)harness_store_hangups(st);
	if ((st->pid = fork()) < 0)
		return -1;
	if (st->pid == 0)
		exec_daemon(st);
	while (now_ms() < end)
		if (harness_store_receive(st, (int)(end - now_ms()),
		    "READY=1") == 1)
			return 0;
	harness_store_print_log(st);
	fprintf(stderr, "no READY=1 from poolmgrd\n");
	return -1;
}

void
harness_store_drain(struct harness_store *st)
{
	while (harness_store_receive(st, 0, NULL) >= 0)
		;
}

int
harness_store_crash(struct harness_store *st)
{
	if (st->pid <= 0 || kill(st->pid, SIGKILL) != 0 ||
	    waitpid(st->pid, NULL, 0) != st->pid)
		return -1;
	st->pid = 0;
	harness_store_drain(st);
	return 0;
}

int
harness_store_recover(struct harness_store *st)
{
	if (harness_store_crash(st) != 0) {
		fprintf(stderr, "poolmgrd could not be crashed\n");
		return -1;
	}
	if (harness_store_start(st) != 0)
		return -1;
	if (!harness_store_logged(st, "recovered")) {
		fprintf(stderr, "no recovery in poolmgrd's log\n");
		return -1;
	}
	return 0;
}

int
harness_store_setup(void **state)
{
	return harness_store_open(*state, HARNESS_STORE_CONF);
}

int
harness_store_teardown(void **state)
{
	harness_store_close(*state);
	return 0;
}

int
harness_store_find(const struct harness_store *st, const char *name)
{
	unsigned i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->name[i], name) == 0)
			return (int)i;
	return -1;
}

int
harness_store_prefix(const struct harness_store *st, const char *prefix)
{
	unsigned i;

	for (i = 0; i < st->n; i++)
		if (strncmp(st->name[i], prefix, strlen(prefix)) == 0)
			return (int)i;
	return -1;
}

const char *
harness_store_journal(const struct harness_store *st)
{
	unsigned long best = 0, v;
	const char *name = NULL;
	unsigned i;

	for (i = 0; i < st->n; i++)
		if (strncmp(st->name[i], "journal.", 8) == 0 &&
		    (v = strtoul(st->name[i] + 8, NULL, 10)) > best) {
			best = v;
			name = st->name[i];
		}
	return name;
}

/* Where a journal's header keeps its committed end (daemon/journal.c). */
#define JOURNAL_END_AT	16

int64_t
harness_store_journal_room(struct harness_store *st)
{
	const char *name;
	struct stat sb;
	uint64_t end;
	int i;

	harness_store_drain(st);
	if (!(name = harness_store_journal(st)) ||
	    (i = harness_store_find(st, name)) < 0 ||
	    fstat(st->fd[i], &sb) != 0 ||
	    pread(st->fd[i], &end, 8, JOURNAL_END_AT) != 8 ||
	    end > (uint64_t)sb.st_size)
		return -1;
	return (int64_t)((uint64_t)sb.st_size - end);
}

bool
harness_store_logged(const struct harness_store *st, const char *what)
{
	if (harness_store_log_count(st, what) > 0)
		return true;
	harness_store_print_log(st);
	return false;
}

unsigned
harness_store_log_count(const struct harness_store *st, const char *what)
{
	FILE *f = fopen(st->log, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned k = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) != -1)
		k += strstr(line, what) != NULL;
	free(line);
	fclose(f);
	return k;
}

int
harness_store_wait(struct harness_store *st, const char *want, int ms)
{
	long long end = now_ms() + ms;
	int rc;

	while (now_ms() < end)
		if ((rc = harness_store_receive(st, (int)(end - now_ms()),
		    want)) == 1)
			return 0;
		else if (rc < 0)
			break;
	return -1;
}
