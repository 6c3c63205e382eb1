/*
 * test_pool_numa.c - the NUMA nodes that have memory, as sysfs lists them
 * (daemon/pool_numa.c's dpool_numa_has_memory), read from files the test
 * writes.
 *
 *   lists_read  a node alone, ranges and both joined by commas: each
 *       node in them is found, each between and past them is not;
 *   unreadable  no file, or an empty one: -1, not a no.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_numa.h"

static char path[64];

static void
write_list(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_pool_numa.%d", (int)getpid());
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void
lists_read(void **state)
{
	(void)state;
	write_list("0\n");
	assert_int_equal(dpool_numa_has_memory(path, 0), 1);
	assert_int_equal(dpool_numa_has_memory(path, 1), 0);
	write_list("0,2-5,9\n");
	assert_int_equal(dpool_numa_has_memory(path, 0), 1);
	assert_int_equal(dpool_numa_has_memory(path, 1), 0);
	assert_int_equal(dpool_numa_has_memory(path, 2), 1);
	assert_int_equal(dpool_numa_has_memory(path, 5), 1);
	assert_int_equal(dpool_numa_has_memory(path, 6), 0);
	assert_int_equal(dpool_numa_has_memory(path, 9), 1);
	assert_int_equal(dpool_numa_has_memory(path, 10), 0);
	assert_int_equal(dpool_numa_has_memory(path, 1023), 0);
	write_list("1-3");		/* no newline */
	assert_int_equal(dpool_numa_has_memory(path, 0), 0);
	assert_int_equal(dpool_numa_has_memory(path, 3), 1);
	unlink(path);
}

static void
unreadable(void **state)
{
	(void)state;
	write_list("");
	assert_int_equal(dpool_numa_has_memory(path, 0), -1);
	unlink(path);
	assert_int_equal(dpool_numa_has_memory(path, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lists_read),
		cmocka_unit_test(unreadable),
	};

	return cmocka_run_group_tests_name("pool_numa", tests, NULL, NULL);
}
