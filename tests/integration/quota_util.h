/*
 * quota_util.h - what the user quota's tests (itest_user_quota,
 * itest_uquota_shared) make and look for alike: a pool with a user
 * quota, a test's opening on one, what ListUsers says a uid holds, and a
 * refusal by the quota.  In the test process: a failure fails the test.
 */
#ifndef POOLMGR_QUOTA_UTIL_H
#define POOLMGR_QUOTA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "poolclient.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
/* Larger than any block a client cache keeps: each goes to the daemon. */
#define BIG (256 * KiB)
/* The most a pool of quota_create_user may grow to. */
#define POOL_SIZE (64 * MiB)
/* Another uid than the test's, and its group, for a child to become. */
#define OTHER_UID 65534
#define OTHER_GID 65534

/*
 * Pool name made on c, POOL_SIZE at most, mode 0666, with a user quota
 * of uq bytes (0: none): pool_create_set's return.
 */
int quota_create_user(struct pool_conn *c, const char *name, uint64_t uq);
/*
 * A test's opening: its daemon started by harness_fixture_start(d,
 * extra), a connection *c, and pool name made on it by quota_create_user
 * with uq and opened through it as *p.
 */
void quota_fixture_open(struct daemon_proc *d, const char *extra,
			const char *name, uint64_t uq, struct pool_conn **c,
			struct pool **p);
/*
 * What ListUsers on c says uid holds in pool name: its handles' bytes
 * and its persistent ones.  False (and 0, 0) if uid is not listed.
 */
bool quota_uid_usage(struct pool_conn *c, const char *name, uid_t uid,
		     uint64_t *held, uint64_t *persisted);
/*
 * An allocation of size bytes through p refused by the user quota:
 * -EDQUOT, and the daemon's words for it (printed) name the quota "per
 * user" and, unless holds is NULL, say holds too.
 */
void quota_expect_refused(struct pool *p, size_t size, const char *holds);

#endif /* POOLMGR_QUOTA_UTIL_H */
