/*
 * config_util.c - the configuration tests' files, the starts and reloads
 * they expect refused, and poolmgrd's --check-config (config_util.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_util.h"

void
write_config(const struct daemon_proc *d, const char *text)
{
	FILE *f = fopen(d->conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s", text);
	assert_int_equal(fclose(f), 0);
}

/*
 * Wait up to ms for pid to exit: its exit code, 128 + signal if a signal
 * ended it, or -1 if it still runs (then it is killed).
 */
int
wait_exit(pid_t pid, long ms)
{
	long waited;
	int status;

	for (waited = 0; waited <= ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		harness_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Remove a stopped daemon's directory (harness_stop does it otherwise). */
void
remove_dir(const struct daemon_proc *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
}

/* A temporary directory for d, with its socket and file named: no daemon. */
void
config_dir(struct daemon_proc *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/poolmgr-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/poolmgrd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poolmgrd.log", d->dir);
}

/*
 * Start poolmgrd on config (after write_config's [daemon] lines, so
 * config's first line is the file's line 3) and expect it to refuse to
 * start: exit 1, its log naming the file and then want ("LINE: problem").
 */
void
refused_at_start(const char *config, const char *want)
{
	struct daemon_proc d;
	char log[8192], line[512];
	pid_t pid;
	int rc;

	config_dir(&d);
	write_config(&d, config);
	pid = harness_exec_daemon(&d, d.log);
	assert_true(pid > 0);
	/* A daemon that starts instead is killed after a while: -1. */
	rc = wait_exit(pid, 3000);
	harness_read_text(d.log, log, sizeof(log));
	snprintf(line, sizeof(line), "%s:%s", d.conf, want);
	remove_dir(&d);
	if (rc != 1 || !strstr(log, line))
		fail_msg("poolmgrd on the file\n%s\nexited %d; want 1, and "
			 "\"%s\" in its log:\n%s", config, rc, line, log);
}

/*
 * SIGHUP with config in the file (its first line is the file's line 5,
 * after a new pool "second" that would be created if the file were taken):
 * the daemon must keep its configuration and log want ("LINE: problem").
 */
void
refused_on_reload(struct daemon_proc *d, const char *config,
		  const char *want)
{
	struct pool_conn *c;
	struct pool_stats st;
	char text[1024], log[32768], line[512];

	snprintf(text, sizeof(text), "[pool second]\nsize = 1M\n%s", config);
	write_config(d, text);
	harness_reload(d);
	assert_true(harness_alive(d));
	harness_read_text(d->log, log, sizeof(log));
	snprintf(line, sizeof(line), "SIGHUP: %s:%s; keeping the running "
		 "configuration", d->conf, want);
	if (!strstr(log, line))
		fail_msg("no \"%s\" in the log of poolmgrd reloading the file"
			 "\n%s\nits log:\n%s", line, text, log);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "second", &st), -ENOENT);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	pool_disconnect(c);
}

/* poolmgrd -t ARGS (from fmt): its exit code, stdout and stderr in out. */
int
check_run(char *out, size_t len, const char *fmt, ...)
{
	char args[512], cmd[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/poolmgrd %s 2>&1", harness_build(),
		 args);
	return harness_run(cmd, out, len);
}

/*
 * poolmgrd -t on "[daemon]" and "KEY = VALUE": refused (exit 1) saying
 * "FILE:3: " and problem.
 */
void
check_refuses(const struct daemon_proc *d, const char *key, const char *value,
	      const char *problem)
{
	char line[128], out[1024], want[512];

	snprintf(line, sizeof(line), "%s = %s\n", key, value);
	write_config(d, line);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d->sock,
				   d->conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:3: %s\n", d->conf, problem);
	assert_string_equal(out, want);
}

/* poolmgrd -t on "[daemon]" and text: refused (exit 1), saying line: want. */
void
check_text_refuses(const struct daemon_proc *d, const char *text, int line,
		   const char *want)
{
	char out[1024], expect[512];

	write_config(d, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d->sock,
				   d->conf), 1);
	snprintf(expect, sizeof(expect), "poolmgrd: %s:%d: %s\n", d->conf,
		 line, want);
	assert_string_equal(out, expect);
}
