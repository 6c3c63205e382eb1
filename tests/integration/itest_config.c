/*
 * itest_config.c - poolmgrd's configuration file, signals and socket:
 * pools from the file exist at start with their settings, SIGHUP creates
 * the pools added since, gives live ones their sections' settings but
 * size and granularity (itest_reload has the details), and keeps the
 * running set when the new file is broken, and SIGTERM and SIGINT stop the daemon cleanly (exit 0, socket
 * removed, clients see -ECONNRESET).
 *
 * The socket: without socket_mode in the file it is created 0660 (and
 * with it, as set); a second daemon started on the socket of a live one
 * refuses to start (exit 1, "another poolmgrd answers on PATH") and leaves
 * the first one, its socket, its clients and their blocks untouched; and a
 * stale socket file - left by a daemon killed with SIGKILL, a socket bound
 * by a process that does not listen, or a plain file - is replaced and the
 * daemon starts.  A socket's directory that another uid may change (its
 * own, group-writable, under one of its, or reached through its symbolic
 * link) stops a start.
 *
 * restart_probe_timeout out of its bounds (0, 601, "10s") stops a start
 * and is refused by a reload.  admin_connections must be below
 * max_connections, wherever either is written, and is refused at its own
 * line; not set, it yields to a small max_connections.
 *
 * A number is digits: one with a sign before it ("-18446744073709551615",
 * which strtoul wraps to 1) is refused where a number is meant, and looked
 * up as a name where a user or group may be named.
 *
 * A section is checked even with no key in it: a pool section without a
 * size, an unknown section and a bad pool name stop the daemon at start,
 * and are refused on SIGHUP, with the file and line named.  So is a line
 * longer than the parser takes, at its own line, not as a syntax error on
 * the next one.  And when the file has more than one problem, the first is
 * the one named, with its own line.
 *
 * poolmgrd --check-config reads the file as a start would and touches
 * nothing else: beside a live daemon on the same socket it says ok or
 * names the problem (exit 0 or 1), and the daemon serves on unchanged.
 *
 * A file may hold 16 MiB: one of that size, of short lines, is taken by
 * a start, --check-config, SIGHUP and a restart in place, and one byte
 * more is refused by all four alike.
 *
 * A size written "256MB" or "2mb" loads as before, in powers of 1024,
 * and the log says so with the file's line, at start and at each reload,
 * as --check-config does; "256M" and "256MiB" say nothing.
 *
 * A count (max_blocks_per_session, max_connections, max_connections_per_
 * uid, drop_step, max_name_waits, max_alloc_waits) takes K, M, G and T as
 * multipliers of 1024 ("1K" is 1024 blocks; max_connections = 1K lets 1024
 * clients in), but a byte unit ("64KB", "1MiB", "4 B", "4 KB") stops a
 * start, is refused by a reload and by --check-config, saying the key,
 * what it counts and that it is not a size, and what to write; one too large,
 * even for 64 bits, says the most it may be, with a byte unit or
 * without, however many digits it has.  So does a size past 64 bits (the
 * largest pool for size, the pool's size for limit, 2 GiB for page_size,
 * as past 2 GiB, 2^64 - 1 bytes for the others).
 *
 * user_quota, a size as quota is: given the pool at start and changed by
 * a reload, which logs it; a word that is no size stops a start, is
 * refused by a reload, which keeps the running one, and by
 * --check-config, each naming user_quota and its line.
 *
 * The keys that take words or names: a bad socket_mode, hello_timeout or
 * numa_policy, an admin_group, owner or group that names nobody, a socket
 * path past sun_path and a 257th pool are each refused at their line, a
 * directory given as the file as unreadable; existing names are read as
 * their ids, on the pool the daemon makes.
 *
 * acl, the pool's access control list: user and group entries by name or
 * id give the pool its list, sorted, which PoolStats says and the line of
 * its making names (as a pool CreatePool makes with a list); indented
 * lines continue it to 32 entries.  A kind that is neither, a name of
 * nobody, an x, a rights word of neither form, a missing field, a kind
 * and id twice, none beside entries and a 33rd entry are each refused at
 * their line by --check-config, a start and a reload, which keeps the
 * running list.
 *
 * A command line poolmgrd cannot take (an unknown, ambiguous or
 * argument-less option, one given an argument it has none of, a word that
 * is no option) exits 2 saying which word, and where help is.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
	char log[16384];

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
	/* Modes in the log as in the file: octal, with the leading 0. */
	harness_expect_logged(&d, "pool first: 2097152 bytes, mode 0640, "
			      "owner ");
	/* Its bounds beside them, as a reload's or a set's line names them. */
	harness_expect_logged(&d, ", quota 1048576\n");
	harness_expect_logged(&d, "listening on ");
	harness_expect_logged(&d, " (mode 0666), 1 pool\n");

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
	/* A live pool takes its section's settings but its granularity ... */
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.retain_bytes, 256 * st.page_size);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.quota, 0);
	assert_int_equal(st.granularity, 64);
	/* ... and the log says which were applied, and which not. */
	harness_read_text(d.log, log, sizeof(log));
	if (!strstr(log, "pool first: granularity 64 -> 16 in the file, not "
		    "applied"))
		fail_msg("no word of first's granularity kept:\n%s", log);
	if (!strstr(log, "pool first: mode 0640 -> 0600, quota 1048576 -> 0, "
		    "retain none -> default"))
		fail_msg("no word of first's changed settings:\n%s", log);
	assert_null(strstr(log, "pool second: "
			    "granularity"));	/* made anew, as written */

	/* A pool gone from the file lives on, and the log says so. */
	write_config(&d, "[pool first]\nsize = 2M\ngranularity = 64\n"
			 "mode = 0640\nquota = 1M\nretain = 0\n"
			 "[pool second]\nsize = 1M\n");
	harness_reload(&d);
	assert_int_equal(pool_stats_by_name(c, "third", &st), 0);
	harness_read_text(d.log, log, sizeof(log));
	if (!strstr(log, "pool third: no longer in the file"))
		fail_msg("no word of third gone from the file:\n%s", log);
	/* first is as it was made again, its granularity too: no warning. */
	if (!strstr(log, "pool first: mode 0600 -> 0640, quota 0 -> 1048576, "
		    "retain default -> none"))
		fail_msg("no word of first's settings back:\n%s", log);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.retain_bytes, 0);
	assert_null(strstr(strstr(log, "-> none"), "not applied"));

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

/* What the file says a size may be written as, for a word that is none. */
#define FORMS "(a number of bytes, optionally followed by K, M, G or T: 64M)"

/* A pool's sizes, each refused in those words. */
static const char *const size_keys[] = {"size", "quota", "user_quota",
					"limit", "retain"};

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

	/*
	 * A retain that is not a size: refused and named, with the forms a
	 * size takes; so are the pool's other sizes.
	 */
	assert_int_equal(harness_start(&d, "[pool x]\nsize = 1M\n"
				       "retain = some\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad retain 'some' in [pool x] " FORMS));
	for (size_t i = 0; i < sizeof(size_keys) / sizeof(size_keys[0]);
	     i++) {
		char conf[128], want[160];

		snprintf(conf, sizeof(conf), "[pool x]\nsize = 1M\n%s = 1.5G\n",
			 size_keys[i]);
		if (strcmp(size_keys[i], "size") == 0)
			snprintf(conf, sizeof(conf), "[pool x]\nsize = 1.5G\n");
		assert_int_equal(harness_start(&d, conf), -1);
		snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
		harness_run(cmd, log, sizeof(log));
		snprintf(want, sizeof(want), "bad %s '1.5G' in [pool x] " FORMS,
			 size_keys[i]);
		if (!strstr(log, want))
			fail_msg("%s: not in the log: %s", want, log);
	}

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
	assert_non_null(strstr(log, "bad release_step 'big' " FORMS));

	/* And a drop_step that is not a count. */
	assert_int_equal(harness_start(&d, "drop_step = -1\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad drop_step '-1'"));

	/* And a settle_wait_ms that is not a number of milliseconds. */
	assert_int_equal(harness_start(&d, "settle_wait_ms = 2s\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad settle_wait_ms '2s'"));

	/* And a max_name_waits that is not a count. */
	assert_int_equal(harness_start(&d, "max_name_waits = many\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad max_name_waits 'many'"));
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

/* A temporary directory for d, with its socket and file named: no daemon. */
static void
config_dir(struct daemon_proc *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/poolmgr-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/poolmgrd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poolmgrd.log", d->dir);
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

/*
 * A number is digits: a sign before them (which strtoul would take, and
 * wrap a minus around 2^64) is no number.  "-18446744073709551615" read
 * as 1 made uid 1 the owner, and a granularity of 16 of
 * "-18446744073709551600"; an owner or user of such a spelling is looked
 * up as a name, as pool_acl_parse and poolctl look it up.
 */
static void
signed_numbers_refused(void **state)
{
	static const struct {
		const char *conf, *want;
	} cases[] = {
		{"idle_trim = -18446744073709551615\n",
		 "bad idle_trim '-18446744073709551615'"},
		{"[pool x]\nsize = 1M\ngranularity = -18446744073709551600\n",
		 "bad granularity '-18446744073709551600'"},
		{"[pool x]\nsize = 1M\nowner = -18446744073709551615\n",
		 "-18446744073709551615"},
		{"[pool x]\nsize = 1M\ngroup = +0\n", "+0"},
		{"[pool x]\nsize = 1M\nuser_quotas = -18446744073709551615:1M\n",
		 "-18446744073709551615"},
		{"[pool x]\nsize = 1M\nacl = user:-18446744073709551615:r\n",
		 "-18446744073709551615"},
	};
	struct daemon_proc d;
	char cmd[512], log[2048];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (harness_start(&d, cases[i].conf) != -1) {
			harness_stop(&d);
			fail_msg("started with %s", cases[i].conf);
		}
		snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
		harness_run(cmd, log, sizeof(log));
		if (!strstr(log, cases[i].want))
			fail_msg("%s: '%s' not in the log: %s", cases[i].conf,
				 cases[i].want, log);
	}
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
	stop_with(&d, SIGINT, "SIGINT: stopping");
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
	char log[16384], log2[256], want[256];
	int fd, rc;

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

	/*
	 * A plain file where the socket goes is not ours to remove (a
	 * mistyped --socket must not cost anyone a file): refused, the file
	 * untouched; gone, the daemon starts.
	 */
	crash(&d);
	assert_int_equal(unlink(d.sock), 0);
	fd = open(d.sock, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "left over\n", 10), 10);
	close(fd);
	snprintf(log2, sizeof(log2), "%s/plain.log", d.dir);
	rc = wait_exit(harness_exec_daemon(&d, log2), 5000);
	harness_read_text(log2, log, sizeof(log));
	snprintf(want, sizeof(want), "%s exists and is not a socket; not "
		 "removing it", d.sock);
	if (rc != 1 || !strstr(log, want))
		fail_msg("poolmgrd over a plain file exited %d; want 1 and "
			 "\"%s\" in its log:\n%s", rc, want, log);
	assert_int_equal(stat(d.sock, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_size, 10);
	assert_int_equal(unlink(d.sock), 0);
	if (harness_restart(&d) != 0)
		fail_msg("no start once the plain file is gone");
	serves_again(&d);

	harness_read_text(d.log, log, sizeof(log));
	assert_null(strstr(log, "another poolmgrd answers"));
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Start poolmgrd on config (after write_config's [daemon] lines, so
 * config's first line is the file's line 3) and expect it to refuse to
 * start: exit 1, its log naming the file and then want ("LINE: problem").
 */
static void
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

static void
keyless_sections_refused_at_start(void **state)
{
	(void)state;
	/* Alone, and before a section that is fine. */
	refused_at_start("[pool a]\n", "3: [pool a] needs a size");
	refused_at_start("[pool a]\n[pool b]\nsize = 1M\n",
			 "3: [pool a] needs a size");
	refused_at_start("[bogus]\n", "3: unknown section [bogus]");
	refused_at_start("[bogus]\n; nothing here\n\n[pool b]\nsize = 1M\n",
			 "3: unknown section [bogus]");
	refused_at_start("[pool .bad]\n", "3: bad pool name '.bad'");
	refused_at_start("[pool b]\nsize = 1M\n[pool .bad]\n",
			 "5: bad pool name '.bad'");
}

static void
pool_values_checked_in_the_file(void **state)
{
	(void)state;
	refused_at_start("[pool g]\nsize = 1M\ngranularity = 24\n",
			 "5: granularity 24 in [pool g] is not a power of two "
			 "from 8 to the page size");
	refused_at_start("[pool g]\nsize = 1M\ngranularity = 4\n",
			 "5: granularity 4 in [pool g]");
	refused_at_start("[pool s]\nsize = 65T\n",
			 "4: size '65T' in [pool s] is above the largest pool, "
			 "64 TiB");
	refused_at_start("[pool l]\nsize = 1M\nlimit = 2M\n",
			 "3: [pool l] has a limit below a granule or above "
			 "its size");
	refused_at_start("[pool l]\nsize = 1M\ngranularity = 64\n"
			 "limit = 32\n", "3: [pool l] has a limit below a "
			 "granule");
	refused_at_start("[pool l]\nsize = 1M\nlimit = lots\n",
			 "5: bad limit 'lots' in [pool l]");
}

/*
 * A pool's size rounds up to its pages, and its limit may be all of that,
 * as CreatePool and poolctl take it: the file compared the limit with the
 * size as written and refused a pool of a page and a byte with a limit of
 * two pages.  One byte past that is refused still.
 */
static void
limit_up_to_the_rounded_size(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char conf[128], want[128];

	(void)state;
	snprintf(conf, sizeof(conf), "[pool r]\nsize = %ld\nlimit = %ld\n",
		 page + 1, 2 * page);
	assert_int_equal(harness_start(&d, conf), 0);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "r", &st), 0);
	assert_int_equal(st.max_size, 2 * page);
	assert_int_equal(st.limit, 2 * page);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	snprintf(conf, sizeof(conf), "[pool r]\nsize = %ld\nlimit = %ld\n",
		 page + 1, 2 * page + 1);
	snprintf(want, sizeof(want), "3: [pool r] has a limit below a granule "
		 "or above its size");
	refused_at_start(conf, want);
}

/*
 * "none" for a bound, as poolctl takes it and stats shows it: no quota,
 * no user quota, no limit, keep no pages (retain 0).  Not for a size
 * that must be one (the pool's).
 */
static void
bounds_of_none(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool n]\nsize = 2M\n"
				       "quota = none\nuser_quota = none\n"
				       "limit = none\nretain = none\n"), 0);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "n", &st), 0);
	assert_int_equal(st.quota, 0);
	assert_int_equal(st.user_quota, 0);
	assert_int_equal(st.limit, 0);
	assert_int_equal(st.retain_bytes, 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	refused_at_start("[pool n]\nsize = none\n", "4: bad size 'none'");
}

static void
first_problem_named(void **state)
{
	(void)state;
	/*
	 * The parser reads on past a problem: a later one must not be named
	 * instead, nor with the line of the first.
	 */
	refused_at_start("[pool x]\ncolour = 3\nsize = lots\n",
			 "4: unknown key 'colour' in [pool x]");
	refused_at_start("[pool x\n[pool y]\nsize = lots\n", "3: syntax error");
}

/* n bytes of comment: ';' and n - 1 x's. */
static void
comment_line(char *buf, size_t n)
{
	buf[0] = ';';
	memset(buf + 1, 'x', n - 1);
	buf[n] = '\0';
}

static void
long_line_named_at_start(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char comment[512], zeros[512], config[1024];

	(void)state;
	/* 199 bytes is the most; such a line is read whole. */
	comment_line(comment, 199);
	snprintf(config, sizeof(config), "%s\n[pool p]\nsize = 1M\n", comment);
	assert_int_equal(harness_start(&d, config), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "p", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	/* One more is named at its own line, not the next one's. */
	comment_line(comment, 200);
	snprintf(config, sizeof(config), "%s\n[pool p]\nsize = 1M\n", comment);
	refused_at_start(config, "3: line too long (at most 199 bytes)");
	/*
	 * Nor is a long value cut short and taken: this mode, cut, would
	 * read as 0 (and its rest as a syntax error on the next line).
	 */
	memset(zeros, '0', 300);
	zeros[300] = '\0';
	snprintf(config, sizeof(config), "[pool p]\nsize = 1M\nmode = %s\n",
		 zeros);
	refused_at_start(config, "5: line too long (at most 199 bytes)");
}

/*
 * SIGHUP with config in the file (its first line is the file's line 5,
 * after a new pool "second" that would be created if the file were taken):
 * the daemon must keep its configuration and log want ("LINE: problem").
 */
static void
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

static void
keyless_sections_refused_on_reload(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char comment[512], config[1024];

	(void)state;
	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"), 0);
	refused_on_reload(&d, "[pool a]\n", "5: [pool a] needs a size");
	refused_on_reload(&d, "[bogus]\n", "5: unknown section [bogus]");
	refused_on_reload(&d, "[pool .bad]\n", "5: bad pool name '.bad'");
	comment_line(comment, 200);
	snprintf(config, sizeof(config), "%s\n", comment);
	refused_on_reload(&d, config, "5: line too long (at most 199 bytes)");

	/* The file put right, the reload goes through. */
	write_config(&d, "[pool second]\nsize = 1M\n");
	harness_reload(&d);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "second", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * restart_probe_timeout, 1 to 600 seconds: anything else stops a start
 * and is refused by a reload, which keeps the running configuration.
 */
static void
probe_timeout_bounded(void **state)
{
	struct daemon_proc d;

	(void)state;
	refused_at_start("restart_probe_timeout = 0\n", "3: bad "
			 "restart_probe_timeout '0' (1 to 600 seconds)");
	refused_at_start("restart_probe_timeout = 601\n", "3: bad "
			 "restart_probe_timeout '601' (1 to 600 seconds)");
	refused_at_start("restart_probe_timeout = 10s\n", "3: bad "
			 "restart_probe_timeout '10s' (1 to 600 seconds)");
	assert_int_equal(harness_start(&d, "restart_probe_timeout = 600\n"
				       "[pool first]\nsize = 1M\n"), 0);
	refused_on_reload(&d, "[daemon]\nrestart_probe_timeout = 0\n",
			  "6: bad restart_probe_timeout '0' (1 to 600 "
			  "seconds)");
	assert_int_equal(harness_stop(&d), 0);
}

/* A daemon to start on the socket at path, with a good file of its own. */
static void
socket_proc(struct daemon_proc *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/poolmgr-test.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s", path);
	snprintf(d->conf, sizeof(d->conf), "%s/poolmgrd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poolmgrd.log", d->dir);
	write_config(d, "[pool p]\nsize = 1M\n");
}

/* poolmgrd --socket path (with a good file) exits 1 with want in its log. */
static void
socket_refused(const char *path, const char *want)
{
	struct daemon_proc d;
	char log[8192];
	int rc;

	socket_proc(&d, path);
	rc = wait_exit(harness_exec_daemon(&d, d.log), 3000);
	harness_read_text(d.log, log, sizeof(log));
	remove_dir(&d);
	if (rc != 1 || !strstr(log, want))
		fail_msg("poolmgrd --socket '%s' exited %d; want 1, and \"%s\" "
			 "in its log:\n%s", path, rc, want, log);
}

static void
bad_socket_paths_refused(void **state)
{
	char path[150];

	(void)state;
	socket_refused("", "the socket path is empty");
	/* 108 bytes: one past what sun_path holds with its terminator. */
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	socket_refused(path, "socket path too long (108 bytes, at most 107)");
	/* The daemon makes the socket's directory, not the ones above it. */
	socket_refused("/nonexistent-poolmgr/run/poolmgrd.sock",
		       "creating the socket's directory "
		       "/nonexistent-poolmgr/run: No such file or directory");
}

/*
 * The daemon listens on path, with the file's mode; its log warns that
 * the socket's directory is not its alone with want (NULL: no warning).
 */
static void
socket_listens(const char *path, const char *want)
{
	struct daemon_proc d;
	char log[8192];
	const char *w;

	socket_proc(&d, path);
	if (harness_restart(&d) != 0)
		fail_msg("poolmgrd --socket '%s' does not listen", path);
	assert_int_equal(socket_mode(&d), 0666);
	harness_read_text(d.log, log, sizeof(log));
	w = strstr(log, "they could put a socket of their own in its place");
	if (want ? !strstr(log, want) || !w : w != NULL)
		fail_msg("poolmgrd --socket '%s': want %s%s%s in its log:\n%s",
			 path, want ? "\"" : "no warning", want ? want : "",
			 want ? "\"" : "", log);
	assert_int_equal(harness_stop(&d), 0);
}

/* Is group root root's private group: its primary one, no other member? */
static bool
private_root(void)
{
	struct group *gr = getgrgid(0);
	struct passwd *pw = getpwuid(0);

	return pw && gr && pw->pw_gid == 0 &&
	       strcmp(gr->gr_name, pw->pw_name) == 0 &&
	       (!gr->gr_mem[0] || (strcmp(gr->gr_mem[0], "root") == 0 &&
				   !gr->gr_mem[1]));
}

/*
 * A directory on the way to the socket that others may change: they
 * could take the daemon's socket away and bind their own in its place,
 * and be the daemon to every client that connects after.  One every user
 * may write (not sticky) is refused (exit 1, naming it and why), where
 * the old daemon listened.  One another uid may change is warned of in
 * the log, naming it, the daemon listening all the same (a checkout of a
 * user's that root runs, a user's private group's directory): the
 * socket's directory of uid 65534, or root's but writable by group
 * 65534, one above it of uid 65534 (the socket's made there anew by the
 * daemon), and a symbolic link of uid 65534's on the way, though it
 * leads to a directory of root's.  The old daemon said nothing of them.
 * One writable by its owner's private group (root's, here) is its
 * owner's alone: no warning.
 */
static void
socket_dir_of_others_refused(void **state)
{
	char top[64], at[160], want[512], link[96], nobody[64], nogroup[64];
	struct passwd *pw = getpwuid(65534);
	struct group *gr = getgrgid(65534);

	(void)state;
	harness_skip_unless_root("chown directories to another uid");
	if (pw)
		snprintf(nobody, sizeof(nobody), "user %s (uid 65534)",
			 pw->pw_name);
	else
		snprintf(nobody, sizeof(nobody), "uid 65534");
	if (gr)
		snprintf(nogroup, sizeof(nogroup), "group %s (gid 65534)",
			 gr->gr_name);
	else
		snprintf(nogroup, sizeof(nogroup), "gid 65534");
	snprintf(top, sizeof(top), "/tmp/poolmgr-test.XXXXXX");
	assert_non_null(mkdtemp(top));
	assert_int_equal(chmod(top, 0755), 0);

	snprintf(at, sizeof(at), "%s/all", top);
	assert_int_equal(mkdir(at, 0755), 0);
	assert_int_equal(chmod(at, 0777), 0);
	snprintf(want, sizeof(want), "not listening on %s/poolmgrd.sock: %s is "
		 "writable by every user (mode 0777) and not sticky: any of "
		 "them could put a socket of their own in the daemon's place",
		 at, at);
	strcat(at, "/poolmgrd.sock");
	socket_refused(at, want);

	snprintf(at, sizeof(at), "%s/theirs", top);
	assert_int_equal(mkdir(at, 0755), 0);
	assert_int_equal(chown(at, 65534, 65534), 0);
	snprintf(want, sizeof(want), "listening on %s/poolmgrd.sock, though %s "
		 "is owned by %s: they could put a socket of their own in its "
		 "place", at, at, nobody);
	strcat(at, "/poolmgrd.sock");
	socket_listens(at, want);

	/* A group's: nogroup's, not root's own (see private_root below). */
	snprintf(at, sizeof(at), "%s/group", top);
	assert_int_equal(mkdir(at, 0755), 0);
	assert_int_equal(chown(at, 0, 65534), 0);
	assert_int_equal(chmod(at, 0775), 0);
	snprintf(want, sizeof(want), "%s is writable by %s (mode 0775)", at,
		 nogroup);
	strcat(at, "/poolmgrd.sock");
	socket_listens(at, want);

	/* The daemon makes run, under a directory another uid may change. */
	snprintf(at, sizeof(at), "%s/theirs/run", top);
	snprintf(want, sizeof(want), "listening on %s/poolmgrd.sock, though "
		 "%s/theirs is owned by %s", at, top, nobody);
	strcat(at, "/poolmgrd.sock");
	socket_listens(at, want);

	snprintf(at, sizeof(at), "%s/ours", top);
	assert_int_equal(mkdir(at, 0755), 0);
	snprintf(link, sizeof(link), "%s/link", top);
	assert_int_equal(symlink(at, link), 0);
	assert_int_equal(lchown(link, 65534, 65534), 0);
	snprintf(want, sizeof(want), "%s is owned by %s", link, nobody);
	snprintf(at, sizeof(at), "%s/poolmgrd.sock", link);
	socket_listens(at, want);

	/*
	 * Group-writable by root's private group (group root, whose only
	 * user is root, as a umask of 002 leaves a user's directories): the
	 * owner's alone, no warning.
	 */
	if (private_root()) {
		snprintf(at, sizeof(at), "%s/private", top);
		assert_int_equal(mkdir(at, 0755), 0);
		assert_int_equal(chmod(at, 0775), 0);
		strcat(at, "/poolmgrd.sock");
		socket_listens(at, NULL);
	}

	/* Where nobody else may change a thing, the daemon listens, quiet. */
	snprintf(at, sizeof(at), "%s/ours/poolmgrd.sock", top);
	socket_listens(at, NULL);
	assert_int_equal(unlink(link), 0);
	snprintf(at, sizeof(at), "rm -rf '%s'", top);
	assert_int_equal(system(at), 0);
}

static void
long_pool_names_whole(void **state)
{
	char name[80], conf[256];
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	/* 64 bytes, the most a pool name may have. */
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(conf, sizeof(conf), "[pool %s]\nsize = 1M\n", name);
	assert_int_equal(harness_start(&d, conf), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, name, &st), 0);
	assert_int_equal(st.max_size, 1 << 20);
	name[49] = '\0';	/* where a section name used to be cut */
	assert_int_equal(pool_stats_by_name(c, name, &st), -ENOENT);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	name[49] = 'n';
	name[64] = 'x';		/* 65 bytes */
	name[65] = '\0';
	snprintf(conf, sizeof(conf), "[pool %s]\nsize = 1M\n", name);
	refused_at_start(conf, "3: bad pool name");
	memset(name, 'n', 75);	/* "pool " and 75: 80 bytes */
	name[75] = '\0';
	snprintf(conf, sizeof(conf), "[pool %s]\nsize = 1M\n", name);
	refused_at_start(conf, "3: section name longer than 79 bytes");
}

/* poolmgrd -t ARGS (from fmt): its exit code, stdout and stderr in out. */
static int
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
 * --check-config beside a live daemon on the same socket (a start there
 * would be refused): a good file is ok (0), a broken one is named with
 * its line and problem (1), so is an empty socket path; without --config
 * it is a usage error (2).  A pool on a NUMA node with no memory here is
 * warned of, the file ok.  The daemon is never asked: it serves on with
 * the file it read, the checked pool q never made.
 */
static void
check_config_option(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char out[1024], want[1024], path[300];

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);

	write_config(&d, "[pool p]\nsize = 1M\n[pool q]\nsize = 2M\n");
	assert_int_equal(check_run(out, sizeof(out), "--check-config -s %s "
				   "-c %s", d.sock, d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 2 pools\n", d.conf);
	assert_string_equal(out, want);

	write_config(&d, "[pool p]\nsize = 1M\nmode = 0999\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: bad mode '0999' in "
		 "[pool p] (octal, at most 0777)\n", d.conf);
	assert_string_equal(out, want);

	write_config(&d, "socket =\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -c %s", d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s: the socket path is "
		 "empty\n", d.conf);
	assert_string_equal(out, want);

	/*
	 * A path --socket gives is --socket's, not the file's, which is
	 * good: said so, and one too long with the bound, as a start says.
	 */
	write_config(&d, "[pool p]\nsize = 1M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s '' -c %s",
				   d.conf), 1);
	assert_string_equal(out, "poolmgrd: --socket: the socket path is "
			    "empty\n");
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", path,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: --socket: socket path too "
		 "long (108 bytes, at most 107): %s\n", path);
	assert_string_equal(out, want);

	assert_int_equal(check_run(out, sizeof(out), "-t -s %s", d.sock), 2);
	assert_string_equal(out, "poolmgrd: --check-config needs --config "
			    "FILE\nTry 'poolmgrd --help' for more "
			    "information.\n");

	/*
	 * A socket path a start could not bind: its directory's parent
	 * missing (a start makes the directory, not its parents), the
	 * directory a file, the path a file.  Nothing is made or removed.
	 */
	write_config(&d, "[pool p]\nsize = 1M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s/no/such/p.sock "
				   "-c %s", d.dir, d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s/no/such/p.sock: the "
		 "socket's directory %s/no/such cannot be made: %s/no is "
		 "missing\n", d.dir, d.dir, d.dir);
	assert_string_equal(out, want);
	assert_int_equal(access(d.conf, F_OK), 0);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s/poolmgrd.conf/"
				   "p.sock -c %s", d.dir, d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s/poolmgrd.conf/p.sock: the "
		 "socket's directory %s/poolmgrd.conf is not a directory\n",
		 d.dir, d.dir);
	assert_string_equal(out, want);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.conf,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s exists and is not a "
		 "socket\n", d.conf);
	assert_string_equal(out, want);
	/* A directory a start would make is no problem. */
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s/new/p.sock "
				   "-c %s", d.dir, d.conf), 0);
	snprintf(path, sizeof(path), "%s/new", d.dir);
	assert_int_equal(access(path, F_OK), -1);
	/*
	 * Nor could a start bind a path ending in '/' (only mkdir takes
	 * one), or one in a directory that is a dangling symlink (its
	 * mkdir finds the name taken, its bind no directory).
	 */
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s/new/p.sock/ "
				   "-c %s", d.dir, d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s/new/p.sock/: a socket "
		 "path cannot end in '/'\n", d.dir);
	assert_string_equal(out, want);
	assert_int_equal(symlink("gone", path), 0);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s/p.sock -c %s",
				   path, d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s/p.sock: the socket's "
		 "directory %s is a symlink to nothing\n", path, path);
	assert_string_equal(out, want);
	assert_int_equal(unlink(path), 0);

	/*
	 * A pool on a NUMA node without memory here, which a start would
	 * not make: a warning, the file still ok.  Where sysfs lists the
	 * nodes with memory (node 0 among them on any machine that has).
	 */
	write_config(&d, "[pool p]\nsize = 1M\n[pool q]\nsize = 2M\n"
			 "numa_node = 1023\n[pool r]\nsize = 1M\n"
			 "numa_node = 0\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	if (access("/sys/devices/system/node/has_memory", R_OK) == 0) {
		snprintf(want, sizeof(want), "poolmgrd: [pool q]: NUMA node "
			 "1023 has no memory here: a start would not make the "
			 "pool\npoolmgrd: %s: ok, 3 pools\n", d.conf);
		assert_string_equal(out, want);
	}

	assert_true(harness_alive(&d));
	EXPECT_RC(pool_stats_by_name(c, "p", &st), 0);
	assert_int_equal(st.max_size, 1 << 20);
	EXPECT_RC(pool_stats_by_name(c, "q", &st), -ENOENT);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A key above every section header, as a file written without its
 * [daemon] line has it, is named as such, with its line, by
 * --check-config and by a start (which it stops): there is no section
 * "[]" to be unknown.
 */
static void
key_before_any_section_named(void **state)
{
	struct daemon_proc d;
	char out[1024], want[512], log[8192];
	pid_t pid;
	FILE *f;

	(void)state;
	config_dir(&d);
	assert_non_null(f = fopen(d.conf, "w"));
	fprintf(f, "; no header yet\nmax_connections = 10\n[daemon]\n");
	assert_int_equal(fclose(f), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s:2: key 'max_connections' "
		 "before any section: the daemon's keys go under [daemon], a "
		 "pool's under [pool NAME]\n", d.conf);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	assert_string_equal(out, want);

	pid = harness_exec_daemon(&d, d.log);
	assert_true(pid > 0);
	assert_int_equal(wait_exit(pid, 3000), 1);
	harness_read_text(d.log, log, sizeof(log));
	remove_dir(&d);
	/* The log's line is the same words, behind its priority. */
	if (!strstr(log, want + strlen("poolmgrd: ")))
		fail_msg("no \"%s\" in the log:\n%s", want, log);
}

/* The most a configuration file may hold (poolmgrd.conf(5)). */
#define CONFIG_BOUND (16u * 1024 * 1024)
#define CONFIG_PREFIX "[daemon]\nsocket_mode = 0666\n"
#define TOO_LARGE " larger than 16 MiB, the most a configuration file " \
		  "may hold"

/*
 * What write_config (and harness_start, which adds a newline) puts after
 * their [daemon] lines to make a file of total bytes: pools, then comment
 * lines of at most 190 bytes, each short enough for the parser (inih's
 * buffer is 200).
 */
static char *
sized_text(size_t total, const char *pools, bool newline_added)
{
	size_t len = total - strlen(CONFIG_PREFIX) - (newline_added ? 1 : 0);
	size_t at = strlen(pools), n;
	char *t = malloc(len + 1);

	assert_non_null(t);
	assert_true(at < len);
	memcpy(t, pools, at);
	while (at < len) {
		n = len - at < 190 ? len - at : 190;
		t[at] = n == 1 ? '\n' : ';';
		memset(t + at + 1, 'x', n > 2 ? n - 2 : 0);
		t[at + n - 1] = '\n';
		at += n;
	}
	t[len] = '\0';
	return t;
}

/* Write d's file with pools in it, total bytes long. */
static void
write_sized(const struct daemon_proc *d, size_t total, const char *pools)
{
	char *t = sized_text(total, pools, false);
	struct stat st;

	write_config(d, t);
	free(t);
	assert_int_equal(stat(d->conf, &st), 0);
	assert_int_equal(st.st_size, (off_t)total);
}

/*
 * A file of 16 MiB (of short lines) is taken by a start, --check-config,
 * SIGHUP and a restart in place; one byte more is refused by each of
 * them, saying so, and a running daemon keeps its configuration.
 */
static void
config_size_bounded_alike(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char out[1024], want[512];
	char *t;
	int before;

	(void)state;
	t = sized_text(CONFIG_BOUND, "[pool p]\nsize = 1M\n", true);
	assert_int_equal(harness_start(&d, t), 0);
	free(t);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "p", &st), 0);

	write_sized(&d, CONFIG_BOUND, "[pool p]\nsize = 1M\n[pool q]\n"
		    "size = 1M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   d.sock, d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 2 pools\n", d.conf);
	assert_string_equal(out, want);
	harness_reload(&d);
	EXPECT_RC(pool_stats_by_name(c, "q", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_restart_in_place(&d), 0);

	write_sized(&d, CONFIG_BOUND + 1, "[pool p]\nsize = 1M\n[pool q]\n"
		    "size = 1M\n[pool r]\nsize = 1M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   d.sock, d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:%s\n", d.conf, TOO_LARGE);
	assert_string_equal(out, want);

	before = harness_log_count(&d, "keeping the running configuration");
	harness_reload(&d);
	snprintf(want, sizeof(want), "SIGHUP: %s:%s; keeping the running "
		 "configuration", d.conf, TOO_LARGE);
	assert_int_equal(harness_log_wait(&d, want, before, 10000), 0);

	snprintf(want, sizeof(want), "restart: %s:%s; going on as before",
		 d.conf, TOO_LARGE);
	before = harness_log_count(&d, want);
	assert_int_equal(kill(d.pid, SIGUSR2), 0);
	assert_int_equal(harness_log_wait(&d, want, before, 10000), 0);
	assert_true(harness_alive(&d));
	assert_int_equal(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "q", &st), 0);
	EXPECT_RC(pool_stats_by_name(c, "r", &st), -ENOENT);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	t = sized_text(CONFIG_BOUND + 1, "[pool p]\nsize = 1M\n", false);
	refused_at_start(t, TOO_LARGE);
	free(t);
}

#define ADMIN_IS_SOCKETS "is the daemon's own group, the socket's: every " \
	"client that connects through it may create, destroy and set any " \
	"pool; name a group of admins only"

/*
 * admin_group = the daemon's own group, which the socket it binds has
 * (and the shipped units give both poolmgr), makes every client that
 * reaches the socket through that group an admin: said with the line at
 * start, at each reload and by --check-config, and the file still loads.
 * Another group says nothing.
 */
static void
admin_group_of_the_socket_warned(void **state)
{
	gid_t own = getegid(), other = own == 65534 ? 65533 : 65534;
	struct daemon_proc d;
	char conf[64], out[1024], want[1024];
	struct stat st;

	(void)state;
	snprintf(conf, sizeof(conf), "admin_group = %u\n", (unsigned)own);
	assert_int_equal(harness_start(&d, conf), 0);
	assert_int_equal(stat(d.sock, &st), 0);
	assert_int_equal(st.st_gid, own);
	snprintf(want, sizeof(want), "%s:3: admin_group %u " ADMIN_IS_SOCKETS,
		 d.conf, (unsigned)own);
	assert_int_equal(harness_log_count(&d, want), 1);
	write_config(&d, conf);
	harness_reload(&d);
	assert_int_equal(harness_log_count(&d, want), 2);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s:3: admin_group %u "
		 ADMIN_IS_SOCKETS "\npoolmgrd: %s: ok, 0 pools\n", d.conf,
		 (unsigned)own, d.conf);
	assert_string_equal(out, want);

	snprintf(conf, sizeof(conf), "admin_group = %u\n", (unsigned)other);
	write_config(&d, conf);
	harness_reload(&d);
	assert_int_equal(harness_log_count(&d, ADMIN_IS_SOCKETS), 2);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 0 pools\n", d.conf);
	assert_string_equal(out, want);
	harness_stop(&d);
}

#define POWERS_OF_1024 "(powers of 1024)"

/* How many warnings of sizes read in powers of 1024 d's log has. */
static int
binary_reads_logged(const struct daemon_proc *d)
{
	return harness_log_count(d, POWERS_OF_1024);
}

/* The log line of d's file, line line, that says how value was read. */
static int
read_as_logged(const struct daemon_proc *d, int line, const char *rest)
{
	char what[512];

	snprintf(what, sizeof(what), "%s:%d: %s", d->conf, line, rest);
	return harness_log_count(d, what);
}

/*
 * "256MB" in the file is still 256 MiB (existing files keep loading),
 * but poolctl refuses it, so the daemon says how it read it: once per
 * value at each start, reload and --check-config, with the file's line,
 * the key and what to write instead.  "256M" and "64KiB" say nothing.
 */
static void
sizes_with_b_are_read_as_binary_and_said(void **state)
{
	const char *conf = "release_step = 2mb\n[pool cam]\nsize = 256MB\n"
			   "quota = 64KiB\nlimit = 1M\n";
	const char *release = "release_step '2mb' in [daemon] read as 2 MiB "
			      POWERS_OF_1024 "; write 2M or 2MiB";
	const char *size = "size '256MB' in [pool cam] read as 256 MiB "
			   POWERS_OF_1024 "; write 256M or 256MiB";
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char out[2048], want[512];

	(void)state;
	assert_int_equal(harness_start(&d, conf), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "cam", &st), 0);
	assert_int_equal(st.max_size, 256 << 20);
	assert_int_equal(st.quota, 64 << 10);
	/* [daemon] and socket_mode are lines 1 and 2 of the file. */
	assert_int_equal(read_as_logged(&d, 3, release), 1);
	assert_int_equal(read_as_logged(&d, 5, size), 1);
	assert_int_equal(binary_reads_logged(&d), 2);

	/* A reload of the same file says it again, once per value. */
	write_config(&d, conf);
	harness_reload(&d);
	assert_int_equal(read_as_logged(&d, 3, release), 2);
	assert_int_equal(read_as_logged(&d, 5, size), 2);
	assert_int_equal(binary_reads_logged(&d), 4);
	/* Written as poolctl takes it: nothing to say. */
	write_config(&d, "release_step = 2M\n[pool cam]\nsize = 256MiB\n");
	harness_reload(&d);
	assert_int_equal(binary_reads_logged(&d), 4);
	EXPECT_RC(pool_stats_by_name(c, "cam", &st), 0);
	assert_int_equal(st.max_size, 256 << 20);

	/* --check-config says it too, and the file is still ok. */
	write_config(&d, "[pool q]\nsize = 1M\nquota = 1kb\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: quota '1kb' in [pool q] "
		 "read as 1 KiB " POWERS_OF_1024 "; write 1K or 1KiB\n",
		 d.conf);
	if (!strstr(out, want))
		fail_msg("--check-config said:\n%s\nnot:\n%s", out, want);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 1 pool\n", d.conf);
	assert_non_null(strstr(out, want));
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * max_blocks_per_session: "1K" is 1024 blocks, at start; a count written
 * with a byte unit stops a start, and a reload or --check-config of it
 * is refused with the same words, the running bound kept.
 */
static void
counts_with_byte_units_refused(void **state)
{
	const char *why = "is a count of blocks, not a size: write";
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off[1024], extra;
	char out[1024], want[512];
	size_t i;

	(void)state;
	snprintf(want, sizeof(want), "3: max_blocks_per_session '64KB' %s 64K "
		 "or 65536", why);
	refused_at_start("max_blocks_per_session = 64KB\n", want);
	snprintf(want, sizeof(want), "3: max_blocks_per_session '1MiB' %s 1M "
		 "or 1048576", why);
	refused_at_start("max_blocks_per_session = 1MiB\n", want);
	snprintf(want, sizeof(want), "3: max_blocks_per_session '4 B' %s 4",
		 why);
	refused_at_start("max_blocks_per_session = 4 B\n", want);
	refused_at_start("max_blocks_per_session = 4Q\n",
			 "3: bad max_blocks_per_session '4Q'");

	/* A plain multiplier: 1024 blocks, and not one more. */
	assert_int_equal(harness_start(&d, "max_blocks_per_session = 1K\n"
				       "[pool first]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "first", &p), 0);
	for (i = 0; i < 1024; i++)
		EXPECT_RC(pool_alloc(p, 32, &off[i]), 0);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);

	/* Taken as 65536, the reload would let the next one through. */
	snprintf(want, sizeof(want), "6: max_blocks_per_session '64KB' %s 64K "
		 "or 65536", why);
	refused_on_reload(&d, "[daemon]\nmax_blocks_per_session = 64KB\n",
			  want);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);

	write_config(&d, "max_blocks_per_session = 2kib\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:3: max_blocks_per_session "
		 "'2kib' %s 2k or 2048\n", d.conf, why);
	assert_string_equal(out, want);

	for (i = 0; i < 1024; i++)
		EXPECT_RC(pool_free(p, off[i]), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The counts of the file, what each counts, whether 0 is refused, and the
 * most each takes.
 */
static const struct count_key {
	const char *key;
	const char *what;
	int least;
	const char *most;
} count_keys[] = {
	{"max_connections", "connections", 1, "4294967295"},
	{"max_connections_per_uid", "connections", 1, "4294967295"},
	{"max_blocks_per_session", "blocks", 1, "18446744073709551615"},
	{"max_persistent_blocks_per_uid", "blocks", 1,
	 "18446744073709551615"},
	{"drop_step", "references", 0, "4294967295"},
	{"max_name_waits", "lookups", 0, "4294967295"},
	{"max_alloc_waits", "allocations", 0, "4294967295"},
};

/*
 * poolmgrd -t on "[daemon]" and "KEY = VALUE": refused (exit 1) saying
 * "FILE:3: " and problem.
 */
static void
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

/* poolmgrd -t on "[daemon]" and line (the file's line 3): exit code, out. */
static int
check_line(const struct daemon_proc *d, const char *line, char *out,
	   size_t len)
{
	write_config(d, line);
	return check_run(out, len, "-t -s %s -c %s", d->sock, d->conf);
}

/*
 * Every count of the file is read as max_blocks_per_session is: "4K" is
 * 4096 (--check-config says ok), "4KB" stops a start and --check-config
 * with the key, what it counts and what to write; "0K" is 0, refused as
 * 0 is where a count cannot be 0, saying the least; a count kept in 32
 * bits says its most.  All of them once took plain numbers only, "4K"
 * refused as "bad KEY '4K'".  A blank before the unit ("4 KB") is told
 * what to write as "4KB" is; a count past 64 bits ("16777216T") says the
 * most, as one past the bound does.
 */
static void
every_count_reads_alike(void **state)
{
	struct daemon_proc d;
	char line[128], out[1024], want[512], problem[256];
	size_t i;

	(void)state;
	config_dir(&d);
	for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		const struct count_key *k = &count_keys[i];

		snprintf(line, sizeof(line), "%s = 4K\n", k->key);
		if (check_line(&d, line, out, sizeof(out)) != 0)
			fail_msg("--check-config of %s said:\n%s", line, out);
		snprintf(want, sizeof(want), "poolmgrd: %s: ok, 0 pools\n",
			 d.conf);
		assert_string_equal(out, want);

		snprintf(problem, sizeof(problem), "3: %s '4KB' is a count of "
			 "%s, not a size: write 4K or 4096", k->key, k->what);
		snprintf(line, sizeof(line), "%s = 4KB\n", k->key);
		assert_int_equal(check_line(&d, line, out, sizeof(out)), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:%s\n", d.conf,
			 problem);
		assert_string_equal(out, want);
		refused_at_start(line, problem);

		snprintf(line, sizeof(line), "%s = 0K\n", k->key);
		if (k->least == 0) {
			assert_int_equal(check_line(&d, line, out,
						    sizeof(out)), 0);
			continue;
		}
		snprintf(problem, sizeof(problem), "3: bad %s '0K' (at least "
			 "1)", k->key);
		assert_int_equal(check_line(&d, line, out, sizeof(out)), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:%s\n", d.conf,
			 problem);
		assert_string_equal(out, want);
		refused_at_start(line, problem);
	}
	for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		const struct count_key *k = &count_keys[i];

		/* A blank before the unit: the same words as "4KB". */
		snprintf(problem, sizeof(problem), "%s '4 KB' is a count of "
			 "%s, not a size: write 4K or 4096", k->key, k->what);
		check_refuses(&d, k->key, "4 KB", problem);
		snprintf(problem, sizeof(problem), "%s '2 MiB' is a count of "
			 "%s, not a size: write 2M or 2097152", k->key,
			 k->what);
		check_refuses(&d, k->key, "2 MiB", problem);
		/* Past 64 bits, by multiplier or digits: past the most too. */
		snprintf(problem, sizeof(problem), "bad %s '16777216T' (at "
			 "most %s)", k->key, k->most);
		check_refuses(&d, k->key, "16777216T", problem);
		snprintf(problem, sizeof(problem), "bad %s "
			 "'99999999999999999999' (at most %s)", k->key,
			 k->most);
		check_refuses(&d, k->key, "99999999999999999999", problem);
		/* Not a number: no bound to say. */
		snprintf(problem, sizeof(problem), "bad %s '4 K'", k->key);
		check_refuses(&d, k->key, "4 K", problem);
	}
	/*
	 * However long the number, the same words: what to write, or the
	 * bound.  (Past 31 characters it once said "not a size" alone.)
	 */
#define LONG_4KB "00000000000000000000000000000004KB"
#define LONG_PAST "000000000000000000000000000000099999999999999999999KB"
	check_refuses(&d, "max_connections", LONG_4KB, "max_connections '"
		      LONG_4KB "' is a count of connections, not a size: "
		      "write 00000000000000000000000000000004K or 4096");
	check_refuses(&d, "max_connections", "0000000000000000000000000000000"
		      "0004 B", "max_connections '00000000000000000000000000000"
		      "000004 B' is a count of connections, not a size: write "
		      "00000000000000000000000000000000004");
	check_refuses(&d, "max_connections", LONG_PAST, "bad max_connections "
		      "'" LONG_PAST "' (at most 4294967295)");
	check_refuses(&d, "max_blocks_per_session", LONG_PAST, "bad "
		      "max_blocks_per_session '" LONG_PAST "' (at most "
		      "18446744073709551615)");
#undef LONG_PAST
#undef LONG_4KB
	refused_at_start("max_connections = 4 KB\n", "3: max_connections "
			 "'4 KB' is a count of connections, not a size: write "
			 "4K or 4096");
	refused_at_start("max_connections = 16777216T\n", "3: bad "
			 "max_connections '16777216T' (at most 4294967295)");
	refused_at_start("max_connections = 4G\n", "3: bad max_connections "
			 "'4G' (at most 4294967295)");
	refused_at_start("drop_step = 4096M\n", "3: bad drop_step '4096M' "
			 "(at most 4294967295)");
	remove_dir(&d);
}

/*
 * max_connections = 1K lets 1024 clients in and turns the next away, at
 * start; a reload of "2KB" is refused in the same words and the bound
 * stays 1024 (taken as 2048 it would let the next one in); a reload of
 * "2K" lets it in.
 */
static void
count_multiplier_bounds_connections(void **state)
{
	enum { BOUND = 1024 };
	static struct pool_conn *c[BOUND];
	struct pool_conn *extra;
	struct daemon_proc d;
	struct rlimit rl;
	char want[512];
	int i;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * BOUND) {
		printf("descriptors: at most %llu here, too few for %d "
		       "clients\n", (unsigned long long)rl.rlim_max, BOUND);
		skip();
	}
	/* The daemon, started from here, inherits it. */
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

	assert_int_equal(harness_start(&d, "max_connections = 1K\n"
				       "max_connections_per_uid = 2K\n"
				       "[pool first]\nsize = 1M\n"), 0);
	for (i = 0; i < BOUND; i++)
		EXPECT_RC(pool_connect(d.sock, &c[i]), 0);
	EXPECT_RC(pool_connect(d.sock, &extra), -EUSERS);

	write_config(&d, "max_connections = 2KB\n");
	harness_reload(&d);
	snprintf(want, sizeof(want), "SIGHUP: %s:3: max_connections '2KB' is a "
		 "count of connections, not a size: write 2K or 2048; keeping "
		 "the running configuration", d.conf);
	harness_expect_logged(&d, want);
	EXPECT_RC(pool_connect(d.sock, &extra), -EUSERS);

	write_config(&d, "max_connections = 2K\nmax_connections_per_uid = 2K\n"
		     "[pool first]\nsize = 1M\n");
	harness_reload(&d);
	EXPECT_RC(pool_connect(d.sock, &extra), 0);
	pool_disconnect(extra);
	for (i = 0; i < BOUND; i++)
		pool_disconnect(c[i]);
	assert_int_equal(harness_stop(&d), 0);
}

/* poolmgrd ARGS exits 2 and says problem, then where help is. */
static void
usage_error_says(const char *args, const char *problem)
{
	char out[1024], want[512];
	int rc = check_run(out, sizeof(out), "%s", args);

	snprintf(want, sizeof(want), "poolmgrd: %s\nTry 'poolmgrd --help' "
		 "for more information.\n", problem);
	if (rc != 2 || strcmp(out, want) != 0)
		fail_msg("poolmgrd %s: exit %d, said:\n%s\nnot exit 2 and:\n%s",
			 args, rc, out, want);
}

/*
 * A command line poolmgrd cannot take is said as poolctl says its own:
 * the word that was wrong, no path of the program, exit 2; no usage text
 * to search for what was wrong in.
 */
static void
command_line_errors_say_what(void **state)
{
	(void)state;
	usage_error_says("--bogus", "unknown option '--bogus'");
	usage_error_says("--bogus=1", "unknown option '--bogus'");
	usage_error_says("-x", "unknown option '-x'");
	usage_error_says("-vx", "unknown option '-x'");
	usage_error_says("--check-config -q", "unknown option '-q'");
	usage_error_says("extra", "unexpected argument 'extra'");
	usage_error_says("-v extra more", "unexpected argument 'extra'");
	usage_error_says("--socket", "option '--socket' needs an argument");
	usage_error_says("-c", "option '-c' needs an argument");
	usage_error_says("-vc", "option '-c' needs an argument");
	usage_error_says("--ver", "option '--ver' is ambiguous");
	usage_error_says("--verbose=1", "option '--verbose' takes no "
			 "argument");
}

/*
 * A size past 64 bits, by its multiplier ("99999999999T") or its digits,
 * says the most it may be, as a count does: the largest pool for size,
 * 2^64 - 1 bytes for the other size keys with no bound of their own, of
 * [daemon] (release_step) or of a pool (quota, user_quota, retain).  They once said
 * only "bad KEY 'V'".  A word of another form still says that alone.
 * (limit and page_size have bounds of their own:
 * limit_past_any_pool_says_its_size, page_size_past_the_largest_says_it.)
 */
static void
sizes_past_64_bits_say_the_most(void **state)
{
	static const char *const pool_keys[] = {
		"quota", "user_quota", "retain",
	};
	static const char *const past[] = {
		"99999999999T", "16777216T", "99999999999999999999",
	};
	struct daemon_proc d;
	char text[256], out[1024], want[512];
	size_t i, j;

	(void)state;
	config_dir(&d);
	for (j = 0; j < sizeof(past) / sizeof(past[0]); j++) {
		snprintf(want, sizeof(want), "bad release_step '%s' (at most "
			 "18446744073709551615)", past[j]);
		check_refuses(&d, "release_step", past[j], want);

		snprintf(text, sizeof(text), "[pool s]\nsize = %s\n", past[j]);
		write_config(&d, text);
		assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
					   d.sock, d.conf), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:4: size '%s' in "
			 "[pool s] is above the largest pool, 64 TiB\n", d.conf,
			 past[j]);
		assert_string_equal(out, want);

		for (i = 0; i < sizeof(pool_keys) / sizeof(pool_keys[0]); i++) {
			snprintf(text, sizeof(text), "[pool s]\nsize = 1M\n"
				 "%s = %s\n", pool_keys[i], past[j]);
			write_config(&d, text);
			assert_int_equal(check_run(out, sizeof(out),
						   "-t -s %s -c %s", d.sock,
						   d.conf), 1);
			snprintf(want, sizeof(want), "poolmgrd: %s:5: bad %s "
				 "'%s' in [pool s] (at most "
				 "18446744073709551615)\n", d.conf,
				 pool_keys[i], past[j]);
			assert_string_equal(out, want);
		}
	}
	/* Not a size at all: no bound to say. */
	check_refuses(&d, "release_step", "99999999999X",
		      "bad release_step '99999999999X' " FORMS);
	write_config(&d, "[pool s]\nsize = 1M\nquota = 9 T\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: bad quota '9 T' in "
		 "[pool s] " FORMS "\n", d.conf);
	assert_string_equal(out, want);
	/* Stops a start too, in the same words. */
	refused_at_start("[pool s]\nsize = 1M\nquota = 99999999999T\n",
			 "5: bad quota '99999999999T' in [pool s] (at most "
			 "18446744073709551615)");
	remove_dir(&d);
}

/*
 * poolmgrd -t on a 1 MiB pool s whose key is each of the n values:
 * refused (exit 1) at the key's line, naming its bound.
 */
static void
each_refused_with_bound(const struct daemon_proc *d, const char *key,
			const char *const *values, size_t n, const char *bound)
{
	char text[256], out[1024], want[512];
	size_t j;

	for (j = 0; j < n; j++) {
		snprintf(text, sizeof(text), "[pool s]\nsize = 1M\n%s = %s\n",
			 key, values[j]);
		write_config(d, text);
		assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
					   d->sock, d->conf), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:5: bad %s '%s' in "
			 "[pool s] (at most %s)\n", d->conf, key, values[j],
			 bound);
		if (strcmp(out, want) != 0)
			fail_msg("--check-config of %s = %s said:\n%s\nnot:\n%s",
				 key, values[j], out, want);
	}
}

/*
 * A pool's limit is at most its size, and no pool is above 64 TiB: a
 * limit past 64 bits, or past the largest pool, says that bound, at its
 * own line, as size says the largest pool.  Past 64 bits it once said
 * 2^64 - 1, which no limit can come near.  One within the largest pool
 * but above the size is the pool's problem, named at its section once
 * the size is known, as before.
 */
static void
limit_past_any_pool_says_its_size(void **state)
{
	static const char *const past[] = {
		"99999999999T", "16777216T", "99999999999999999999",
		"99999999999TB", "65T", "70368744177665",
	};
	struct daemon_proc d;
	char out[1024], want[512];

	(void)state;
	config_dir(&d);
	each_refused_with_bound(&d, "limit", past, sizeof(past) /
				sizeof(past[0]), "the pool's size");
	/* Within the largest pool: the size is the pool's to compare. */
	write_config(&d, "[pool s]\nsize = 1M\nlimit = 64T\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:3: [pool s] has a limit "
		 "below a granule or above its size\n", d.conf);
	assert_string_equal(out, want);
	refused_at_start("[pool s]\nsize = 1M\nlimit = 99999999999T\n",
			 "5: bad limit '99999999999T' in [pool s] (at most "
			 "the pool's size)");
	remove_dir(&d);
}

/*
 * A page is at most 2 GiB (memfd_create and the protocol can carry no
 * larger): a page_size past 64 bits, or past 2 GiB, says that bound, at
 * its own line, as limit says the pool's size.  Past 64 bits it once said
 * 2^64 - 1, and past 2 GiB that the kernel offers no such page, which a
 * kernel with larger pages may.  One within 2 GiB the kernel does not
 * offer is still said so.
 */
static void
page_size_past_the_largest_says_it(void **state)
{
	static const char *const past[] = {
		"99999999999T", "16777216T", "99999999999999999999",
		"99999999999TB", "4G", "2147483649", "16GiB",
	};
	struct daemon_proc d;
	char out[1024], want[512];

	(void)state;
	config_dir(&d);
	each_refused_with_bound(&d, "page_size", past, sizeof(past) /
				sizeof(past[0]), "2 GiB");
	/* Within 2 GiB, no page at all: the kernel's sizes are the bound. */
	write_config(&d, "[pool s]\nsize = 1M\npage_size = 3M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: page_size 3M in [pool s] "
		 "is neither the system page nor a huge page size the kernel "
		 "offers (/sys/kernel/mm/hugepages)\n", d.conf);
	assert_string_equal(out, want);
	refused_at_start("[pool s]\nsize = 1M\npage_size = 99999999999T\n",
			 "5: bad page_size '99999999999T' in [pool s] (at most "
			 "2 GiB)");
	remove_dir(&d);
}

/*
 * A count with a byte unit whose number is out of range even without
 * the unit ("99999999999999999999KB", past 64 bits; "16777216TB"; "0KB"
 * where 0 is refused) says the bound, as the same count without its
 * unit does: writing it as the hint would say would not make it fit.
 * Past 64 bits it once said "is a count of blocks, not a size" and
 * nothing of what to write.  One in range keeps the hint.
 */
static void
counts_out_of_range_with_byte_unit_say_the_bound(void **state)
{
	struct daemon_proc d;
	char problem[256];
	size_t i;

	(void)state;
	config_dir(&d);
	for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		const struct count_key *k = &count_keys[i];

		snprintf(problem, sizeof(problem), "bad %s "
			 "'99999999999999999999KB' (at most %s)", k->key,
			 k->most);
		check_refuses(&d, k->key, "99999999999999999999KB", problem);
		snprintf(problem, sizeof(problem), "bad %s '16777216TB' (at "
			 "most %s)", k->key, k->most);
		check_refuses(&d, k->key, "16777216TB", problem);
		snprintf(problem, sizeof(problem), "bad %s "
			 "'99999999999999999999 B' (at most %s)", k->key,
			 k->most);
		check_refuses(&d, k->key, "99999999999999999999 B", problem);
		if (k->least == 0)
			continue;
		snprintf(problem, sizeof(problem), "bad %s '0KB' (at least 1)",
			 k->key);
		check_refuses(&d, k->key, "0KB", problem);
	}
	/* Past a 32-bit count's bound only: that bound. */
	check_refuses(&d, "max_connections", "4GB",
		      "bad max_connections '4GB' (at most 4294967295)");
	/* In range: the unit is what to fix. */
	check_refuses(&d, "max_blocks_per_session", "4GB",
		      "max_blocks_per_session '4GB' is a count of blocks, not "
		      "a size: write 4G or 4294967296");
	refused_at_start("max_blocks_per_session = 99999999999999999999KB\n",
			 "3: bad max_blocks_per_session "
			 "'99999999999999999999KB' (at most "
			 "18446744073709551615)");
	remove_dir(&d);
}

/* poolmgrd -t on "[daemon]" and text: refused (exit 1), saying line: want. */
static void
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

/* What --check-config says of "[daemon]" and text: ok (exit 0). */
static void
check_text_loads(const struct daemon_proc *d, const char *text)
{
	char out[1024], want[512];

	write_config(d, text);
	if (check_run(out, sizeof(out), "-t -s %s -c %s", d->sock,
		      d->conf) != 0)
		fail_msg("--check-config of\n%ssaid:\n%s", text, out);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 0 pools\n", d->conf);
	assert_string_equal(out, want);
}

#define BELOW_MAX "below max_connections)"

/*
 * admin_connections, the places of max_connections kept for the admins:
 * a count as the others are (0 keeps none, "4K" is 4096, "4KB" is told
 * what to write), and below max_connections, wherever that is written
 * (1023 of the default 1024 loads, "1K" does not, nor 8 before
 * max_connections = 8), refused at its own line by --check-config and
 * at start.  Not set, it is never more than half of max_connections: a
 * file of max_connections = 1 loads as it always has.
 */
static void
admin_connections_bounds(void **state)
{
	struct daemon_proc d;

	(void)state;
	config_dir(&d);
	check_text_loads(&d, "admin_connections = 0\n");
	check_text_loads(&d, "admin_connections = 1023\n");
	check_text_loads(&d, "admin_connections = 4095\n"
			 "max_connections = 4K\n");
	check_text_loads(&d, "max_connections = 1\n");
	check_refuses(&d, "admin_connections", "1024", "bad admin_connections "
		      "'1024' (at most 1023, " BELOW_MAX);
	check_refuses(&d, "admin_connections", "1K", "bad admin_connections "
		      "'1K' (at most 1023, " BELOW_MAX);
	check_refuses(&d, "admin_connections", "4KB", "admin_connections "
		      "'4KB' is a count of connections, not a size: write 4K "
		      "or 4096");
	check_refuses(&d, "admin_connections", "-1",
		      "bad admin_connections '-1'");
	check_refuses(&d, "admin_connections", "eight",
		      "bad admin_connections 'eight'");
	check_refuses(&d, "admin_connections", "16777216T", "bad "
		      "admin_connections '16777216T' (at most 4294967295)");
	check_text_refuses(&d, "admin_connections = 8\nmax_connections = 8\n",
			   3, "bad admin_connections '8' (at most 7, "
			   BELOW_MAX);
	check_text_refuses(&d, "max_connections = 1\nadmin_connections = 1\n",
			   4, "bad admin_connections '1' (at most 0, "
			   BELOW_MAX);
	refused_at_start("admin_connections = 2K\n", "3: bad "
			 "admin_connections '2K' (at most 1023, " BELOW_MAX);
	remove_dir(&d);
}

/*
 * user_quota = SIZE, read as quota is: the pool has it from the start, a
 * reload changes it and logs it ("user_quota A -> B", 0 once the key is
 * gone), and a word that is no size is refused at its line, naming the
 * key: by a start, by a reload (the running user quota kept) and by
 * --check-config.
 */
static void
user_quota_read_or_refused(void **state)
{
	static const char *const bad[] = {"lots", "-1", "9 T", "1.5M",
					  "64KiBB"};
	struct daemon_proc d, check;
	struct pool_conn *c;
	struct pool_stats st;
	char text[256], want[256];
	size_t i;

	(void)state;
	refused_at_start("[pool u]\nsize = 1M\nuser_quota = lots\n",
			 "5: bad user_quota 'lots' in [pool u]");
	config_dir(&check);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[pool u]\nsize = 1M\n"
			 "user_quota = %s\n", bad[i]);
		snprintf(want, sizeof(want), "bad user_quota '%s' in [pool u] "
			 FORMS, bad[i]);
		check_text_refuses(&check, text, 5, want);
	}
	remove_dir(&check);

	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"
				       "user_quota = 256K\n"), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 256 << 10);

	refused_on_reload(&d, "[pool first]\nsize = 1M\nuser_quota = lots\n",
			  "7: bad user_quota 'lots' in [pool first] " FORMS);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 256 << 10);

	write_config(&d, "[pool first]\nsize = 1M\nuser_quota = 512K\n");
	harness_reload(&d);
	harness_expect_logged(&d, "pool first: user_quota 262144 -> 524288");
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 512 << 10);
	assert_int_equal(st.quota, 0);

	write_config(&d, "[pool first]\nsize = 1M\n");
	harness_reload(&d);
	harness_expect_logged(&d, "pool first: user_quota 524288 -> 0");
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Pool name's user quotas of uids as PoolStats says them over a raw
 * connection to sock: "uid:bytes,..." or "none".
 */
static void
uquotas_said(const char *sock, const char *name, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep = NULL;
	int fd = harness_raw_greeted(sock, "uq");
	size_t i, at = 0;

	assert_true(fd >= 0);
	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	snprintf(buf, len, "none");
	for (i = 0; i < rep->stats->n_user_quotas && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%u:%llu",
				       i ? "," : "",
				       rep->stats->user_quotas[i]->uid,
				       (unsigned long long)
				       rep->stats->user_quotas[i]->bytes);
	poolmgr__reply__free_unpacked(rep, NULL);
	close(fd);
}

/* OpenReply.quota of a new handle of the test's (uid 0) on name. */
static uint64_t
uquota_share(const char *sock, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep = NULL;
	int fd = harness_raw_greeted(sock, "uq");
	uint64_t q;

	assert_true(fd >= 0);
	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	q = rep->open->quota;
	poolmgr__reply__free_unpacked(rep, NULL);
	close(fd);
	return q;
}

/*
 * user_quotas = USER:SIZE, ...: uids' own user quotas, names or numbers,
 * none or 0 for no user quota.  A bad entry is refused at its line with
 * what it should be (no such user, nobody's uid, a size that is none, no
 * colon), so are a uid twice (by number and by name, on a line that
 * continues the list), none beside entries, a 33rd entry at its line and
 * a second key; 32 are taken.  A daemon started on the file has the list
 * (PoolStats, sorted by uid) and binds by it (OpenReply.quota of the
 * test's uid 0); a reload that changes it is logged "user_quotas A -> B"
 * and holds at once; one that is refused keeps it; the key gone, none.
 */
static void
user_quotas_read_or_refused(void **state)
{
	struct daemon_proc d, check;
	struct passwd *pw;
	char text[2048], want[512], out[1024], got[512];
	unsigned uid;
	size_t at, cut = 0;
	int i;

	(void)state;
	if (!(pw = getpwnam("nobody")))
		skip();
	uid = (unsigned)pw->pw_uid;
	refused_at_start("[pool u]\nsize = 1M\nuser_quotas = 7:lots\n",
			 "5: bad user_quotas entry '7:lots' in [pool u] (a "
			 "size is a number of bytes, optionally followed by "
			 "K, M, G or T, or none)");
	config_dir(&check);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = no-such-user-here:1M\n", 5,
			   "bad user_quotas entry 'no-such-user-here:1M' in "
			   "[pool p] (no such user)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 4294967295:1M\n", 5,
			   "bad user_quotas entry '4294967295:1M' in [pool p] "
			   "(4294967295 is no uid: it means none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7\n", 5, "bad user_quotas entry '7' "
			   "in [pool p] (USER:SIZE, USER a user name or uid, "
			   "SIZE as the file's sizes (64M) or none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7:1M:2M\n", 5, "bad user_quotas "
			   "entry '7:1M:2M' in [pool p] (USER:SIZE, USER a "
			   "user name or uid, SIZE as the file's sizes (64M) "
			   "or none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7:99999999999999999999\n", 5,
			   "bad user_quotas entry '7:99999999999999999999' in "
			   "[pool p] (a size of at most 2^64 - 1 bytes)");
	snprintf(text, sizeof(text), "[pool p]\nsize = 1M\nuser_quotas = "
		 "%u:1M\n  nobody:none\n", uid);
	snprintf(want, sizeof(want), "bad user_quotas in [pool p] (uid %u's "
		 "user quota entry is given twice)", uid);
	check_text_refuses(&check, text, 6, want);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = none, 7:1M\n", 5, "bad user_quotas "
			   "in [pool p] (none alone is the whole value: no "
			   "entry before or after it)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7:1M\nuser_quotas = 8:1M\n", 6,
			   "user_quotas given twice in [pool p] (first on line "
			   "5): a list goes on over indented lines, or all on "
			   "one");
	/* 33 entries, four to a line: the 33rd is on the file's line 14. */
	at = (size_t)snprintf(text, sizeof(text), "[pool p]\nsize = 1M\n"
			      "user_quotas =");
	for (i = 0; i < 33; i++) {
		cut = at;
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s"
				       "%d:64K", i % 4 ? ", " : "\n  ",
				       1000 + i);
	}
	snprintf(text + at, sizeof(text) - at, "\n");
	check_text_refuses(&check, text, 14, "bad user_quotas in [pool p] "
			   "(at most 32 entries, not 33)");
	snprintf(text + cut, sizeof(text) - cut, "\n");
	write_config(&check, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   check.sock, check.conf), 0);
	remove_dir(&check);

	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"
				       "user_quota = 256K\nuser_quotas = "
				       "nobody:1M, 7:none 0:128K\n"), 0);
	snprintf(want, sizeof(want), "0:131072,7:0,%u:1048576", uid);
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(uquota_share(d.sock, "first"), 128 << 10);

	refused_on_reload(&d, "[pool first]\nsize = 1M\nuser_quotas = 0:x\n",
			  "7: bad user_quotas entry '0:x' in [pool first] (a "
			  "size is a number of bytes, optionally followed by "
			  "K, M, G or T, or none)");
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, want);

	write_config(&d, "[pool first]\nsize = 1M\nuser_quota = 256K\n"
		     "user_quotas = 0:512K\n");
	harness_reload(&d);
	snprintf(want, sizeof(want), "pool first: user_quotas 0:131072,7:none,"
		 "%u:1048576 -> 0:524288", uid);
	harness_expect_logged(&d, want);
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, "0:524288");
	assert_int_equal(uquota_share(d.sock, "first"), 512 << 10);

	write_config(&d, "[pool first]\nsize = 1M\nuser_quota = 256K\n");
	harness_reload(&d);
	harness_expect_logged(&d, "pool first: user_quotas 0:524288 -> none");
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, "none");
	assert_int_equal(uquota_share(d.sock, "first"), 256 << 10);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The [daemon] keys that take words, and the pool keys that take names:
 * a socket_mode that is not octal, a hello_timeout that is no number, an
 * admin_group or a pool's owner or group that names nobody (4294967295
 * included), a mode past 0777, a socket path
 * past what sun_path holds, a numa_policy other than preferred or bind,
 * and a 257th pool are each refused with the file's line and the key; a
 * directory for a file is refused as unreadable.  Names that exist read
 * as their ids (owner = nobody is nobody's uid, on
 * the pool the daemon makes), and numa_policy = preferred is taken.
 */
static void
named_keys_read_or_refused(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	struct passwd *pw;
	struct group *gr;
	char out[1024], want[512], *text, path[160], group[64];
	size_t at, len = 64 * 1024;
	uid_t uid;
	gid_t gid;
	int i;

	(void)state;
	/* nobody and its group: names every system has, not the test's ids. */
	pw = getpwnam("nobody");
	gr = getgrgid(pw ? pw->pw_gid : 0);
	if (!pw || !gr)
		skip();
	uid = pw->pw_uid;
	gid = gr->gr_gid;
	snprintf(group, sizeof(group), "%s", gr->gr_name);
	config_dir(&d);
	check_refuses(&d, "socket_mode", "0999", "bad socket_mode '0999' "
		      "(octal, at most 0777)");
	check_refuses(&d, "socket_mode", "rw", "bad socket_mode 'rw' "
		      "(octal, at most 0777)");
	/* A whole number that is none, or past 32 bits, says what is one. */
	check_refuses(&d, "hello_timeout", "soon", "bad hello_timeout 'soon' "
		      "(whole seconds, 0 to 4294967295)");
	check_refuses(&d, "idle_trim", "4294967296", "bad idle_trim "
		      "'4294967296' (whole seconds, 0 to 4294967295)");
	check_refuses(&d, "settle_wait_ms", "1.5", "bad settle_wait_ms '1.5' "
		      "(whole milliseconds, 0 to 4294967295)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\nnuma_node = 1024\n", 5,
			   "bad numa_node '1024' in [pool p] (a node number "
			   "below 1024)");
	check_refuses(&d, "admin_group", "no-such-group-here",
		      "unknown admin_group 'no-such-group-here'");
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	check_refuses(&d, "socket", path, "socket path too long (108 bytes, "
		      "at most 107)");

	check_text_refuses(&d, "[pool p]\nsize = 1M\nowner = no-such-user-here\n",
			   5, "bad owner 'no-such-user-here' in [pool p] "
			   "(no such user)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\ngroup = no-such-group-here\n",
			   5, "bad group 'no-such-group-here' in [pool p] "
			   "(no such group)");
	/* (uid_t)-1: no process's, and CreatePool and SetPool refuse it. */
	check_text_refuses(&d, "[pool p]\nsize = 1M\nowner = 4294967295\n",
			   5, "bad owner '4294967295' in [pool p] "
			   "(4294967295 is no uid: it means none)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\ngroup = 4294967295\n",
			   5, "bad group '4294967295' in [pool p] "
			   "(4294967295 is no gid: it means none)");
	check_refuses(&d, "admin_group", "4294967295",
		      "unknown admin_group '4294967295'");
	/* Not dropped to 0777: the file says what it means. */
	check_text_refuses(&d, "[pool p]\nsize = 1M\nmode = 01777\n",
			   5, "bad mode '01777' in [pool p] "
			   "(octal, at most 0777)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\nnuma_node = 0\n"
			   "numa_policy = interleave\n", 6, "bad numa_policy "
			   "(preferred or bind) 'interleave' in [pool p]");

	/* Names that exist, and a preferred node: the file is good. */
	snprintf(want, sizeof(want), "admin_group = %s\n[pool p]\nsize = 1M\n"
		 "owner = nobody\ngroup = %s\n[pool q]\nsize = 1M\n"
		 "numa_node = 0\nnuma_policy = preferred\n", group, group);
	write_config(&d, want);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 2 pools\n", d.conf);
	assert_string_equal(out, want);

	/* 256 pools are taken; the 257th section is refused, at its line. */
	assert_non_null(text = malloc(len));
	at = 0;
	for (i = 0; i <= 256; i++)
		at += (size_t)snprintf(text + at, len - at,
				       "[pool p%d]\nsize = 64K\n", i);
	check_text_refuses(&d, text, 3 + 2 * 256,
			   "too many pools (at most 256 [pool NAME] sections)");
	text[at - strlen("[pool p256]\nsize = 64K\n")] = '\0';
	write_config(&d, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	free(text);
	/* A path that opens but cannot be read: said, with the reason. */
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.dir), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s: cannot read: %s\n", d.dir,
		 strerror(EISDIR));
	assert_string_equal(out, want);
	remove_dir(&d);

	/* The daemon makes the pool with the ids the names stand for. */
	snprintf(want, sizeof(want), "[pool p]\nsize = 1M\nowner = nobody\n"
		 "group = %s\nmode = 0640\n", group);
	assert_int_equal(harness_start(&d, want), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "p", &st), 0);
	assert_int_equal(st.uid, uid);
	assert_int_equal(st.gid, gid);
	assert_int_equal(st.mode, 0640);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Pool name's access control list as PoolStats says it over a raw
 * connection to sock: "KIND:ID:RIGHTS,..." in numbers, in the order
 * given, or "none".
 */
static void
raw_acl(const char *sock, const char *name, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	const Poolmgr__Acl *acl;
	Poolmgr__Reply *r;
	size_t at = 0, i;
	int fd;

	assert_true((fd = harness_raw_greeted(sock, "acl")) >= 0);
	ref.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	r = harness_raw_expect(fd, &req, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_STATS);
	snprintf(buf, len, "none");
	acl = r->stats->acl;
	for (i = 0; acl && i < acl->n_entries && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%u:%u:%u",
				       i ? "," : "",
				       (unsigned)acl->entries[i]->kind,
				       (unsigned)acl->entries[i]->id,
				       (unsigned)acl->entries[i]->rights);
	poolmgr__reply__free_unpacked(r, NULL);
	close(fd);
}

/* Raw CreatePool of a 1 MiB pool name whose list is user uid, rights. */
static void
raw_create_with_acl(const char *sock, const char *name, uint32_t uid,
		    uint32_t rights)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__Acl acl = POOLMGR__ACL__INIT;
	Poolmgr__AclEntry e = POOLMGR__ACL_ENTRY__INIT, *ep = &e;
	int fd;

	assert_true((fd = harness_raw_greeted(sock, "acl")) >= 0);
	e.kind = 1;
	e.id = uid;
	e.rights = rights;
	acl.n_entries = 1;
	acl.entries = &ep;
	cp.name = (char *)name;
	cp.max_size = 1 << 20;
	cp.mode = 0600;
	cp.acl = &acl;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), 0);
	close(fd);
}

/*
 * acl = ENTRY[, ENTRY...]: user and group entries by name or id (u: and
 * g: too; setfacl's and getfacl's rights) give the pool its list, sorted,
 * which PoolStats says and the line of the pool's making names; indented
 * lines continue the list to its 32 entries.  Each kind of bad entry is
 * refused at its line, naming the entry and what is wrong, by
 * --check-config, by a start and by a reload (which keeps the running
 * list); so is a list past 32 entries, at the line of the 33rd, and a
 * kind and id given twice.  A pool made by CreatePool with a list names
 * it on its line too.
 */
static void
acl_read_or_refused(void **state)
{
	struct daemon_proc d, check;
	struct passwd *pw;
	struct group *gr;
	char text[2048], want[512], got[1024], out[1024];
	unsigned uid, gid;
	size_t at, cut = 0;
	int i;

	(void)state;
	/* nobody and its group: names every system has. */
	pw = getpwnam("nobody");
	gr = getgrgid(pw ? pw->pw_gid : 0);
	if (!pw || !gr)
		skip();
	uid = (unsigned)pw->pw_uid;
	gid = (unsigned)gr->gr_gid;

	config_dir(&check);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:1:rw, other::r\n", 5, "bad acl entry "
			   "'other::r' in [pool p] (an entry is user: or "
			   "group: (u: or g:); the others' rights are the "
			   "mode's, and there is no mask)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:no-such-user-here:r\n", 5,
			   "bad acl entry 'user:no-such-user-here:r' in "
			   "[pool p] (no such user)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = g:no-such-group-here:r\n", 5,
			   "bad acl entry 'g:no-such-group-here:r' in "
			   "[pool p] (no such group)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:4294967295:r\n", 5, "bad acl entry "
			   "'user:4294967295:r' in [pool p] (4294967295 is no "
			   "id: it means none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:7:rwx\n", 5, "bad acl entry "
			   "'user:7:rwx' in [pool p] (execute means nothing "
			   "for a pool: r, w, rw or -)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:7:rq\n", 5, "bad acl entry 'user:7:rq' "
			   "in [pool p] (rights are r, w, rw or - (none), or "
			   "getfacl's rw-, r--, -w-, ---)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:7\n", 5, "bad acl entry 'user:7' in "
			   "[pool p] (user:USER:RIGHTS or group:GROUP:RIGHTS, "
			   "RIGHTS r, w, rw or -)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user::rw\n", 5, "bad acl entry 'user::rw' in "
			   "[pool p] (no user named: the owner's rights are "
			   "the mode's)");
	/* Twice: by id and by name, on a line that continues the list. */
	snprintf(text, sizeof(text), "[pool p]\nsize = 1M\nacl = u:%u:r\n"
		 "  user:nobody:w\n", uid);
	snprintf(want, sizeof(want), "bad acl in [pool p] (user %u is given "
		 "twice)", uid);
	check_text_refuses(&check, text, 6, want);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = none, user:7:r\n", 5, "bad acl in [pool p] "
			   "(none is the whole list: alone, with no entry "
			   "before or after it)");
	/* 33 entries, four to a line: the 33rd is on the file's line 14. */
	at = (size_t)snprintf(text, sizeof(text), "[pool p]\nsize = 1M\n"
			      "acl =");
	for (i = 0; i < 33; i++) {
		cut = at;
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s"
				       "group:%d:r", i % 4 ? ", " : "\n  ",
				       1000 + i);
	}
	snprintf(text + at, sizeof(text) - at, "\n");
	check_text_refuses(&check, text, 14, "bad acl in [pool p] (an access "
			   "control list holds at most 32 entries, not 33)");
	/* 32 are taken: the file without the 33rd. */
	snprintf(text + cut, sizeof(text) - cut, "\n");
	write_config(&check, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   check.sock, check.conf), 0);
	remove_dir(&check);
	refused_at_start("[pool p]\nsize = 1M\nacl = user:7:rwx\n",
			 "5: bad acl entry 'user:7:rwx' in [pool p]");

	/* The list, sorted: users, then groups, each by id. */
	snprintf(text, sizeof(text), "[pool first]\nsize = 1M\n"
		 "acl = g:%s:r--, user:nobody:rw-, u:4242:---\n"
		 "[pool empty]\nsize = 1M\nacl = none\n", gr->gr_name);
	assert_int_equal(harness_start(&d, text), 0);
	raw_acl(d.sock, "first", got, sizeof(got));
	snprintf(want, sizeof(want), "1:4242:0,1:%u:6,2:%u:4", uid, gid);
	assert_string_equal(got, want);
	raw_acl(d.sock, "empty", got, sizeof(got));
	assert_string_equal(got, "none");
	snprintf(want, sizeof(want), ", acl user:4242:-,user:%u:rw,group:%u:r"
		 "\n", uid, gid);
	harness_expect_logged(&d, want);
	harness_expect_logged(&d, "pool empty: 1048576 bytes, mode 0600, "
			      "owner ");
	assert_int_equal(harness_log_count(&d, ", acl "), 1);

	/* A bad list on SIGHUP: refused, the running one kept. */
	refused_on_reload(&d, "[pool first]\nsize = 1M\nacl = user:7:x\n",
			  "7: bad acl entry 'user:7:x' in [pool first] (execute "
			  "means nothing for a pool: r, w, rw or -)");
	raw_acl(d.sock, "first", got, sizeof(got));
	snprintf(want, sizeof(want), "1:4242:0,1:%u:6,2:%u:4", uid, gid);
	assert_string_equal(got, want);

	/* A pool made with a list by CreatePool names it on its line. */
	raw_create_with_acl(d.sock, "made", 7, 4);
	harness_expect_logged(&d, "pool made created by uid ");
	harness_expect_logged(&d, ", acl user:7:r, pages of ");
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
		cmocka_unit_test(bad_socket_paths_refused),
		cmocka_unit_test(socket_dir_of_others_refused),
		cmocka_unit_test(long_pool_names_whole),
		cmocka_unit_test(bad_config_refused_at_start),
		cmocka_unit_test(signed_numbers_refused),
		cmocka_unit_test(keyless_sections_refused_at_start),
		cmocka_unit_test(first_problem_named),
		cmocka_unit_test(pool_values_checked_in_the_file),
		cmocka_unit_test(limit_up_to_the_rounded_size),
		cmocka_unit_test(bounds_of_none),
		cmocka_unit_test(long_line_named_at_start),
		cmocka_unit_test(keyless_sections_refused_on_reload),
		cmocka_unit_test(probe_timeout_bounded),
		cmocka_unit_test(check_config_option),
		cmocka_unit_test(key_before_any_section_named),
		cmocka_unit_test(command_line_errors_say_what),
		cmocka_unit_test(sizes_with_b_are_read_as_binary_and_said),
		cmocka_unit_test(admin_group_of_the_socket_warned),
		cmocka_unit_test(counts_with_byte_units_refused),
		cmocka_unit_test(every_count_reads_alike),
		cmocka_unit_test(admin_connections_bounds),
		cmocka_unit_test(count_multiplier_bounds_connections),
		cmocka_unit_test(sizes_past_64_bits_say_the_most),
		cmocka_unit_test(limit_past_any_pool_says_its_size),
		cmocka_unit_test(page_size_past_the_largest_says_it),
		cmocka_unit_test(counts_out_of_range_with_byte_unit_say_the_bound),
		cmocka_unit_test(named_keys_read_or_refused),
		cmocka_unit_test(user_quota_read_or_refused),
		cmocka_unit_test(acl_read_or_refused),
		cmocka_unit_test(user_quotas_read_or_refused),
		cmocka_unit_test(config_size_bounded_alike),
	};

	return cmocka_run_group_tests_name("poolmgrd config and signals", tests,
					   NULL, NULL);
}
