/*
 * alloc_wait_util.c - the allocation waits' tests' pools made full,
 * waiters and stopped daemon (alloc_wait_util.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_wait_util.h"

#define SMALL		64		/* what a waiter's cache keeps */
#define POOLS_CONF	"release_step = 256K\n" \
			"[pool steps]\nsize = 16M\n"
#define CONF		POOLS_CONF

struct daemon_proc d;
struct pool_conn *conn;

int
alloc_wait_setup(void **state)
{
	(void)state;
	memset(&d, 0, sizeof(d));
	if (harness_start(&d, CONF) != 0)
		return -1;
	return pool_connect(d.sock, &conn) == 0 ? 0 : -1;
}

int
alloc_wait_teardown(void **state)
{
	(void)state;
	pool_disconnect(conn);
	return harness_finish(&d) == 0 ? 0 : -1;
}

/* ---- the daemon's configuration ----------------------------------------- */

void
waits_bounded(unsigned max)
{
	char conf[128];

	snprintf(conf, sizeof(conf), "max_alloc_waits = %u\n" POOLS_CONF, max);
	assert_int_equal(harness_reload_with(&d, conf), 0);
}

int
conf_restored(void **state)
{
	(void)state;
	return harness_reload_with(&d, CONF) == 0 ? 0 : -1;
}

void
open_to_all(const char *name)
{
	struct pool_set_opts o = {.which = POOL_SET_MODE, .mode = 0666};

	EXPECT_RC(pool_set(conn, name, &o), 0);
}

struct pool *
uncached(const char *name)
{
	struct pool *p;

	EXPECT_RC(pool_open(conn, name, &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	return p;
}

/* ---- a pool this process holds all of ---------------------------------- */

void
full_open(struct full *f, const char *name, size_t max_size, size_t each)
{
	struct pool_create_opts o = {.max_size = max_size};

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->each = each;
	if (max_size)
		EXPECT_RC(pool_create(conn, name, &o), 0);
	f->p = uncached(name);
}

void
full_make(struct full *f, const char *name, size_t max_size, size_t each)
{
	int rc;

	full_open(f, name, max_size, each);
	while ((rc = pool_alloc(f->p, each, &f->off[f->n])) == 0) {
		memset(pool_ptr(f->p, f->off[f->n]), 0xa5, each);
		assert_true(++f->n < FILL_MAX);
	}
	assert_int_equal(rc, -ENOMEM);
	assert_true(f->n > 0);
}

void
full_of_blocks(struct full *f, const char *name)
{
	full_make(f, name, MiB, BLOCK);
}

pool_off_t
full_free(struct full *f, size_t i)
{
	pool_off_t x = f->off[i];

	assert_true(x != POOL_OFF_NONE);
	EXPECT_RC(pool_free(f->p, x), 0);
	f->off[i] = POOL_OFF_NONE;
	return x;
}

void
full_free_batch(struct full *f, const size_t *i, size_t n, pool_off_t *x)
{
	size_t j;

	for (j = 0; j < n; j++) {
		x[j] = f->off[i[j]];
		f->off[i[j]] = POOL_OFF_NONE;
	}
	EXPECT_RC(pool_free_batch(f->p, n, x), 0);
}

void
full_end(struct full *f, bool destroy)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->off[i] != POOL_OFF_NONE)
			(void)full_free(f, i);
	pool_close(f->p);
	if (destroy)
		EXPECT_RC(pool_destroy_force(conn, f->name), 0);
}

bool
inside(uint64_t x, uint64_t at, uint64_t len)
{
	return x >= at && x < at + len;
}

size_t
adjacent_pair(const struct full *f, size_t from)
{
	size_t i;

	for (i = from; i + 1 < f->n; i++)
		if (f->off[i + 1] == f->off[i] + f->each)
			return i;
	fail_msg("pool %s has no two blocks side by side", f->name);
	return 0;
}

/* ---- waiters: child processes in pool_alloc_wait ------------------------ */

int
child_open(const char *pool, size_t cache, struct pool_conn **c,
	   struct pool **p)
{
	CHECK_RC(pool_connect(d.sock, c), 0, 2);
	CHECK_RC(pool_open(*c, pool, p), 0, 3);
	CHECK_RC(pool_set_cache(*p, cache), 0, 4);
	return 0;
}

int
want_open(struct want *w, size_t cache, struct pool_conn **c,
	  struct pool **p)
{
	close(w->parent_ends[0]);
	close(w->parent_ends[1]);
	return child_open(w->pool, cache, c, p);
}

struct got
got_of(int rc, pool_off_t off, uint64_t start)
{
	struct got g;

	memset(&g, 0, sizeof(g));
	g.elapsed_ms = harness_now_ms() - start;
	g.rc = rc;
	g.off = off;
	if (rc != 0)
		snprintf(g.message, sizeof(g.message), "%s",
			 pool_last_message(rc));
	return g;
}

int
report_and_hold(struct want *w, const struct got *g, struct pool_conn *c,
		struct pool *p)
{
	char go;

	CHECK(harness_write_full(w->report, g, sizeof(*g)) == 0, 5);
	CHECK(harness_read_full(w->stop, &go, 1) == 0, 6);
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

/*
 * The child of waiter_start: w's allocation asked, what came of it
 * reported, its block held.
 */
static int
waiter(void *arg)
{
	struct want *w = arg;
	struct pool_conn *c;
	struct pool *p;
	struct got g;
	struct pool_stats st;
	pool_off_t off = POOL_OFF_NONE, small;
	unsigned char *b;
	uint64_t start;
	size_t i;
	char go;
	int rc;

	/*
	 * Its frees (none) aside, no cache of its own to give back; or one
	 * of the library's default budget, whatever $POOLMGR_CLIENT_CACHE
	 * says (the tests run with the cache off too).
	 */
	if ((rc = want_open(w, w->cached ? 4 * MiB : 0, &c, &p)))
		return rc;
	CHECK(!w->cached || (pool_alloc(p, SMALL, &small) == 0 &&
			     pool_free(p, small) == 0), 9);
	CHECK(!w->gated || harness_read_full(w->stop, &go, 1) == 0, 8);
	start = harness_now_ms();
	rc = pool_alloc_wait(p, w->size, w->align, w->flags, w->timeout_ms,
			     &off);
	g = got_of(rc, off, start);
	if (g.rc == 0 && w->scribble) {
		/* Its stats wait for the pool's queued work to be done. */
		b = pool_ptr(p, off);
		b[w->size - 1] = 0x5a;
		CHECK_RC(pool_stats(p, &st), 0, 7);
		g.kept = b[w->size - 1] == 0x5a;
	} else if (g.rc == 0) {
		b = pool_ptr(p, off);
		g.first = b[0];
		g.zeroed = 1;
		for (i = 0; i < w->size && g.zeroed; i++)
			g.zeroed = b[i] == 0;
	}
	/* It holds its block until the test says go. */
	return report_and_hold(w, &g, c, p);
}

void
waiter_start_fn(struct waiter *k, struct want *w, int (*fn)(void *))
{
	int rep[2], stop[2];

	assert_int_equal(pipe(rep), 0);
	assert_int_equal(pipe(stop), 0);
	w->report = rep[1];
	w->stop = stop[0];
	w->parent_ends[0] = rep[0];
	w->parent_ends[1] = stop[1];
	k->pid = w->uid ? harness_spawn_as(w->uid, w->uid, fn, w) :
			  harness_spawn(fn, w);
	assert_true(k->pid > 0);
	close(rep[1]);
	close(stop[0]);
	k->from = rep[0];
	k->stop = stop[1];
}

void
waiter_start(struct waiter *k, struct want *w)
{
	waiter_start_fn(k, w, waiter);
}

void
waits_words(char *what, size_t len, pid_t pid, const char *more)
{
	snprintf(what, len, "pid %d " WAITS_LINE "%s", (int)pid, more);
}

int
waits_logged(pid_t pid)
{
	char what[64];

	waits_words(what, sizeof(what), pid, "");
	return harness_log_count(&d, what);
}

void
wait_logged(pid_t pid, int before)
{
	char what[64];

	waits_words(what, sizeof(what), pid, "");
	assert_int_equal(harness_log_wait(&d, what, before, LOG_WAIT_MS), 0);
}

struct got
waiter_got(struct waiter *k)
{
	struct got g;

	assert_int_equal(harness_read_full(k->from, &g, sizeof(g)), 0);
	return g;
}

void
waiting_fn(struct waiter *k, struct want *w, int (*fn)(void *))
{
	char what[64];
	struct got g;

	waiter_start_fn(k, w, fn);
	waits_words(what, sizeof(what), k->pid, "");
	if (harness_log_wait(&d, what, 0, LOG_WAIT_MS) == 0)
		return;
	g = waiter_got(k);
	fail_msg("an allocation of %zu bytes in pool %s did not wait: %d "
		 "(%s) %s", w->size, w->pool, g.rc, pool_strerror(g.rc),
		 g.message);
}

void
waiting(struct waiter *k, struct want *w)
{
	waiting_fn(k, w, waiter);
}

void
unanswered(const struct waiter *k, const char *what)
{
	struct pollfd pfd = {.fd = k->from, .events = POLLIN};

	if (poll(&pfd, 1, 0) != 0)
		fail_msg("%s was answered while it should wait", what);
}

void
some_answered(struct pollfd *pf, nfds_t n, const char *pool,
	      const char *what)
{
	nfds_t i;

	for (i = 0; i < n; i++)
		pf[i].events = POLLIN;
	if (poll(pf, n, LOG_WAIT_MS) < 1)
		fail_msg("pool %s: none of %s was answered", pool, what);
}

void
waiter_end(struct waiter *k)
{
	assert_int_equal(harness_write_full(k->stop, "g", 1), 0);
	harness_close_fd(&k->stop);
	harness_close_fd(&k->from);
	assert_int_equal(harness_wait(k->pid), 0);
}

void
waiters_end(struct waiter *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		waiter_end(&k[i]);
}

struct got
answered(struct waiter *k, int rc, const char *what)
{
	struct got g = waiter_got(k);

	if (g.rc != rc)
		fail_msg("waiter %d: %d (%s) %s; expected %d (%s)",
			 (int)k->pid, g.rc, pool_strerror(g.rc), g.message,
			 rc, pool_strerror(rc));
	if (what && !strstr(g.message, what))
		fail_msg("waiter %d was told \"%s\", not \"%s\"", (int)k->pid,
			 g.message, what);
	return g;
}

struct got
served(struct waiter *k)
{
	return answered(k, 0, NULL);
}

struct got
served_at(struct waiter *k, pool_off_t x)
{
	struct got g = served(k);

	assert_int_equal(g.off, x);
	return g;
}

struct got
served_within(struct waiter *k, pool_off_t x)
{
	struct got g = served(k);

	assert_true(inside(g.off, x, BLOCK));
	return g;
}

void
held_now(const char *pool, uint32_t n)
{
	struct pool_daemon_stats ds;

	assert_int_equal(harness_stats_of(conn, pool).alloc_waits, n);
	EXPECT_RC(pool_daemon_stats(conn, &ds), 0);
	assert_true(ds.held >= n);
}

void
cached_waiter_live(const char *pool)
{
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;

	while (harness_stats_of(conn, pool).live_blocks == 0) {
		if (harness_now_ms() > until)
			fail_msg("the caching waiter's block in pool %s never "
				 "came", pool);
		harness_sleep_ms(10);
	}
}

/* ---- the daemon stopped: requests it reads in one turn ------------------ */

/* Is nr a call libpoolclient waits for an answer in? */
static bool
answer_call(long nr)
{
#ifdef SYS_poll
	if (nr == SYS_poll)
		return true;
#endif
	return nr == SYS_recvmsg || nr == SYS_ppoll;
}

/*
 * Until thread tid of process pid waits in the kernel in a call that
 * answer says is the one (on the call's number, from /proc): no sleep
 * that guesses, for under load a child may take any time to get there.
 */
static void
in_call(pid_t pid, pid_t tid, bool (*answer)(long), const char *what)
{
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	char path[64], text[64], *end;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid,
		 (int)tid);
	for (;;) {
		harness_read_text(path, text, sizeof(text));
		nr = strtol(text, &end, 10);
		if (end != text && answer(nr))
			return;
		if (harness_now_ms() > until)
			fail_msg("pid %d thread %d never %s (%s: %s)", (int)pid,
				 (int)tid, what, path, text);
		harness_sleep_ms(1);
	}
}

/*
 * Thread tid of pid waits for an answer: its request is sent, and with
 * the daemon stopped it stays unread, in line behind those sent before.
 */
static void
asking(pid_t pid, pid_t tid)
{
	in_call(pid, tid, answer_call, "waited for an answer");
}

static bool
gate_call(long nr)
{
	return nr == SYS_read;
}

void
daemon_stop(void)
{
	uint64_t until = harness_now_ms() + LOG_WAIT_MS;
	char path[64], text[512], *state;

	assert_int_equal(kill(d.pid, SIGSTOP), 0);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)d.pid);
	for (;;) {
		harness_read_text(path, text, sizeof(text));
		/* The state follows the name, which may hold anything. */
		state = strrchr(text, ')');
		if (state && state[1] == ' ' && state[2] == 'T')
			return;
		if (harness_now_ms() > until)
			fail_msg("the daemon never stopped (%s)", text);
		harness_sleep_ms(1);
	}
}

void
daemon_goes_on(void)
{
	assert_int_equal(kill(d.pid, SIGCONT), 0);
}

static void *
asked_in_thread(void *arg)
{
	struct asked *a = arg;

	__atomic_store_n(&a->tid, (pid_t)syscall(SYS_gettid),
			 __ATOMIC_RELEASE);
	a->rc = a->fn(a->arg);
	return NULL;
}

void
asked_sent(struct asked *a, int (*fn)(void *), void *arg)
{
	pid_t tid;

	a->fn = fn;
	a->arg = arg;
	a->tid = 0;
	assert_int_equal(pthread_create(&a->t, NULL, asked_in_thread, a), 0);
	while (!(tid = __atomic_load_n(&a->tid, __ATOMIC_ACQUIRE)))
		harness_sleep_ms(1);
	asking(getpid(), tid);
}

int
asked_answer(struct asked *a)
{
	assert_int_equal(pthread_join(a->t, NULL), 0);
	return a->rc;
}

static int
free_it(void *arg)
{
	struct freeing *fr = arg;

	return pool_free(fr->f->p, fr->off);
}

void
free_sent_stopped(struct freeing *fr, struct full *f, size_t i)
{
	daemon_stop();
	fr->f = f;
	fr->i = i;
	fr->off = f->off[i];
	asked_sent(&fr->a, free_it, fr);
}

void
free_done(struct freeing *fr)
{
	daemon_goes_on();
	EXPECT_RC(asked_answer(&fr->a), 0);
	fr->f->off[fr->i] = POOL_OFF_NONE;
}

void
at_gate(struct waiter *k)
{
	in_call(k->pid, k->pid, gate_call, "came to its gate");
}

void
ungate(struct waiter *k)
{
	assert_int_equal(harness_write_full(k->stop, "g", 1), 0);
	asking(k->pid, k->pid);
}

bool
room_to_the_first(struct full *f, size_t i, struct waiter *k,
		  struct waiter *k2, struct got *g2)
{
	struct pollfd pf[2];
	bool read = false;
	struct freeing fr;
	struct got g;

	pf[0].fd = k->from;
	pf[1].fd = k2->from;
	at_gate(k2);
	free_sent_stopped(&fr, f, i);
	ungate(k2);
	free_done(&fr);
	some_answered(pf, 2, f->name,
		      "the first waiter and the later allocation");
	if (!(pf[0].revents & POLLIN)) {
		*g2 = waiter_got(k2);
		read = true;
		if (g2->rc == 0 && inside(g2->off, fr.off, f->each))
			fail_msg("pool %s: the later allocation was answered "
				 "first, at 0x%llx; the free was at 0x%llx",
				 f->name, (unsigned long long)g2->off,
				 (unsigned long long)fr.off);
	}
	g = served(k);
	if (!inside(g.off, fr.off, f->each))
		fail_msg("the first waiter got 0x%llx, not the room freed at "
			 "0x%llx", (unsigned long long)g.off,
			 (unsigned long long)fr.off);
	return read;
}
