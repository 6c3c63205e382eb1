/*
 * test_poolctl_print.c - poolctl's tables (client/poolctl_print*.c), printed
 * into a file of the test's own and read back.
 *
 *   names_columns_line_up  `poolctl names` with generations of 1 and of
 *       17 digits (a pool whose counter came through many restarts):
 *       every row's EVICT word starts in the header's column, and
 *       GENERATION's header ends where the numbers end.
 *   names_default_widths  with short names and generations, the table
 *       keeps its usual widths, byte for byte, under -n (numbers).
 *   names_publisher_named  PUBLISHER names a uid the password database
 *       has (0: root), numbers one it lacks, -n numbers both; --json
 *       keeps "publisher" a number and puts the name (or null) beside.
 *   long_names_widen_columns  with a user and a group whose names pass
 *       their columns (password and group databases bound over in a
 *       mount namespace of a child's own), names, clients, persisted and
 *       stats widen the column to the longest name: the header and every
 *       row end where the name ends.
 */
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* Before cmocka.h, whose fail() macro would rename poolctl's fail(). */
#include "poolctl.h"

#include <cmocka.h>

/* What print_names wrote to stdout, as one string (caller frees). */
static char *
names_print_as(const struct pool_named *pn, size_t n, int json, bool numeric)
{
	struct ctl ctl = {0};
	FILE *f = tmpfile();
	char *buf;
	long len;
	int saved;

	assert_non_null(f);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDOUT_FILENO) >= 0);
	ctl.json = json;
	ctl.numeric = numeric;
	print_names(&ctl, "p", pn, n);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	len = lseek(fileno(f), 0, SEEK_END);
	assert_true(len > 0);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(f), buf, (size_t)len, 0), len);
	fclose(f);
	return buf;
}

static char *
names_print(const struct pool_named *pn, size_t n, int json)
{
	return names_print_as(pn, n, json, false);
}

static char *
names_output(const struct pool_named *pn, size_t n)
{
	return names_print(pn, n, 0);
}

/* The column where word starts in line (the line ends at '\n'). */
static long
column_of(const char *line, const char *word)
{
	const char *end = strchr(line, '\n'), *at = strstr(line, word);

	assert_non_null(at);
	assert_true(end == NULL || at < end);
	return at - line;
}

static void
names_columns_line_up(void **state)
{
	struct pool_named pn[2];
	const char *line;
	char *out;
	long evict, gen_end;

	(void)state;
	memset(pn, 0, sizeof(pn));
	strcpy(pn[0].name, "cam/0");
	pn[0].offset = 0x1000;
	pn[0].usable_size = 4096;
	pn[0].generation = 1;
	pn[0].evictable = 1;
	strcpy(pn[1].name, "cam/1");
	pn[1].offset = 0x2000;
	pn[1].usable_size = 4096;
	pn[1].generation = 12345678901234567ull;
	out = names_output(pn, 2);
	evict = column_of(out, "EVICT");
	gen_end = column_of(out, "GENERATION") + (long)strlen("GENERATION");
	line = strchr(out, '\n') + 1;
	assert_int_equal(column_of(line, "yes"), evict);
	assert_int_equal(column_of(line, " 1 ") + 2, gen_end);
	line = strchr(line, '\n') + 1;
	assert_int_equal(column_of(line, "no"), evict);
	assert_int_equal(column_of(line, "12345678901234567") + 17, gen_end);
	free(out);
}

static void
names_default_widths(void **state)
{
	struct pool_named pn;
	char *out;

	(void)state;
	memset(&pn, 0, sizeof(pn));
	strcpy(pn.name, "a");
	pn.offset = 0x40;
	pn.usable_size = 64;
	pn.publisher = 1000;
	pn.generation = 7;
	out = names_print_as(&pn, 1, 0, true);
	assert_string_equal(out,
	    "NAME             OFFSET       SIZE  PUBLISHER   GENERATION EVICT\n"
	    "a                  0x40       64 B       1000            7 no\n");
	free(out);
}

/* A uid the password database lacks, from a few unlikely ones; 0: none. */
static uint32_t
unnamed_uid(void)
{
	uint32_t uid;

	for (uid = 4242; uid < 4342; uid++)
		if (getpwuid(uid) == NULL)
			return uid;
	return 0;
}

static void
names_publisher_named(void **state)
{
	struct pool_named pn[2];
	char *out, want[128];
	uint32_t nobody = unnamed_uid();

	(void)state;
	if (getpwuid(0) == NULL || strcmp(getpwuid(0)->pw_name, "root") != 0 ||
	    nobody == 0)
		skip();
	memset(pn, 0, sizeof(pn));
	strcpy(pn[0].name, "a");
	strcpy(pn[1].name, "b");
	pn[1].publisher = nobody;
	out = names_output(pn, 2);
	snprintf(want, sizeof(want),
	    "a                   0x0        0 B       root            0 no\n"
	    "b                   0x0        0 B       %4u            0 no\n",
	    (unsigned)nobody);
	if (!strstr(out, want))
		fail_msg("PUBLISHER is not root and %u:\n%s", (unsigned)nobody,
		    out);
	free(out);
	out = names_print_as(pn, 2, 0, true);
	snprintf(want, sizeof(want),
	    "a                   0x0        0 B          0            0 no\n"
	    "b                   0x0        0 B       %4u            0 no\n",
	    (unsigned)nobody);
	if (!strstr(out, want))
		fail_msg("-n: PUBLISHER is not 0 and %u:\n%s", (unsigned)nobody,
		    out);
	free(out);
	out = names_print(pn, 2, 1);
	snprintf(want, sizeof(want),
	    "\"publisher\":%u,\"publisher_user\":null,", (unsigned)nobody);
	if (!strstr(out, "\"publisher\":0,\"publisher_user\":\"root\",") ||
	    !strstr(out, want))
		fail_msg("--json: no publisher and publisher_user:\n%s", out);
	free(out);
}

#define LONG_UID	4299
#define LONG_USER	"pm-a-user-name-longer-than-ten"
#define LONG_GROUP	"pm-a-group-name-longer-than-ten"

/* A copy of the file at path with line added, bound over it; 0 or -1. */
static int
bind_with_line(const char *path, const char *line)
{
	const char *dir = getenv("TMPDIR");
	char tmp[4096], buf[4096];
	FILE *in, *out;
	size_t n;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s/poolmgr-ids.XXXXXX",
	    dir != NULL && *dir != '\0' ? dir : "/tmp");
	if ((fd = mkstemp(tmp)) < 0 || (out = fdopen(fd, "w")) == NULL)
		return -1;
	if ((in = fopen(path, "r")) != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
	}
	fputs(line, out);
	ok = fclose(out) == 0 && mount(tmp, path, NULL, MS_BIND, NULL) == 0;
	unlink(tmp);
	return ok ? 0 : -1;
}

/*
 * In the child: LONG_USER and LONG_GROUP of LONG_UID in the databases,
 * then the four tables, each after a line "--", into fd; exit 0, or 99
 * where no mount namespace can be had.
 */
static void
long_names_child(int fd)
{
	struct ctl ctl = {0};
	struct pool_named pn[2];
	struct pool_client_info ci[2];
	struct persisted_row pr[2];
	struct pool_stats ps;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    bind_with_line("/etc/passwd",
	    LONG_USER ":x:4299:4299::/:/bin/false\n") != 0 ||
	    bind_with_line("/etc/group", LONG_GROUP ":x:4299:\n") != 0 ||
	    getpwuid(LONG_UID) == NULL || getpwuid(0) == NULL ||
	    dup2(fd, STDOUT_FILENO) < 0)
		_exit(99);
	memset(pn, 0, sizeof(pn));
	strcpy(pn[0].name, "a");
	pn[0].publisher = LONG_UID;
	strcpy(pn[1].name, "b");
	memset(ci, 0, sizeof(ci));
	ci[0].pid = 1;
	ci[0].uid = ci[0].gid = LONG_UID;
	strcpy(ci[0].name, "x");
	strcpy(ci[0].pool, "p");
	ci[1] = ci[0];
	ci[1].pid = 2;
	ci[1].uid = ci[1].gid = 0;
	memset(pr, 0, sizeof(pr));
	pr[0].pool = pr[1].pool = "p";
	pr[0].by.uid = LONG_UID;
	memset(&ps, 0, sizeof(ps));
	strcpy(ps.name, "p");
	ps.uid = ps.gid = LONG_UID;
	puts("--");
	print_names(&ctl, "p", pn, 2);
	puts("--");
	print_clients(&ctl, ci, 2);
	puts("--");
	print_persisted(&ctl, FMT_TEXT, pr, 2);
	puts("--");
	print_stats(&ctl, FMT_TEXT, &ps, NULL, NULL, 1);
	fflush(stdout);
	_exit(0);
}

/* The column after the end of word in line, which must hold it. */
static long
end_of(const char *line, const char *word)
{
	return column_of(line, word) + (long)strlen(word);
}

/* The line of text that starts with prefix. */
static const char *
line_of(const char *text, const char *prefix)
{
	const char *l = text;

	for (; l != NULL && *l != '\0'; l = strchr(l, '\n') + 1) {
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return l;
		if (strchr(l, '\n') == NULL)
			break;
	}
	fail_msg("no line starting \"%s\" in:\n%s", prefix, text);
	return NULL;
}

static void
long_names_widen_columns(void **state)
{
	FILE *f = tmpfile();
	char out[8192], *t[5];
	long len, col, uid_end;
	pid_t pid;
	int status, i;

	(void)state;
	assert_non_null(f);
	fflush(stdout);
	if ((pid = fork()) == 0)
		long_names_child(fileno(f));
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 99)
		skip();		/* no mount namespace here */
	assert_int_equal(WEXITSTATUS(status), 0);
	len = lseek(fileno(f), 0, SEEK_END);
	assert_true(len > 0 && len < (long)sizeof(out));
	assert_int_equal(pread(fileno(f), out, (size_t)len, 0), len);
	out[len] = '\0';
	fclose(f);
	/* t[1..4]: names, clients, persisted, stats. */
	t[0] = out;
	for (i = 1; i < 5; i++) {
		t[i] = strstr(t[i - 1], "--\n");
		assert_non_null(t[i]);
		*t[i] = '\0';
		t[i] += 3;
	}

	col = end_of(line_of(t[1], "NAME"), "PUBLISHER");
	assert_int_equal(end_of(line_of(t[1], "a "), LONG_USER), col);
	assert_int_equal(end_of(line_of(t[1], "b "), "root"), col);
	assert_int_equal(column_of(line_of(t[1], "NAME"), "GENERATION"),
	    col + 3);

	col = end_of(line_of(t[2], "    PID"), " UID");
	assert_int_equal(end_of(line_of(t[2], "      1"), LONG_USER), col);
	assert_int_equal(end_of(line_of(t[2], "      2"), "root"), col);
	/* The group's root: the one after the user's. */
	uid_end = col;
	col = end_of(line_of(t[2], "    PID"), " GID");
	assert_int_equal(end_of(line_of(t[2], "      1"), LONG_GROUP), col);
	assert_int_equal(uid_end + end_of(line_of(t[2], "      2") + uid_end,
	    "root"), col);

	col = end_of(line_of(t[3], "POOL"), " UID");
	assert_int_equal(end_of(line_of(t[3], "p "), LONG_USER), col);
	assert_int_equal(column_of(line_of(t[3], "p "), LONG_USER), 5);

	col = end_of(line_of(t[4], "  size"), "0 B");
	assert_int_equal(end_of(line_of(t[4], "  owner"), LONG_USER), col);
	assert_int_equal(end_of(line_of(t[4], "  group"), LONG_GROUP), col);
}

/*
 * The longest name, every byte of it not UTF-8: in JSON each byte is a
 * U+FFFD in "name" and two hex digits in "name_hex", none left out (the
 * last byte of such a name once was: its buffers were one short); in the
 * plain form each is \xff.
 */
static void
longest_odd_name_whole(void **state)
{
	struct pool_named pn;
	char *out, want[4 * POOL_BLOCK_NAME_MAX + 2];
	size_t i;

	(void)state;
	memset(&pn, 0, sizeof(pn));
	memset(pn.name, 0xff, POOL_BLOCK_NAME_MAX);
	out = names_print(&pn, 1, 1);
	for (i = 0; i < POOL_BLOCK_NAME_MAX; i++)
		memcpy(want + 2 * i, "ff", 2);
	want[2 * POOL_BLOCK_NAME_MAX] = '\0';
	if (!strstr(out, want))
		fail_msg("name_hex is not the whole name:\n%s", out);
	for (i = 0; i < POOL_BLOCK_NAME_MAX; i++)
		memcpy(want + 3 * i, "\xef\xbf\xbd", 3);
	want[3 * POOL_BLOCK_NAME_MAX] = '"';
	want[3 * POOL_BLOCK_NAME_MAX + 1] = '\0';
	if (!strstr(out, want))
		fail_msg("name is not a U+FFFD for each byte:\n%s", out);
	free(out);
	out = names_print(&pn, 1, 0);
	for (i = 0; i < POOL_BLOCK_NAME_MAX; i++)
		memcpy(want + 4 * i, "\\xff", 4);
	want[4 * POOL_BLOCK_NAME_MAX] = ' ';
	want[4 * POOL_BLOCK_NAME_MAX + 1] = '\0';
	if (!strstr(out, want))
		fail_msg("the plain name is not whole:\n%s", out);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_columns_line_up),
		cmocka_unit_test(names_default_widths),
		cmocka_unit_test(names_publisher_named),
		cmocka_unit_test(long_names_widen_columns),
		cmocka_unit_test(longest_odd_name_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
