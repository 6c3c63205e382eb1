/*
 * itest_poolctl.c - the poolctl command line against a real daemon.
 *
 * Runs build/poolctl (docs/poolctl.md) and checks each command's output and
 * exit status against what the daemon reports through libpoolclient:
 *   list and stats (text, one pool, --json), an allocation the daemon holds
 *   for want of room in every format of stats (alloc_waits, a gauge),
 *   create (and bad sizes: exit 2),
 *   a byte unit on any size option ("64MB": exit 2, why and what to write),
 *   a size past 64 bits ("99999999999T": exit 2, too large, and the most),
 *   or past the most poolctl knows the option takes ("--size 65T", a limit
 *   above the size given with it), or both too large and with a byte unit
 *   ("99999999999TB"): the same, before connecting,
 *   destroy (and of a busy pool: exit 1, --force), clients (shows the pid of
 *   a client process kept open), trim (prints what the daemon released),
 *   check (prints ok), --help / help / --version, usage errors (exit 2),
 *   bad pool names refused before connecting (exit 2), unknown pools (exit
 *   1, "no such pool: NAME"), a create the daemon refuses and a busy destroy
 *   (exit 1, said in the command's words), an unreachable daemon (exit 69;
 *   a missing socket in the library's words, not as the daemon's),
 *   and another uid refused by the daemon or by the socket's mode (exit 77).
 *   wait: a timeout said as the name not published in time (exit 1), a
 *   pool that does not exist, a name there already (its line four fields,
 *   the size in bytes), a missing name with
 *   --timeout 0 (exit 1), a name too long, a bad timeout and a missing
 *   argument, named as the synopsis names it (exit 2).
 *   The daemon's words for a refusal: left out when poolctl's explain it
 *   whole (a pool of the file, a name taken, create's permission), after
 *   poolctl's summary when they name the case (a limit above the size,
 *   the counts of a busy pool, which rule of set's permission, the mode
 *   that refused a read).
 *   Block names of any bytes (a blank, a newline, not UTF-8, a backslash):
 *   one field of names' and wait's lines each, read back whole, and JSON
 *   that stays UTF-8 with the bytes in name_hex.  An option that takes a
 *   value given twice: exit 2, nothing done.  A socket path that is a
 *   directory or a file: exit 69, "not a socket"; a socket nobody listens
 *   on, or one of another type: exit 69, said so.
 *   --json of create (owner and group given by name: their ids), set
 *   (only what was given; "default" for a retain set back) and destroy
 *   (forced or not; nothing printed when it fails), as the books say.
 *   Usage errors of help, --socket, names, wait, unpublish and --mode
 *   (exit 2, nothing done); names and unpublish of no pool or no name
 *   (exit 1, in their words).
 *   --user-quota of create and set: the daemon's books say it, it bounds
 *   what the uid's connections hold together, stats shows it in every
 *   format and persisted the share of it a uid's persistent bytes take;
 *   bad values (exit 2, named, nothing changed); an owner who is no
 *   admin refused (exit 77).
 *   users: each uid's connections and handles on a pool, the bytes they
 *   hold, its persistent blocks and bytes, its user quota in force and
 *   their share of it, in every format; of every pool; of no pool (exit
 *   1).
 *   --user-quota USER=SIZE of create and set: the uids' own user quotas
 *   the daemon keeps, set's USER=default taking one out, all in one
 *   request with the pool's default; stats POOL shows them (names, -n
 *   numbers, kv numbers, a JSON array), users the bound a uid's own
 *   marks with a '*'; bad words (exit 2, named, nothing changed), the
 *   daemon's refusal of a 33rd entry and of a pool of the file (exit 1).
 *   stats of every pool shows the entries of each pool that has some,
 *   asking those pools alone (the daemon's count of requests says so),
 *   and the count of them beside acl_entries in kv and JSON; Prometheus
 *   has both counts as gauges, a sample a pool.
 *   free: the persistent blocks a program left (one persisted, one
 *   allocated persistent) ended by offset, in hexadecimal and decimal,
 *   beside offsets it refuses, each in its words (no block there, a
 *   block a handle holds, a named one), every one tried (exit 1); bad
 *   offsets (exit 2, nothing done); no such pool (exit 1); --json
 *   prints the pool and the offsets it freed; without it, "freed N
 *   blocks" when it ended any, nothing when it ended none.
 *   Offset 0 printed as 0x0 wherever an offset is printed: blocks (text
 *   and kv), names, wait, free's refusals and sweep --dry-run.
 *   Users and groups by name in the text tables, as ls -l names them:
 *   the tests run as root, so uid and gid 0 are "root" in clients,
 *   stats, names, blocks and sweep --dry-run, and numbers under -n
 *   (--numeric); a uid with no name (an owner given as a number) stays
 *   a number; --json keeps the numbers and puts the names beside, null
 *   for none; kv keeps the numbers.  -n is a usage error for a command
 *   it is not for.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "harness_raw.h"
#include "poolclient.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define OUT_MAX 65536

/* Exit codes of docs/poolctl.md. */
#define EXIT_FAILED	1
#define EXIT_USAGE	2
#define EXIT_UNAVAILABLE 69
#define EXIT_NOPERM	77

#define NOBODY 65534

struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;
	pid_t holder;			/* a client process, if running */
	int release_fd;			/* closing it lets the holder go */
	char out[OUT_MAX];		/* stdout of the last poolctl */
	char err[4096];			/* its stderr */
};

static struct fixture fx;

static void
start(const char *config)
{
	assert_int_equal(harness_start(&fx.d, config), 0);
	assert_int_equal(pool_connect(fx.d.sock, &fx.conn), 0);
}

static void
release_clients(void)
{
	if (fx.holder > 0) {
		close(fx.release_fd);
		harness_wait(fx.holder);
		fx.holder = 0;
	}
	if (fx.pool)
		pool_close(fx.pool);
	fx.pool = NULL;
	if (fx.conn)
		pool_disconnect(fx.conn);
	fx.conn = NULL;
}

static void
stop(void)
{
	release_clients();
	assert_int_equal(harness_stop(&fx.d), 0);
}

static int
teardown(void **state)
{
	(void)state;
	release_clients();
	if (fx.d.pid > 0)
		harness_stop(&fx.d);
	return 0;
}

/* Run "poolctl ARGS" (harness_poolctl): output in fx.out and fx.err. */
#define ctl_env(env, ...) harness_poolctl(&fx.d, env, fx.out, sizeof(fx.out), \
					  fx.err, sizeof(fx.err), __VA_ARGS__)
#define ctl(...) ctl_env(NULL, __VA_ARGS__)

/* Fail, showing the command's output, unless cond. */
#define expect(cond, what)						\
	do {								\
		if (!(cond))						\
			fail_msg("%s\n--- stdout:\n%s--- stderr:\n%s", what, \
				 fx.out, fx.err);			\
	} while (0)

static void
expect_exit(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: exit %d, want %d\n--- stdout:\n%s--- stderr:\n%s",
			 what, got, want, fx.out, fx.err);
}

/* The line of text that starts with word followed by a blank, or NULL. */
static const char *
line_starting(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *l = text;

	while (l && *l) {
		while (*l == ' ')
			l++;
		if (strncmp(l, word, n) == 0 && (l[n] == ' ' || l[n] == '\t'))
			return l;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return NULL;
}

/* The last two numbers of a line (e.g. BLOCKS and CLIENTS of `list`). */
static void
last_two_numbers(const char *line, uint64_t *a, uint64_t *b)
{
	const char *end = strchr(line, '\n');
	char copy[256], *tok, *save = NULL;
	size_t n = end ? (size_t)(end - line) : strlen(line);
	uint64_t prev = UINT64_MAX, last = UINT64_MAX;

	if (n >= sizeof(copy))
		n = sizeof(copy) - 1;
	memcpy(copy, line, n);
	copy[n] = '\0';
	for (tok = strtok_r(copy, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		prev = last;
		last = strtoull(tok, NULL, 10);
	}
	*a = prev;
	*b = last;
}

/* The number after "key": in loosely parsed JSON; -1 if absent. */
static int
json_number(const char *text, const char *key, uint64_t *out)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if (!(p = strstr(text, pat)))
		return -1;
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	*out = strtoull(p, NULL, 10);
	return 0;
}

static struct pool_stats
stats_of(const char *name)
{
	struct pool_stats st;
	int rc = pool_stats_by_name(fx.conn, name, &st);

	if (rc)
		fail_msg("pool_stats_by_name(%s): %s", name, pool_strerror(rc));
	return st;
}

static bool
pool_exists(const char *name)
{
	struct pool_stats st;
	int rc = pool_stats_by_name(fx.conn, name, &st);

	if (rc && rc != -ENOENT)
		fail_msg("pool_stats_by_name(%s): %s", name, pool_strerror(rc));
	return rc == 0;
}

static pool_off_t
alloc_ok(struct pool *p, size_t size)
{
	pool_off_t off = POOL_OFF_NONE;
	int rc = pool_alloc(p, size, &off);

	if (rc)
		fail_msg("pool_alloc(%zu): %s", size, pool_strerror(rc));
	memset(pool_ptr(p, off), 0x6b, size);
	return off;
}

/* ---- list and stats ------------------------------------------------------- */

#define TWO_POOLS "[pool alpha]\nsize = 16M\n[pool beta]\nsize = 4M\n" \
		  "mode = 0640\n"

static void
list_and_stats(void **state)
{
	const char *la, *lb;
	uint64_t blocks = 0, clients = 0, v = 0;
	struct pool_stats st;

	(void)state;
	start(TWO_POOLS);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	alloc_ok(fx.pool, 100);
	alloc_ok(fx.pool, 5000);
	alloc_ok(fx.pool, 300 * KiB);
	/* Blocks a cache refill brought along go back: three stay. */
	assert_int_equal(pool_flush(fx.pool), 0);
	st = stats_of("alpha");

	expect_exit(ctl("list"), 0, "list");
	expect(strstr(fx.out, "NAME"), "list: no header");
	la = line_starting(fx.out, "alpha");
	lb = line_starting(fx.out, "beta");
	expect(la && lb, "list: a pool is missing");
	expect(la < lb, "list: not sorted by name");
	last_two_numbers(la, &blocks, &clients);
	expect(blocks == st.live_blocks && clients == st.clients,
	       "list: alpha's BLOCKS and CLIENTS differ from pool_stats");
	expect(strstr(la, "16.0 MiB"), "list: alpha's size is not 16.0 MiB");

	expect_exit(ctl("stats"), 0, "stats");
	expect(strstr(fx.out, "alpha") && strstr(fx.out, "beta"),
	       "stats without a pool must show every pool");

	expect_exit(ctl("stats alpha"), 0, "stats alpha");
	expect(strstr(fx.out, "alpha") && !strstr(fx.out, "beta"),
	       "stats alpha must show alpha only");
	expect(strstr(fx.out, "(16777216)"), "stats alpha: size in bytes");

	expect_exit(ctl("stats --json"), 0, "stats --json");
	expect(strstr(fx.out, "\"allocated_bytes\""),
	       "stats --json: no \"allocated_bytes\"");
	expect(fx.out[strspn(fx.out, " \n")] == '[',
	       "stats --json must print an array");

	expect_exit(ctl("--json=short stats alpha"), 0,
		    "--json=short stats alpha");
	expect(json_number(fx.out, "allocated_bytes", &v) == 0 &&
	       v == st.allocated_bytes,
	       "stats alpha --json: allocated_bytes differs from pool_stats");
	expect(json_number(fx.out, "live_blocks", &v) == 0 && v == 3,
	       "stats alpha --json: live_blocks is not 3");
	expect(strstr(fx.out, "\"mode\":\"0600\"") ||
	       strstr(fx.out, "\"mode\": \"0600\""),
	       "stats alpha --json: mode is not the string \"0600\"");

	expect_exit(ctl("stats alpha --format=json"), 0,
		    "stats alpha --format=json");
	expect(strstr(fx.out, "\"allocated_bytes\""),
	       "--format=json is not JSON");

	/* kv: "POOL KEY VALUE", one per statistic, for awk and grep. */
	expect_exit(ctl("stats --format=kv"), 0, "stats --format=kv");
	{
		static char copy[sizeof(fx.out)];
		char want[96], *line, *save;
		unsigned lines = 0, beta = 0;

		snprintf(want, sizeof(want), "alpha allocated_bytes %" PRIu64
			 "\n", st.allocated_bytes);
		expect(strstr(fx.out, want),
		       "--format=kv: no 'alpha allocated_bytes N' line");
		expect(strstr(fx.out, "alpha live_blocks 3\n"),
		       "--format=kv: alpha's live_blocks is not 3");
		expect(strstr(fx.out, "alpha mode 0600\n"),
		       "--format=kv: alpha's mode is not 0600");
		/* The derived figures too, as the text and JSON have them. */
		snprintf(want, sizeof(want), "alpha used_percent %.2f\n",
			 100.0 * (double)st.allocated_bytes /
			 (double)st.max_size);
		expect(strstr(fx.out, want),
		       "--format=kv: no 'alpha used_percent N' line");
		expect(strstr(fx.out, "\nalpha fragmentation_percent "),
		       "--format=kv: no 'alpha fragmentation_percent' line");
		memcpy(copy, fx.out, sizeof(copy));
		for (line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char pool[32], key[64], value[32], extra[8];

			expect(sscanf(line, "%31s %63s %31s %7s", pool, key,
				      value, extra) == 3,
			       "--format=kv: a line is not POOL KEY VALUE");
			lines++;
			beta += strcmp(pool, "beta") == 0;
		}
		expect(lines >= 40 && beta * 2 == lines,
		       "--format=kv: both pools, the same keys each");
	}
	expect_exit(ctl("stats --format=kv --json"), EXIT_USAGE,
		    "--format=kv with --json");

	expect_exit(ctl("stats nosuch"), EXIT_FAILED, "stats nosuch");
	expect(strncmp(fx.err, "poolctl: ", 9) == 0,
	       "stats nosuch: no diagnostic on stderr");
	stop();
}

/* ---- a waiting allocation in the stats ------------------------------------ */

#define WAITING_POOL "[pool alpha]\nsize = 1M\nlimit = 64K\n"

/* alpha's alloc_waits, once it is want (a held request counts at once). */
static void
await_alloc_waits(uint32_t want)
{
	struct pool_stats st;
	int i;

	for (i = 0; i < 3000; i++) {
		st = stats_of("alpha");
		if (st.alloc_waits == want)
			return;
		usleep(10000);
	}
	fail_msg("alpha's alloc_waits stays %" PRIu32 ", want %" PRIu32,
		 st.alloc_waits, want);
}

/* Every format of stats shows alpha's alloc_waits as n, as a gauge. */
static void
expect_alloc_waits(unsigned n)
{
	char want[96], end = 0;
	const char *l;
	unsigned got = 0;

	expect_exit(ctl("stats alpha --format=kv"), 0, "stats --format=kv");
	snprintf(want, sizeof(want), "alpha alloc_waits %u\n", n);
	expect(strstr(fx.out, want), "--format=kv: no 'alpha alloc_waits N'");

	expect_exit(ctl("--json=short stats alpha"), 0, "stats --json");
	snprintf(want, sizeof(want), "\"alloc_waits\":%u,", n);
	expect(strstr(fx.out, want), "--json: alloc_waits is not N");

	expect_exit(ctl("stats alpha"), 0, "stats alpha");
	l = line_starting(fx.out, "waiting");
	expect(l && sscanf(l, "waiting allocations %u%c", &got, &end) == 2 &&
	       got == n && end == '\n',
	       "text: no 'waiting allocations N' line");

	expect_exit(ctl("stats alpha --format=prometheus"), 0,
		    "stats --format=prometheus");
	expect(strstr(fx.out, "# TYPE poolmgr_pool_alloc_waits gauge\n"),
	       "prometheus: poolmgr_pool_alloc_waits is not a gauge");
	snprintf(want, sizeof(want), "\npoolmgr_pool_alloc_waits{pool=\"alpha\"}"
		 " %u\n", n);
	expect(strstr(fx.out, want), "prometheus: no alloc_waits sample of N");
}

/*
 * An allocation the daemon holds for want of room shows in every format
 * of `poolctl stats` while it waits, and goes once a free lets it through.
 */
static void
stats_show_waiting_allocations(void **state)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Alloc al = POOLMGR__ALLOC__INIT;
	Poolmgr__Reply *r;
	pool_off_t full;
	uint32_t h;
	int fd;

	(void)state;
	start(WAITING_POOL);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	full = alloc_ok(fx.pool, 64 * KiB);
	fd = harness_raw_greeted(fx.d.sock, "waiter");
	assert_true(fd >= 0);
	assert_int_equal(harness_raw_open(fd, "alpha", &h), 0);
	expect_alloc_waits(0);

	al.handle = h;
	al.size = 4 * KiB;
	al.wait_ms = 600000;
	req.body_case = POOLMGR__REQUEST__BODY_ALLOC;
	req.alloc = &al;
	assert_int_equal(harness_raw_post(fd, &req), 0);
	await_alloc_waits(1);
	expect_alloc_waits(1);

	/* Straight back to the daemon, not into the handle's cache. */
	assert_int_equal(pool_free(fx.pool, full), 0);
	assert_int_equal(pool_flush(fx.pool), 0);
	r = harness_raw_reply(fd, req.id, HARNESS_RAW_WAIT_MS);
	assert_non_null(r);
	assert_int_equal(r->error, 0);
	poolmgr__reply__free_unpacked(r, NULL);
	expect_alloc_waits(0);
	close(fd);
	stop();
}

/* ---- create and destroy --------------------------------------------------- */

static void
create_and_bad_sizes(void **state)
{
	static const char *const bad[] = {
		"--size 1.5M", "--size 0", "--size 10KB", "--size -1",
		"--size abc", "--size", "", "--size 1M --retain lots",
		"--size 1M --retain -1",
	};
	struct pool_stats st;
	const char *line;
	unsigned i;

	(void)state;
	start(TWO_POOLS);

	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect(fx.out[0] == '\0', "create prints nothing on success");
	st = stats_of("gamma");
	assert_int_equal(st.max_size, 1 * MiB);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.retain_bytes, 256 * st.page_size);	/* default */
	expect_exit(ctl("list"), 0, "list");
	expect(line_starting(fx.out, "gamma"), "list does not show gamma");

	expect_exit(ctl("create gamma --size 1M"), EXIT_FAILED,
		    "create of an existing pool");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_exit(ctl("create delta %s", bad[i]), EXIT_USAGE,
			    bad[i]);
		assert_false(pool_exists("delta"));
	}

	/* A retain within the size: the daemon caps a larger one to it. */
	expect_exit(ctl("create delta --size 4M --granularity 64 --mode 0640 "
			"--quota 8K --retain 2M"), 0,
		    "create delta with options");
	st = stats_of("delta");
	assert_int_equal(st.max_size, 4 * MiB);
	assert_int_equal(st.granularity, 64);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.quota, 8 * KiB);
	assert_int_equal(st.retain_bytes, 2 * MiB);
	expect_exit(ctl("stats delta"), 0, "stats delta");
	expect(strstr(fx.out, "retain") && strstr(fx.out, "(2097152)"),
	       "stats: no retain line of 2 MiB");
	expect_exit(ctl("create zeta --size 1M --retain 0"), 0,
		    "create zeta --retain 0");
	assert_int_equal(stats_of("zeta").retain_bytes, 0);
	expect_exit(ctl("stats zeta"), 0, "stats zeta");
	line = line_starting(fx.out, "retain");
	expect(line && strncmp(line + 6 + strspn(line + 6, " "), "none", 4) == 0,
	       "stats: retain 0 is not shown as none");
	/* What stats shows is taken back, as for the quota and the limit. */
	expect_exit(ctl("create theta --size 1M --retain none"), 0,
		    "create theta --retain none");
	assert_int_equal(stats_of("theta").retain_bytes, 0);

	expect_exit(ctl("--json=short create eps --size 2MiB"), 0,
		    "--json create");
	expect(strstr(fx.out, "\"created\":true") ||
	       strstr(fx.out, "\"created\": true"),
	       "--json create: no \"created\": true");
	assert_int_equal(stats_of("eps").max_size, 2 * MiB);
	stop();
}

static void
destroy_idle_busy_and_forced(void **state)
{
	char forced[160];
	uint64_t live;

	(void)state;
	start(TWO_POOLS);

	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect_exit(ctl("destroy gamma"), 0, "destroy gamma");
	expect(fx.out[0] == '\0', "destroy prints nothing on success");
	assert_false(pool_exists("gamma"));
	expect_exit(ctl("destroy gamma"), EXIT_FAILED, "destroy it again");
	expect_exit(ctl("destroy nosuch"), EXIT_FAILED, "destroy nosuch");

	/* An open handle makes the pool busy. */
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	expect_exit(ctl("destroy alpha"), EXIT_FAILED, "destroy of a busy pool");
	assert_true(pool_exists("alpha"));
	alloc_ok(fx.pool, 64);
	pool_close(fx.pool);
	fx.pool = NULL;
	expect_exit(ctl("destroy alpha"), 0, "destroy after the close");
	assert_false(pool_exists("alpha"));

	/*
	 * --force takes it away from under a holder, and the log says what
	 * it took: the operator reading it when that program complains sees
	 * why, not a destroy like any other.
	 */
	assert_int_equal(pool_open(fx.conn, "beta", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	expect_exit(ctl("destroy beta"), EXIT_FAILED, "destroy of a busy pool");
	/* The client cache may have fetched more than the one asked for. */
	live = stats_of("beta").live_blocks;
	expect_exit(ctl("destroy beta --force"), 0, "destroy --force");
	assert_false(pool_exists("beta"));
	snprintf(forced, sizeof(forced), "pool beta destroyed by uid %u by "
		 "force: 1 open handle closed, %llu live block%s ended (the "
		 "configuration file defines it",
		 (unsigned)geteuid(), (unsigned long long)live,
		 live == 1 ? "" : "s");
	harness_expect_logged(&fx.d, forced);
	/* A destroy that took nothing says nothing of force. */
	expect_exit(ctl("destroy gamma2 --force"), EXIT_FAILED, "no gamma2");
	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma again");
	expect_exit(ctl("destroy gamma --force"), 0, "destroy idle --force");
	snprintf(forced, sizeof(forced), "pool gamma destroyed by uid %u\n",
		 (unsigned)geteuid());
	assert_int_equal(harness_log_count(&fx.d, forced), 2);
	stop();
}

/* ---- clients -------------------------------------------------------------- */

struct holder {
	int ready[2];		/* child -> parent: one byte when holding */
	int release[2];		/* parent -> child: EOF means exit */
};

/* The child: hold two blocks of alpha until the parent says go. */
static int
holder_main(void *arg)
{
	struct holder *h = arg;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t a, b;
	char ch = 'R';

	close(h->ready[0]);
	close(h->release[1]);
	if (pool_connect(NULL, &c) || pool_open(c, "alpha", &p) ||
	    pool_alloc(p, 1000, &a) || pool_alloc(p, 3000, &b) ||
	    pool_flush(p))
		return 10;
	if (write(h->ready[1], &ch, 1) != 1)
		return 11;
	while (read(h->release[0], &ch, 1) > 0)
		;
	pool_close(p);
	pool_disconnect(c);
	return 0;
}

static bool
wait_readable(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, ms) == 1;
}

/* Does any line of fx.out start with the number pid? */
static bool
out_has_pid_line(pid_t pid)
{
	char word[32];

	snprintf(word, sizeof(word), "%d", (int)pid);
	return line_starting(fx.out, word) != NULL;
}

/*
 * One process's connections each number their handles from 1, so pool,
 * pid and handle tie between them: the rows still come in one order
 * (by name here), whichever connection opened the pool first.
 */
static void
clients_ties_in_one_order(void **state)
{
	const char *pools[2] = {"alpha", "beta"};
	const char *names[2] = {"zz-conn", "aa-conn"};
	const char *a, *z;
	uint32_t h;
	int fd[2][2];

	(void)state;
	start(TWO_POOLS);
	/* alpha: zz-conn opens first; beta: aa-conn does. */
	for (int k = 0; k < 2; k++)
		for (int j = 0; j < 2; j++) {
			fd[k][j] = harness_raw_greeted(fx.d.sock,
						       names[(j + k) % 2]);
			assert_true(fd[k][j] >= 0);
			assert_int_equal(harness_raw_open(fd[k][j], pools[k],
							  &h), 0);
			assert_int_equal(h, 1);
		}
	for (int k = 0; k < 2; k++) {
		expect_exit(ctl("clients %s", pools[k]), 0, "clients");
		a = strstr(fx.out, "aa-conn");
		z = strstr(fx.out, "zz-conn");
		expect(a != NULL && z != NULL, "clients: a connection missing");
		expect(a < z, "clients: tied rows in the daemon's order");
	}
	for (int k = 0; k < 2; k++)
		for (int j = 0; j < 2; j++)
			close(fd[k][j]);
	stop();
}

static void
clients_shows_holder_pid(void **state)
{
	struct holder h;
	uint64_t v = 0, blocks = 0;
	char ch, pidkey[48];
	const char *line;
	pid_t pid;
	int i, status;

	(void)state;
	start(TWO_POOLS);
	assert_int_equal(pipe(h.ready), 0);
	assert_int_equal(pipe(h.release), 0);
	pid = harness_spawn(holder_main, &h);
	assert_true(pid > 0);
	fx.holder = pid;
	fx.release_fd = h.release[1];
	close(h.ready[1]);
	close(h.release[0]);
	if (!wait_readable(h.ready[0], 5000) || read(h.ready[0], &ch, 1) != 1) {
		close(h.ready[0]);
		fail_msg("the holder did not get ready");
	}
	close(h.ready[0]);

	expect_exit(ctl("clients"), 0, "clients");
	expect(out_has_pid_line(pid), "clients: the holder's pid is missing");
	expect_exit(ctl("clients alpha"), 0, "clients alpha");
	expect(out_has_pid_line(pid), "clients alpha: holder's pid missing");
	snprintf(pidkey, sizeof(pidkey), "%d", (int)pid);
	line = line_starting(fx.out, pidkey);
	expect(strstr(line, "alpha") && strstr(line, "rw"),
	       "clients alpha: the holder's line lacks the pool or rw");
	/* The name from its Hello: the program's name. */
	expect(strstr(line, program_invocation_short_name),
	       "clients alpha: the holder's line lacks its Hello name");
	/* The holder runs as root: by name, and by number under -n. */
	expect(strncmp(line + strlen(pidkey), "   root   root  ", 16) == 0,
	       "clients alpha: uid and gid 0 are not root and root");
	expect_exit(ctl("clients alpha -n"), 0, "clients alpha -n");
	line = line_starting(fx.out, pidkey);
	expect(line && strncmp(line + strlen(pidkey), "      0      0  ",
			       16) == 0,
	       "clients -n: uid and gid 0 are not numbers");
	expect_exit(ctl("--json=short clients alpha"), 0, "clients --json");
	expect(strstr(fx.out, "\"uid\":0,\"user\":\"root\",\"gid\":0,"
			      "\"group\":\"root\","),
	       "clients --json: no user and group beside uid and gid");
	expect_exit(ctl("clients beta"), 0, "clients beta");
	expect(!out_has_pid_line(pid), "clients beta shows alpha's holder");
	expect_exit(ctl("--json clients alpha"), 0, "--json clients alpha");
	expect(json_number(fx.out, "pid", &v) == 0 && v == (uint64_t)pid,
	       "--json clients: pid differs");
	expect(json_number(fx.out, "blocks", &blocks) == 0 && blocks == 2,
	       "--json clients: blocks is not 2");
	expect_exit(ctl("clients nosuch"), EXIT_FAILED, "clients nosuch");

	fx.holder = 0;
	close(h.release[1]);
	status = harness_wait(pid);
	assert_int_equal(status, 0);
	/* The daemon sees the disconnect soon. */
	for (i = 0; i < 50; i++) {
		expect_exit(ctl("clients alpha"), 0, "clients alpha");
		if (!out_has_pid_line(pid))
			break;
		harness_sleep_ms(100);
	}
	expect(!out_has_pid_line(pid), "clients: a gone client still listed");
	stop();
}

/* ---- trim and check ------------------------------------------------------- */

/* The byte count of "released ... (N bytes)" or "released N bytes". */
static int
released_bytes(const char *out, uint64_t *n)
{
	const char *p = strstr(out, "released");
	const char *paren;

	if (!p)
		return -1;
	paren = strchr(p, '(');
	p = paren ? paren + 1 : p + strlen("released");
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	*n = strtoull(p, NULL, 10);
	return 0;
}

static void
trim_and_check(void **state)
{
	struct pool_stats before, after;
	pool_off_t offs[2000];
	uint64_t n = UINT64_MAX;
	unsigned i;

	(void)state;
	start(TWO_POOLS);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	/* Dirty pages that the frees alone need not give back. */
	for (i = 0; i < 2000; i++)
		offs[i] = alloc_ok(fx.pool, 1000 + (i % 7) * 16);
	for (i = 0; i < 2000; i += 2)
		assert_int_equal(pool_free(fx.pool, offs[i]), 0);
	for (i = 1; i < 2000; i += 2)
		assert_int_equal(pool_free(fx.pool, offs[i]), 0);
	before = stats_of("alpha");

	expect_exit(ctl("trim alpha"), 0, "trim alpha");
	expect(released_bytes(fx.out, &n) == 0, "trim: no \"released\"");
	after = stats_of("alpha");
	printf("poolctl: trim released %" PRIu64 " B; the daemon's "
	       "released_bytes grew by %" PRIu64 ", committed %" PRIu64
	       " -> %" PRIu64 "\n", n, after.released_bytes -
	       before.released_bytes, before.committed_bytes,
	       after.committed_bytes);
	expect(n == after.released_bytes - before.released_bytes,
	       "trim: printed count differs from the daemon's released_bytes");
	expect_exit(ctl("--json=short trim alpha"), 0, "--json trim");
	expect(strstr(fx.out, "\"released_bytes\""), "--json trim");

	expect_exit(ctl("check alpha"), 0, "check alpha");
	expect(strcmp(fx.out, "ok\n") == 0, "check alpha does not print ok");
	expect_exit(ctl("--json=short check alpha"), 0, "--json check");
	expect(strstr(fx.out, "\"ok\":true") || strstr(fx.out, "\"ok\": true"),
	       "--json check: no \"ok\": true");

	expect_exit(ctl("trim nosuch"), EXIT_FAILED, "trim nosuch");
	expect_exit(ctl("check nosuch"), EXIT_FAILED, "check nosuch");
	expect_exit(ctl("trim"), EXIT_USAGE, "trim without a pool");
	expect_exit(ctl("check"), EXIT_USAGE, "check without a pool");
	stop();
}

/* ---- usage ---------------------------------------------------------------- */

static void
help_version_and_usage_errors(void **state)
{
	(void)state;
	start(TWO_POOLS);

	expect_exit(ctl("--help"), 0, "--help");
	expect(strstr(fx.out, "usage"), "--help prints no usage");
	expect_exit(ctl("-h"), 0, "-h");
	expect(strstr(fx.out, "usage"), "-h prints no usage");
	expect_exit(ctl("help"), 0, "help");
	expect(strstr(fx.out, "usage"), "help prints no usage");
	expect_exit(ctl("help create"), 0, "help create");
	expect(strstr(fx.out, "--size"), "help create does not show --size");
	expect_exit(ctl("create --help"), 0, "create --help");
	expect(strstr(fx.out, "--size"), "create --help does not show --size");
	/* Each command's help tells what it prints and what it needs. */
	expect_exit(ctl("help names"), 0, "help names");
	expect(strstr(fx.out, "EVICT") && strstr(fx.out, "read permission"),
	       "help names: no word of the EVICT column or of permission");
	/* The PERSISTED column is what free --older-than's age is read off. */
	expect_exit(ctl("help blocks"), 0, "help blocks");
	expect(strstr(fx.out, "PERSISTED") != NULL,
	       "help blocks: no word of the PERSISTED column");
	expect_exit(ctl("help check"), 0, "help check");
	expect(strstr(fx.out, "write permission"),
	       "help check: no word of the write permission it needs");
	expect_exit(ctl("help set"), 0, "help set");
	expect(strstr(fx.out, "'default'"),
	       "help set: no word of --retain default");
	expect_exit(ctl("--version"), 0, "--version");
	expect(fx.out[0] != '\0', "--version prints nothing");

	expect_exit(ctl("frobnicate"), EXIT_USAGE, "unknown command");
	expect(strncmp(fx.err, "poolctl: ", 9) == 0,
	       "unknown command: no diagnostic on stderr");
	expect_exit(ctl("--frobnicate list"), EXIT_USAGE, "unknown option");
	expect(strncmp(fx.err, "poolctl: unknown option '--frobnicate'\n",
		       39) == 0, "unknown option: not named");
	expect_exit(ctl("--frobnicate=3 list"), EXIT_USAGE, "unknown option=");
	expect(strncmp(fx.err, "poolctl: unknown option '--frobnicate'\n",
		       39) == 0, "unknown option with a value: not named alone");
	/* Named as written, not by the short letter it also has. */
	expect_exit(ctl("destroy x --force=1"), EXIT_USAGE, "--force=1");
	expect(strncmp(fx.err, "poolctl: option '--force' takes no value\n",
		       41) == 0, "--force=1: not said that it takes no value");
	expect_exit(ctl("destroy x --forc=1"), EXIT_USAGE, "--forc=1");
	expect(strncmp(fx.err, "poolctl: option '--force' takes no value\n",
		       41) == 0, "--forc=1: not read as --force's");
	expect_exit(ctl("list -q"), EXIT_USAGE, "-q");
	expect(strncmp(fx.err, "poolctl: unknown option '-q'\n", 29) == 0,
	       "-q: not named");
	/* An option refused as the line is read, after its command: that
	 * command's help is the one that lists its options and values. */
	expect(strstr(fx.err, "\nTry 'poolctl help list' for its arguments "
		      "and options.\n"),
	       "list -q: not pointed at 'poolctl help list'");
	expect_exit(ctl("stats --format"), EXIT_USAGE, "--format without FMT");
	expect(strstr(fx.err, "poolctl: option '--format' needs an argument\n"
		      "Try 'poolctl help stats' for its arguments and "
		      "options.\n"),
	       "stats --format: not pointed at 'poolctl help stats'");
	expect_exit(ctl("destroy x --force=1"), EXIT_USAGE, "--force=1 again");
	expect(strstr(fx.err, "\nTry 'poolctl help destroy' for its "
		      "arguments and options.\n"),
	       "destroy --force=1: not pointed at 'poolctl help destroy'");
	/* Before the command is read, the general help. */
	expect_exit(ctl("--frobnicate list"), EXIT_USAGE, "unknown option first");
	expect(strstr(fx.err, "\nTry 'poolctl --help' for more information.\n"),
	       "--frobnicate list: not pointed at 'poolctl --help'");
	expect_exit(ctl("list extra"), EXIT_USAGE, "extra argument");
	expect_exit(ctl("%s", ""), EXIT_USAGE, "no command");
	expect_exit(ctl("stats --format=xml"), EXIT_USAGE, "bad --format");
	/* A short option's argument follows it: "=short" is the argument. */
	expect_exit(ctl("-j=short list"), EXIT_USAGE, "-j=short");
	expect(strstr(fx.err, "bad JSON format '=short' (pretty or short: "
		      "--json=short, -jshort)\n"),
	       "-j=short: not said what the argument was and how to give it");
	expect_exit(ctl("-jshort list"), 0, "-jshort");
	expect(fx.out[0] == '[' && !strchr(fx.out, ' '), "-jshort: not short");
	expect_exit(ctl("create x --size 1M --mode 0"), EXIT_USAGE, "mode 0");
	expect_exit(ctl("create x --size 1M --mode 9"), EXIT_USAGE,
		    "mode 9 (not octal)");
	/* Help is pointed at: the command's own, once it is known. */
	expect(strstr(fx.err, "\nTry 'poolctl help create' for its arguments "
		      "and options.\n"),
	       "a usage error of create: not pointed at 'poolctl help create'");
	expect_exit(ctl("frobnicate"), EXIT_USAGE, "unknown command");
	expect(strstr(fx.err, "\nTry 'poolctl --help' for more information.\n"),
	       "an unknown command: not pointed at 'poolctl --help'");
	assert_false(pool_exists("x"));
	stop();
}

/* ---- pool names and the words of errors ----------------------------------- */

#define NAME64 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"
#define NAME65 NAME64 "-"

/*
 * Every command that takes a pool name checks it by the daemon's rule
 * before it connects: with no daemon at the socket, a bad name is still a
 * usage error (2), while a good one gets as far as the connection (69).
 */
static void
bad_pool_names_exit_2_before_connecting(void **state)
{
	static const char *const bad[] = {
		".x", ".hidden", NAME65, "'a b'", "a/b", "'a:b'", "''",
	};
	static const char *const cmds[] = {
		"create %s --size 1M", "destroy %s", "stats %s", "clients %s",
		"trim %s", "check %s",
	};
	char env[300], args[200];
	unsigned i, j;

	(void)state;
	start(TWO_POOLS);
	assert_int_equal(strlen(NAME64), 64);
	snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s/nonexistent.sock",
		 fx.d.dir);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			snprintf(args, sizeof(args), cmds[i], bad[j]);
			expect_exit(ctl_env(env, "%s", args), EXIT_USAGE, args);
			expect(strstr(fx.err, "pool name"),
			       "a bad name: the diagnostic does not say so");
		}
		/* The longest good name is not refused here. */
		snprintf(args, sizeof(args), cmds[i], NAME64);
		expect_exit(ctl_env(env, "%s", args), EXIT_UNAVAILABLE, args);
	}

	/* With the daemon there: refused alike, and nothing is created. */
	expect_exit(ctl("create .hidden --size 1M"), EXIT_USAGE,
		    "create .hidden");
	expect(strstr(fx.err, "'.hidden'") && !strstr(fx.err, "live block"),
	       "create .hidden: the diagnostic does not name the pool name");
	assert_false(pool_exists(".hidden"));
	expect_exit(ctl("create 'a b' --size 1M"), EXIT_USAGE, "create 'a b'");
	assert_false(pool_exists("a b"));

	/* The edges of the rule that are good: 64 bytes, a leading '-'. */
	expect_exit(ctl("create " NAME64 " --size 1M"), 0, "a 64-byte name");
	assert_true(pool_exists(NAME64));
	expect_exit(ctl("create --size 1M -- -dash"), 0, "create -- -dash");
	assert_true(pool_exists("-dash"));
	expect_exit(ctl("stats -- -dash"), 0, "stats -- -dash");
	expect_exit(ctl("destroy -- -dash"), 0, "destroy -- -dash");
	assert_false(pool_exists("-dash"));
	stop();
}

/*
 * A create the daemon refuses says so in words that fit a create, not in
 * pool_strerror's -EINVAL text, which speaks of live blocks.
 */
static void
create_refused_by_daemon_says_why(void **state)
{
	(void)state;
	start(TWO_POOLS);

	/*
	 * Well formed, so poolctl sends it; which huge pages there are only
	 * the daemon's kernel says, and none has pages of 1 TiB.
	 */
	expect_exit(ctl("create p1 --size 4M --page-size 1T"), EXIT_FAILED,
		    "create p1 --size 4M --page-size 1T");
	expect(strstr(fx.err, "poolctl: cannot create pool p1: invalid size "
			      "or option"),
	       "create with 1T pages: not \"cannot create pool p1: invalid "
	       "size or option\"");
	expect(!strstr(fx.err, "live block"),
	       "create with 1T pages: speaks of live blocks");
	assert_false(pool_exists("p1"));

	expect_exit(ctl("create alpha --size 1M"), EXIT_FAILED,
		    "create of an existing pool");
	expect(strstr(fx.err, "poolctl: cannot create pool alpha: ") &&
	       strstr(fx.err, "exists"),
	       "create alpha: not \"cannot create pool alpha: ... exists\"");
	stop();
}

/* Once connected, -ENOENT can only be the pool: no word of a socket. */
static void
no_such_pool_says_its_name(void **state)
{
	static const char *const cmds[] = {
		"stats nosuch", "destroy nosuch", "clients nosuch",
		"trim nosuch", "check nosuch", "destroy nosuch --force",
	};
	unsigned i;

	(void)state;
	start(TWO_POOLS);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		expect_exit(ctl("%s", cmds[i]), EXIT_FAILED, cmds[i]);
		expect(strcmp(fx.err, "poolctl: no such pool: nosuch\n") == 0,
		       "not \"poolctl: no such pool: nosuch\"");
	}
	stop();
}

/*
 * A busy destroy speaks of the pool's blocks and handles and of --force,
 * not of shared blocks that cannot move (pool_strerror's -EBUSY covers
 * pool_realloc too).
 */
static void
busy_destroy_says_why(void **state)
{
	(void)state;
	start(TWO_POOLS);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	expect_exit(ctl("destroy alpha"), EXIT_FAILED, "destroy of a busy pool");
	expect(strstr(fx.err, "poolctl: cannot destroy pool alpha: ") &&
	       strstr(fx.err, "live blocks or open handles") &&
	       strstr(fx.err, "--force"),
	       "busy destroy: not \"cannot destroy pool alpha: ... live "
	       "blocks or open handles ... --force\"");
	expect(!strstr(fx.err, "cannot move"),
	       "busy destroy: speaks of a shared block that cannot move");
	assert_true(pool_exists("alpha"));
	stop();
}

/* ---- unreachable ---------------------------------------------------------- */

/*
 * A daemon that refuses the connection says which count was full, of the
 * uid or in all: poolctl tells, and names the setting to look at, the
 * places kept for the admins beside max_connections (a client that is no
 * admin is refused there below max_connections).
 */
static void
refused_connection_says_which_limit(void **state)
{
	struct pool_conn *second;
	int i, rc;

	(void)state;
	assert_int_equal(harness_start(&fx.d, "max_connections_per_uid = 1\n"
				       TWO_POOLS), 0);
	/* The start's own probe holds the place until the daemon sees it go. */
	for (i = 0; (rc = pool_connect(fx.d.sock, &fx.conn)) == -EUSERS &&
	     i < 1000; i++)
		harness_sleep_ms(5);
	assert_int_equal(rc, 0);
	expect_exit(ctl("list"), EXIT_UNAVAILABLE,
		    "list past max_connections_per_uid");
	expect(strstr(fx.err, "poolctl: cannot connect to ") == fx.err &&
	       strstr(fx.err, ": too many clients connected to poolmgrd; "
			      "poolmgrd says: too many clients of this uid "
			      "connected (max_connections_per_uid in "
			      "poolmgrd.conf)\n"),
	       "a refused connection: the limit not named");

	/* Two in all, one of them kept for the admins: ours and one more. */
	assert_int_equal(harness_reload_with(&fx.d, "max_connections = 2\n"
					     TWO_POOLS), 0);
	EXPECT_RC(pool_connect(fx.d.sock, &second), 0);
	expect_exit(ctl("list"), EXIT_UNAVAILABLE, "list past max_connections");
	expect(strstr(fx.err, ": too many clients connected to poolmgrd; "
		      "poolmgrd says: too many clients connected "
		      "(max_connections in poolmgrd.conf, of which "
		      "admin_connections are kept for root, the daemon's uid "
		      "and admin_group)\n") != NULL,
	       "a refused connection: the settings not named");
	pool_disconnect(second);
}

static void
unreachable_daemon_exits_69(void **state)
{
	char env[300];

	(void)state;
	start(TWO_POOLS);
	snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s/nonexistent.sock",
		 fx.d.dir);
	expect_exit(ctl_env(env, "list"), EXIT_UNAVAILABLE,
		    "list with a socket that does not exist");
	expect_exit(ctl_env(env, "stats alpha"), EXIT_UNAVAILABLE,
		    "stats alpha with a socket that does not exist");
	expect_exit(ctl("--socket %s/nonexistent.sock list", fx.d.dir),
		    EXIT_UNAVAILABLE, "--socket that does not exist");
	/*
	 * No socket there: the library's own words, which name the path,
	 * said alone; no daemon was reached, so none are said as its.
	 */
	{
		char want[400];

		snprintf(want, sizeof(want), "poolctl: cannot connect: no "
			 "poolmgrd socket at %s/nonexistent.sock (is poolmgrd "
			 "running? $POOLMGRD_SOCKET names its socket)\n",
			 fx.d.dir);
		expect(strcmp(fx.err, want) == 0, "a missing socket: not "
		       "said in the library's words");
	}
	/* A path no socket can have is the command line's fault: 2. */
	{
		char path[200];

		memset(path, 's', sizeof(path) - 1);
		path[0] = '/';
		path[sizeof(path) - 1] = '\0';
		expect_exit(ctl("--socket %s list", path), EXIT_USAGE,
			    "--socket longer than a socket address holds");
		expect(strstr(fx.err, "poolctl: socket path longer than 107 "
			      "bytes: /sss"),
		       "a socket path too long: not said so");
		snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s", path);
		expect_exit(ctl_env(env, "list"), EXIT_USAGE,
			    "$POOLMGRD_SOCKET longer than a socket address");
		snprintf(env, sizeof(env), "POOLMGRD_SOCKET=%s/nonexistent.sock",
			 fx.d.dir);
	}
	/* The right socket through --socket beats a wrong environment. */
	expect_exit(ctl_env(env, "--socket %s list", fx.d.sock), 0,
		    "--socket overrides $POOLMGRD_SOCKET");
	expect(line_starting(fx.out, "alpha"), "--socket: list lacks alpha");

	/* A daemon that went away. */
	release_clients();
	assert_int_equal(harness_stop(&fx.d), 0);
	{
		char cmd[300];
		int rc;

		snprintf(cmd, sizeof(cmd), "%s/poolctl list 2>/dev/null",
			 harness_build());
		rc = harness_run(cmd, fx.out, sizeof(fx.out));
		printf("poolctl: list after the daemon stopped -> %d\n", rc);
		expect_exit(rc, EXIT_UNAVAILABLE, "list after the daemon stopped");
	}
}

/* ---- another uid ---------------------------------------------------------- */

struct as_other {
	const char *argv[8];
	int out;		/* the write end of a pipe, for stdout */
	int err;		/* and of another, for stderr */
};

/* In the child, already nobody: run poolctl with stdout into the pipe. */
static int
exec_poolctl(void *arg)
{
	struct as_other *a = arg;

	if (dup2(a->out, 1) == -1 || dup2(a->err, 2) == -1)
		return 125;
	execv(a->argv[0], (char *const *)a->argv);
	return 127;
}

/* All of fd into buf (of size len), as a string; closes fd. */
static void
read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

/*
 * Run poolctl ARGS as nobody; stdout in fx.out, stderr in fx.err (a few
 * lines: the pipe holds them while stdout is read); returns the exit code.
 */
static int
ctl_as_nobody(const char *a1, const char *a2, const char *a3, const char *a4)
{
	struct as_other a = {.out = -1, .err = -1};
	char bin[256];
	int fds[2], efds[2], rc;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/poolctl", harness_build());
	a.argv[0] = bin;
	a.argv[1] = a1;
	a.argv[2] = a2;
	a.argv[3] = a3;
	a.argv[4] = a4;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(pipe(efds), 0);
	a.out = fds[1];
	a.err = efds[1];
	pid = harness_spawn_as(NOBODY, NOBODY, exec_poolctl, &a);
	close(fds[1]);
	close(efds[1]);
	if (pid == -1) {
		close(fds[0]);
		close(efds[0]);
		return -1;
	}
	read_all(fds[0], fx.out, sizeof(fx.out));
	read_all(efds[0], fx.err, sizeof(fx.err));
	rc = harness_wait(pid);
	printf("poolctl: as uid %d: `poolctl %s%s%s%s%s%s%s` -> %d\n", NOBODY,
	       a1, a2 ? " " : "", a2 ? a2 : "", a3 ? " " : "", a3 ? a3 : "",
	       a4 ? " " : "", a4 ? a4 : "", rc);
	fflush(stdout);
	return rc;
}

static void
skip_unless_nobody_can_run_poolctl(void)
{
	if (geteuid() != 0) {
		printf("poolctl: not root: cannot test another uid\n");
		skip();
	}
	if (ctl_as_nobody("--version", NULL, NULL, NULL) != 0) {
		printf("poolctl: uid %d cannot run %s/poolctl\n", NOBODY,
		       harness_build());
		skip();
	}
}

#define PERM_POOLS "[pool alpha]\nsize = 16M\nmode = 0600\n" \
		   "[pool open]\nsize = 1M\nmode = 0666\n"

static void
other_uid_refused_exits_77(void **state)
{
	(void)state;
	start(PERM_POOLS);
	skip_unless_nobody_can_run_poolctl();

	expect_exit(ctl_as_nobody("create", "zz", "--size", "1M"), EXIT_NOPERM,
		    "create as nobody");
	assert_false(pool_exists("zz"));
	expect_exit(ctl_as_nobody("destroy", "open", NULL, NULL), EXIT_NOPERM,
		    "destroy as nobody");
	assert_true(pool_exists("open"));
	expect_exit(ctl_as_nobody("stats", "alpha", NULL, NULL), EXIT_NOPERM,
		    "stats of a 0600 pool as nobody");
	expect_exit(ctl_as_nobody("trim", "alpha", NULL, NULL), EXIT_NOPERM,
		    "trim of a 0600 pool as nobody");
	expect_exit(ctl_as_nobody("check", "alpha", NULL, NULL), EXIT_NOPERM,
		    "check of a 0600 pool as nobody");
	expect_exit(ctl_as_nobody("clients", "alpha", NULL, NULL), EXIT_NOPERM,
		    "clients of a 0600 pool as nobody");

	/* What nobody may do still works. */
	expect_exit(ctl_as_nobody("stats", "open", NULL, NULL), 0,
		    "stats of a 0666 pool as nobody");
	expect(strstr(fx.out, "open"), "stats open as nobody");
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), 0, "list");
	expect(line_starting(fx.out, "open") && !line_starting(fx.out, "alpha"),
	       "list as nobody must show open and hide alpha");
	stop();
}

/* What lets clients in where the socket's group is none of theirs. */
#define SOCKET_SETTINGS "to let clients in, an administrator gives the " \
	"socket a group of theirs with mode 0660 (SocketGroup= and " \
	"SocketMode= in poolmgrd.socket, or, where poolmgrd binds the " \
	"socket itself, the group it runs as and socket_mode in " \
	"poolmgrd.conf)"

/*
 * The socket's mode keeps nobody out: exit 77, and the library's words
 * (pool_last_message) name the socket's owner, group and mode, and what
 * lets a client in, where the C library's "Permission denied" left the
 * admin to look.  The daemon, root's, binds its socket with group root:
 * nobody is to join group root (poolctl once said to), so the words say
 * who may connect and the settings that let clients in, at 0600 and at
 * 0660 alike.  A socket of another group that may connect names the
 * group to run as a member of.
 */
static void
socket_mode_refuses_other_uid_exits_77(void **state)
{
	const struct passwd *pw = getpwuid(geteuid());
	const struct group *gr = getgrgid(getegid());
	const struct group *other;
	char want[1024], owner[64], group[64], others[64];

	(void)state;
	/* Appended to [daemon]: the later socket_mode wins. */
	start("socket_mode = 0600\n" PERM_POOLS);
	skip_unless_nobody_can_run_poolctl();
	assert_non_null(pw);
	assert_non_null(gr);
	snprintf(owner, sizeof(owner), "%s", pw->pw_name);
	snprintf(group, sizeof(group), "%s", gr->gr_name);
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), EXIT_NOPERM,
		    "list as nobody on a 0600 socket");
	snprintf(want, sizeof(want), "poolctl: cannot connect: permission "
		 "denied by the socket %s (owner %s, group %s, mode 0600): "
		 "only its owner may connect; " SOCKET_SETTINGS "\n",
		 fx.d.sock, owner, group);
	assert_string_equal(fx.err, want);
	stop();

	start("socket_mode = 0660\n" PERM_POOLS);
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), EXIT_NOPERM,
		    "list as nobody on a 0660 socket of group root");
	snprintf(want, sizeof(want), "poolctl: cannot connect: permission "
		 "denied by the socket %s (owner %s, group %s, mode 0660): "
		 "only its owner and group %s may connect; " SOCKET_SETTINGS
		 "\n", fx.d.sock, owner, group, group);
	assert_string_equal(fx.err, want);

	/* Group 1, of which nobody is no member, is one to join. */
	assert_int_equal(chown(fx.d.sock, geteuid(), 1), 0);
	if ((other = getgrgid(1)) != NULL)
		snprintf(others, sizeof(others), "%s", other->gr_name);
	else
		snprintf(others, sizeof(others), "1");
	expect_exit(ctl_as_nobody("list", NULL, NULL, NULL), EXIT_NOPERM,
		    "list as nobody on a 0660 socket of group 1");
	snprintf(want, sizeof(want), "poolctl: cannot connect: permission "
		 "denied by the socket %s (owner %s, group %s, mode 0660): run "
		 "as a member of group %s (an administrator adds a user with "
		 "usermod -aG %s NAME; it takes a new login)\n", fx.d.sock,
		 owner, others, others, others);
	assert_string_equal(fx.err, want);
	stop();
}

/* ---- the daemon's words --------------------------------------------------- */

/*
 * A refusal that poolctl explains whole is said once, in poolctl's words:
 * the daemon's would say it again.  One that poolctl can only sum up
 * (several cases share the code) is followed by the daemon's words, which
 * name the case and its numbers.  Either way nothing changes.
 */
static void
daemon_words_only_when_they_add(void **state)
{
	(void)state;
	start(PERM_POOLS);

	expect_exit(ctl("set alpha --mode 0644"), EXIT_FAILED,
		    "set of a pool of the file");
	expect(strcmp(fx.err, "poolctl: cannot set pool alpha: the daemon's "
		      "configuration file defines it: change the pool there "
		      "and reload the daemon\n") == 0,
	       "set of a pool of the file: not said once, in poolctl's words");
	assert_int_equal(stats_of("alpha").mode, 0600);
	expect_exit(ctl("create alpha --size 1M"), EXIT_FAILED,
		    "create of an existing pool");
	expect(strcmp(fx.err, "poolctl: cannot create pool alpha: a pool with "
		      "that name exists\n") == 0,
	       "create of an existing pool: not said once, of a pool alone");
	assert_int_equal(stats_of("alpha").max_size, 16 * MiB);

	/* -EINVAL has many cases: the daemon says which, with numbers. */
	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect_exit(ctl("set gamma --limit 2M"), EXIT_FAILED,
		    "a limit above the size");
	expect(strcmp(fx.err, "poolctl: cannot set pool gamma: invalid "
		      "setting; poolmgrd says: a limit above the pool's size: "
		      "2097152 of 1048576 bytes\n") == 0,
	       "a limit above the size: not the daemon's case and numbers");
	assert_int_equal(stats_of("gamma").limit, 0);

	/* A busy pool: the daemon counts what keeps it. */
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_exit(ctl("destroy alpha"), EXIT_FAILED, "destroy of a busy pool");
	expect(strstr(fx.err, "anyway); poolmgrd says: pool alpha has 1 open "
		      "handle and 1 live block\n"),
	       "busy destroy: the daemon's count of handles and blocks");
	assert_true(pool_exists("alpha"));

	/* Permission: create has one rule; set several, the daemon names it. */
	skip_unless_nobody_can_run_poolctl();
	expect_exit(ctl("create mine --size 1M --owner %d --group %d", NOBODY,
			NOBODY), 0, "create mine for nobody");
	expect_exit(ctl_as_nobody("create", "zz", "--size", "1M"), EXIT_NOPERM,
		    "create as nobody");
	expect(strcmp(fx.err, "poolctl: cannot create pool zz: not permitted "
		      "(only the daemon's uid, root and its admin group may "
		      "create pools)\n") == 0,
	       "create as nobody: not said once, in poolctl's words");
	assert_false(pool_exists("zz"));
	expect_exit(ctl_as_nobody("set", "mine", "--group", "0"), EXIT_NOPERM,
		    "set of its pool's group to one it is not in");
	expect(strcmp(fx.err, "poolctl: cannot set pool mine: not permitted; "
		      "poolmgrd says: uid 65534 is not in group 0\n") == 0,
	       "set --group as the owner: not the daemon's rule it broke");
	assert_int_equal(stats_of("mine").gid, NOBODY);
	expect_exit(ctl_as_nobody("stats", "alpha", NULL, NULL), EXIT_NOPERM,
		    "stats of a 0600 pool as nobody");
	expect(strcmp(fx.err, "poolctl: stats alpha: permission denied by the "
		      "pool's mode or access control list; poolmgrd says: "
		      "pool alpha (mode 0600) is not readable for uid "
		      "65534\n") == 0,
	       "stats as nobody: speaks of handles or of the socket");
	stop();
}

/* ---- sizes with a byte unit ---------------------------------------------- */

/* Run args: exit 2, nothing on stdout, "poolctl: words" a line of stderr. */
static void
expect_refused_saying(const char *args, const char *words)
{
	char line[512];

	snprintf(line, sizeof(line), "poolctl: %s\n", words);
	expect_exit(ctl("%s", args), EXIT_USAGE, args);
	expect(fx.out[0] == '\0' && strncmp(fx.err, line, strlen(line)) == 0,
	       line);
}

#define POWERS(unit) "sizes are powers of 1024, and " unit " usually " \
			   "means powers of 1000: "
#define NO_B "a size is a number of bytes, without B: "
#define FORMS "a number of bytes, optionally followed by K, M, G or T, " \
	      "or KiB to TiB"

/*
 * Every size option refuses a byte unit ("MB" usually means powers of
 * 1000) and says why and what to write; a word that is no size at all
 * keeps a plain "bad" and the forms.  Nothing is made or changed.
 */
static void
size_with_byte_unit_says_what_to_write(void **state)
{
	struct pool_stats before, after;

	(void)state;
	start(TWO_POOLS);
	before = stats_of("alpha");

	expect_refused_saying("create delta --size 64MB",
			      "create: bad size '64MB': " POWERS("MB")
			      "write 64M or 64MiB");
	expect_refused_saying("create delta --size 1gb",
			      "create: bad size '1gb': " POWERS("GB")
			      "write 1G or 1GiB");
	expect_refused_saying("create delta --size 4096B",
			      "create: bad size '4096B': " NO_B "write 4096");
	expect_refused_saying("create delta --size 1M --quota 8KB",
			      "create: bad quota '8KB': " POWERS("KB")
			      "write 8K or 8KiB");
	expect_refused_saying("create delta --size 1M --limit 512kB",
			      "create: bad limit '512kB': " POWERS("KB")
			      "write 512K or 512KiB");
	expect_refused_saying("create delta --size 1M --retain 2MB",
			      "create: bad retain '2MB': " POWERS("MB")
			      "write 2M or 2MiB");
	expect_refused_saying("create delta --size 4M --page-size 2MB",
			      "create: bad page size '2MB': " POWERS("MB")
			      "write 2M or 2MiB");
	expect_refused_saying("create delta --size 1M --granularity 64B",
			      "create: bad granularity '64B': " NO_B
			      "write 64");
	expect_refused_saying("set alpha --quota 8KB",
			      "set: bad quota '8KB': " POWERS("KB")
			      "write 8K or 8KiB");
	expect_refused_saying("set alpha --retain 1MB",
			      "set: bad retain '1MB': " POWERS("MB")
			      "write 1M or 1MiB");
	expect_refused_saying("set alpha --limit 8MB",
			      "set: bad limit '8MB': " POWERS("MB")
			      "write 8M or 8MiB");

	/* No size once the B goes: plain words, and what a size is. */
	expect_refused_saying("create delta --size 12x",
			      "create: bad size '12x' (" FORMS ")");
	expect_refused_saying("create delta --size 64MBB",
			      "create: bad size '64MBB' (" FORMS ")");
	expect_refused_saying("create delta --size 4KiBB",
			      "create: bad size '4KiBB' (" FORMS ")");
	expect_refused_saying("create delta --size 4TB",
			      "create: bad size '4TB': " POWERS("TB")
			      "write 4T or 4TiB");
	expect_refused_saying("create delta --size 1.5MB",
			      "create: bad size '1.5MB' (" FORMS ")");
	expect_refused_saying("create delta --size 0",
			      "create: bad size '0' (not 0)");
	expect_refused_saying("create delta --size 1M --quota lots",
			      "create: bad quota 'lots' (none, or "
			      FORMS ")");
	expect_refused_saying("set alpha --limit 12x",
			      "set: bad limit '12x' (none, or " FORMS ")");
	expect_refused_saying("set alpha --retain some",
			      "set: bad retain 'some' (default, none, or " FORMS
			      ")");
	expect_refused_saying("create delta --size 4M --page-size 3M",
			      "create: bad page size '3M' (the system page, or "
			      "a huge page size such as 2M or 1G)");

	assert_false(pool_exists("delta"));
	after = stats_of("alpha");
	assert_int_equal(after.quota, before.quota);
	assert_int_equal(after.retain_bytes, before.retain_bytes);
	assert_int_equal(after.limit, before.limit);
	stop();
}

#define TOO_LARGE "too large (at most "
#define MOST_BYTES "18446744073709551615)"

/*
 * A size of the forms but past 64 bits, by its unit ("99999999999T") or
 * its digits, is too large, and the refusal says the most the option
 * takes: the largest pool for --size, the pool's size for --limit, and
 * so on; 2^64 - 1 bytes where the option has no bound of its own.  They
 * once got the forms, as if the word were no size.  Exit 2, nothing made
 * or changed.
 */
static void
size_past_64_bits_says_too_large(void **state)
{
	struct pool_stats before, after;

	(void)state;
	start(TWO_POOLS);
	before = stats_of("alpha");

	expect_refused_saying("create delta --size 99999999999T",
			      "create: bad size '99999999999T': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 99999999999999999999",
			      "create: bad size '99999999999999999999': "
			      TOO_LARGE "64T, the largest pool)");
	expect_refused_saying("create delta --size 16777216TiB",
			      "create: bad size '16777216TiB': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 1M --quota 99999999999T",
			      "create: bad quota '99999999999T': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --retain 99999999999G",
			      "create: bad retain '99999999999G': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --limit 99999999999T",
			      "create: bad limit '99999999999T': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 1M --granularity "
			      "99999999999T", "create: bad granularity "
			      "'99999999999T': " TOO_LARGE "the page size)");
	expect_refused_saying("create delta --size 1M --page-size "
			      "99999999999T", "create: bad page size "
			      "'99999999999T': " TOO_LARGE
			      "the largest huge page size)");
	expect_refused_saying("set alpha --quota 99999999999999999999",
			      "set: bad quota '99999999999999999999': "
			      TOO_LARGE MOST_BYTES);
	expect_refused_saying("set alpha --retain 99999999999T",
			      "set: bad retain '99999999999T': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("set alpha --limit 99999999999T",
			      "set: bad limit '99999999999T': " TOO_LARGE
			      "the pool's size)");
	/* 2^64, one past what 64 bits hold: too large as well. */
	expect_refused_saying("create delta --size 18446744073709551616",
			      "create: bad size '18446744073709551616': "
			      TOO_LARGE "64T, the largest pool)");
	/* No size at all, however long its digits: the forms. */
	expect_refused_saying("create delta --size 99999999999999999999x",
			      "create: bad size '99999999999999999999x' ("
			      FORMS ")");

	assert_false(pool_exists("delta"));
	after = stats_of("alpha");
	assert_int_equal(after.quota, before.quota);
	assert_int_equal(after.retain_bytes, before.retain_bytes);
	assert_int_equal(after.limit, before.limit);
	stop();
}

/*
 * A size within 64 bits but above the most the option takes, where
 * poolctl knows that most, is refused here as one past 64 bits is: exit
 * 2, the same words.  --size 65T (above the largest pool) and a limit
 * above the size given with it were sent to the daemon and came back
 * exit 1, "invalid size or option".  A limit set on a live pool is the
 * daemon's to judge, up to the largest pool.  Nothing made or changed.
 */
static void
size_past_its_bound_refused_before_asking(void **state)
{
	(void)state;
	start(TWO_POOLS);

	expect_refused_saying("create delta --size 65T",
			      "create: bad size '65T': " TOO_LARGE
			      "64T, the largest pool)");
	/* 64 TiB and one byte. */
	expect_refused_saying("create delta --size 70368744177665",
			      "create: bad size '70368744177665': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 1M --limit 2M",
			      "create: bad limit '2M': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 1M --limit 1048577",
			      "create: bad limit '1048577': " TOO_LARGE
			      "the pool's size)");
	/* Above any page size there is. */
	expect_refused_saying("create delta --size 1M --granularity 1G",
			      "create: bad granularity '1G': " TOO_LARGE
			      "the page size)");
	assert_false(pool_exists("delta"));

	expect_exit(ctl("create gamma --size 1M"), 0, "create gamma");
	expect_refused_saying("set gamma --limit 65T",
			      "set: bad limit '65T': " TOO_LARGE
			      "the pool's size)");
	assert_int_equal(stats_of("gamma").limit, 0);
	/* Within the largest pool: only the daemon knows gamma's size. */
	expect_exit(ctl("set gamma --limit 64T"), EXIT_FAILED,
		    "set gamma --limit 64T");
	expect(strstr(fx.err, "poolmgrd says: a limit above the pool's size"),
	       "set gamma --limit 64T: not the daemon's words");
	assert_int_equal(stats_of("gamma").limit, 0);

	/* The bound itself is taken. */
	expect_exit(ctl("create delta --size 1M --limit 1M"), 0,
		    "create delta --size 1M --limit 1M");
	assert_int_equal(stats_of("delta").limit, 1 * MiB);
	stop();
}

/*
 * A size with a byte unit that would be too large without its B
 * ("99999999999TB", "65TB" for a pool) is too large: writing the unit as
 * the byte-unit hint says would not make it fit, so the refusal says the
 * most, as for the same size without the B.  Such words once got the
 * forms, as if they were no size.  One that fits without its B keeps the
 * hint.  Exit 2, nothing made or changed.
 */
static void
size_too_large_with_byte_unit_says_too_large(void **state)
{
	struct pool_stats before, after;

	(void)state;
	start(TWO_POOLS);
	before = stats_of("alpha");

	expect_refused_saying("create delta --size 1G --limit 99999999999TB",
			      "create: bad limit '99999999999TB': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 1M --limit 2MB",
			      "create: bad limit '2MB': " TOO_LARGE
			      "the pool's size)");
	expect_refused_saying("create delta --size 99999999999TB",
			      "create: bad size '99999999999TB': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 65TB",
			      "create: bad size '65TB': " TOO_LARGE
			      "64T, the largest pool)");
	expect_refused_saying("create delta --size 70368744177665B",
			      "create: bad size '70368744177665B': " TOO_LARGE
			      "64T, the largest pool)");
	/* Longer than any size, yet digits and a unit: too large still. */
	expect_refused_saying("create delta --size "
			      "999999999999999999999999999999999999999TB",
			      "create: bad size "
			      "'999999999999999999999999999999999999999TB': "
			      TOO_LARGE "64T, the largest pool)");
	expect_refused_saying("create delta --size 1M --quota 99999999999TB",
			      "create: bad quota '99999999999TB': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --retain "
			      "99999999999999999999B", "create: bad retain "
			      "'99999999999999999999B': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("create delta --size 1M --page-size "
			      "99999999999TB", "create: bad page size "
			      "'99999999999TB': " TOO_LARGE
			      "the largest huge page size)");
	expect_refused_saying("create delta --size 1M --granularity 1GB",
			      "create: bad granularity '1GB': " TOO_LARGE
			      "the page size)");
	expect_refused_saying("set alpha --quota 16777216TB",
			      "set: bad quota '16777216TB': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("set alpha --retain 99999999999GB",
			      "set: bad retain '99999999999GB': " TOO_LARGE
			      MOST_BYTES);
	expect_refused_saying("set alpha --limit 65TB",
			      "set: bad limit '65TB': " TOO_LARGE
			      "the pool's size)");
	/* Within the bound without its B: the unit is what to fix. */
	expect_refused_saying("create delta --size 64TB",
			      "create: bad size '64TB': " POWERS("TB")
			      "write 64T or 64TiB");
	expect_refused_saying("create delta --size 2M --limit 1MB",
			      "create: bad limit '1MB': " POWERS("MB")
			      "write 1M or 1MiB");

	assert_false(pool_exists("delta"));
	after = stats_of("alpha");
	assert_int_equal(after.quota, before.quota);
	assert_int_equal(after.retain_bytes, before.retain_bytes);
	assert_int_equal(after.limit, before.limit);
	stop();
}

/* ---- wait ------------------------------------------------------------ */

#define WAIT_POOLS "[pool alpha]\nsize = 1M\nmode = 0666\n"

static void
expect_usage_error(const char *args, const char *what)
{
	expect_exit(ctl("%s", args), EXIT_USAGE, args);
	expect(strstr(fx.err, what) && fx.out[0] == '\0', what);
}

/*
 * wait's line is for a script, as --format=kv's are: four fields, the
 * name, the offset in hexadecimal, the usable size as a plain count of
 * bytes and the generation, as the library answers them.  The size once
 * came as names shows it ("64 B"), a space in it making five fields.
 */
static void
wait_line_is_four_fields(pool_off_t off)
{
	char want[128];
	pool_off_t at;
	size_t usable;
	uint64_t gen;

	assert_int_equal(pool_lookup_wait(fx.pool, "frame", 0, 0, 0, &at,
					  &usable, &gen), 0);
	assert_int_equal(at, off);
	snprintf(want, sizeof(want), "frame 0x%" PRIx64 " %zu %" PRIu64 "\n",
		 (uint64_t)at, usable, gen);
	expect(strcmp(fx.out, want) == 0, want);
}

/*
 * A wait that times out says what did not happen, in the command's words,
 * not the errno's text ("Connection timed out").
 */
static void
wait_says_what_happened(void **state)
{
	char name[POOL_BLOCK_NAME_MAX + 2], args[POOL_BLOCK_NAME_MAX + 64];
	pool_off_t off;

	(void)state;
	start(WAIT_POOLS);
	expect_exit(ctl("wait alpha frame --timeout 1"), EXIT_FAILED,
		    "wait for a name never published");
	expect(strcmp(fx.err, "poolctl: wait: frame was not published in "
		      "alpha within 1 s\n") == 0 && fx.out[0] == '\0',
	       "not \"poolctl: wait: frame was not published in alpha "
	       "within 1 s\"");
	expect_exit(ctl("wait alpha frame --timeout 0"), EXIT_FAILED,
		    "--timeout 0 on a missing name");
	expect(strcmp(fx.err, "poolctl: wait alpha: no such name: frame\n")
	       == 0, "not \"poolctl: wait alpha: no such name: frame\"");
	expect_exit(ctl("wait nosuch frame --timeout 1"), EXIT_FAILED,
		    "wait in a pool that does not exist");
	expect(strcmp(fx.err, "poolctl: no such pool: nosuch\n") == 0,
	       "not \"poolctl: no such pool: nosuch\"");

	/* A name there already: printed at once, whatever the timeout. */
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	off = alloc_ok(fx.pool, 64);
	assert_int_equal(pool_publish(fx.pool, off, "frame"), 0);
	expect_exit(ctl("wait alpha frame --timeout 0"), 0, "wait, name there");
	expect(line_starting(fx.out, "frame"), "wait prints the name's row");
	expect_exit(ctl("wait alpha frame --timeout 1"), 0, "wait, name there");
	expect(line_starting(fx.out, "frame"), "wait prints the name's row");
	wait_line_is_four_fields(off);

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(args, sizeof(args), "wait alpha %s", name);
	expect_usage_error(args, "wait: block name longer than 255 bytes");
	expect_usage_error("wait alpha frame --timeout -1",
			   "wait: bad --timeout '-1'");
	expect_usage_error("wait alpha frame --timeout 1.5",
			   "wait: bad --timeout '1.5'");
	expect_usage_error("wait alpha frame --timeout soon",
			   "wait: bad --timeout 'soon'");
	expect_usage_error("wait alpha frame --timeout ''",
			   "wait: bad --timeout ''");
	expect_usage_error("wait alpha frame --timeout 2147484",
			   "wait: bad --timeout '2147484'");
	/* The argument missing is named: the first not given. */
	expect_usage_error("wait", "wait: missing POOL\n");
	expect_usage_error("wait alpha", "wait: missing NAME\n");
	expect_usage_error("unpublish alpha", "unpublish: missing NAME\n");
	expect_usage_error("create", "create: missing NAME\n");
	stop();
}

/* ---- names of any bytes --------------------------------------------------- */

/*
 * Block names are any bytes but NUL (docs/protocol.md): a blank, a tab, a
 * newline that would forge a line, bytes that are not UTF-8, and the
 * backslash the escapes use.
 */
static const char *const odd_names[] = {
	"with space", "nl\nfake 0x0 64 1", "tab\there", "bad\xff\xfe",
	"caf\xc3\xa9", "back\\x41slash",
};
#define N_ODD (sizeof(odd_names) / sizeof(odd_names[0]))

/* name as one word of sh: "$(printf '\ooo...')", every byte in octal. */
static const char *
sh_word(const char *name)
{
	static char buf[1024];
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"$(printf '");
	for (; *name; name++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\%03o",
				      (unsigned char)*name);
	snprintf(buf + n, sizeof(buf) - n, "')\"");
	return buf;
}

/* A field of poolctl's plain output read back: \xHH is the byte HH. */
static void
unescape_field(const char *in, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i < len && o + 1 < outlen; o++) {
		if (in[i] == '\\' && i + 3 < len + 1 && in[i + 1] == 'x' &&
		    sscanf(in + i + 2, "%2x", &v) == 1) {
			out[o] = (char)v;
			i += 4;
		} else
			out[o] = in[i++];
	}
	out[o] = '\0';
}

/* The blank-separated fields of one line; the first in first. */
static size_t
split_fields(const char *line, size_t len, char *first, size_t firstlen)
{
	size_t i = 0, n = 0, start;

	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		if (n++ == 0)
			unescape_field(line + start, i - start, first,
				       firstlen);
	}
	return n;
}

/* Is text UTF-8 through and through (RFC 3629: no overlong, no surrogate)? */
static bool
utf8_valid(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned c, min;
	int more;

	while (*s) {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0)
			c = *s & 0x1f, more = 1, min = 0x80;
		else if ((*s & 0xf0) == 0xe0)
			c = *s & 0x0f, more = 2, min = 0x800;
		else if ((*s & 0xf8) == 0xf0)
			c = *s & 0x07, more = 3, min = 0x10000;
		else
			return false;
		for (s++; more > 0; more--, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			c = c << 6 | (*s & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
	}
	return true;
}

/* Which of odd_names name is; fails the test if none. */
static size_t
odd_index(const char *name)
{
	for (size_t i = 0; i < N_ODD; i++) {
		if (strcmp(odd_names[i], name) == 0)
			return i;
	}
	fail_msg("a name poolctl printed is none published: \"%s\"\n"
		 "--- stdout:\n%s", name, fx.out);
	return 0;
}

/*
 * The plain lines of names and wait keep their number of fields, each
 * name one field that gives its bytes back, whatever the name holds: a
 * blank would split it, a newline forge a line of its own.  The JSON is
 * UTF-8 (RFC 8259) even for a name that is not, whose bytes it gives as
 * name_hex.
 */
static void
odd_names_keep_their_fields(void **state)
{
	char got[1024], want[64];
	bool seen[N_ODD] = {false};
	const char *l, *end;
	size_t i, lines = 0;

	(void)state;
	start(WAIT_POOLS);
	assert_int_equal(pool_open(fx.conn, "alpha", &fx.pool), 0);
	for (i = 0; i < N_ODD; i++)
		assert_int_equal(pool_publish(fx.pool, alloc_ok(fx.pool, 64),
					      odd_names[i]), 0);

	expect_exit(ctl("names alpha"), 0, "names of odd names");
	l = strchr(fx.out, '\n');
	expect(l != NULL, "names: no header");
	for (l++; *l; l = end + 1, lines++) {
		end = strchr(l, '\n');
		expect(end != NULL, "names: a line without its newline");
		/* Six columns, SIZE two words ("64 B", "1.0 KiB"). */
		expect(split_fields(l, (size_t)(end - l), got, sizeof(got))
		       == 7, "names: a line not of 7 fields");
		seen[odd_index(got)] = true;
	}
	expect(lines == N_ODD, "names: not one line per name");
	for (i = 0; i < N_ODD; i++)
		expect(seen[i], "names: a name not listed");

	for (i = 0; i < N_ODD; i++) {
		expect_exit(ctl("wait alpha %s --timeout 0",
				sh_word(odd_names[i])), 0, "wait, odd name");
		end = strchr(fx.out, '\n');
		expect(end != NULL && end[1] == '\0', "wait: not one line");
		expect(split_fields(fx.out, (size_t)(end - fx.out), got,
				    sizeof(got)) == 4,
		       "wait: a line not of 4 fields");
		expect(strcmp(got, odd_names[i]) == 0,
		       "wait: the name does not read back");
	}

	expect_exit(ctl("--json names alpha"), 0, "--json names, odd names");
	expect(utf8_valid(fx.out), "--json names: not UTF-8");
	expect(strstr(fx.out, "\"name\": \"caf\xc3\xa9\""),
	       "--json names: a UTF-8 name not as it is");
	expect(strstr(fx.out, "\"name_hex\": \"626164fffe\""),
	       "--json names: no name_hex of a name that is not UTF-8");
	l = strstr(fx.out, "\"name_hex\"");
	expect(l && !strstr(l + 1, "\"name_hex\""),
	       "--json names: name_hex of a name that is UTF-8");
	expect_exit(ctl("--json wait alpha %s --timeout 0",
			sh_word("bad\xff\xfe")), 0, "--json wait, not UTF-8");
	expect(utf8_valid(fx.out), "--json wait: not UTF-8");
	snprintf(want, sizeof(want), "\"name_hex\": \"626164fffe\"");
	expect(strstr(fx.out, want), "--json wait: no name_hex");
	stop();
}

/* ---- options given twice -------------------------------------------------- */

/*
 * An option given twice is two answers to one question: refused (exit 2,
 * naming it) rather than the last one silently taken, and nothing done.
 */
static void
option_given_twice_is_refused(void **state)
{
	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create gamma --size 1M --mode 0600"), 0, "create");

	expect_refused_saying("create delta --size 1M --size 2M",
			      "create: option --size given twice");
	assert_false(pool_exists("delta"));
	expect_refused_saying("set gamma --mode 0644 --mode=0640",
			      "set: option --mode given twice");
	assert_int_equal(stats_of("gamma").mode & 0777, 0600);
	expect_refused_saying("stats alpha --format=kv --format json",
			      "stats: option --format given twice");
	expect_refused_saying("wait alpha x --timeout 1 --timeout 2",
			      "wait: option --timeout given twice");
	expect_refused_saying("--socket /nonexistent list --socket /x",
			      "list: option --socket given twice");
	expect_refused_saying("--json=short list -jpretty",
			      "list: option --json given twice");
	/* A flag twice says the same thing twice: taken. */
	expect_exit(ctl("--json list --json"), 0, "--json twice, no FMT");
	expect_exit(ctl("destroy gamma -f --force"), 0, "-f twice");
	assert_false(pool_exists("gamma"));
	stop();
}

/* ---- a socket path that is no socket -------------------------------------- */

/* A directory or a file at the socket's path: said so, exit 69. */
static void
socket_path_not_a_socket_says_so(void **state)
{
	char path[300], want[400];
	FILE *f;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("--socket %s list", fx.d.dir), EXIT_UNAVAILABLE,
		    "--socket a directory");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: not a "
		 "socket\n", fx.d.dir);
	expect(strcmp(fx.err, want) == 0, want);

	snprintf(path, sizeof(path), "%s/plain-file", fx.d.dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	expect_exit(ctl("--socket %s list", path), EXIT_UNAVAILABLE,
		    "--socket a regular file");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: not a "
		 "socket\n", path);
	expect(strcmp(fx.err, want) == 0, want);
	unlink(path);
	stop();
}

/*
 * A socket of type at path, bound and listening if listen_too: its fd.
 * Closed without listening, it is what a stopped daemon leaves behind.
 */
static int
bound_socket(const char *path, int type, bool listen_too)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	assert_true(strlen(path) < sizeof(sun.sun_path));
	strcpy(sun.sun_path, path);
	assert_true((fd = socket(AF_UNIX, type, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listen_too)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/*
 * A socket no daemon listens on, and a socket of another type: each said
 * as what it is, not as the C library's "Connection refused" or
 * "Protocol wrong type for socket"; exit 69.
 */
static void
socket_without_daemon_says_so(void **state)
{
	char path[300], want[400];
	int fd;

	(void)state;
	start(TWO_POOLS);
	snprintf(path, sizeof(path), "%s/stale.sock", fx.d.dir);
	close(bound_socket(path, SOCK_SEQPACKET, false));
	expect_exit(ctl("--socket %s list", path), EXIT_UNAVAILABLE,
		    "--socket a socket nobody listens on");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: no "
		 "poolmgrd listens on it (a socket left by a daemon that "
		 "stopped?)\n", path);
	expect(strcmp(fx.err, want) == 0, want);
	unlink(path);

	snprintf(path, sizeof(path), "%s/stream.sock", fx.d.dir);
	fd = bound_socket(path, SOCK_STREAM, true);
	expect_exit(ctl("--socket %s list", path), EXIT_UNAVAILABLE,
		    "--socket a stream socket");
	snprintf(want, sizeof(want), "poolctl: cannot connect to %s: a "
		 "socket of another type, not poolmgrd's\n", path);
	expect(strcmp(fx.err, want) == 0, want);
	close(fd);
	unlink(path);
	stop();
}

/* ---- JSON of create, set and destroy --------------------------------------- */

/*
 * With --json, create, set and destroy each print one object saying what
 * was done (create its settings, the owner and group by the ids their
 * names stand for, the names beside them; set only what it was given,
 * "default" for a retain set back to the daemon's; destroy whether it
 * was forced), and the daemon's books agree.  A destroy that fails
 * prints no object.
 */
static void
json_says_what_create_set_destroy_did(void **state)
{
	struct passwd *pw;
	struct group *gr;
	struct pool_stats st;
	char want[512];

	(void)state;
	pw = getpwnam("nobody");
	gr = getgrgid(pw ? pw->pw_gid : 0);
	if (!pw || !gr)
		skip();
	start(TWO_POOLS);

	expect_exit(ctl("--json=short create rho --size 1M --retain 64K "
			"--owner nobody --group %s --mode 0640", gr->gr_name),
		    0, "--json create with an owner, a group and a retain");
	snprintf(want, sizeof(want), "{\"pool\":\"rho\",\"created\":true,"
		 "\"max_size\":1048576,\"granularity\":16,\"mode\":\"0640\","
		 "\"quota\":0,\"user_quota\":0,\"limit\":0,"
		 "\"retain\":65536,\"uid\":%u,\"user\":\"%s\","
		 "\"gid\":%u,\"group\":\"%s\"}\n", (unsigned)pw->pw_uid,
		 pw->pw_name, (unsigned)gr->gr_gid, gr->gr_name);
	assert_string_equal(fx.out, want);
	st = stats_of("rho");
	assert_int_equal(st.uid, pw->pw_uid);
	assert_int_equal(st.gid, gr->gr_gid);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.retain_bytes, 64 * KiB);

	expect_exit(ctl("--json=short set rho --limit 512K --retain 0 "
			"--quota 128K"), 0, "--json set");
	assert_string_equal(fx.out, "{\"pool\":\"rho\",\"set\":true,"
			    "\"quota\":131072,\"limit\":524288,\"retain\":0}\n");
	st = stats_of("rho");
	assert_int_equal(st.quota, 128 * KiB);
	assert_int_equal(st.limit, 512 * KiB);
	assert_int_equal(st.retain_bytes, 0);
	assert_int_equal(st.mode, 0640);
	expect_exit(ctl("--json=short set rho --retain default"), 0,
		    "--json set --retain default");
	assert_string_equal(fx.out, "{\"pool\":\"rho\",\"set\":true,"
			    "\"retain\":\"default\"}\n");
	assert_true(stats_of("rho").retain_bytes > 0);
	/* stats shows a retain of 0 as none: set takes the word back. */
	expect_exit(ctl("--json=short set rho --retain none"), 0,
		    "--json set --retain none");
	assert_string_equal(fx.out, "{\"pool\":\"rho\",\"set\":true,"
			    "\"retain\":0}\n");
	assert_int_equal(stats_of("rho").retain_bytes, 0);

	expect_exit(ctl("--json=short destroy rho"), 0, "--json destroy");
	assert_string_equal(fx.out, "{\"pool\":\"rho\",\"destroyed\":true,"
			    "\"force\":false}\n");
	assert_false(pool_exists("rho"));
	expect_exit(ctl("--json=short destroy rho"), EXIT_FAILED,
		    "--json destroy of no pool");
	expect(fx.out[0] == '\0', "a failed destroy printed JSON");
	assert_string_equal(fx.err, "poolctl: no such pool: rho\n");

	/* Forced, from under a handle with a live block. */
	assert_int_equal(pool_open(fx.conn, "beta", &fx.pool), 0);
	alloc_ok(fx.pool, 64);
	expect_exit(ctl("--json=short destroy beta --force"), 0,
		    "--json destroy --force");
	assert_string_equal(fx.out, "{\"pool\":\"beta\",\"destroyed\":true,"
			    "\"force\":true}\n");
	assert_false(pool_exists("beta"));
	stop();
}

/* ---- the user quota ------------------------------------------------------ */

/* Every format of stats shows uq's user quota as bytes, as a gauge. */
static void
expect_user_quota_shown(uint64_t bytes)
{
	char want[128];
	const char *l;

	expect_exit(ctl("stats uq --format=kv"), 0, "stats --format=kv");
	snprintf(want, sizeof(want), "uq user_quota %" PRIu64 "\n", bytes);
	expect(strstr(fx.out, want), "--format=kv: no 'uq user_quota N'");

	expect_exit(ctl("--json=short stats uq"), 0, "stats --json");
	snprintf(want, sizeof(want), "\"user_quota\":%" PRIu64 ",", bytes);
	expect(strstr(fx.out, want), "--json: user_quota is not N");

	expect_exit(ctl("stats uq --format=prometheus"), 0,
		    "stats --format=prometheus");
	expect(strstr(fx.out, "# TYPE poolmgr_pool_user_quota_bytes gauge\n"),
	       "prometheus: poolmgr_pool_user_quota_bytes is not a gauge");
	snprintf(want, sizeof(want), "\npoolmgr_pool_user_quota_bytes"
		 "{pool=\"uq\"} %" PRIu64 "\n", bytes);
	expect(strstr(fx.out, want), "prometheus: no user_quota sample of N");

	expect_exit(ctl("stats uq"), 0, "stats uq");
	l = line_starting(fx.out, "quota per user");
	if (bytes == 0)
		snprintf(want, sizeof(want), " none\n");
	else
		snprintf(want, sizeof(want), "  (%" PRIu64 ")\n", bytes);
	expect(l && strncmp(strchr(l, '\n') + 1 - strlen(want), want,
			    strlen(want)) == 0,
	       "text: no 'quota per user' line of N");
}

/*
 * --user-quota of create and set gives the pool the most all the
 * connections of one uid may hold together: the daemon's books say it,
 * a second connection of the uid is refused what would take the two
 * past it though it holds nothing itself (the uid the test runs as, root
 * too: the user quota exempts no one), and set --user-quota 0 lifts it,
 * as "none" does (--quota's too, at create and set).
 * stats shows it in every format; persisted the share of it the uid's
 * persistent bytes take, beside the quota's; --json of create and set
 * name it.
 */
static void
user_quota_set_and_shown(void **state)
{
	struct pool_conn *other;
	struct pool *p2;
	pool_off_t off, off2;
	const char *l;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("--json=short create uq --size 1M --user-quota 64K"),
		    0, "create --user-quota");
	expect(strstr(fx.out, "\"quota\":0,\"user_quota\":65536,"),
	       "--json create: user_quota is not 65536");
	assert_int_equal(stats_of("uq").user_quota, 64 * KiB);
	assert_int_equal(stats_of("uq").quota, 0);
	expect_user_quota_shown(64 * KiB);

	/* 16 KiB persisted: a quarter of the user quota; no quota: "-". */
	assert_int_equal(pool_open(fx.conn, "uq", &fx.pool), 0);
	off = alloc_ok(fx.pool, 16 * KiB);
	assert_int_equal(pool_persist(fx.pool, off), 0);
	expect_exit(ctl("persisted uq"), 0, "persisted uq");
	expect(strstr(fx.out, "OF QUOTA  OF USER QUOTA\n"),
	       "persisted: no OF USER QUOTA column");
	l = line_starting(fx.out, "uq");
	expect(l && strstr(l, " - ") && strstr(l, " 25.0%\n"),
	       "persisted: not 25.0% of the user quota, no quota");
	expect_exit(ctl("--json=short persisted uq"), 0, "persisted --json");
	expect(strstr(fx.out, "\"quota\":0,\"user_quota\":65536,"
		      "\"user_quota_bound\":65536}"),
	       "persisted --json: user_quota is not 65536");

	/* The uid holds 48 KiB: its other connection may not add 32. */
	off2 = alloc_ok(fx.pool, 32 * KiB);
	assert_int_equal(pool_flush(fx.pool), 0);
	assert_int_equal(pool_connect(fx.d.sock, &other), 0);
	assert_int_equal(pool_open(other, "uq", &p2), 0);
	assert_int_equal(pool_alloc(p2, 32 * KiB, &off), -EDQUOT);

	expect_exit(ctl("--json=short set uq --user-quota 0"), 0,
		    "set --user-quota 0");
	assert_string_equal(fx.out, "{\"pool\":\"uq\",\"set\":true,"
			    "\"user_quota\":0}\n");
	assert_int_equal(stats_of("uq").user_quota, 0);
	expect_user_quota_shown(0);
	assert_int_equal(pool_alloc(p2, 32 * KiB, &off), 0);
	assert_int_equal(pool_free(p2, off), 0);

	expect_exit(ctl("set uq --user-quota 1M"), 0, "set --user-quota 1M");
	expect(fx.out[0] == '\0', "set prints nothing on success");
	assert_int_equal(stats_of("uq").user_quota, 1 * MiB);
	assert_int_equal(stats_of("uq").quota, 0);
	expect_user_quota_shown(1 * MiB);

	/* "none", as stats prints no bound, lifts either quota. */
	expect_exit(ctl("set uq --quota 1M"), 0, "set --quota 1M");
	expect_exit(ctl("set uq --user-quota none --quota none"), 0,
		    "set --user-quota none --quota none");
	assert_int_equal(stats_of("uq").user_quota, 0);
	assert_int_equal(stats_of("uq").quota, 0);
	expect_exit(ctl("create uqn --size 1M --user-quota none --quota "
			"none"), 0, "create --user-quota none --quota none");
	assert_int_equal(stats_of("uqn").user_quota, 0);
	expect_exit(ctl("set uq --user-quota nothing"), 2,
		    "set --user-quota nothing");
	expect(strstr(fx.err, "none, or "), "the forms do not name none");
	expect_exit(ctl("destroy uqn"), 0, "destroy uqn");

	assert_int_equal(pool_free(fx.pool, off2), 0);
	pool_close(p2);
	pool_disconnect(other);
	stop();
}

/* Two connections of this uid hold 8 KiB each; it persisted 16 KiB. */
static void
users_lists_who_holds_what(void **state)
{
	struct pool_conn *other;
	struct pool *p2;
	pool_off_t kept, held, held2;
	const char *l;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create uq --size 1M --user-quota 64K"), 0, "create");
	assert_int_equal(pool_open(fx.conn, "uq", &fx.pool), 0);
	kept = alloc_ok(fx.pool, 16 * KiB);
	assert_int_equal(pool_persist(fx.pool, kept), 0);
	held = alloc_ok(fx.pool, 8 * KiB);
	assert_int_equal(pool_flush(fx.pool), 0);
	assert_int_equal(pool_connect(fx.d.sock, &other), 0);
	assert_int_equal(pool_open(other, "uq", &p2), 0);
	assert_int_equal(pool_set_cache(p2, 0), 0);
	held2 = alloc_ok(p2, 8 * KiB);

	/* The tests run as root: uid 0 by its name, and by number (-n). */
	expect_exit(ctl("users uq"), 0, "users uq");
	expect(strstr(fx.out, " UID CONNS HANDLES       HELD PERSISTENT  "
		      "BLOCKS       QUOTA  OF USER QUOTA\n") != NULL,
	       "users: its header");
	l = line_starting(fx.out, "uq");
	expect(l && strstr(l, "uq         root     2       2   16.0 KiB   "
			   "16.0 KiB       1    64.0 KiB          50.0%\n"),
	       "users: not root with 2 connections, 2 handles, 16 KiB held, "
	       "16 KiB in 1 persistent block, 50.0% of the user quota");
	expect_exit(ctl("users uq -n"), 0, "users uq -n");
	l = line_starting(fx.out, "uq");
	expect(l && strstr(l, "uq            0     2       2   16.0 KiB   "
			   "16.0 KiB       1    64.0 KiB          50.0%\n"),
	       "users -n: uid 0 not a number in its column");
	expect_exit(ctl("users uq --format=kv"), 0, "users kv");
	expect(strstr(fx.out, "uq user_connections.0 2\n"
			      "uq user_handles.0 2\n"
			      "uq user_held_bytes.0 16384\n"
			      "uq user_persisted_blocks.0 1\n"
			      "uq user_persisted_bytes.0 16384\n"
			      "uq user_quota_bound.0 65536\n"
			      "uq user_quota_own.0 0\n") != NULL,
	       "users kv");
	expect_exit(ctl("--json=short users uq"), 0, "users --json");
	assert_string_equal(fx.out, "[{\"pool\":\"uq\",\"uid\":0,"
			    "\"user\":\"root\",\"connections\":2,\"handles\":2,"
			    "\"held_bytes\":16384,\"persisted_blocks\":1,"
			    "\"persisted_bytes\":16384,\"user_quota\":65536,"
			    "\"quota\":65536,\"quota_own\":false}]\n");
	expect_exit(ctl("users uq --format=prometheus"), 0, "users prom");
	expect(strstr(fx.out, "poolmgr_pool_user_held_bytes{pool=\"uq\","
			      "uid=\"0\"} 16384\n") != NULL,
	       "users prometheus");
	/* Of every pool: the others have nobody. */
	expect_exit(ctl("users"), 0, "users");
	expect(line_starting(fx.out, "uq") != NULL, "users: uq not listed");
	expect_exit(ctl("users nope"), 1, "users nope");
	expect(strstr(fx.err, "nope") != NULL, "users nope: not named");

	/* The other connection gone, and the persistent block ended. */
	assert_int_equal(pool_free(p2, held2), 0);
	pool_close(p2);
	pool_disconnect(other);
	assert_int_equal(pool_free(fx.pool, held), 0);
	assert_int_equal(pool_free(fx.pool, kept), 0);
	assert_int_equal(pool_free(fx.pool, kept), 0);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_exit(ctl("--json=short users uq"), 0, "users --json");
	assert_string_equal(fx.out, "[{\"pool\":\"uq\",\"uid\":0,"
			    "\"user\":\"root\",\"connections\":1,\"handles\":1,"
			    "\"held_bytes\":0,\"persisted_blocks\":0,"
			    "\"persisted_bytes\":0,\"user_quota\":65536,"
			    "\"quota\":65536,\"quota_own\":false}]\n");
	stop();
}

/*
 * A --user-quota poolctl cannot read is a usage error naming the option
 * and saying what to write, as --quota's (exit 2, nothing made or
 * changed); so is one given twice, or to a command without it.  A
 * pool's owner who is no admin may not change it (exit 77, the daemon's
 * rule named), as the quota.
 */
static void
user_quota_refused(void **state)
{
	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create uq --size 1M --user-quota 1M"), 0, "create");

	expect_refused_saying("create delta --size 1M --user-quota lots",
			      "create: bad user quota 'lots' (none, or "
			      FORMS ")");
	expect_refused_saying("create delta --size 1M --user-quota -1",
			      "create: bad user quota '-1' (none, or "
			      FORMS ")");
	expect_refused_saying("create delta --size 1M --user-quota 8KB",
			      "create: bad user quota '8KB': " POWERS("KB")
			      "write 8K or 8KiB");
	expect_refused_saying("set uq --user-quota 4096B",
			      "set: bad user quota '4096B': " NO_B
			      "write 4096");
	expect_refused_saying("set uq --user-quota 99999999999T",
			      "set: bad user quota '99999999999T': "
			      TOO_LARGE MOST_BYTES);
	expect_refused_saying("set uq --user-quota 1.5M",
			      "set: bad user quota '1.5M' (none, or "
			      FORMS ")");
	expect_refused_saying("set uq --user-quota 1M --user-quota=2M",
			      "set: option --user-quota given twice");
	expect_refused_saying("stats uq --user-quota 1M",
			      "stats: option --user-quota does not apply");
	expect_refused_saying("set uq --user-quota",
			      "option '--user-quota' needs an argument");
	assert_false(pool_exists("delta"));
	assert_int_equal(stats_of("uq").user_quota, 1 * MiB);

	skip_unless_nobody_can_run_poolctl();
	expect_exit(ctl("create mine --size 1M --owner %d --group %d", NOBODY,
			NOBODY), 0, "create mine for nobody");
	expect_exit(ctl_as_nobody("set", "mine", "--user-quota", "1M"),
		    EXIT_NOPERM, "set --user-quota as the owner");
	expect(strcmp(fx.err, "poolctl: cannot set pool mine: not permitted; "
		      "poolmgrd says: the owner of pool mine may change its "
		      "mode, access control list and group; its owner, "
		      "quotas, limit and retain need admin rights\n") == 0,
	       "set --user-quota as the owner: not the daemon's rule");
	assert_int_equal(stats_of("mine").user_quota, 0);
	expect_exit(ctl_as_nobody("create", "zz", "--size", "1M"), EXIT_NOPERM,
		    "create as nobody");
	assert_false(pool_exists("zz"));
	stop();
}

/* ---- uids' own user quotas ------------------------------------------------- */

/* Pool name's entries must be the n of want (uid, bytes), in order. */
static void
expect_entries(const char *name, const struct pool_user_quota *want,
	       size_t n)
{
	struct pool_user_quota got[POOL_USER_QUOTA_MAX];
	size_t i;

	assert_int_equal(pool_user_quota_get(fx.conn, name, got,
					     POOL_USER_QUOTA_MAX), (int)n);
	for (i = 0; i < n; i++) {
		assert_int_equal(got[i].uid, want[i].uid);
		assert_int_equal(got[i].bytes, want[i].bytes);
	}
}

/*
 * --user-quota USER=SIZE of create and set: the entries the daemon keeps
 * (names and numbers, none), one request with the pool's default; set's
 * USER=default takes one out; stats POOL shows them in every format but
 * Prometheus (names where known, numbers under -n and in kv), and not
 * for a pool without; users shows the bound in force, a uid's own
 * marked, in every format; --json of create and set says what they gave.
 */
static void
user_quota_entries_set_and_shown(void **state)
{
	const struct pool_user_quota made[] = {
		{.uid = 0, .bytes = 2 * MiB}, {.uid = NOBODY, .bytes = 0},
	};
	const struct pool_user_quota changed[] = {
		{.uid = 4242, .bytes = 3 * MiB}, {.uid = NOBODY, .bytes = 0},
	};
	const struct pool_user_quota own[] = {
		{.uid = 0, .bytes = 1 * MiB}, {.uid = 4242, .bytes = 3 * MiB},
		{.uid = NOBODY, .bytes = 0},
	};
	const char *l;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create e --size 4M --user-quota 1M --user-quota "
			"root=2M --user-quota %d=none", NOBODY), 0, "create");
	expect_entries("e", made, 2);
	assert_int_equal(stats_of("e").user_quota, 1 * MiB);

	expect_exit(ctl("stats e"), 0, "stats e");
	expect(strstr(fx.out, "\n  user quotas          root:2.0 MiB, "
		      "nobody:none\n") != NULL, "stats: the entries by name");
	expect_exit(ctl("stats e -n"), 0, "stats e -n");
	expect(strstr(fx.out, "\n  user quotas          0:2.0 MiB, "
		      "65534:none\n") != NULL, "stats -n: by number");
	/* Of every pool too, for those with entries (one asks each). */
	expect_exit(ctl("stats"), 0, "stats");
	expect(strstr(fx.out, "\n  user quotas          root:2.0 MiB, "
		      "nobody:none\n") != NULL, "stats: no entries of e");
	expect_exit(ctl("stats e --format=kv"), 0, "stats kv");
	expect(strstr(fx.out, "\ne user_quotas 0:2097152,65534:0\n") != NULL,
	       "stats kv: numbers, 0 for none");
	expect_exit(ctl("--json=short stats e"), 0, "stats --json");
	expect(strstr(fx.out, "\"user_quotas\":[{\"uid\":0,\"user\":\"root\","
		      "\"bytes\":2097152},{\"uid\":65534,\"user\":\"nobody\","
		      "\"bytes\":0}]") != NULL, "stats --json: the array");
	expect_exit(ctl("stats e --format=prometheus"), 0, "stats prom");
	expect(strstr(fx.out, "user_quotas") == NULL, "stats prom: entries");
	/* A pool without: no line, an empty array. */
	expect_exit(ctl("stats alpha"), 0, "stats alpha");
	expect(strstr(fx.out, "user quotas") == NULL, "stats alpha: a line");
	expect_exit(ctl("--json=short stats alpha"), 0, "stats alpha json");
	expect(strstr(fx.out, "\"user_quotas\":[]") != NULL,
	       "stats alpha --json: no empty array");

	/* One request: the default, an entry out, another in. */
	expect_exit(ctl("--json=short set e --user-quota root=default "
			"--user-quota 4242=3M --user-quota 512K"), 0, "set");
	assert_string_equal(fx.out, "{\"pool\":\"e\",\"set\":true,"
			    "\"user_quota\":524288,\"user_quotas\":[{\"uid\":"
			    "4242,\"user\":null,\"bytes\":3145728}],"
			    "\"user_quotas_removed\":[{\"uid\":0,"
			    "\"user\":\"root\"}]}\n");
	expect_entries("e", changed, 2);
	assert_int_equal(stats_of("e").user_quota, 512 * KiB);

	/* users: the bound in force, the pool's, then root's own. */
	assert_int_equal(pool_open(fx.conn, "e", &fx.pool), 0);
	alloc_ok(fx.pool, 64 * KiB);
	assert_int_equal(pool_flush(fx.pool), 0);
	expect_exit(ctl("users e"), 0, "users e");
	l = line_starting(fx.out, "e");
	expect(l && strstr(l, "   512.0 KiB          12.5%\n"),
	       "users: the pool's user quota, unmarked");
	expect_exit(ctl("set e --user-quota root=1M"), 0, "set root=1M");
	expect_entries("e", own, 3);
	expect_exit(ctl("users e"), 0, "users e");
	l = line_starting(fx.out, "e");
	expect(l && strstr(l, "    1.0 MiB*           6.2%\n"),
	       "users: root's own, marked");
	expect_exit(ctl("users e --format=kv"), 0, "users kv");
	expect(strstr(fx.out, "e user_quota_bound.0 1048576\n"
		      "e user_quota_own.0 1\n")
	       != NULL, "users kv: the bound and its own");
	expect_exit(ctl("--json=short users e"), 0, "users json");
	expect(strstr(fx.out, "\"user_quota\":524288,\"quota\":1048576,"
		      "\"quota_own\":true}") != NULL, "users json");
	expect_exit(ctl("users e --format=prometheus"), 0, "users prom");
	expect(strstr(fx.out, "poolmgr_pool_user_quota_bound_bytes{pool=\"e\","
		      "uid=\"0\"} 1048576\n") != NULL &&
	       strstr(fx.out, "poolmgr_pool_user_quota_own{pool=\"e\","
		      "uid=\"0\"} 1\n") != NULL, "users prometheus");
	/* none: no user quota for root, whatever the pool's. */
	expect_exit(ctl("set e --user-quota root=0"), 0, "set root=0");
	expect_exit(ctl("users e"), 0, "users e");
	l = line_starting(fx.out, "e");
	expect(l && strstr(l, "          -*              -\n"),
	       "users: root's own none, marked");

	expect_exit(ctl("--json=short create f --size 1M --user-quota "
			"nobody=64K"), 0, "create --json");
	expect(strstr(fx.out, "\"user_quotas\":[{\"uid\":65534,\"user\":"
		      "\"nobody\",\"bytes\":65536}]}\n") != NULL,
	       "create --json: the entries");
	stop();
}

/* The daemon's count of the requests it answered, asked on fx.conn. */
static uint64_t
requests_now(void)
{
	struct pool_daemon_stats ds;

	assert_int_equal(pool_daemon_stats(fx.conn, &ds), 0);
	return ds.requests_total;
}

/*
 * Requests `poolctl ARGS` made beyond those of `poolctl list`: both
 * connect and list the pools the same way.
 */
static uint64_t
requests_beyond_list(const char *args)
{
	uint64_t r0, r1, r2;

	r0 = requests_now();
	expect_exit(ctl("list"), 0, "list");
	r1 = requests_now();
	expect_exit(ctl("%s", args), 0, args);
	r2 = requests_now();
	return (r2 - r1) - (r1 - r0);
}

/*
 * stats of every pool: the list says each pool's count of uids' own
 * user quotas, so that only e and g, which have some, are asked for
 * them (alpha and beta cost nothing); each shows its own, in every
 * format but Prometheus, which has the counts as gauges beside those
 * of the access control lists.
 */
static void
user_quota_entries_of_every_pool(void **state)
{
	uint64_t extra;
	const char *at;

	(void)state;
	start(TWO_POOLS);
	extra = requests_beyond_list("stats");
	if (extra != 1)
		fail_msg("stats without entries: %llu requests beyond the "
			 "listing, want 1 (the first pool's access control "
			 "list alone)", (unsigned long long)extra);
	expect(strstr(fx.out, "user quotas") == NULL,
	       "stats without entries: a user quotas line");

	expect_exit(ctl("create e --size 1M --user-quota root=2M "
			"--user-quota %d=none", NOBODY), 0, "create e");
	expect_exit(ctl("create g --size 1M --user-quota 4242=64K"), 0,
		    "create g");
	/* One for the first pool's list, one each for e's and g's entries. */
	extra = requests_beyond_list("stats -n");
	if (extra != 3)
		fail_msg("stats: %llu requests beyond the listing, want 3",
			 (unsigned long long)extra);
	at = strstr(fx.out, "pool e\n");
	expect(at && strstr(at, "\n  user quotas          0:2.0 MiB, "
			    "65534:none\n") != NULL, "stats: e's entries");
	at = strstr(fx.out, "pool g\n");
	expect(at && strstr(at, "\n  user quotas          4242:64.0 KiB\n")
	       != NULL, "stats: g's entries");
	/* alpha and beta come first, with no such line. */
	at = strstr(fx.out, "pool e\n");
	expect(at && strstr(fx.out, "user quotas") > at,
	       "stats: alpha or beta with a user quotas line");

	expect_exit(ctl("stats --format=kv"), 0, "stats kv");
	expect(strstr(fx.out, "\ne acl_entries 0\ne user_quota_entries 2\n")
	       && strstr(fx.out, "\ng user_quota_entries 1\n")
	       && strstr(fx.out, "\nalpha user_quota_entries 0\n"),
	       "stats kv: user_quota_entries beside acl_entries");
	expect(strstr(fx.out, "\ne user_quotas 0:2097152,65534:0\n") &&
	       strstr(fx.out, "\ng user_quotas 4242:65536\n") &&
	       !strstr(fx.out, "alpha user_quotas"),
	       "stats kv: the entries of e and g alone");

	expect_exit(ctl("--json=short stats"), 0, "stats --json");
	expect(strstr(fx.out, "\"acl_entries\":0,\"user_quota_entries\":2,")
	       && strstr(fx.out, "\"acl_entries\":0,\"user_quota_entries\""
			 ":0,"), "stats --json: user_quota_entries");
	expect(strstr(fx.out, "\"user_quotas\":[{\"uid\":4242,\"user\":"
		      "null,\"bytes\":65536}]") != NULL,
	       "stats --json: g's entries");
	expect_exit(ctl("--json=short list"), 0, "list --json");
	expect(strstr(fx.out, "\"acl_entries\":0,\"user_quota_entries\":1,")
	       != NULL, "list --json: g's user_quota_entries");

	/* Counts alone: Prometheus asks nothing beyond the listing. */
	extra = requests_beyond_list("stats --format=prometheus");
	if (extra != 0)
		fail_msg("stats prom: %llu requests beyond the listing, "
			 "want 0", (unsigned long long)extra);
	expect(strstr(fx.out, "# HELP poolmgr_pool_user_quota_entries ") &&
	       strstr(fx.out, "\n# TYPE poolmgr_pool_user_quota_entries "
		      "gauge\n") &&
	       strstr(fx.out, "\npoolmgr_pool_user_quota_entries{pool=\"e\"} "
		      "2\n") &&
	       strstr(fx.out, "\npoolmgr_pool_user_quota_entries{pool=\"g\"} "
		      "1\n") &&
	       strstr(fx.out, "\npoolmgr_pool_user_quota_entries{pool=\""
		      "alpha\"} 0\n"), "stats prom: user_quota_entries");
	expect(strstr(fx.out, "# HELP poolmgr_pool_acl_entries ") &&
	       strstr(fx.out, "\n# TYPE poolmgr_pool_acl_entries gauge\n") &&
	       strstr(fx.out, "\npoolmgr_pool_acl_entries{pool=\"beta\"} "
		      "0\n"), "stats prom: acl_entries");
	expect(strstr(fx.out, "user_quotas") == NULL,
	       "stats prom: the entries themselves");
	stop();
}

/*
 * What poolctl refuses of --user-quota USER=SIZE before asking (exit 2,
 * the word named, nothing changed): a user no database knows, nobody's
 * uid, no user, a bad size, a size too large, a uid given twice (by name
 * and number too), default to create, more than 32 entries or 32
 * removals; and what the daemon
 * refuses (exit 1, its words): more than 32 entries in the pool, a pool
 * the configuration file defines.
 */
static void
user_quota_entries_refused(void **state)
{
	const struct pool_user_quota was[] = { {.uid = 0, .bytes = 1 * MiB} };
	char many[4096];
	size_t at = 0;
	int i;

	(void)state;
	start(TWO_POOLS);
	expect_exit(ctl("create r --size 1M --user-quota root=1M"), 0,
		    "create");
	expect_refused_saying("set r --user-quota nosuchuser=1M",
			      "set: --user-quota nosuchuser=1M: no such user "
			      "'nosuchuser' (a user name, or a uid below "
			      "4294967295)");
	expect_refused_saying("set r --user-quota 4294967295=1M",
			      "set: --user-quota 4294967295=1M: no such user "
			      "'4294967295' (a user name, or a uid below "
			      "4294967295)");
	expect_refused_saying("set r --user-quota =1M",
			      "set: --user-quota =1M: no user before '=' "
			      "(USER=SIZE: a user name or a uid)");
	expect_refused_saying("set r --user-quota root=lots",
			      "set: --user-quota root=lots: bad size 'lots' "
			      "(none or 0 for no user quota, or " FORMS
			      "; default takes the entry out)");
	expect_refused_saying("create x --size 1M --user-quota root=",
			      "create: --user-quota root=: bad size '' (none "
			      "or 0 for no user quota, or " FORMS ")");
	expect_refused_saying("set r --user-quota root=99999999999T",
			      "set: --user-quota root=99999999999T: size too "
			      "large (at most " MOST_BYTES);
	expect_refused_saying("set r --user-quota root=2M --user-quota 0=3M",
			      "set: --user-quota 0=3M: user root (uid 0) given "
			      "twice (one entry each)");
	expect_refused_saying("set r --user-quota root=2M --user-quota "
			      "root=default", "set: --user-quota root=default: "
			      "user root (uid 0) given twice (one entry each)");
	expect_refused_saying("create x --size 1M --user-quota root=default",
			      "create: --user-quota root=default: default is "
			      "for set, which takes a pool's entry out (a new "
			      "pool has none)");
	expect_refused_saying("stats r --user-quota root=1M",
			      "stats: option --user-quota does not apply");
	/* --us: getopt's abbreviation keeps 33 within the harness's line. */
	for (i = 0; i < POOL_USER_QUOTA_MAX + 1; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
				       " --us=%d=1M", 100 + i);
	snprintf(many + at, sizeof(many) - at, " r");
	expect_exit(ctl("set%s", many), EXIT_USAGE, "set 33 entries");
	expect(strstr(fx.err, "set: --user-quota: more than 32 USER=SIZE "
		      "entries (a pool holds at most 32)") != NULL,
	       "set 33 entries: the words");
	/* As many removals: 32 at most, as the daemon takes (--u: 33 fit). */
	at = 0;
	for (i = 0; i < POOL_USER_QUOTA_MAX + 1; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
				       " --u=%d=default", i);
	snprintf(many + at, sizeof(many) - at, " r");
	expect_exit(ctl("set%s", many), EXIT_USAGE, "set 33 removals");
	expect(strstr(fx.err, "set: --user-quota 32=default: more than 32 "
		      "USER=default removals (a pool holds at most 32 "
		      "entries)") != NULL,
	       "set 33 removals: the words");
	assert_false(pool_exists("x"));
	expect_entries("r", was, 1);

	/* 32 new ones beside root's: the daemon's -ENOSPC, nothing set. */
	at = 0;
	for (i = 0; i < POOL_USER_QUOTA_MAX; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
				       " --us=%d=1M", 100 + i);
	snprintf(many + at, sizeof(many) - at, " --user-quota 2M r");
	expect_exit(ctl("set%s", many), 1, "set to 33 entries");
	expect(strcmp(fx.err, "poolctl: cannot set pool r: too many user "
		      "quota entries; poolmgrd says: a pool holds at most 32 "
		      "user quota entries: this would make 33 (remove some in "
		      "the same change)\n") == 0,
	       "set to 33 entries: the words");
	expect_entries("r", was, 1);
	assert_int_equal(stats_of("r").user_quota, 0);

	expect_exit(ctl("set alpha --user-quota root=1M"), 1, "set alpha");
	expect(strstr(fx.err, "poolctl: cannot set pool alpha: the daemon's "
		      "configuration file defines it") != NULL,
	       "set alpha: the file's pool");
	stop();
}

/* ---- usage errors of help, names, wait and unpublish ----------------------- */

/*
 * What poolctl refuses before it asks the daemon (exit 2, why, nothing
 * on stdout): help with two commands or one it does not know, an empty
 * --socket, a names prefix past 255 bytes, an empty block name for wait
 * and unpublish, a mode with bits past 0777 or none at all.  What the
 * daemon answers: names and unpublish of no pool, unpublish of no name
 * (exit 1, each in its words).  Nothing is made or changed.
 */
static void
refused_before_and_after_asking(void **state)
{
	char prefix[POOL_BLOCK_NAME_MAX + 2];

	(void)state;
	start(TWO_POOLS);
	expect_usage_error("help create list", "poolctl: help: too many "
			   "arguments\n");
	expect_usage_error("help frobnicate", "poolctl: unknown command "
			   "'frobnicate'\n");
	expect_usage_error("--socket '' list", "poolctl: --socket: empty "
			   "path\n");
	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	expect_exit(ctl("names alpha %s", prefix), EXIT_USAGE,
		    "names with a prefix of 256 bytes");
	expect(strstr(fx.err, "poolctl: names: prefix longer than 255 "
		      "bytes\n") && fx.out[0] == '\0',
	       "names: a long prefix not said");
	prefix[sizeof(prefix) - 2] = '\0';
	expect_exit(ctl("names alpha %s", prefix), 0,
		    "names with a prefix of 255 bytes");
	expect_usage_error("wait alpha ''", "poolctl: wait: empty block "
			   "name\n");
	expect_usage_error("unpublish alpha ''", "poolctl: unpublish: empty "
			   "block name\n");
	expect_usage_error("create x --size 1M --mode 1777", "poolctl: "
			   "create: bad mode '1777' (octal, 0001 to 0777)\n");
	expect_usage_error("create x --size 1M --mode ''", "poolctl: create: "
			   "bad mode '' (octal, 0001 to 0777)\n");
	expect_usage_error("set alpha --mode 01777", "poolctl: set: bad mode "
			   "'01777' (octal, 0001 to 0777)\n");
	assert_false(pool_exists("x"));
	assert_int_equal(stats_of("alpha").mode, 0600);

	expect_exit(ctl("names nosuch"), EXIT_FAILED, "names of no pool");
	assert_string_equal(fx.err, "poolctl: no such pool: nosuch\n");
	expect_exit(ctl("unpublish nosuch n"), EXIT_FAILED,
		    "unpublish in no pool");
	assert_string_equal(fx.err, "poolctl: no such pool: nosuch\n");
	expect_exit(ctl("unpublish alpha nosuchname"), EXIT_FAILED,
		    "unpublish of no name");
	assert_string_equal(fx.err, "poolctl: unpublish alpha: no such name: "
			    "nosuchname\n");
	expect(fx.out[0] == '\0', "a failed unpublish printed something");
	stop();
}

/* ---- free --------------------------------------------------------------- */

static void
free_ends_what_was_left(void **state)
{
	static const char *const bad[] = {"+1", "0x", "12abc", "0x1g",
					  "' 12'", "0x0x10",
					  "18446744073709551615"};
	struct pool_conn *gone;
	struct pool *p, *q;
	struct pool_stats st;
	pool_off_t left1, left2, held, named;
	char want[64];
	size_t i;
	int rc;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	/* What a program left: it persisted one, allocated one persistent. */
	assert_int_equal(pool_connect(fx.d.sock, &gone), 0);
	EXPECT_RC(pool_open(gone, "p", &q), 0);
	EXPECT_RC(pool_alloc(q, 100, &left1), 0);
	EXPECT_RC(pool_persist(q, left1), 0);
	EXPECT_RC(pool_alloc_wait(q, 200, 0, POOL_ALLOC_PERSIST, 0, &left2),
		  0);
	pool_close(q);
	pool_disconnect(gone);
	/* Not poolctl's to free: a block a handle holds, a named one. */
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc(p, 300, &held), 0);
	EXPECT_RC(pool_alloc(p, 400, &named), 0);
	EXPECT_RC(pool_publish(p, named, "kept"), 0);
	EXPECT_RC(pool_free(p, named), 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = ctl("free p %s", bad[i]);
		expect_exit(rc, EXIT_USAGE, bad[i]);
		expect(strstr(fx.err, "bad offset") != NULL, bad[i]);
	}
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 4);

	rc = ctl("free p %#llx 0x7 %#llx %#llx %llu",
		 (unsigned long long)left1, (unsigned long long)held,
		 (unsigned long long)named, (unsigned long long)left2);
	expect_exit(rc, EXIT_FAILED, "free of two left and three refused");
	expect(strstr(fx.err, "0x7: no live block starts there") != NULL,
	       "no block");
	expect(strstr(fx.err, "held by handles and not persistent") != NULL,
	       "held");
	expect(strstr(fx.err, "a name holds it: `poolctl unpublish` removes "
		      "the name") != NULL, "named");
	/* What it ended is said, as sweep says it, beside the refusals. */
	expect(strcmp(fx.out, "freed 2 blocks\n") == 0, "the two it ended");
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 2);
	assert_int_equal(st.persistent_blocks, 1);	/* the named one */
	EXPECT_RC(pool_usable_size(p, left1, &i), -EINVAL);
	EXPECT_RC(pool_usable_size(p, left2, &i), -EINVAL);

	/* --json says what it ended, as every command changing a pool. */
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &left1),
		  0);
	rc = ctl("--json=short free p %llu 0x7", (unsigned long long)left1);
	expect_exit(rc, EXIT_FAILED, "--json free of one left, one refused");
	snprintf(want, sizeof(want), "{\"pool\":\"p\",\"freed\":[%llu]}",
		 (unsigned long long)left1);
	expect(strstr(fx.out, want) != NULL, "--json free: the offset freed");
	EXPECT_RC(pool_usable_size(p, left1, &i), -EINVAL);

	/* One ended: one block; none ended, nothing on stdout. */
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &left1),
		  0);
	rc = ctl("free p %#llx", (unsigned long long)left1);
	expect_exit(rc, 0, "free of one left");
	expect(strcmp(fx.out, "freed 1 block\n") == 0 && fx.err[0] == '\0',
	       "free of one: said");
	rc = ctl("free p %#llx", (unsigned long long)left1);
	expect_exit(rc, EXIT_FAILED, "free of one gone");
	expect(fx.out[0] == '\0', "free of none: nothing said freed");

	rc = ctl("free nope 0x10");
	expect_exit(rc, EXIT_FAILED, "free in no pool");
	expect(strstr(fx.err, "no such pool: nope") != NULL, "no pool");
	harness_expect_checked(fx.conn, "p");
	EXPECT_RC(pool_free(p, held), 0);
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	pool_close(p);
	stop();
}

/*
 * A block listed as left behind, freed by its consumer meanwhile, and a
 * new one made at its offset: `free --older-than` spares the new one
 * while it is younger than the age given, and ends it once it is older
 * (the age is checked at the free, not at the listing: the limit the
 * manual states).  `blocks` shows for how long each has been persistent.
 */
static void
free_older_than_spares_a_new_block(void **state)
{
	static const char *const bad[] = {"-1", "1.5", "x", "''", "1s",
					  "18446744073709552"};
	struct pool_stats st;
	pool_off_t left, again;
	struct pool *p;
	const char *at;
	char want[96];
	size_t i;
	int rc;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_alloc_wait(p, 4096, 0, POOL_ALLOC_PERSIST, 0, &left),
		  0);
	usleep(1100 * 1000);
	rc = ctl("blocks p");
	expect_exit(rc, 0, "blocks");
	expect(strstr(fx.out, "PERSISTED") != NULL, "the column");
	/* Seconds, not milliseconds, and no holder after them. */
	expect(strstr(fx.out, "s -\n") && !strstr(fx.out, "ms -\n"),
	       "its age");
	rc = ctl("blocks p --format=kv");
	expect_exit(rc, 0, "blocks kv");
	snprintf(want, sizeof(want), "p 0x%llx persisted_ms ",
		 (unsigned long long)left);
	expect((at = strstr(fx.out, want)) &&
	       strtoull(at + strlen(want), NULL, 10) >= 1000,
	       "kv persisted_ms");
	rc = ctl("--json=short blocks p");
	expect_exit(rc, 0, "blocks json");
	expect((at = strstr(fx.out, "\"persisted_ms\":")) &&
	       strtoull(at + strlen("\"persisted_ms\":"), NULL, 10) >= 1000,
	       "json persisted_ms");

	/* Its consumer frees it; the producer's next lands at its place. */
	EXPECT_RC(pool_free(p, left), 0);
	EXPECT_RC(pool_alloc_wait(p, 4096, 0, POOL_ALLOC_PERSIST, 0, &again),
		  0);
	assert_int_equal(again, left);
	rc = ctl("free p --older-than 1 %#llx", (unsigned long long)left);
	expect_exit(rc, EXIT_FAILED, "a new block at the offset");
	/* With the new block's age, which tells it from the one listed. */
	expect(strstr(fx.err, "ms, less than --older-than says") != NULL,
	       "the refusal, with the block's age now");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 1);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = ctl("free p --older-than %s %#llx", bad[i],
			 (unsigned long long)left);
		expect_exit(rc, EXIT_USAGE, bad[i]);
		expect(strstr(fx.err, "bad --older-than") != NULL, bad[i]);
	}
	rc = ctl("blocks p --older-than 1");
	expect_exit(rc, EXIT_USAGE, "--older-than is free's");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 1);

	/* The new block itself, a second later: older than asked now. */
	usleep(1100 * 1000);
	rc = ctl("--json=short free p --older-than 1 %#llx",
		 (unsigned long long)left);
	expect_exit(rc, 0, "old enough now");
	snprintf(want, sizeof(want), "\"freed\":[%llu]",
		 (unsigned long long)left);
	expect(strstr(fx.out, want) != NULL, "freed");
	/* Who ended whose block is in the daemon's log. */
	snprintf(want, sizeof(want), "pool p: block 0x%llx, persistent for ",
		 (unsigned long long)left);
	assert_int_equal(harness_log_count(&fx.d, want), 1);
	snprintf(want, sizeof(want), "(uid %u's), ended by uid %u pid ",
		 (unsigned)getuid(), (unsigned)getuid());
	assert_int_equal(harness_log_count(&fx.d, want), 1);
	st = harness_stats(p);
	assert_int_equal(st.live_blocks, 0);
	assert_int_equal(st.persistent_blocks, 0);
	harness_expect_checked(fx.conn, "p");
	pool_close(p);
	stop();
}

/*
 * `sweep --older-than`, which a timer runs, ends the unnamed persistent
 * blocks old enough that no handle holds, and nothing else: not a block
 * a live program persisted and holds yet.
 */
static void
sweep_ends_what_was_left(void **state)
{
	pool_off_t old1, old2, young, named, held;
	struct pool_stats st;
	struct passwd *pw;
	struct pool *p;
	char want[128];
	size_t usable1, usable2;
	int rc;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc_wait(p, 100, 0, POOL_ALLOC_PERSIST, 0, &old1), 0);
	EXPECT_RC(pool_alloc_wait(p, 5000, 0, POOL_ALLOC_PERSIST, 0, &old2),
		  0);
	EXPECT_RC(pool_alloc(p, 300, &named), 0);
	EXPECT_RC(pool_publish(p, named, "kept"), 0);
	EXPECT_RC(pool_free(p, named), 0);
	/* Persistent, but this live program holds it yet: not left. */
	EXPECT_RC(pool_alloc(p, 400, &held), 0);
	EXPECT_RC(pool_persist(p, held), 0);
	EXPECT_RC(pool_usable_size(p, old1, &usable1), 0);
	EXPECT_RC(pool_usable_size(p, old2, &usable2), 0);
	/*
	 * Two seconds old, against --older-than 2; the young block is made
	 * just before the sweeps that must spare it, which have 2 s to run
	 * however loaded the machine.
	 */
	usleep(2100 * 1000);

	rc = ctl("sweep p");
	expect_exit(rc, EXIT_USAGE, "sweep without --older-than");
	expect(strstr(fx.err, "missing --older-than") != NULL, "why");
	rc = ctl("sweep p --older-than 1 %llu", (unsigned long long)old1);
	expect_exit(rc, EXIT_USAGE, "sweep with an offset");
	rc = ctl("sweep p --older-than 1s");
	expect_exit(rc, EXIT_USAGE, "a bad age");
	rc = ctl("sweep nope --older-than 1");
	expect_exit(rc, EXIT_FAILED, "no such pool");
	rc = ctl("sweep p --older-than 3600");
	expect_exit(rc, 0, "nothing that old");
	expect(strstr(fx.out, "freed 0 blocks") != NULL, "none");
	EXPECT_RC(pool_alloc_wait(p, 200, 0, POOL_ALLOC_PERSIST, 0, &young),
		  0);
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 5);

	/* A dry run lists what it would end, and ends nothing. */
	rc = ctl("sweep p --older-than 2 --dry-run");
	expect_exit(rc, 0, "dry run");
	/* The persister by name, as blocks names it; -n: the number. */
	pw = getpwuid(getuid());
	snprintf(want, sizeof(want), "0x%llx 112 B user %s ",
		 (unsigned long long)old1, pw != NULL ? pw->pw_name : "?");
	if (pw != NULL)
		expect(strstr(fx.out, want) != NULL, "the first listed");
	expect(strstr(fx.out, "would free 2 blocks (") != NULL, "dry count");
	rc = ctl("sweep p --older-than 2 --dry-run -n");
	expect_exit(rc, 0, "dry run -n");
	snprintf(want, sizeof(want), "0x%llx 112 B user %u ",
		 (unsigned long long)old1, (unsigned)getuid());
	expect(strstr(fx.out, want) != NULL, "-n: the first listed");
	rc = ctl("--json=short sweep p --older-than 2 --dry-run");
	expect_exit(rc, 0, "dry run, JSON");
	snprintf(want, sizeof(want), "\"would_free\":[%llu,%llu]",
		 (unsigned long long)old1, (unsigned long long)old2);
	expect(strstr(fx.out, want) != NULL, "dry JSON");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 5);

	rc = ctl("--json=short sweep p --older-than 2");
	expect_exit(rc, 0, "the sweep");
	snprintf(want, sizeof(want), "{\"pool\":\"p\",\"freed\":[%llu,%llu],"
		 "\"bytes\":%zu}", (unsigned long long)old1,
		 (unsigned long long)old2, usable1 + usable2);
	expect(strstr(fx.out, want) != NULL, "what it ended");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 3);	/* young, named, held */
	assert_int_equal(st.live_blocks, 3);
	EXPECT_RC(pool_usable_size(p, young, &usable1), 0);
	EXPECT_RC(pool_usable_size(p, named, &usable1), 0);
	harness_expect_checked(fx.conn, "p");

	rc = ctl("sweep p --older-than 0");
	expect_exit(rc, 0, "all of them now");
	expect(strstr(fx.out, "freed 1 block (") != NULL, "the young one");
	st = harness_stats(p);
	assert_int_equal(st.persistent_blocks, 2);	/* named, held */
	EXPECT_RC(pool_free(p, held), 0);	/* this handle's reference */
	EXPECT_RC(pool_free(p, held), 0);	/* the pool's */
	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	pool_close(p);
	stop();
}

/* ---- users and groups by name ------------------------------------------ */

/* A uid the password database lacks, of a few unlikely ones; 0: none. */
static uid_t
unnamed_uid(void)
{
	uid_t uid;

	for (uid = 4242; uid < 4342; uid++)
		if (getpwuid(uid) == NULL)
			return uid;
	return 0;
}

static void
ids_shown_by_name(void **state)
{
	uid_t nobody = unnamed_uid();
	pool_off_t off;
	struct pool *p;
	const char *line;
	char want[160];

	(void)state;
	if (nobody == 0 || getpwuid(0) == NULL || getgrgid(0) == NULL ||
	    strcmp(getpwuid(0)->pw_name, "root") != 0 ||
	    strcmp(getgrgid(0)->gr_name, "root") != 0)
		skip();
	start("[pool p]\nsize = 16M\n");
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc_wait(p, 4096, 0, POOL_ALLOC_PERSIST, 0, &off), 0);
	EXPECT_RC(pool_publish(p, off, "kept"), 0);

	expect_exit(ctl("stats p"), 0, "stats");
	expect(strstr(fx.out, "\n  owner                      root\n"
			      "  group                      root\n"),
	       "stats: owner and group are not root");
	expect_exit(ctl("stats p -n"), 0, "stats -n");
	expect(strstr(fx.out, "\n  owner                         0\n"
			      "  group                         0\n"),
	       "stats -n: owner and group are not 0");
	expect_exit(ctl("--json=short stats p"), 0, "stats --json");
	expect(strstr(fx.out, "\"uid\":0,\"user\":\"root\",\"gid\":0,"
			      "\"group\":\"root\","),
	       "stats --json: no user and group beside uid and gid");
	expect_exit(ctl("stats p --format=kv"), 0, "stats kv");
	expect(strstr(fx.out, "p uid 0\np gid 0\n"), "stats kv: not numbers");

	/* An owner with no name: its number, in JSON a null. */
	expect_exit(ctl("create q --size 1M --owner %u", (unsigned)nobody), 0,
		    "create --owner");
	expect_exit(ctl("stats q"), 0, "stats");
	snprintf(want, sizeof(want), "\n  owner                      %4u\n",
		 (unsigned)nobody);
	expect(strstr(fx.out, want), "stats: a uid without a name");
	expect_exit(ctl("--json=short stats q"), 0, "stats --json");
	snprintf(want, sizeof(want), "\"uid\":%u,\"user\":null,",
		 (unsigned)nobody);
	expect(strstr(fx.out, want), "stats --json: user not null");

	expect_exit(ctl("names p"), 0, "names");
	expect((line = line_starting(fx.out, "kept")) &&
	       strstr(line, " 4.0 KiB       root "),
	       "names: the publisher is not root");
	expect_exit(ctl("names p -n"), 0, "names -n");
	expect((line = line_starting(fx.out, "kept")) &&
	       strstr(line, " 4.0 KiB          0 "),
	       "names -n: the publisher is not 0");
	expect_exit(ctl("--json=short names p"), 0, "names --json");
	expect(strstr(fx.out, "\"publisher\":0,\"publisher_user\":\"root\","),
	       "names --json: no publisher_user");

	expect_exit(ctl("blocks p"), 0, "blocks");
	expect((line = line_starting(fx.out, "0x0")) &&
	       strstr(line, " NP         root "),
	       "blocks: the persister is not root");
	expect_exit(ctl("blocks p -n"), 0, "blocks -n");
	expect((line = line_starting(fx.out, "0x0")) &&
	       strstr(line, " NP            0 "),
	       "blocks -n: the persister is not 0");
	expect_exit(ctl("--json=short blocks p"), 0, "blocks --json");
	expect(strstr(fx.out, "\"persister\":0,\"persister_user\":\"root\","),
	       "blocks --json: no persister_user");
	expect_exit(ctl("blocks p --format=kv"), 0, "blocks kv");
	expect(strstr(fx.out, " persister 0\n"), "blocks kv: not a number");

	expect_exit(ctl("persisted p --numeric"), 0, "persisted --numeric");
	expect(strstr(fx.out, "\np             0 "), "persisted --numeric");
	expect_exit(ctl("list -n"), EXIT_USAGE, "list -n");
	expect(strstr(fx.err, "list: option --numeric does not apply"),
	       "list -n: not refused in words");

	EXPECT_RC(pool_unpublish(p, "kept"), 0);
	pool_close(p);
	stop();
}

/*
 * printf's "%#x" writes 0 for zero, without its 0x: the first block of a
 * pool, at offset 0, looked decimal beside every other.  Wherever poolctl
 * writes an offset in text, 0 is 0x0.
 */
static void
offset_zero_says_0x0(void **state)
{
	pool_off_t off;
	struct pool *p;
	const char *line;

	(void)state;
	start("[pool p]\nsize = 16M\n");
	EXPECT_RC(pool_open(fx.conn, "p", &p), 0);
	EXPECT_RC(pool_set_cache(p, 0), 0);
	EXPECT_RC(pool_alloc(p, 64, &off), 0);
	assert_int_equal(off, 0);	/* else this test shows nothing */
	EXPECT_RC(pool_publish(p, off, "zero"), 0);
	EXPECT_RC(pool_free(p, off), 0);	/* the name's alone */

	expect_exit(ctl("names p"), 0, "names");
	expect((line = line_starting(fx.out, "zero")) &&
	       strncmp(line + strcspn(line, " "), "                0x0 ",
		       20) == 0, "names: the offset");
	expect_exit(ctl("wait p zero"), 0, "wait");
	expect(strncmp(fx.out, "zero 0x0 ", 9) == 0, "wait: the offset");
	expect_exit(ctl("free p 0"), EXIT_FAILED, "free of a named block");
	expect(strstr(fx.err, ": 0x0: a name holds it") != NULL,
	       "free: the offset refused");
	EXPECT_RC(pool_unpublish(p, "zero"), 0);
	expect_exit(ctl("free p 0"), EXIT_FAILED, "free of no block");
	expect(strstr(fx.err, ": 0x0: no live block starts there") != NULL,
	       "free: no block at 0");

	/* Left behind at 0: listed, swept dry, then freed. */
	EXPECT_RC(pool_alloc_wait(p, 4096, 0, POOL_ALLOC_PERSIST, 0, &off),
		  0);
	assert_int_equal(off, 0);
	expect_exit(ctl("blocks p"), 0, "blocks");
	expect(line_starting(fx.out, "0x0") != NULL, "blocks: the offset");
	expect_exit(ctl("blocks p --format=kv"), 0, "blocks kv");
	expect(strstr(fx.out, "p 0x0 usable_size 4096\n") != NULL,
	       "blocks kv: the offset");
	expect_exit(ctl("sweep p --older-than 0 --dry-run"), 0, "dry sweep");
	expect(strncmp(fx.out, "0x0 4.0 KiB user ", 17) == 0,
	       "sweep --dry-run: the offset");
	expect_exit(ctl("free p 0x0"), 0, "free of the block at 0");
	expect(strcmp(fx.out, "freed 1 block\n") == 0, "free: said");
	harness_expect_checked(fx.conn, "p");
	pool_close(p);
	stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(list_and_stats, teardown),
		cmocka_unit_test_teardown(stats_show_waiting_allocations,
					  teardown),
		cmocka_unit_test_teardown(create_and_bad_sizes, teardown),
		cmocka_unit_test_teardown(
			size_with_byte_unit_says_what_to_write, teardown),
		cmocka_unit_test_teardown(size_past_64_bits_says_too_large,
					  teardown),
		cmocka_unit_test_teardown(
			size_past_its_bound_refused_before_asking, teardown),
		cmocka_unit_test_teardown(
			size_too_large_with_byte_unit_says_too_large,
			teardown),
		cmocka_unit_test_teardown(destroy_idle_busy_and_forced,
					  teardown),
		cmocka_unit_test_teardown(clients_shows_holder_pid, teardown),
		cmocka_unit_test_teardown(clients_ties_in_one_order, teardown),
		cmocka_unit_test_teardown(trim_and_check, teardown),
		cmocka_unit_test_teardown(help_version_and_usage_errors,
					  teardown),
		cmocka_unit_test_teardown(
			bad_pool_names_exit_2_before_connecting, teardown),
		cmocka_unit_test_teardown(create_refused_by_daemon_says_why,
					  teardown),
		cmocka_unit_test_teardown(no_such_pool_says_its_name,
					  teardown),
		cmocka_unit_test_teardown(busy_destroy_says_why, teardown),
		cmocka_unit_test_teardown(unreachable_daemon_exits_69,
					  teardown),
		cmocka_unit_test_teardown(refused_connection_says_which_limit,
					  teardown),
		cmocka_unit_test_teardown(other_uid_refused_exits_77, teardown),
		cmocka_unit_test_teardown(
			socket_mode_refuses_other_uid_exits_77, teardown),
		cmocka_unit_test_teardown(wait_says_what_happened, teardown),
		cmocka_unit_test_teardown(daemon_words_only_when_they_add,
					  teardown),
		cmocka_unit_test_teardown(odd_names_keep_their_fields,
					  teardown),
		cmocka_unit_test_teardown(option_given_twice_is_refused,
					  teardown),
		cmocka_unit_test_teardown(
		    json_says_what_create_set_destroy_did, teardown),
		cmocka_unit_test_teardown(refused_before_and_after_asking,
					  teardown),
		cmocka_unit_test_teardown(user_quota_set_and_shown, teardown),
		cmocka_unit_test_teardown(user_quota_refused, teardown),
		cmocka_unit_test_teardown(user_quota_entries_set_and_shown,
					  teardown),
		cmocka_unit_test_teardown(user_quota_entries_refused,
					  teardown),
		cmocka_unit_test_teardown(user_quota_entries_of_every_pool,
					  teardown),
		cmocka_unit_test_teardown(users_lists_who_holds_what,
					  teardown),
		cmocka_unit_test_teardown(free_ends_what_was_left, teardown),
		cmocka_unit_test_teardown(free_older_than_spares_a_new_block,
					  teardown),
		cmocka_unit_test_teardown(sweep_ends_what_was_left,
					  teardown),
		cmocka_unit_test_teardown(offset_zero_says_0x0, teardown),
		cmocka_unit_test_teardown(ids_shown_by_name, teardown),
		cmocka_unit_test_teardown(socket_path_not_a_socket_says_so,
					  teardown),
		cmocka_unit_test_teardown(socket_without_daemon_says_so,
					  teardown),
	};

	return cmocka_run_group_tests_name("integration: poolctl", tests,
					   NULL, NULL);
}
