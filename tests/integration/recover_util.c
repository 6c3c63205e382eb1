/*
 * recover_util.c - the crash recovery tests' store played as systemd
 * plays it, the daemon started, crashed and stopped on it, the blocks
 * they persist and look for, and pools with an access control list
 * (recover_util.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal_rec.h"
#include "recover_util.h"

#define GUARD_SEC	120

volatile pid_t guarded;

/* The guard's end: the daemon killed, the test failed. */
static void
on_alarm(int sig)
{
	(void)sig;
	if (guarded > 0)
		kill(guarded, SIGKILL);
	_exit(3);
}

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the store and the daemon on it -------------------------------------- */

int
store_recv(struct harness_store *st, int timeout_ms, const char *want)
{
	int rc = harness_store_receive(st, timeout_ms, want);

	/* Every FDSTORE=1 carries a descriptor and its FDNAME=. */
	assert_int_equal(st->malformed, 0);
	return rc;
}

void
store_drain(struct harness_store *st)
{
	while (store_recv(st, 0, NULL) >= 0)
		;
}

const char *
journal_in(const struct harness_store *st)
{
	const char *name = harness_store_journal(st);

	if (!name)
		fail_msg("no journal.<n> in the store");
	return name;
}

void
wait_removed(struct harness_store *st, const char *name)
{
	long long end = now_ms() + WAIT_MS;

	while (harness_store_find(st, name) >= 0 && now_ms() < end)
		(void)store_recv(st, 100, NULL);
	assert_int_equal(harness_store_find(st, name), -1);
}

void
signalled_ready(struct harness_store *st, int sig)
{
	long long end;
	int got = 0;

	assert_int_equal(kill(st->pid, sig), 0);
	for (end = now_ms() + WAIT_MS; got != 1 && now_ms() < end;)
		got = store_recv(st, (int)(end - now_ms()), "READY=1");
	assert_int_equal(got, 1);
}

bool
log_has(const struct harness_store *st, const char *what)
{
	return harness_store_log_count(st, what) > 0;
}

/*
 * With POOLMGR_JOURNAL_SEEDS set to a directory, what every start after a
 * crash finds in the store is also written there, as a seed for
 * tests/fuzz/fuzz_recover.c (its input format): the keep.<n> memfds'
 * numbers and sizes, then the newest journal to its committed end and 64
 * bytes past it.  Journals longer than 16 KiB and pools of other sizes
 * than the harness makes are left out.  Each program's seeds take the
 * numbers after those there already.
 */
static void
seed_write(const struct harness_store *st)
{
	static const uint64_t sizes[8] = {
		4096, 8192, 65536, 1 << 20, 2 << 20, 4 << 20, 12288, 5000,
	};
	static unsigned n;
	const char *dir = getenv("POOLMGR_JOURNAL_SEEDS");
	unsigned char head[2 + 2 * 8];
	const char *journal = harness_store_journal(st);
	unsigned k, s, nk = 0;
	unsigned long v;
	char path[512];
	int at;
	struct stat sb;
	uint64_t *j;
	size_t len;
	FILE *f;

	if (!dir || harness_store_find(st, "state") >= 0 || !journal)
		return;
	at = harness_store_find(st, journal);
	for (k = 0; k < st->n; k++) {
		if (strncmp(st->name[k], "keep.", 5) != 0)
			continue;
		assert_int_equal(fstat(st->fd[k], &sb), 0);
		for (s = 0; s < 8 && sizes[s] != (uint64_t)sb.st_size; s++)
			;
		v = strtoul(st->name[k] + 5, NULL, 10);
		if (s == 8 || v > 255 || nk == 8)
			return;
		head[2 + 2 * nk] = (unsigned char)v;
		head[3 + 2 * nk++] = (unsigned char)s;
	}
	head[0] = (unsigned char)(nk << 4 | (st->lfd >= 0 ? 0x08 : 0));
	head[1] = 0;
	assert_int_equal(fstat(st->fd[at], &sb), 0);
	j = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED,
		 st->fd[at], 0);
	assert_true(j != MAP_FAILED);
	len = j[JH_END] + 64 < (uint64_t)sb.st_size ? j[JH_END] + 64 :
	    (size_t)sb.st_size;
	if (len <= 16384) {
		/* The next name not taken: the programs write to one place. */
		do
			snprintf(path, sizeof(path), "%s/journal-%02u", dir,
				 n++);
		while (!(f = fopen(path, "wx")) && errno == EEXIST);
		assert_non_null(f);
		assert_int_equal(fwrite(head, 1, 2 + 2 * nk, f), 2 + 2 * nk);
		assert_int_equal(fwrite(j, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
	munmap(j, (size_t)sb.st_size);
}

void
start(struct harness_store *st, const char *fdstore)
{
	snprintf(st->fdstore, sizeof(st->fdstore), "%s",
		 fdstore ? fdstore : "");
	seed_write(st);
	if (harness_store_start(st) != 0)
		fail_msg("no READY=1");
	guarded = st->pid;
	assert_int_equal(st->malformed, 0);
}

void
crash(struct harness_store *st)
{
	guarded = 0;
	assert_int_equal(harness_store_crash(st), 0);
	assert_int_equal(st->malformed, 0);
}

void
stop(struct harness_store *st)
{
	int status;

	assert_int_equal(kill(st->pid, SIGTERM), 0);
	assert_int_equal(waitpid(st->pid, &status, 0), st->pid);
	st->pid = 0;
	guarded = 0;
	store_drain(st);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void
expect_logged(const struct harness_store *st, const char *what,
	      const char *why)
{
	if (!log_has(st, what)) {
		harness_store_print_log(st);
		fail_msg("%s", why);
	}
}

void
crash_recover(struct harness_store *st, const char *fdstore,
	      const char *what, const char *why)
{
	crash(st);
	start(st, fdstore);
	expect_logged(st, what, why);
}

int
recover_setup(void **state)
{
	struct harness_store *st = calloc(1, sizeof(*st));

	if (!st)
		return -1;
	if (harness_store_open(st, CONFIG) != 0) {
		harness_store_close(st);
		free(st);
		return -1;
	}
	signal(SIGALRM, on_alarm);
	alarm(GUARD_SEC);
	*state = st;
	return 0;
}

int
recover_teardown(void **state)
{
	struct harness_store *st = *state;

	guarded = 0;
	harness_store_close(st);
	free(st);
	alarm(0);
	return 0;
}

/* ---- blocks persisted and looked for ------------------------------------- */

void
fill(struct pool *p, pool_off_t off, size_t len, int c)
{
	memset(pool_ptr(p, off), c, len);
}

void
expect_bytes(struct pool *p, pool_off_t off, size_t len, int c)
{
	const unsigned char *b = pool_ptr(p, off);
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			fail_msg("block %#llx byte %zu: %#x, not %#x",
				 (unsigned long long)off, i, b[i], c);
}

void
persist_one(struct harness_store *st, pool_off_t *off)
{
	struct pool_conn *c;
	struct pool *a;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_alloc(a, 100000, off), 0);
	fill(a, *off, 100000, 'z');
	EXPECT_RC(pool_persist(a, *off), 0);
	pool_close(a);
	pool_disconnect(c);
}

void
expect_live_blocks(struct harness_store *st, uint64_t n)
{
	struct pool_conn *c;
	struct pool *a;
	struct pool_stats s;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	EXPECT_RC(pool_stats(a, &s), 0);
	assert_int_equal(s.live_blocks, n);
	pool_close(a);
	pool_disconnect(c);
}

void
expect_kept(struct harness_store *st, pool_off_t off)
{
	struct pool_conn *c;
	struct pool *a;

	EXPECT_RC(pool_connect(st->sock, &c), 0);
	EXPECT_RC(pool_open(c, "a", &a), 0);
	expect_bytes(a, off, 100000, 'z');
	pool_close(a);
	pool_disconnect(c);
}

int
other_pools_memfd(size_t size, int c)
{
	int fd = memfd_create("poolmgr:other", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *m;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	memset(m, c, size);
	munmap(m, size);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW),
			 0);
	return fd;
}

/* ---- pools with an access control list ----------------------------------- */

Poolmgr__Acl *
wire_acl(struct wire_acl *w, const uint32_t (*v)[3], size_t n)
{
	size_t i;

	assert_true(n <= 8);
	poolmgr__acl__init(&w->acl);
	for (i = 0; i < n; i++) {
		poolmgr__acl_entry__init(&w->e[i]);
		w->e[i].kind = v[i][0];
		w->e[i].id = v[i][1];
		w->e[i].rights = v[i][2];
		w->p[i] = &w->e[i];
	}
	w->acl.n_entries = n;
	w->acl.entries = w->p;
	return &w->acl;
}

void
acl_pool_make(int fd, const uint32_t (*v)[3], size_t n)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool m = POOLMGR__CREATE_POOL__INIT;
	struct wire_acl w;

	m.name = "c";
	m.max_size = 1 << 20;
	m.mode = 0604;
	m.acl = wire_acl(&w, v, n);
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &m;
	assert_int_equal(harness_raw_error(fd, &req, NULL), 0);
}

void
acl_said(int fd, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep;
	size_t i, at = 0;

	m.name = "c";
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	assert_int_equal(rep->body_case, POOLMGR__REPLY__BODY_STATS);
	snprintf(buf, len, "none");
	for (i = 0; rep->stats->acl && i < rep->stats->acl->n_entries; i++) {
		const Poolmgr__AclEntry *e = rep->stats->acl->entries[i];

		at += (size_t)snprintf(buf + at, len - at, "%s%s:%u:%u",
				       i ? "," : "",
				       e->kind == 1 ? "user" : "group",
				       (unsigned)e->id, (unsigned)e->rights);
		assert_true(at < len);
	}
	poolmgr__reply__free_unpacked(rep, NULL);
}

void
acl_start(struct harness_store *st)
{
	assert_int_equal(chmod(st->dir, 0755), 0);
	start(st, STORE_FDS);
}

void
acl_recover(struct harness_store *st)
{
	crash_recover(st, STORE_FDS, "after a crash: 2 pools", "no recovery");
}
