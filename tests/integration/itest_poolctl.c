/*
 * itest_poolctl.c - the poolctl command line against a real daemon: what
 * it prints.  The commands that change pools are itest_poolctl_admin.c's,
 * the refusals, their words and exit codes itest_poolctl_errors.c's; the
 * daemon, poolctl run against it and a refused size's words are
 * poolctl_util.h's.
 *
 * Runs build/poolctl (docs/poolctl.md) and checks each command's output and
 * exit status against what the daemon reports through libpoolclient:
 *   list and stats (text, one pool, --json), an allocation the daemon holds
 *   for want of room in every format of stats (alloc_waits, a gauge),
 *   clients (shows the pid of a client process kept open; rows that tie
 *   on pool, pid and handle come in one order).
 *   Block names of any bytes (a blank, a newline, not UTF-8, a backslash):
 *   one field of names' and wait's lines each, read back whole, and JSON
 *   that stays UTF-8 with the bytes in name_hex.
 *   --json of create (owner and group given by name: their ids), set
 *   (only what was given; "default" for a retain set back) and destroy
 *   (forced or not; nothing printed when it fails), as the books say.
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
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness_raw.h"
#include "poolctl_util.h"

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

/* ---- list and stats ------------------------------------------------------- */

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
		cmocka_unit_test_teardown(list_and_stats, poolctl_teardown),
		cmocka_unit_test_teardown(stats_show_waiting_allocations,
					  poolctl_teardown),
		cmocka_unit_test_teardown(clients_shows_holder_pid,
					  poolctl_teardown),
		cmocka_unit_test_teardown(clients_ties_in_one_order,
					  poolctl_teardown),
		cmocka_unit_test_teardown(odd_names_keep_their_fields,
					  poolctl_teardown),
		cmocka_unit_test_teardown(json_says_what_create_set_destroy_did,
					  poolctl_teardown),
		cmocka_unit_test_teardown(offset_zero_says_0x0,
					  poolctl_teardown),
		cmocka_unit_test_teardown(ids_shown_by_name, poolctl_teardown),
	};

	return cmocka_run_group_tests_name("integration: poolctl", tests,
					   NULL, NULL);
}
