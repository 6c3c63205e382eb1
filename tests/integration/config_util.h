/*
 * config_util.h - what the tests of poolmgrd's configuration file
 * (itest_config, itest_config_file, itest_config_numbers) write, start
 * and look for alike: a file after the [daemon] lines of every test, a
 * start that must be refused, a reload that must be, and poolmgrd run
 * as --check-config (-t) on a file.  In the test process a failure fails
 * the test, showing what the daemon said.
 *
 * The file's lines 1 and 2 are "[daemon]" and "socket_mode = 0666": the
 * text a test writes starts at line 3, and the lines the daemon names
 * count from there.
 */
#ifndef POOLMGR_CONFIG_UTIL_H
#define POOLMGR_CONFIG_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "harness.h"
#include "poolclient.h"

/* What the file says a size may be written as, for a word that is none. */
#define FORMS "(a number of bytes, optionally followed by K, M, G or T: 64M)"

/* d's file: the [daemon] lines, then text. */
void write_config(const struct daemon_proc *d, const char *text);
/*
 * Wait up to ms for pid to exit: its exit code, 128 + signal if a signal
 * ended it, or -1 if it still runs (then it is killed).
 */
int wait_exit(pid_t pid, long ms);
/* Remove a stopped daemon's directory (harness_stop does it otherwise). */
void remove_dir(const struct daemon_proc *d);
/* A temporary directory for d, with its socket and file named: no daemon. */
void config_dir(struct daemon_proc *d);

/*
 * Start poolmgrd on config (after write_config's [daemon] lines, so
 * config's first line is the file's line 3) and expect it to refuse to
 * start: exit 1, its log naming the file and then want ("LINE: problem").
 */
void refused_at_start(const char *config, const char *want);
/*
 * SIGHUP with config in the file (its first line is the file's line 5,
 * after a new pool "second" that would be created if the file were taken):
 * the daemon must keep its configuration and log want ("LINE: problem").
 */
void refused_on_reload(struct daemon_proc *d, const char *config,
		       const char *want);

/* poolmgrd -t ARGS (from fmt): its exit code, stdout and stderr in out. */
int check_run(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * poolmgrd -t on "[daemon]" and "KEY = VALUE": refused (exit 1) saying
 * "FILE:3: " and problem.
 */
void check_refuses(const struct daemon_proc *d, const char *key,
		   const char *value, const char *problem);
/* poolmgrd -t on "[daemon]" and text: refused (exit 1), saying line: want. */
void check_text_refuses(const struct daemon_proc *d, const char *text,
			int line, const char *want);

#endif /* POOLMGR_CONFIG_UTIL_H */
