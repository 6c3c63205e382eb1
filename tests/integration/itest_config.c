/*
 * itest_config.c - poolmgrd's configuration file, signals and socket:
 * pools from the file exist at start with their settings, SIGHUP creates
 * the pools added since, gives live ones their sections' settings but
 * size and granularity (itest_reload has the details), and keeps the
 * running set when the new file is broken, and SIGTERM and SIGINT stop
 * the daemon cleanly (exit 0, socket removed, clients see -ECONNRESET).
 * What the file may say, and where its problems are named, is
 * itest_config_file.c's, how its numbers are read itest_config_numbers.c's;
 * the file written, the starts and reloads refused and --check-config run
 * are config_util.h's.
 *
 * The socket: without socket_mode in the file it is created 0660 (and
 * with it, as set); a second daemon started on the socket of a live one
 * refuses to start (exit 1, "another poolmgrd answers on PATH") and leaves
 * the first one, its socket, its clients and their blocks untouched; a
 * --socket path that is empty or too long stops a start that says it came
 * from --socket, as --check-config does; and a
 * stale socket file - left by a daemon killed with SIGKILL, a socket bound
 * by a process that does not listen, or a plain file - is replaced and the
 * daemon starts.  A directory on the way to the socket that every user
 * may write (not sticky) stops a start; one another uid may change (its
 * own, group-writable, under one of its, or reached through its symbolic
 * link) is warned of, and the daemon listens all the same.  An
 * admin_group that is the socket's is warned of, however many other
 * warnings the file has.
 *
 * poolmgrd --check-config reads the file as a start would and touches
 * nothing else: beside a live daemon on the same socket it says ok or
 * names the problem (exit 0 or 1), and the daemon serves on unchanged.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_util.h"

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

/*
 * An empty path and one too long are named as coming from --socket, as
 * --check-config names them: the file's own are refused at their line.
 */
static void
bad_socket_paths_refused(void **state)
{
	char path[150], want[256];

	(void)state;
	socket_refused("", "poolmgrd: --socket: the socket path is empty");
	/* 108 bytes: one past what sun_path holds with its terminator. */
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	snprintf(want, sizeof(want), "poolmgrd: --socket: socket path too long "
		 "(108 bytes, at most 107): %s\n", path);
	socket_refused(path, want);
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

/*
 * --check-config beside a live daemon on the same socket (a start there
 * would be refused): a good file is ok (0), a broken one is named with
 * its line and problem (1), so is an empty socket path (at its line, as a
 * start and a reload refuse it); without --config
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
	snprintf(want, sizeof(want), "poolmgrd: %s:3: the socket path is "
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

#define ADMIN_IS_SOCKETS "is the daemon's own group, the socket's: every " \
	"client that connects through it may create, destroy and set any " \
	"pool; name a group of admins only"

/*
 * admin_group = the daemon's own group, which the socket it binds has
 * (and the shipped units give both poolmgr), makes every client that
 * reaches the socket through that group an admin: said with the line at
 * start, at each reload and by --check-config, and the file still loads.
 * Another group says nothing.  Nor does a file with more sizes written
 * "1MB" than are said one by one hide it in their count ("N more
 * warnings like these"), which it is none of.
 */
static void
admin_group_of_the_socket_warned(void **state)
{
	gid_t own = getegid(), other = own == 65534 ? 65533 : 65534;
	struct daemon_proc d;
	char conf[512], out[4096], want[1024];
	struct stat st;
	size_t at;
	int i;

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

	/* Eight sizes of "1MB": seven said, the eighth counted. */
	at = (size_t)snprintf(conf, sizeof(conf), "admin_group = %u\n",
			      (unsigned)own);
	for (i = 0; i < 8; i++)
		at += (size_t)snprintf(conf + at, sizeof(conf) - at,
				       "[pool p%d]\nsize = 1MB\n", i);
	write_config(&d, conf);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: 1 more warning like "
		 "these\npoolmgrd: %s:3: admin_group %u " ADMIN_IS_SOCKETS
		 "\npoolmgrd: %s: ok, 8 pools\n", d.conf, d.conf,
		 (unsigned)own, d.conf);
	if (!strstr(out, want))
		fail_msg("--check-config said:\n%s\nnot, at its end:\n%s", out,
			 want);
	harness_reload(&d);
	snprintf(want, sizeof(want), "%s:3: admin_group %u " ADMIN_IS_SOCKETS,
		 d.conf, (unsigned)own);
	assert_int_equal(harness_log_count(&d, want), 3);
	assert_int_equal(harness_log_count(&d, "1 more warning like these"),
			 1);
	harness_stop(&d);
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
		cmocka_unit_test(check_config_option),
		cmocka_unit_test(command_line_errors_say_what),
		cmocka_unit_test(admin_group_of_the_socket_warned),
	};

	return cmocka_run_group_tests_name("poolmgrd config and signals", tests,
					   NULL, NULL);
}
