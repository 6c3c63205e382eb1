/*
 * poolctl_util.c - the poolctl tests' daemon, poolctl run against it as
 * root or as nobody, and a refused size's words (poolctl_util.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "poolctl_util.h"

struct fixture fx;

void
start(const char *config)
{
	assert_int_equal(harness_start(&fx.d, config), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
}

void
release_clients(void)
{
	if (fx.holder > 0) {
		close(fx.release_fd);
		harness_wait(fx.holder);
		fx.holder = 0;
	}
	if (fx.pool)
		pool_close(fx.pool);
	fx.pool = NULL;
	if (fx.conn)
		pool_disconnect(fx.conn);
	fx.conn = NULL;
}

void
stop(void)
{
	release_clients();
	assert_int_equal(harness_stop(&fx.d), 0);
}

int
poolctl_teardown(void **state)
{
	(void)state;
	release_clients();
	if (fx.d.pid > 0)
		harness_stop(&fx.d);
	return 0;
}

void
expect_exit(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: exit %d, want %d\n--- stdout:\n%s--- stderr:\n%s",
			 what, got, want, fx.out, fx.err);
}

const char *
line_starting(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *l = text;

	while (l && *l) {
		while (*l == ' ')
			l++;
		if (strncmp(l, word, n) == 0 && (l[n] == ' ' || l[n] == '\t'))
			return l;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return NULL;
}

struct pool_stats
stats_of(const char *name)
{
	struct pool_stats st;
	int rc = pool_stats_by_name(fx.conn, name, &st);

	if (rc)
		fail_msg("pool_stats_by_name(%s): %s", name, pool_strerror(rc));
	return st;
}

bool
pool_exists(const char *name)
{
	struct pool_stats st;
	int rc = pool_stats_by_name(fx.conn, name, &st);

	if (rc && rc != -ENOENT)
		fail_msg("pool_stats_by_name(%s): %s", name, pool_strerror(rc));
	return rc == 0;
}

pool_off_t
alloc_ok(struct pool *p, size_t size)
{
	pool_off_t off = POOL_OFF_NONE;
	int rc = pool_alloc(p, size, &off);

	if (rc)
		fail_msg("pool_alloc(%zu): %s", size, pool_strerror(rc));
	memset(pool_ptr(p, off), 0x6b, size);
	return off;
}

/* ---- another uid ---------------------------------------------------------- */

struct as_other {
	const char *argv[8];
	int out;		/* the write end of a pipe, for stdout */
	int err;		/* and of another, for stderr */
};

/* In the child, already nobody: run poolctl with stdout into the pipe. */
static int
exec_poolctl(void *arg)
{
	struct as_other *a = arg;

	if (dup2(a->out, 1) == -1 || dup2(a->err, 2) == -1)
		return 125;
	execv(a->argv[0], (char *const *)a->argv);
	return 127;
}

/* All of fd into buf (of size len), as a string; closes fd. */
static void
read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

int
ctl_as_nobody(const char *a1, const char *a2, const char *a3, const char *a4)
{
	struct as_other a = {.out = -1, .err = -1};
	char bin[256];
	int fds[2], efds[2], rc;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/poolctl", harness_build());
	a.argv[0] = bin;
	a.argv[1] = a1;
	a.argv[2] = a2;
	a.argv[3] = a3;
	a.argv[4] = a4;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(efds), 0);
	a.out = fds[1];
	a.err = efds[1];
	pid = harness_spawn_as(NOBODY, NOBODY, exec_poolctl, &a);
	close(fds[1]);
	close(efds[1]);
	if (pid == -1) {
		close(fds[0]);
		close(efds[0]);
		return -1;
	}
	read_all(fds[0], fx.out, sizeof(fx.out));
	read_all(efds[0], fx.err, sizeof(fx.err));
	rc = harness_wait(pid);
	printf("poolctl: as uid %d: `poolctl %s%s%s%s%s%s%s` -> %d\n", NOBODY,
	       a1, a2 ? " " : "", a2 ? a2 : "", a3 ? " " : "", a3 ? a3 : "",
	       a4 ? " " : "", a4 ? a4 : "", rc);
	fflush(stdout);
	return rc;
}

void
skip_unless_nobody_can_run_poolctl(void)
{
	if (geteuid() != 0) {
		printf("poolctl: not root: cannot test another uid\n");
		skip();
	}
	if (ctl_as_nobody("--version", NULL, NULL, NULL) != 0) {
		printf("poolctl: uid %d cannot run %s/poolctl\n", NOBODY,
		       harness_build());
		skip();
	}
}

/* ---- sizes with a byte unit ---------------------------------------------- */

void
expect_refused_saying(const char *args, const char *words)
{
	char line[512];

	snprintf(line, sizeof(line), "poolctl: %s\n", words);
	expect_exit(ctl("%s", args), EXIT_USAGE, args);
	expect(fx.out[0] == '\0' && strncmp(fx.err, line, strlen(line)) == 0,
	       line);
}
