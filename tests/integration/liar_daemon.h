/*
 * liar_daemon.h - the fake daemon of the tests that a lying daemon cannot
 * crash or hang a client (itest_liar, itest_liar_features,
 * itest_liar_lists): how a test starts it, telling which lie, reads what
 * it saw and ends it; and how a child process ended.
 *
 * The daemon here is a fake written in the test: a SOCK_SEQPACKET listener
 * in a child process that speaks the protocol with protobuf-c.  It answers
 * Hello, OpenPool (a sealed memfd of max_size bytes and no share map),
 * ClosePool, Alloc, AllocBatch, Free and UsableSize truthfully, except the
 * first request of one kind, to which it tells one lie: the one fake_start
 * is given (enum lie, below; some are a daemon's age or ways, told to
 * every request they concern).  It serves one connection, until the
 * client hangs up or a lie ends it, and a request it does not answer it
 * refuses as an unknown one (-EOPNOTSUPP).
 *
 * Every client runs in a child process that reports through its exit code
 * (each failed check its own code, up to 255, and a line on stderr).  The
 * parent fails the test if the child crashes (a signal, told from an exit
 * code by WIFSIGNALED, so a check above 127 is never taken for one) or
 * hangs (killed after CLIENT_TIMEOUT_MS), and checks the requests the fake
 * saw, which it logs one per line through a pipe.
 *
 * The fake's code: liar_daemon.c, its life (started, serving, finished),
 * which request it lies to, what it sends, and the children waited for;
 * liar_pool.c, its replies about the pool and its blocks (opens, share
 * maps, allocations, batches, frees, usable sizes, lookups, persists);
 * liar_lists.c, its listings and statistics (pools, names, blocks, a
 * pool's user quotas, the daemon's figures).  What those three share and
 * no test needs is liar_fake.h.
 */
#ifndef POOLMGR_LIAR_DAEMON_H
#define POOLMGR_LIAR_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FAKE_POOL	"liar"
#define FAKE_SIZE	((uint64_t)1 << 20)
#define FAKE_G		16
#define FAKE_HANDLE	7		/* the first handle the fake gives */
#define CLIENT_TIMEOUT_MS 5000
#define LOG_MAX		8192

enum lie {
	LIE_NONE,
	/* OpenPool */
	LIE_OPEN_UNSEALED,
	LIE_OPEN_NO_GROW_SEAL,
	LIE_OPEN_NO_SHRINK_SEAL,
	LIE_OPEN_SMALLER,
	LIE_OPEN_LARGER,
	LIE_OPEN_NO_FD,
	LIE_OPEN_RDONLY_FD,
	LIE_OPEN_PIPE_FD,
	LIE_OPEN_HANDLE_0,
	LIE_OPEN_SAYS_READ_ONLY,
	LIE_OPEN_GRANULARITY_0,
	LIE_OPEN_GRANULARITY_24,
	LIE_OPEN_PAGE_0,
	LIE_HANG_UP,		/* answers the Open, then closes */
	/* Alloc */
	LIE_ALLOC_AT_END,
	LIE_ALLOC_RUNS_PAST_END,
	LIE_ALLOC_SMALLER,
	LIE_ALLOC_WRAPS,
	LIE_ALLOC_MISALIGNED,
	LIE_ALLOC_OFF_GRANULE,
	LIE_ALLOC_NO_BODY,
	LIE_ALLOC_WRONG_BODY,
	LIE_ALLOC_ERROR_4096,
	LIE_ALLOC_ERROR_INT_MIN,
	LIE_ALLOC_ERROR_POSITIVE,
	/* AllocBatch */
	LIE_BATCH_SHORT,
	LIE_BATCH_OUTSIDE,
	LIE_BATCH_OFF_GRANULE,
	LIE_BATCH_DUPLICATE,		/* the first block again, last */
	LIE_BATCH_OVERLAP,		/* the last inside the one before */
	LIE_BATCH_USABLE_OVERLAP,	/* a usable size into the next block */
	/* AllocBatch, a caching handle's refill */
	LIE_REFILL_DUPLICATE,
	LIE_REFILL_OVERLAP,
	/* UsableSize */
	LIE_USABLE_OTHER_OFFSET,
	/* the conversation (told in reply to an Alloc) */
	LIE_UNKNOWN_ID,
	LIE_ID_ZERO,
	LIE_UNDECODABLE,
	/* a frozen share map (every request) */
	LIE_MAP_OLD_DAEMON,	/* ShareMap unknown: -EOPNOTSUPP */
	LIE_MAP_UNSEALED,	/* ShareMap answered with an unsealed map */
	LIE_MAP_FROZEN_AGAIN,	/* ShareMap answered with a frozen map */
	/* Hello without features; Lookup.wait_ms ignored */
	LIE_OLD_LOOKUP,
	/* every waiting Lookup for LOOKUP_EINTR_MS answered -EINTR at once */
	LIE_LOOKUP_EINTR,
	/* Hello without bit 5; Alloc.wait_ms ignored */
	LIE_OLD_ALLOC,
	/*
	 * A waiting Lookup or Alloc held past its deadline, then answered
	 * -EINTR, as by a daemon that restarts in place meanwhile; the next
	 * waiting one answered -EDQUOT in the words of the quota per
	 * connection, -ETIMEDOUT in those of a wait that ran out, or with a
	 * block (a Lookup's of generation 1).  Then again, by turns.  Or
	 * held for half its wait only, then -EINTR, and the next answered
	 * -EDQUOT as above.
	 */
	RESTART_THEN_EDQUOT,
	RESTART_THEN_TIMEDOUT,
	RESTART_THEN_BLOCK,
	RESTART_EARLY_THEN_EDQUOT,
	/*
	 * Hello with bit 6, Alloc.persist ignored, as after a restart in
	 * place onto an older binary; Persist answered (-EDQUOT for a block
	 * of PERSIST_REFUSED_SIZE bytes).
	 */
	LIE_PERSIST_IGNORED,
	/*
	 * Hello with bit 6, Alloc.persist honoured (the block persistent,
	 * the handle holding none of it) but AllocReply.persisted not sent,
	 * as by a binary from before that field; a Free of that block before
	 * the handle retained it would end it.
	 */
	LIE_PERSIST_UNSAID,
	/*
	 * Hello with bits 6 and 10, AllocBatch.persist ignored (no
	 * AllocBatchReply.persisted), as after a restart in place onto an
	 * older binary; Persist answered (-EDQUOT for the batch's block of
	 * PERSIST_REFUSED_SIZE bytes).
	 */
	LIE_BATCH_PERSIST_IGNORED,
	/*
	 * A pool opened under FAKE_LIMIT, with a share map in use: the
	 * limit since removed, as the batch replies tell it (features bit
	 * 2), or as a daemon without the bit seems to tell it (limit and
	 * quota 0), or not told by a daemon with the bit (no fields: one
	 * that a restart in place replaced by an older binary).
	 */
	BOUNDS_SENT,
	LIE_BOUNDS_WITHOUT_BIT,
	LIE_BOUNDS_ABSENT,
	/*
	 * The whole connection refused (an id-0 reply, -EUSERS with
	 * REFUSAL_WORDS), then closed: once two Allocs have been read and
	 * left unanswered, or right after the Open is answered, before
	 * anything more is read.
	 */
	REFUSE_TWO_ALLOCS,
	REFUSE_AFTER_OPEN,
	/*
	 * Refused on reading an Alloc of REFUSED_SIZE, with other threads'
	 * UsableSize requests (answered -EINVAL) arriving all the while.
	 */
	REFUSE_AMID_OTHERS,
	/*
	 * ListPools: pages told truthfully (LIST_NONE stands for any other
	 * lie's fake), or all at once in the order made, as a daemon from
	 * before paging does; or a page that does not advance, one out of
	 * order, more left out with none listed, or pages without end.
	 */
	LIST_NONE,
	LIST_OLD,
	LIE_LIST_STUCK,
	LIE_LIST_UNSORTED,
	LIE_LIST_EMPTY_MORE,
	LIE_LIST_ENDLESS,
	/*
	 * ListBlocks (features bit 4): pages told truthfully, or a page
	 * whose next does not move on, one whose offsets go down, one of
	 * 129 blocks, one that starts below its from, one whose next is not
	 * past its last block, one block with 5 first holders, one with more
	 * listed than it has.
	 */
	BLOCKS_NONE,
	LIE_BLOCKS_STUCK,
	LIE_BLOCKS_DOWN,
	LIE_BLOCKS_129,
	LIE_BLOCKS_BEHIND,
	LIE_BLOCKS_NEXT_BACK,
	LIE_BLOCKS_5_HOLDERS,
	LIE_BLOCKS_HOLDERS_OVER,
	/*
	 * uids' own user quotas (features bit 11): a Stats of the pool told
	 * truthfully (UQUOTA_NONE: UQUOTA_TOLD's entries), or with 33
	 * entries, two out of order, one uid twice, one of nobody's uid, a
	 * count of 33 or a count the entries beside it belie.
	 */
	UQUOTA_NONE,
	LIE_UQUOTA_33,
	LIE_UQUOTA_UNSORTED,
	LIE_UQUOTA_TWICE,
	LIE_UQUOTA_NOBODY,
	LIE_UQUOTA_COUNT_33,
	LIE_UQUOTA_COUNT_BELIED,
	/*
	 * A Lookup with retain answered with a block and retained_now, by a
	 * fake whose Hello says bit 13, or one whose Hello does not.
	 */
	TOOK_SAID,
	LIE_TOOK_WITHOUT_BIT,
	/*
	 * ListNames answered as by a daemon from before paging by name (no
	 * bit 12): one reply from the prefix's first name, whatever after
	 * says, of at most NAMES_OLD_REPLY names, unlisted the rest.
	 */
	NAMES_OLD,
	/*
	 * A daemon of DaemonStats (bit 3) from before its fields 23 to 25,
	 * which also could not read its resident memory: it sends none of
	 * the four.
	 */
	STATUS_OLD,
};

/* The truthful fake's pools, and its page. */
#define LIST_POOLS	10
#define LIST_PAGE	3

/* The size of the Alloc that REFUSE_AMID_OTHERS refuses. */
#define REFUSED_SIZE	64

/*
 * The fake's refusal, with a control byte a terminal would act on, and the
 * words each refused call must leave in its thread's pool_last_message.
 */
#define REFUSAL_WORDS	"too many clients of this uid\033[2J connected"
#define REFUSAL_SHOWN	"too many clients of this uid?[2J connected"

/* The size of a block whose Persist the persist fakes refuse. */
#define PERSIST_REFUSED_SIZE	128

/* The truthful fake's blocks: BLOCKS_TOTAL, BLOCKS_PAGE a page. */
#define BLOCKS_TOTAL	10
#define BLOCKS_PAGE	4
#define BLOCKS_STEP	4096

/* The limit the fake opens its pool under, for the bounds cases. */
#define FAKE_LIMIT	((uint64_t)256 << 10)

/*
 * How long LIE_LOOKUP_EINTR interrupts every waiting Lookup.  A finite
 * wait of a fifth of it must end in it: the library's last try, a 1 ms
 * wait at the deadline, reaches the fake 800 ms before it answers (200
 * and 100 left 100 ms, which a loaded machine under TSan once took).
 */
#define LOOKUP_EINTR_MS		1000

/* The truthful entries, uid and bytes: sorted by uid, as a daemon's. */
#define UQUOTA_TOLD	3
extern const uint32_t uquota_told_uid[UQUOTA_TOLD];
extern const uint64_t uquota_told_bytes[UQUOTA_TOLD];

/* A fake daemon that fake_start started. */
struct fake {
	pid_t pid;
	char dir[64];
	char sock[128];
	int logfd;		/* read end: the requests the fake saw */
};

/*
 * Start a fake telling lie, in a child process, listening on f->sock (in
 * f->dir, a directory of its own) for one connection.  It gives up, and
 * fails, if no client connects, or its client sends nothing, for 10 s.
 * Fails the test if it cannot be started.
 */
void fake_start(struct fake *f, enum lie lie);

/*
 * How a child process ended.  An exit code and a signal are kept apart:
 * a client numbers its checks up to 255, so "128 + signal" would make a
 * check above 127 read as a crash.
 */
struct child_end {
	enum { CHILD_EXITED, CHILD_KILLED, CHILD_HUNG, CHILD_LOST } how;
	int code;	/* exit code, signal, ms waited, or errno */
};

/*
 * Wait for the fake (CLIENT_TIMEOUT_MS at most, then it is killed), read
 * its log into log (cap bytes with the NUL: the requests it saw, one a
 * line), remove its directory.  How it ended: exit code 0 if it served
 * its connection to the end.
 */
struct child_end fake_finish(struct fake *f, char *log, size_t cap);

/* Wait up to ms for pid, killing it if it is still running then. */
struct child_end wait_at_most(pid_t pid, long ms);
/* Did the child exit 0? */
bool child_passed(struct child_end e);
/*
 * How a child that did not pass ended, in words after its name ("the
 * client crashed with signal 11 (...)"); exited is what its exit code
 * means ("failed its check").
 */
const char *child_end_words(struct child_end e, const char *exited,
			    char *buf, size_t len);

#endif
