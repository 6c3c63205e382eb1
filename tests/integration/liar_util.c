/*
 * liar_util.c - what the lying daemon's tests and their clients share
 * (liar_util.h).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "liar_util.h"

int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}

void
fake_pool_close(struct pool_conn *c, struct pool *p)
{
	pool_close(p);
	pool_disconnect(c);
}

int
log_lines(const char *log, const char *what)
{
	char want[64];
	const char *l;
	int n = 0;

	snprintf(want, sizeof(want), "\n%s", what);
	for (l = log; (l = strstr(l, want)); l++)
		n++;
	return n;
}

void
expect_client_passed(struct child_end e, const char *what, const char *log)
{
	char words[128];

	if (!child_passed(e))
		fail_msg("%s: the client %s; the fake saw:\n%s", what,
			 child_end_words(e, "failed its check", words,
					 sizeof(words)), log);
}

void
expect_fake_passed(struct child_end e, const char *what, const char *log)
{
	char words[128];

	if (!child_passed(e))
		fail_msg("%s: the fake daemon %s; it saw:\n%s", what,
			 child_end_words(e, "failed with exit code", words,
					 sizeof(words)), log);
}

void
run_lookup_client(enum lie lie, int (*client)(void *), char *log,
		  size_t cap)
{
	struct child_end rc, frc;
	struct fake f;
	pid_t pid;

	fake_start(&f, lie);
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client, f.sock);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, "the lookup client", log);
	expect_fake_passed(frc, "the lookup client", log);
}
