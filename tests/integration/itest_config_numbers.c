/*
 * itest_config_numbers.c - how poolmgrd's configuration file reads its
 * numbers: sizes and counts, their units and their bounds.  The daemon's
 * start, signals and socket are itest_config.c's, what else the file may
 * say and where its problems are named itest_config_file.c's; the file
 * written, the starts and reloads refused and --check-config run are
 * config_util.h's.
 *
 * admin_connections must be below max_connections, wherever either is
 * written, and is refused at its own line; not set, it yields to a small
 * max_connections.
 *
 * A size written "256MB" or "2mb" loads as before, in powers of 1024,
 * and the log says so with the file's line, at start and at each reload,
 * as --check-config does; "256M" and "256MiB" say nothing.
 *
 * A count (max_blocks_per_session, max_connections, max_connections_per_
 * uid, drop_step, max_name_waits, max_alloc_waits) takes K, M, G and T as
 * multipliers of 1024 ("1K" is 1024 blocks; max_connections = 1K lets 1024
 * clients in), but a byte unit ("64KB", "1MiB", "4 B", "4 KB") stops a
 * start, is refused by a reload and by --check-config, saying the key,
 * what it counts and that it is not a size, and what to write; one too large,
 * even for 64 bits, says the most it may be, with a byte unit or
 * without, however many digits it has.  So does a size past 64 bits (the
 * largest pool for size, the pool's size for limit, 2 GiB for page_size,
 * as past 2 GiB, 2^64 - 1 bytes for the others).
 *
 * user_quota, a size as quota is: given the pool at start and changed by
 * a reload, which logs it; a word that is no size stops a start, is
 * refused by a reload, which keeps the running one, and by
 * --check-config, each naming user_quota and its line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_util.h"

#define POWERS_OF_1024 "(powers of 1024)"

/* How many warnings of sizes read in powers of 1024 d's log has. */
static int
binary_reads_logged(const struct daemon_proc *d)
{
	return harness_log_count(d, POWERS_OF_1024);
}

/* The log line of d's file, line line, that says how value was read. */
static int
read_as_logged(const struct daemon_proc *d, int line, const char *rest)
{
	char what[512];

	snprintf(what, sizeof(what), "%s:%d: %s", d->conf, line, rest);
	return harness_log_count(d, what);
}

/*
 * "256MB" in the file is still 256 MiB (existing files keep loading),
 * but poolctl refuses it, so the daemon says how it read it: once per
 * value at each start, reload and --check-config, with the file's line,
 * the key and what to write instead.  "256M" and "64KiB" say nothing.
 */
static void
sizes_with_b_are_read_as_binary_and_said(void **state)
{
	const char *conf = "release_step = 2mb\n[pool cam]\nsize = 256MB\n"
			   "quota = 64KiB\nlimit = 1M\n";
	const char *release = "release_step '2mb' in [daemon] read as 2 MiB "
			      POWERS_OF_1024 "; write 2M or 2MiB";
	const char *size = "size '256MB' in [pool cam] read as 256 MiB "
			   POWERS_OF_1024 "; write 256M or 256MiB";
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;
	char out[2048], want[512];

	(void)state;
	assert_int_equal(harness_start(&d, conf), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_stats_by_name(c, "cam", &st), 0);
	assert_int_equal(st.max_size, 256 << 20);
	assert_int_equal(st.quota, 64 << 10);
	/* [daemon] and socket_mode are lines 1 and 2 of the file. */
	assert_int_equal(read_as_logged(&d, 3, release), 1);
	assert_int_equal(read_as_logged(&d, 5, size), 1);
	assert_int_equal(binary_reads_logged(&d), 2);

	/* A reload of the same file says it again, once per value. */
	write_config(&d, conf);
	harness_reload(&d);
	assert_int_equal(read_as_logged(&d, 3, release), 2);
	assert_int_equal(read_as_logged(&d, 5, size), 2);
	assert_int_equal(binary_reads_logged(&d), 4);
	/* Written as poolctl takes it: nothing to say. */
	write_config(&d, "release_step = 2M\n[pool cam]\nsize = 256MiB\n");
	harness_reload(&d);
	assert_int_equal(binary_reads_logged(&d), 4);
	EXPECT_RC(pool_stats_by_name(c, "cam", &st), 0);
	assert_int_equal(st.max_size, 256 << 20);

	/* --check-config says it too, and the file is still ok. */
	write_config(&d, "[pool q]\nsize = 1M\nquota = 1kb\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 0);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: quota '1kb' in [pool q] "
		 "read as 1 KiB " POWERS_OF_1024 "; write 1K or 1KiB\n",
		 d.conf);
	if (!strstr(out, want))
		fail_msg("--check-config said:\n%s\nnot:\n%s", out, want);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 1 pool\n", d.conf);
	assert_non_null(strstr(out, want));
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * max_blocks_per_session: "1K" is 1024 blocks, at start; a count written
 * with a byte unit stops a start, and a reload or --check-config of it
 * is refused with the same words, the running bound kept.
 */
static void
counts_with_byte_units_refused(void **state)
{
	const char *why = "is a count of blocks, not a size: write";
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off[1024], extra;
	char out[1024], want[512];
	size_t i;

	(void)state;
	snprintf(want, sizeof(want), "3: max_blocks_per_session '64KB' %s 64K "
		 "or 65536", why);
	refused_at_start("max_blocks_per_session = 64KB\n", want);
	snprintf(want, sizeof(want), "3: max_blocks_per_session '1MiB' %s 1M "
		 "or 1048576", why);
	refused_at_start("max_blocks_per_session = 1MiB\n", want);
	snprintf(want, sizeof(want), "3: max_blocks_per_session '4 B' %s 4",
		 why);
	refused_at_start("max_blocks_per_session = 4 B\n", want);
	refused_at_start("max_blocks_per_session = 4Q\n",
			 "3: bad max_blocks_per_session '4Q'");

	/* A plain multiplier: 1024 blocks, and not one more. */
	assert_int_equal(harness_start(&d, "max_blocks_per_session = 1K\n"
				       "[pool first]\nsize = 1M\n"), 0);
	EXPECT_RC(pool_connect(d.sock, &c), 0);
	EXPECT_RC(pool_open(c, "first", &p), 0);
	for (i = 0; i < 1024; i++)
		EXPECT_RC(pool_alloc(p, 32, &off[i]), 0);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);

	/* Taken as 65536, the reload would let the next one through. */
	snprintf(want, sizeof(want), "6: max_blocks_per_session '64KB' %s 64K "
		 "or 65536", why);
	refused_on_reload(&d, "[daemon]\nmax_blocks_per_session = 64KB\n",
			  want);
	EXPECT_RC(pool_alloc(p, 32, &extra), -EDQUOT);

	write_config(&d, "max_blocks_per_session = 2kib\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:3: max_blocks_per_session "
		 "'2kib' %s 2k or 2048\n", d.conf, why);
	assert_string_equal(out, want);

	for (i = 0; i < 1024; i++)
		EXPECT_RC(pool_free(p, off[i]), 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * The counts of the file, what each counts, whether 0 is refused, and the
 * most each takes.
 */
static const struct count_key {
	const char *key;
	const char *what;
	int least;
	const char *most;
} count_keys[] = {
	{"max_connections", "connections", 1, "4294967295"},
	{"max_connections_per_uid", "connections", 1, "4294967295"},
	{"max_blocks_per_session", "blocks", 1, "18446744073709551615"},
	{"max_persistent_blocks_per_uid", "blocks", 1,
	 "18446744073709551615"},
	{"drop_step", "references", 0, "4294967295"},
	{"max_name_waits", "lookups", 0, "4294967295"},
	{"max_alloc_waits", "allocations", 0, "4294967295"},
};

/* poolmgrd -t on "[daemon]" and line (the file's line 3): exit code, out. */
static int
check_line(const struct daemon_proc *d, const char *line, char *out,
	   size_t len)
{
	write_config(d, line);
	return check_run(out, len, "-t -s %s -c %s", d->sock, d->conf);
}

/*
 * Every count of the file is read as max_blocks_per_session is: "4K" is
 * 4096 (--check-config says ok), "4KB" stops a start and --check-config
 * with the key, what it counts and what to write; "0K" is 0, refused as
 * 0 is where a count cannot be 0, saying the least; a count kept in 32
 * bits says its most.  All of them once took plain numbers only, "4K"
 * refused as "bad KEY '4K'".  A blank before the unit ("4 KB") is told
 * what to write as "4KB" is; a count past 64 bits ("16777216T") says the
 * most, as one past the bound does.
 */
static void
every_count_reads_alike(void **state)
{
	struct daemon_proc d;
	char line[128], out[1024], want[512], problem[256];
	size_t i;

	(void)state;
	config_dir(&d);
	for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		const struct count_key *k = &count_keys[i];

		snprintf(line, sizeof(line), "%s = 4K\n", k->key);
		if (check_line(&d, line, out, sizeof(out)) != 0)
			fail_msg("--check-config of %s said:\n%s", line, out);
		snprintf(want, sizeof(want), "poolmgrd: %s: ok, 0 pools\n",
			 d.conf);
		assert_string_equal(out, want);

		snprintf(problem, sizeof(problem), "3: %s '4KB' is a count of "
			 "%s, not a size: write 4K or 4096", k->key, k->what);
		snprintf(line, sizeof(line), "%s = 4KB\n", k->key);
		assert_int_equal(check_line(&d, line, out, sizeof(out)), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:%s\n", d.conf,
			 problem);
		assert_string_equal(out, want);
		refused_at_start(line, problem);

		snprintf(line, sizeof(line), "%s = 0K\n", k->key);
		if (k->least == 0) {
			assert_int_equal(check_line(&d, line, out,
						    sizeof(out)), 0);
			continue;
		}
		snprintf(problem, sizeof(problem), "3: bad %s '0K' (at least "
			 "1)", k->key);
		assert_int_equal(check_line(&d, line, out, sizeof(out)), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:%s\n", d.conf,
			 problem);
		assert_string_equal(out, want);
		refused_at_start(line, problem);
	}
	for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		const struct count_key *k = &count_keys[i];

		/* A blank before the unit: the same words as "4KB". */
		snprintf(problem, sizeof(problem), "%s '4 KB' is a count of "
			 "%s, not a size: write 4K or 4096", k->key, k->what);
		check_refuses(&d, k->key, "4 KB", problem);
		snprintf(problem, sizeof(problem), "%s '2 MiB' is a count of "
			 "%s, not a size: write 2M or 2097152", k->key,
			 k->what);
		check_refuses(&d, k->key, "2 MiB", problem);
		/* Past 64 bits, by multiplier or digits: past the most too. */
		snprintf(problem, sizeof(problem), "bad %s '16777216T' (at "
			 "most %s)", k->key, k->most);
		check_refuses(&d, k->key, "16777216T", problem);
		snprintf(problem, sizeof(problem), "bad %s "
			 "'99999999999999999999' (at most %s)", k->key,
			 k->most);
		check_refuses(&d, k->key, "99999999999999999999", problem);
		/* Not a number: no bound to say. */
		snprintf(problem, sizeof(problem), "bad %s '4 K'", k->key);
		check_refuses(&d, k->key, "4 K", problem);
	}
	/*
	 * However long the number, the same words: what to write, or the
	 * bound.  (Past 31 characters it once said "not a size" alone.)
	 */
#define LONG_4KB "00000000000000000000000000000004KB"
#define LONG_PAST "000000000000000000000000000000099999999999999999999KB"
	check_refuses(&d, "max_connections", LONG_4KB, "max_connections '"
		      LONG_4KB "' is a count of connections, not a size: "
		      "write 00000000000000000000000000000004K or 4096");
	check_refuses(&d, "max_connections", "0000000000000000000000000000000"
		      "0004 B", "max_connections '00000000000000000000000000000"
		      "000004 B' is a count of connections, not a size: write "
		      "00000000000000000000000000000000004");
	check_refuses(&d, "max_connections", LONG_PAST, "bad max_connections "
		      "'" LONG_PAST "' (at most 4294967295)");
	check_refuses(&d, "max_blocks_per_session", LONG_PAST, "bad "
		      "max_blocks_per_session '" LONG_PAST "' (at most "
		      "18446744073709551615)");
#undef LONG_PAST
#undef LONG_4KB
	refused_at_start("max_connections = 4 KB\n", "3: max_connections "
			 "'4 KB' is a count of connections, not a size: write "
			 "4K or 4096");
	refused_at_start("max_connections = 16777216T\n", "3: bad "
			 "max_connections '16777216T' (at most 4294967295)");
	refused_at_start("max_connections = 4G\n", "3: bad max_connections "
			 "'4G' (at most 4294967295)");
	refused_at_start("drop_step = 4096M\n", "3: bad drop_step '4096M' "
			 "(at most 4294967295)");
	remove_dir(&d);
}

/*
 * max_connections = 1K lets 1024 clients in and turns the next away, at
 * start; a reload of "2KB" is refused in the same words and the bound
 * stays 1024 (taken as 2048 it would let the next one in); a reload of
 * "2K" lets it in.
 */
static void
count_multiplier_bounds_connections(void **state)
{
	enum { BOUND = 1024 };
	static struct pool_conn *c[BOUND];
	struct pool_conn *extra;
	struct daemon_proc d;
	struct rlimit rl;
	char want[512];
	int i;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2 * BOUND) {
		printf("descriptors: at most %llu here, too few for %d "
		       "clients\n", (unsigned long long)rl.rlim_max, BOUND);
		skip();
	}
	/* The daemon, started from here, inherits it. */
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

	assert_int_equal(harness_start(&d, "max_connections = 1K\n"
				       "max_connections_per_uid = 2K\n"
				       "[pool first]\nsize = 1M\n"), 0);
	for (i = 0; i < BOUND; i++)
		EXPECT_RC(pool_connect(d.sock, &c[i]), 0);
	EXPECT_RC(pool_connect(d.sock, &extra), -EUSERS);

	write_config(&d, "max_connections = 2KB\n");
	harness_reload(&d);
	snprintf(want, sizeof(want), "SIGHUP: %s:3: max_connections '2KB' is a "
		 "count of connections, not a size: write 2K or 2048; keeping "
		 "the running configuration", d.conf);
	harness_expect_logged(&d, want);
	EXPECT_RC(pool_connect(d.sock, &extra), -EUSERS);

	write_config(&d, "max_connections = 2K\nmax_connections_per_uid = 2K\n"
		     "[pool first]\nsize = 1M\n");
	harness_reload(&d);
	EXPECT_RC(pool_connect(d.sock, &extra), 0);
	pool_disconnect(extra);
	for (i = 0; i < BOUND; i++)
		pool_disconnect(c[i]);
	assert_int_equal(harness_stop(&d), 0);
}

/*
 * A size past 64 bits, by its multiplier ("99999999999T") or its digits,
 * says the most it may be, as a count does: the largest pool for size,
 * 2^64 - 1 bytes for the other size keys with no bound of their own, of
 * [daemon] (release_step) or of a pool (quota, user_quota, retain).  They once said
 * only "bad KEY 'V'".  A word of another form still says that alone.
 * (limit and page_size have bounds of their own:
 * limit_past_any_pool_says_its_size, page_size_past_the_largest_says_it.)
 */
static void
sizes_past_64_bits_say_the_most(void **state)
{
	static const char *const pool_keys[] = {
		"quota", "user_quota", "retain",
	};
	static const char *const past[] = {
		"99999999999T", "16777216T", "99999999999999999999",
	};
	struct daemon_proc d;
	char text[256], out[1024], want[512];
	size_t i, j;

	(void)state;
	config_dir(&d);
	for (j = 0; j < sizeof(past) / sizeof(past[0]); j++) {
		snprintf(want, sizeof(want), "bad release_step '%s' (at most "
			 "18446744073709551615)", past[j]);
		check_refuses(&d, "release_step", past[j], want);

		snprintf(text, sizeof(text), "[pool s]\nsize = %s\n", past[j]);
		write_config(&d, text);
		assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
					   d.sock, d.conf), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:4: size '%s' in "
			 "[pool s] is above the largest pool, 64 TiB\n", d.conf,
			 past[j]);
		assert_string_equal(out, want);

		for (i = 0; i < sizeof(pool_keys) / sizeof(pool_keys[0]); i++) {
			snprintf(text, sizeof(text), "[pool s]\nsize = 1M\n"
				 "%s = %s\n", pool_keys[i], past[j]);
			write_config(&d, text);
			assert_int_equal(check_run(out, sizeof(out),
						   "-t -s %s -c %s", d.sock,
						   d.conf), 1);
			snprintf(want, sizeof(want), "poolmgrd: %s:5: bad %s "
				 "'%s' in [pool s] (at most "
				 "18446744073709551615)\n", d.conf,
				 pool_keys[i], past[j]);
			assert_string_equal(out, want);
		}
	}
	/* Not a size at all: no bound to say. */
	check_refuses(&d, "release_step", "99999999999X",
		      "bad release_step '99999999999X' " FORMS);
	write_config(&d, "[pool s]\nsize = 1M\nquota = 9 T\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: bad quota '9 T' in "
		 "[pool s] " FORMS "\n", d.conf);
	assert_string_equal(out, want);
	/* Stops a start too, in the same words. */
	refused_at_start("[pool s]\nsize = 1M\nquota = 99999999999T\n",
			 "5: bad quota '99999999999T' in [pool s] (at most "
			 "18446744073709551615)");
	remove_dir(&d);
}

/*
 * poolmgrd -t on a 1 MiB pool s whose key is each of the n values:
 * refused (exit 1) at the key's line, naming its bound.
 */
static void
each_refused_with_bound(const struct daemon_proc *d, const char *key,
			const char *const *values, size_t n, const char *bound)
{
	char text[256], out[1024], want[512];
	size_t j;

	for (j = 0; j < n; j++) {
		snprintf(text, sizeof(text), "[pool s]\nsize = 1M\n%s = %s\n",
			 key, values[j]);
		write_config(d, text);
		assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s",
					   d->sock, d->conf), 1);
		snprintf(want, sizeof(want), "poolmgrd: %s:5: bad %s '%s' in "
			 "[pool s] (at most %s)\n", d->conf, key, values[j],
			 bound);
		if (strcmp(out, want) != 0)
			fail_msg("--check-config of %s = %s said:\n%s\nnot:\n%s",
				 key, values[j], out, want);
	}
}

/*
 * A pool's limit is at most its size, and no pool is above 64 TiB: a
 * limit past 64 bits, or past the largest pool, says that bound, at its
 * own line, as size says the largest pool.  Past 64 bits it once said
 * 2^64 - 1, which no limit can come near.  One within the largest pool
 * but above the size is the pool's problem, named at its section once
 * the size is known, as before.
 */
static void
limit_past_any_pool_says_its_size(void **state)
{
	static const char *const past[] = {
		"99999999999T", "16777216T", "99999999999999999999",
		"99999999999TB", "65T", "70368744177665",
	};
	struct daemon_proc d;
	char out[1024], want[512];

	(void)state;
	config_dir(&d);
	each_refused_with_bound(&d, "limit", past, sizeof(past) /
				sizeof(past[0]), "the pool's size");
	/* Within the largest pool: the size is the pool's to compare. */
	write_config(&d, "[pool s]\nsize = 1M\nlimit = 64T\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:3: [pool s] has a limit "
		 "below a granule or above its size\n", d.conf);
	assert_string_equal(out, want);
	refused_at_start("[pool s]\nsize = 1M\nlimit = 99999999999T\n",
			 "5: bad limit '99999999999T' in [pool s] (at most "
			 "the pool's size)");
	remove_dir(&d);
}

/*
 * A page is at most 2 GiB (memfd_create and the protocol can carry no
 * larger): a page_size past 64 bits, or past 2 GiB, says that bound, at
 * its own line, as limit says the pool's size.  Past 64 bits it once said
 * 2^64 - 1, and past 2 GiB that the kernel offers no such page, which a
 * kernel with larger pages may.  One within 2 GiB the kernel does not
 * offer is still said so.
 */
static void
page_size_past_the_largest_says_it(void **state)
{
	static const char *const past[] = {
		"99999999999T", "16777216T", "99999999999999999999",
		"99999999999TB", "4G", "2147483649", "16GiB",
	};
	struct daemon_proc d;
	char out[1024], want[512];

	(void)state;
	config_dir(&d);
	each_refused_with_bound(&d, "page_size", past, sizeof(past) /
				sizeof(past[0]), "2 GiB");
	/* Within 2 GiB, no page at all: the kernel's sizes are the bound. */
	write_config(&d, "[pool s]\nsize = 1M\npage_size = 3M\n");
	assert_int_equal(check_run(out, sizeof(out), "-t -s %s -c %s", d.sock,
				   d.conf), 1);
	snprintf(want, sizeof(want), "poolmgrd: %s:5: page_size 3M in [pool s] "
		 "is neither the system page nor a huge page size the kernel "
		 "offers (/sys/kernel/mm/hugepages)\n", d.conf);
	assert_string_equal(out, want);
	refused_at_start("[pool s]\nsize = 1M\npage_size = 99999999999T\n",
			 "5: bad page_size '99999999999T' in [pool s] (at most "
			 "2 GiB)");
	remove_dir(&d);
}

/*
 * A count with a byte unit whose number is out of range even without
 * the unit ("99999999999999999999KB", past 64 bits; "16777216TB"; "0KB"
 * where 0 is refused) says the bound, as the same count without its
 * unit does: writing it as the hint would say would not make it fit.
 * Past 64 bits it once said "is a count of blocks, not a size" and
 * nothing of what to write.  One in range keeps the hint.
 */
static void
counts_out_of_range_with_byte_unit_say_the_bound(void **state)
{
	struct daemon_proc d;
	char problem[256];
	size_t i;

	(void)state;
	config_dir(&d);
	for (i = 0; i < sizeof(count_keys) / sizeof(count_keys[0]); i++) {
		const struct count_key *k = &count_keys[i];

		snprintf(problem, sizeof(problem), "bad %s "
			 "'99999999999999999999KB' (at most %s)", k->key,
			 k->most);
		check_refuses(&d, k->key, "99999999999999999999KB", problem);
		snprintf(problem, sizeof(problem), "bad %s '16777216TB' (at "
			 "most %s)", k->key, k->most);
		check_refuses(&d, k->key, "16777216TB", problem);
		snprintf(problem, sizeof(problem), "bad %s "
			 "'99999999999999999999 B' (at most %s)", k->key,
			 k->most);
		check_refuses(&d, k->key, "99999999999999999999 B", problem);
		if (k->least == 0)
			continue;
		snprintf(problem, sizeof(problem), "bad %s '0KB' (at least 1)",
			 k->key);
		check_refuses(&d, k->key, "0KB", problem);
	}
	/* Past a 32-bit count's bound only: that bound. */
	check_refuses(&d, "max_connections", "4GB",
		      "bad max_connections '4GB' (at most 4294967295)");
	/* In range: the unit is what to fix. */
	check_refuses(&d, "max_blocks_per_session", "4GB",
		      "max_blocks_per_session '4GB' is a count of blocks, not "
		      "a size: write 4G or 4294967296");
	refused_at_start("max_blocks_per_session = 99999999999999999999KB\n",
			 "3: bad max_blocks_per_session "
			 "'99999999999999999999KB' (at most "
			 "18446744073709551615)");
	remove_dir(&d);
}

/* What --check-config says of "[daemon]" and text: ok (exit 0). */
static void
check_text_loads(const struct daemon_proc *d, const char *text)
{
	char out[1024], want[512];

	write_config(d, text);
	if (check_run(out, sizeof(out), "-t -s %s -c %s", d->sock,
		      d->conf) != 0)
		fail_msg("--check-config of\n%ssaid:\n%s", text, out);
	snprintf(want, sizeof(want), "poolmgrd: %s: ok, 0 pools\n", d->conf);
	assert_string_equal(out, want);
}

#define BELOW_MAX "below max_connections)"

/*
 * admin_connections, the places of max_connections kept for the admins:
 * a count as the others are (0 keeps none, "4K" is 4096, "4KB" is told
 * what to write), and below max_connections, wherever that is written
 * (1023 of the default 1024 loads, "1K" does not, nor 8 before
 * max_connections = 8), refused at its own line by --check-config and
 * at start.  Not set, it is never more than half of max_connections: a
 * file of max_connections = 1 loads as it always has.
 */
static void
admin_connections_bounds(void **state)
{
	struct daemon_proc d;

	(void)state;
	config_dir(&d);
	check_text_loads(&d, "admin_connections = 0\n");
	check_text_loads(&d, "admin_connections = 1023\n");
	check_text_loads(&d, "admin_connections = 4095\n"
			 "max_connections = 4K\n");
	check_text_loads(&d, "max_connections = 1\n");
	check_refuses(&d, "admin_connections", "1024", "bad admin_connections "
		      "'1024' (at most 1023, " BELOW_MAX);
	check_refuses(&d, "admin_connections", "1K", "bad admin_connections "
		      "'1K' (at most 1023, " BELOW_MAX);
	check_refuses(&d, "admin_connections", "4KB", "admin_connections "
		      "'4KB' is a count of connections, not a size: write 4K "
		      "or 4096");
	check_refuses(&d, "admin_connections", "-1",
		      "bad admin_connections '-1'");
	check_refuses(&d, "admin_connections", "eight",
		      "bad admin_connections 'eight'");
	check_refuses(&d, "admin_connections", "16777216T", "bad "
		      "admin_connections '16777216T' (at most 4294967295)");
	check_text_refuses(&d, "admin_connections = 8\nmax_connections = 8\n",
			   3, "bad admin_connections '8' (at most 7, "
			   BELOW_MAX);
	check_text_refuses(&d, "max_connections = 1\nadmin_connections = 1\n",
			   4, "bad admin_connections '1' (at most 0, "
			   BELOW_MAX);
	refused_at_start("admin_connections = 2K\n", "3: bad "
			 "admin_connections '2K' (at most 1023, " BELOW_MAX);
	remove_dir(&d);
}

/*
 * user_quota = SIZE, read as quota is: the pool has it from the start, a
 * reload changes it and logs it ("user_quota A -> B", 0 once the key is
 * gone), and a word that is no size is refused at its line, naming the
 * key: by a start, by a reload (the running user quota kept) and by
 * --check-config.
 */
static void
user_quota_read_or_refused(void **state)
{
	static const char *const bad[] = {"lots", "-1", "9 T", "1.5M",
					  "64KiBB"};
	struct daemon_proc d, check;
	struct pool_conn *c;
	struct pool_stats st;
	char text[256], want[256];
	size_t i;

	(void)state;
	refused_at_start("[pool u]\nsize = 1M\nuser_quota = lots\n",
			 "5: bad user_quota 'lots' in [pool u]");
	config_dir(&check);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[pool u]\nsize = 1M\n"
			 "user_quota = %s\n", bad[i]);
		snprintf(want, sizeof(want), "bad user_quota '%s' in [pool u] "
			 FORMS, bad[i]);
		check_text_refuses(&check, text, 5, want);
	}
	remove_dir(&check);

	assert_int_equal(harness_start(&d, "[pool first]\nsize = 1M\n"
				       "user_quota = 256K\n"), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 256 << 10);

	refused_on_reload(&d, "[pool first]\nsize = 1M\nuser_quota = lots\n",
			  "7: bad user_quota 'lots' in [pool first] " FORMS);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 256 << 10);

	write_config(&d, "[pool first]\nsize = 1M\nuser_quota = 512K\n");
	harness_reload(&d);
	harness_expect_logged(&d, "pool first: user_quota 262144 -> 524288");
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 512 << 10);
	assert_int_equal(st.quota, 0);

	write_config(&d, "[pool first]\nsize = 1M\n");
	harness_reload(&d);
	harness_expect_logged(&d, "pool first: user_quota 524288 -> 0");
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.user_quota, 0);
	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_with_b_are_read_as_binary_and_said),
		cmocka_unit_test(counts_with_byte_units_refused),
		cmocka_unit_test(every_count_reads_alike),
		cmocka_unit_test(admin_connections_bounds),
		cmocka_unit_test(count_multiplier_bounds_connections),
		cmocka_unit_test(sizes_past_64_bits_say_the_most),
		cmocka_unit_test(limit_past_any_pool_says_its_size),
		cmocka_unit_test(page_size_past_the_largest_says_it),
		cmocka_unit_test(counts_out_of_range_with_byte_unit_say_the_bound),
		cmocka_unit_test(user_quota_read_or_refused),
	};

	return cmocka_run_group_tests_name("poolmgrd config: numbers", tests,
					   NULL, NULL);
}
