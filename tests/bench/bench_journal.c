/*
 * bench_journal.c - what the crash journal (daemon/journal.c) adds to a
 * persist and to the free of a persistent block, on the daemon's own pool
 * code in this process: no client, no socket round trip.
 *
 * One session, one handle on a 64 MiB pool.  A round is an allocation of
 * 64 B, its persist, the holder's free and the free that unpersists it
 * (the block goes back to the engine).  R rounds (default 1,000,000) run
 * without the journal, then with it: NOTIFY_SOCKET is a datagram socket
 * of this process standing in for systemd's store (its messages are read
 * and dropped), FDSTORE is set, and journal_start writes the journal.
 * Three passes of each, those without first (the journal once started
 * stays on).  Printed: the CPU time per round of each pass, the journals
 * pushed (the start's and each compaction's), and the load average.
 *
 * Instructions are counted, not timed, with callgrind over the journal's
 * functions only:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *     --toggle-collect='journal_*' build/bench/bench_journal 100000
 *
 * With --pause, the longest the journal holds the daemon's thread at
 * once, with 10^3, 10^5 and 10^6 persistent blocks of 64 B in one pool:
 * the blocks are allocated and persisted with the journal on, then
 * rounds as above run until a compaction has taken all of them in.  A
 * step the journal asks for (journal_setup) runs after the request that
 * asked, as the daemon's loop runs it on its next turn.  Printed for
 * each: the CPU time (CLOCK_THREAD_CPUTIME_ID) of the longest single
 * call (a request with its journal work, or a compaction step), the
 * compaction's steps and their CPU time all told, and the rounds until
 * its journal was pushed.  With --pause-names, the same with the first
 * blocks (up to a pool's POOL_MAX_NAMES) published under a name of 8
 * bytes instead of persisted: the journal then holds name records too.
 *
 * With --pause-start, the two other walks of every pool, at 10^5 and
 * 10^6 persistent blocks of 64 B (each size in a child of its own, the
 * blocks made before the journal starts): the start's snapshot
 * (journal_start and the steps it asks for), then a fresh journal after a
 * failed write (RLIMIT_FSIZE at the journal's size; the next persist
 * fails, the limit is lifted, and the steps run until the fresh journal
 * is pushed).  Between two steps a round as above runs, as a request
 * would.  Printed for each: the longest single call and the steps.
 *
 * Usage: bench_journal [R] | --pause | --pause-names | --pause-start
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "block_names.h"
#include "journal.h"
#include "pool.h"
#include "pool_names.h"
#include "session.h"

#define PASSES 3

static void
die(const char *what)
{
	fprintf(stderr, "bench_journal: %s\n", what);
	exit(2);
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The store's messages: read and dropped; journal pushes counted. */
static unsigned
drain(int fd)
{
	char buf[512], ctl[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	unsigned pushed = 0;
	ssize_t n;
	int f;

	while ((n = recvmsg(fd, &m, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		if (strstr(buf, "FDSTORE=1\nFDNAME=journal."))
			pushed++;
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_type == SCM_RIGHTS) {
				memcpy(&f, CMSG_DATA(cm), sizeof(f));
				close(f);
			}
		m.msg_controllen = sizeof(ctl);
	}
	return pushed;
}

/* rounds rounds; the CPU time per round in ns. */
static double
run(struct dpool *p, struct handle *h, size_t rounds, int store,
    unsigned *pushed)
{
	uint64_t t0 = cpu_ns(), off;
	struct block *b;
	size_t i;

	for (i = 0; i < rounds; i++) {
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0 ||
		    dpool_persist(p, h, b->off, 0) != 0)
			die("alloc or persist refused");
		off = b->off;
		if (dpool_free(p, h, off) != 0 || dpool_free(p, h, off) != 0)
			die("free refused");
		if (store >= 0 && (i & 4095) == 0)
			*pushed += drain(store);
	}
	return (double)(cpu_ns() - t0) / (double)rounds;
}

static uint64_t
thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The store's socket at path, NOTIFY_SOCKET and FDSTORE set: its fd. */
static int
store_open(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
		die("no socket for the store");
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("FDSTORE", "1796", 1);
	return fd;
}

static bool step_due;
static bool named;		/* --pause-names */

static void
step_in(unsigned ms)
{
	(void)ms;
	step_due = true;
}

/* The longest of one call's CPU time so far, and the sum of those. */
struct longest {
	uint64_t max, sum;
};

static void
longest_add(struct longest *l, uint64_t t0)
{
	uint64_t d = thread_ns() - t0;

	if (d > l->max)
		l->max = d;
	l->sum += d;
}

/*
 * n persistent blocks in p, then rounds until a journal has been pushed
 * since: the compaction that walked them all.  Each call timed alone.
 */
static void
pause_at(struct dpool *p, struct handle *h, size_t n, size_t have,
	 int store)
{
	struct longest all = {0}, step = {0};
	struct block *b;
	uint64_t t0, off;
	size_t i, rounds = 0, nsteps = 0;
	unsigned pushed = 0;
	char name[16];
	int rc;

	for (i = have; i < n; i++) {
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		if (named && i < POOL_MAX_NAMES) {
			snprintf(name, sizeof(name), "b/%06zu", i);
			rc = dpool_publish(p, h, b->off, name, strlen(name),
					   false, false);
		} else
			rc = dpool_persist(p, h, b->off, 0);
		if (rc != 0)
			die("persist or publish refused");
		while (step_due) {
			step_due = false;
			journal_step();
		}
		if ((i & 4095) == 0)
			(void)drain(store);
	}
	(void)drain(store);
	while (pushed == 0) {
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		off = b->off;
		t0 = thread_ns();
		if (dpool_persist(p, h, off, 0) != 0)
			die("persist refused");
		longest_add(&all, t0);
		t0 = thread_ns();
		if (dpool_free(p, h, off) != 0 || dpool_free(p, h, off) != 0)
			die("free refused");
		longest_add(&all, t0);
		while (step_due) {
			step_due = false;
			t0 = thread_ns();
			journal_step();
			longest_add(&step, t0);
			nsteps++;
		}
		rounds++;
		pushed = drain(store);
	}
	printf("%8zu persistent blocks: longest %.3f ms CPU at once "
	       "(a request %.3f, a step %.3f), %zu steps of %.1f ms CPU all "
	       "told, %zu rounds until the compaction\n", n,
	       (double)(all.max > step.max ? all.max : step.max) / 1e6,
	       (double)all.max / 1e6, (double)step.max / 1e6, nsteps,
	       (double)step.sum / 1e6, rounds);
}

static void
pause_bench(void)
{
	static const size_t sizes[] = {1000, 100000, 1000000};
	struct dpool_params pp = {.size = 256ull << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	char dir[] = "/tmp/bench_journal.XXXXXX", path[64];
	struct session *s;
	struct handle *h;
	struct dpool *p;
	size_t k, have = 0;
	int sv[2], store;

	if (!mkdtemp(dir))
		die("no directory");
	snprintf(path, sizeof(path), "%s/notify", dir);
	store = store_open(path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1 ||
	    !(s = session_new(sv[0])) || dpool_create("p", &pp, &p) != 0 ||
	    !(h = session_open(s, p, false)))
		die("no pool");
	journal_setup(step_in);
	journal_start(NULL);
	if (!journal_slots())
		die("the journal did not start");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		pause_at(p, h, sizes[k], have, store);
		have = sizes[k];
	}
	printf("load   %.2f\n", load_avg());
	journal_stop(true);
	session_free(s);
	dpool_destroy(p, false);
	close(sv[0]);
	close(sv[1]);
	close(store);
	unlink(path);
	rmdir(dir);
}

/*
 * Steps until a journal is pushed, a round between two of them: the
 * longest call (step or request) and the steps.
 */
static void
steps_until_pushed(struct dpool *p, struct handle *h, int store,
		   const char *what, size_t n)
{
	struct longest all = {0}, step = {0};
	size_t nsteps = 0;
	unsigned pushed = 0;
	struct block *b;
	uint64_t t0, off;

	while (pushed == 0) {
		if (!step_due)
			die("no journal pushed and no step asked for");
		step_due = false;
		t0 = thread_ns();
		journal_step();
		longest_add(&step, t0);
		nsteps++;
		pushed = drain(store);
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0)
			die("alloc refused");
		off = b->off;
		t0 = thread_ns();
		if (dpool_persist(p, h, off, 0) != 0 ||
		    dpool_free(p, h, off) != 0 || dpool_free(p, h, off) != 0)
			die("persist or free refused");
		longest_add(&all, t0);
	}
	printf("%8zu persistent blocks, %s: longest step %.3f ms CPU, "
	       "request %.3f; %zu steps of %.1f ms CPU all told\n", n, what,
	       (double)step.max / 1e6, (double)all.max / 1e6, nsteps,
	       (double)step.sum / 1e6);
}

/* The daemon's journal memfd (the newest "poolmgr:journal"): its size. */
static off_t
journal_size(void)
{
	char path[64], link[64];
	struct stat st;
	off_t size = 0;
	int fd;

	for (fd = 3; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (readlink(path, link, sizeof(link)) > 0 &&
		    strncmp(link, "/memfd:poolmgr:journal", 22) == 0 &&
		    fstat(fd, &st) == 0)
			size = st.st_size;
	}
	return size;
}

static void
start_child(size_t n)
{
	struct dpool_params pp = {.size = 256ull << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	char dir[] = "/tmp/bench_journal.XXXXXX", path[64];
	struct longest start = {0};
	struct rlimit rl;
	struct session *s;
	struct handle *h;
	struct dpool *p;
	struct block *b;
	uint64_t t0;
	size_t i;
	int sv[2], store;

	if (!mkdtemp(dir))
		die("no directory");
	snprintf(path, sizeof(path), "%s/notify", dir);
	store = store_open(path);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1 ||
	    !(s = session_new(sv[0])) || dpool_create("p", &pp, &p) != 0 ||
	    !(h = session_open(s, p, false)))
		die("no pool");
	for (i = 0; i < n; i++)
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0 ||
		    dpool_persist(p, h, b->off, 0) != 0)
			die("alloc or persist refused");
	journal_setup(step_in);
	t0 = thread_ns();
	journal_start(NULL);
	longest_add(&start, t0);
	if (!journal_slots())
		die("the journal did not start");
	printf("%8zu persistent blocks, start: journal_start %.3f ms CPU\n",
	       n, (double)start.max / 1e6);
	if (drain(store) == 0)
		steps_until_pushed(p, h, store, "start's steps", n);
	/* The next grow of the journal fails: a fresh one is due. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = (rlim_t)journal_size();
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		die("no RLIMIT_FSIZE");
	while (journal_slots())
		if (dpool_alloc(p, h, 64, 0, false, 0, &b) != 0 ||
		    dpool_persist(p, h, b->off, 0) != 0)
			die("alloc or persist refused");
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_FSIZE, &rl);
	(void)drain(store);
	steps_until_pushed(p, h, store, "fresh after a failed write", n);
	journal_stop(true);
	close(store);
	unlink(path);
	rmdir(dir);
}

static void
start_bench(void)
{
	static const size_t sizes[] = {100000, 1000000};
	size_t k;
	pid_t pid;
	int st;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		fflush(stdout);
		if ((pid = fork()) == -1)
			die("no fork");
		if (pid == 0) {
			start_child(sizes[k]);
			fflush(stdout);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			die("a child failed");
	}
	printf("load   %.2f\n", load_avg());
}

int
main(int argc, char **argv)
{
	struct dpool_params pp = {.size = 64 << 20, .granularity = 16,
				  .mode = 0600, .uid = getuid(),
				  .gid = getgid()};
	size_t rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	double off[PASSES], on[PASSES];
	unsigned pushed = 0, k;
	struct session *s;
	struct handle *h;
	struct dpool *p;
	char dir[] = "/tmp/bench_journal.XXXXXX";
	int sv[2], store;

	if (argc > 1 && strcmp(argv[1], "--pause-start") == 0) {
		start_bench();
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "--pause") == 0 ||
			 strcmp(argv[1], "--pause-names") == 0)) {
		named = argv[1][7] != '\0';
		pause_bench();
		return 0;
	}
	if (rounds == 0 || !mkdtemp(dir))
		die("usage: bench_journal [R], R > 0");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
	store = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (store < 0 || bind(store, (struct sockaddr *)&sun, sizeof(sun)))
		die("no socket for the store");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1 ||
	    !(s = session_new(sv[0])) || dpool_create("p", &pp, &p) != 0 ||
	    !(h = session_open(s, p, false)))
		die("no pool");
	for (k = 0; k < PASSES; k++)
		off[k] = run(p, h, rounds, -1, NULL);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	setenv("FDSTORE", "1796", 1);
	journal_start(NULL);
	if (!journal_slots())
		die("the journal did not start");
	for (k = 0; k < PASSES; k++)
		on[k] = run(p, h, rounds, store, &pushed);
	pushed += drain(store);
	printf("rounds %zu (alloc 64 B, persist, free, free)\n", rounds);
	for (k = 0; k < PASSES; k++)
		printf("pass %u: %.1f ns CPU per round without the journal, "
		       "%.1f ns with\n", k + 1, off[k], on[k]);
	printf("journals pushed %u (a start's and the compactions)\n",
	       pushed);
	printf("load   %.2f\n", load_avg());
	journal_stop(true);
	session_free(s);
	dpool_destroy(p, false);
	close(sv[0]);
	close(sv[1]);
	close(store);
	unlink(sun.sun_path);
	rmdir(dir);
	return 0;
}
