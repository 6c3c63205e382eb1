/*
 * itest_frames.c - client/examples/frames.c, the video-frame pipeline, run
 * as its programs against a real daemon.
 *
 *   producer_alone_keeps_one_frame  a producer with no consumer publishes
 *       50 frames into a pool of room for 8, without waiting: each frame
 *       it replaces is freed, so the pool ends with one block, the last
 *       frame, named;
 *   stuck_consumer_gives_frames_back  two consumers and a producer
 *       without end in a pool of room for 8 frames: one consumer keeps
 *       the 7 frames it read and stops, the other follows the newest, and
 *       the producer waits for room (an allocation waiting, the pool
 *       full); the stuck one is killed, the frames only it held are
 *       freed, and the producer goes on, 100 frames more, the other
 *       consumer reading each whole; once both are ended the pool holds
 *       the newest frame alone, named, and passes its check.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define POOL		"cam"
#define CONF		"[pool cam]\nsize = 512K\n"	/* 8 frames */
#define POLL_MS		10
#define POLLS		6000				/* a minute */

static struct daemon_proc d;

/*
 * Start `frames ARGS...` of this build with its output in dir/out, on the
 * daemon's socket; its pid.
 */
static pid_t
frames(const char *out, ...)
{
	char prog[256], path[256];
	const char *argv[16];
	va_list ap;
	pid_t pid;
	int n = 0, fd;

	snprintf(prog, sizeof(prog), "%s/examples/frames", harness_build());
	snprintf(path, sizeof(path), "%s/%s", d.dir, out);
	argv[n++] = prog;
	va_start(ap, out);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 ||
		    setenv("POOLMGRD_SOCKET", d.sock, 1) != 0)
			_exit(126);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Its exit status, or 128 + a signal's number. */
static int
exit_of(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status);
}

/* Lines of dir/out that start with what. */
static int
lines(const char *out, const char *what)
{
	char path[256], line[128];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", d.dir, out);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strncmp(line, what, strlen(what)) == 0;
	fclose(f);
	return n;
}

/* The last line of dir/out. */
static void
last_line(const char *out, char *line, size_t len)
{
	char path[256], buf[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d.dir, out);
	line[0] = '\0';
	assert_non_null(f = fopen(path, "r"));
	while (fgets(buf, sizeof(buf), f) != NULL)
		snprintf(line, len, "%s", buf);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	return harness_start(&d, CONF) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	if (d.pid > 0)
		assert_int_equal(harness_stop(&d), 0);
	return 0;
}

/* ---- producer_alone_keeps_one_frame ---------------------------------- */

static void
producer_alone_keeps_one_frame(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	char line[128];

	(void)state;
	/* -w 1: a pool filled with frames nobody holds would time out. */
	assert_int_equal(exit_of(frames("p.out", "produce", "-s", "65536",
	    "-n", "50", "-w", "1", POOL, "video", (char *)NULL)), 0);
	last_line("p.out", line, sizeof(line));
	assert_string_equal(line, "produced 50\n");
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	st = harness_stats_of(c, POOL);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(st.named_blocks, 1);
	assert_int_equal(st.failed_allocs, 0);
	harness_expect_checked(c, POOL);
	pool_disconnect(c);
}

/* ---- stuck_consumer_gives_frames_back -------------------------------- */

/* Polls until dir/out has at least n lines that start with what. */
static int
wait_lines(const char *out, const char *what, int n)
{
	int i;

	for (i = 0; i < POLLS && lines(out, what) < n; i++)
		harness_sleep_ms(POLL_MS);
	return lines(out, what);
}

static void
stuck_consumer_gives_frames_back(void **state)
{
	struct pool_conn *c;
	struct pool_stats st;
	pid_t stuck, follower, producer;
	int i, made, read;

	(void)state;
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	follower = frames("f.out", "consume", "-w", "60", POOL, "video",
	    (char *)NULL);
	stuck = frames("s.out", "consume", "-k", "7", "-n", "7", "-w", "60",
	    POOL, "video", (char *)NULL);
	/* No last frame: the pool fills whenever the stuck one has read 7. */
	producer = frames("p.out", "produce", "-s", "65536", "-n", "0", "-w",
	    "60", POOL, "video", (char *)NULL);

	/*
	 * The stuck one holds 7 frames, the name the newest: the pool is
	 * full, and the producer waits for room.
	 */
	for (i = 0; i < POLLS; i++) {
		st = harness_stats_of(c, POOL);
		if (lines("s.out", "consumed ") == 7 && st.alloc_waits == 1)
			break;
		harness_sleep_ms(POLL_MS);
	}
	assert_int_equal(lines("s.out", "consumed "), 7);
	assert_int_equal(st.alloc_waits, 1);
	assert_int_equal(st.live_blocks, 8);
	made = lines("p.out", "produced ");
	read = lines("f.out", "consumed ");
	assert_int_equal(lines("p.out", "produced "), made);

	/* Killed mid-frame: what it held comes back, the producer goes on. */
	assert_int_equal(kill(stuck, SIGKILL), 0);
	assert_int_equal(exit_of(stuck), 128 + SIGKILL);
	assert_true(wait_lines("p.out", "produced ", made + 100) >= made + 100);
	assert_true(wait_lines("f.out", "consumed ", read + 10) >= read + 10);
	/* Every frame the follower read was whole: it is still reading. */
	assert_int_equal(waitpid(follower, NULL, WNOHANG), 0);
	assert_int_equal(waitpid(producer, NULL, WNOHANG), 0);

	assert_int_equal(kill(producer, SIGTERM), 0);
	assert_int_equal(exit_of(producer), 128 + SIGTERM);
	assert_int_equal(kill(follower, SIGTERM), 0);
	assert_int_equal(exit_of(follower), 128 + SIGTERM);
	/* The newest frame stays, under its name; nothing else. */
	st = harness_stats_of(c, POOL);
	assert_int_equal(st.live_blocks, 1);
	assert_int_equal(st.named_blocks, 1);
	assert_int_equal(st.alloc_waits, 0);
	assert_int_equal(st.failed_allocs, 0);
	harness_expect_checked(c, POOL);
	pool_disconnect(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(producer_alone_keeps_one_frame,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			stuck_consumer_gives_frames_back, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
