/*
 * itest_config.c - poolmgrd's configuration file and signals: pools from
 * the file exist at start with their settings, SIGHUP creates the pools
 * added since and keeps the running set when the new file is broken, and
 * SIGTERM stops the daemon cleanly (exit 0, socket removed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"

static void
write_config(const struct daemon_proc *d, const char *text)
{
	FILE *f = fopen(d->conf, "w");

	assert_non_null(f);
	fprintf(f, "[daemon]\nsocket_mode = 0666\n%s", text);
	assert_int_equal(fclose(f), 0);
}

static void
pools_from_file_then_reload(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool_stats st;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool first]\nsize = 2M\n"
				       "granularity = 64\nmode = 0640\n"
				       "quota = 1M\n"), 0);
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);
	assert_int_equal(st.max_size, 2 << 20);
	assert_int_equal(st.granularity, 64);
	assert_int_equal(st.mode, 0640);
	assert_int_equal(st.quota, 1 << 20);
	assert_int_equal(pool_stats_by_name(c, "second", &st), -ENOENT);

	/* A pool added to the file appears on SIGHUP; the old one stays. */
	write_config(&d, "[pool first]\nsize = 2M\n[pool second]\nsize = 1M\n");
	harness_reload(&d);
	assert_int_equal(pool_stats_by_name(c, "second", &st), 0);
	assert_int_equal(st.max_size, 1 << 20);
	assert_int_equal(pool_stats_by_name(c, "first", &st), 0);

	/* A broken file is refused and the daemon keeps running as it was. */
	write_config(&d, "[pool third\nsize = lots\n");
	harness_reload(&d);
	assert_true(harness_alive(&d));
	assert_int_equal(pool_stats_by_name(c, "third", &st), -ENOENT);
	assert_int_equal(pool_stats_by_name(c, "second", &st), 0);

	pool_disconnect(c);
	assert_int_equal(harness_stop(&d), 0);
}

static void
sigterm_stops_cleanly(void **state)
{
	struct daemon_proc d;
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	char sock[sizeof(d.sock)];
	struct stat sb;

	(void)state;
	assert_int_equal(harness_start(&d, "[pool p]\nsize = 1M\n"), 0);
	memcpy(sock, d.sock, sizeof(sock));
	assert_int_equal(pool_connect(NULL, &c), 0);
	assert_int_equal(pool_open(c, "p", &p), 0);
	assert_int_equal(pool_alloc(p, 100, &off), 0);
	/* Stopping with a client connected and a block live: still exit 0. */
	assert_int_equal(harness_stop(&d), 0);
	assert_int_equal(stat(sock, &sb), -1);
	/*
	 * The client sees the daemon gone, not a hang: at once when it asks
	 * the daemon, within a clock tick when its cache could serve it.
	 */
	harness_sleep_ms(20);
	assert_int_equal(pool_alloc(p, 100, &off), -ECONNRESET);
	pool_close(p);
	pool_disconnect(c);
}

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
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pools_from_file_then_reload),
		cmocka_unit_test(sigterm_stops_cleanly),
		cmocka_unit_test(bad_config_refused_at_start),
	};

	return cmocka_run_group_tests_name("poolmgrd config and signals", tests,
					   NULL, NULL);
}
