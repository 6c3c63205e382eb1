/*
 * itest_restart_edges.c - what a restart in place or a crash recovery
 * must keep that clients and operators see only at the edges, and the
 * share map's -ENODEV.
 *
 *   hello_deadline_kept        hello_timeout = 4: a connection silent for
 *       3 s before SIGUSR2 is dropped about 1 s after the restart, not a
 *       whole new timeout later.
 *   clients_order_kept         handles opened by several connections,
 *       interleaved over two pools: ListClients (pool_clients, and so
 *       `poolctl clients`) answers in the same order after the restart.
 *   crash_keeps_socket_moved   a daemon that bound the configuration's
 *       socket (no --socket) crashes after the file moved the socket and
 *       the journal was compacted: the recovery serves at the old path,
 *       with its mode.
 *   crash_keeps_socket_broken  the same with a file that no longer loads.
 *   share_map_enodev           a pool whose share map could not be made
 *       (its memfd refused, fail_memfd.so): ShareMap is -ENODEV with
 *       nothing changed, the handle and the daemon serve on, and the
 *       library's handle works without the map.
 *   usr2_as_soon_as_it_answers  SIGUSR2 sent the moment the socket takes
 *       a connection, while the daemon still makes its 200 configured
 *       pools: held until the daemon catches it, then a restart in place,
 *       every pool kept; never the default action's death.
 *   binary_replaced_while_starting  the daemon's binary replaced by
 *       another copy while the daemon reads its configuration (a FIFO),
 *       before its socket listens: SIGUSR2 then restarts it in place
 *       from the copy; never "(deleted)", "going on as before".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_restart.h"
#include "harness_store.h"
#include "poolmgr.pb-c.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what is there until the daemon hangs up: false if it does not. */
static bool
hung_up(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[4096];

	while (poll(&pfd, 1, ms) == 1)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			return true;
	return false;
}

/*
 * The deadline is 4 s after the connect; the restart comes at 3 s.  It
 * must be dropped within 2.5 s of the restart's end (at 4 s, or at once
 * if the restart took longer): a new timeout would keep it 4 s more.
 */
static void
hello_deadline_kept(void **state)
{
	long long t0, t1;
	int silent, greeted;
	uint32_t h;

	(void)state;
	rfx_start("hello_timeout = 4\n[pool p]\nsize = 8M\n", "p");
	silent = harness_raw_connect(rfx.d.sock);
	assert_true(silent >= 0);
	t0 = now_ms();
	harness_sleep_ms(3000);
	greeted = harness_raw_client(rfx.d.sock, "greeted");
	rfx_restart();
	t1 = now_ms();
	if (!hung_up(silent, 2500)) {
		close(silent);
		close(greeted);
		fail_msg("a connection silent since %lld ms before the restart "
			 "is still there 2.5 s after it (hello_timeout 4 s)",
			 t1 - t0);
	}
	printf("dropped %lld ms after its connect, %lld ms after the "
	       "restart\n", now_ms() - t0, now_ms() - t1);
	close(silent);
	/* One that connected later and greeted is not touched. */
	EXPECT_RAW(harness_raw_open(greeted, "p", &h), 0);
	EXPECT_RAW(harness_raw_close(greeted, h), 0);
	close(greeted);
	rfx_check("p");
}

#define ORDER_CONNS 4

/* What ListClients says, in its order, one line per handle. */
static void
clients_now(char *out, size_t len)
{
	struct pool_client_info *ci = NULL;
	size_t n = 0, total = 0, i, at = 0;

	assert_int_equal(pool_clients_total(rfx.conn, NULL, &ci, &n, &total),
			 0);
	assert_int_equal(n, total);
	out[0] = '\0';
	for (i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s %s %u %u %s "
				       "%llu\n", ci[i].pool, ci[i].name,
				       ci[i].pid, ci[i].handle,
				       ci[i].read_only ? "ro" : "rw",
				       (unsigned long long)ci[i].blocks);
	assert_true(at < len);
	free(ci);
}

/*
 * Four connections of this process (one pid, so `poolctl clients` sorts
 * them by handle id only, and keeps the daemon's order among equal ids)
 * open handles in turn on two pools, a few with a block each.
 */
static void
clients_order_kept(void **state)
{
	static const int order[] = {0, 1, 0, 2, 3, 1, 2, 0, 3, 3};
	char before[8192], after[8192], name[16];
	char ctl0[8192], ctl1[8192], err[1024];
	int fd[ORDER_CONNS], i;
	uint64_t off;
	uint32_t h;

	(void)state;
	rfx_start("[pool p]\nsize = 8M\n[pool q]\nsize = 8M\n", "p");
	for (i = 0; i < ORDER_CONNS; i++) {
		snprintf(name, sizeof(name), "conn%d", i);
		fd[i] = harness_raw_client(rfx.d.sock, name);
	}
	for (i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++) {
		EXPECT_RAW(harness_raw_open(fd[order[i]], i % 3 ? "p" : "q",
					    &h), 0);
		if (i % 2)
			EXPECT_RAW(harness_raw_alloc(fd[order[i]], h, 64, &off,
						     NULL), 0);
	}
	clients_now(before, sizeof(before));
	assert_int_equal(harness_poolctl(&rfx.d, NULL, ctl0, sizeof(ctl0),
					 err, sizeof(err), "clients"), 0);
	rfx_restart();
	clients_now(after, sizeof(after));
	assert_int_equal(harness_poolctl(&rfx.d, NULL, ctl1, sizeof(ctl1),
					 err, sizeof(err), "clients"), 0);
	if (strcmp(ctl0, ctl1) != 0)
		fail_msg("poolctl clients before the restart:\n%safter:\n%s",
			 ctl0, ctl1);
	if (strcmp(before, after) != 0)
		fail_msg("ListClients before the restart:\n%safter:\n%s",
			 before, after);
	for (i = 0; i < ORDER_CONNS; i++)
		close(fd[i]);
	rfx_check("p");
	rfx_check("q");
}

/* The store's daemon, bound at the configuration's socket. */
static void
store_write_conf(struct harness_store *st, const char *text)
{
	FILE *f = fopen(st->conf, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A pool with a persistent block at the socket; its offset. */
static pool_off_t
persist_at(const char *sock)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	assert_int_equal(pool_connect(sock, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_alloc(p, 4096, &off), 0);
	memset(pool_ptr(p, off), 0x5a, 4096);
	assert_int_equal(pool_persist(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	return off;
}

/*
 * Blocks persisted and freed until the journal has been compacted (in
 * steps, between requests): the new journal must still say the socket.
 */
static void
compacted(struct harness_store *st)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t x;
	unsigned i;

	assert_int_equal(pool_connect(st->sock, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	for (i = 0; i < 12000; i++) {
		assert_int_equal(pool_alloc(p, 64, &x), 0);
		assert_int_equal(pool_persist(p, x), 0);
		assert_int_equal(pool_free(p, x), 0);	/* the reference */
		assert_int_equal(pool_free(p, x), 0);	/* the block */
		if (i % 1000 == 999)
			harness_store_drain(st);
	}
	pool_close(p);
	pool_disconnect(c);
	harness_store_drain(st);
	assert_true(harness_store_logged(st, "compacted into journal."));
	assert_false(harness_store_logged(st, "cannot be compacted in steps"));
}

/* The block is back, its bytes too, at the socket. */
static void
persisted_back(struct harness_store *st, pool_off_t off)
{
	struct pool_stats ps;
	struct pool_conn *c;
	struct pool *p;
	const uint8_t *b;
	int i, rc;

	if ((rc = pool_connect(st->sock, &c)) != 0) {
		harness_store_close(st);
		fail_msg("no daemon at the socket after the crash: %s",
			 strerror(-rc));
	}
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_stats(p, &ps), 0);
	assert_int_equal(ps.persistent_blocks, 1);
	b = pool_ptr(p, off);
	for (i = 0; i < 4096; i++)
		assert_int_equal(b[i], 0x5a);
	pool_close(p);
	pool_disconnect(c);
}

static void
socket_mode_is(const char *sock, unsigned mode)
{
	struct stat sb;

	assert_int_equal(lstat(sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	if ((sb.st_mode & 0777) != mode)
		fail_msg("%s has mode %o, not %o", sock, sb.st_mode & 0777,
			 mode);
}

/*
 * Start at the file's socket (mode 0606), persist a block, have the file
 * say after what a crash finds, crash, start with what the store holds.
 */
static void
crash_with_file(const char *after, const char *logged, bool compact)
{
	struct harness_store st;
	char conf[512], moved[96];
	pool_off_t off;

	assert_int_equal(harness_store_open(&st, ""), 0);
	st.own_socket = true;
	snprintf(conf, sizeof(conf), "[daemon]\nsocket = %s\nsocket_mode = "
		 "0606\n[pool p]\nsize = 4M\n", st.sock);
	store_write_conf(&st, conf);
	if (harness_store_start(&st) != 0) {
		harness_store_close(&st);
		fail_msg("no start");
	}
	socket_mode_is(st.sock, 0606);
	off = persist_at(st.sock);
	if (compact)
		compacted(&st);
	snprintf(moved, sizeof(moved), "%s/moved.sock", st.dir);
	snprintf(conf, sizeof(conf), after, moved);
	store_write_conf(&st, conf);
	assert_int_equal(harness_store_crash(&st), 0);
	if (harness_store_start(&st) != 0) {
		harness_store_close(&st);
		fail_msg("no start after the crash");
	}
	assert_true(harness_store_logged(&st, "after a crash: 1 pool and 1 "
					 "persistent block recovered"));
	persisted_back(&st, off);
	socket_mode_is(st.sock, 0606);
	assert_int_equal(access(moved, F_OK), -1);
	assert_true(harness_store_logged(&st, logged));
	harness_store_close(&st);
}

/*
 * The file moved the socket: that waits for a fresh start.  The journal
 * the crash finds is a compaction's.
 */
static void
crash_keeps_socket_moved(void **state)
{
	(void)state;
	crash_with_file("[daemon]\nsocket = %s\nsocket_mode = 0660\n"
			"[pool p]\nsize = 4M\n", "waits for a fresh start",
			true);
}

/* The file no longer loads: the recovery needs nothing of it. */
static void
crash_keeps_socket_broken(void **state)
{
	(void)state;
	crash_with_file("[daemon]\nsocket = %s\nbogus = 1\n",
			"kept the restored settings", false);
}

static struct daemon_proc enodev_d;

static int
enodev_teardown(void **state)
{
	(void)state;
	assert_int_equal(harness_finish(&enodev_d), 0);
	return 0;
}

/* The daemon, its memfd for pool nomap's share map refused. */
static void
start_without_map(void)
{
	char *saved = harness_preload("fail_memfd.so");
	int rc;

	setenv("POOLMGR_FAIL_MEMFD", "poolmgr:nomap:shared", 1);
	rc = harness_start(&enodev_d, "[pool nomap]\nsize = 4M\n"
			   "[pool p]\nsize = 4M\n");
	unsetenv("POOLMGR_FAIL_MEMFD");
	harness_preload_off(saved);
	assert_int_equal(rc, 0);
}

/* ShareMap on handle h, answered with error want: its reply. */
static Poolmgr__Reply *
share_map(int fd, uint32_t h, int want)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__ShareMap m = POOLMGR__SHARE_MAP__INIT;

	m.handle = h;
	req.body_case = POOLMGR__REQUEST__BODY_SHARE_MAP;
	req.share_map = &m;
	return harness_raw_expect(fd, &req, want);
}

static void
share_map_enodev(void **state)
{
	Poolmgr__Reply *rep;
	struct pool_stats ps0, ps1;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint64_t x;
	uint32_t h, hp;
	int fd, i;

	(void)state;
	start_without_map();
	assert_int_equal(harness_log_wait(&enodev_d, "pool nomap: no share "
					  "map (Operation not permitted)", 0,
					  5000), 0);
	assert_int_equal(harness_log_count(&enodev_d, "pool nomap: no share "
					   "map (Operation not permitted)"), 1);
	fd = harness_raw_client(enodev_d.sock, "nomap");
	h = harness_raw_handle(fd, "nomap");
	hp = harness_raw_handle(fd, "p");
	assert_int_equal(pool_connect(enodev_d.sock, &c), 0);
	assert_int_equal(pool_open(c, "nomap", &p), 0);
	assert_int_equal(pool_stats(p, &ps0), 0);

	/* Asked twice: the same answer, nothing noted in between. */
	for (i = 0; i < 2; i++) {
		rep = share_map(fd, h, -ENODEV);
		assert_string_equal(rep->message,
				    "pool nomap has no share map");
		poolmgr__reply__free_unpacked(rep, NULL);
	}
	/* The pool with a map answers; nomap's handle serves on. */
	rep = share_map(fd, hp, 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_SHARE_MAP);
	assert_true(rep->share_map->share_map_size > 0);
	poolmgr__reply__free_unpacked(rep, NULL);
	EXPECT_RAW(harness_raw_alloc(fd, h, 100, &x, NULL), 0);
	EXPECT_RAW(harness_raw_free(fd, h, x), 0);
	assert_int_equal(pool_stats(p, &ps1), 0);
	assert_int_equal(ps1.live_blocks, ps0.live_blocks);
	assert_int_equal(ps1.allocs, ps0.allocs + 1);

	/* The library's handle: no map, so no cache, every call answered. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(pool_alloc(p, 64, &off), 0);
		assert_int_equal(pool_free(p, off), 0);
	}
	assert_int_equal(pool_stats(p, &ps1), 0);
	assert_int_equal(ps1.live_blocks, ps0.live_blocks);
	assert_int_equal(ps1.allocs, ps0.allocs + 101);
	assert_int_equal(ps1.frees, ps0.frees + 101);
	assert_int_equal(ps1.client_cached_bytes, 0);
	pool_close(p);
	pool_disconnect(c);
	EXPECT_RAW(harness_raw_close(fd, h), 0);
	EXPECT_RAW(harness_raw_close(fd, hp), 0);
	close(fd);
}

/*
 * The socket takes connections from listen() on, before the daemon has
 * made its pools and caught SIGUSR2: a SIGUSR2 sent then must wait, not
 * kill it (with its socket left behind).  The daemon is started without
 * the harness's wait, its socket tried in a tight loop, and the signal
 * sent the moment a connect succeeds, while its 200 configured pools are
 * still being made.
 */
#define EARLY_POOLS 200
#define EARLY_ROUNDS 5

/* The moment path takes a connection: true, or false after 10 s. */
static bool
connect_at_once(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	long long until = now_ms() + 10000;
	int fd, ok;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	do {
		if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
				 0)) < 0)
			return false;
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		close(fd);
		if (ok)
			return true;
	} while (now_ms() < until);
	return false;
}

static void
usr2_as_soon_as_it_answers(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats *list;
	size_t n, len = 0;
	char *conf;
	int i, status;

	(void)state;
	conf = malloc(EARLY_POOLS * 32);
	assert_non_null(conf);
	for (i = 0; i < EARLY_POOLS; i++)
		len += (size_t)snprintf(conf + len, EARLY_POOLS * 32 - len,
					"[pool e%d]\nsize = 64K\n", i);
	assert_int_equal(harness_start(&d, conf), 0);
	for (i = 0; i < EARLY_ROUNDS; i++) {
		/* Stopped, its socket gone; started again, unwaited. */
		assert_int_equal(kill(d.pid, SIGTERM), 0);
		assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_true((d.pid = harness_exec_daemon(&d, d.log)) > 0);
		assert_true(connect_at_once(d.sock));
		assert_int_equal(kill(d.pid, SIGUSR2), 0);
		if (harness_log_wait(&d, HARNESS_RESTARTED, 0,
				     HARNESS_RESTART_WAIT_MS) != 0)
			fail_msg("round %d: SIGUSR2 as the socket first "
				 "answered: no restart in place", i);
		assert_int_equal(pool_connect(d.sock, &c), 0);
		assert_int_equal(pool_list(c, &list, &n), 0);
		assert_int_equal(n, EARLY_POOLS);
		free(list);
		pool_disconnect(c);
	}
	assert_int_equal(harness_stop(&d), 0);
	free(conf);
}

/*
 * The daemon's binary is replaced by an upgrade, or a test, as soon as
 * the daemon runs: once it is, /proc/self/exe names the old file,
 * deleted, and a restart in place would execute nothing.  The daemon
 * reads it first thing.  Here its configuration is a FIFO, which holds
 * it at its start, after main began and before its socket listens; the
 * binary is replaced then, and a SIGUSR2 must restart the daemon from
 * the new copy.  (When restart_setup read it, after the configuration,
 * the daemon named "poolmgrd (deleted)" and went on as before.)
 */
static void
binary_replaced_while_starting(void **state)
{
	char dir[64], bin[128], fresh[160], cmd[512], conf[4096], tmp[192];
	struct daemon_proc d;
	struct pool_conn *c;
	int fd, i, status;
	FILE *f;

	(void)state;
	harness_copy_binary(dir, sizeof(dir), bin, sizeof(bin));
	assert_int_equal(harness_start_from(&d, bin, "[pool r]\nsize = 1M\n"),
			 0);
	assert_int_equal(kill(d.pid, SIGTERM), 0);
	assert_int_equal(waitpid(d.pid, &status, 0), d.pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	harness_read_text(d.conf, conf, sizeof(conf));
	assert_int_equal(unlink(d.conf), 0);
	assert_int_equal(mkfifo(d.conf, 0600), 0);
	fflush(stdout);
	fflush(stderr);
	assert_true((d.pid = fork()) >= 0);
	if (d.pid == 0) {
		fd = open(d.log, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd >= 0)
			dup2(fd, 2);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(bin, "poolmgrd", "--verbose", "--socket", d.sock,
		      "--config", d.conf, (char *)NULL);
		_exit(127);
	}
	/* Open once the daemon opens it: main has begun. */
	assert_true((fd = open(d.conf, O_WRONLY | O_CLOEXEC)) >= 0);
	snprintf(fresh, sizeof(fresh), "%s.new", bin);
	snprintf(cmd, sizeof(cmd), "cp %s/poolmgrd %s", harness_build(),
		 fresh);
	assert_int_equal(harness_run(cmd, NULL, 0), 0);
	assert_int_equal(rename(fresh, bin), 0);
	/* The new image reads a file; the daemon has the FIFO open. */
	snprintf(tmp, sizeof(tmp), "%s.file", d.conf);
	assert_non_null(f = fopen(tmp, "w"));
	assert_int_equal(fputs(conf, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, d.conf), 0);
	assert_int_equal(harness_write_full(fd, conf, strlen(conf)), 0);
	close(fd);
	for (i = 0; i < 1000 && pool_connect(d.sock, &c) != 0; i++)
		harness_sleep_ms(10);
	assert_true(i < 1000);
	pool_disconnect(c);
	if (harness_restart_in_place(&d) != 0)
		fail_msg("no restart in place from the replaced binary (%d "
			 "lines saying it was deleted)",
			 harness_log_count(&d, "(deleted)"));
	assert_int_equal(harness_log_count(&d, "(deleted)"), 0);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	harness_remove_binary(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(hello_deadline_kept, rfx_teardown),
		cmocka_unit_test_teardown(clients_order_kept, rfx_teardown),
		cmocka_unit_test(crash_keeps_socket_moved),
		cmocka_unit_test(crash_keeps_socket_broken),
		cmocka_unit_test_teardown(share_map_enodev, enodev_teardown),
		cmocka_unit_test(usr2_as_soon_as_it_answers),
		cmocka_unit_test(binary_replaced_while_starting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
