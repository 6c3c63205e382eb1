/*
 * itest_config_file.c - what poolmgrd's configuration file may say, and
 * where its problems are named: its sections and lines, its size, the
 * pools' values, and the keys that take words, names and lists.  The
 * daemon's start, signals and socket are itest_config.c's, how the file's
 * numbers are read itest_config_numbers.c's; the file written, the starts
 * and reloads refused and --check-config run are config_util.h's.
 *
 * restart_probe_timeout out of its bounds (0, 601, "10s") stops a start
 * and is refused by a reload.
 *
 * A number is digits: one with a sign before it ("-18446744073709551615",
 * which strtoul wraps to 1) is refused where a number is meant, and looked
 * up as a name where a user or group may be named.
 *
 * A section is checked even with no key in it: a pool section without a
 * size, an unknown section and a bad pool name stop the daemon at start,
 * and are refused on SIGHUP, with the file and line named.  So is a line
 * longer than the parser takes, at its own line, not as a syntax error on
 * the next one.  And when the file has more than one problem, the first is
 * the one named, with its own line.
 *
 * A file may hold 16 MiB: one of that size, of short lines, is taken by
 * a start, --check-config, SIGHUP and a restart in place, and one byte
 * more is refused by all four alike.
 *
 * The keys that take words or names: a bad socket_mode, hello_timeout or
 * numa_policy, an admin_group, owner or group that names nobody, a socket
 * path that is empty (by a start and a reload too) or past sun_path and a
 * 257th pool are each refused at their line, a
 * directory given as the file as unreadable; existing names are read as
 * their ids, on the pool the daemon makes.
 *
 * user_quotas, the uids' own user quotas: names or numbers, read into
 * the pool's list, changed by a reload, which logs it; a bad entry, a uid
 * twice, none beside entries, a 33rd entry and a second key are each
 * refused at their line.
 *
 * acl, the pool's access control list: user and group entries by name or
 * id give the pool its list, sorted, which PoolStats says and the line of
 * its making names (as a pool CreatePool makes with a list); indented
 * lines continue it to 32 entries.  A kind that is neither, a name of
 * nobody, an x, a rights word of neither form, a missing field, a kind
 * and id twice, none beside entries and a 33rd entry are each refused at
 * their line by --check-config, a start and a reload, which keeps the
 * running list.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_util.h"

/* A pool's sizes, each refused in the words of FORMS. */
static const char *const size_keys[] = {"size", "quota", "user_quota",
					"limit", "retain"};

static void
bad_config_refused_at_start(void **state)
{
	struct daemon_proc d;
	char cmd[512], log[1024];

	(void)state;
	/* An unknown key: the daemon must refuse to start, not guess. */
	assert_int_equal(harness_start(&d, "[pool x]\nsize = 1M\ncolour = 3\n"),
			 -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "unknown key 'colour'"));

	/*
	 * A retain that is not a size: refused and named, with the forms a
	 * size takes; so are the pool's other sizes.
	 */
	assert_int_equal(harness_start(&d, "[pool x]\nsize = 1M\n"
				       "retain = some\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad retain 'some' in [pool x] " FORMS));
	for (size_t i = 0; i < sizeof(size_keys) / sizeof(size_keys[0]);
	     i++) {
		char conf[128], want[160];

		snprintf(conf, sizeof(conf), "[pool x]\nsize = 1M\n%s = 1.5G\n",
			 size_keys[i]);
		if (strcmp(size_keys[i], "size") == 0)
			snprintf(conf, sizeof(conf), "[pool x]\nsize = 1.5G\n");
		assert_int_equal(harness_start(&d, conf), -1);
		snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
		harness_run(cmd, log, sizeof(log));
		snprintf(want, sizeof(want), "bad %s '1.5G' in [pool x] " FORMS,
			 size_keys[i]);
		if (!strstr(log, want))
			fail_msg("%s: not in the log: %s", want, log);
	}

	/* So is an idle_trim that is not a number of seconds. */
	assert_int_equal(harness_start(&d, "idle_trim = soon\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad idle_trim 'soon'"));

	/* And a release_step that is not a size. */
	assert_int_equal(harness_start(&d, "release_step = big\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad release_step 'big' " FORMS));

	/* And a drop_step that is not a count. */
	assert_int_equal(harness_start(&d, "drop_step = -1\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad drop_step '-1'"));

	/* And a settle_wait_ms that is not a number of milliseconds. */
	assert_int_equal(harness_start(&d, "settle_wait_ms = 2s\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad settle_wait_ms '2s'"));

	/* And a max_name_waits that is not a count. */
	assert_int_equal(harness_start(&d, "max_name_waits = many\n"), -1);
	assert_false(harness_alive(&d));
	snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
	harness_run(cmd, log, sizeof(log));
	assert_non_null(strstr(log, "bad max_name_waits 'many'"));
}

/*
 * A number is digits: a sign before them (which strtoul would take, and
 * wrap a minus around 2^64) is no number.  "-18446744073709551615" read
 * as 1 made uid 1 the owner, and a granularity of 16 of
 * "-18446744073709551600"; an owner or user of such a spelling is looked
 * up as a name, as pool_acl_parse and poolctl look it up.
 */
static void
signed_numbers_refused(void **state)
{
	static const struct {
		const char *conf, *want;
	} cases[] = {
		{"idle_trim = -18446744073709551615\n",
		 "bad idle_trim '-18446744073709551615'"},
		{"[pool x]\nsize = 1M\ngranularity = -18446744073709551600\n",
		 "bad granularity '-18446744073709551600'"},
		{"[pool x]\nsize = 1M\nowner = -18446744073709551615\n",
		 "-18446744073709551615"},
		{"[pool x]\nsize = 1M\ngroup = +0\n", "+0"},
		{"[pool x]\nsize = 1M\nuser_quotas = -18446744073709551615:1M\n",
		 "-18446744073709551615"},
		{"[pool x]\nsize = 1M\nacl = user:-18446744073709551615:r\n",
		 "-18446744073709551615"},
	};
	struct daemon_proc d;
	char cmd[512], log[2048];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (harness_start(&d, cases[i].conf) != -1) {
			harness_stop(&d);
			fail_msg("started with %s", cases[i].conf);
		}
		snprintf(cmd, sizeof(cmd), "cat %s; rm -rf %s", d.log, d.dir);
		harness_run(cmd, log, sizeof(log));
		if (!strstr(log, cases[i].want))
			fail_msg("%s: '%s' not in the log: %s", cases[i].conf,
				 cases[i].want, log);
	}
}

static void
keyless_sections_refused_at_start(void **state)
{
	(void)state;
	/* Alone, and before a section that is fine. */
	refused_at_start("[pool a]\n", "3: [pool a] needs a size");
	refused_at_start("[pool a]\n[pool b]\nsize = 1M\n",
			 "3: [pool a] needs a size");
	refused_at_start("[bogus]\n", "3: unknown section [bogus]");
	refused_at_start("[bogus]\n; nothing here\n\n[pool b]\nsize = 1M\n",
			 "3: unknown section [bogus]");
	refused_at_start("[pool .bad]\n", "3: bad pool name '.bad'");
	refused_at_start("[pool b]\nsize = 1M\n[pool .bad]\n",
			 "5: bad pool name '.bad'");
}

static void
pool_values_checked_in_the_file(void **state)
{
	(void)state;
	refused_at_start("[pool g]\nsize = 1M\ngranularity = 24\n",
			 "5: granularity 24 in [pool g] is not a power of two "
			 "from 8 to the page size");
	refused_at_start("[pool g]\nsize = 1M\ngranularity = 4\n",
			 "5: granularity 4 in [pool g]");
	/* No number at all: what the key takes is said too. */
	refused_at_start("[pool g]\nsize = 1M\ngranularity = 16K\n",
			 "5: bad granularity '16K' in [pool g] (bytes, a power "
			 "of two from 8 to the page size)");
	refused_at_start("[pool s]\nsize = 65T\n",
			 "4: size '65T' in [pool s] is above the largest pool, "
			 "64 TiB");
	refused_at_start("[pool l]\nsize = 1M\nlimit = 2M\n",
			 "3: [pool l] has a limit below a granule or above "
			 "its size");
	refused_at_start("[pool l]\nsize = 1M\ngranularity = 64\n"
			 "limit = 32\n", "3: [pool l] has a limit below a "
			 "granule");
	refused_at_start("[pool l]\nsize = 1M\nlimit = lots\n",
			 "5: bad limit 'lots' in [pool l]");
}

/*
 * A pool's size rounds up to its pages, and its limit may be all of that,
 * as CreatePool and poolctl take it: the file compared the limit with the
 * size as written and refused a pool of a page and a byte with a limit of
 * two pages.  One byte past that is refused still.
 */
static void
limit_up_to_the_rounded_size(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char conf[128], want[128];

	(void)state;
	snprintf(conf, sizeof(conf), "[pool r]\nsize = %ld\nlimit = %ld\n",
		 page + 1, 2 * page);
	assert_int_equal(harness_start(&d, conf), 0);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "r", &st), 0);
	assert_int_equal(st.max_size, 2 * page);
	assert_int_equal(st.limit, 2 * page);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	snprintf(conf, sizeof(conf), "[pool r]\nsize = %ld\nlimit = %ld\n",
		 page + 1, 2 * page + 1);
	snprintf(want, sizeof(want), "3: [pool r] has a limit below a granule "
		 "or above its size");
	refused_at_start(conf, want);
}

/*
 * "none" for a bound, as poolctl takes it and stats shows it: no quota,
 * no user quota, no limit, keep no pages (retain 0).  Not for a size
 * that must be one (the pool's).
 */
static void
bounds_of_none(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool n]\nsize = 2M\n"
				       "quota = none\nuser_quota = none\n"
				       "limit = none\nretain = none\n"), 0);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "n", &st), 0);
	assert_int_equal(st.quota, 0);
	assert_int_equal(st.user_quota, 0);
	assert_int_equal(st.limit, 0);
	assert_int_equal(st.retain_bytes, 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
	refused_at_start("[pool n]\nsize = none\n", "4: bad size 'none'");
}

static void
first_problem_named(void **state)
{
	(void)state;
	/*
	 * The parser reads on past a problem: a later one must not be named
	 * instead, nor with the line of the first.
	 */
	refused_at_start("[pool x]\ncolour = 3\nsize = lots\n",
			 "4: unknown key 'colour' in [pool x]");
	refused_at_start("[pool x\n[pool y]\nsize = lots\n", "3: syntax error");
}

/* n bytes of comment: ';' and n - 1 x's. */
static void
comment_line(char *buf, size_t n)
{
	buf[0] = ';';
	memset(buf + 1, 'x', n - 1);
	buf[n] = '\0';
}

static void
long_line_named_at_start(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char comment[512], zeros[512], config[1024];

	(void)state;
	/* 199 bytes is the most; such a line is read whole. */
	comment_line(comment, 199);
	snprintf(config, sizeof(config), "%s\n[pool p]\nsize = 1M\n", comment);
	assert_int_equal(harness_start(&d, config), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "p", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	/* One more is named at its own line, not the next one's. */
	comment_line(comment, 200);
	snprintf(config, sizeof(config), "%s\n[pool p]\nsize = 1M\n", comment);
	refused_at_start(config, "3: line too long (at most 199 bytes)");
	/*
	 * Nor is a long value cut short and taken: this mode, cut, would
	 * read as 0 (and its rest as a syntax error on the next line).
	 */
	memset(zeros, '0', 300);
	zeros[300] = '\0';
	snprintf(config, sizeof(config), "[pool p]\nsize = 1M\nmode = %s\n",
		 zeros);
	refused_at_start(config, "5: line too long (at most 199 bytes)");
}

static void
keyless_sections_refused_on_reload(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char comment[512], config[1024];

	(void)state;
	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"), 0);
	refused_on_reload(&d, "[pool a]\n", "5: [pool a] needs a size");
	refused_on_reload(&d, "[bogus]\n", "5: unknown section [bogus]");
	refused_on_reload(&d, "[pool .bad]\n", "5: bad pool name '.bad'");
	comment_line(comment, 200);
	snprintf(config, sizeof(config), "%s\n", comment);
	refused_on_reload(&d, config, "5: line too long (at most 199 bytes)");

	/* The file put right, the reload goes through. */
	write_config(&d, "[pool second]\nsize = 1M\n");
	harness_reload(&d);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "second", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * restart_probe_timeout, 1 to 600 seconds: anything else stops a start
 * and is refused by a reload, which keeps the running configuration.
 */
static void
probe_timeout_bounded(void **state)
{
	struct daemon_proc d;

	(void)state;
	refused_at_start("restart_probe_timeout = 0\n", "3: bad "
			 "restart_probe_timeout '0' (1 to 600 seconds)");
	refused_at_start("restart_probe_timeout = 601\n", "3: bad "
			 "restart_probe_timeout '601' (1 to 600 seconds)");
	refused_at_start("restart_probe_timeout = 10s\n", "3: bad "
			 "restart_probe_timeout '10s' (1 to 600 seconds)");
	assert_int_equal(harness_start(&d, "restart_probe_timeout = 600\n"
				       "[pool first]\nsize = 1M\n"), 0);
	refused_on_reload(&d, "[daemon]\nrestart_probe_timeout = 0\n",
			  "6: bad restart_probe_timeout '0' (1 to 600 "
			  "seconds)");
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * socket = with no path is refused at its line, as a path too long is:
 * by --check-config, by a start (with --socket too: the file is wrong
 * either way) and by a reload, which keeps the running configuration
 * rather than take a socket no start could bind.
 */
static void
empty_socket_refused_at_its_line(void **state)
{
	struct daemon_proc d;

	(void)state;
	config_dir(&d);
	check_refuses(&d, "socket", "", "the socket path is empty");
	remove_dir(&d);
	refused_at_start("socket =\n", "3: the socket path is empty");
	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"), 0);
	refused_on_reload(&d, "[daemon]\nsocket =\n",
			  "6: the socket path is empty");
	assert_int_equal(harness_log_count(&d, "not applied"), 0);
	assert_int_equal(harness_stop(&d), 0);
}

static void
long_pool_names_whole(void **state)
{
	char name[80], conf[256];
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	/* 64 bytes, the most a pool name may have. */
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(conf, sizeof(conf), "[pool %s]\nsize = 1M\n", name);
	assert_int_equal(harness_start(&d, conf), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, name, &st), 0);
	assert_int_equal(st.max_size, 1 << 20);
	name[49] = '\0';	/* where a section name used to be cut */
	assert_int_equal(pool_stats_by_name(c, name, &st), -ENOENT);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	name[49] = 'n';
	name[64] = 'x';		/* 65 bytes */
	name[65] = '\0';
	snprintf(conf, sizeof(conf), "[pool %s]\nsize = 1M\n", name);
	refused_at_start(conf, "3: bad pool name");
	memset(name, 'n', 75);	/* "pool " and 75: 80 bytes */
	name[75] = '\0';
	snprintf(conf, sizeof(conf), "[pool %s]\nsize = 1M\n", name);
	refused_at_start(conf, "3: section name longer than 79 bytes");
}

/*
 * A key above every section header, as a file written without its
 * [daemon] line has it, is named as such, with its line, by
 * --check-config and by a start (which it stops): there is no section
 * "[]" to be unknown.
 */
static void
key_before_any_section_named(void **state)
{
	struct daemon_proc d;
	char out[1024], want[512], log[8192];
	pid_t pid;
	FILE *f;

	(void)state;
	config_dir(&d);
	assert_non_null(f = fopen(d.conf, "w"));
	fprintf(f, "; no header yet\nmax_connections = 10\n[daemon]\n");
	assert_int_equal(fclose(f), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s:2: key 'max_connections' "
		 "before any section: the daemon's keys go under [daemon], a "
		 "pool's under [pool NAME]\n", d.conf);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	assert_string_equal(out, want);

	pid = harness_exec_daemon(&d, d.log);
	assert_true(pid > 0);
	assert_int_equal(wait_exit(pid, 3000), 1);
	harness_read_text(d.log, log, sizeof(log));
	remove_dir(&d);
	/* The log's line is the same words, behind its priority. */
	if (!strstr(log, want + strlen("poolmgrd: ")))
		fail_msg("no \"%s\" in the log:\n%s", want, log);
}

/* The most a configuration file may hold (poolmgrd.conf(5)). */
#define CONFIG_BOUND (16u * 1024 * 1024)
#define CONFIG_PREFIX "[daemon]\nsocket_mode = 0666\n"
#define TOO_LARGE " larger than 16 MiB, the most a configuration file " \
		  "may hold"

/*
 * What write_config (and harness_start, which adds a newline) puts after
 * their [daemon] lines to make a file of total bytes: pools, then comment
 * lines of at most 190 bytes, each short enough for the parser (inih's
 * buffer is 200).
 */
static char *
sized_text(size_t total, const char *pools, bool newline_added)
{
	size_t len = total - strlen(CONFIG_PREFIX) - (newline_added ? 1 : 0);
	size_t at = strlen(pools), n;
	char *t = malloc(len + 1);

	assert_non_null(t);
	assert_true(at < len);
	memcpy(t, pools, at);
	while (at < len) {
		n = len - at < 190 ? len - at : 190;
		t[at] = n == 1 ? '\n' : ';';
		memset(t + at + 1, 'x', n > 2 ? n - 2 : 0);
		t[at + n - 1] = '\n';
		at += n;
	}
	t[len] = '\0';
	return t;
}

/* Write d's file with pools in it, total bytes long. */
static void
write_sized(const struct daemon_proc *d, size_t total, const char *pools)
{
	char *t = sized_text(total, pools, false);
	struct stat st;

	write_config(d, t);
	free(t);
	assert_int_equal(stat(d->conf, &st), 0);
	assert_int_equal(st.st_size, (off_t)total);
}

/*
 * A file of 16 MiB (of short lines) is taken by a start, --check-config,
 * SIGHUP and a restart in place; one byte more is refused by each of
 * them, saying so, and a running daemon keeps its configuration.
 */
static void
config_size_bounded_alike(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char out[1024], want[512];
	char *t;
	int before;

	(void)state;
	t = sized_text(CONFIG_BOUND, "[pool p]\nsize = 1M\n", true);
	assert_int_equal(harness_start(&d, t), 0);
	free(t);
	assert_int_equal(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "p", &st), 0);

	write_sized(&d, CONFIG_BOUND, "[pool p]\nsize = 1M\n[pool q]\n"
		    "size = 1M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   d.sock, d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 2 pools\n", d.conf);
	assert_string_equal(out, want);
	harness_reload(&d);
	EXPECT_RC(pool_stats_by_name(c, "q", &st), 0);
	pool_disconnect(c);
	assert_int_equal(harness_restart_in_place(&d), 0);

	write_sized(&d, CONFIG_BOUND + 1, "[pool p]\nsize = 1M\n[pool q]\n"
		    "size = 1M\n[pool r]\nsize = 1M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   d.sock, d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:%s\n", d.conf, TOO_LARGE);
	assert_string_equal(out, want);

	before = harness_log_count(&d, "keeping the running configuration");
	harness_reload(&d);
	snprintf(want, sizeof(want), "SIGHUP: %s:%s; keeping the running "
		 "configuration", d.conf, TOO_LARGE);
	assert_int_equal(harness_log_wait(&d, want, before, 10000), 0);

	snprintf(want, sizeof(want), "restart: %s:%s; going on as before",
		 d.conf, TOO_LARGE);
	before = harness_log_count(&d, want);
	assert_int_equal(kill(d.pid, SIGUSR2), 0);
	assert_int_equal(harness_log_wait(&d, want, before, 10000), 0);
	assert_true(harness_alive(&d));
	assert_int_equal(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "q", &st), 0);
	EXPECT_RC(pool_stats_by_name(c, "r", &st), -ENOENT);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);

	t = sized_text(CONFIG_BOUND + 1, "[pool p]\nsize = 1M\n", false);
	refused_at_start(t, TOO_LARGE);
	free(t);
}

/*
 * Pool name's user quotas of uids as PoolStats says them over a raw
 * connection to sock: "uid:bytes,..." or "none".
 */
static void
uquotas_said(const char *sock, const char *name, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef m = POOLMGR__POOL_REF__INIT;
	Poolmgr__Reply *rep = NULL;
	int fd = harness_raw_greeted(sock, "uq");
	size_t i, at = 0;

	assert_true(fd >= 0);
	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	snprintf(buf, len, "none");
	for (i = 0; i < rep->stats->n_user_quotas && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%u:%llu",
				       i ? "," : "",
				       rep->stats->user_quotas[i]->uid,
				       (unsigned long long)
				       rep->stats->user_quotas[i]->bytes);
	poolmgr__reply__free_unpacked(rep, NULL);
	close(fd);
}

/* OpenReply.quota of a new handle of the test's (uid 0) on name. */
static uint64_t
uquota_share(const char *sock, const char *name)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__OpenPool m = POOLMGR__OPEN_POOL__INIT;
	Poolmgr__Reply *rep = NULL;
	int fd = harness_raw_greeted(sock, "uq");
	uint64_t q;

	assert_true(fd >= 0);
	m.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_OPEN;
	req.open = &m;
	assert_int_equal(harness_raw_error(fd, &req, &rep), 0);
	q = rep->open->quota;
	poolmgr__reply__free_unpacked(rep, NULL);
	close(fd);
	return q;
}

/*
 * user_quotas = USER:SIZE, ...: uids' own user quotas, names or numbers,
 * none or 0 for no user quota.  A bad entry is refused at its line with
 * what it should be (no such user, nobody's uid, a size that is none, no
 * colon), so are a uid twice (by number and by name, on a line that
 * continues the list), none beside entries, a 33rd entry at its line and
 * a second key; 32 are taken.  A daemon started on the file has the list
 * (PoolStats, sorted by uid) and binds by it (OpenReply.quota of the
 * test's uid 0); a reload that changes it is logged "user_quotas A -> B"
 * and holds at once; one that is refused keeps it; the key gone, none.
 */
static void
user_quotas_read_or_refused(void **state)
{
	struct daemon_proc d, check;
	struct passwd *pw;
	char text[2048], want[512], out[1024], got[512];
	unsigned uid;
	size_t at, cut = 0;
	int i;

	(void)state;
	if (!(pw = getpwnam("nobody")))
		skip();
	uid = (unsigned)pw->pw_uid;
	refused_at_start("[pool u]\nsize = 1M\nuser_quotas = 7:lots\n",
			 "5: bad user_quotas entry '7:lots' in [pool u] (a "
			 "size is a number of bytes, optionally followed by "
			 "K, M, G or T, or none)");
	config_dir(&check);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = no-such-user-here:1M\n", 5,
			   "bad user_quotas entry 'no-such-user-here:1M' in "
			   "[pool p] (no such user)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 4294967295:1M\n", 5,
			   "bad user_quotas entry '4294967295:1M' in [pool p] "
			   "(4294967295 is no uid: it means none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7\n", 5, "bad user_quotas entry '7' "
			   "in [pool p] (USER:SIZE, USER a user name or uid, "
			   "SIZE as the file's sizes (64M) or none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7:1M:2M\n", 5, "bad user_quotas "
			   "entry '7:1M:2M' in [pool p] (USER:SIZE, USER a "
			   "user name or uid, SIZE as the file's sizes (64M) "
			   "or none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7:99999999999999999999\n", 5,
			   "bad user_quotas entry '7:99999999999999999999' in "
			   "[pool p] (a size of at most 2^64 - 1 bytes)");
	snprintf(text, sizeof(text), "[pool p]\nsize = 1M\nuser_quotas = "
		 "%u:1M\n  nobody:none\n", uid);
	snprintf(want, sizeof(want), "bad user_quotas in [pool p] (uid %u's "
		 "user quota entry is given twice)", uid);
	check_text_refuses(&check, text, 6, want);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = none, 7:1M\n", 5, "bad user_quotas "
			   "in [pool p] (none alone is the whole value: no "
			   "entry before or after it)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "user_quotas = 7:1M\nuser_quotas = 8:1M\n", 6,
			   "user_quotas given twice in [pool p] (first on line "
			   "5): a list goes on over indented lines, or all on "
			   "one");
	/* 33 entries, four to a line: the 33rd is on the file's line 14. */
	at = (size_t)snprintf(text, sizeof(text), "[pool p]\nsize = 1M\n"
			      "user_quotas =");
	for (i = 0; i < 33; i++) {
		cut = at;
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s"
				       "%d:64K", i % 4 ? ", " : "\n  ",
				       1000 + i);
	}
	snprintf(text + at, sizeof(text) - at, "\n");
	check_text_refuses(&check, text, 14, "bad user_quotas in [pool p] "
			   "(at most 32 entries, not 33)");
	snprintf(text + cut, sizeof(text) - cut, "\n");
	write_config(&check, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   check.sock, check.conf), 0);
	remove_dir(&check);

	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"
				       "user_quota = 256K\nuser_quotas = "
				       "nobody:1M, 7:none 0:128K\n"), 0);
	snprintf(want, sizeof(want), "0:131072,7:0,%u:1048576", uid);
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, want);
	assert_int_equal(uquota_share(d.sock, "first"), 128 << 10);

	refused_on_reload(&d, "[pool first]\nsize = 1M\nuser_quotas = 0:x\n",
			  "7: bad user_quotas entry '0:x' in [pool first] (a "
			  "size is a number of bytes, optionally followed by "
			  "K, M, G or T, or none)");
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, want);

	write_config(&d, "[pool first]\nsize = 1M\nuser_quota = 256K\n"
		     "user_quotas = 0:512K\n");
	harness_reload(&d);
	snprintf(want, sizeof(want), "pool first: user_quotas 0:131072,7:none,"
		 "%u:1048576 -> 0:524288", uid);
	harness_expect_logged(&d, want);
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, "0:524288");
	assert_int_equal(uquota_share(d.sock, "first"), 512 << 10);

	write_config(&d, "[pool first]\nsize = 1M\nuser_quota = 256K\n");
	harness_reload(&d);
	harness_expect_logged(&d, "pool first: user_quotas 0:524288 -> none");
	uquotas_said(d.sock, "first", got, sizeof(got));
	assert_string_equal(got, "none");
	assert_int_equal(uquota_share(d.sock, "first"), 256 << 10);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The [daemon] keys that take words, and the pool keys that take names:
 * a socket_mode that is not octal, a hello_timeout that is no number, an
 * admin_group or a pool's owner or group that names nobody (4294967295
 * included), a mode past 0777, a socket path
 * past what sun_path holds, a numa_policy other than preferred or bind,
 * and a 257th pool are each refused with the file's line and the key; a
 * directory for a file is refused as unreadable.  Names that exist read
 * as their ids (owner = nobody is nobody's uid, on
 * the pool the daemon makes), and numa_policy = preferred is taken.
 */
static void
named_keys_read_or_refused(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	struct passwd *pw;
	struct group *gr;
	char out[1024], want[512], *text, path[160], group[64];
	size_t at, len = 64 * 1024;
	uid_t uid;
	gid_t gid;
	int i;

	(void)state;
	/* nobody and its group: names every system has, not the test's ids. */
	pw = getpwnam("nobody");
	gr = getgrgid(pw ? pw->pw_gid : 0);
	if (!pw || !gr)
		skip();
	uid = pw->pw_uid;
	gid = gr->gr_gid;
	snprintf(group, sizeof(group), "%s", gr->gr_name);
	config_dir(&d);
	check_refuses(&d, "socket_mode", "0999", "bad socket_mode '0999' "
		      "(octal, at most 0777)");
	check_refuses(&d, "socket_mode", "rw", "bad socket_mode 'rw' "
		      "(octal, at most 0777)");
	/* A whole number that is none, or past 32 bits, says what is one. */
	check_refuses(&d, "hello_timeout", "soon", "bad hello_timeout 'soon' "
		      "(whole seconds, 0 to 4294967295)");
	check_refuses(&d, "idle_trim", "4294967296", "bad idle_trim "
		      "'4294967296' (whole seconds, 0 to 4294967295)");
	check_refuses(&d, "settle_wait_ms", "1.5", "bad settle_wait_ms '1.5' "
		      "(whole milliseconds, 0 to 4294967295)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\nnuma_node = 1024\n", 5,
			   "bad numa_node '1024' in [pool p] (a node number "
			   "below 1024)");
	check_refuses(&d, "admin_group", "no-such-group-here",
		      "unknown admin_group 'no-such-group-here'");
	memset(path, 'x', sizeof(path));
	memcpy(path, "/tmp/", 5);
	path[108] = '\0';
	check_refuses(&d, "socket", path, "socket path too long (108 bytes, "
		      "at most 107)");

	check_text_refuses(&d, "[pool p]\nsize = 1M\nowner = no-such-user-here\n",
			   5, "bad owner 'no-such-user-here' in [pool p] "
			   "(no such user)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\ngroup = no-such-group-here\n",
			   5, "bad group 'no-such-group-here' in [pool p] "
			   "(no such group)");
	/* (uid_t)-1: no process's, and CreatePool and SetPool refuse it. */
	check_text_refuses(&d, "[pool p]\nsize = 1M\nowner = 4294967295\n",
			   5, "bad owner '4294967295' in [pool p] "
			   "(4294967295 is no uid: it means none)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\ngroup = 4294967295\n",
			   5, "bad group '4294967295' in [pool p] "
			   "(4294967295 is no gid: it means none)");
	check_refuses(&d, "admin_group", "4294967295",
		      "unknown admin_group '4294967295'");
	/* Not dropped to 0777: the file says what it means. */
	check_text_refuses(&d, "[pool p]\nsize = 1M\nmode = 01777\n",
			   5, "bad mode '01777' in [pool p] "
			   "(octal, at most 0777)");
	check_text_refuses(&d, "[pool p]\nsize = 1M\nnuma_node = 0\n"
			   "numa_policy = interleave\n", 6, "bad numa_policy "
			   "(preferred or bind) 'interleave' in [pool p]");

	/* Names that exist, and a preferred node: the file is good. */
	snprintf(want, sizeof(want), "admin_group = %s\n[pool p]\nsize = 1M\n"
		 "owner = nobody\ngroup = %s\n[pool q]\nsize = 1M\n"
		 "numa_node = 0\nnuma_policy = preferred\n", group, group);
	write_config(&d, want);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 2 pools\n", d.conf);
	assert_string_equal(out, want);

	/* 256 pools are taken; the 257th section is refused, at its line. */
	assert_non_null(text = malloc(len));
	at = 0;
	for (i = 0; i <= 256; i++)
		at += (size_t)snprintf(text + at, len - at,
				       "[pool p%d]\nsize = 64K\n", i);
	check_text_refuses(&d, text, 3 + 2 * 256,
			   "too many pools (at most 256 [pool NAME] sections)");
	text[at - strlen("[pool p256]\nsize = 64K\n")] = '\0';
	write_config(&d, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	free(text);
	/* A path that opens but cannot be read: said, with the reason. */
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.dir), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s: cannot read: %s\n", d.dir,
		 strerror(EISDIR));
	assert_string_equal(out, want);
	remove_dir(&d);

	/* The daemon makes the pool with the ids the names stand for. */
	snprintf(want, sizeof(want), "[pool p]\nsize = 1M\nowner = nobody\n"
		 "group = %s\nmode = 0640\n", group);
	assert_int_equal(harness_start(&d, want), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "p", &st), 0);
	assert_int_equal(st.uid, uid);
	assert_int_equal(st.gid, gid);
	assert_int_equal(st.mode, 0640);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * Pool name's access control list as PoolStats says it over a raw
 * connection to sock: "KIND:ID:RIGHTS,..." in numbers, in the order
 * given, or "none".
 */
static void
raw_acl(const char *sock, const char *name, char *buf, size_t len)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__PoolRef ref = POOLMGR__POOL_REF__INIT;
	const Poolmgr__Acl *acl;
	Poolmgr__Reply *r;
	size_t at = 0, i;
	int fd;

	assert_true((fd = harness_raw_greeted(sock, "acl")) >= 0);
	ref.name = (char *)name;
	req.body_case = POOLMGR__REQUEST__BODY_STATS;
	req.stats = &ref;
	r = harness_raw_expect(fd, &req, 0);
	assert_int_equal(r->body_case, POOLMGR__REPLY__BODY_STATS);
	snprintf(buf, len, "none");
	acl = r->stats->acl;
	for (i = 0; acl && i < acl->n_entries && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%u:%u:%u",
				       i ? "," : "",
				       (unsigned)acl->entries[i]->kind,
				       (unsigned)acl->entries[i]->id,
				       (unsigned)acl->entries[i]->rights);
	poolmgr__reply__free_unpacked(r, NULL);
	close(fd);
}

/* Raw CreatePool of a 1 MiB pool name whose list is user uid, rights. */
static void
raw_create_with_acl(const char *sock, const char *name, uint32_t uid,
		    uint32_t rights)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__CreatePool cp = POOLMGR__CREATE_POOL__INIT;
	Poolmgr__Acl acl = POOLMGR__ACL__INIT;
	Poolmgr__AclEntry e = POOLMGR__ACL_ENTRY__INIT, *ep = &e;
	int fd;

	assert_true((fd = harness_raw_greeted(sock, "acl")) >= 0);
	e.kind = 1;
	e.id = uid;
	e.rights = rights;
	acl.n_entries = 1;
	acl.entries = &ep;
	cp.name = (char *)name;
	cp.max_size = 1 << 20;
	cp.mode = 0600;
	cp.acl = &acl;
	req.body_case = POOLMGR__REQUEST__BODY_CREATE;
	req.create = &cp;
	EXPECT_RAW(harness_raw_error(fd, &req, NULL), 0);
	close(fd);
}

/*
 * acl = ENTRY[, ENTRY...]: user and group entries by name or id (u: and
 * g: too; setfacl's and getfacl's rights) give the pool its list, sorted,
 * which PoolStats says and the line of the pool's making names; indented
 * lines continue the list to its 32 entries.  Each kind of bad entry is
 * refused at its line, naming the entry and what is wrong, by
 * --check-config, by a start and by a reload (which keeps the running
 * list); so is a list past 32 entries, at the line of the 33rd, and a
 * kind and id given twice.  A pool made by CreatePool with a list names
 * it on its line too.
 */
static void
acl_read_or_refused(void **state)
{
	struct daemon_proc d, check;
	struct passwd *pw;
	struct group *gr;
	char text[2048], want[512], got[1024], out[1024];
	unsigned uid, gid;
	size_t at, cut = 0;
	int i;

	(void)state;
	/* nobody and its group: names every system has. */
	pw = getpwnam("nobody");
	gr = getgrgid(pw ? pw->pw_gid : 0);
	if (!pw || !gr)
		skip();
	uid = (unsigned)pw->pw_uid;
	gid = (unsigned)gr->gr_gid;

	config_dir(&check);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:1:rw, other::r\n", 5, "bad acl entry "
			   "'other::r' in [pool p] (an entry is user: or "
			   "group: (u: or g:); the others' rights are the "
			   "mode's, and there is no mask)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:no-such-user-here:r\n", 5,
			   "bad acl entry 'user:no-such-user-here:r' in "
			   "[pool p] (no such user)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = g:no-such-group-here:r\n", 5,
			   "bad acl entry 'g:no-such-group-here:r' in "
			   "[pool p] (no such group)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:4294967295:r\n", 5, "bad acl entry "
			   "'user:4294967295:r' in [pool p] (4294967295 is no "
			   "id: it means none)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:7:rwx\n", 5, "bad acl entry "
			   "'user:7:rwx' in [pool p] (execute means nothing "
			   "for a pool: r, w, rw or -)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:7:rq\n", 5, "bad acl entry 'user:7:rq' "
			   "in [pool p] (rights are r, w, rw or - (none), or "
			   "getfacl's rw-, r--, -w-, ---)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user:7\n", 5, "bad acl entry 'user:7' in "
			   "[pool p] (user:USER:RIGHTS or group:GROUP:RIGHTS, "
			   "RIGHTS r, w, rw or -)");
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = user::rw\n", 5, "bad acl entry 'user::rw' in "
			   "[pool p] (no user named: the owner's rights are "
			   "the mode's)");
	/* Twice: by id and by name, on a line that continues the list. */
	snprintf(text, sizeof(text), "[pool p]\nsize = 1M\nacl = u:%u:r\n"
		 "  user:nobody:w\n", uid);
	snprintf(want, sizeof(want), "bad acl in [pool p] (user %u is given "
		 "twice)", uid);
	check_text_refuses(&check, text, 6, want);
	check_text_refuses(&check, "[pool p]\nsize = 1M\n"
			   "acl = none, user:7:r\n", 5, "bad acl in [pool p] "
			   "(none is the whole list: alone, with no entry "
			   "before or after it)");
	/* 33 entries, four to a line: the 33rd is on the file's line 14. */
	at = (size_t)snprintf(text, sizeof(text), "[pool p]\nsize = 1M\n"
			      "acl =");
	for (i = 0; i < 33; i++) {
		cut = at;
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s"
				       "group:%d:r", i % 4 ? ", " : "\n  ",
				       1000 + i);
	}
	snprintf(text + at, sizeof(text) - at, "\n");
	check_text_refuses(&check, text, 14, "bad acl in [pool p] (an access "
			   "control list holds at most 32 entries, not 33)");
	/* 32 are taken: the file without the 33rd. */
	snprintf(text + cut, sizeof(text) - cut, "\n");
	write_config(&check, text);
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
				   check.sock, check.conf), 0);
	remove_dir(&check);
	refused_at_start("[pool p]\nsize = 1M\nacl = user:7:rwx\n",
			 "5: bad acl entry 'user:7:rwx' in [pool p]");

	/* The list, sorted: users, then groups, each by id. */
	snprintf(text, sizeof(text), "[pool first]\nsize = 1M\n"
		 "acl = g:%s:r--, user:nobody:rw-, u:4242:---\n"
		 "[pool empty]\nsize = 1M\nacl = none\n", gr->gr_name);
	assert_int_equal(harness_start(&d, text), 0);
	raw_acl(d.sock, "first", got, sizeof(got));
	snprintf(want, sizeof(want), "1:4242:0,1:%u:6,2:%u:4", uid, gid);
	assert_string_equal(got, want);
	raw_acl(d.sock, "empty", got, sizeof(got));
	assert_string_equal(got, "none");
	snprintf(want, sizeof(want), ", acl user:4242:-,user:%u:rw,group:%u:r"
		 "\n", uid, gid);
	harness_expect_logged(&d, want);
	harness_expect_logged(&d, "pool empty: 1048576 bytes, mode 0600, "
			      "owner ");
	assert_int_equal(harness_log_count(&d, ", acl "), 1);

	/* A bad list on SIGHUP: refused, the running one kept. */
	refused_on_reload(&d, "[pool first]\nsize = 1M\nacl = user:7:x\n",
			  "7: bad acl entry 'user:7:x' in [pool first] (execute "
			  "means nothing for a pool: r, w, rw or -)");
	raw_acl(d.sock, "first", got, sizeof(got));
	snprintf(want, sizeof(want), "1:4242:0,1:%u:6,2:%u:4", uid, gid);
	assert_string_equal(got, want);

	/* A pool made with a list by CreatePool names it on its line. */
	raw_create_with_acl(d.sock, "made", 7, 4);
	harness_expect_logged(&d, "pool made created by uid ");
	harness_expect_logged(&d, ", acl user:7:r, pages of ");
	assert_int_equal(harness_stop(&d), 0);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(long_pool_names_whole),
		cmocka_unit_test(bad_config_refused_at_start),
		cmocka_unit_test(signed_numbers_refused),
		cmocka_unit_test(keyless_sections_refused_at_start),
		cmocka_unit_test(first_problem_named),
		cmocka_unit_test(pool_values_checked_in_the_file),
		cmocka_unit_test(limit_up_to_the_rounded_size),
		cmocka_unit_test(bounds_of_none),
		cmocka_unit_test(long_line_named_at_start),
		cmocka_unit_test(keyless_sections_refused_on_reload),
		cmocka_unit_test(probe_timeout_bounded),
		cmocka_unit_test(empty_socket_refused_at_its_line),
		cmocka_unit_test(key_before_any_section_named),
		cmocka_unit_test(named_keys_read_or_refused),
		cmocka_unit_test(acl_read_or_refused),
		cmocka_unit_test(user_quotas_read_or_refused),
		cmocka_unit_test(config_size_bounded_alike),
	};

	return cmocka_run_group_tests_name("poolmgrd config: the file", tests,
					   NULL, NULL);
}
