/*
 * restore_check.h - is a state handed over by a restart in place whole
 * and consistent, and is every descriptor what it claims to be?  Checked
 * before anything is built from it (restore.c).
 */
#ifndef POOLMGRD_RESTORE_CHECK_H
#define POOLMGRD_RESTORE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "pool_acl.h"
#include "pool_uquota.h"
#include "state.pb-c.h"

/*
 * Whether fd is a memfd of size bytes, sealed as pool.c seals a pool's
 * and open for writing: a pool's memory handed over (restore.c), or kept
 * in the fd store (recover.c).
 */
int is_pool_memfd(int fd, uint64_t size);

/* The state in memfd fd, decoded; NULL with why. */
Poolmgrd__State *state_load(int fd, char *why, size_t len);

/*
 * How many descriptors the state's unsent replies pass that no pool has
 * ("reply.<i>"), in *n: 0, or -EINVAL if the state says more than they
 * could be.
 */
int state_replies(const Poolmgrd__State *st, unsigned *n);

/*
 * 0, or -EINVAL with why: fds[0 .. n) are the passed descriptors in the
 * state's order (restore_fds.h): listen, state, its pools, its sessions,
 * those its unsent replies pass.
 */
int state_check(const Poolmgrd__State *st, const int *fds, unsigned n,
		char *why, size_t len);

/*
 * Pool name's access control list from its n words (PoolState.acl, a
 * JREC_ACL's entries): each one pool_acl.h's acl_word could make, the
 * whole a list acl_build takes (at most ACL_MAX, no kind and id twice),
 * built into *out, sorted.  0, or -EINVAL with why; *out unchanged then.
 */
int state_acl(const char *name, const uint64_t *w, size_t n, struct acl *out,
	      char *why, size_t len);
/*
 * Pool name's user quotas of uids from its n words (PoolState.user_quotas,
 * a JREC_USER_QUOTAS's entries): two words an entry, a uid (below 2^32,
 * not 4294967295) then its bytes, at most UQUOTA_MAX, no uid twice, built
 * into *out, sorted.  0, or -EINVAL with why; *out unchanged then.
 */
int state_uquotas(const char *name, const uint64_t *w, size_t n,
		  struct uquota *out, char *why, size_t len);

/* Write why (printf) and return -EINVAL: every refusal's reason. */
int state_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Is fd a listening Unix SOCK_SEQPACKET socket? */
int state_check_listener(int fd);

#endif /* POOLMGRD_RESTORE_CHECK_H */
