/*
 * itest_share.c - processes share bytes through offsets.
 *
 * A writer child allocates blocks in a pool and fills them with a pattern,
 * then passes the offsets through a pipe to a reader child, which opens the
 * same pool and finds the same bytes at pool_ptr(offset); the offsets
 * round-trip through pool_offset_of.  The reader writes an answer into the
 * blocks that the writer then sees.
 *
 * A second test runs the reader as another uid (65534) on a 0644 pool:
 * read-write open is -EACCES; a read-only open reads the bytes; a store
 * through the read-only mapping kills (SIGSEGV or SIGBUS) the grandchild
 * that tries it; every changing call through the read-only handle is
 * -EACCES, a Free of a block it holds no reference on too (a retain, and
 * the Free of that reference, go: they change no byte); and the pool's
 * memfd, received the way any client receives it, cannot be reopened
 * read-write through /proc/self/fd nor mapped writable.
 *
 * A third shows that a read-write client, holding the memfd as writable as
 * any client can, cannot change its size: truncating, growing, punching
 * past its end and new seals are all refused (it is sealed), so no client
 * can make another's mapping fault.
 *
 * A fourth shows that a pool's mapping is left out of core dumps, the
 * client's and the daemon's (VmFlags "dd" in /proc/PID/smaps): a dump
 * reads every page of a mapping, which on the memfd makes every page no
 * block uses resident, past the pool's limit, and writes the whole pool
 * into the core.
 *
 * Children report through their exit codes (each failed check has its own
 * code and a line on stderr); the parent asserts them.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define POOL_NAME	"share"
#define POOL_BYTES	(1024 * 1024)
#define NBLOCKS		6
#define OTHER_ID	65534
#define CHILD_ALARM	20	/* seconds: no child may hang the test */

/* Sizes from one byte to a page span (above the 128 KiB threshold). */
static const size_t block_sizes[NBLOCKS] = {1, 24, 100, 4096, 12345, 200000};

/* What the writer tells its reader. */
struct share_msg {
	uint64_t off[NBLOCKS];
	uint64_t len[NBLOCKS];
};

/* The pipes of one test: data writer -> reader, done reader -> writer. */
struct share_pipes {
	int data[2];
	int done[2];
};

struct writer_arg {
	struct share_pipes *pp;
	int expect_answer;	/* the reader overwrites each block */
};

static struct daemon_proc daemon_proc;
static pid_t kids[8];
static int nkids;

/* A failed check in a child: say what, exit with its own code. */

/* ---- helpers ------------------------------------------------------------ */

static uint8_t
pattern(unsigned blk, size_t k)
{
	return (uint8_t)(0x5a ^ (blk * 37u) ^ (unsigned)(k * 131u) ^
			 (unsigned)(k >> 9));
}

static void
make_pipes(struct share_pipes *pp)
{
	assert_int_equal(pipe2(pp->data, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pp->done, O_CLOEXEC), 0);
}

static void
close_pipes(struct share_pipes *pp)
{
	harness_close_fd(&pp->data[0]);
	harness_close_fd(&pp->data[1]);
	harness_close_fd(&pp->done[0]);
	harness_close_fd(&pp->done[1]);
}

static void
remember_kid(pid_t pid)
{
	assert_true(pid > 0);
	if (nkids < (int)(sizeof(kids) / sizeof(kids[0])))
		kids[nkids++] = pid;
}

/* Wait for a child we spawned; its exit code (128 + signal if killed). */
static int
wait_kid(pid_t pid)
{
	int i;

	for (i = 0; i < nkids; i++) {
		if (kids[i] == pid) {
			kids[i] = kids[--nkids];
			break;
		}
	}
	return harness_wait(pid);
}

static void
expect_kid_ok(pid_t pid, const char *what)
{
	int rc = wait_kid(pid);

	if (rc != 0)
		fail_msg("%s child exited with %d (see its stderr above)",
			 what, rc);
}

static void
start_daemon(const char *extra)
{
	if (harness_start(&daemon_proc, extra) != 0)
		fail_msg("harness_start failed (build %s)", harness_build());
}

static void
stop_daemon(void)
{
	assert_int_equal(harness_stop(&daemon_proc), 0);
}

/* Create the test pool as root (trusted): 1 MiB, mode 0644. */
static void
create_pool(void)
{
	struct pool_create_opts o = {.max_size = POOL_BYTES, .mode = 0644};
	struct pool_conn *c = NULL;
	int rc;

	assert_int_equal(pool_connect(NULL, &c), 0);
	rc = pool_create(c, POOL_NAME, &o);
	if (rc)
		fail_msg("pool_create: %s", pool_strerror(rc));
	pool_disconnect(c);
}

/* After everyone is gone: nothing live, nobody open, invariants hold. */
static void
expect_pool_empty(void)
{
	struct pool_conn *c = NULL;
	struct pool_stats st;
	char msg[256] = "";
	int rc;

	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, POOL_NAME, &st), 0);
	assert_int_equal(st.allocated_bytes, 0);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.clients, 0);
	assert_int_equal(st.mode, 0644);
	rc = pool_check_by_name(c, POOL_NAME, msg, sizeof(msg));
	if (rc)
		fail_msg("pool_check_by_name: %s: %s", pool_strerror(rc), msg);
	pool_disconnect(c);
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		harness_wait(kids[i]);
	}
	nkids = 0;
	if (daemon_proc.pid > 0)
		harness_stop(&daemon_proc);
	return 0;
}

/* ---- children ----------------------------------------------------------- */

/*
 * Every block holds the pattern (want_answer 0) or its complement (1);
 * pool_offset_of(pool_ptr(off)) == off at both ends of the block.  Returns
 * 0, or the index + 1 of the first block that does not match.
 */
static int
blocks_hold(struct pool *p, const struct share_msg *m, int want_answer)
{
	const uint8_t *b;
	uint8_t want;
	unsigned i;
	size_t k;

	for (i = 0; i < NBLOCKS; i++) {
		b = pool_ptr(p, m->off[i]);
		if (!b || pool_offset_of(p, b) != m->off[i] ||
		    pool_offset_of(p, b + m->len[i] - 1) !=
		    m->off[i] + m->len[i] - 1) {
			fprintf(stderr, "block %u at %#llx: pool_ptr / "
				"pool_offset_of do not round-trip\n", i,
				(unsigned long long)m->off[i]);
			return (int)i + 1;
		}
		for (k = 0; k < m->len[i]; k++) {
			want = pattern(i, k);
			if (want_answer)
				want = (uint8_t)~want;
			if (b[k] != want) {
				fprintf(stderr, "block %u at %#llx: byte %zu "
					"is %#x, expected %#x\n", i,
					(unsigned long long)m->off[i], k,
					b[k], want);
				return (int)i + 1;
			}
		}
	}
	return 0;
}

/*
 * The writer: allocate, fill, send the offsets; when the reader is done,
 * check what it left, free everything and close.
 */
static int
writer_child(void *arg)
{
	struct writer_arg *wa = arg;
	struct share_pipes *pp = wa->pp;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct share_msg m;
	size_t usable;
	uint8_t *b, done;
	unsigned i;
	size_t k;

	alarm(CHILD_ALARM);
	harness_close_fd(&pp->data[0]);
	harness_close_fd(&pp->done[1]);
	CHECK_RC(pool_connect(NULL, &c), 0, 10);
	CHECK_RC(pool_open(c, POOL_NAME, &p), 0, 11);
	for (i = 0; i < NBLOCKS; i++) {
		CHECK_RC(pool_alloc(p, block_sizes[i], &m.off[i]), 0, 12);
		CHECK_RC(pool_usable_size(p, m.off[i], &usable), 0, 13);
		CHECK(usable >= block_sizes[i], 14);
		m.len[i] = block_sizes[i];
		b = pool_ptr(p, m.off[i]);
		CHECK(b != NULL, 15);
		for (k = 0; k < m.len[i]; k++)
			b[k] = pattern(i, k);
	}
	/* The reader counts blocks: none a cache refill brought along. */
	CHECK_RC(pool_flush(p), 0, 18);
	CHECK(harness_write_full(pp->data[1], &m, sizeof(m)) == 0, 16);
	harness_close_fd(&pp->data[1]);
	/* The reader says it is done (or dies: then this fails). */
	CHECK(harness_read_full(pp->done[0], &done, 1) == 0, 17);
	CHECK(done == 'D', 18);
	CHECK(blocks_hold(p, &m, wa->expect_answer) == 0, 19);
	for (i = 0; i < NBLOCKS; i++)
		CHECK_RC(pool_free(p, m.off[i]), 0, 20);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * The reader, same uid: read the offsets, open the pool, find the bytes,
 * answer by complementing every byte.
 */
static int
reader_child(void *arg)
{
	struct share_pipes *pp = arg;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct share_msg m;
	size_t usable;
	uint8_t *b, local = 0;
	unsigned i;
	size_t k;

	alarm(CHILD_ALARM);
	harness_close_fd(&pp->data[1]);
	harness_close_fd(&pp->done[0]);
	CHECK(harness_read_full(pp->data[0], &m, sizeof(m)) == 0, 30);
	CHECK_RC(pool_connect(NULL, &c), 0, 31);
	CHECK_RC(pool_open(c, POOL_NAME, &p), 0, 32);
	CHECK(pool_size(p) == POOL_BYTES, 33);
	for (i = 0; i < NBLOCKS; i++) {
		CHECK_RC(pool_usable_size(p, m.off[i], &usable), 0, 34);
		CHECK(usable >= m.len[i], 35);
	}
	CHECK(blocks_hold(p, &m, 0) == 0, 36);
	/* Outside the mapping there is no address and no offset. */
	CHECK(pool_ptr(p, pool_size(p)) == NULL, 37);
	CHECK(pool_offset_of(p, &local) == POOL_OFF_NONE, 38);
	for (i = 0; i < NBLOCKS; i++) {
		b = pool_ptr(p, m.off[i]);
		for (k = 0; k < m.len[i]; k++)
			b[k] = (uint8_t)~b[k];
	}
	CHECK(harness_write_full(pp->done[1], "D", 1) == 0, 39);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/* ---- the read-only client's checks -------------------------------------- */

/*
 * Restore the default action of a signal with the raw system call: under
 * ASan, sigaction() is intercepted and the sanitizer keeps its SIGSEGV
 * handler, which would turn the fault into an exit code.
 */
static void
default_action_raw(int sig)
{
	/* The kernel's struct: SIG_DFL, no flags, no restorer, no mask. */
	unsigned long ksa[4] = {0, 0, 0, 0};

	syscall(SYS_rt_sigaction, sig, ksa, NULL, sizeof(uint64_t));
}

/*
 * Store one byte at off through the read-only mapping in a grandchild.
 * Returns 0 if it died of SIGSEGV or SIGBUS, else a description code.
 */
static int
store_faults(struct pool *ro, uint64_t off)
{
	struct rlimit nocore = {0, 0};
	volatile uint8_t *b = pool_ptr(ro, off);
	int status;
	pid_t pid;

	if (!b)
		return 1;
	pid = fork();
	if (pid == -1)
		return 2;
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &nocore);
		default_action_raw(SIGSEGV);
		default_action_raw(SIGBUS);
		b[0] = (uint8_t)(b[0] + 1);
		_exit(0);	/* the store went through */
	}
	if (waitpid(pid, &status, 0) != pid)
		return 3;
	if (WIFSIGNALED(status) &&
	    (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS))
		return 0;
	fprintf(stderr, "grandchild storing at %#llx: %s %d, expected "
		"death by SIGSEGV/SIGBUS\n", (unsigned long long)off,
		WIFSIGNALED(status) ? "signal" : "exit",
		WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	return 4;
}

/*
 * One request and its reply over a raw connection; the reply's fd too
 * (which harness_raw_call would close: the test examines it).
 */
static int
raw_call(int s, uint64_t id, Poolmgr__Request *req, Poolmgr__Reply **rep,
	 int *fdp)
{
	static uint8_t buf[65536];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} cb;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr msg = {0};
	struct cmsghdr *cm;
	size_t len, i, nfd;
	ssize_t n;
	int fd;

	*rep = NULL;
	*fdp = -1;
	req->id = id;
	len = poolmgr__request__get_packed_size(req);
	if (len > sizeof(buf))
		return -EMSGSIZE;
	poolmgr__request__pack(req, buf);
	if (send(s, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -errno;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cb.b;
	msg.msg_controllen = sizeof(cb.b);
	do
		n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return -ECONNRESET;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(fd));
			if (*fdp == -1)
				*fdp = fd;
			else
				close(fd);
		}
	}
	*rep = poolmgr__reply__unpack(NULL, (size_t)n, buf);
	if (!*rep || (*rep)->id != id) {
		if (*rep)
			poolmgr__reply__free_unpacked(*rep, NULL);
		*rep = NULL;
		harness_close_fd(fdp);
		return -EPROTO;
	}
	return 0;
}

/*
 * libpoolclient closes the memfd once it has mapped it, so to hold the
 * descriptor the way any client could, speak the protocol directly: Hello,
 * then OpenPool{read_only}.  Returns the socket (keep it open while the
 * descriptor is examined) and the descriptor in *memfd, or -1.
 */
static int
raw_open_readonly(const char *pool, int *memfd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello hello = POOLMGR__HELLO__INIT;
	Poolmgr__OpenPool op = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep = NULL;
	const char *path = getenv("POOLMGRD_SOCKET");
	int s, fd = -1, rc, ok;

	*memfd = -1;
	if (!path)
		return -1;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (s == -1 || connect(s, (struct sockaddr *)&sun, sizeof(sun))) {
		perror("raw connect");
		if (s != -1)
			close(s);
		return -1;
	}
	hello.version = 1;
	hello.client_name = (char *)"itest_share-raw";
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &hello;
	rc = raw_call(s, 1, &req, &rep, &fd);
	ok = rc == 0 && rep->error == 0 &&
	     rep->body_case == POOLMGR__REPLY__BODY_HELLO && fd == -1;
	if (rep)
		poolmgr__reply__free_unpacked(rep, NULL);
	if (!ok) {
		fprintf(stderr, "raw Hello failed (%d)\n", rc);
		harness_close_fd(&fd);
		close(s);
		return -1;
	}
	op.name = (char *)pool;
	op.read_only = 1;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &op;
	rc = raw_call(s, 2, &req, &rep, &fd);
	ok = rc == 0 && rep->error == 0 &&
	     rep->body_case == POOLMGR__REPLY__BODY_OPEN && rep->open &&
	     rep->open->read_only && fd >= 0;
	if (!ok)
		fprintf(stderr, "raw OpenPool(read_only) failed: rc %d, "
			"error %d, fd %d\n", rc, rep ? rep->error : 0, fd);
	if (rep)
		poolmgr__reply__free_unpacked(rep, NULL);
	if (!ok) {
		harness_close_fd(&fd);
		close(s);
		return -1;
	}
	*memfd = fd;
	return s;
}

/*
 * The descriptors among /proc/self/fd that are the pool's memfd (readlink
 * "/memfd:poolmgr:NAME (deleted)").  Returns how many, at most max.
 */
static int
find_memfds(const char *pool, int *fds, int max)
{
	char want[128], path[64], link[256];
	struct dirent *e;
	ssize_t len;
	int n = 0, fd;
	DIR *d;

	snprintf(want, sizeof(want), "/memfd:poolmgr:%s (deleted)", pool);
	if (!(d = opendir("/proc/self/fd")))
		return -1;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, want) == 0)
			fds[n++] = fd;
	}
	closedir(d);
	return n;
}

/*
 * The read-only descriptor: found in /proc/self/fd under the memfd's name,
 * O_RDONLY, reopening it read-write through /proc is EACCES, a writable
 * shared mapping is refused, a read-only one shows the writer's bytes.
 */
static int
memfd_stays_read_only(const struct share_msg *m, uint64_t size)
{
	int s, memfd, fds[8], n, i, rw, found = 0;
	char path[64];
	uint8_t *map;
	size_t k;

	s = raw_open_readonly(POOL_NAME, &memfd);
	CHECK(s >= 0, 70);
	n = find_memfds(POOL_NAME, fds, 8);
	CHECK(n >= 1, 71);
	for (i = 0; i < n; i++) {
		found |= fds[i] == memfd;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[i]);
		rw = open(path, O_RDWR | O_CLOEXEC);
		if (rw >= 0) {
			fprintf(stderr, "%s reopened read-write as uid %u\n",
				path, (unsigned)getuid());
			close(rw);
			return 72;
		}
		if (errno != EACCES) {
			fprintf(stderr, "reopening %s: %s, expected EACCES\n",
				path, strerror(errno));
			return 73;
		}
	}
	CHECK(found, 74);
	CHECK((fcntl(memfd, F_GETFL) & O_ACCMODE) == O_RDONLY, 75);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	CHECK(map == MAP_FAILED && errno == EACCES, 76);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, memfd, 0);
	CHECK(map != MAP_FAILED, 77);
	for (k = 0; k < m->len[3]; k++)
		CHECK(map[m->off[3] + k] == pattern(3, k), 78);
	munmap(map, size);
	close(memfd);
	close(s);
	return 0;
}

/*
 * The reader of another uid on the 0644 pool.  Writes nothing; every
 * refusal must be exactly -EACCES.
 */
static int
other_uid_reader_child(void *arg)
{
	struct share_pipes *pp = arg;
	struct pool_conn *c = NULL;
	struct pool *ro = NULL, *rw = NULL;
	struct pool_stats st;
	struct share_msg m;
	pool_off_t off;
	size_t usable;
	uint8_t before;
	int rc;

	alarm(CHILD_ALARM);
	harness_close_fd(&pp->data[1]);
	harness_close_fd(&pp->done[0]);
	CHECK(getuid() == OTHER_ID && geteuid() == OTHER_ID, 50);
	CHECK(harness_read_full(pp->data[0], &m, sizeof(m)) == 0, 51);
	CHECK_RC(pool_connect(NULL, &c), 0, 52);

	/* 0644: no w for others. */
	CHECK_RC(pool_open(c, POOL_NAME, &rw), -EACCES, 53);
	CHECK(rw == NULL, 54);
	CHECK_RC(pool_open_readonly(c, POOL_NAME, &ro), 0, 55);

	/* (1) Reading works. */
	CHECK(blocks_hold(ro, &m, 0) == 0, 56);
	CHECK_RC(pool_usable_size(ro, m.off[2], &usable), 0, 57);
	CHECK(usable >= m.len[2], 58);
	CHECK_RC(pool_stats(ro, &st), 0, 59);
	CHECK(st.live_blocks == NBLOCKS, 60);

	/* (2) A store through the read-only mapping faults. */
	before = *(uint8_t *)pool_ptr(ro, m.off[0]);
	CHECK((rc = store_faults(ro, m.off[0])) == 0, 61);
	CHECK((rc = store_faults(ro, m.off[5] + 4096)) == 0, 62);
	CHECK(*(uint8_t *)pool_ptr(ro, m.off[0]) == before, 63);

	/* (3) The memfd cannot be made writable. */
	rc = memfd_stays_read_only(&m, pool_size(ro));
	if (rc)
		return rc;

	/* (4) Nothing changes through a read-only handle. */
	off = 12345;
	CHECK_RC(pool_alloc(ro, 16, &off), -EACCES, 80);
	CHECK_RC(pool_calloc(ro, 4, 16, &off), -EACCES, 81);
	CHECK_RC(pool_free(ro, m.off[0]), -EACCES, 82);
	CHECK_RC(pool_persist(ro, m.off[0]), -EACCES, 83);
	CHECK_RC(pool_retain(ro, m.off[1]), 0, 84);
	CHECK_RC(pool_free(ro, m.off[1]), 0, 91);
	CHECK_RC(pool_free(ro, m.off[1]), -EACCES, 92);
	CHECK_RC(pool_realloc(ro, m.off[2], 4000, &off), -EACCES, 85);
	CHECK_RC(pool_trim(ro), -EACCES, 86);
	CHECK_RC(pool_stats(ro, &st), 0, 87);
	CHECK(st.live_blocks == NBLOCKS && st.persistent_blocks == 0, 88);
	CHECK(blocks_hold(ro, &m, 0) == 0, 89);

	CHECK(harness_write_full(pp->done[1], "D", 1) == 0, 90);
	pool_close(ro);
	pool_disconnect(c);
	return 0;
}

/*
 * The pool's memfd, as writable as a client can get it: the mapping's file
 * opened read-write through /proc/self/map_files (root may).  -1 if not.
 */
static int
open_mapped_memfd(struct pool *p)
{
	char path[128], line[512], want[96];
	uintptr_t lo, hi, base = (uintptr_t)pool_ptr(p, 0);
	FILE *f = fopen("/proc/self/maps", "r");
	int fd = -1;

	snprintf(want, sizeof(want), "memfd:poolmgr:%s ", POOL_NAME);
	if (!f)
		return -1;
	while (fd < 0 && fgets(line, sizeof(line), f)) {
		if (!strstr(line, want) ||
		    sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2 ||
		    lo != base)
			continue;
		snprintf(path, sizeof(path), "/proc/self/map_files/%" PRIxPTR
			 "-%" PRIxPTR, lo, hi);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	fclose(f);
	return fd;
}

/* ---- tests -------------------------------------------------------------- */

static void
writer_and_reader_share_bytes(void **state)
{
	struct share_pipes pp;
	struct writer_arg wa = {.pp = &pp, .expect_answer = 1};
	pid_t w, r;

	(void)state;
	start_daemon(NULL);
	create_pool();
	make_pipes(&pp);
	remember_kid(w = harness_spawn(writer_child, &wa));
	remember_kid(r = harness_spawn(reader_child, &pp));
	close_pipes(&pp);
	expect_kid_ok(r, "reader");
	expect_kid_ok(w, "writer");
	expect_pool_empty();
	stop_daemon();
}

static void
other_uid_reads_but_cannot_write(void **state)
{
	struct share_pipes pp;
	struct writer_arg wa = {.pp = &pp, .expect_answer = 0};
	pid_t w, r;

	(void)state;
	harness_skip_unless_root("run a reader as another uid");
	start_daemon(NULL);
	create_pool();
	make_pipes(&pp);
	remember_kid(w = harness_spawn(writer_child, &wa));
	r = harness_spawn_as(OTHER_ID, OTHER_ID, other_uid_reader_child, &pp);
	remember_kid(r);
	close_pipes(&pp);
	expect_kid_ok(r, "read-only reader (uid 65534)");
	expect_kid_ok(w, "writer");
	expect_pool_empty();
	stop_daemon();
}

static void
memfd_size_cannot_change(void **state)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	pool_off_t off;
	struct stat st;
	int fd, seals;

	(void)state;
	harness_skip_unless_root("open the mapping's file");
	start_daemon(NULL);
	create_pool();
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, POOL_NAME, &p), 0);
	assert_int_equal(pool_alloc(p, 4096, &off), 0);
	memset(pool_ptr(p, off), 0x5a, 4096);
	if ((fd = open_mapped_memfd(p)) < 0)
		fail_msg("cannot open the pool's memfd: %s", strerror(errno));
	seals = fcntl(fd, F_GET_SEALS);
	assert_true(seals != -1);
	assert_true(seals & F_SEAL_SHRINK);
	assert_true(seals & F_SEAL_GROW);
	assert_true(seals & F_SEAL_SEAL);
	errno = 0;
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(ftruncate(fd, 2 * POOL_BYTES), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(fallocate(fd, 0, POOL_BYTES, 4096), -1);
	assert_int_equal(errno, EPERM);
	errno = 0;
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, POOL_BYTES);
	close(fd);
	/* Nothing moved: the block is there and whole. */
	assert_int_equal(((uint8_t *)pool_ptr(p, off))[4095], 0x5a);
	assert_int_equal(pool_free(p, off), 0);
	pool_close(p);
	pool_disconnect(c);
	expect_pool_empty();
	stop_daemon();
}

/*
 * The VmFlags of process pid's mapping that starts at start (if not 0)
 * or whose file is path (a memfd's name as /proc shows it, whole), into
 * flags; false if there is none.
 */
static bool
mapping_flags(pid_t pid, unsigned long start, const char *path,
	      char *flags, size_t len)
{
	char name[64], line[512];
	unsigned long at;
	bool in = false, found = false;
	size_t n = path ? strlen(path) : 0;
	FILE *f;
	int pos;

	snprintf(name, sizeof(name), "/proc/%d/smaps", (int)pid);
	assert_non_null(f = fopen(name, "r"));
	while (!found && fgets(line, sizeof(line), f)) {
		/* start-end perms offset dev inode path */
		pos = -1;	/* set only where the whole header matched */
		if (sscanf(line, "%lx-%*x %*s %*x %*s %*u %n", &at, &pos) == 1 &&
		    pos >= 0) {
			in = start ? at == start :
			     strncmp(line + pos, path, n) == 0 &&
			     (line[pos + n] == '\n' || line[pos + n] == ' ');
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, len, "%.200s", line + 8);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void
pool_left_out_of_core_dumps(void **state)
{
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	char flags[256];

	(void)state;
	start_daemon(NULL);
	create_pool();
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, POOL_NAME, &p), 0);
	if (!mapping_flags(getpid(), (unsigned long)pool_ptr(p, 0), NULL,
			   flags, sizeof(flags)))
		fail_msg("no mapping of the pool at %p", pool_ptr(p, 0));
	printf("share: the client's mapping: %s", flags);
	assert_non_null(strstr(flags, " dd"));
	if (!mapping_flags(daemon_proc.pid, 0, "/memfd:poolmgr:" POOL_NAME,
			   flags, sizeof(flags)))
		fail_msg("no mapping of pool " POOL_NAME " in the daemon");
	printf("share: the daemon's mapping: %s", flags);
	assert_non_null(strstr(flags, " dd"));
	pool_close(p);
	pool_disconnect(c);
	stop_daemon();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(memfd_size_cannot_change, teardown),
		cmocka_unit_test_teardown(writer_and_reader_share_bytes,
					  teardown),
		cmocka_unit_test_teardown(other_uid_reads_but_cannot_write,
					  teardown),
		cmocka_unit_test_teardown(pool_left_out_of_core_dumps,
					  teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("share", tests, NULL, NULL);
}
