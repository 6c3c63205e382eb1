/*
 * test_poolctl_print.c - poolctl's tables (client/poolctl_print.c), printed
 * into a file of the test's own and read back.
 *
 *   names_columns_line_up  `poolctl names` with generations of 1 and of
 *       17 digits (a pool whose counter came through many restarts):
 *       every row's EVICT word starts in the header's column, and
 *       GENERATION's header ends where the numbers end.
 *   names_default_widths  with short names and generations, the table
 *       keeps its usual widths, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Before cmocka.h, whose fail() macro would rename poolctl's fail(). */
#include "poolctl.h"

#include <cmocka.h>

/* What print_names wrote to stdout, as one string (caller frees). */
static char *
names_output(const struct pool_named *pn, size_t n)
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
	out = names_output(&pn, 1);
	assert_string_equal(out,
	    "NAME             OFFSET       SIZE  PUBLISHER   GENERATION EVICT\n"
	    "a                  0x40       64 B       1000            7 no\n");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_columns_line_up),
		cmocka_unit_test(names_default_widths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
