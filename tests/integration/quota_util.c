/*
 * quota_util.c - the user quota's tests' pools, openings and refusals
 * (quota_util.h).
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

#include "quota_util.h"

int
quota_create_user(struct pool_conn *c, const char *name, uint64_t uq)
{
	struct pool_create_opts o = {.max_size = POOL_SIZE, .mode = 0666};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = uq};

	return pool_create_set(c, name, &o, &s);
}

void
quota_fixture_open(struct daemon_proc *d, const char *extra,
		   const char *name, uint64_t uq, struct pool_conn **c,
		   struct pool **p)
{
	harness_fixture_start(d, extra);
	assert_int_equal(pool_connect(NULL, c), 0);
	EXPECT_RC(quota_create_user(*c, name, uq), 0);
	EXPECT_RC(pool_open(*c, name, p), 0);
}

bool
quota_uid_usage(struct pool_conn *c, const char *name, uid_t uid,
		uint64_t *held, uint64_t *persisted)
{
	struct pool_user *u;
	size_t n, total, i;
	bool listed = false;

	*held = *persisted = 0;
	EXPECT_RC(pool_users(c, name, &u, &n, &total), 0);
	for (i = 0; i < n; i++)
		if (u[i].uid == uid) {
			*held = u[i].held_bytes;
			*persisted = u[i].persisted_bytes;
			listed = true;
		}
	free(u);
	return listed;
}

void
quota_expect_refused(struct pool *p, size_t size, const char *holds)
{
	const char *why;
	pool_off_t x;

	EXPECT_RC(pool_alloc(p, size, &x), -EDQUOT);
	why = pool_last_message(-EDQUOT);
	assert_non_null(why);
	/* The test's own name first: its output says whose refusal it is. */
	printf("%s: refused: %s\n", program_invocation_short_name, why);
	assert_non_null(strstr(why, "per user"));
	if (holds)
		assert_non_null(strstr(why, holds));
}
