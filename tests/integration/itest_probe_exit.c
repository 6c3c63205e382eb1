/*
 * itest_probe_exit.c - the restart probe (`poolmgrd --restart-probe`,
 * run in a process group of its own) does not outlive the daemon.
 *
 *   fatal_kills_probe  the daemon dies through fatalx() while a probe
 *       that would answer only after 30 s runs (fail_pipe_event.so makes
 *       the probe's pipe unwatchable, the failure fatalx reports): once
 *       the daemon is gone, no process of the probe is left (within a
 *       few seconds: a child of the probe's script killed with it may
 *       take a moment to go).
 */
#include <dirent.h>
#include <errno.h>
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

#include "harness.h"

#define EXIT_WAIT_MS	15000	/* generous for a daemon under ASan */
#define GONE_WAIT_MS	5000	/* a killed process gone, at most */

/* At bin: a probe that answers only after 30 s (bash keeps the mask). */
static void
put_slow_probe(const char *bin)
{
	FILE *f;

	unlink(bin);
	assert_non_null(f = fopen(bin, "w"));
	fprintf(f, "#!/bin/bash\n"
		"if [ \"$1\" = --restart-probe ]; then sleep 30; fi\n"
		"exec %s/poolmgrd \"$@\"\n", harness_build());
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(bin, 0755), 0);
}

/*
 * The processes whose command line names bin (and, kill set, each one's
 * group killed).  A script's child between its fork and its exec has the
 * script's command line too.
 */
static unsigned
probe_processes(const char *bin, bool kill_them)
{
	char path[64], cmd[512];
	struct dirent *e;
	unsigned n = 0;
	size_t i, len;
	FILE *f;
	DIR *d;
	pid_t pid;

	assert_non_null(d = opendir("/proc"));
	while ((e = readdir(d))) {
		if ((pid = (pid_t)strtol(e->d_name, NULL, 10)) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if (!(f = fopen(path, "r")))
			continue;
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (i = 0; i < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[len] = '\0';
		if (!strstr(cmd, bin) || !strstr(cmd, "--restart-probe"))
			continue;
		n++;
		if (!kill_them)
			continue;
		printf("left running: pid %d, \"%s\"\n", (int)pid, cmd);
		kill(-getpgid(pid), SIGKILL);
	}
	closedir(d);
	return n;
}

/*
 * The probe's processes still there GONE_WAIT_MS after the daemon died,
 * killed then.  The daemon reaps the probe itself; one of its children
 * that the same SIGKILL hit may take a moment longer to go on a loaded
 * machine, where a probe nobody killed lives for 30 s.
 */
static unsigned
probe_left(const char *bin)
{
	int ms;

	for (ms = 0; ms < GONE_WAIT_MS; ms += 10) {
		if (probe_processes(bin, false) == 0)
			return 0;
		harness_sleep_ms(10);
	}
	return probe_processes(bin, true);
}

static void
fatal_kills_probe(void **state)
{
	char dir[64], bin[128], *saved;
	struct daemon_proc d;
	int rc;

	(void)state;
	harness_copy_binary(dir, sizeof(dir), bin, sizeof(bin));
	saved = harness_preload("fail_pipe_event.so");
	setenv("POOLMGR_FAIL_PIPE_EVENT", "1", 1);
	rc = harness_start_from(&d, bin, "[pool p]\nsize = 1M\n");
	unsetenv("POOLMGR_FAIL_PIPE_EVENT");
	harness_preload_off(saved);
	assert_int_equal(rc, 0);
	put_slow_probe(bin);

	assert_int_equal(kill(d.pid, SIGUSR2), 0);
	rc = harness_exit_status(&d, EXIT_WAIT_MS);
	printf("the daemon exited with %d\n", rc);
	assert_int_equal(rc, 1);
	assert_int_equal(harness_log_count(&d, "event_new failed"), 1);
	rc = (int)probe_left(bin);
	printf("%d probe process%s left after the daemon died\n", rc,
	       rc == 1 ? "" : "es");
	assert_int_equal(rc, 0);
	harness_remove_dir(&d);
	harness_remove_binary(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fatal_kills_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
