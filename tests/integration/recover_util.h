/*
 * recover_util.h - what the tests of a crash of poolmgrd under systemd
 * (itest_recover, itest_recover_store, itest_recover_midway) make and
 * look for alike.  In the test process a failure fails the test.
 *
 * The test plays systemd (harness_store.c): a NOTIFY_SOCKET of its own,
 * FDSTORE= set as the unit sets it, every FDSTORE=1 descriptor kept under
 * its FDNAME= and every FDSTOREREMOVE=1 applied, and a start given what
 * the store holds (as Restart=on-failure does after a crash).  A crash is
 * SIGKILL.  Each test has a store of its own (recover_setup), with pool a
 * of CONFIG, and a guard: a test that hangs GUARD_SEC seconds kills its
 * daemon and exits.
 */
#ifndef POOLMGR_RECOVER_UTIL_H
#define POOLMGR_RECOVER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "harness_raw.h"
#include "harness_store.h"
#include "poolclient.h"

#define WAIT_MS		15000	/* generous for a daemon under ASan */
#define STORE_FDS	"1796"	/* FileDescriptorStoreMax= of the unit */
#define CONFIG		"[daemon]\nsocket_mode = 0666\nadmin_group = 0\n" \
			"[pool a]\nsize = 4M\n"

/* The daemon the guard kills, if it is running; 0 once it is not. */
extern volatile pid_t guarded;

/* Each test's setup and teardown: a store of its own, and the guard. */
int recover_setup(void **state);
int recover_teardown(void **state);

long long now_ms(void);

/* ---- the store and the daemon on it -------------------------------------- */

/* One notification applied to the store; 1 if it says want. */
int store_recv(struct harness_store *st, int timeout_ms, const char *want);
/* Every notification the daemon has sent applied. */
void store_drain(struct harness_store *st);
/* The name of the journal in the store: there must be one. */
const char *journal_in(const struct harness_store *st);
/* Until name is out of the store (it goes after READY=1). */
void wait_removed(struct harness_store *st, const char *name);
/*
 * Signal sig to the daemon (SIGUSR2: a restart in place, SIGHUP: a
 * reload), and until its READY=1 after it, what came before applied.
 */
void signalled_ready(struct harness_store *st, int sig);
/* Does the daemons' log say what? */
bool log_has(const struct harness_store *st, const char *what);
/*
 * Start with what the store holds (it keeps its own), FDSTORE= fdstore
 * (NULL: none); READY=1.  With POOLMGR_JOURNAL_SEEDS set to a directory,
 * what a start after a crash finds in the store is also written there,
 * as a seed for tests/fuzz/fuzz_recover.c.
 */
void start(struct harness_store *st, const char *fdstore);
/* The crash: SIGKILL, and what it had sent. */
void crash(struct harness_store *st);
/* SIGTERM: the daemon exits 0, and what it sent is applied. */
void stop(struct harness_store *st);
/* The log says what, else it is printed and the test fails saying why. */
void expect_logged(const struct harness_store *st, const char *what,
		   const char *why);
/*
 * A crash, and a start with what it left in the store (FDSTORE= fdstore)
 * whose log says what (the pools and blocks recovered), else why.
 */
void crash_recover(struct harness_store *st, const char *fdstore,
		   const char *what, const char *why);

/* ---- blocks persisted and looked for ------------------------------------- */

/* len bytes at off in p, every one c. */
void fill(struct pool *p, pool_off_t off, size_t len, int c);
/* len bytes at off in p are every one c, else the test fails. */
void expect_bytes(struct pool *p, pool_off_t off, size_t len, int c);
/* A block of 100000 bytes of 'z' persisted in pool a, at *off. */
void persist_one(struct harness_store *st, pool_off_t *off);
/* Pool a, from a new connection, holds n blocks. */
void expect_live_blocks(struct harness_store *st, uint64_t n);
/* persist_one's block at off, from a new connection, with its bytes. */
void expect_kept(struct harness_store *st, pool_off_t off);
/*
 * A memfd of size bytes, sealed as a pool's, every byte c: the memory of
 * another pool, kept under a number pool a's keep has too.
 */
int other_pools_memfd(size_t size, int c);

/* ---- pools with an access control list ----------------------------------- */

/* An access control list on the wire, with room for its entries. */
struct wire_acl {
	Poolmgr__Acl acl;
	Poolmgr__AclEntry e[8], *p[8];
};

/* Entries {kind, id, rights} of v, n of them, as a message in w. */
Poolmgr__Acl *wire_acl(struct wire_acl *w, const uint32_t (*v)[3], size_t n);
/*
 * The pool of the access control tests: "c", 1 MiB, mode 0604 (others
 * may read), made by a raw CreatePool with the list v of n entries.
 */
void acl_pool_make(int fd, const uint32_t (*v)[3], size_t n);
/* Pool c's list as PoolStats says it: "user:ID:RIGHTS,..." or "none". */
void acl_said(int fd, char *buf, size_t len);
/* The store's directory open to the test's other uids: they connect. */
void acl_start(struct harness_store *st);
/* A crash, and a start that recovers pools a and c. */
void acl_recover(struct harness_store *st);

#endif /* POOLMGR_RECOVER_UTIL_H */
