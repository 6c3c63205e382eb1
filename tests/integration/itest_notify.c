/*
 * itest_notify.c - poolmgrd never waits for systemd to read its
 * notifications.  The notification socket is a datagram one: the kernel
 * queues only net.unix.max_dgram_qlen (10) unread datagrams, and a PID 1
 * that is busy or stopped reads none.
 *
 *   stalled_store_keeps_serving  the store (harness_store.h) reads
 *       nothing while a client makes and destroys a pool again and again,
 *       each a push to the fd store and a removal: far more datagrams
 *       than the socket queues.  Every cycle is answered, another client
 *       is served meanwhile, and once the store reads again it gets every
 *       message in order: a SIGHUP's READY=1 comes after all of them, and
 *       the store then holds the journal and the kept pool, no keep of a
 *       destroyed one;
 *   full_queue_refuses_push  the store still reads nothing while pools are
 *       made and destroyed until the daemon's own queue is full: the
 *       next pool is made all the same but not pushed, and says so in
 *       the log (a crash loses it until then), and a block is persisted
 *       in it; once the store reads, the push is tried again and goes
 *       (it was given up for the daemon's life): the store holds that
 *       pool's keep too, and a crash recovers the pool with its block;
 *   abstract_notify_socket  NOTIFY_SOCKET="@name" is a socket of Linux's
 *       abstract namespace: READY=1 arrives there.
 *   status_only_when_changed  an allocation changes the status line:
 *       a STATUS= with its bytes comes within the interval (10 s); then a
 *       request that changes nothing, and nothing at all comes in the
 *       next 11 s.  (It sent a STATUS= every 10 s, changed or not, and
 *       so woke an idle daemon under systemd.)  22 s.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_store.h"
#include "poolclient.h"

#define CONFIG	"[daemon]\nsocket_mode = 0666\n[pool a]\nsize = 4M\n"
#define CYCLES	40		/* 80 datagrams: eight times the queue */
#define WAIT_MS	15000		/* generous for a daemon under ASan */

static struct harness_store st;

static int
setup(void **state)
{
	(void)state;
	return harness_store_open(&st, CONFIG);
}

static int
teardown(void **state)
{
	(void)state;
	harness_store_close(&st);
	return 0;
}

static int cycles_out = -1;	/* the driver's pipe: a byte per cycle */

/* In a child: make and destroy pool b CYCLES times, a byte after each. */
static int
drive(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_conn *c;
	int i;

	(void)arg;
	if (pool_connect(st.sock, &c) != 0)
		return 1;
	for (i = 0; i < CYCLES; i++) {
		if (pool_create(c, "b", &o) != 0 ||
		    pool_destroy(c, "b") != 0 ||
		    write(cycles_out, "", 1) != 1)
			return 2;
	}
	pool_disconnect(c);
	return 0;
}

/* How many cycles the driver got answered before it ended or stalled. */
static int
count_cycles(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char b;
	int n = 0;

	while (poll(&pfd, 1, WAIT_MS) == 1 && read(fd, &b, 1) == 1)
		n++;
	return n;
}

static unsigned
held(const char *prefix)
{
	unsigned i, k = 0;

	for (i = 0; i < st.n; i++)
		k += strncmp(st.name[i], prefix, strlen(prefix)) == 0;
	return k;
}

/* Whether the daemon logs what within WAIT_MS (its log printed if not). */
static bool
store_logged_soon(const char *what)
{
	uint64_t start = harness_now_ms();

	while (harness_store_log_count(&st, what) == 0 &&
	       harness_now_ms() - start < WAIT_MS)
		harness_sleep_ms(10);
	return harness_store_logged(&st, what);
}

static void
stalled_store_keeps_serving(void **state)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	int pfd[2], done;
	pid_t pid;

	(void)state;
	assert_int_equal(harness_store_start(&st), 0);
	assert_int_equal(held("journal."), 1);
	/* From here on the store reads nothing until the SIGHUP below. */
	assert_int_equal(pipe(pfd), 0);
	cycles_out = pfd[1];
	pid = harness_spawn(drive, NULL);
	close(pfd[1]);
	done = count_cycles(pfd[0]);
	close(pfd[0]);
	printf("%d of %d pool create/destroy cycles answered while the "
	       "store read nothing\n", done, CYCLES);
	if (done < CYCLES) {
		kill(pid, SIGKILL);
		harness_wait(pid);
		fail_msg("the daemon stopped answering once the notification "
			 "socket was full");
	}
	assert_int_equal(harness_wait(pid), 0);
	/* Another client, the store still reading nothing. */
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &p), 0);
	EXPECT_RC(pool_alloc(p, 4096, &off), 0);
	EXPECT_RC(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	assert_true(harness_store_logged(&st, "notifications wait"));

	/* The store reads again: everything, in order, then READY=1. */
	assert_int_equal(kill(st.pid, SIGHUP), 0);
	assert_int_equal(harness_store_wait(&st, "READY=1", WAIT_MS), 0);
	printf("the store holds %u descriptors: %u journal, %u keep\n", st.n,
	       held("journal."), held("keep."));
	assert_int_equal(held("journal."), 1);
	assert_int_equal(held("keep."), 1);
	assert_int_equal(st.n, 2);
	/*
	 * The daemon says so once its queue has gone out, READY=1 the last
	 * of it: the line may follow the store's reading by a moment.
	 */
	assert_true(store_logged_soon("systemd reads notifications again"));
}

/* A pool made by c and, unless keep, destroyed again: 0 or -errno. */
static int
made(struct pool_conn *c, const char *name, bool keep)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	int rc;

	if ((rc = pool_create(c, name, &o)) != 0 || keep)
		return rc;
	return pool_destroy(c, name);
}

static void
full_queue_refuses_push(void **state)
{
	const char *refused = "not kept in the fd store";
	struct pool_conn *c, *c2;
	struct pool *p;
	pool_off_t off;
	int i;

	(void)state;
	alarm(120);	/* a daemon that stops answering fails the test */
	assert_int_equal(harness_store_start(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	for (i = 0; i < 1000; i++) {
		EXPECT_RC(made(c, "b", true), 0);
		if (harness_store_log_count(&st, refused) > 0)
			break;
		EXPECT_RC(pool_destroy(c, "b"), 0);
	}
	printf("pool b not pushed in cycle %d of its making and destroying\n",
	       i + 1);
	assert_true(i < 1000);
	/* Made all the same, and served; a block persisted meanwhile. */
	EXPECT_RC(pool_connect(st.sock, &c2), 0);
	EXPECT_RC(pool_open(c2, "b", &p), 0);
	EXPECT_RC(pool_alloc(p, 4096, &off), 0);
	EXPECT_RC(pool_free(p, off), 0);
	EXPECT_RC(pool_alloc(p, 4096, &off), 0);
	memset(pool_ptr(p, off), 0x6b, 4096);
	EXPECT_RC(pool_persist(p, off), 0);
	pool_close(p);
	pool_disconnect(c2);

	assert_int_equal(kill(st.pid, SIGHUP), 0);
	assert_int_equal(harness_store_wait(&st, "READY=1", WAIT_MS), 0);
	/* Tried again once the queue has gone out: the keep goes. */
	assert_true(store_logged_soon("pool b: kept in the fd store at last"));
	harness_store_drain(&st);
	printf("the store holds %u descriptors: %u journal, %u keep\n", st.n,
	       held("journal."), held("keep."));
	assert_int_equal(held("journal."), 1);
	assert_int_equal(held("keep."), 2);	/* pool a's and b's */
	assert_int_equal(harness_store_log_count(&st, refused), 1);
	pool_disconnect(c);

	assert_int_equal(harness_store_recover(&st), 0);
	EXPECT_RC(pool_connect(st.sock, &c), 0);
	EXPECT_RC(pool_open(c, "b", &p), 0);
	assert_int_equal(((unsigned char *)pool_ptr(p, off))[0], 0x6b);
	assert_int_equal(((unsigned char *)pool_ptr(p, off))[4095], 0x6b);
	pool_close(p);
	pool_disconnect(c);
	alarm(0);
}

static void
abstract_notify_socket(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct pollfd pfd = {.events = POLLIN};
	struct daemon_proc d;
	char name[64], buf[512];
	socklen_t len;
	ssize_t got;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@poolmgr-itest-notify-%d", (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(name));
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(harness_start(&d, ""), 0);
	unsetenv("NOTIFY_SOCKET");
	pfd.fd = fd;
	buf[0] = '\0';
	while (!strstr(buf, "READY=1") && poll(&pfd, 1, WAIT_MS) == 1 &&
	       (got = recv(fd, buf, sizeof(buf) - 1, 0)) >= 0)
		buf[got] = '\0';
	printf("on %s: \"%.40s\"\n", name, buf);
	assert_non_null(strstr(buf, "READY=1"));
	assert_int_equal(harness_stop(&d), 0);
	close(fd);
}

/* A socket of the abstract namespace for NOTIFY_SOCKET, bound: its fd. */
static int
notify_socket(char *name, size_t size)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	snprintf(name, size, "@poolmgr-itest-notify-%d", (int)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(name));
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

/* The next datagram within ms into buf (NUL-terminated), or -1 if none. */
static int
notify_next(int fd, int ms, char *buf, size_t size)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t got;

	if (poll(&pfd, 1, ms) != 1 || (got = recv(fd, buf, size - 1, 0)) < 0)
		return -1;
	buf[got] = '\0';
	return 0;
}

static void
status_only_when_changed(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats s;
	struct pool *p;
	char name[64], buf[512], ready[512];
	pool_off_t off;
	int fd;

	(void)state;
	fd = notify_socket(name, sizeof(name));
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(harness_start(&d, "[pool a]\nsize = 4M\n"), 0);
	unsetenv("NOTIFY_SOCKET");
	ready[0] = '\0';
	while (!strstr(ready, "READY=1"))
		assert_int_equal(notify_next(fd, WAIT_MS, ready, sizeof(ready)),
				 0);
	assert_non_null(strstr(ready, "STATUS=1 pool, 0 of 4194304 bytes"));

	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_open(c, "a", &p), 0);
	assert_int_equal(pool_alloc(p, 1 << 20, &off), 0);
	assert_int_equal(notify_next(fd, WAIT_MS, buf, sizeof(buf)), 0);
	printf("after an allocation: \"%s\"\n", buf);
	assert_non_null(strstr(buf, "STATUS=1 pool, 1048576 of 4194304 "
			       "bytes in use, 1 open handle"));
	/* One handle, as one pool, is not a plural. */
	assert_null(strstr(buf, "open handles"));

	/* Served, but the line is the same: nothing is sent, ever. */
	assert_int_equal(pool_stats(p, &s), 0);
	buf[0] = '\0';
	assert_int_equal(notify_next(fd, 11000, buf, sizeof(buf)), -1);

	assert_int_equal(pool_free(p, off), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stalled_store_keeps_serving,
						setup, teardown),
		cmocka_unit_test_setup_teardown(full_queue_refuses_push,
						setup, teardown),
		cmocka_unit_test(abstract_notify_socket),
		cmocka_unit_test(status_only_when_changed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
