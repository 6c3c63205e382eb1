/*
 * itest_check_paced.c - a writer's Check of a large pool, asked again and
 * again, does not take the daemon's thread from everyone else.
 *
 * A check walks every block of the pool on the daemon's only thread, and
 * a writer may pipeline as many as it likes: 64 checks of a pool of a
 * million blocks held every other client for 34 s.  The checks that are
 * not an admin's, of pools of 4096 blocks or more or whose last check took
 * a millisecond or more, now take at most a tenth of the daemon's time per
 * uid: one that comes too soon after its uid's last is refused with
 * -EAGAIN, another uid's is not.  An admin's, and a cheap pool's, always
 * run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

#define WRITER_UID 65534
#define OTHER_UID 65533	/* another writer, whose checks are its own */
#define BIG_BLOCKS 100000	/* a check of some 50 ms */
/* A check of some 0.2 s: the next is refused for 2 s, room for poolctl. */
#define POOLCTL_BLOCKS 500000
/* Under 4096 blocks, but a check of some 20 ms. */
#define HUGE_BLOCK	(1ull << 30)
#define HUGE_BLOCKS	4000

/* Post a Check of pool name on fd; its reply is awaited by id. */
static int
post_check(int fd, const char *name, uint64_t *id)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	Poolmgr__Check m = POOLMGR__CHECK__INIT;

	ref.name = (char *)name;
	m.pool = &ref;
	req.body_case = POOLMGR__REQUEST__BODY_CHECK;
	req.check = &m;
	if (harness_raw_post(fd, &req))
		return -1;
	*id = req.id;
	return 0;
}

/* The error of the reply to request id; HARNESS_RAW_LOST if none came. */
static int
reply_error(int fd, uint64_t id)
{
	Poolmgr__Reply *rep = harness_raw_reply(fd, id, HARNESS_RAW_WAIT_MS);
	int err;

	if (!rep)
		return HARNESS_RAW_LOST;
	err = rep->error;
	if (err == 0 && !(rep->check && rep->check->ok))
		err = HARNESS_RAW_LOST;	/* a check that found a problem */
	poolmgr__reply__free_unpacked(rep, NULL);
	return err;
}

/*
 * The writer: fills pool big with blocks, then sends two checks of it at
 * once, as one read batch, and one of pool small.
 */
static int
writer_main(void *arg)
{
	const char *sock = arg;
	uint64_t first, second, small;
	uint32_t h;
	int fd = harness_raw_greeted(sock, "checker");

	CHECK(fd >= 0, 2);
	CHECK_RC(harness_raw_open(fd, "big", &h), 0, 3);
	CHECK_RC(harness_raw_alloc_many(fd, h, 64, BIG_BLOCKS), 0, 4);
	CHECK(post_check(fd, "big", &first) == 0, 5);
	CHECK(post_check(fd, "big", &second) == 0, 6);
	CHECK(post_check(fd, "small", &small) == 0, 7);
	CHECK_RC(reply_error(fd, first), 0, 8);
	CHECK_RC(reply_error(fd, second), -EAGAIN, 9);
	CHECK_RC(reply_error(fd, small), 0, 10);
	close(fd);
	return 0;
}

/*
 * Before, the second check of big ran as the first did, and so would the
 * next 62 of a batch; now it is refused, the small pool's is not, and
 * root's check of big right after runs.
 */
static void
writers_checks_are_paced(void **state)
{
	struct daemon_proc d;
	pid_t writer;
	int fd;

	(void)state;
	harness_skip_unless_root("run a writer as another uid");
	assert_int_equal(harness_start(&d, "[pool big]\nsize = 64M\n"
				       "mode = 0666\n"
				       "[pool small]\nsize = 1M\n"
				       "mode = 0666\n"), 0);
	writer = harness_spawn_as(WRITER_UID, WRITER_UID, writer_main,
				  d.sock);
	assert_true(writer > 0);
	assert_int_equal(harness_wait(writer), 0);

	fd = harness_raw_client(d.sock, "root");
	harness_raw_check(fd, "big");
	close(fd);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A pool of few blocks whose check is costly all the same: 4000 blocks of
 * 1 GiB (a check of some 20 ms, the blocks' sizes counting too).  Its
 * first check runs, and the next, sent with it, is refused; before, a
 * pool under 4096 blocks was never paced, and 64 such checks held
 * everyone else for over a second.
 */
static int
few_blocks_main(void *arg)
{
	const char *sock = arg;
	uint64_t first, second;
	uint32_t h;
	int fd = harness_raw_greeted(sock, "checker");

	CHECK(fd >= 0, 2);
	CHECK_RC(harness_raw_open(fd, "huge", &h), 0, 3);
	CHECK_RC(harness_raw_alloc_many(fd, h, HUGE_BLOCK, HUGE_BLOCKS), 0, 4);
	CHECK(post_check(fd, "huge", &first) == 0, 5);
	CHECK(post_check(fd, "huge", &second) == 0, 6);
	CHECK_RC(reply_error(fd, first), 0, 7);
	CHECK_RC(reply_error(fd, second), -EAGAIN, 8);
	close(fd);
	return 0;
}

/* A daemon of conf, and fn run on its socket as the writer, to success. */
static void
writer_runs(const char *conf, int (*fn)(void *))
{
	struct daemon_proc d;
	pid_t writer;

	harness_skip_unless_root("run a writer as another uid");
	assert_int_equal(harness_start(&d, conf), 0);
	writer = harness_spawn_as(WRITER_UID, WRITER_UID, fn, d.sock);
	assert_true(writer > 0);
	assert_int_equal(harness_wait(writer), 0);
	assert_int_equal(harness_stop(&d), 0);
}

static void
costly_pool_of_few_blocks_paced(void **state)
{
	(void)state;
	writer_runs("[pool huge]\nsize = 4T\nmode = 0666\n", few_blocks_main);
}

struct turns {
	const char *sock;
	int ready[2];		/* a byte once its window is open */
	int go[2];		/* a byte: the other has checked */
};

/*
 * The first writer: its check of big runs, and opens its window; once
 * the other uid has checked, its own next check is refused, so the
 * window was open all through the other's.
 */
static int
first_main(void *arg)
{
	struct turns *t = arg;
	uint64_t id;
	uint32_t h;
	int fd = harness_raw_greeted(t->sock, "checker");
	char b = 0;

	close(t->ready[0]);
	close(t->go[1]);	/* the test's end: gone, if it fails */
	CHECK(fd >= 0, 2);
	CHECK_RC(harness_raw_open(fd, "big", &h), 0, 3);
	CHECK_RC(harness_raw_alloc_many(fd, h, 64, POOLCTL_BLOCKS), 0, 4);
	CHECK(post_check(fd, "big", &id) == 0, 5);
	CHECK_RC(reply_error(fd, id), 0, 6);
	CHECK(write(t->ready[1], &b, 1) == 1, 7);
	CHECK(read(t->go[0], &b, 1) == 1, 8);
	CHECK(post_check(fd, "big", &id) == 0, 9);
	CHECK_RC(reply_error(fd, id), -EAGAIN, 10);
	close(fd);
	return 0;
}

/* The other writer: its check of big runs, whoever else checked. */
static int
second_main(void *arg)
{
	struct turns *t = arg;
	uint64_t id;
	int fd = harness_raw_greeted(t->sock, "other");

	CHECK(fd >= 0, 2);
	CHECK(post_check(fd, "big", &id) == 0, 3);
	CHECK_RC(reply_error(fd, id), 0, 4);
	close(fd);
	return 0;
}

/*
 * Each uid's checks are paced on their own: another writer's check of
 * the large pool runs while the first's window is open, where the one
 * window shared by every user refused it (-EAGAIN) for as long as the
 * first kept checking.
 */
static void
other_users_check_runs(void **state)
{
	struct daemon_proc d;
	struct turns t;
	pid_t first, second;
	char b = 0;

	(void)state;
	harness_skip_unless_root("run writers as other uids");
	assert_int_equal(harness_start(&d, "[pool big]\nsize = 64M\n"
				       "mode = 0666\n"), 0);
	t.sock = d.sock;
	assert_int_equal(pipe(t.ready), 0);
	assert_int_equal(pipe(t.go), 0);
	first = harness_spawn_as(WRITER_UID, WRITER_UID, first_main, &t);
	assert_true(first > 0);
	close(t.ready[1]);
	close(t.go[0]);
	assert_int_equal(read(t.ready[0], &b, 1), 1);
	second = harness_spawn_as(OTHER_UID, OTHER_UID, second_main, &t);
	assert_true(second > 0);
	assert_int_equal(harness_wait(second), 0);
	assert_int_equal(write(t.go[1], &b, 1), 1);
	assert_int_equal(harness_wait(first), 0);
	close(t.ready[0]);
	close(t.go[1]);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The writer again, with poolctl: its check right after one of its own
 * is refused, and poolctl says it is paced and when to ask again, not
 * -EAGAIN's words for the waits of a pool (max_alloc_waits), and exits
 * 75 (EX_TEMPFAIL), to ask again later, with nothing on stdout: a check
 * that found a problem prints it there and exits 1, as this did.
 */
static int
poolctl_main(void *arg)
{
	const char *sock = arg;
	char cmd[512], out[1024];
	uint64_t id;
	uint32_t h;
	int fd = harness_raw_greeted(sock, "checker"), rc;

	CHECK(fd >= 0, 2);
	CHECK_RC(harness_raw_open(fd, "big", &h), 0, 3);
	CHECK_RC(harness_raw_alloc_many(fd, h, 64, POOLCTL_BLOCKS), 0, 4);
	CHECK(post_check(fd, "big", &id) == 0, 5);
	CHECK_RC(reply_error(fd, id), 0, 6);
	snprintf(cmd, sizeof(cmd), "POOLMGRD_SOCKET=%s %s/poolctl check big "
		 "2>&1 >/dev/null", sock, harness_build());
	rc = harness_run(cmd, out, sizeof(out));
	fprintf(stderr, "poolctl check big -> %d: %s", rc, out);
	CHECK_RC(rc, 75, 7);
	CHECK(strstr(out, "poolctl: check big: not now: ") == out, 8);
	CHECK(strstr(out, "checks of large pools") != NULL, 9);
	CHECK(strstr(out, "again in ") != NULL, 10);
	CHECK(strstr(out, "max_alloc_waits") == NULL, 11);
	close(fd);
	return 0;
}

static void
poolctl_says_a_check_is_paced(void **state)
{
	(void)state;
	writer_runs("[pool big]\nsize = 64M\nmode = 0666\n", poolctl_main);
}

/*
 * The wait a check of pool name on fd is refused for, in ms, by the
 * daemon's words ("again in N ms"); -1 if it was not refused.
 */
static long
refused_for_ms(int fd, const char *name)
{
	Poolmgr__Reply *rep;
	const char *at;
	uint64_t id;
	long ms = -1;

	if (post_check(fd, name, &id) ||
	    !(rep = harness_raw_reply(fd, id, HARNESS_RAW_WAIT_MS)))
		return -1;
	if (rep->error == -EAGAIN && rep->message &&
	    (at = strstr(rep->message, "again in ")))
		ms = strtol(at + strlen("again in "), NULL, 10);
	poolmgr__reply__free_unpacked(rep, NULL);
	return ms;
}

/*
 * The writer checks big, and its next check of big is refused for a
 * while; then it checks huge for the first time: cheap as far as the
 * daemon knows (under 4096 blocks, never checked), so it runs, and is
 * found costly (some 20 ms).  Its window must not end sooner for it than
 * big's left it: the next refusal of big names the same end, less the
 * time that passed between the two.
 */
static int
window_kept_main(void *arg)
{
	const char *sock = arg;
	long before, after;
	uint64_t id, t0, t1;
	uint32_t h;
	int fd = harness_raw_greeted(sock, "checker");

	CHECK(fd >= 0, 2);
	CHECK_RC(harness_raw_open(fd, "big", &h), 0, 3);
	CHECK_RC(harness_raw_alloc_many(fd, h, 64, POOLCTL_BLOCKS), 0, 4);
	CHECK_RC(harness_raw_open(fd, "huge", &h), 0, 5);
	CHECK_RC(harness_raw_alloc_many(fd, h, HUGE_BLOCK, HUGE_BLOCKS), 0, 6);
	CHECK(post_check(fd, "big", &id) == 0, 7);
	CHECK_RC(reply_error(fd, id), 0, 8);
	t0 = harness_now_ms();
	CHECK((before = refused_for_ms(fd, "big")) > 0, 9);
	CHECK(post_check(fd, "huge", &id) == 0, 10);
	CHECK_RC(reply_error(fd, id), 0, 11);
	CHECK((after = refused_for_ms(fd, "big")) > 0, 12);
	t1 = harness_now_ms();
	fprintf(stderr, "big refused for %ld ms, then after huge's check for "
		"%ld ms, %llu ms later\n", before, after,
		(unsigned long long)(t1 - t0));
	CHECK(after + (long)(t1 - t0) + 1 >= before, 13);
	close(fd);
	return 0;
}

/*
 * Before, a check that ran as cheap and was found costly put its own
 * window in place of the one its uid had open: the writer's window after
 * huge's check of some 20 ms was some 160 ms, where big's had 800 ms to
 * go, and a writer that alternated the two checked big five times as
 * often as a tenth of the daemon's time allows.
 */
static void
cheap_then_costly_check_keeps_the_window(void **state)
{
	(void)state;
	writer_runs("[pool big]\nsize = 64M\nmode = 0666\n"
		    "[pool huge]\nsize = 4T\nmode = 0666\n",
		    window_kept_main);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writers_checks_are_paced),
		cmocka_unit_test(poolctl_says_a_check_is_paced),
		cmocka_unit_test(costly_pool_of_few_blocks_paced),
		cmocka_unit_test(other_users_check_runs),
		cmocka_unit_test(cheap_then_costly_check_keeps_the_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
