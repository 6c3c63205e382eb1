/*
 * itest_unread_fds.c - the descriptors the daemon passes to a client that
 * does not read them.
 *
 * A descriptor sent over a Unix socket is in flight until its datagram
 * is read, and the kernel counts every one in flight against the uid
 * that sent it: past that uid's RLIMIT_NOFILE, each sendmsg that passes
 * one fails (ETOOMANYREFS; root alone is exempt).  The daemon runs as its
 * own unprivileged uid, so the descriptors left unread in clients'
 * sockets are its own to bound: else one user that sends opens and never
 * reads their replies, and keeps the sockets the daemon dropped it on,
 * makes every other user's open fail.  Here the daemon runs as uid 65533
 * with 1024 descriptors, the flooder as 65534 (two connections at once,
 * each holding a socket's buffer of replies at most, the daemon's 128 KiB:
 * some 85 opens, with their closes), another client as 65532.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolmgr.pb-c.h"
#include "poolclient.h"

#define DAEMON_UID 65533
#define FLOODER_UID 65534
#define OTHER_UID 65532
#define DAEMON_NOFILE "1024"
#define FLOOD_CONNS 24	/* each leaves its unread descriptors behind */
/* The send buffer the daemon gives each connection, as SO_SNDBUF is
 * asked for it (the kernel keeps twice that): docs/security.md. */
#define DAEMON_SNDBUF 65536
#define MAX_UNREAD 4096	/* datagrams one connection's socket may hold */
/* Names enough for a listing as long as a reply may be, some 64 KiB. */
#define LONG_NAMES 400
#define LONG_NAME 200

/* Send req now; 0, or -errno (EAGAIN when the socket is full). */
static int
send_now(int fd, Poolmgr__Request *req)
{
	uint8_t buf[256];
	size_t len = poolmgr__request__get_packed_size(req);

	if (len > sizeof(buf))
		return -EMSGSIZE;
	poolmgr__request__pack(req, buf);
	return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 ? -errno
								     : 0;
}

/*
 * The flooder's words on connection fd: Hello, then read-only opens and
 * closes of pool s, none of whose replies it reads, until the daemon
 * drops it or stops reading it.  How many opens went.
 */
static int
flood(int fd)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__ClosePool cl = POOLMGR__CLOSE_POOL__INIT;
	int opens = 0, rc;

	hello.version = 1;
	req.id = 1;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	if (send_now(fd, &req))
		return 0;
	o.name = "s";
	o.read_only = true;
	for (int i = 0; i < 20000; i++) {
		if (i % 2 == 0) {
			req.body_case = POOLMGR__REQUEST__BODY_OPEN;
			req.open = &o;
		} else {
			cl.handle = (uint32_t)(i / 2 + 1);
			req.body_case = POOLMGR__REQUEST__BODY_CLOSE;
			req.close = &cl;
		}
		req.id = (uint64_t)i + 2;
		rc = send_now(fd, &req);
		if (rc == -EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (poll(&pfd, 1, 1000) != 1)
				break;	/* the daemon reads us no more */
			i--;
			continue;
		}
		if (rc)
			break;		/* dropped */
		opens += i % 2 == 0;
	}
	return opens;
}

/* One connection of the flooder; its socket stays open, its replies
 * unread.  How many opens went. */
static int
flood_one(const char *sock)
{
	int fd = harness_raw_connect(sock);

	return fd < 0 ? 0 : flood(fd);
}

struct flooder {
	const char *sock;
	int ready[2];		/* a byte once its connections are made */
	int stop[2];		/* a byte: close them and end */
};

static int
flooder_main(void *arg)
{
	struct flooder *f = arg;
	int opens = 0;
	char b = 0;

	close(f->ready[0]);
	close(f->stop[1]);
	for (int i = 0; i < FLOOD_CONNS; i++)
		opens += flood_one(f->sock);
	fprintf(stderr, "flooder: %d opens sent unread on %d connections\n",
		opens, FLOOD_CONNS);
	CHECK(write(f->ready[1], &b, 1) == 1, 2);
	CHECK(read(f->stop[0], &b, 1) == 1, 3);
	return 0;	/* its sockets close as it exits */
}

/* Another user opens pool s, read-only and read-write, as any client. */
static int
other_main(void *arg)
{
	const char *sock = arg;
	struct pool_conn *c;
	struct pool *p;

	CHECK_RC(pool_connect(sock, &c), 0, 2);
	CHECK_RC(pool_open_readonly(c, "s", &p), 0, 3);
	pool_close(p);
	CHECK_RC(pool_open(c, "s", &p), 0, 4);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * The daemon as the unprivileged uid its unit runs it as (as root it may
 * have descriptors in flight past any limit), with nofile descriptors if
 * not NULL, and the configuration conf.
 */
static void
start_unprivileged(struct daemon_proc *d, const char *nofile,
		   const char *conf)
{
	harness_skip_unless_root("run the daemon and clients as other uids");
	if (nofile)
		setenv("HARNESS_NOFILE", nofile, 1);
	setenv("HARNESS_DAEMON_UID", "65533", 1);
	assert_int_equal(harness_start(d, conf), 0);
	unsetenv("HARNESS_NOFILE");
	unsetenv("HARNESS_DAEMON_UID");
}

/* 0 if this process may execute the file at path arg, else 1. */
static int
can_execute_main(void *arg)
{
	return access(arg, X_OK) == 0 ? 0 : 1;
}

/*
 * Skip unless the daemon's uid may execute this build's poolmgrd by its
 * full path, as a restart in place does (/proc/self/exe): started from
 * the build's own directory it runs even where a directory above keeps
 * that uid out (a checkout in root's home, mode 0700), and there its
 * restart could not execute it: a failure of where the checkout is, not
 * of the daemon.  Asked of a child that setuid() left no capability
 * (setpriv keeps them until its exec, and finds the path).
 */
static void
skip_unless_daemon_uid_reexecs(void)
{
	char rel[PATH_MAX], bin[PATH_MAX];
	pid_t pid;

	harness_skip_unless_root("run the daemon and clients as other uids");
	snprintf(rel, sizeof(rel), "%s/poolmgrd", harness_build());
	assert_non_null(realpath(rel, bin));
	pid = harness_spawn_as(DAEMON_UID, DAEMON_UID, can_execute_main, bin);
	assert_true(pid > 0);
	if (harness_wait(pid) != 0) {
		printf("unread: uid %d cannot run %s, as a restart in place "
		       "does: skipping\n", DAEMON_UID, bin);
		skip();
	}
}

/* The flooder, started on sock, once its connections are made. */
static pid_t
flooder_start(struct flooder *f, const char *sock)
{
	pid_t pid;
	char b = 0;

	f->sock = sock;
	assert_int_equal(pipe(f->ready), 0);
	assert_int_equal(pipe(f->stop), 0);
	pid = harness_spawn_as(FLOODER_UID, FLOODER_UID, flooder_main, f);
	assert_true(pid > 0);
	close(f->ready[1]);
	close(f->stop[0]);
	assert_int_equal(read(f->ready[0], &b, 1), 1);
	return pid;
}

/* The flooder told to close its sockets, and ended. */
static void
flooder_end(struct flooder *f, pid_t pid)
{
	char b = 0;

	assert_int_equal(write(f->stop[1], &b, 1), 1);
	assert_int_equal(harness_wait(pid), 0);
	close(f->ready[0]);
	close(f->stop[1]);
}

/*
 * fn run on d's socket as uid, in a process of its own, to its success;
 * else the daemon's log, which says why it let the client go, and the
 * failure.
 */
static void
client_as(uid_t uid, int (*fn)(void *), const struct daemon_proc *d)
{
	pid_t pid = harness_spawn_as(uid, uid, fn, (void *)d->sock);
	char *log;
	int rc;

	assert_true(pid > 0);
	if ((rc = harness_wait(pid)) != 0) {
		log = harness_log_since(d, 0);
		fprintf(stderr, "uid %u's client exited %d; the daemon's "
			"log:\n%s", (unsigned)uid, rc, log ? log : "");
		free(log);
		fail_msg("uid %u's client failed", (unsigned)uid);
	}
}

/*
 * The flooder's dropped connections, their replies unread, once left the
 * daemon's uid with more descriptors in flight than it may have: every
 * open of another user then lost its connection.  Now the flooder holds
 * few, whatever it does, and the other user opens the pool both ways;
 * once the flooder is gone, its uid connects again.
 */
static void
unread_descriptors_starve_nobody(void **state)
{
	struct daemon_proc d;
	struct flooder f;
	pid_t flooder;

	(void)state;
	start_unprivileged(&d, DAEMON_NOFILE, "max_connections = 64\n"
			   "admin_connections = 2\n"
			   "max_connections_per_uid = 2\n"
			   "[pool s]\nsize = 1M\nmode = 0666\n");
	flooder = flooder_start(&f, d.sock);
	client_as(OTHER_UID, other_main, &d);
	flooder_end(&f, flooder);
	harness_expect_logged(&d, "does not read its replies");
	/* Its sockets closed, the places the daemon kept for them are free. */
	client_as(FLOODER_UID, other_main, &d);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A stop while the connections kept for unread descriptors are still
 * there: the daemon closes them with the rest and exits cleanly (under
 * ASan: nothing of them leaks).
 */
static void
kept_connections_closed_at_stop(void **state)
{
	struct daemon_proc d;
	struct flooder f;
	pid_t flooder;

	(void)state;
	start_unprivileged(&d, NULL, "max_connections_per_uid = 2\n"
			   "[pool s]\nsize = 1M\nmode = 0666\n");
	flooder = flooder_start(&f, d.sock);
	harness_expect_logged(&d, "does not read its replies");
	assert_int_equal(harness_stop(&d), 0);
	flooder_end(&f, flooder);
}

/* A client of the flooder's uid: its connection is refused for the kept. */
static int
refused_main(void *arg)
{
	const char *sock = arg;
	struct pool_conn *c;

	CHECK_RC(pool_connect(sock, &c), -EUSERS, 2);
	return 0;
}

/*
 * A restart in place while the daemon keeps the flooder's connections:
 * the new image counts them as the old one did, so the flooder's uid is
 * still refused a connection while it holds its sockets, and gets one
 * once it lets them go.
 */
static void
kept_connections_counted_after_restart(void **state)
{
	struct daemon_proc d;
	struct flooder f;
	pid_t flooder;

	(void)state;
	skip_unless_daemon_uid_reexecs();
	start_unprivileged(&d, NULL, "max_connections_per_uid = 2\n"
			   "[pool s]\nsize = 1M\nmode = 0666\n");
	flooder = flooder_start(&f, d.sock);
	harness_expect_logged(&d, "does not read its replies");
	client_as(FLOODER_UID, refused_main, &d);
	/* No listing shows the kept: the refusal counts them. */
	harness_expect_logged(&d, "(max_connections_per_uid 2; 2 of them "
			      "kept until their clients read or close them)");

	assert_int_equal(harness_restart_in_place(&d), 0);
	client_as(FLOODER_UID, refused_main, &d);

	flooder_end(&f, flooder);
	client_as(FLOODER_UID, other_main, &d);
	assert_int_equal(harness_stop(&d), 0);
}

/* The daemon's kept connections, as its statistics say them. */
static uint32_t
kept_now(const char *sock)
{
	struct pool_daemon_stats ds;
	struct pool_conn *c;

	assert_int_equal(pool_connect(sock, &c), 0);
	assert_int_equal(pool_daemon_stats(c, &ds), 0);
	pool_disconnect(c);
	return ds.kept_connections;
}

/*
 * The kept connections are in the daemon's statistics (and so in poolctl
 * status): nothing showed them, and a uid refused -EUSERS with fewer
 * connections open than its bound was a puzzle but for the log.  Both of
 * the flooder's count, after a restart in place too; once it closes its
 * sockets, none.  The text says "kept for unread fds", apart from the
 * places reserved for admins; kv keeps the key kept_connections.
 */
static void
kept_connections_in_status(void **state)
{
	struct daemon_proc d;
	struct flooder f;
	pid_t flooder;
	char out[4096], err[1024];

	(void)state;
	skip_unless_daemon_uid_reexecs();
	start_unprivileged(&d, NULL, "max_connections_per_uid = 2\n"
			   "[pool s]\nsize = 1M\nmode = 0666\n");
	assert_int_equal(kept_now(d.sock), 0);
	flooder = flooder_start(&f, d.sock);
	harness_expect_logged(&d, "does not read its replies");
	assert_int_equal(kept_now(d.sock), 2);
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status"), 0);
	assert_non_null(strstr(out, "\n  kept for unread fds  2\n"));
	/* Scripts read the key, which the label's wording leaves alone. */
	assert_int_equal(harness_poolctl(&d, NULL, out, sizeof(out), err,
					 sizeof(err), "status --format=kv"), 0);
	assert_non_null(strstr(out, "\nkept_connections 2\n"));

	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(kept_now(d.sock), 2);

	flooder_end(&f, flooder);
	assert_int_equal(kept_now(d.sock), 0);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A connection that opens pool s, reads none of the reply (its memfd in
 * flight) and sends what does not decode: the daemon lets it go, and
 * keeps it.  Its socket, which the caller closes.
 */
static int
kept_one(const char *sock)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	struct pollfd pfd;
	int fd = harness_raw_greeted(sock, "held");

	assert_true(fd >= 0);
	o.name = "s";
	o.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 10000), 1);	/* left unread */
	assert_int_equal(send(fd, "\xff\xff\xff", 3, MSG_NOSIGNAL), 3);
	pfd = (struct pollfd){.fd = fd, .events = POLLRDHUP};
	assert_int_equal(poll(&pfd, 1, 10000), 1);	/* let go of */
	return fd;
}

/*
 * Kept connections looked at by each DaemonStats, at most
 * (dispatch_status.c), and more than twice as many kept.
 */
#define KEPT_LOOKS	16
#define KEPT_MANY	40

/*
 * Anyone may ask for the daemon's statistics, as often as they like, and
 * each request looked at every kept connection (a system call each, up
 * to max_connections of them) to count only those whose clients are not
 * done.  Now a request looks at 16, in turn from where the last stopped:
 * 40 kept and their clients closed, each request lets go of at most 16,
 * and the third finds none left.  Before, the first let go of all 40.
 *
 * The daemon also looks at them all every 10 s while any is kept
 * (kept_connections_let_go_unasked): a round that took that long (a
 * loaded machine) may have met that look, which lets go of all at
 * once, and proves nothing; it is made again on a new daemon, up to
 * KEPT_ROUNDS times.
 */
#define KEPT_ROUNDS	3
#define KEPT_ROUND_MS	9000	/* within the daemon's first look */

/* One round; false if it took too long to say anything. */
static bool
kept_looked_at_in_turn(void)
{
	struct daemon_proc d;
	int fd[KEPT_MANY];
	uint32_t before = KEPT_MANY, now;
	uint64_t t0;
	unsigned i;
	bool in_time;

	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"
				       "mode = 0666\n"), 0);
	t0 = harness_now_ms();
	for (i = 0; i < KEPT_MANY; i++)
		fd[i] = kept_one(d.sock);
	assert_int_equal(kept_now(d.sock), KEPT_MANY);
	for (i = 0; i < KEPT_MANY; i++)
		close(fd[i]);
	for (i = 0; i < (KEPT_MANY + KEPT_LOOKS - 1) / KEPT_LOOKS; i++) {
		now = kept_now(d.sock);
		printf("request %u: %u kept connections\n", i + 1, now);
		if (harness_now_ms() - t0 >= KEPT_ROUND_MS)
			break;
		assert_true(now + KEPT_LOOKS >= before);
		before = now;
	}
	in_time = harness_now_ms() - t0 < KEPT_ROUND_MS;
	if (in_time)
		assert_int_equal(before, 0);
	else
		printf("the round took %llu ms: made again\n",
		       (unsigned long long)(harness_now_ms() - t0));
	assert_int_equal(harness_stop(&d), 0);
	return in_time;
}

static void
kept_connections_looked_at_in_turn(void **state)
{
	unsigned round;

	(void)state;
	for (round = 0; round < KEPT_ROUNDS; round++)
		if (kept_looked_at_in_turn())
			return;
	fail_msg("no round of %u took under %u ms", KEPT_ROUNDS,
		 KEPT_ROUND_MS);
}

/* The sockets the daemon pid has open, as /proc says. */
static unsigned
daemon_sockets(pid_t pid)
{
	char path[300], link[64];
	struct dirent *e;
	unsigned n = 0;
	DIR *dir;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
			 e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		n += len > 7 && strncmp(link, "socket:", 7) == 0;
	}
	closedir(dir);
	return n;
}

/*
 * Waits for the daemon pid to have at most most sockets open, as /proc
 * says, for 25 s at most: a look at its kept connections every 10 s
 * comes within one period, or two if the first came just before their
 * clients closed.  How many it has then, said under what.
 */
static unsigned
sockets_down_to(pid_t pid, unsigned most, const char *what)
{
	unsigned i, now = 0;

	for (i = 0; i < 250; i++) {
		if ((now = daemon_sockets(pid)) <= most)
			break;
		harness_sleep_ms(100);
	}
	printf("daemon sockets %s: %u after %u ms (at most %u wanted)\n",
	       what, now, i * 100, most);
	return now;
}

/*
 * A kept connection's client that is done is let go of with nobody
 * asking: the daemon looks at them all every 10 s while any is kept
 * (peer_kept.c).  Before, one stayed kept (counted, its socket open,
 * in the store) until a refusal, a DaemonStats or a full store looked
 * at it.  Seen from /proc, for asking would look.  Half the 40 clients
 * close first, and the daemon closes their sockets; the other half only
 * then, and a later look, which comes only if the daemon looks again
 * while some are kept, closes theirs too.  The first DaemonStats then
 * finds none kept (before, 40 less the 16 it looks at).
 */
static void
kept_connections_let_go_unasked(void **state)
{
	struct daemon_proc d;
	int fd[KEPT_MANY];
	unsigned i, kept;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool s]\nsize = 1M\n"
				       "mode = 0666\n"), 0);
	for (i = 0; i < KEPT_MANY; i++)
		fd[i] = kept_one(d.sock);
	/* Counted once all are kept: the start's Hello may be open still. */
	kept = daemon_sockets(d.pid);
	assert_true(kept > KEPT_MANY);
	for (i = 0; i < KEPT_MANY / 2; i++)
		close(fd[i]);
	assert_true(sockets_down_to(d.pid, kept - KEPT_MANY / 2,
				    "half the clients closed") <=
		    kept - KEPT_MANY / 2);
	for (; i < KEPT_MANY; i++)
		close(fd[i]);
	assert_true(sockets_down_to(d.pid, kept - KEPT_MANY,
				    "the other half closed after") <=
		    kept - KEPT_MANY);
	assert_int_equal(kept_now(d.sock), 0);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The daemon of kept_connections_let_go_unasked_after_restart, its kept
 * connections handed over by a restart in place and their clients
 * closed before any test runs (restart_kept_setup): the look that lets
 * them go, the new image's first, 10 s after the restart, comes while
 * kept_connections_let_go_unasked waits out two of its own daemon's.
 * Neither test can hasten its daemon's looks, and one after the other
 * they waited some 30 s where 20 will do.
 */
static struct daemon_proc restarted;
static unsigned restarted_kept;	/* its sockets once restarted */

/* The group's setup: restarted made as above. */
static int
restart_kept_setup(void **state)
{
	int fd[KEPT_LOOKS];
	unsigned i;

	(void)state;
	assert_int_equal(harness_start(&restarted, "[pool s]\nsize = 1M\n"
				       "mode = 0666\n"), 0);
	for (i = 0; i < KEPT_LOOKS; i++)
		fd[i] = kept_one(restarted.sock);
	assert_int_equal(harness_restart_in_place(&restarted), 0);
	/* Handed over, still open in the new image. */
	restarted_kept = daemon_sockets(restarted.pid);
	for (i = 0; i < KEPT_LOOKS; i++)
		close(fd[i]);
	return 0;
}

/* The group's teardown: restarted stopped if its test did not get to. */
static int
restart_kept_teardown(void **state)
{
	(void)state;
	return harness_finish(&restarted) == 0 ? 0 : -1;
}

/*
 * The same after a restart in place: the new image takes the kept
 * connections over (peer_keep_taken) and looks at them every 10 s as the
 * old one did, so their sockets close once their clients close, with
 * nobody asking (nothing has asked restarted since its setup).
 */
static void
kept_connections_let_go_unasked_after_restart(void **state)
{
	(void)state;
	assert_true(restarted_kept > KEPT_LOOKS);
	assert_true(sockets_down_to(restarted.pid,
				    restarted_kept - KEPT_LOOKS,
				    "after a restart, the clients closed") <=
		    restarted_kept - KEPT_LOOKS);
	assert_int_equal(kept_now(restarted.sock), 0);
	assert_int_equal(harness_stop(&restarted), 0);
}

struct holder {
	const char *sock;
	int ready[2];		/* a byte once its open's reply came */
	int go[2];		/* a byte: send what does not decode */
	int dropped[2];		/* a byte once the daemon let it go */
	int stop[2];		/* a byte: close and end */
};

/*
 * A client whose open's reply, a descriptor in it, is in its socket,
 * unread, as the daemon restarts in place; then it sends bytes that do
 * not decode, so that the new image drops it, and keeps its socket.
 */
static int
holder_main(void *arg)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool o = POOLMGR__OPEN_POOL__INIT;
	struct holder *h = arg;
	struct pollfd pfd;
	int fd = harness_raw_greeted(h->sock, "holder");
	char b = 0;

	CHECK(fd >= 0, 2);
	o.name = "s";
	o.read_only = true;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &o;
	CHECK(harness_raw_post(fd, &req) == 0, 3);
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	CHECK(poll(&pfd, 1, 10000) == 1, 4);	/* came; left unread */
	CHECK(write(h->ready[1], &b, 1) == 1, 5);
	CHECK(read(h->go[0], &b, 1) == 1, 6);
	CHECK(send(fd, "\xff\xff\xff", 3, MSG_NOSIGNAL) == 3, 7);
	pfd = (struct pollfd){.fd = fd, .events = POLLRDHUP};
	CHECK(poll(&pfd, 1, 10000) == 1, 8);	/* let go of */
	CHECK(write(h->dropped[1], &b, 1) == 1, 9);
	CHECK(read(h->stop[0], &b, 1) == 1, 10);
	close(fd);
	return 0;
}

/*
 * A connection the new image took over with a reply unread that passed a
 * descriptor (sent by the old image): when the new image lets it go, it
 * is kept as the old one would have kept it, and counts as its uid's.
 */
static void
taken_over_unread_reply_kept(void **state)
{
	struct daemon_proc d;
	struct holder h;
	pid_t holder;
	char b = 0;

	(void)state;
	skip_unless_daemon_uid_reexecs();
	start_unprivileged(&d, NULL, "max_connections_per_uid = 1\n"
			   "[pool s]\nsize = 1M\nmode = 0666\n");
	h.sock = d.sock;
	assert_int_equal(pipe(h.ready), 0);
	assert_int_equal(pipe(h.go), 0);
	assert_int_equal(pipe(h.dropped), 0);
	assert_int_equal(pipe(h.stop), 0);
	holder = harness_spawn_as(FLOODER_UID, FLOODER_UID, holder_main, &h);
	assert_true(holder > 0);
	assert_int_equal(read(h.ready[0], &b, 1), 1);
	assert_int_equal(harness_restart_in_place(&d), 0);
	assert_int_equal(write(h.go[1], &b, 1), 1);
	assert_int_equal(read(h.dropped[0], &b, 1), 1);
	harness_expect_logged(&d, "does not decode");

	client_as(FLOODER_UID, refused_main, &d);
	assert_int_equal(write(h.stop[1], &b, 1), 1);
	assert_int_equal(harness_wait(holder), 0);
	client_as(FLOODER_UID, other_main, &d);
	assert_int_equal(harness_stop(&d), 0);
}

/* A datagram the daemon sent: its length and the descriptors it passed. */
struct dgram {
	size_t len;
	int nfds;
};

/*
 * Everything in connection fd's socket, read to its end (the daemon shut
 * down its side): each datagram's length and descriptors in got[], the
 * descriptors closed.  How many datagrams, or -1 if no end came.
 */
static int
read_to_end(int fd, struct dgram *got)
{
	static uint8_t buf[65536];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} cm;

	for (int n = 0; n < MAX_UNREAD; n++) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf)};
		struct cmsghdr *c;
		ssize_t len;

		if (poll(&pfd, 1, 10000) != 1)
			return -1;
		if ((len = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) <= 0)
			return len == 0 ? n : -1;
		got[n].len = (size_t)len;
		got[n].nfds = 0;
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < k; i++) {
				int passed;

				memcpy(&passed, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
				close(passed);
			}
			got[n].nfds += k;
		}
	}
	return -1;
}

/*
 * How many of the n datagrams of got[], sent again in order (from the
 * first again after the last, up to max in all), each as long and passing
 * as many descriptors, a socket takes before it is full, none of them
 * read, with a send buffer of sndbuf as SO_SNDBUF asks for it (0: the
 * machine's default, net.core.wmem_default).
 */
static int
buffer_holds(const struct dgram *got, int n, int max, int sndbuf)
{
	static uint8_t buf[65536];
	int sv[2], passed, fd[8], i;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(fd))];
	} cm;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (passed = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (sndbuf)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
				 sizeof(sndbuf));
	for (i = 0; i < 8; i++)
		fd[i] = passed;
	for (i = 0; i < max; i++) {
		const struct dgram *g = &got[i % n];
		struct iovec iov = {.iov_base = buf, .iov_len = g->len};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

		if (g->nfds > 0) {
			struct cmsghdr *c;

			memset(&cm, 0, sizeof(cm));
			msg.msg_control = cm.buf;
			msg.msg_controllen = CMSG_SPACE((size_t)g->nfds *
							sizeof(int));
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN((size_t)g->nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fd, (size_t)g->nfds * sizeof(int));
		}
		if (sendmsg(sv[0], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
			break;
	}
	close(sv[0]);
	close(sv[1]);
	close(passed);
	return i;
}

/*
 * One connection that floods until the daemon lets it go, then reads
 * what it was left: no more than a socket with the daemon's send buffer
 * holds of the same datagrams.
 */
static int
one_buffer_main(void *arg)
{
	static struct dgram got[MAX_UNREAD];
	const char *sock = arg;
	int fd = harness_raw_connect(sock), n, fds = 0, fixed, machine;

	CHECK(fd >= 0, 2);
	CHECK(flood(fd) > 0, 3);
	CHECK((n = read_to_end(fd, got)) > 0, 4);
	for (int i = 0; i < n; i++)
		fds += got[i].nfds;
	fixed = buffer_holds(got, n, n, DAEMON_SNDBUF);
	machine = buffer_holds(got, n, MAX_UNREAD, 0);
	fprintf(stderr, "one connection held %d replies unread, %d "
		"descriptors among them; a send buffer of %d bytes (SO_SNDBUF) "
		"holds %d of them, the machine's default %d such replies\n",
		n, fds, DAEMON_SNDBUF, fixed, machine);
	CHECK(fds > 0, 5);
	CHECK(fixed == n, 6);
	close(fd);
	return 0;
}

/*
 * A connection's descriptors in flight are bounded by the send buffer
 * the daemon gives it, not by net.core.wmem_default: an administrator
 * who raised that (common tuning) multiplied what each connection held,
 * and max_connections of them could pass the unit's LimitNOFILE.  The
 * flooder's connection, read to its end once the daemon let it go, held
 * as many replies as a socket of the machine's default buffer takes
 * (some 270 at the kernel's 212992 bytes), where a buffer of the
 * daemon's takes fewer; now it holds no more than that.
 */
static void
connection_holds_the_daemons_buffer(void **state)
{
	struct daemon_proc d;

	(void)state;
	start_unprivileged(&d, NULL, "[pool s]\nsize = 1M\nmode = 0666\n");
	client_as(FLOODER_UID, one_buffer_main, &d);
	harness_expect_logged(&d, "does not read its replies");
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A daemon whose SO_SNDBUF is capped at 16 KiB, as net.core.wmem_max of
 * 16384 caps it (fail_wmem_max.so; the machine's own is every process's
 * to share): a listing of names as long as a reply may be, some 64 KiB,
 * comes whole.  Before, the daemon asked for its 128 KiB on every
 * connection and got 32 KiB, which the kernel refuses a datagram over:
 * the listing's send failed (EMSGSIZE) and the client lost its
 * connection, where the machine's default buffer had held it.  Now the
 * daemon leaves the default where the cap would put the largest reply
 * out of reach, and says so.
 */
static void
largest_reply_fits_under_a_small_wmem_max(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_named *names;
	struct pool *p;
	char *saved, name[LONG_NAME + 1];
	size_t n, total;
	pool_off_t off;
	int rc;

	(void)state;
	saved = harness_preload("fail_wmem_max.so");
	setenv("POOLMGR_WMEM_MAX", "16384", 1);
	rc = harness_start(&d, "[pool s]\nsize = 4M\n");
	unsetenv("POOLMGR_WMEM_MAX");
	harness_preload_off(saved);
	assert_int_equal(rc, 0);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_open(c, "s", &p), 0);
	for (int i = 0; i < LONG_NAMES; i++) {
		int len = snprintf(name, sizeof(name), "long/%05d/", i);

		memset(name + len, 'x', LONG_NAME - (size_t)len);
		name[LONG_NAME] = '\0';
		assert_int_equal(pool_alloc(p, 16, &off), 0);
		assert_int_equal(pool_publish(p, off, name), 0);
	}
	rc = pool_names(c, "s", NULL, &names, &n, &total);
	fprintf(stderr, "a listing of %zu names of %d bytes under a send "
		"buffer capped at 16 KiB: %d\n", rc ? 0 : n, LONG_NAME, rc);
	assert_int_equal(rc, 0);
	/* Over the 32 KiB the capped buffer takes. */
	assert_true(n * LONG_NAME > 32768);
	free(names);
	pool_close(p);
	pool_disconnect(c);
	harness_expect_logged(&d, "net.core.wmem_max");
	assert_int_equal(harness_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unread_descriptors_starve_nobody),
		cmocka_unit_test(kept_connections_closed_at_stop),
		cmocka_unit_test(kept_connections_counted_after_restart),
		cmocka_unit_test(kept_connections_in_status),
		cmocka_unit_test(kept_connections_looked_at_in_turn),
		cmocka_unit_test(kept_connections_let_go_unasked),
		cmocka_unit_test(kept_connections_let_go_unasked_after_restart),
		cmocka_unit_test(taken_over_unread_reply_kept),
		cmocka_unit_test(connection_holds_the_daemons_buffer),
		cmocka_unit_test(largest_reply_fits_under_a_small_wmem_max),
	};

	return cmocka_run_group_tests(tests, restart_kept_setup,
				      restart_kept_teardown);
}
