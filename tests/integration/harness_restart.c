/*
 * harness_restart.c - the restart tests' fixture, client processes driven
 * through pipes, the book of what they wrote, SIGUSR2 and what operators
 * see across it (harness_restart.h).
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_restart.h"

struct restart_fixture rfx;

/* Statistics the restart may change: the daemon's memory, its pages. */
static const char *const volatile_keys[] = {
	"committed_bytes", "free_bytes", "largest_free", "cached_bytes",
	"metadata_bytes", "books_bytes", "free_resident_bytes",
	"released_bytes", NULL
};

/* The byte at pool offset at of a block filled from seed. */
static uint8_t
pattern(uint64_t seed, uint64_t at)
{
	uint64_t x = (seed << 40) ^ (at >> 3);

	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (at & 7)));
}

void
pattern_fill(uint8_t *base, uint64_t off, uint64_t len, uint64_t seed)
{
	for (uint64_t i = off; i < off + len; i++)
		base[i] = pattern(seed, i);
}

bool
pattern_intact(const uint8_t *base, uint64_t off, uint64_t len, uint64_t seed)
{
	for (uint64_t i = off; i < off + len; i++)
		if (base[i] != pattern(seed, i))
			return false;
	return true;
}

bool
all_zero(const uint8_t *b, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* A realloc whose bytes must survive it. */
static int
remote_realloc(struct pool *p, const struct cmd *c, struct ans *a)
{
	size_t old, keep;
	uint8_t *copy;
	int rc;

	if ((rc = pool_usable_size(p, c->off, &old)) != 0)
		return rc;
	keep = old < c->len ? old : c->len;
	if (!(copy = malloc(keep)))
		return -ENOMEM;
	memcpy(copy, pool_ptr(p, c->off), keep);
	if ((rc = pool_realloc(p, c->off, c->len, &a->off)) == 0 &&
	    memcmp(copy, pool_ptr(p, a->off), keep) != 0)
		rc = -EILSEQ;
	free(copy);
	return rc;
}

static int
remote_do(struct pool *p, const struct cmd *c, struct ans *a)
{
	uint8_t *base = pool_ptr(p, 0);
	size_t usable = 0;
	int rc = 0;

	switch (c->op) {
	case OP_ALLOC:
	case OP_CALLOC:
		rc = c->op == OP_ALLOC ? pool_alloc(p, c->len, &a->off) :
		    pool_calloc(p, 1, c->len, &a->off);
		if (rc)
			break;
		if (c->op == OP_CALLOC && !all_zero(base + a->off, c->len))
			rc = -EILSEQ;
		if (c->seed)
			pattern_fill(base, a->off, c->len, c->seed);
		break;
	case OP_FILL:
		pattern_fill(base, c->off, c->len, c->seed);
		break;
	case OP_VERIFY:
		rc = pattern_intact(base, c->off, c->len, c->seed) ? 0 : -EILSEQ;
		break;
	case OP_FREE:
		return pool_free(p, c->off);
	case OP_RETAIN:
		return pool_retain(p, c->off);
	case OP_PERSIST:
		return pool_persist(p, c->off);
	case OP_REALLOC:
		rc = remote_realloc(p, c, a);
		break;
	case OP_USABLE:
		a->off = c->off;
		break;
	default:
		return -ENOSYS;
	}
	if (rc == 0 && pool_usable_size(p, a->off, &usable) == 0)
		a->usable = usable;
	return rc;
}

struct remote_args {
	const char *pool;
	long cache;		/* budget; -1: the library's default */
	bool read_only;
	uid_t uid;		/* not 0: become this uid (and gid) first */
	int in, out;
};

/* OP_OPEN2: the second handle, on the same connection. */
static int
remote_open2(struct pool_conn *c, const char *pool, const struct cmd *cmd,
	     struct ans *a)
{
	static struct pool *p2;
	int rc;

	if (p2)
		return -EEXIST;
	if ((rc = pool_open(c, pool, &p2)) != 0)
		return rc;
	if ((rc = pool_alloc(p2, cmd->len, &a->off)) != 0)
		return rc;
	pattern_fill(pool_ptr(p2, 0), a->off, cmd->len, cmd->seed);
	return 0;
}

static int
remote_main(void *arg)
{
	struct remote_args *ra = arg;
	struct pool_conn *c = NULL;
	struct pool *p = NULL;
	struct pool_stats st;
	struct ans a = {0};
	struct cmd cmd;

	if (ra->uid && (setgroups(0, NULL) == -1 || setgid(ra->uid) == -1 ||
			setuid(ra->uid) == -1))
		a.rc = -errno;
	else if ((a.rc = pool_connect(rfx.d.sock, &c)) == 0 &&
	    (a.rc = ra->read_only ? pool_open_readonly(c, ra->pool, &p) :
	     pool_open(c, ra->pool, &p)) == 0 && ra->cache >= 0)
		a.rc = pool_set_cache(p, (size_t)ra->cache);
	if (harness_write_full(ra->out, &a, sizeof(a)) || a.rc)
		return 1;
	while (harness_read_full(ra->in, &cmd, sizeof(cmd)) == 0) {
		memset(&a, 0, sizeof(a));
		memset(&st, 0, sizeof(st));
		if (cmd.op == OP_STATS)
			a.rc = pool_stats(p, &st);
		else if (cmd.op == OP_OPEN2)
			a.rc = remote_open2(c, ra->pool, &cmd, &a);
		else if (cmd.op != OP_EXIT)
			a.rc = remote_do(p, &cmd, &a);
		if (cmd.op == OP_EXIT) {
			pool_close(p);
			pool_disconnect(c);
		}
		if (harness_write_full(ra->out, &a, sizeof(a)))
			return 2;
		if (cmd.op == OP_STATS &&
		    harness_write_full(ra->out, &st, sizeof(st)))
			return 3;
		if (cmd.op == OP_EXIT)
			return 0;
	}
	return 0;
}

/*
 * Start client i on pool, with its cache budget (-1: default), read-only
 * or not, as uid (0: ours).
 */
struct remote *
remote_start_as(int i, const char *pool, long cache, bool read_only,
		uid_t uid)
{
	struct remote *r = &rfx.r[i];
	struct remote_args ra = {.pool = pool, .cache = cache,
				 .read_only = read_only, .uid = uid};
	int to[2], from[2];
	struct ans a;

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	fflush(stdout);
	fflush(stderr);
	if ((r->pid = fork()) == 0) {
		for (int k = 0; k < MAX_REMOTES; k++)
			if (rfx.r[k].pid > 0 && k != i) {
				close(rfx.r[k].to);
				close(rfx.r[k].from);
			}
		close(to[1]);
		close(from[0]);
		ra.in = to[0];
		ra.out = from[1];
		_exit(remote_main(&ra));
	}
	assert_true(r->pid > 0);
	close(to[0]);
	close(from[1]);
	r->to = to[1];
	r->from = from[0];
	if (harness_read_full(r->from, &a, sizeof(a)))
		fail_msg("client %d did not start", (int)r->pid);
	if (a.rc)
		fail_msg("client %d: connect or open %s: %s", (int)r->pid,
			 pool, pool_strerror(a.rc));
	return r;
}

struct remote *
remote_start(int i, const char *pool, long cache)
{
	return remote_start_as(i, pool, cache, false, 0);
}

void
remote_send(struct remote *r, int op, uint64_t off, uint64_t len,
	    uint64_t seed)
{
	struct cmd c = {.op = op, .off = off, .len = len, .seed = seed};

	if (harness_write_full(r->to, &c, sizeof(c)))
		fail_msg("client %d is gone", (int)r->pid);
}

struct ans
remote_recv(struct remote *r)
{
	struct ans a;

	if (harness_read_full(r->from, &a, sizeof(a)))
		fail_msg("client %d died (status %d)", (int)r->pid,
			 harness_wait(r->pid));
	return a;
}

struct ans
remote_ask(struct remote *r, int op, uint64_t off, uint64_t len,
	   uint64_t seed)
{
	struct pool_stats st;
	struct ans a;

	remote_send(r, op, off, len, seed);
	a = remote_recv(r);
	if (op == OP_STATS && harness_read_full(r->from, &st, sizeof(st)))
		fail_msg("client %d died", (int)r->pid);
	return a;
}

/* The command must succeed. */
struct ans
remote_ok(struct remote *r, int op, uint64_t off, uint64_t len,
	  uint64_t seed, int line)
{
	struct ans a = remote_ask(r, op, off, len, seed);

	if (a.rc)
		fail_msg("line %d: client %d: op %d (off %" PRIu64 ", len %"
			 PRIu64 "): %s", line, (int)r->pid, op, off, len,
			 pool_strerror(a.rc));
	return a;
}

void
remote_exit(struct remote *r)
{
	struct ans a = remote_ask(r, OP_EXIT, 0, 0, 0);

	assert_int_equal(a.rc, 0);
	assert_int_equal(harness_wait(r->pid), 0);
	close(r->to);
	close(r->from);
	r->pid = 0;
}

void
remote_kill(struct remote *r)
{
	kill(r->pid, SIGKILL);
	harness_wait(r->pid);
	close(r->to);
	close(r->from);
	r->pid = 0;
}

/* The book: every block someone holds, with the seed it was filled from. */
void
book_add(uint64_t off, uint64_t len, uint64_t seed)
{
	assert_true(rfx.nbook < MAX_BLOCKS);
	rfx.book[rfx.nbook++] = (struct blk){off, len, seed};
}

void
book_drop(uint64_t off)
{
	for (int i = 0; i < rfx.nbook; i++)
		if (rfx.book[i].off == off) {
			rfx.book[i] = rfx.book[--rfx.nbook];
			return;
		}
	fail_msg("block %" PRIu64 " is not in the book", off);
}

static struct blk *
book_find(uint64_t off)
{
	for (int i = 0; i < rfx.nbook; i++)
		if (rfx.book[i].off == off)
			return &rfx.book[i];
	fail_msg("block %" PRIu64 " is not in the book", off);
	return NULL;
}

/* A new block of client r, written (calloc: zero first), in the book. */
uint64_t
remote_block(struct remote *r, int op, uint64_t len)
{
	uint64_t seed = ++rfx.seed;
	struct ans a = REMOTE_OK(r, op, 0, len, seed);

	book_add(a.off, len, seed);
	return a.off;
}

/* Every block in the book reads as written, through our own mapping. */
void
book_verify(const char *when)
{
	const uint8_t *base = pool_ptr(rfx.pool, 0);

	for (int i = 0; i < rfx.nbook; i++)
		if (!pattern_intact(base, rfx.book[i].off, rfx.book[i].len,
			    rfx.book[i].seed))
			fail_msg("%s: block at %" PRIu64 " (%" PRIu64
				 " bytes) does not read as written", when,
				 rfx.book[i].off, rfx.book[i].len);
}

/* Client r reads block off back through its own mapping. */
void
remote_verify(struct remote *r, uint64_t off)
{
	struct blk *b = book_find(off);

	REMOTE_OK(r, OP_VERIFY, b->off, b->len, b->seed);
}

void
rfx_start(const char *conf, const char *pool)
{
	assert_int_equal(harness_start(&rfx.d, conf), 0);
	assert_int_equal(pool_connect(rfx.d.sock, &rfx.conn), 0);
	assert_int_equal(pool_open(rfx.conn, pool, &rfx.pool), 0);
	/* Our frees leave pages to the daemon, not to a cache of ours. */
	assert_int_equal(pool_set_cache(rfx.pool, 0), 0);
}

int
rfx_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_REMOTES; i++)
		if (rfx.r[i].pid > 0)
			remote_kill(&rfx.r[i]);
	if (rfx.pool)
		pool_close(rfx.pool);
	if (rfx.conn)
		pool_disconnect(rfx.conn);
	harness_remove_binary(rfx.bindir);
	assert_int_equal(harness_finish(&rfx.d), 0);
	memset(&rfx, 0, sizeof(rfx));
	return 0;
}

struct pool_stats
rfx_stats(void)
{
	struct pool_stats st;

	assert_int_equal(pool_stats(rfx.pool, &st), 0);
	return st;
}

void
rfx_check(const char *pool)
{
	char out[1024], err[1024];

	if (harness_poolctl(&rfx.d, NULL, out, sizeof(out), err, sizeof(err),
			    "check %s", pool) != 0)
		fail_msg("poolctl check %s: %s%s", pool, out, err);
}

/* Lines of the log from byte at on: does one hold what (and also)? */
static bool
log_since_has(size_t at, const char *what, const char *also)
{
	char *log = harness_log_since(&rfx.d, at), *l, *save = NULL;
	bool found = false;

	for (l = strtok_r(log, "\n", &save); l && !found;
	     l = strtok_r(NULL, "\n", &save))
		found = strcasestr(l, what) && (!also || strcasestr(l, also));
	free(log);
	return found;
}

/* A line since at tells of a restart (or exec) that failed. */
bool
rfx_failure_logged(size_t at)
{
	static const char *const what[] = {"restart", "exec", "SIGUSR2"};
	static const char *const why[] = {"fail", "cannot", "error",
					  "no such", "could not"};

	for (size_t i = 0; i < sizeof(what) / sizeof(*what); i++)
		for (size_t k = 0; k < sizeof(why) / sizeof(*why); k++)
			if (log_since_has(at, what[i], why[k]))
				return true;
	return false;
}

/* Print the daemon's last "restarted in place" line: what it took, when. */
static void
say_restarted(void)
{
	char *log = harness_log_since(&rfx.d, 0), *l, *last = NULL;

	for (l = log; (l = strstr(l, HARNESS_RESTARTED)); l++)
		last = l;
	if (last)
		printf("%.*s\n", (int)strcspn(last, "\n"), last);
	free(log);
}

/*
 * SIGUSR2: true once the daemon has restarted in place, false if it
 * logged that the restart failed (and goes on); the test fails if it
 * died, or said nothing in HARNESS_RESTART_WAIT_MS.
 */
bool
rfx_restart_or_not(void)
{
	int before = harness_log_count(&rfx.d, HARNESS_RESTARTED), ms;
	size_t at = harness_log_mark(&rfx.d);
	char *log;
	pid_t pid = rfx.d.pid;

	assert_int_equal(kill(pid, SIGUSR2), 0);
	for (ms = 0; ms < HARNESS_RESTART_WAIT_MS; ms += 5) {
		if (harness_log_wait(&rfx.d, HARNESS_RESTARTED, before, 0) == 0)
			break;
		if (rfx.d.pid == 0)
			fail_msg("SIGUSR2: poolmgrd died");
		if (rfx_failure_logged(at)) {
			log = harness_log_since(&rfx.d, at);
			printf("its log since SIGUSR2:\n%s", log);
			free(log);
			assert_true(harness_alive(&rfx.d));
			return false;
		}
		harness_sleep_ms(5);
	}
	if (ms >= HARNESS_RESTART_WAIT_MS)
		fail_msg("SIGUSR2: no restart in %d s",
			 HARNESS_RESTART_WAIT_MS / 1000);
	assert_int_equal(rfx.d.pid, pid);
	assert_true(harness_alive(&rfx.d));
	say_restarted();
	return true;
}

/* The configuration file, as harness_start writes it, without a SIGHUP. */
void
rfx_write_conf(const char *text)
{
	FILE *f = fopen(rfx.d.conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s", text);
	fclose(f);
}

/* Restart in place, or fail the test saying why not. */
void
rfx_restart(void)
{
	if (!rfx_restart_or_not())
		fail_msg("SIGUSR2: the restart failed");
}

/* The daemon's open descriptors. */
static int
fds_now(void)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)rfx.d.pid);
	assert_non_null(dir = opendir(path));
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * The daemon's descriptors once it has seen the last poolctl hang up: a
 * count taken just after one may still hold its connection.  Three equal
 * counts 20 ms apart, within 2 s.
 */
int
rfx_daemon_fds(void)
{
	int n = fds_now(), same = 0, i;

	for (i = 0; i < 100 && same < 2; i++) {
		int m;

		usleep(20000);
		m = fds_now();
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* The lines of text sorted, in place. */
static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sort_lines(char *text, size_t size)
{
	char *lines[512] = {NULL}, *copy = strdup(text), *save = NULL, *l;
	size_t n = 0, at = 0;

	assert_non_null(copy);
	for (l = strtok_r(copy, "\n", &save); l && n < 512;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	text[0] = '\0';
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, size - at, "%s\n", lines[i]);
	free(copy);
}

/* Keep the "POOL KEY VALUE" lines whose key may not change. */
static void
keep_lasting(char *kv, size_t size)
{
	char *copy = strdup(kv), *save = NULL, *l, key[64];
	size_t at = 0;
	int i;

	assert_non_null(copy);
	kv[0] = '\0';
	for (l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (sscanf(l, "%*s %63s", key) != 1)
			continue;
		for (i = 0; volatile_keys[i] && strcmp(key, volatile_keys[i]);
		     i++)
			;
		if (!volatile_keys[i])
			at += (size_t)snprintf(kv + at, size - at, "%s\n", l);
	}
	free(copy);
}

static void
ctl(const char *args, char *out, size_t len)
{
	char err[1024];

	if (harness_poolctl(&rfx.d, NULL, out, len, err, sizeof(err), "%s",
			    args) != 0)
		fail_msg("poolctl %s: %s", args, err);
}

void
snap_take(struct snap *s)
{
	ctl("stats --format=kv", s->kv, sizeof(s->kv));
	keep_lasting(s->kv, sizeof(s->kv));
	ctl("clients", s->clients, sizeof(s->clients));
	sort_lines(s->clients, sizeof(s->clients));
	ctl("persisted --format=kv", s->persisted, sizeof(s->persisted));
	assert_int_equal(stat(rfx.d.sock, &s->sock), 0);
}

void
snap_same_text(const char *what, const char *before, const char *after)
{
	if (strcmp(before, after) != 0) {
		printf("%s before the restart:\n%s%s after:\n%s", what, before,
		       what, after);
		fail_msg("%s changed across the restart", what);
	}
}

void
snap_same(const struct snap *a, const struct snap *b)
{
	snap_same_text("poolctl stats", a->kv, b->kv);
	snap_same_text("poolctl clients", a->clients, b->clients);
	snap_same_text("poolctl persisted", a->persisted, b->persisted);
	if (a->sock.st_ino != b->sock.st_ino ||
	    a->sock.st_dev != b->sock.st_dev)
		fail_msg("the socket file was made anew");
}

void
scene_start(struct scene *s)
{
	uint64_t drop[16];

	s->A = remote_start(0, "p", -1);
	s->B = remote_start(1, "p", -1);
	s->a[0] = remote_block(s->A, OP_ALLOC, 100);
	s->a[1] = remote_block(s->A, OP_ALLOC, 64 * KiB);
	s->a[2] = remote_block(s->A, OP_ALLOC, 1 * MiB);
	s->a[3] = remote_block(s->A, OP_CALLOC, 24000);
	s->a[4] = remote_block(s->A, OP_ALLOC, 3 * MiB + 5);
	s->a[5] = remote_block(s->A, OP_CALLOC, 2 * MiB);
	s->a[6] = remote_block(s->A, OP_ALLOC, 4000);
	s->a[7] = remote_block(s->A, OP_ALLOC, 300 * KiB);
	for (int i = 0; i < 16; i++) {
		s->small[i] = remote_block(s->A, OP_ALLOC, 48);
		drop[i] = remote_block(s->A, OP_ALLOC, 48);
	}
	for (int i = 0; i < 16; i++) {
		REMOTE_OK(s->A, OP_FREE, drop[i], 0, 0);
		book_drop(drop[i]);
	}
	REMOTE_OK(s->A, OP_PERSIST, s->a[1], 0, 0);
	REMOTE_OK(s->A, OP_PERSIST, s->a[5], 0, 0);
	/* Counters that must not reset: a bad free, a refused alloc. */
	assert_int_equal(remote_ask(s->A, OP_FREE, 12345, 0, 0).rc, -EINVAL);
	assert_int_equal(remote_ask(s->A, OP_ALLOC, 0, 60 * MiB, 0).rc,
			 -ENOMEM);
	REMOTE_OK(s->B, OP_RETAIN, s->a[0], 0, 0);
	REMOTE_OK(s->B, OP_RETAIN, s->a[2], 0, 0);
	s->b[0] = remote_block(s->B, OP_ALLOC, 200);
	s->b[1] = remote_block(s->B, OP_ALLOC, 256 * KiB);
}

/*
 * After a restart: both clients read their blocks back in their own
 * mappings, free old ones, allocate new ones of every kind, realloc old
 * ones; then every block anyone holds reads as written here, so no new
 * block overlaps a held one.
 */
void
scene_carry_on(struct scene *s)
{
	struct ans a;
	struct blk *b;

	for (int i = 0; i < 8; i++)
		remote_verify(s->A, s->a[i]);
	for (int i = 0; i < 16; i++)
		remote_verify(s->A, s->small[i]);
	remote_verify(s->B, s->a[0]);
	remote_verify(s->B, s->a[2]);
	remote_verify(s->B, s->b[0]);
	remote_verify(s->B, s->b[1]);
	book_verify("after the restart");

	/* A's own blocks go; those B retained stay B's. */
	REMOTE_OK(s->A, OP_FREE, s->a[4], 0, 0);
	book_drop(s->a[4]);
	REMOTE_OK(s->A, OP_FREE, s->a[7], 0, 0);
	book_drop(s->a[7]);
	REMOTE_OK(s->A, OP_FREE, s->a[0], 0, 0);
	for (int i = 0; i < 8; i++) {
		REMOTE_OK(s->A, OP_FREE, s->small[i], 0, 0);
		book_drop(s->small[i]);
	}
	/* A realloc of an old block keeps its bytes, moved or not. */
	a = REMOTE_OK(s->A, OP_REALLOC, s->a[6], 40000, 0);
	b = book_find(s->a[6]);
	b->off = s->a[6] = a.off;
	b->len = 40000;
	REMOTE_OK(s->A, OP_FILL, b->off, b->len, b->seed);
	a = REMOTE_OK(s->B, OP_REALLOC, s->b[1], 2 * MiB, 0);
	b = book_find(s->b[1]);
	b->off = s->b[1] = a.off;
	b->len = 2 * MiB;
	REMOTE_OK(s->B, OP_FILL, b->off, b->len, b->seed);

	for (int i = 0; i < 24; i++) {
		remote_block(s->A, OP_ALLOC, 48);
		remote_block(s->B, OP_ALLOC, 100 + 40 * (uint64_t)i);
	}
	remote_block(s->A, OP_ALLOC, 64 * KiB);
	remote_block(s->A, OP_ALLOC, 1 * MiB);
	remote_block(s->A, OP_CALLOC, 5000);
	remote_block(s->B, OP_CALLOC, 1 * MiB + 3);
	remote_block(s->B, OP_ALLOC, 3 * MiB);
	book_verify("after new blocks");
	rfx_check("p");
}

/* Pages written and freed before: a calloc over them must read zero. */
#define DIRTY_N 64
#define DIRTY_SIZE (32 * KiB)

void
dirty_free_pages(void)
{
	pool_off_t off[DIRTY_N];

	for (int i = 0; i < DIRTY_N; i++) {
		assert_int_equal(pool_alloc(rfx.pool, DIRTY_SIZE, &off[i]), 0);
		memset(pool_ptr(rfx.pool, off[i]), 0xff, DIRTY_SIZE);
	}
	for (int i = 0; i < DIRTY_N; i++)
		assert_int_equal(pool_free(rfx.pool, off[i]), 0);
}

void
callocs_read_zero(void)
{
	pool_off_t off[DIRTY_N];

	for (int i = 0; i < DIRTY_N; i++) {
		assert_int_equal(pool_calloc(rfx.pool, 1, DIRTY_SIZE, &off[i]),
				 0);
		if (!all_zero(pool_ptr(rfx.pool, off[i]), DIRTY_SIZE))
			fail_msg("calloc'ed block at %" PRIu64 " is not zero "
				 "after the restart", off[i]);
	}
	for (int i = 0; i < DIRTY_N; i++)
		assert_int_equal(pool_free(rfx.pool, off[i]), 0);
}

/*
 * SIGTERM: the daemon must exit 0 within HARNESS_STOP_WAIT_MS, and say
 * nothing of a sanitizer.  Its directory is left for the caller to look.
 */
void
rfx_stop_cleanly(void)
{
	int status = 0, i;
	bool sanitized;
	char *log;

	assert_int_equal(kill(rfx.d.pid, SIGTERM), 0);
	for (i = 0; i < HARNESS_STOP_WAIT_MS / 10; i++) {
		if (waitpid(rfx.d.pid, &status, WNOHANG) == rfx.d.pid)
			break;
		harness_sleep_ms(10);
	}
	if (i == HARNESS_STOP_WAIT_MS / 10) {
		kill(rfx.d.pid, SIGKILL);
		waitpid(rfx.d.pid, &status, 0);
		rfx.d.pid = 0;
		fail_msg("poolmgrd did not stop within %d s after a restart",
			 HARNESS_STOP_WAIT_MS / 1000);
	}
	rfx.d.pid = 0;
	log = harness_log_since(&rfx.d, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("its log:\n%s", log);
		free(log);
		fail_msg("poolmgrd stopped with status %#x after a restart",
			 status);
	}
	sanitized = strstr(log, "Sanitizer") != NULL;
	free(log);
	assert_false(sanitized);
}

