/*
 * bench_daemon.c - poolmgrd for the benchmarks: a temporary directory with
 * a configuration (no pools: the benchmarks create their own), the daemon
 * in the foreground with its log in the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_daemon.h"

static int
can_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ok;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

int
wait_for_socket(const char *path, pid_t pid)
{
	struct timespec ms10 = { 0, 10 * 1000 * 1000 };
	int st;

	for (int i = 0; i < 1000; i++) {
		if (can_connect(path))
			return 0;
		if (waitpid(pid, &st, WNOHANG) != 0)
			return -1;
		nanosleep(&ms10, NULL);
	}
	return -1;
}

int
daemon_start(struct daemon *d, const char *bin)
{
	return daemon_start_conf(d, bin, "");
}

int
daemon_start_conf(struct daemon *d, const char *bin, const char *extra)
{
	FILE *f;

	memset(d, 0, sizeof *d);
	snprintf(d->dir, sizeof d->dir, "/tmp/poolmgr-bench.XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		return -1;
	snprintf(d->sock, sizeof d->sock, "%s/poolmgrd.sock", d->dir);
	snprintf(d->conf, sizeof d->conf, "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof d->log, "%s/poolmgrd.log", d->dir);
	if ((f = fopen(d->conf, "w")) == NULL)
		return -1;
	fprintf(f, "[daemon]\nsocket_mode = 0600\n%s", extra);
	fclose(f);

	fflush(NULL);
	if ((d->pid = fork()) < 0)
		return -1;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0)
			dup2(fd, 2);
		execl(bin, "poolmgrd", "--socket", d->sock, "--config",
		      d->conf, (char *)NULL);
		_exit(127);
	}
	if (wait_for_socket(d->sock, d->pid) != 0) {
		daemon_stop(d);
		return -1;
	}
	return 0;
}

static void
print_log(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f))
		fprintf(stderr, "  poolmgrd: %s", line);
	fclose(f);
}

void
daemon_stop(struct daemon *d)
{
	int st = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench: poolmgrd ended badly (status "
				"%#x); its log:\n", st);
			print_log(d->log);
		}
		d->pid = 0;
	}
	unlink(d->sock);
	unlink(d->conf);
	unlink(d->log);
	rmdir(d->dir);
}
