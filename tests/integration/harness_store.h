/*
 * harness_store.h - systemd's file descriptor store, played by a test:
 * a NOTIFY_SOCKET of its own, FDSTORE= set as the unit sets it, every
 * FDSTORE=1 descriptor kept under its FDNAME= and every FDSTOREREMOVE=1
 * applied, every descriptor that reads POLLHUP or POLLERR dropped unless
 * pushed with FDPOLL=0, and a start given what the store holds as
 * LISTEN_FDS (as Restart=on-failure does after a crash).  The daemon binds its own
 * socket, unless lfd is set: then that listening socket goes first, as
 * poolmgrd.socket's.  No cmocka here: the caller checks what each call
 * returns.
 */
#ifndef POOLMGR_HARNESS_STORE_H
#define POOLMGR_HARNESS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HARNESS_STORE_MAX 64

struct harness_store {
	char dir[48], sock[64], notify[64], conf[64], log[64];
	int nfd;			/* our NOTIFY_SOCKET */
	int lfd;			/* "poolmgrd.socket" (bound to sock and
					 * listening), or -1; closed with all */
	pid_t pid;
	/*
	 * FDSTORE= as the unit sets it, "" for none: the store keeps as many
	 * descriptors as it says and closes the others, unseen by the
	 * sender (systemd's "Hit fd store limit").  Set by open, to the
	 * unit's; a start reads it.
	 */
	char fdstore[16];
	unsigned pushed;		/* FDSTORE=1 notifications, kept or not */
	unsigned malformed;		/* of those: with no descriptor or no
					 * FDNAME=, or past our own room */
	int fd[HARNESS_STORE_MAX];
	char name[HARNESS_STORE_MAX][64];
	/*
	 * Pushed with FDPOLL=0.  The others the store polls, as systemd
	 * does, and one that reads POLLHUP or POLLERR leaves it (a
	 * connection whose client hung up, or one the daemon shut down).
	 */
	bool unpolled[HARNESS_STORE_MAX];
	unsigned n;
	/* Started without --socket: it binds the configuration's socket. */
	bool own_socket;
};

/* A temporary directory with config in it, and the notify socket: 0/-1. */
int harness_store_open(struct harness_store *st, const char *config);
/* Kill a daemon still running, close what the store holds, remove all. */
void harness_store_close(struct harness_store *st);
/*
 * Start poolmgrd with what the store holds and wait for its READY=1,
 * applying its notifications meanwhile: 0, or -1 (its log on stderr).
 */
int harness_store_start(struct harness_store *st);
/*
 * Apply what the daemon sent meanwhile.  Call it now and then while a
 * test makes many changes: a compaction of the journal pushes a new one,
 * and the kernel queues only a few datagrams unread
 * (net.unix.max_dgram_qlen, 10); the daemon's next ones wait in the
 * daemon, and its pushes are refused once many wait.
 */
void harness_store_drain(struct harness_store *st);
/*
 * One notification applied, waiting up to ms for it: 1 if it said want
 * (a line that starts so), 0 if not, -1 if none came.
 */
int harness_store_receive(struct harness_store *st, int ms, const char *want);
/*
 * One notification (its text, and the descriptor it carried or -1)
 * applied as systemd applies it, for a caller that receives its own:
 * the descriptor kept or closed, a removal done, hangups dropped.
 */
void harness_store_apply(struct harness_store *st, const char *msg, int fd);
/*
 * Drop what reads POLLHUP or POLLERR and was not pushed with FDPOLL=0,
 * as systemd's loop does: how many left.
 */
unsigned harness_store_hangups(struct harness_store *st);
/* SIGKILL, waited for, and what it had sent applied: 0 or -1. */
int harness_store_crash(struct harness_store *st);
/* The index of the descriptor stored as name, or -1. */
int harness_store_find(const struct harness_store *st, const char *name);
/* The index of the first one whose name starts with prefix, or -1. */
int harness_store_prefix(const struct harness_store *st, const char *prefix);
/* Close the descriptor at index i and take it out of the store. */
void harness_store_drop(struct harness_store *st, unsigned i);
/* The newest journal the store holds ("journal.<n>"), or NULL. */
const char *harness_store_journal(const struct harness_store *st);
/*
 * The bytes the newest journal in the store has left past its committed
 * end before it must grow, what the daemon sent drained first; -1 if the
 * store holds no journal or it cannot be read.
 */
int64_t harness_store_journal_room(struct harness_store *st);
/* The daemon's whole log (every start's), on stderr. */
void harness_store_print_log(const struct harness_store *st);
/* Does the daemon's log hold what? */
bool harness_store_logged(const struct harness_store *st, const char *what);
/* The lines of the whole log (every start's) that hold what, quietly. */
unsigned harness_store_log_count(const struct harness_store *st,
				 const char *what);
/*
 * Crash the daemon and start it again from what the store holds: 0 once
 * it is ready and its log (every start's) says it recovered, else -1
 * (why, and the log, on stderr).
 */
int harness_store_recover(struct harness_store *st);
/*
 * Apply what the daemon sends until a notification holds want (such as
 * "READY=1"), for at most ms: 0, or -1 if none did in time.
 */
int harness_store_wait(struct harness_store *st, const char *want, int ms);

/*
 * A cmocka setup and teardown for a test whose state is its store from
 * the start: opened with HARNESS_STORE_CONF, closed at the end.
 * HARNESS_STORE_TEST(fn, &st) declares one.
 */
#define HARNESS_STORE_CONF "[daemon]\nsocket_mode = 0666\n"
int harness_store_setup(void **state);
int harness_store_teardown(void **state);
#define HARNESS_STORE_TEST(fn, st)					\
	cmocka_unit_test_prestate_setup_teardown(fn, harness_store_setup,\
		harness_store_teardown, (st))

#endif /* POOLMGR_HARNESS_STORE_H */
