/*
 * itest_silent.c - clients that connect and say nothing cannot use up the
 * daemon.
 *
 * A connection over a connection limit is told -EUSERS at once (a reply
 * with id 0, before it sends anything) and closed, so refused clients hold
 * no descriptor however many there are; the library reports the refusal as
 * -EUSERS.  A connection that never says Hello is dropped after the
 * configured hello_timeout, also when a SIGHUP set it.  Meanwhile a
 * well-behaved client of another kind keeps being served.  Nor can they
 * flood the log: a refusal is logged at most 10 times every 10 s.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

#define MANY	64

static struct daemon_proc daemon_proc;

static int
raw_connect(const char *path)
{
	int fd = harness_raw_connect(path);

	assert_true(fd >= 0);
	return fd;
}

/*
 * What the daemon does to a connection that says nothing, within ms: 1 if
 * it closed it, 2 if it is still open; a datagram read on the way must be
 * the id-0 refusal, whose error goes to *refusal.
 */
static int
watch(int fd, int ms, int *refusal)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	Poolmgr__Reply *rep;
	uint8_t buf[512];
	ssize_t n;

	*refusal = 0;
	for (;;) {
		if (poll(&pfd, 1, ms) != 1)
			return 2;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return 1;
		rep = poolmgr__reply__unpack(NULL, (size_t)n, buf);
		assert_non_null(rep);
		assert_int_equal(rep->id, 0);
		*refusal = rep->error;
		assert_non_null(rep->message);
		assert_true(rep->message[0] != '\0');
		poolmgr__reply__free_unpacked(rep, NULL);
	}
}

/* The daemon's open descriptors. */
static int
daemon_fds(void)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)daemon_proc.pid);
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A client of the library can connect and use the pool. */
static int
client_works(void)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	pool_off_t off;
	int rc;

	if ((rc = pool_connect(NULL, &c)) != 0)
		return rc;
	if ((rc = pool_open(c, "s", &p)) == 0 &&
	    (rc = pool_alloc(p, 100, &off)) == 0)
		rc = pool_free(p, off);
	pool_disconnect(c);
	return rc;
}

/* Lines of the log at path that hold what. */
static int
log_count(const char *path, const char *what)
{
	static char log[256 * 1024];
	const char *at = log;
	int n = 0;

	harness_read_text(path, log, sizeof(log));
	while ((at = strstr(at, what))) {
		n++;
		at += strlen(what);
	}
	return n;
}

static int
teardown(void **state)
{
	(void)state;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

static void
refused_connections_hold_nothing(void **state)
{
	int held[2], fd, i, refusal, before, after, lines;
	time_t t = time(NULL);

	(void)state;
	assert_int_equal(harness_start(&daemon_proc,
				       "max_connections_per_uid = 2\n"
				       "hello_timeout = 60\n"
				       "[pool s]\nsize = 1M\n"), 0);
	assert_int_equal(client_works(), 0);
	held[0] = raw_connect(daemon_proc.sock);
	held[1] = raw_connect(daemon_proc.sock);
	harness_sleep_ms(100);
	before = daemon_fds();

	/* The third says nothing, and is told why and closed at once. */
	fd = raw_connect(daemon_proc.sock);
	assert_int_equal(watch(fd, 2000, &refusal), 1);
	assert_int_equal(refusal, -EUSERS);
	close(fd);
	/* The library reports that as the refusal it is. */
	assert_int_equal(client_works(), -EUSERS);

	/* Many more: none of them keeps a descriptor of the daemon's. */
	for (i = 0; i < MANY; i++) {
		fd = raw_connect(daemon_proc.sock);
		assert_int_equal(watch(fd, 2000, &refusal), 1);
		assert_int_equal(refusal, -EUSERS);
		close(fd);
	}
	after = daemon_fds();
	printf("silent: %d refused connections; the daemon holds %d "
	       "descriptors, %d before\n", MANY, after, before);
	assert_true(after <= before);
	/* Nor a line each in the log: at most 10 every 10 s. */
	t = time(NULL) - t;
	lines = log_count(daemon_proc.log, "uid connected; refusing it");
	printf("silent: %d refusal lines logged in %lld s\n", lines,
	       (long long)t);
	assert_true(lines >= 1 && lines <= 10 * (1 + (int)t / 10));

	/* The two that hold their places still do; once they go, room. */
	assert_int_equal(watch(held[0], 100, &refusal), 2);
	close(held[0]);
	close(held[1]);
	for (i = 0; i < 50 && client_works() != 0; i++)
		harness_sleep_ms(20);
	assert_int_equal(client_works(), 0);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

static void
silent_connections_time_out(void **state)
{
	char log[16384], want[128];
	int fd[3], i, refusal;

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "hello_timeout = 1\n"
				       "[pool s]\nsize = 1M\n"), 0);
	for (i = 0; i < 3; i++)
		fd[i] = raw_connect(daemon_proc.sock);
	/* Served meanwhile, and not dropped: it said Hello in time. */
	assert_int_equal(client_works(), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(watch(fd[i], 3000, &refusal), 1);
		assert_int_equal(refusal, 0);
		close(fd[i]);
	}
	assert_int_equal(client_works(), 0);
	/* The log names who it dropped, for an operator to find it. */
	harness_read_text(daemon_proc.log, log, sizeof(log));
	snprintf(want, sizeof(want), "client pid %d uid %u said nothing in "
		 "time", (int)getpid(), (unsigned)getuid());
	if (!strstr(log, want))
		fail_msg("no \"%s\" in the log:\n%s", want, log);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

/* hello_timeout takes effect on SIGHUP, for new connections. */
static void
hello_timeout_follows_a_reload(void **state)
{
	int fd, refusal;
	FILE *f;

	(void)state;
	assert_int_equal(harness_start(&daemon_proc, "hello_timeout = 0\n"
				       "[pool s]\nsize = 1M\n"), 0);
	fd = raw_connect(daemon_proc.sock);
	assert_int_equal(watch(fd, 1500, &refusal), 2);	/* kept: no limit */
	close(fd);
	f = fopen(daemon_proc.conf, "w");
	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\nhello_timeout = 1\n"
		"[pool s]\nsize = 1M\n");
	assert_int_equal(fclose(f), 0);
	harness_reload(&daemon_proc);
	fd = raw_connect(daemon_proc.sock);
	assert_int_equal(watch(fd, 3000, &refusal), 1);	/* dropped */
	assert_int_equal(refusal, 0);
	close(fd);
	assert_int_equal(client_works(), 0);
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(refused_connections_hold_nothing,
					  teardown),
		cmocka_unit_test_teardown(silent_connections_time_out,
					  teardown),
		cmocka_unit_test_teardown(hello_timeout_follows_a_reload,
					  teardown),
	};

	return cmocka_run_group_tests_name("silent clients", tests, NULL,
					   NULL);
}
