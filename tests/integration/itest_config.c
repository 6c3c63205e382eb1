/*
 * itest_config.c - poolmgrd's configuration file, signals and socket:
 * pools from the file exist at start with their settings, SIGHUP creates
 * the pools added since and keeps the running set when the new file is
 * broken, and SIGTERM and SIGINT stop the daemon cleanly (exit 0, socket
 * removed, clients see -ECONNRESET).
 *
 * The socket: without socket_mode in the file it is created 0660 (and
 * with it, as set); a second daemon started on the socket of a live one
 * refuses to start (exit 1, "another poolmgrd answers on PATH") and leaves
 * the first one, its socket, its clients and their blocks untouched; and a
 * stale socket file - left by a daemon killed with SIGKILL, a socket bound
 * by a process that does not listen, or a plain file - is replaced and the
 * daemon starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

static void
write_config(const struct daemon_proc *d, const char *text)
{
	FILE *f = fopen(d->conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s", text);
	assert_int_equal(fclose(f), 0);
}

static void
pools_from_file_then_reload(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool first]\nsize = 2M\n"
				       "granularity = 64\nmode = 0640\n"
				       "quota = 1M\nretain = 0\n"), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.max_size, 2 << 20);
	assert_int_equal(st.granularity, 64);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.quota, 1 << 20);
	assert_int_equal(st.retain_bytes, 0);	/* retain = 0: keep none */
	assert_int_equal(pool_stats_by_name(c, "second", &st), -ENOENT);

	/* A pool added to the file appears on SIGHUP; the old one stays. */
	write_config(&d, "[pool first]\nsize = 2M\n[pool second]\nsize = 1M\n"
			 "[pool third]\nsize = 1M\nretain = 5000\n");
	harness_reload(&d);
	assert_int_equal(pool_stats_by_name(c, "second", &st), 0);
	assert_int_equal(st.max_size, 1 << 20);
	assert_int_equal(st.retain_bytes, 256 * st.page_size);	/* default */
	assert_int_equal(pool_stats_by_name(c, "third", &st), 0);
	/* Rounded up to pages. */
	assert_int_equal(st.retain_bytes,
			 (5000 + st.page_size - 1) / st.page_size * st.page_size);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.retain_bytes, 0);	/* existing pools unchanged */

	/* A broken file is refused and the daemon keeps running as it was. */
	write_config(&d, "[pool third\nsize = lots\n");
	harness_reload(&d);
	assert_true(harness_alive(&d));
	assert_int_equal(pool_stats_by_name(c, "fourth", &st), -ENOENT);
	assert_int_equal(pool_stats_by_name(c, "second", &st), 0);

	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
sigterm_stops_cleanly(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	char sock[sizeof(d.sock)];
	struct stat sb;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 1M\n"), 0);
	memcpy(sock, d.sock, sizeof(sock));
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_alloc(p, 100, &off), 0);
	/* Stopping with a client connected and a block live: still exit 0. */
	assert_int_equal(harness_stop(&d), 0);
	assert_int_equal(stat(sock, &sb), -1);
	/*
	 * The client sees the daemon gone, not a hang: at once when it asks
	 * the daemon, within a clock tick when its cache could serve it.
	 */
	harness_sleep_ms(20);
	assert_int_equal(pool_alloc(p, 100, &off), -ECONNRESET);
	pool_close(p);
	pool_disconnect(c);
}

static void
bad_config_refused_at_start(void **state)
{
	struct daemon_proc d;
	char cmd[512], log[1024];

	(void)state;
	/* An unknown key: the daemon must refuse to start, not guess. */
	assert_int_equal(harness_start(&d, "[pool x]\nsize = 1M\ncolour = 3\n"),
			 -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "unknown key 'colour'"));

	/* A retain that is not a size: refused and named. */
	assert_int_equal(harness_start(&d, "[pool x]\nsize = 1M\n"
				       "retain = some\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad retain 'some' in [pool x]"));

	/* So is an idle_trim that is not a number of seconds. */
	assert_int_equal(harness_start(&d, "idle_trim = soon\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad idle_trim 'soon'"));

	/* And a release_step that is not a size. */
	assert_int_equal(harness_start(&d, "release_step = big\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad release_step 'big'"));

	/* And a drop_step that is not a count. */
	assert_int_equal(harness_start(&d, "drop_step = -1\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad drop_step '-1'"));
}

/*
 * Wait up to ms for pid to exit: its exit code, 128 + signal if a signal
 * ended it, or -1 if it still runs (then it is killed).
 */
static int
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
static void
remove_dir(const struct daemon_proc *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
}

/* Stop with sig and expect a clean stop: exit 0, socket gone. */
static void
stop_with(struct daemon_proc *d, int sig, const char *logline)
{
	char log[8192];
	struct stat sb;
	int rc;

	assert_int_equal(kill(d->pid, sig), 0);
	rc = wait_exit(d->pid, 5000);
	d->pid = 0;
	harness_read_text(d->log, log, sizeof(log));
	if (rc != 0)
		fail_msg("poolmgrd stopped by signal %d exited with %d; its "
			 "log:\n%s", sig, rc, log);
	assert_int_equal(stat(d->sock, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(log, logline));
	assert_non_null(strstr(log, "stopped"));
}

static void
sigint_stops_cleanly(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 1M\n"), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_alloc(p, 100, &off), 0);
	/* As with SIGTERM: a client and a live block, still exit 0. */
	stop_with(&d, SIGINT, "signal 2: stopping");
	harness_sleep_ms(20);
	assert_int_equal(pool_alloc(p, 100, &off), -ECONNRESET);
	pool_close(p);
	pool_disconnect(c);
	remove_dir(&d);
}

static mode_t
socket_mode(const struct daemon_proc *d)
{
	struct stat sb;

	assert_int_equal(stat(d->sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	return sb.st_mode & 07777;
}

static void
socket_mode_default_0660(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	/* No [daemon] section at all: the default mode. */
	assert_int_equal(harness_start_plain(&d, "[pool p]\nsize = 1M\n"), 0);
	assert_int_equal(socket_mode(&d), 0660);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "p", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	/* A [daemon] section that does not set socket_mode: the same. */
	assert_int_equal(harness_start_plain(&d, "[daemon]\n"
					     "max_connections = 50\n"), 0);
	assert_int_equal(socket_mode(&d), 0660);
	assert_int_equal(harness_stop(&d), 0);

	/* And when the file sets it, it is what the file says. */
	assert_int_equal(harness_start_plain(&d, "[daemon]\n"
					     "socket_mode = 0600\n"), 0);
	assert_int_equal(socket_mode(&d), 0600);
	assert_int_equal(harness_stop(&d), 0);
	/* harness_start's own setting, for comparison. */
	assert_int_equal(harness_start(&d, NULL), 0);
	assert_int_equal(socket_mode(&d), 0666);
	/* A round trip: the daemon's loop, and so its SIGTERM, is running. */
	assert_int_equal(pool_connect(NULL, &c), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
refuses_to_start_beside_live_daemon(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c, *c2;
	struct pool_stats st;
	struct stat before, after;
	struct pool *p;
	pool_off_t off, off2;
	char log2[256], log[8192], want[256];
	uint8_t *b;
	pid_t pid;
	int rc, i;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 1M\n"), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_alloc(p, 1000, &off), 0);
	b = pool_ptr(p, off);
	memset(b, 0x6b, 1000);
	assert_int_equal(stat(d.sock, &before), 0);

	/* The same socket, the same file: the second one must not start. */
	snprintf(log2, sizeof(log2), "%s/second.log", d.dir);
	pid = harness_exec_daemon(&d, log2);
	assert_true(pid > 0);
	rc = wait_exit(pid, 5000);
	harness_read_text(log2, log, sizeof(log));
	printf("config: a second poolmgrd on a live socket exits %d\n", rc);
	if (rc == -1)
		fail_msg("the second daemon is still running beside the "
			 "first; its log:\n%s", log);
	assert_int_equal(rc, 1);
	snprintf(want, sizeof(want), "another poolmgrd answers on %s",
		 d.sock);
	assert_non_null(strstr(log, want));

	/* The first one is unharmed: same socket file, same clients. */
	assert_true(harness_alive(&d));
	assert_int_equal(stat(d.sock, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	assert_int_equal(after.st_ino, before.st_ino);
	for (i = 0; i < 1000; i++)
		assert_int_equal(b[i], 0x6b);
	assert_int_equal(pool_alloc(p, 1000, &off2), 0);
	assert_int_equal(pool_free(p, off2), 0);
	assert_int_equal(pool_connect(NULL, &c2), 0);
	assert_int_equal(pool_stats_by_name(c2, "p", &st), 0);
	assert_int_equal(st.clients, 1);
	assert_true(st.live_blocks >= 1);
	pool_disconnect(c2);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/* Kill the daemon as a crash would: its socket file stays behind. */
static void
crash(struct daemon_proc *d)
{
	struct stat sb;
	int status;

	assert_int_equal(kill(d->pid, SIGKILL), 0);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	d->pid = 0;
	assert_int_equal(stat(d->sock, &sb), 0);
}

/* Connecting to path fails with ECONNREFUSED: nobody listens. */
static void
assert_refused(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
			 -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

/* The restarted daemon serves pool p from its configuration. */
static void
serves_again(struct daemon_proc *d)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	assert_true(harness_alive(d));
	/* A new socket, with the mode of the file (harness_start's). */
	assert_int_equal(socket_mode(d), 0666);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_alloc(p, 100, &off), 0);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
}

static void
stale_socket_is_replaced(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct daemon_proc d;
	struct stat sb;
	char log[16384];
	int fd;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 1M\n"), 0);

	/* A daemon killed with SIGKILL leaves its socket; nobody listens. */
	crash(&d);
	assert_refused(d.sock);
	if (harness_restart(&d) != 0)
		fail_msg("no start over the socket of a killed daemon");
	serves_again(&d);

	/* A socket bound by a live process that does not listen. */
	crash(&d);
	assert_int_equal(unlink(d.sock), 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memcpy(sun.sun_path, d.sock, strlen(d.sock) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_refused(d.sock);
	if (harness_restart(&d) != 0)
		fail_msg("no start over a bound socket nobody listens on");
	serves_again(&d);
	close(fd);

	/* A plain file where the socket goes. */
	crash(&d);
	assert_int_equal(unlink(d.sock), 0);
	fd = open(d.sock, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "left over\n", 10), 10);
	close(fd);
	if (harness_restart(&d) != 0)
		fail_msg("no start over a plain file at the socket's path");
	assert_int_equal(stat(d.sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	serves_again(&d);

	harness_read_text(d.log, log, sizeof(log));
	assert_null(strstr(log, "another poolmgrd answers"));
	assert_int_equal(harness_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pools_from_file_then_reload),
		cmocka_unit_test(sigterm_stops_cleanly),
		cmocka_unit_test(sigint_stops_cleanly),
		cmocka_unit_test(socket_mode_default_0660),
		cmocka_unit_test(refuses_to_start_beside_live_daemon),
		cmocka_unit_test(stale_socket_is_replaced),
		cmocka_unit_test(bad_config_refused_at_start),
	};

	return cmocka_run_group_tests_name("poolmgrd config and signals", tests,
					   NULL, NULL);
}
