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
 * Usage: bench_journal [R]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "journal.h"
#include "pool.h"
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
		    dpool_persist(p, h, b->off) != 0)
			die("alloc or persist refused");
		off = b->off;
		if (dpool_free(p, h, off) != 0 || dpool_free(p, h, off) != 0)
			die("free refused");
		if (store >= 0 && (i & 4095) == 0)
			*pushed += drain(store);
	}
	return (double)(cpu_ns() - t0) / (double)rounds;
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
