/*
 * liar_daemon.c - the fake daemon's life (liar_daemon.h): started in a
 * child process, serving its one connection, finished and its log read;
 * which request it lies to, and what it sends.  And the children the
 * tests wait for.  Its replies are liar_pool.c's and liar_lists.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "liar_fake.h"

#define MAX_MESSAGE	65536
#define FAKE_IDLE_MS	10000		/* an abandoned fake gives up */

/* ---- which request it lies to ------------------------------------------- */

bool
bounds_case(enum lie lie)
{
	return lie == BOUNDS_SENT || lie == LIE_BOUNDS_WITHOUT_BIT ||
	       lie == LIE_BOUNDS_ABSENT;
}

bool
refill_case(enum lie lie)
{
	return lie == LIE_REFILL_DUPLICATE || lie == LIE_REFILL_OVERLAP;
}

bool
restart_case(enum lie lie)
{
	return lie == RESTART_THEN_EDQUOT || lie == RESTART_THEN_TIMEDOUT ||
	       lie == RESTART_THEN_BLOCK || lie == RESTART_EARLY_THEN_EDQUOT;
}

/* Is lie one of ListBlocks' (so the fake announces the request)? */
static bool
blocks_case(enum lie lie)
{
	return lie >= BLOCKS_NONE && lie <= LIE_BLOCKS_HOLDERS_OVER;
}

/* Is lie one of the user quota entries' (so the fake says bit 11)? */
static bool
uquota_case(enum lie lie)
{
	return lie >= UQUOTA_NONE && lie <= LIE_UQUOTA_COUNT_BELIED;
}

/* The fakes that say features bit 6 (and answer Persist and Retain). */
static bool
persist_lie(enum lie lie)
{
	return lie == LIE_PERSIST_IGNORED || lie == LIE_PERSIST_UNSAID ||
	       lie == LIE_BATCH_PERSIST_IGNORED;
}

bool
lie_now(struct fake_state *fs, Poolmgr__Request__BodyCase body)
{
	Poolmgr__Request__BodyCase target;

	switch (fs->lie) {
	case LIE_NONE: case LIE_MAP_OLD_DAEMON: case LIE_MAP_UNSEALED:
	case LIE_MAP_FROZEN_AGAIN: case LIE_OLD_LOOKUP: case LIE_LOOKUP_EINTR:
	case LIE_OLD_ALLOC: case LIE_PERSIST_IGNORED: case LIE_PERSIST_UNSAID:
	case RESTART_THEN_EDQUOT: case RESTART_THEN_TIMEDOUT:
	case RESTART_THEN_BLOCK: case RESTART_EARLY_THEN_EDQUOT:
	case LIE_BATCH_PERSIST_IGNORED:
	case BOUNDS_SENT: case LIE_BOUNDS_WITHOUT_BIT: case LIE_BOUNDS_ABSENT:
	case REFUSE_TWO_ALLOCS: case REFUSE_AFTER_OPEN:
	case REFUSE_AMID_OTHERS: case LIST_NONE: case LIST_OLD:
	case LIE_LIST_STUCK: case LIE_LIST_UNSORTED: case LIE_LIST_EMPTY_MORE:
	case LIE_LIST_ENDLESS:
	case BLOCKS_NONE: case LIE_BLOCKS_STUCK: case LIE_BLOCKS_DOWN:
	case LIE_BLOCKS_129: case LIE_BLOCKS_BEHIND: case LIE_BLOCKS_NEXT_BACK:
	case LIE_BLOCKS_5_HOLDERS: case LIE_BLOCKS_HOLDERS_OVER:
	case UQUOTA_NONE: case LIE_UQUOTA_33: case LIE_UQUOTA_UNSORTED:
	case LIE_UQUOTA_TWICE: case LIE_UQUOTA_NOBODY:
	case LIE_UQUOTA_COUNT_33: case LIE_UQUOTA_COUNT_BELIED:
	case TOOK_SAID: case LIE_TOOK_WITHOUT_BIT: case STATUS_OLD:
		return false;
	case LIE_OPEN_UNSEALED: case LIE_OPEN_NO_GROW_SEAL:
	case LIE_OPEN_NO_SHRINK_SEAL: case LIE_OPEN_SMALLER:
	case LIE_OPEN_LARGER: case LIE_OPEN_NO_FD: case LIE_OPEN_RDONLY_FD:
	case LIE_OPEN_PIPE_FD: case LIE_OPEN_HANDLE_0:
	case LIE_OPEN_SAYS_READ_ONLY: case LIE_OPEN_GRANULARITY_0:
	case LIE_OPEN_GRANULARITY_24: case LIE_OPEN_PAGE_0: case LIE_HANG_UP:
		target = POOLMGR__REQUEST__BODY_OPEN;
		break;
	case LIE_BATCH_SHORT: case LIE_BATCH_OUTSIDE:
	case LIE_BATCH_OFF_GRANULE: case LIE_BATCH_DUPLICATE:
	case LIE_BATCH_OVERLAP: case LIE_BATCH_USABLE_OVERLAP:
	case LIE_REFILL_DUPLICATE: case LIE_REFILL_OVERLAP:
		target = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
		break;
	case LIE_USABLE_OTHER_OFFSET:
		target = POOLMGR__REQUEST__BODY_USABLE_SIZE;
		break;
	default:
		target = POOLMGR__REQUEST__BODY_ALLOC;
		break;
	}
	if (fs->lied || body != target)
		return false;
	fs->lied = true;
	return true;
}

/* ---- what it sends ------------------------------------------------------ */

int
fake_send(int fd, const Poolmgr__Reply *rep, const int *fds, int nfds)
{
	static uint8_t buf[MAX_MESSAGE];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = buf};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	size_t len = poolmgr__reply__get_packed_size(rep);

	if (len > sizeof(buf))
		return -1;
	poolmgr__reply__pack(rep, buf);
	iov.iov_len = len;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

Poolmgr__Reply
fake_reply(const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;

	rep.id = req->id;
	return rep;
}

int
fake_refuse(struct fake_state *fs, int cfd)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;

	fprintf(fs->log, "refused\n");
	rep.id = 0;
	rep.error = -EUSERS;
	rep.message = REFUSAL_WORDS;
	return fake_send(cfd, &rep, NULL, 0);
}

/* ---- its life ----------------------------------------------------------- */

/* One request: answer it (or lie).  0, 1 to hang up, or -1 to stop. */
static int
fake_serve_one(struct fake_state *fs, int cfd, const uint8_t *buf,
	       size_t len)
{
	Poolmgr__HelloReply hr = POOLMGR__HELLO_REPLY__INIT;
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	Poolmgr__Reply rep;
	int rc = 0;

	if (!req) {
		fprintf(fs->log, "fake: a request that does not decode\n");
		return -1;
	}
	rep = fake_reply(req);
	switch (req->body_case) {
	case POOLMGR__REQUEST__BODY_HELLO:
		fprintf(fs->log, "hello %u\n", req->hello->version);
		hr.version = 1;
		hr.max_message = MAX_MESSAGE;
		hr.server = "a liar";
		if (fs->lie != LIE_OLD_LOOKUP && fs->lie != LIST_OLD)
			hr.features = FEATURE_LOOKUP_WAIT | FEATURE_POOL_LIMIT;
		if (hr.features && fs->lie != LIE_OLD_ALLOC)
			hr.features |= FEATURE_ALLOC_WAIT | FEATURE_USER_QUOTA;
		if (persist_lie(fs->lie))
			hr.features |= FEATURE_ALLOC_PERSIST;
		if (fs->lie == LIE_BATCH_PERSIST_IGNORED)
			hr.features |= FEATURE_BATCH_PERSIST;
		if (fs->lie == BOUNDS_SENT || fs->lie == LIE_BOUNDS_ABSENT)
			hr.features |= FEATURE_BATCH_BOUNDS;
		if (blocks_case(fs->lie))
			hr.features |= FEATURE_LIST_BLOCKS;
		if (uquota_case(fs->lie))
			hr.features |= FEATURE_USER_QUOTAS;
		if (fs->lie == TOOK_SAID)
			hr.features |= FEATURE_RETAINED_NOW;
		if (fs->lie == STATUS_OLD)
			hr.features |= FEATURE_DAEMON_STATS;
		rep.body_case = POOLMGR__REPLY__BODY_HELLO;
		rep.hello = &hr;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_OPEN:
		rc = fake_open(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_CLOSE:
		fprintf(fs->log, "close %u\n", req->close->handle);
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_ALLOC:
		rc = fake_alloc(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_ALLOC_BATCH:
		rc = fake_alloc_batch(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_FREE:
		fake_free_logged(fs, req->free->offset);
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_FREE_BATCH:
		rc = fake_free_batch(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_USABLE_SIZE:
		rc = fake_usable_size(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_SHARE_MAP:
		rc = fake_share_map(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_LOOKUP:
		rc = fake_lookup(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_LIST:
		rc = fake_list(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_LIST_BLOCKS:
		rc = fake_blocks(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_STATS:
		if (uquota_case(fs->lie)) {
			rc = fake_stats(fs, cfd, req);
			break;
		}
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_NAMES:
		if (fs->lie == NAMES_OLD) {
			rc = fake_names(fs, cfd, req);
			break;
		}
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_DAEMON_STATS:
		if (fs->lie == STATUS_OLD) {
			rc = fake_daemon_stats(fs, cfd, req);
			break;
		}
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_PERSIST:
	case POOLMGR__REQUEST__BODY_RETAIN:
		if (persist_lie(fs->lie)) {
			rc = fake_persist_op(fs, cfd, req);
			break;
		}
		__attribute__((fallthrough));	/* the others know none */
	default:
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	}
	poolmgr__request__free_unpacked(req, NULL);
	fflush(fs->log);
	return rc;
}

/* The fake's life: one connection, served until the client hangs up. */
static int
fake_main(int lfd, enum lie lie, FILE *log)
{
	static uint8_t buf[MAX_MESSAGE + 1];
	struct fake_state fs = {.lie = lie, .next_handle = FAKE_HANDLE,
				.log = log};
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	ssize_t n;
	int cfd, rc;

	if (poll(&pfd, 1, FAKE_IDLE_MS) != 1)
		return 2;
	if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return 3;
	close(lfd);
	pfd.fd = cfd;
	for (;;) {
		if (poll(&pfd, 1, FAKE_IDLE_MS) != 1)
			return 4;
		n = recv(cfd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			break;
		if (n < 0)
			return 5;
		rc = fake_serve_one(&fs, cfd, buf, (size_t)n);
		if (rc == 1) {
			fprintf(log, "hung up\n");
			close(cfd);
			return 0;
		}
		if (rc != 0)
			return 6;
	}
	fprintf(log, "eof\n");
	close(cfd);
	return 0;
}

void
fake_start(struct fake *f, enum lie lie)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd, pipefd[2], rc;
	FILE *log;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/poolmgr-liar.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/liar.sock", f->dir);
	memcpy(sun.sun_path, f->sock, strlen(f->sock) + 1);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	/*
	 * The fake leaves by _exit, which does not flush stdio, but under
	 * ThreadSanitizer output pending here was printed a second time.
	 */
	fflush(stdout);
	fflush(stderr);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(pipefd[0]);
		if (!(log = fdopen(pipefd[1], "w")))
			_exit(1);
		rc = fake_main(lfd, lie, log);
		fclose(log);	/* _exit would not flush it */
		_exit(rc);
	}
	close(pipefd[1]);
	close(lfd);
	f->logfd = pipefd[0];
}

struct child_end
fake_finish(struct fake *f, char *log, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	struct child_end rc = wait_at_most(f->pid, CLIENT_TIMEOUT_MS);

	while (n + 1 < cap && (r = read(f->logfd, log + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	log[n] = '\0';
	close(f->logfd);
	unlink(f->sock);
	rmdir(f->dir);
	return rc;
}

/* ---- how a child process ended ------------------------------------------ */

struct child_end
wait_at_most(pid_t pid, long ms)
{
	struct child_end e;
	int status;
	long waited;

	for (waited = 0; waited <= ms; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid && WIFSIGNALED(status)) {
			e.how = CHILD_KILLED;
			e.code = WTERMSIG(status);
			return e;
		}
		if (r == pid) {
			/* Without WUNTRACED, what did not die exited. */
			assert_true(WIFEXITED(status));
			e.how = CHILD_EXITED;
			e.code = WEXITSTATUS(status);
			return e;
		}
		if (r == -1) {
			e.how = CHILD_LOST;
			e.code = errno;
			return e;
		}
		harness_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	e.how = CHILD_HUNG;
	e.code = (int)ms;
	return e;
}

bool
child_passed(struct child_end e)
{
	return e.how == CHILD_EXITED && e.code == 0;
}

const char *
child_end_words(struct child_end e, const char *exited, char *buf,
		size_t len)
{
	switch (e.how) {
	case CHILD_EXITED:
		snprintf(buf, len, "%s %d", exited, e.code);
		break;
	case CHILD_KILLED:
		snprintf(buf, len, "crashed with signal %d (%s)", e.code,
			 strsignal(e.code));
		break;
	case CHILD_HUNG:
		snprintf(buf, len, "hung (killed after %d ms)", e.code);
		break;
	case CHILD_LOST:
		snprintf(buf, len, "could not be waited for (%s)",
			 strerror(e.code));
		break;
	}
	return buf;
}
