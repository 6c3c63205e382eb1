/*
 * itest_status.c - the daemon's own statistics (DaemonStats,
 * pool_daemon_stats, `poolctl status`), with the real daemon.
 *
 * Every count is checked against the events the test makes, exactly:
 *
 *   connections: 3 clients more are 3 more open and 3 more accepted; one
 *       over max_connections_per_uid is refused (-EUSERS) and counted
 *       both accepted and refused.
 *   a datagram that does not decode is one bad message (its connection
 *       accepted and closed); a connection that says no Hello within
 *       hello_timeout is one Hello timeout.
 *   a request refused (an open of a missing pool) is one request
 *       answered and one refused; each DaemonStats counts the requests
 *       answered before it.
 *   a Lookup waiting for a name is one request held, none once the name
 *   is published; so is a Stats waiting for its pool to settle, and an
 *   allocation waiting for room, until a free makes it.
 *   pools, live blocks and allocated bytes are the sums of every pool's
 *       statistics, and a user who may read one pool of two sees that
 *       one's only; uptime grows; the resident memory is what
 *       /proc/PID/statm says around the request.
 *   a SIGHUP resets nothing; a restart in place is one restart more, with
 *       the same start and every total kept; so is a stop and a start
 *       through systemd's fd store; a crash, recovered from the journal,
 *       starts the counts afresh (restarts 0, a later start).
 *   100 connections sending garbage, at the log's 10 lines a window, leave
 *       90 lines out, and are 100 bad messages.
 *   poolctl status as text, JSON, kv and Prometheus, and its usage errors.
 *   the connection limits in force (admin_connections,
 *       max_connections_per_uid) in each, a reload's new ones too.
 *
 * Before DaemonStats existed the first call already failed: the daemon
 * answered the unknown request -EOPNOTSUPP.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define POOL_A		"stat_a"
#define POOL_B		"stat_b"
#define PER_UID		4
#define MAX_CONNS	64
#define CONF								\
	"max_connections = 64\nmax_connections_per_uid = 4\n"		\
	"hello_timeout = 1\n"						\
	"[pool " POOL_A "]\nsize = 4M\n[pool " POOL_B "]\nsize = 2M\n"	\
	"mode = 0644\n"
#define NOBODY		65534
#define WAIT_MS		20000	/* a wait for the daemon, not a timing */
#define FLOOD		100
#define LOG_BURST	10	/* daemon/log.h: lines per window */

static struct daemon_proc d;

static struct pool_daemon_stats
status_of(struct pool_conn *c)
{
	struct pool_daemon_stats ds;

	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	return ds;
}

/* Ask until the open connections are want: the daemon sees a hang-up on
 * its next turn, not before our request. */
static struct pool_daemon_stats
status_when_connections(struct pool_conn *c, uint64_t want)
{
	uint64_t t0 = harness_now_ms();
	struct pool_daemon_stats ds;

	for (;;) {
		ds = status_of(c);
		if (ds.connections == want)
			return ds;
		if (harness_now_ms() - t0 > WAIT_MS)
			fail_msg("connections stay %llu, not %llu",
				 (unsigned long long)ds.connections,
				 (unsigned long long)want);
		harness_sleep_ms(10);
	}
}

/* Wait until the daemon closes fd (what it sends first is read). */
static void
await_close(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[512];

	for (;;) {
		assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			return;
	}
}

/* A connection that sends a datagram that decodes as no Request. */
static void
send_garbage(const char *sock)
{
	uint8_t junk[64];
	int fd;

	memset(junk, 0xff, sizeof(junk));
	assert_true((fd = harness_raw_connect(sock)) >= 0);
	assert_int_equal(send(fd, junk, sizeof(junk), 0),
			 (ssize_t)sizeof(junk));
	await_close(fd);
	close(fd);
}

/* Resident bytes of process pid, as /proc/PID/statm says. */
static uint64_t
statm_rss(pid_t pid)
{
	unsigned long long size = 0, resident = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	assert_int_equal(fscanf(f, "%llu %llu", &size, &resident), 2);
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void
start(void **state)
{
	(void)state;
	assert_int_equal(harness_start(&d, CONF), 0);
}

static void
stop(void)
{
	assert_int_equal(harness_stop(&d), 0);
	harness_remove_dir(&d);
}

/*
 * As nobody, who may read POOL_B only: the sums are POOL_B's, passed in
 * arg as {live_blocks, allocated_bytes}, not POOL_A's too.
 */
static int
readable_sums(void *arg)
{
	const uint64_t *want = arg;
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	CHECK_RC(pool_connect(d.sock, &c), 0, 10);
	CHECK_RC(pool_daemon_stats(c, &ds), 0, 11);
	CHECK(ds.pools == 1, 12);
	CHECK(ds.live_blocks == want[0], 13);
	CHECK(ds.allocated_bytes == want[1], 14);
	pool_disconnect(c);
	return 0;
}

/* Who the daemon is, and what it has. */
static void
identity_and_memory(void **state)
{
	struct pool_daemon_stats ds, later;
	struct pool_stats *ps = NULL, bst;
	uint64_t before, after, blocks = 0, bytes = 0, now, bsums[2];
	struct pool_conn *c;
	struct pool *p, *pb;
	pool_off_t off[5], boff;
	size_t n, i;
	pid_t pid;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, POOL_A, &p), 0);
	for (i = 0; i < 5; i++)
		EXPECT_RC(pool_alloc(p, 1000 * (i + 1), &off[i]), 0);
	ds = status_of(c);
	now = (uint64_t)time(NULL);
	assert_int_equal(strncmp(ds.server, "poolmgrd ", 9), 0);
	assert_int_equal(ds.pid, d.pid);
	assert_int_equal(ds.uid, geteuid());
	assert_int_equal(ds.gid, getegid());
	assert_true(ds.started <= now && ds.started + 600 > now);
	assert_int_equal(ds.max_connections, MAX_CONNS);
	assert_int_equal(ds.restarts, 0);
	assert_true(ds.features & (1u << 3));
	assert_int_equal(ds.kept_connections, 0);
	assert_int_equal(ds.reserved32, 0);
	for (i = 0; i < 6; i++)
		assert_int_equal(ds.reserved[i], 0);

	/* The sums of every pool's own statistics. */
	EXPECT_RC(pool_list(c, &ps, &n), 0);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		blocks += ps[i].live_blocks;
		bytes += ps[i].allocated_bytes;
	}
	free(ps);
	assert_int_equal(ds.pools, 2);
	assert_true(blocks >= 5);
	assert_int_equal(ds.live_blocks, blocks);
	assert_int_equal(ds.allocated_bytes, bytes);

	/* A user who may read POOL_B only sees its sums, not POOL_A's. */
	EXPECT_RC(pool_open(c, POOL_B, &pb), 0);
	EXPECT_RC(pool_alloc(pb, 3000, &boff), 0);
	bst = harness_stats(pb);
	bsums[0] = bst.live_blocks;
	bsums[1] = bst.allocated_bytes;
	if ((pid = harness_spawn_as(NOBODY, NOBODY, readable_sums,
				    bsums)) < 0)
		printf("status: not root: cannot ask as nobody; skipped\n");
	else
		assert_int_equal(harness_wait(pid), 0);
	EXPECT_RC(pool_free(pb, boff), 0);
	pool_close(pb);

	/* Resident memory, as the kernel says it around the request. */
	before = statm_rss(d.pid);
	ds = status_of(c);
	after = statm_rss(d.pid);
	printf("status: rss %llu, statm %llu .. %llu\n",
	       (unsigned long long)ds.rss_bytes, (unsigned long long)before,
	       (unsigned long long)after);
	assert_true(ds.rss_bytes > 0);
	assert_true(ds.rss_bytes >= (before < after ? before : after) / 2);
	assert_true(ds.rss_bytes <= (before > after ? before : after) * 2);

	harness_sleep_ms(30);
	later = status_of(c);
	assert_true(later.uptime_ms > ds.uptime_ms);
	assert_int_equal(later.started, ds.started);

	for (i = 0; i < 5; i++)
		EXPECT_RC(pool_free(p, off[i]), 0);
	pool_close(p);
	pool_disconnect(c);
	stop();
}

/* Connections open, accepted, refused; bad messages; Hello timeouts. */
static void
connections(void **state)
{
	struct pool_daemon_stats s0, s1;
	struct pool_conn *c, *more[PER_UID], *over = NULL;
	int i, fd;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	s0 = status_when_connections(c, 1);
	for (i = 0; i < 3; i++)
		EXPECT_RC(pool_connect(d.sock, &more[i]), 0);
	s1 = status_of(c);
	assert_int_equal(s1.connections, 4);
	assert_int_equal(s1.connections_total, s0.connections_total + 3);
	assert_int_equal(s1.connections_refused, s0.connections_refused);
	/* Three Hellos and the first DaemonStats: none refused. */
	assert_int_equal(s1.requests_total, s0.requests_total + 4);
	assert_int_equal(s1.requests_refused, s0.requests_refused);

	/* The fifth of this uid is one too many. */
	s0 = s1;
	EXPECT_RC(pool_connect(d.sock, &over), -EUSERS);
	s1 = status_of(c);
	assert_int_equal(s1.connections, 4);
	assert_int_equal(s1.connections_total, s0.connections_total + 1);
	assert_int_equal(s1.connections_refused, s0.connections_refused + 1);
	for (i = 0; i < 3; i++)
		pool_disconnect(more[i]);
	s0 = status_when_connections(c, 1);

	/* A datagram that does not decode. */
	send_garbage(d.sock);
	s1 = status_of(c);
	assert_int_equal(s1.bad_messages, s0.bad_messages + 1);
	assert_int_equal(s1.connections_total, s0.connections_total + 1);
	assert_int_equal(s1.connections, 1);

	/* A connection that says nothing is dropped at hello_timeout. */
	s0 = s1;
	assert_true((fd = harness_raw_connect(d.sock)) >= 0);
	await_close(fd);
	close(fd);
	s1 = status_of(c);
	assert_int_equal(s1.hello_timeouts, s0.hello_timeouts + 1);
	assert_int_equal(s1.connections_total, s0.connections_total + 1);
	assert_int_equal(s1.bad_messages, s0.bad_messages);

	pool_disconnect(c);
	stop();
}

/* Requests answered and refused. */
static void
requests(void **state)
{
	struct pool_daemon_stats s0, s1;
	struct pool_conn *c;
	struct pool *p;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	s0 = status_of(c);
	EXPECT_RC(pool_open(c, "no_such_pool", &p), -ENOENT);
	s1 = status_of(c);
	/* s0's own request, and the open. */
	assert_int_equal(s1.requests_total, s0.requests_total + 2);
	assert_int_equal(s1.requests_refused, s0.requests_refused + 1);
	s0 = status_of(c);
	assert_int_equal(s0.requests_total, s1.requests_total + 1);
	assert_int_equal(s0.requests_refused, s1.requests_refused);
	pool_disconnect(c);
	stop();
}

static int
waiting_lookup(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)arg;
	CHECK_RC(pool_connect(d.sock, &c), 0, 10);
	CHECK_RC(pool_open(c, POOL_A, &p), 0, 11);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, WAIT_MS, 0, &off, NULL,
				  NULL), 0, 12);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* Ask until held is want; it must never pass want on the way. */
static void
held_becomes(struct pool_conn *c, uint64_t want)
{
	uint64_t t0 = harness_now_ms();
	struct pool_daemon_stats ds;

	for (;;) {
		ds = status_of(c);
		assert_true(ds.held <= 1);
		if (ds.held == want)
			return;
		if (harness_now_ms() - t0 > WAIT_MS)
			fail_msg("held stays %llu, not %llu",
				 (unsigned long long)ds.held,
				 (unsigned long long)want);
		harness_sleep_ms(10);
	}
}

/* A Lookup waiting for a name is held until the name comes. */
static void
held(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	pid_t pid;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	assert_int_equal(status_of(c).held, 0);
	assert_true((pid = harness_spawn(waiting_lookup, NULL)) > 0);
	held_becomes(c, 1);
	EXPECT_RC(pool_open(c, POOL_A, &p), 0);
	EXPECT_RC(pool_alloc(p, 64, &off), 0);
	EXPECT_RC(pool_publish(p, off, "frame"), 0);
	assert_int_equal(harness_wait(pid), 0);
	held_becomes(c, 0);
	EXPECT_RC(pool_unpublish(p, "frame"), 0);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	stop();
}

/* An allocation of 1 MiB in POOL_B that waits for room. */
static int
waiting_alloc(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;

	(void)arg;
	CHECK_RC(pool_connect(d.sock, &c), 0, 10);
	CHECK_RC(pool_open(c, POOL_B, &p), 0, 11);
	CHECK_RC(pool_alloc_wait(p, 1 << 20, 0, 0, WAIT_MS, &off), 0, 12);
	CHECK_RC(pool_free(p, off), 0, 13);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * An allocation waiting for room is one request held, none once a free
 * makes the room; poolctl's Prometheus family of it says so in its HELP
 * (which once named only a pool settling and a name).
 */
static void
held_for_room(void **state)
{
	char out[16384], err[4096];
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	pid_t pid;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, POOL_B, &p), 0);
	EXPECT_RC(pool_alloc(p, 3 << 19, &off), 0);
	assert_true((pid = harness_spawn(waiting_alloc, NULL)) > 0);
	held_becomes(c, 1);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err),
					 "status --format=prometheus"), 0);
	assert_non_null(strstr(out, "\npoolmgr_daemon_held_requests 1\n"));
	if (!strstr(out, "# HELP poolmgr_daemon_held_requests Requests "
		    "waiting now: for a pool to settle, for a name, or for "
		    "room.\n"))
		fail_msg("held_requests' HELP names no wait for room:\n%s",
			 out);
	EXPECT_RC(pool_free(p, off), 0);
	assert_int_equal(harness_wait(pid), 0);
	held_becomes(c, 0);
	pool_close(p);
	pool_disconnect(c);
	stop();
}

/* Stats of pool "big", which wait for its release in steps to end. */
static int
stats_of_big(void *arg)
{
	struct pool_stats st;
	struct pool_conn *c;

	(void)arg;
	CHECK_RC(pool_connect(d.sock, &c), 0, 10);
	CHECK_RC(pool_stats_by_name(c, "big", &st), 0, 11);
	pool_disconnect(c);
	return 0;
}

/*
 * A request held for its pool to settle is one held: a Stats of a pool
 * whose 512 MiB block goes back 4 KiB a loop turn waits for it.  Whether
 * the Stats comes before the release ends is the machine's to say, so a
 * round that does not see it held is tried again, up to 5 rounds; held
 * is 0 again after each.
 */
static void
held_for_settling(void **state)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	int round, seen = 0, status;
	pid_t pid;

	(void)state;
	assert_int_equal(harness_start(&d, "release_step = 4K\n"
				       "settle_wait_ms = 20000\n"
				       "[pool big]\nsize = 1G\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "big", &p), 0);
	for (round = 1; round <= 5 && !seen; round++) {
		EXPECT_RC(pool_alloc(p, 512u << 20, &off), 0);
		EXPECT_RC(pool_free(p, off), 0);
		assert_true((pid = harness_spawn(stats_of_big, NULL)) > 0);
		while (waitpid(pid, &status, WNOHANG) == 0) {
			ds = status_of(c);
			assert_true(ds.held <= 1);
			seen |= ds.held == 1;
		}
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		held_becomes(c, 0);
	}
	printf("status: a Stats held for its pool to settle %s, in %d "
	       "round%s\n", seen ? "seen" : "never seen", round - 1,
	       round == 2 ? "" : "s");
	assert_true(seen);
	pool_close(p);
	pool_disconnect(c);
	stop();
}

/* The totals that must not move but for this one's own request. */
static void
expect_kept(const struct pool_daemon_stats *a,
	    const struct pool_daemon_stats *b)
{
	assert_int_equal(b->started, a->started);
	assert_int_equal(b->pid, a->pid);
	assert_int_equal(b->connections_total, a->connections_total);
	assert_int_equal(b->connections_refused, a->connections_refused);
	assert_int_equal(b->hello_timeouts, a->hello_timeouts);
	assert_int_equal(b->bad_messages, a->bad_messages);
	assert_int_equal(b->requests_total, a->requests_total + 1);
	assert_int_equal(b->requests_refused, a->requests_refused);
	assert_int_equal(b->log_lines_left_out, a->log_lines_left_out);
	assert_true(b->uptime_ms >= a->uptime_ms);
}

/* A SIGHUP resets nothing; a restart in place keeps the totals. */
static void
reload_and_restart(void **state)
{
	struct pool_daemon_stats a, b;
	struct pool_conn *c, *x = NULL;
	struct pool *p;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	/* Something in every total first. */
	send_garbage(d.sock);
	EXPECT_RC(pool_open(c, "no_such_pool", &p), -ENOENT);
	EXPECT_RC(pool_connect(d.sock, &x), 0);
	pool_disconnect(x);
	a = status_when_connections(c, 1);
	assert_true(a.bad_messages == 1 && a.requests_refused == 1);

	harness_reload(&d);
	b = status_of(c);
	expect_kept(&a, &b);
	assert_int_equal(b.restarts, a.restarts);

	a = status_of(c);
	assert_int_equal(harness_restart_in_place(&d), 0);
	b = status_of(c);
	printf("status: after a restart in place: restarts %llu, started "
	       "%llu, requests %llu\n", (unsigned long long)b.restarts,
	       (unsigned long long)b.started,
	       (unsigned long long)b.requests_total);
	expect_kept(&a, &b);
	assert_int_equal(b.restarts, a.restarts + 1);
	assert_int_equal(b.connections, a.connections);

	/* And once more: the second image's counts carry too. */
	send_garbage(d.sock);
	a = status_of(c);
	assert_int_equal(harness_restart_in_place(&d), 0);
	b = status_of(c);
	expect_kept(&a, &b);
	assert_int_equal(b.restarts, 2);
	assert_int_equal(b.bad_messages, 2);
	pool_disconnect(c);
	stop();
}

/* 100 garbage connections: 10 lines said, 90 left out. */
static void
flood_left_out(void **state)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;
	int i;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	ds = status_of(c);
	assert_int_equal(ds.log_lines_left_out, 0);
	assert_int_equal(ds.bad_messages, 0);
	for (i = 0; i < FLOOD; i++)
		send_garbage(d.sock);
	ds = status_of(c);
	printf("status: %d garbage connections: %llu bad messages, %llu log "
	       "lines left out\n", FLOOD, (unsigned long long)ds.bad_messages,
	       (unsigned long long)ds.log_lines_left_out);
	assert_int_equal(ds.bad_messages, FLOOD);
	assert_int_equal(ds.log_lines_left_out, FLOOD - LOG_BURST);
	pool_disconnect(c);
	stop();
}

/* The value of the kv line "key N". */
static uint64_t
kv_value(const char *out, const char *key)
{
	char want[64];
	const char *l;

	snprintf(want, sizeof(want), "\n%s ", key);
	if (strncmp(out, want + 1, strlen(want + 1)) == 0)
		l = out + strlen(want + 1);
	else if ((l = strstr(out, want)))
		l += strlen(want);
	else
		fail_msg("no kv line %s in:\n%s", key, out);
	return strtoull(l, NULL, 10);
}

static const char *
user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	assert_non_null(pw);
	return pw->pw_name;
}

static const char *
group_name(gid_t gid)
{
	struct group *gr = getgrgid(gid);

	assert_non_null(gr);
	return gr->gr_name;
}

/*
 * status's text line of the daemon's uid or gid: "user  NAME  (ID)" with
 * a name, "user  ID" under -n (name NULL).
 */
static void
status_names_line(const char *out, const char *label, unsigned id,
		  const char *name)
{
	char want[256];

	if (name)
		snprintf(want, sizeof(want), "\n  %-20s %s  (%u)\n", label,
			 name, id);
	else
		snprintf(want, sizeof(want), "\n  %-20s %u\n", label, id);
	if (!strstr(out, want))
		fail_msg("no line \"%s\" in:\n%s", want + 1, out);
}

static void
poolctl_status(void **state)
{
	char out[16384], err[4096], want[256];
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	send_garbage(d.sock);

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status"), 0);
	assert_int_equal(strncmp(out, "daemon poolmgrd ", 16), 0);
	snprintf(want, sizeof(want), "\n  pid                  %d\n",
		 (int)d.pid);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "\n  uptime               "));
	assert_non_null(strstr(out, "\n  bad messages         1\n"));
	assert_non_null(strstr(out, "\n  pools                2\n"));
	assert_non_null(strstr(out, "\n  resident memory      "));
	/* None kept is a count, not the unknown of a daemon before them. */
	assert_non_null(strstr(out, "\n  kept for unread fds  0\n"));
	assert_non_null(strstr(out, " UTC  ("));
	assert_string_equal(err, "");
	/* The daemon's uid and gid by name, as ls names them; -n numbers. */
	status_names_line(out, "user", geteuid(), user_name(geteuid()));
	status_names_line(out, "group", getegid(), group_name(getegid()));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status -n"), 0);
	status_names_line(out, "user", geteuid(), NULL);
	status_names_line(out, "group", getegid(), NULL);

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status --json=short"),
			 0);
	snprintf(want, sizeof(want), "\"pid\":%d,", (int)d.pid);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "{\"server\":\"poolmgrd "));
	assert_non_null(strstr(out, "\"bad_messages\":1,"));
	assert_non_null(strstr(out, "\"features\":"));
	snprintf(want, sizeof(want), "\"uid\":%u,\"gid\":%u,",
		 (unsigned)geteuid(), (unsigned)getegid());
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\"user\":\"%s\",\"group\":\"%s\"",
		 user_name(geteuid()), group_name(getegid()));
	assert_non_null(strstr(out, want));

	ds = status_of(c);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status --format=kv"),
			 0);
	assert_int_equal(kv_value(out, "pid"), (uint64_t)d.pid);
	assert_int_equal(kv_value(out, "pools"), 2);
	assert_int_equal(kv_value(out, "bad_messages"), 1);
	assert_int_equal(kv_value(out, "started"), ds.started);
	assert_int_equal(kv_value(out, "features"), ds.features);
	assert_non_null(strstr(out, "\nkept_connections 0\n"));
	/* poolctl's own Hello and request came after ours. */
	assert_int_equal(kv_value(out, "requests_total"), ds.requests_total + 2);
	assert_non_null(strstr(out, "server poolmgrd "));

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err),
					 "status --format=prometheus"), 0);
	assert_non_null(strstr(out, "# TYPE poolmgr_daemon_requests_total "
			       "counter\n"));
	assert_non_null(strstr(out, "# TYPE poolmgr_daemon_connections "
			       "gauge\n"));
	assert_non_null(strstr(out, "\npoolmgr_daemon_bad_messages_total 1\n"));
	assert_non_null(strstr(out, "\npoolmgr_daemon_pools 2\n"));
	assert_non_null(strstr(out, "\npoolmgr_daemon_kept_connections 0\n"));
	assert_non_null(strstr(out, "# HELP poolmgr_daemon_uptime_seconds "));
	snprintf(want, sizeof(want), "\npoolmgr_daemon_info{server=\""
		 "poolmgrd 0.1.0\",pid=\"%d\",", (int)d.pid);
	assert_non_null(strstr(out, want));

	/* Usage errors are exit 2, before any connection; no daemon is 69. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status --format=yaml"),
			 2);
	/* As every diagnostic: "poolctl: WHAT: WHY", the command first. */
	assert_non_null(strstr(err, "poolctl: status: unknown format 'yaml' "
			       "(text, json, prometheus or kv)\n"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status extra"), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err),
					 "--json status --format=kv"), 2);
	assert_non_null(strstr(err, "poolctl: status: --json conflicts with "
			       "--format=kv\n"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err),
					 "--socket %s/none.sock status", d.dir),
			 69);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "help status"), 0);
	assert_non_null(strstr(out, "--format=FMT"));
	/* Nothing of those reached the daemon but the last one's help. */
	assert_int_equal(status_of(c).bad_messages, 1);
	pool_disconnect(c);
	stop();
}

/*
 * The connection limits in force, that an operator reads to tell why a
 * client was refused -EUSERS below max_connections: admin_connections (at
 * its default, half of a small max_connections, then as set) and
 * max_connections_per_uid, from the library, poolctl's text, kv and
 * Prometheus, and after a reload that changes them.
 */
static void
connection_limits(void **state)
{
	char out[16384], err[4096];
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	start(state);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	ds = status_of(c);
	assert_int_equal(ds.admin_connections, 8);
	assert_int_equal(ds.max_connections_per_uid, PER_UID);
	assert_int_equal(ds.reserved32, 0);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(ds.reserved[i], 0);

	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status"), 0);
	assert_non_null(strstr(out, "\n  max connections      64\n"
			       "  reserved for admins  8\n"
			       "  max per uid          4\n"));
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status --format=kv"),
			 0);
	assert_int_equal(kv_value(out, "admin_connections"), 8);
	assert_int_equal(kv_value(out, "max_connections_per_uid"), PER_UID);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err),
					 "status --format=prometheus"), 0);
	assert_non_null(strstr(out, "# TYPE poolmgr_daemon_admin_connections "
			       "gauge\npoolmgr_daemon_admin_connections 8\n"));
	assert_non_null(strstr(out, "\npoolmgr_daemon_max_connections_per_uid "
			       "4\n"));

	assert_int_equal(harness_reload_with(&d, "max_connections = 10\n"
					     "admin_connections = 3\n"
					     "max_connections_per_uid = 7\n"),
			 0);
	ds = status_of(c);
	assert_int_equal(ds.max_connections, 10);
	assert_int_equal(ds.admin_connections, 3);
	assert_int_equal(ds.max_connections_per_uid, 7);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status --json=short"),
			 0);
	assert_non_null(strstr(out, "\"max_connections\":10,"
			       "\"admin_connections\":3,"
			       "\"max_connections_per_uid\":7,"));
	pool_disconnect(c);
	stop();
}

/* The fd store of store_stop_start_and_crash, closed however it ends. */
static struct harness_store store;

/* DaemonStats of the daemon at st's socket, through a new connection. */
static struct pool_daemon_stats
store_status(struct harness_store *st)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_daemon_stats(c, &ds), 0);
	pool_disconnect(c);
	return ds;
}

/*
 * Through systemd's fd store (played by harness_store): a stop pushes the
 * state and a start takes it out, one restart more with the totals kept;
 * a crash is recovered from the journal, which has no totals.
 */
static void
store_stop_start_and_crash(void **state)
{
	struct harness_store *st = *state;
	struct pool_daemon_stats a, b, c;
	int status;

	assert_int_equal(harness_store_start(st), 0);
	a = store_status(st);
	assert_int_equal(a.restarts, 0);

	assert_int_equal(kill(st->pid, SIGTERM), 0);
	assert_int_equal(waitpid(st->pid, &status, 0), st->pid);
	st->pid = 0;
	harness_store_drain(st);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(harness_store_start(st), 0);
	b = store_status(st);
	printf("status: through the store: restarts %llu, requests %llu -> "
	       "%llu, connections %llu -> %llu\n",
	       (unsigned long long)b.restarts,
	       (unsigned long long)a.requests_total,
	       (unsigned long long)b.requests_total,
	       (unsigned long long)a.connections_total,
	       (unsigned long long)b.connections_total);
	assert_int_equal(b.restarts, 1);
	assert_int_equal(b.started, a.started);
	/* a's connection and its two requests, then b's Hello. */
	assert_true(b.connections_total >= a.connections_total + 1);
	assert_true(b.requests_total >= a.requests_total + 2);

	assert_int_equal(harness_store_recover(st), 0);
	c = store_status(st);
	printf("status: after a crash: restarts %llu, requests %llu\n",
	       (unsigned long long)c.restarts,
	       (unsigned long long)c.requests_total);
	assert_int_equal(c.restarts, 0);
	assert_true(c.started >= a.started);
	assert_true(c.requests_total < b.requests_total);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identity_and_memory),
		cmocka_unit_test(connections),
		cmocka_unit_test(requests),
		cmocka_unit_test(held),
		cmocka_unit_test(held_for_room),
		cmocka_unit_test(held_for_settling),
		cmocka_unit_test(reload_and_restart),
		cmocka_unit_test(flood_left_out),
		cmocka_unit_test(poolctl_status),
		cmocka_unit_test(connection_limits),
		HARNESS_STORE_TEST(store_stop_start_and_crash, &store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
