/*
 * itest_logs.c - what poolmgrd writes to its log, as an operator reading
 * journald sees it.
 *
 * A client cannot flood the log: whatever it does 10,000 times over
 * (connect and hang up, send garbage, ask before Hello, send requests
 * that are refused, be refused for a connection limit, change the mode
 * of a pool it owns and does not administer), the lines the
 * daemon logs above debug priority stay within the rate limit's bound of
 * 10 every 10 s per kind of line, each possibly led by a line that counts
 * what was left out.  Debug lines (the harness runs the daemon with
 * --verbose) are not counted: they are what --verbose asks for.  What is
 * left out is counted exactly, and said once its window is over (or at a
 * stop) even if no line of the kind comes again.  And a few key lines
 * read as their words and priorities say.  The harness's mark on a log
 * longer than 256 KiB is its end, as on a short one.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
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

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

#define FLOOD	10000

static struct daemon_proc daemon_proc;
static char log_text[1024 * 1024];

static int
teardown(void **state)
{
	(void)state;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

/* The log as it is now; its length, for log_lines_since. */
static size_t
log_mark(void)
{
	harness_read_text(daemon_proc.log, log_text, sizeof(log_text));
	return strlen(log_text);
}

/*
 * Lines logged since mark at a priority above debug ("<0>" to "<6>");
 * each is printed, for the run's output to show what an operator reads.
 */
static int
log_lines_since(size_t mark)
{
	const char *at, *end;
	int n = 0;

	harness_read_text(daemon_proc.log, log_text, sizeof(log_text));
	assert_true(strlen(log_text) < sizeof(log_text) - 1);
	for (at = log_text + mark; *at; at = end + 1) {
		if (!(end = strchr(at, '\n')))
			break;
		if (at[0] == '<' && at[1] >= '0' && at[1] <= '6' &&
		    at[2] == '>') {
			printf("  %.*s\n", (int)(end - at), at);
			n++;
		}
	}
	return n;
}

/*
 * At most LOG_LIMIT_BURST lines of each of kinds kinds per 10 s window the
 * flood lasted, each perhaps led by its count of lines left out.
 */
static void
expect_bounded(const char *what, size_t mark, uint64_t t0, int kinds)
{
	uint64_t s = (harness_now_ms() - t0) / 1000;
	int lines, bound = kinds * 2 * 10 * (1 + (int)(s / 10));

	lines = log_lines_since(mark);
	printf("logs: %s %d times: %d lines above debug in %llu s (at most "
	       "%d)\n", what, FLOOD, lines, (unsigned long long)s, bound);
	assert_true(lines <= bound);
}

/*
 * Connections a flood closed count against the limits until the daemon
 * reads their end: a client may be refused for a while after it.
 */
#define CATCH_UP_TRIES 500

/* A greeted raw connection with a handle of pool s. */
static int
greeted(void)
{
	int fd = -1, i;

	for (i = 0; i < CATCH_UP_TRIES && fd < 0; i++)
		if ((fd = harness_raw_greeted(daemon_proc.sock, "logs")) < 0)
			harness_sleep_ms(20);
	assert_true(fd >= 0);
	harness_raw_handle(fd, "s");
	return fd;
}

/* A client of the library can connect and use the pool. */
static void
expect_served(void)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	pool_off_t off;
	int i, rc = -EUSERS;

	for (i = 0; i < CATCH_UP_TRIES && rc == -EUSERS; i++)
		if ((rc = pool_connect(NULL, &c)) == -EUSERS)
			harness_sleep_ms(20);
	EXPECT_RC(rc, 0);
	EXPECT_RC(pool_open(c, "s", &p), 0);
	EXPECT_RC(pool_alloc(p, 100, &off), 0);
	EXPECT_RC(pool_free(p, off), 0);
	pool_disconnect(c);
}

/* Wait for the daemon to close fd (reading what it says before). */
static void
await_close(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[512];

	for (;;) {
		assert_int_equal(poll(&pfd, 1, 10000), 1);
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			return;
	}
}

static void
connect_and_hang_up(void **state)
{
	uint64_t t0 = harness_now_ms();
	size_t mark;
	int i, fd;

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"),
			 0);
	expect_served();
	mark = log_mark();
	for (i = 0; i < FLOOD; i++) {
		assert_true((fd = harness_raw_connect(daemon_proc.sock)) >= 0);
		close(fd);
	}
	/* Greeted ones too, that open a pool and go. */
	for (i = 0; i < FLOOD / 10; i++) {
		fd = greeted();
		close(fd);
	}
	expect_served();
	/* The closed ones may still count: refusals for the limit, bounded. */
	expect_bounded("connect and hang up", mark, t0, 1);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static void
bad_requests(void **state)
{
	uint64_t t0 = harness_now_ms();
	char want[128];
	const char *at;
	size_t mark;
	int i, fd;
	uint32_t h;

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"),
			 0);
	fd = greeted();
	h = harness_raw_handle(fd, "s");
	mark = log_mark();
	for (i = 0; i < FLOOD; i++) {
		switch (i % 4) {
		case 0:
			EXPECT_RAW(harness_raw_open(fd, "no-such-pool", &h),
				   -ENOENT);
			break;
		case 1:
			EXPECT_RAW(harness_raw_free(fd, h, 4096 * 7), -EINVAL);
			break;
		case 2:
			EXPECT_RAW(harness_raw_close(fd, 9999), -EBADF);
			break;
		default:
			EXPECT_RAW(harness_raw_free(fd, 9999, 0), -EBADF);
			break;
		}
	}
	close(fd);
	expect_served();
	expect_bounded("a refused request", mark, t0, 0);
	/* With --verbose each is there, at debug priority, with its reason. */
	snprintf(want, sizeof(want), "<7>poolmgrd: client pid %d uid %u: "
		 "request ", (int)getpid(), (unsigned)getuid());
	if (!(at = strstr(log_text + mark, want)) ||
	    !strstr(at, " refused: no pool no-such-pool\n"))
		fail_msg("no \"%s... refused\" in the log:\n%.2000s", want,
			 log_text + mark);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

/*
 * The owner of a pool that is not an admin (uid 65534 here) is a client
 * like any other: its changes of its pool's mode are said, but no more
 * of them than any kind of line a client can cause at will.
 */
#define OWNER_UID 65534
#define OWNER_GID 65534

static int
owner_flips_the_mode(void *arg)
{
	struct pool_set_opts o = {.which = POOL_SET_MODE};
	struct pool_conn *c;
	int i;

	(void)arg;
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	for (i = 0; i < FLOOD / 10; i++) {
		o.mode = i % 2 ? 0600 : 0640;
		CHECK_RC(pool_set(c, "o", &o), 0, 11);
	}
	pool_disconnect(c);
	return 0;
}

static void
an_owners_changes(void **state)
{
	struct pool_create_opts o = {
		.max_size = 1024 * 1024, .mode = 0600,
		.flags = POOL_CREATE_OWNER | POOL_CREATE_GROUP,
		.uid = OWNER_UID, .gid = OWNER_GID,
	};
	struct pool_conn *c;
	uint64_t t0;
	size_t mark;
	pid_t pid;

	(void)state;
	harness_skip_unless_root("drop a child to another uid");
	assert_int_equal(harness_start(&daemon_proc, ""), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	EXPECT_RC(pool_create(c, "o", &o), 0);
	t0 = harness_now_ms();
	mark = log_mark();
	pid = harness_spawn_as(OWNER_UID, OWNER_GID, owner_flips_the_mode,
			       NULL);
	assert_true(pid > 0);
	assert_int_equal(harness_wait(pid), 0);
	/* Each change was made, the last to 0600. */
	assert_int_equal(harness_stats_of(c, "o").mode, 0600);
	pool_disconnect(c);
	expect_bounded("an owner's change of its pool", mark, t0, 1);
	harness_expect_logged(&daemon_proc, "pool o set by uid 65534: mode "
			      "0600 -> 0640");
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static void
garbage_and_early_requests(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	uint8_t junk[64];
	uint64_t t0 = harness_now_ms();
	size_t mark;
	int i, fd;

	(void)state;
	memset(junk, 0xff, sizeof(junk));
	m.name = "s";
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"),
			 0);
	mark = log_mark();
	for (i = 0; i < FLOOD; i++) {
		assert_true((fd = harness_raw_connect(daemon_proc.sock)) >= 0);
		if (i % 2)
			assert_int_equal(send(fd, junk, sizeof(junk), 0),
					 (ssize_t)sizeof(junk));
		else
			assert_int_equal(harness_raw_post(fd, &req), 0);
		await_close(fd);
		close(fd);
	}
	expect_served();
	expect_bounded("garbage or a request before Hello", mark, t0, 2);
	/* What was said names the client and what the daemon did. */
	if (!strstr(log_text, "sent a message that does not decode; "
		    "closing it") ||
	    !strstr(log_text, "sent a request before Hello; closing it"))
		fail_msg("the lines are not there:\n%s", log_text + mark);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static void
refused_for_a_limit(void **state)
{
	uint64_t t0 = harness_now_ms();
	size_t mark;
	int i, fd, held;
	char want[128];

	(void)state;
	assert_int_equal(harness_start(&daemon_proc,
				       "max_connections_per_uid = 1\n"
				       "[pool s]\nsize = 1M\n"), 0);
	held = greeted();
	mark = log_mark();
	for (i = 0; i < FLOOD; i++) {
		assert_true((fd = harness_raw_connect(daemon_proc.sock)) >= 0);
		await_close(fd);
		close(fd);
	}
	expect_bounded("refused for max_connections_per_uid", mark, t0, 1);
	/* A warning: a limit reached is the operator's to look at. */
	snprintf(want, sizeof(want), "<4>poolmgrd: client pid %d uid %u: "
		 "too many clients of this uid connected; refusing it "
		 "(max_connections_per_uid 1)\n", (int)getpid(),
		 (unsigned)getuid());
	if (!strstr(log_text + mark, want))
		fail_msg("no \"%s\" in the log:\n%s", want, log_text + mark);
	close(held);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

/*
 * What the rate limit leaves out is said once its window is over, even if
 * no line of the kind ever comes again: a flood that stops is not a count
 * lost.  The daemon's bound (daemon/log.h), as docs/poolmgrd.8 states it.
 */
#define LIMIT_BURST	10
#define LIMIT_WINDOW	10
#define SMALL_FLOOD	1000
#define GARBAGE_LINE	"sent a message that does not decode; closing it"

/* n connections that each send garbage, and are closed for it. */
static void
send_garbage(int n)
{
	uint8_t junk[64];
	int i, fd;

	memset(junk, 0xff, sizeof(junk));
	for (i = 0; i < n; i++) {
		assert_true((fd = harness_raw_connect(daemon_proc.sock)) >= 0);
		assert_int_equal(send(fd, junk, sizeof(junk), 0),
				 (ssize_t)sizeof(junk));
		await_close(fd);
		close(fd);
	}
}

struct garbage_count {
	unsigned said;		/* garbage lines that went out */
	unsigned long long left_out;	/* the sum of the counts said */
	unsigned summaries;	/* counts said on their own, naming the kind */
};

/*
 * The garbage lines in text, as an operator reads them: each count of
 * lines left out is said either with the next line of the kind ("like
 * the next") or on its own once its window is over ("like this",
 * followed by the kind's words), at the kind's priority.
 */
static struct garbage_count
garbage_counted(const char *text)
{
	struct garbage_count gc = {0, 0, 0};
	const char *at, *end, *next_end;
	unsigned long long n;

	for (at = text; (end = strchr(at, '\n')); at = end + 1) {
		if (sscanf(at, "<4>poolmgrd: (%llu line", &n) == 1) {
			next_end = strchr(end + 1, '\n');
			if (memmem(at, (size_t)(end - at), "like this left out",
				   18) &&
			    memmem(at, (size_t)(end - at), GARBAGE_LINE,
				   strlen(GARBAGE_LINE))) {
				gc.left_out += n;
				gc.summaries++;
			} else if (memmem(at, (size_t)(end - at),
					  "like the next left out", 22) &&
				   next_end &&
				   memmem(end + 1, (size_t)(next_end - end),
					  GARBAGE_LINE,
					  strlen(GARBAGE_LINE))) {
				gc.left_out += n;
			}
		} else if (!strncmp(at, "<4>", 3) &&
			   memmem(at, (size_t)(end - at), GARBAGE_LINE,
				  strlen(GARBAGE_LINE))) {
			gc.said++;
		}
	}
	return gc;
}

/*
 * Wait (up to 30 s: a window and then some, on a slow machine) until
 * every one of n garbage lines since mark is either out or counted.
 */
static struct garbage_count
await_garbage_counted(size_t mark, unsigned n)
{
	uint64_t deadline = harness_now_ms() + 3 * LIMIT_WINDOW * 1000;
	struct garbage_count gc;

	for (;;) {
		harness_read_text(daemon_proc.log, log_text, sizeof(log_text));
		assert_true(strlen(log_text) < sizeof(log_text) - 1);
		gc = garbage_counted(log_text + mark);
		if (gc.said + gc.left_out >= n || harness_now_ms() > deadline)
			return gc;
		harness_sleep_ms(100);
	}
}

static void
left_out_said_when_the_window_ends(void **state)
{
	struct garbage_count gc;
	size_t mark;
	int round;

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"),
			 0);
	/* Twice: each left-out line is in exactly one count. */
	for (round = 0; round < 2; round++) {
		mark = log_mark();
		send_garbage(SMALL_FLOOD);
		gc = await_garbage_counted(mark, SMALL_FLOOD);
		printf("logs: garbage %d times: %u lines out, %llu counted "
		       "left out, %u counts said on their own\n", SMALL_FLOOD,
		       gc.said, gc.left_out, gc.summaries);
		if (gc.said + gc.left_out != SMALL_FLOOD || gc.summaries < 1)
			fail_msg("%d garbage connections, but %u lines and "
				 "%llu counted left out (%u counts said on "
				 "their own):\n%.4000s", SMALL_FLOOD, gc.said,
				 gc.left_out, gc.summaries, log_text + mark);
		/* Within one window (a flood this small): N - 10 left out. */
		if (gc.said == LIMIT_BURST)
			assert_int_equal(gc.left_out,
					 SMALL_FLOOD - LIMIT_BURST);
	}
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

/*
 * A flood of garbage, then restart_first (a restart in place) or not,
 * then a stop: every line of the flood is out or counted, and every count
 * is said before the log's first mark, a line of the old image's end.
 */
static void
left_out_said_before(bool restart_first, const char *mark)
{
	struct garbage_count gc;
	const char *at;
	char rm[256];

	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"),
			 0);
	send_garbage(SMALL_FLOOD);
	if (restart_first)
		assert_int_equal(harness_restart_in_place(&daemon_proc), 0);
	assert_int_equal(kill(daemon_proc.pid, SIGTERM), 0);
	assert_int_equal(harness_exit_status(&daemon_proc, 30000), 0);
	harness_read_text(daemon_proc.log, log_text, sizeof(log_text));
	snprintf(rm, sizeof(rm), "rm -rf %s", daemon_proc.dir);
	assert_int_equal(system(rm), 0);
	assert_true(strlen(log_text) < sizeof(log_text) - 1);
	if (!(at = strstr(log_text, mark)))
		fail_msg("no \"%s\" in the log:\n%s", mark, log_text);
	gc = garbage_counted(log_text);
	if (gc.said + gc.left_out != SMALL_FLOOD || gc.summaries < 1 ||
	    garbage_counted(at).summaries != 0)
		fail_msg("%d garbage connections, but %u lines and %llu "
			 "counted left out (%u counts said on their own), "
			 "all before \"%s\":\n%.4000s", SMALL_FLOOD,
			 gc.said, gc.left_out, gc.summaries, mark, log_text);
}

/* A stop says what is left out before its window ends, before "stopped". */
static void
left_out_said_at_stop(void **state)
{
	(void)state;
	left_out_said_before(false, "<6>poolmgrd: stopped\n");
}

/*
 * A restart in place starts a new image with no counts: the old one says
 * its counts before it executes the new one.
 */
static void
left_out_said_at_restart(void **state)
{
	(void)state;
	left_out_said_before(true, "restarting in place: executing");
}

/* The lines of a start and a stop, word for word with their priorities. */
static void
start_and_stop_lines(void **state)
{
	char want[256], rm[256];

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"
				       "[pool t]\nsize = 2M\nmode = 0600\n"),
			 0);
	/* Stopped by hand: harness_stop takes the log with the directory. */
	assert_int_equal(kill(daemon_proc.pid, SIGTERM), 0);
	assert_int_equal(harness_exit_status(&daemon_proc, 30000), 0);
	harness_read_text(daemon_proc.log, log_text, sizeof(log_text));
	snprintf(rm, sizeof(rm), "rm -rf %s", daemon_proc.dir);
	assert_int_equal(system(rm), 0);
	snprintf(want, sizeof(want), "<6>poolmgrd: listening on %s (mode "
		 "0666), 2 pools\n", daemon_proc.sock);
	if (!strstr(log_text, want))
		fail_msg("no \"%s\" in the log:\n%s", want, log_text);
	if (!strstr(log_text, "<6>poolmgrd: pool t: 2097152 bytes, mode "
		    "0600, owner ") ||
	    !strstr(log_text, "<6>poolmgrd: SIGTERM: stopping\n") ||
	    !strstr(log_text, "<6>poolmgrd: stopped\n"))
		fail_msg("start and stop lines differ:\n%s", log_text);
}

/* ---- the harness's mark on a long log ---------------------------------- */

#define LONG_LOG	(320 * 1024)	/* past what a mark once read */

static size_t
log_size(void)
{
	struct stat sb;

	assert_int_equal(stat(daemon_proc.log, &sb), 0);
	return (size_t)sb.st_size;
}

/*
 * Raw connections made and closed until the log holds more than len
 * bytes: each is a debug line as it comes and another as it goes.
 */
static void
log_grown_past(size_t len)
{
	int i, fd;

	for (i = 0; i < 10 * FLOOD && log_size() <= len; i++) {
		assert_true((fd = harness_raw_connect(daemon_proc.sock)) >= 0);
		close(fd);
	}
	if (log_size() <= len)
		fail_msg("the log is %zu bytes after %d connections",
			 log_size(), i);
}

/*
 * harness_log_mark on a log past 256 KiB is where the log ends: between
 * its size before and after.  (It read the log into a buffer of 256 KiB
 * and gave the length read: a mark short of the end, the lines "after"
 * it those logged long before.)  A line logged after the mark is past it.
 */
static void
mark_on_a_long_log(void **state)
{
	size_t before, mark, after;
	char line[512];
	bool seen = false;
	FILE *f;

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "[pool s]\nsize = 1M\n"),
			 0);
	log_grown_past(LONG_LOG);
	before = log_size();
	mark = harness_log_mark(&daemon_proc);
	after = log_size();
	if (mark < before || mark > after)
		fail_msg("a mark of %zu on a log of %zu bytes (%zu after)",
			 mark, before, after);
	expect_served();
	assert_non_null(f = fopen(daemon_proc.log, "r"));
	assert_int_equal(fseek(f, (long)mark, SEEK_SET), 0);
	while (!seen && fgets(line, sizeof(line), f))
		seen = strstr(line, "connected") != NULL;
	fclose(f);
	if (!seen)
		fail_msg("no connection logged past the mark at %zu", mark);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(start_and_stop_lines, teardown),
		cmocka_unit_test_teardown(connect_and_hang_up, teardown),
		cmocka_unit_test_teardown(bad_requests, teardown),
		cmocka_unit_test_teardown(garbage_and_early_requests,
					  teardown),
		cmocka_unit_test_teardown(refused_for_a_limit, teardown),
		cmocka_unit_test_teardown(an_owners_changes, teardown),
		cmocka_unit_test_teardown(left_out_said_when_the_window_ends,
					  teardown),
		cmocka_unit_test_teardown(left_out_said_at_stop, teardown),
		cmocka_unit_test_teardown(left_out_said_at_restart, teardown),
		cmocka_unit_test_teardown(mark_on_a_long_log, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
