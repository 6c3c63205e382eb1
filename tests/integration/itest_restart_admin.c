/*
 * itest_restart_admin.c - a restart in place (SIGUSR2) as operators see
 * it: a binary that cannot be executed, a pool made by poolctl and
 * settings changed in the file, a broken file, a stop after the restart,
 * and systemd's socket activation and notifications.  The fixture and
 * client processes: harness_restart.c; what a restart keeps:
 * itest_restart.c.
 *
 *   exec_failure_keeps_serving        the daemon's binary deleted before
 *       SIGUSR2: it logs the failure and goes on with nothing changed, not
 *       a descriptor more or less; a new binary put there, the next
 *       SIGUSR2 executes it.
 *   failure_seen_on_a_long_log        the same failure with more than
 *       256 KiB of log before SIGUSR2: rfx_restart_or_not finds it in
 *       the lines past its mark and says the restart failed.
 *   poolctl_pool_and_settings         a pool made by poolctl keeps size,
 *       granularity, mode, quota and blocks; a quota and mode set in the
 *       file before SIGUSR2, and a pool added there, apply at the restart
 *       (a new size and granularity do not, as on a reload); a forced
 *       destroy after it closes the pool's handles.
 *   restart_then_stop                 SIGTERM after a restart: exit 0, no
 *       leak report, the socket file removed.
 *   under_systemd                     socket-activated with a
 *       NOTIFY_SOCKET: RELOADING=1 then READY=1 from the daemon's pid at
 *       each of two restarts; the stop leaves the passed socket alone.
 *   bad_config_at_restart             a file broken before SIGUSR2 keeps
 *       the running configuration, as a reload does, and loses nothing
 *       (the daemon may restart or refuse to); once mended, the next
 *       SIGUSR2 restarts and applies it.
 *   socket_mode_waits                 socket_mode changed in the file
 *       before SIGUSR2: the restart applies the rest of the file but
 *       keeps the socket's mode, and says so as a reload does; a restart
 *       with the file and the socket alike says nothing of it.
 *
 * A daemon without SIGUSR2 handling dies of it: each test then fails at
 * once, saying so, and its client processes are killed.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "harness_restart.h"

static void
exec_failure_keeps_serving(void **state)
{
	static struct snap before, after;
	static char log[256 * 1024];
	char bin[128], cmd[512], exe[256];
	struct scene s;
	size_t at;
	ssize_t n;
	int i, fds;

	(void)state;
	harness_copy_binary(rfx.bindir, sizeof(rfx.bindir), bin, sizeof(bin));
	assert_int_equal(harness_start_from(&rfx.d, bin, "[pool p]\n"
					    "size = 64M\n"), 0);
	assert_int_equal(pool_connect(rfx.d.sock, &rfx.conn), 0);
	assert_int_equal(pool_open(rfx.conn, "p", &rfx.pool), 0);
	assert_int_equal(pool_set_cache(rfx.pool, 0), 0);
	scene_start(&s);
	snap_take(&before);
	fds = rfx_daemon_fds();

	/* An upgrade gone wrong: the binary it was started from is gone. */
	assert_int_equal(unlink(bin), 0);
	harness_read_text(rfx.d.log, log, sizeof(log));
	at = strlen(log);
	assert_int_equal(kill(rfx.d.pid, SIGUSR2), 0);
	for (i = 0; i < 2000 && harness_alive(&rfx.d); i++) {
		if (rfx_failure_logged(at))
			break;
		harness_sleep_ms(5);
	}
	harness_read_text(rfx.d.log, log, sizeof(log));
	printf("the log after SIGUSR2:\n%s",
	       log + (strlen(log) >= at ? at : 0));
	if (!harness_alive(&rfx.d)) {
		rfx.d.pid = 0;
		fail_msg("poolmgrd died of SIGUSR2 when it could not restart");
	}
	if (strstr(log + at, HARNESS_RESTARTED))
		fail_msg("restarted from a deleted binary: not from the path "
			 "it was started from");
	if (i == 2000)
		fail_msg("no failed restart logged within 10 s of SIGUSR2");

	snap_take(&after);
	snap_same(&before, &after);
	assert_int_equal(rfx_daemon_fds(), fds);
	scene_carry_on(&s);
	callocs_read_zero();

	/* The new binary in its place: the next SIGUSR2 executes it. */
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(), bin);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	snap_take(&before);
	rfx_restart();
	snap_take(&after);
	snap_same(&before, &after);
	snprintf(cmd, sizeof(cmd), "/proc/%d/exe", (int)rfx.d.pid);
	n = readlink(cmd, exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	printf("it runs %s\n", exe);
	assert_string_equal(exe, bin);
	book_verify("after the restart from the new binary");
	remote_exit(s.A);
	remote_exit(s.B);
	assert_int_equal(rfx_stats().live_blocks, 2);
}

static void
poolctl_pool_and_settings(void **state)
{
	static struct snap before, after;
	char out[4096], err[1024];
	struct pool_stats sq, sp, sr;
	uint64_t q1, q2, p1;
	struct remote *Q, *P;
	struct ans a;

	(void)state;
	rfx_start("[pool p]\nsize = 16M\n", "p");
	assert_int_equal(harness_poolctl(&rfx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "create q --size 8M "
					 "--granularity 64 --mode 0640 "
					 "--quota 1M --retain 0"), 0);
	Q = remote_start(0, "q", -1);
	P = remote_start(1, "p", -1);
	q1 = REMOTE_OK(Q, OP_ALLOC, 0, 300, 11).off;
	q2 = REMOTE_OK(Q, OP_ALLOC, 0, 200 * KiB, 12).off;
	REMOTE_OK(Q, OP_PERSIST, q1, 0, 0);
	p1 = remote_block(P, OP_ALLOC, 1 * MiB);
	snap_take(&before);
	assert_int_equal(pool_stats_by_name(rfx.conn, "q", &sq), 0);

	/* The file changes, then SIGUSR2 (no SIGHUP): applied as a reload. */
	rfx_write_conf("[pool p]\nsize = 32M\ngranularity = 64\nquota = 2M\n"
		   "mode = 0644\n[pool r]\nsize = 4M\n");
	rfx_restart();
	snap_take(&after);
	snap_same_text("poolctl clients", before.clients, after.clients);
	snap_same_text("poolctl persisted", before.persisted, after.persisted);

	assert_int_equal(pool_stats_by_name(rfx.conn, "q", &sr), 0);
	assert_int_equal(sr.max_size, sq.max_size);
	assert_int_equal(sr.granularity, sq.granularity);
	assert_int_equal(sr.mode, sq.mode);
	assert_int_equal(sr.uid, sq.uid);
	assert_int_equal(sr.gid, sq.gid);
	assert_int_equal(sr.quota, sq.quota);
	assert_int_equal(sr.retain_bytes, sq.retain_bytes);
	assert_int_equal(sr.allocated_bytes, sq.allocated_bytes);
	assert_int_equal(sr.persistent_blocks, 1);
	REMOTE_OK(Q, OP_VERIFY, q1, 300, 11);
	REMOTE_OK(Q, OP_VERIFY, q2, 200 * KiB, 12);
	/* Its quota still holds: 200 KiB held, 1 MiB more is too much. */
	a = remote_ask(Q, OP_ALLOC, 0, 1 * MiB, 0);
	assert_int_equal(a.rc, -EDQUOT);
	REMOTE_OK(Q, OP_FREE, q2, 0, 0);

	/* As a reload: the settings, but not the size nor granularity. */
	sp = rfx_stats();
	assert_int_equal(sp.quota, 2 * MiB);
	assert_int_equal(sp.mode, 0644);
	assert_int_equal(sp.max_size, 16 * MiB);
	assert_int_equal(sp.granularity, 16);
	remote_verify(P, p1);
	a = remote_ask(P, OP_ALLOC, 0, 3 * MiB, 0);
	assert_int_equal(a.rc, -EDQUOT);
	remote_block(P, OP_ALLOC, 512 * KiB);
	assert_int_equal(pool_stats_by_name(rfx.conn, "r", &sr), 0);
	assert_int_equal(sr.max_size, 4 * MiB);
	book_verify("after the restart");
	rfx_check("p");
	rfx_check("q");
	rfx_check("r");

	/* The pool's books know its handles: a forced destroy closes them. */
	assert_int_equal(harness_poolctl(&rfx.d, NULL, out, sizeof(out), err,
					 sizeof(err), "destroy q --force"), 0);
	assert_int_equal(remote_ask(Q, OP_ALLOC, 0, 100, 0).rc, -EBADF);
	EXPECT_RC(pool_stats_by_name(rfx.conn, "q", &sq), -ENOENT);
	rfx_check("p");
}

/*
 * A configuration file broken before SIGUSR2 (an edit half done): the
 * daemon keeps the running configuration, as a reload does, and loses
 * nothing, whether it restarts or refuses to; once the file is mended,
 * the next SIGUSR2 restarts it and applies the file.
 */
#define LONG_LOG	(320 * 1024)	/* past what a reader once read */

/*
 * The log read from the mark on, however long: past 256 KiB, lines after
 * the mark were never read (the whole log was, into a buffer that size),
 * and a failed restart went unseen until the wait for one ran out.
 */
static void
failure_seen_on_a_long_log(void **state)
{
	char bin[128];

	(void)state;
	harness_copy_binary(rfx.bindir, sizeof(rfx.bindir), bin, sizeof(bin));
	assert_int_equal(harness_start_from(&rfx.d, bin, "[pool p]\n"
					    "size = 64M\n"), 0);
	harness_log_grow(&rfx.d, LONG_LOG);
	assert_int_equal(unlink(bin), 0);
	if (rfx_restart_or_not())
		fail_msg("restarted from a deleted binary");
	assert_true(harness_alive(&rfx.d));
}

static void
bad_config_at_restart(void **state)
{
	static struct snap before, after;
	struct scene s;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\nmode = 0640\n", "p");
	scene_start(&s);
	snap_take(&before);
	rfx_write_conf("[pool p]\nsize = 64M\nmode = 0600\n"
		   "this line is no setting\n");
	printf("with the broken file: %s\n", rfx_restart_or_not() ?
	       "restarted" : "did not restart");
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	rfx_write_conf("[pool p]\nsize = 64M\nmode = 0600\n");
	rfx_restart();
	assert_int_equal(rfx_stats().mode, 0600);
	book_verify("after the restart with the file mended");
	rfx_check("p");
}

/*
 * The socket is handed over, its path and mode with it: socket_mode
 * changed in the file waits for a start with nothing to restore, as at a
 * reload, and the warning a reload gives says so, for an operator who
 * restarted to apply the file.
 */
static void
socket_mode_waits(void **state)
{
	const char *kept = "daemon: socket_mode 0666 -> 0640 in the file, "
			   "not applied: the socket and its mode change only "
			   "at a start with nothing to restore\n";
	struct stat sb;
	FILE *f;

	(void)state;
	rfx_start("[pool p]\nsize = 16M\n", "p");
	assert_non_null(f = fopen(rfx.d.conf, "w"));
	fprintf(f, "[daemon]\nsocket_mode = 0640\n[pool p]\nsize = 16M\n"
		"mode = 0644\n");
	fclose(f);
	rfx_restart();
	assert_int_equal(rfx_stats().mode, 0644);
	assert_int_equal(stat(rfx.d.sock, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0666);
	harness_expect_logged(&rfx.d, kept);

	/* The file as the socket is: nothing to say. */
	rfx_write_conf("[pool p]\nsize = 16M\nmode = 0644\n");
	rfx_restart();
	assert_int_equal(harness_log_count(&rfx.d, kept), 1);
	assert_int_equal(harness_log_count(&rfx.d, "not applied"), 1);
	rfx_check("p");
}

static void
restart_then_stop(void **state)
{
	struct scene s;

	(void)state;
	rfx_start("[pool p]\nsize = 64M\n", "p");
	scene_start(&s);
	rfx_restart();
	book_verify("after the restart");
	rfx_stop_cleanly();
	if (access(rfx.d.sock, F_OK) == 0 || errno != ENOENT)
		fail_msg("the socket file is left behind");
}

/*
 * Notifications received on fd within ms until one has line want; the
 * message in buf.  Every one must come from pid.  0, or -1 if none did.
 */
static int
notified(int fd, pid_t pid, const char *want, int ms, char *buf,
	 size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct iovec iov = {.iov_base = buf, .iov_len = len - 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct ucred cred;
	struct cmsghdr *cm;
	ssize_t got;

	for (; poll(&pfd, 1, ms) == 1;) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		if ((got = recvmsg(fd, &msg, MSG_DONTWAIT)) < 0)
			return -1;
		buf[got] = '\0';
		memset(&cred, 0, sizeof(cred));
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
		printf("notified by %d: %s\n", (int)cred.pid, buf);
		if (cred.pid != pid)
			fail_msg("a notification from pid %d, not the "
				 "daemon's %d", (int)cred.pid, (int)pid);
		if (strstr(buf, want))
			return 0;
	}
	return -1;
}

/*
 * Socket-activated with a NOTIFY_SOCKET, as under systemd: a restart says
 * RELOADING=1 and then READY=1, keeps serving on the socket it was
 * passed, and the stop after it leaves that socket alone.
 */
static void
under_systemd(void **state)
{
	static struct snap before, after;
	char msg[1024], fallback[200];
	struct scene s;
	int nfd = -1;

	(void)state;
	assert_int_equal(harness_start_activated(&rfx.d, "[pool p]\n"
						 "size = 64M\n", &nfd), 0);
	assert_int_equal(pool_connect(rfx.d.sock, &rfx.conn), 0);
	assert_int_equal(pool_open(rfx.conn, "p", &rfx.pool), 0);
	assert_int_equal(pool_set_cache(rfx.pool, 0), 0);
	if (notified(nfd, rfx.d.pid, "READY=1", 5000, msg, sizeof(msg))) {
		close(nfd);
		fail_msg("no READY=1 at start");
	}
	scene_start(&s);
	snap_take(&before);
	for (int i = 0; i < 2; i++) {
		rfx_restart();
		if (notified(nfd, rfx.d.pid, "RELOADING=1", 5000, msg,
			     sizeof(msg)) ||
		    notified(nfd, rfx.d.pid, "READY=1", 5000, msg,
			     sizeof(msg))) {
			close(nfd);
			fail_msg("restart %d: no RELOADING=1 then READY=1",
				 i + 1);
		}
	}
	close(nfd);
	snap_take(&after);
	snap_same(&before, &after);
	scene_carry_on(&s);
	rfx_stop_cleanly();
	snprintf(fallback, sizeof(fallback), "%s/fallback.sock", rfx.d.dir);
	if (access(fallback, F_OK) == 0)
		fail_msg("the daemon made a socket of its own");
	if (access(rfx.d.sock, F_OK) != 0)
		fail_msg("the daemon removed the socket it was passed");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(exec_failure_keeps_serving,
					  rfx_teardown),
		cmocka_unit_test_teardown(failure_seen_on_a_long_log,
					  rfx_teardown),
		cmocka_unit_test_teardown(poolctl_pool_and_settings,
					  rfx_teardown),
		cmocka_unit_test_teardown(restart_then_stop, rfx_teardown),
		cmocka_unit_test_teardown(under_systemd, rfx_teardown),
		cmocka_unit_test_teardown(bad_config_at_restart, rfx_teardown),
		cmocka_unit_test_teardown(socket_mode_waits, rfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
