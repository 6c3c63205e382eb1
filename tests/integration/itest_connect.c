/*
 * itest_connect.c - pool_connect ends by its bound when nothing answers.
 *
 * The peers that never answer are made here: a listener that accepts and
 * says nothing (a child process), one that never accepts (its connections
 * wait in the backlog, and the Hello with them), one whose backlog is
 * full (connect(2) itself waits), and the real daemon stopped with
 * SIGSTOP.  Against each:
 *
 *   pool_connect_timeout with 300 ms is -ETIMEDOUT, not before the bound
 *       has passed (a correctness property; no upper bound is tested but
 *       a generous one, 10 times the bound, to tell a bound from a hang);
 *       pool_last_message(-ETIMEDOUT) names the path and the bound; no
 *       descriptor and no thread is left behind.
 *   pool_connect with $POOLMGR_CONNECT_TIMEOUT=0.3 likewise; the value's
 *       fraction is read in any locale, and one finer than a millisecond
 *       rounds up rather than becoming no bound.
 *   signals every 20 ms (no SA_RESTART) do not end the wait early, in
 *       connect(2) or in the Hello.
 *   a bound of 0 is -ETIMEDOUT against a silent peer, and still -ENOENT
 *       where there is no socket; below -1 is -EINVAL, as is a NULL out.
 *   a fork() in another thread while connect(2) waits on a full backlog
 *       returns at once, not when the connect ends (the library's fork
 *       handler takes every connection's lock; the connect held it).
 *   poolctl with the environment's bound exits 69 (EX_UNAVAILABLE) and
 *       says "cannot connect: " and the library's words; so do the
 *       example programs, with exit status 1.
 *
 * Where nothing can answer, a directory, a regular file, a socket nobody
 * listens on and one of another type at the path are connect(2)'s own
 * code, and pool_last_message names the path and says which (of what a
 * symbolic link there leads to, as connect(2) goes by).
 *
 * And against the real daemon: a connect within a bound, and one with no
 * bound (-1, $POOLMGR_CONNECT_TIMEOUT=0), works; the requests made on the
 * connection have no bound (a daemon stopped for longer than the connect's
 * bound answers them once it goes on); a stopped daemon is -ETIMEDOUT,
 * and once continued the next connect works.  A lookup's wait that ran
 * out and a connect nobody answered, both -ETIMEDOUT, leave words that
 * say which: the daemon's, naming the pool, and the library's, naming
 * the path, each replacing the other.
 *
 * Before the bound, every case that expects -ETIMEDOUT hung: each test
 * runs under an alarm (GUARD_S) that ends the program with a message
 * rather than let it hang.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

#define BOUND_MS	300
#define BOUND_WORDS	"0.3 s"
#define SLACK		10		/* a bound, not a hang: 10 x */
#define GUARD_S		60		/* a hung connect ends the program */
#define POOL		"connect"
#define CONF		"[pool " POOL "]\nsize = 1M\n"
#define FILLERS_MAX	64

/* A peer made here: its directory and socket, and what listens there. */
struct peer {
	char dir[64];
	char sock[128];
	int lfd;		/* the listener, if it is the test's */
	pid_t pid;		/* the child that accepts, if any */
	int fillers[FILLERS_MAX];
	int nfillers;
};

static void
on_guard(int sig)
{
	static const char m[] = "itest_connect: a connect still waits after "
	    "the guard's time: it hangs\n";

	(void)sig;
	(void)!write(2, m, sizeof(m) - 1);
	_exit(3);
}

/* Each test: a hang ends the program, which then fails. */
static int
guard_on(void **state)
{
	(void)state;
	signal(SIGALRM, on_guard);
	alarm(GUARD_S);
	return 0;
}

static int
guard_off(void **state)
{
	(void)state;
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	return 0;
}

/* A listener on a fresh socket, with the backlog given. */
static void
peer_listen(struct peer *p, int backlog)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/poolmgr-connect.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->sock, sizeof(p->sock), "%s/silent.sock", p->dir);
	memcpy(sun.sun_path, p->sock, strlen(p->sock) + 1);
	p->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(listen(p->lfd, backlog), 0);
}

/* A peer that takes every connection and never says a word. */
static void
peer_accepting(struct peer *p)
{
	peer_listen(p, 16);
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			/* Kept open: the client must not see an end. */
			if (accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC) == -1 &&
			    errno != EINTR)
				_exit(1);
		}
	}
	close(p->lfd);
	p->lfd = -1;
}

/*
 * A peer that never accepts, its backlog full: connect(2) waits.  How
 * many a backlog takes is the kernel's: connects are made until one
 * would wait.
 */
static void
peer_full(struct peer *p)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	peer_listen(p, 0);
	memcpy(sun.sun_path, p->sock, strlen(p->sock) + 1);
	for (;;) {
		assert_true(p->nfillers < FILLERS_MAX);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, 0);
		assert_true(fd >= 0);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			assert_int_equal(errno, EAGAIN);
			close(fd);
			break;
		}
		p->fillers[p->nfillers++] = fd;
	}
	printf("connect: the backlog is full after %d connections\n",
	       p->nfillers);
}

static void
peer_end(struct peer *p)
{
	int i;

	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		assert_int_equal(harness_wait(p->pid), 128 + SIGKILL);
	}
	if (p->lfd >= 0)
		close(p->lfd);
	for (i = 0; i < p->nfillers; i++)
		close(p->fillers[i]);
	unlink(p->sock);
	rmdir(p->dir);
}

/* Descriptors open in this process. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Threads of this process. */
static int
count_threads(void)
{
	char buf[4096], *t;

	harness_read_text("/proc/self/status", buf, sizeof(buf));
	t = strstr(buf, "\nThreads:");
	assert_non_null(t);
	return atoi(t + strlen("\nThreads:"));
}

struct attempt {
	int rc;
	struct pool_conn *c;
	uint64_t ms;
	int fds, threads;
};

static struct attempt
attempt_begin(void)
{
	struct attempt a = {0};

	a.fds = count_fds();
	a.threads = count_threads();
	a.c = (struct pool_conn *)&a;	/* must be set to NULL */
	a.ms = harness_now_ms();
	return a;
}

/*
 * The attempt a, a call of pool_connect or pool_connect_timeout to path,
 * must have been -ETIMEDOUT no sooner than bound_ms (nor 10 times later),
 * with words naming path and bound, and left no descriptor or thread.
 */
static void
expect_timeout(struct attempt a, const char *path, int bound_ms,
	       const char *bound_words, const char *what, int line)
{
	char want[256];
	const char *m = pool_last_message(-ETIMEDOUT);

	printf("connect: %s -> %d (%s) after %llu ms: %s\n", what, a.rc,
	       pool_strerror(a.rc), (unsigned long long)a.ms, m);
	if (a.rc != -ETIMEDOUT)
		fail_msg("line %d: %s = %d (%s), expected -ETIMEDOUT", line,
			 what, a.rc, pool_strerror(a.rc));
	assert_null(a.c);
	if (a.ms < (uint64_t)bound_ms)
		fail_msg("line %d: %s returned after %llu ms, before its "
			 "bound of %d ms", line, what,
			 (unsigned long long)a.ms, bound_ms);
	if (a.ms > (uint64_t)bound_ms * SLACK + 1000)
		fail_msg("line %d: %s returned after %llu ms: no bound of "
			 "%d ms", line, what, (unsigned long long)a.ms,
			 bound_ms);
	snprintf(want, sizeof(want), "poolmgrd at %s did not answer within "
		 "%s", path, bound_words);
	assert_string_equal(m, want);
	assert_int_equal(count_fds(), a.fds);
	assert_int_equal(count_threads(), a.threads);
}

/* The call's result, time and leftovers, for expect_timeout. */
#define ATTEMPT(a, call)						\
	do {								\
		(a) = attempt_begin();					\
		(a).rc = (call);					\
		(a).ms = harness_now_ms() - (a).ms;			\
	} while (0)

static void
accepted_never_answered(void **state)
{
	struct attempt a;
	struct peer p;

	(void)state;
	peer_accepting(&p);
	ATTEMPT(a, pool_connect_timeout(p.sock, BOUND_MS, &a.c));
	expect_timeout(a, p.sock, BOUND_MS, BOUND_WORDS, "accepted, silent",
		       __LINE__);
	/* Another bound, said as written. */
	ATTEMPT(a, pool_connect_timeout(p.sock, 1250, &a.c));
	expect_timeout(a, p.sock, 1250, "1.25 s", "accepted, 1250 ms",
		       __LINE__);
	peer_end(&p);
}

static void
queued_never_accepted(void **state)
{
	struct attempt a;
	struct peer p;

	(void)state;
	peer_listen(&p, 16);
	ATTEMPT(a, pool_connect_timeout(p.sock, BOUND_MS, &a.c));
	expect_timeout(a, p.sock, BOUND_MS, BOUND_WORDS, "queued", __LINE__);
	peer_end(&p);
}

static void
backlog_full(void **state)
{
	struct attempt a;
	struct peer p;

	(void)state;
	peer_full(&p);
	ATTEMPT(a, pool_connect_timeout(p.sock, BOUND_MS, &a.c));
	expect_timeout(a, p.sock, BOUND_MS, BOUND_WORDS, "backlog full",
		       __LINE__);
	/* No time at all: the one try waits not, and is -ETIMEDOUT. */
	ATTEMPT(a, pool_connect_timeout(p.sock, 0, &a.c));
	expect_timeout(a, p.sock, 0, "0 s", "backlog full, 0 ms", __LINE__);
	peer_end(&p);
}

/* A connect in a thread of its own, and when it began. */
struct connecting {
	const char *sock;
	uint64_t start_ms;
	int started;		/* start_ms is set */
	int rc;
};

#define FORK_BOUND_MS 3000

static void *
connecting_main(void *arg)
{
	struct connecting *k = arg;
	struct pool_conn *c = NULL;

	k->start_ms = harness_now_ms();
	__atomic_store_n(&k->started, 1, __ATOMIC_RELEASE);
	k->rc = pool_connect_timeout(k->sock, FORK_BOUND_MS, &c);
	if (k->rc == 0)
		pool_disconnect(c);
	return NULL;
}

static void
fork_while_connecting(void **state)
{
	struct connecting k = {0};
	struct peer p;
	pthread_t t;
	uint64_t forked_ms;
	pid_t pid;
	int st;

	(void)state;
	peer_full(&p);
	k.sock = p.sock;
	assert_int_equal(pthread_create(&t, NULL, connecting_main, &k), 0);
	/* Not from before it ran: a thread late to start is no failure. */
	while (!__atomic_load_n(&k.started, __ATOMIC_ACQUIRE))
		harness_sleep_ms(1);
	harness_sleep_ms(200);	/* in connect(2) now: it waits 3 s */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	forked_ms = harness_now_ms() - k.start_ms;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(pthread_join(t, NULL), 0);
	printf("connect: a fork %" PRIu64 " ms into a connect of at most %d "
	       "ms returned\n", forked_ms, FORK_BOUND_MS);
	assert_int_equal(k.rc, -ETIMEDOUT);
	/* Before the connect could have ended: it did not wait for it. */
	assert_true(forked_ms < FORK_BOUND_MS);
	peer_end(&p);
}

static void
environment_bound(void **state)
{
	static const struct {
		const char *value, *words;
		int ms;
	} cases[] = {
		{"0.3", "0.3 s", 300},
		{".25", "0.25 s", 250},
		{"0.0001", "0.001 s", 1},	/* rounded up, not none */
		{"1", "1 s", 1000},
	};
	struct attempt a;
	struct peer p;
	size_t i;

	(void)state;
	peer_accepting(&p);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setenv("POOLMGR_CONNECT_TIMEOUT", cases[i].value, 1);
		ATTEMPT(a, pool_connect(p.sock, &a.c));
		expect_timeout(a, p.sock, cases[i].ms, cases[i].words,
			       cases[i].value, __LINE__);
	}
	/* NULL: $POOLMGRD_SOCKET's, bounded alike. */
	setenv("POOLMGR_CONNECT_TIMEOUT", "0.3", 1);
	setenv("POOLMGRD_SOCKET", p.sock, 1);
	ATTEMPT(a, pool_connect(NULL, &a.c));
	expect_timeout(a, p.sock, BOUND_MS, BOUND_WORDS, "NULL path",
		       __LINE__);
	unsetenv("POOLMGRD_SOCKET");
	/* The explicit bound is the caller's, whatever the environment. */
	setenv("POOLMGR_CONNECT_TIMEOUT", "0", 1);
	ATTEMPT(a, pool_connect_timeout(p.sock, BOUND_MS, &a.c));
	expect_timeout(a, p.sock, BOUND_MS, BOUND_WORDS, "env 0, 300 ms",
		       __LINE__);
	unsetenv("POOLMGR_CONNECT_TIMEOUT");
	peer_end(&p);
}

static volatile sig_atomic_t ticks;

static void
on_tick(int sig)
{
	(void)sig;
	ticks++;
}

struct ticker {
	pthread_t main, thread;
	int stop;		/* atomic: set by the main thread */
};

/* Interrupt the main thread every 20 ms until told to stop. */
static void *
ticker_main(void *arg)
{
	struct ticker *t = arg;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		pthread_kill(t->main, SIGUSR1);
		harness_sleep_ms(20);
	}
	return NULL;
}

static void
signals_do_not_end_it(void **state)
{
	struct sigaction sa, old;
	struct ticker t = {.stop = 0};
	struct attempt a;
	struct peer p[2];
	int i;

	(void)state;
	peer_accepting(&p[0]);
	peer_full(&p[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	ticks = 0;
	t.main = pthread_self();
	assert_int_equal(pthread_create(&t.thread, NULL, ticker_main, &t),
			 0);
	/* Threads counted with the ticker: it is there before and after. */
	for (i = 0; i < 2; i++) {
		ATTEMPT(a, pool_connect_timeout(p[i].sock, BOUND_MS, &a.c));
		expect_timeout(a, p[i].sock, BOUND_MS, BOUND_WORDS,
			       i == 0 ? "hello, signals" : "connect, signals",
			       __LINE__);
	}
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t.thread, NULL);
	sigaction(SIGUSR1, &old, NULL);
	printf("connect: %d signals during the connects\n", (int)ticks);
	assert_true(ticks > 0);
	for (i = 0; i < 2; i++)
		peer_end(&p[i]);
}

static void
bad_arguments(void **state)
{
	struct pool_conn *c = (struct pool_conn *)&c;
	char gone[160];
	struct peer p;

	(void)state;
	peer_accepting(&p);
	EXPECT_RC(pool_connect_timeout(p.sock, -2, &c), -EINVAL);
	assert_null(c);
	c = (struct pool_conn *)&c;
	EXPECT_RC(pool_connect_timeout(p.sock, INT_MIN, &c), -EINVAL);
	assert_null(c);
	EXPECT_RC(pool_connect_timeout(p.sock, BOUND_MS, NULL), -EINVAL);
	EXPECT_RC(pool_connect_timeout("", BOUND_MS, &c), -EINVAL);
	/* A bound of 0 still tries: no socket is -ENOENT, not a timeout. */
	snprintf(gone, sizeof(gone), "%s/gone.sock", p.dir);
	EXPECT_RC(pool_connect_timeout(gone, 0, &c), -ENOENT);
	assert_non_null(strstr(pool_last_message(-ENOENT), gone));
	assert_string_equal(pool_last_message(-ETIMEDOUT), "");
	peer_end(&p);
}

/* ---- what_is_there_is_named -------------------------------------------- */

/* connect(2)'s code at path, from a socket of the library's type. */
static int
connect_code(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, rc;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ? 0 :
	     -errno;
	close(fd);
	return rc;
}

/* A socket of type bound at path, listening if listens. */
static int
bound_socket(const char *path, int type, bool listens)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listens)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/*
 * pool_connect_timeout to path must be connect(2)'s code there, which
 * must be code, with words want for that code alone, and leave no
 * descriptor or thread behind.
 */
static void
expect_refused(const char *path, int code, const char *want, int line)
{
	struct attempt a;

	if (connect_code(path) != code)
		fail_msg("line %d: connect(2) to %s is %d, not %d", line, path,
			 connect_code(path), code);
	ATTEMPT(a, pool_connect_timeout(path, BOUND_MS, &a.c));
	printf("connect: %s -> %d (%s): %s\n", path, a.rc,
	       pool_strerror(a.rc), pool_last_message(a.rc));
	if (a.rc != code)
		fail_msg("line %d: pool_connect_timeout to %s = %d, connect(2) "
			 "says %d", line, path, a.rc, code);
	assert_null(a.c);
	assert_string_equal(pool_last_message(code), want);
	assert_string_equal(pool_last_message(-ENOENT), "");
	assert_int_equal(count_fds(), a.fds);
	assert_int_equal(count_threads(), a.threads);
}

static void
what_is_there_is_named(void **state)
{
	char dir[64], path[128], link[128], want[512];
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/poolmgr-connect.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(want, sizeof(want), "%s is a directory, not a socket "
		 "($POOLMGRD_SOCKET names poolmgrd's socket)", dir);
	expect_refused(dir, -ECONNREFUSED, want, __LINE__);

	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(want, sizeof(want), "%s is a regular file, not a socket "
		 "($POOLMGRD_SOCKET names poolmgrd's socket)", path);
	expect_refused(path, -ECONNREFUSED, want, __LINE__);
	assert_int_equal(unlink(path), 0);

	/* As a daemon that stopped leaves its socket: nobody listens. */
	snprintf(path, sizeof(path), "%s/left.sock", dir);
	close(bound_socket(path, SOCK_SEQPACKET, false));
	snprintf(want, sizeof(want), "no poolmgrd listens on the socket %s "
		 "(a socket left by a daemon that stopped?)", path);
	expect_refused(path, -ECONNREFUSED, want, __LINE__);

	/* connect(2) follows a symbolic link, and so do the words. */
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(path, link), 0);
	snprintf(want, sizeof(want), "no poolmgrd listens on the socket %s "
		 "(a socket left by a daemon that stopped?)", link);
	expect_refused(link, -ECONNREFUSED, want, __LINE__);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(dir, link), 0);
	snprintf(want, sizeof(want), "%s is a directory, not a socket "
		 "($POOLMGRD_SOCKET names poolmgrd's socket)", link);
	expect_refused(link, -ECONNREFUSED, want, __LINE__);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);

	fd = bound_socket(path, SOCK_STREAM, true);
	snprintf(want, sizeof(want), "%s is a socket of another type, not "
		 "poolmgrd's", path);
	expect_refused(path, -EPROTOTYPE, want, __LINE__);
	close(fd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A daemon that goes on again after ms, from another thread. */
struct resume {
	pid_t pid;
	int ms;
};

static void *
resume_main(void *arg)
{
	const struct resume *r = arg;

	harness_sleep_ms(r->ms);
	kill(r->pid, SIGCONT);
	return NULL;
}

static void
real_daemon(void **state)
{
	struct daemon_proc *d = *state;
	struct resume r = {.pid = d->pid, .ms = 3 * BOUND_MS};
	struct pool_conn *c = NULL, *c2 = NULL;
	struct pool_stats st;
	struct attempt a;
	pthread_t t;
	pool_off_t off;
	struct pool *p = NULL;

	EXPECT_RC(pool_connect_timeout(d->sock, BOUND_MS, &c), 0);
	EXPECT_RC(pool_connect_timeout(d->sock, -1, &c2), 0);
	pool_disconnect(c2);
	setenv("POOLMGR_CONNECT_TIMEOUT", "0", 1);
	EXPECT_RC(pool_connect(d->sock, &c2), 0);
	pool_disconnect(c2);
	setenv("POOLMGR_CONNECT_TIMEOUT", "not a number", 1);
	EXPECT_RC(pool_connect(d->sock, &c2), 0);
	pool_disconnect(c2);
	unsetenv("POOLMGR_CONNECT_TIMEOUT");
	EXPECT_RC(pool_open(c, POOL, &p), 0);
	EXPECT_RC(pool_alloc(p, 100, &off), 0);

	/*
	 * Requests have no bound: stopped for 3 times the connect's bound,
	 * the daemon answers once it goes on.
	 */
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&t, NULL, resume_main, &r), 0);
	EXPECT_RC(pool_stats(p, &st), 0);
	pthread_join(t, NULL);
	EXPECT_RC(pool_free(p, off), 0);

	/* Stopped, it cannot answer a new connection's Hello. */
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
	ATTEMPT(a, pool_connect_timeout(d->sock, BOUND_MS, &a.c));
	expect_timeout(a, d->sock, BOUND_MS, BOUND_WORDS, "SIGSTOPped daemon",
		       __LINE__);
	assert_int_equal(kill(d->pid, SIGCONT), 0);
	EXPECT_RC(pool_connect_timeout(d->sock, 10000, &c2), 0);
	EXPECT_RC(pool_stats_by_name(c2, POOL, &st), 0);
	pool_disconnect(c2);
	/* The first connection lived through it all. */
	EXPECT_RC(pool_stats(p, &st), 0);
	pool_close(p);
	pool_disconnect(c);
}

/*
 * A lookup's wait that ran out is the daemon's -ETIMEDOUT, a connect
 * nobody answered the library's: pool_strerror's one text covers both,
 * and the words after each say which, and where, one replacing the
 * other on the same thread.
 */
static void
wait_and_connect_timeouts_say_which(void **state)
{
	struct daemon_proc *d = *state;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct attempt a;
	struct peer silent;
	pool_off_t off;
	const char *m;
	int round;

	EXPECT_RC(pool_connect_timeout(d->sock, BOUND_MS, &c), 0);
	EXPECT_RC(pool_open(c, POOL, &p), 0);
	peer_accepting(&silent);
	for (round = 0; round < 2; round++) {
		EXPECT_RC(pool_lookup_wait(p, "never", 0, 100, 0, &off, NULL,
					   NULL), -ETIMEDOUT);
		m = pool_last_message(-ETIMEDOUT);
		printf("connect: a lookup's wait ran out: %s\n", m);
		if (strcmp(m, "no name 'never' came in pool " POOL " in "
			   "100 ms") != 0)
			fail_msg("round %d: a lookup's wait said \"%s\"",
				 round, m);
		ATTEMPT(a, pool_connect_timeout(silent.sock, BOUND_MS, &a.c));
		expect_timeout(a, silent.sock, BOUND_MS, BOUND_WORDS,
			       "silent peer after a wait", __LINE__);
	}
	peer_end(&silent);
	pool_close(p);
	pool_disconnect(c);
}

static int
daemon_up(void **state)
{
	guard_on(state);
	harness_fixture_start(*state, CONF);
	return 0;
}

static int
daemon_down(void **state)
{
	guard_off(state);
	return harness_fixture_teardown(state);
}

/* What each example program says to a peer that never answers. */
static void
examples_unanswered(const struct peer *p)
{
	static const char *const progs[] = {"producer", "consumer"};
	char cmd[1024], err[1024], want[512];
	size_t i, n;
	FILE *f;

	for (i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "POOLMGR_CONNECT_TIMEOUT=0.3 "
			 "POOLMGRD_SOCKET='%s' '%s/examples/%s' p x "
			 "</dev/null 2>&1 >/dev/null", p->sock,
			 harness_build(), progs[i]);
		assert_non_null(f = popen(cmd, "r"));
		n = fread(err, 1, sizeof(err) - 1, f);
		err[n] = '\0';
		assert_int_equal(pclose(f), 1 << 8);	/* exit status 1 */
		snprintf(want, sizeof(want), "%s: cannot connect: poolmgrd at "
			 "%s did not answer within 0.3 s\n", progs[i], p->sock);
		assert_string_equal(err, want);
	}
}

static void
poolctl_unanswered(void **state)
{
	struct daemon_proc fake;
	char out[4096], err[4096], want[512];
	struct peer p;
	int rc;

	(void)state;
	peer_accepting(&p);
	memset(&fake, 0, sizeof(fake));
	snprintf(fake.dir, sizeof(fake.dir), "%s", p.dir);
	rc = harness_poolctl(&fake, "POOLMGR_CONNECT_TIMEOUT=0.3", out,
			     sizeof(out), err, sizeof(err), "--socket %s list",
			     p.sock);
	printf("connect: poolctl said: %s", err);
	assert_int_equal(rc, 69);	/* EX_UNAVAILABLE */
	snprintf(want, sizeof(want), "poolctl: cannot connect: poolmgrd at "
		 "%s did not answer within 0.3 s\n", p.sock);
	assert_string_equal(err, want);
	assert_string_equal(out, "");
	snprintf(want, sizeof(want), "%s/poolctl.err", p.dir);
	unlink(want);
	examples_unanswered(&p);
	peer_end(&p);
}

static struct daemon_proc daemon_proc;

#define T(fn) cmocka_unit_test_setup_teardown(fn, guard_on, guard_off)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(accepted_never_answered),
		T(queued_never_accepted),
		T(backlog_full),
		T(fork_while_connecting),
		T(environment_bound),
		T(signals_do_not_end_it),
		T(bad_arguments),
		T(what_is_there_is_named),
		T(poolctl_unanswered),
		cmocka_unit_test_prestate_setup_teardown(real_daemon,
			daemon_up, daemon_down, &daemon_proc),
		cmocka_unit_test_prestate_setup_teardown(
			wait_and_connect_timeouts_say_which, daemon_up,
			daemon_down, &daemon_proc),
	};

	unsetenv("POOLMGR_CONNECT_TIMEOUT");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
