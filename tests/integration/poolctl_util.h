/*
 * poolctl_util.h - what the tests of the poolctl command line
 * (itest_poolctl, itest_poolctl_admin, itest_poolctl_errors) run and
 * look for alike: a daemon of the test's configuration and a connection
 * to it, poolctl run against it (as root or as nobody) with its output
 * kept, and the words of a refused size.  In the test process a failure
 * fails the test, showing what poolctl printed.
 *
 * Each test starts its daemon (start) and stops it (stop); the
 * teardown ends what a test that failed midway left running.
 */
#ifndef POOLMGR_POOLCTL_UTIL_H
#define POOLMGR_POOLCTL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"
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

/* The daemon of the test, and what the last poolctl printed. */
struct fixture {
	struct daemon_proc d;
	struct pool_conn *conn;
	struct pool *pool;
	pid_t holder;			/* a client process, if running */
	int release_fd;			/* closing it lets the holder go */
	char out[OUT_MAX];		/* stdout of the last poolctl */
	char err[4096];			/* its stderr */
};

extern struct fixture fx;

/* The daemon started with config, and fx.conn connected to it. */
void start(const char *config);
/* The holder let go; fx.pool and fx.conn closed. */
void release_clients(void);
/* release_clients, and the daemon stopped. */
void stop(void);
/* Each test's teardown: whatever it left running ended. */
int poolctl_teardown(void **state);

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

/* Fail, showing the command's output, unless it exited want. */
void expect_exit(int got, int want, const char *what);
/* The line of text that starts with word followed by a blank, or NULL. */
const char *line_starting(const char *text, const char *word);
/* Pool name's statistics, through fx.conn (it must be there). */
struct pool_stats stats_of(const char *name);
/* Is there a pool name? */
bool pool_exists(const char *name);
/* A block of size bytes of p, written over. */
pool_off_t alloc_ok(struct pool *p, size_t size);

/* ---- the daemons' configurations ----------------------------------------- */

#define TWO_POOLS "[pool alpha]\nsize = 16M\n[pool beta]\nsize = 4M\n" \
		  "mode = 0640\n"
#define WAIT_POOLS "[pool alpha]\nsize = 1M\nmode = 0666\n"

/* ---- another uid ---------------------------------------------------------- */

/*
 * Run poolctl ARGS as nobody; stdout in fx.out, stderr in fx.err (a few
 * lines: the pipe holds them while stdout is read); returns the exit code.
 */
int ctl_as_nobody(const char *a1, const char *a2, const char *a3,
		  const char *a4);
/* The test skipped unless it runs as root and nobody may run poolctl. */
void skip_unless_nobody_can_run_poolctl(void);

/* ---- sizes with a byte unit ---------------------------------------------- */

/* Run args: exit 2, nothing on stdout, "poolctl: words" a line of stderr. */
void expect_refused_saying(const char *args, const char *words);

#define POWERS(unit) "sizes are powers of 1024, and " unit " usually " \
			   "means powers of 1000: "
#define NO_B "a size is a number of bytes, without B: "
#define FORMS "a number of bytes, optionally followed by K, M, G or T, " \
	      "or KiB to TiB"

#define TOO_LARGE "too large (at most "
#define MOST_BYTES "18446744073709551615)"

#endif /* POOLMGR_POOLCTL_UTIL_H */
