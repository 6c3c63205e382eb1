/*
 * bench_peer.c - run bench_boost as a child with its output on a pipe and
 * parse its one line (see bench_boost.cpp).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_peer.h"

/* The child's whole stdout into buf; its exit status, or -1. */
static int
run_child(char *const argv[], char *buf, size_t len)
{
	size_t got = 0;
	int fds[2], st;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]), close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (pid > 0 && got + 1 < len) {
		ssize_t n = read(fds[0], buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fds[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
boost_run(const struct env *e, enum mix m, int procs, double *rate,
	  struct mem *mem, char *note, size_t len)
{
	char a_mix[8], a_procs[8], a_secs[32], a_seed[32], out[512], ver[32];
	char *argv[] = { (char *)e->boost_bin, a_mix, a_procs, a_secs, a_seed,
			 NULL };
	uint64_t live, freed, size;

	snprintf(a_mix, sizeof a_mix, "%d", m == MIX_LARGE);
	snprintf(a_procs, sizeof a_procs, "%d", procs);
	snprintf(a_secs, sizeof a_secs, "%.3f", e->heap_secs);
	snprintf(a_seed, sizeof a_seed, "%" PRIu64, e->seed);
	if (run_child(argv, out, sizeof out) != 0 ||
	    sscanf(out, "rate=%lf live=%" SCNu64 " freed=%" SCNu64
		   " size=%" SCNu64 " boost=%31s", rate, &live, &freed, &size,
		   ver) != 5) {
		fprintf(stderr, "bench: %s failed\n", e->boost_bin);
		return -1;
	}
	*mem = (struct mem){ .live = live, .freed = freed, .trimmed = freed,
			     .ok = true };
	snprintf(note, len, "Boost %s, %" PRIu64 " MiB segment", ver,
		 size >> 20);
	return 0;
}
