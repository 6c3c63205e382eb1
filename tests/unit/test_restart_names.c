/*
 * test_restart_names.c - the descriptors' names an exec passes in one
 * environment string (daemon/restart_names.c), which the kernel takes only
 * up to 128 KiB (MAX_ARG_STRLEN).
 *
 *   thirty_thousand_clients_fit   listen, state, config, 100 pools and
 *       30,000 connections: one name each would take 328 KiB; the joined
 *       list is under 100 bytes and splits back into the same names, in
 *       order.
 *   a_million_clients_fit         1,000,000 connections, the same.
 *   only_runs_are_joined          single names, gaps, a run of two, names
 *       that only look like runs (a socket systemd named "my-sock.1-2",
 *       "pool.01") stay as they are; the list is exactly what it should
 *       be and splits back.
 *   bad_lists_refused             a run longer or shorter than the count
 *       of descriptors, too many names, too few: -EINVAL, no names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "restart_names.h"

#define MAX_ARG_STRLEN (32 * 4096)	/* the kernel's, with 4 KiB pages */

/* listen, state, config, pool.0 .. pool.<npools-1>, conn.0 .. */
static char **
names_make(unsigned npools, unsigned nconns, unsigned *n)
{
	char **name, *text;
	unsigned i, k = 0;

	*n = 3 + npools + nconns;
	name = malloc(*n * (sizeof(char *) + RESTART_NAME_MAX));
	assert_non_null(name);
	text = (char *)(name + *n);
	for (i = 0; i < *n; i++)
		name[i] = text + (size_t)i * RESTART_NAME_MAX;
	snprintf(name[k++], RESTART_NAME_MAX, "listen");
	snprintf(name[k++], RESTART_NAME_MAX, "state");
	snprintf(name[k++], RESTART_NAME_MAX, "config");
	for (i = 0; i < npools; i++)
		snprintf(name[k++], RESTART_NAME_MAX, "pool.%u", i);
	for (i = 0; i < nconns; i++)
		snprintf(name[k++], RESTART_NAME_MAX, "conn.%u", i);
	return name;
}

/* Joined, then split back: the same n names, in order. */
static size_t
round_trip(unsigned n, char *const *name)
{
	char *list = restart_names_join(n, name), *made;
	char **back = calloc(n, sizeof(char *));
	size_t len, plain = 0;
	unsigned i;

	assert_non_null(list);
	assert_non_null(back);
	for (i = 0; i < n; i++)
		plain += strlen(name[i]) + (i > 0);
	len = strlen(list);
	printf("%u names: %zu bytes one by one, %zu joined%s%.60s%s\n", n,
	       plain, len, len < 200 ? ": \"" : "", len < 200 ? list : "",
	       len < 200 ? "\"" : "");
	assert_int_equal(restart_names_split(list, n, back, &made), 0);
	for (i = 0; i < n; i++)
		if (strcmp(back[i], name[i]) != 0)
			fail_msg("name %u: \"%s\", not \"%s\"", i, back[i],
				 name[i]);
	free(made);
	free(back);
	free(list);
	return len;
}

static void
thirty_thousand_clients_fit(void **state)
{
	unsigned n;
	char **name = names_make(100, 30000, &n);
	size_t len;

	(void)state;
	len = round_trip(n, name);
	if (len >= MAX_ARG_STRLEN)
		fail_msg("LISTEN_FDNAMES of %zu bytes: the exec would fail "
			 "(E2BIG)", len);
	assert_true(len < 100);
	free(name);
}

static void
a_million_clients_fit(void **state)
{
	unsigned n;
	char **name = names_make(3, 1000000, &n);

	(void)state;
	assert_true(round_trip(n, name) < 100);
	free(name);
}

static void
only_runs_are_joined(void **state)
{
	char *name[] = {"listen", "state", "pool.0", "pool.2", "pool.3",
			"conn.5", "conn.6", "conn.7", "conn.9", "pool.01",
			"my-sock.1-2", "conn.10", "conn.11"};
	unsigned n = sizeof(name) / sizeof(*name);
	char *list = restart_names_join(n, name);

	(void)state;
	assert_string_equal(list, "listen:state:pool.0:pool.2-3:conn.5-7:"
			    "conn.9:pool.01:my-sock.1-2:conn.10-11");
	free(list);
	round_trip(n, name);
}

/* restart_names_split(text, n): -EINVAL and no names made. */
static void
refused(const char *text, unsigned n)
{
	char list[64], *name[16], *made = (char *)1;

	snprintf(list, sizeof(list), "%s", text);
	if (restart_names_split(list, n, name, &made) != -EINVAL)
		fail_msg("\"%s\" taken as %u names", text, n);
	assert_null(made);
}

static void
bad_lists_refused(void **state)
{
	(void)state;
	refused("listen:conn.0-9", 10);
	refused("listen:conn.0-9", 12);
	refused("conn.0-4:conn.5-9", 9);
	refused("listen:state", 3);
	refused("listen:state:pool.0", 2);
	refused("conn.0-16777215", 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(thirty_thousand_clients_fit),
		cmocka_unit_test(a_million_clients_fit),
		cmocka_unit_test(only_runs_are_joined),
		cmocka_unit_test(bad_lists_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
