/*
 * itest_liar.c - a lying daemon cannot crash or hang a client.
 *
 * The daemon here is a fake written in the test: a SOCK_SEQPACKET listener
 * in a child process that speaks the protocol with protobuf-c.  It answers
 * Hello, OpenPool (a sealed memfd of max_size bytes and no share map),
 * ClosePool, Alloc, AllocBatch, Free and UsableSize truthfully, except the
 * first request of one kind, to which it tells one lie.  Each line below is
 * one lie and what libpoolclient must make of it:
 *
 *   OpenPool  the memfd is not sealed, or lacks F_SEAL_GROW or
 *             F_SEAL_SHRINK; it is smaller or larger than max_size; no fd
 *             comes with the reply; the fd is O_RDONLY for a read-write
 *             open; the fd is a pipe, not a memfd; the handle is 0; the
 *             reply says read-only for a read-write open; the granularity
 *             is 0 or 24, or the page size 0 (the client cache divides by
 *             them: a granularity of 0 once killed the client with
 *             SIGFPE when a share map came too): -EPROTO, no
 *             descriptor kept, the handle given back (ClosePool), and the
 *             next, truthful open works.
 *   Alloc     the offset is at or past the end of the pool, the block runs
 *             past the end, usable_size is smaller than asked or so large
 *             that offset + usable_size wraps, the offset is misaligned
 *             for pool_alloc_aligned (4096) or is not at the start of a
 *             granule (FAKE_G), the reply has no body or the
 *             wrong one, its error is outside -4095..-1 (-4096, INT32_MIN,
 *             5): -EPROTO, *out stays POOL_OFF_NONE, and the next truthful
 *             Alloc on the same connection works.
 *   AllocBatch fewer blocks than asked, one outside the pool, one not
 *             at the start of a granule, one block twice, two blocks that
 *             overlap, or a usable size that runs into the next block:
 *             -EPROTO, out[] as it was, and the next batch works.
 *   refill    the same batch lies told to a caching handle's refill (the
 *             fake sends a share map in use): the refill is refused, the
 *             block asked for comes alone (an Alloc), and no two blocks
 *             the program holds share a byte.
 *   UsableSize the answer is about another offset: -EPROTO, then the
 *             truthful answer.
 *   hang-up   the daemon answers an Open and closes the connection: the
 *             next calls are -ECONNRESET, with no SIGPIPE (the clients do
 *             not ignore it), and the mapping stays readable.
 *   any       a reply with an id nobody asked for, one with id 0 (a
 *             refusal of the connection) but no error, or bytes that do
 *             not decode (the first and last with a stray descriptor
 *             attached): -EPROTO for the call that waited, the connection
 *             is broken and every later call is -ECONNRESET (conn.c), the
 *             descriptors are closed, and closing and disconnecting
 *             return.
 *
 * The client asks for a share map with every read-write open; the fake
 * sends none, and the handle must still work, only without a cache: its
 * frees all reach the daemon and pool_set_cache is -EOPNOTSUPP.  Or the
 * fake sends a map frozen by a restart in place ("replaced") and, asked
 * for the new one, refuses as a daemon that knows no ShareMap does, sends
 * one not sealed, or one frozen in turn: the handle asks once, keeps a
 * frozen map (its allocations and frees all reach the daemon, one by one:
 * no refill to be given straight back) and no descriptor.
 *
 * The fake's HelloReply announces waiting lookups (features bit 0), and
 * it answers a Lookup that waits with -ETIMEDOUT, as if the wait had run
 * out: at once, which for a wait without end (-1) is a lie, -EPROTO, not
 * a loop asking again.  Or (LIE_LOOKUP_EINTR) it answers -EINTR at once,
 * again and again for LOOKUP_EINTR_MS, as no daemon restarting in place
 * would: the library must ask again after a pause, not spin, and still
 * end a finite wait at its time.  Or (RESTART_THEN_*) it holds a waiting
 * Lookup or Alloc past its deadline and answers -EINTR, as a daemon that
 * restarts in place then does, and answers the next one -EDQUOT, in the
 * words of the quota per connection, -ETIMEDOUT, in those of a wait that
 * ran out, or with a block: the library asks once more, not a part and
 * waiting the least (a wait of 0 would be the plain request, a lookup of
 * any generation), and that answer is the wait's: -EDQUOT or -ETIMEDOUT
 * in the daemon's words, made to say the whole wait, or the block.  One
 * held half its wait only is asked again for the time left, and the
 * -EDQUOT that ends it says the whole wait too.  Or it is a daemon from
 * before them (LIE_OLD_LOOKUP): no feature
 * bits, and every Lookup answered at once, wait_ms or not.  A lookup
 * that would wait is then -EOPNOTSUPP and never sent; one that would not
 * is the plain lookup it always was.  `poolctl wait` says so.  Likewise
 * for allocations that wait (bit 5): the fake answers an Alloc with
 * wait_ms -ETIMEDOUT at once, which for a wait without end is -EPROTO,
 * asked once; a daemon without the bit (LIE_OLD_ALLOC) is never asked
 * to wait (-EOPNOTSUPP, nothing sent), and timeout 0 is a plain Alloc.
 * A fake without bit 6: an allocation made persistent as it is made is
 * -EOPNOTSUPP, never sent, with or without a wait; none says bit 7, so a
 * free of a persistent block by its age is -EOPNOTSUPP, never sent.  Two announce it, as
 * older binaries a restart in place put under a connection: one ignores
 * Alloc.persist (LIE_PERSIST_IGNORED: the library persists the block and
 * drops its reference), one honours it without saying so
 * (LIE_PERSIST_UNSAID: the library's Free must not end the block).
 * A retaining Lookup answered with retained_now (bit 13) by a fake that
 * says the bit (TOOK_SAID) has pool_lookup_wait_took say 1; by one that
 * does not (LIE_TOOK_WITHOUT_BIT), as no daemon without it would, 0: a
 * caller freeing on its word could drop a hold it had before.
 * A batch of such blocks (bit 10) likewise: a fake without the bit is
 * never sent one (-EOPNOTSUPP), and one that says it but ignores
 * AllocBatch.persist (LIE_BATCH_PERSIST_IGNORED) has the library persist
 * each block and drop its references, or, a Persist refused, give every
 * block back, those persisted by a second Free.
 * The fake announces pools' limits too (bit 1), and the daemon from before them
 * does not: a create or a set with a limit is then -EOPNOTSUPP and never
 * sent (the daemon would make or leave the pool without one), one
 * without a limit is sent as ever.  A user quota likewise (bit 8): the
 * fake from before allocations that wait (LIE_OLD_ALLOC) knows limits but
 * not user quotas, and is sent a limit but no user quota.  `poolctl
 * create` and `set` say which of the two the daemon is too old for.
 * uids' own user quotas likewise (bit 11), which only the fakes of
 * UQUOTA_NONE and its lies say: to the others, pool_user_quota_get,
 * pool_user_quota_modify, pool_create_user_quotas and
 * pool_set_user_quotas with entries are -EOPNOTSUPP, unsent (a create
 * or a set without entries is sent).  The fakes
 * that say it answer a Stats of the pool with three entries, or with
 * 33, two out of order, a uid twice or nobody's uid: -EPROTO from
 * pool_user_quota_get and pool_stats_by_name alike, each asked once.
 * Names in pages likewise (bit 12), which no fake says: pool_names_after
 * is -EOPNOTSUPP, unsent, with an after or without, while pool_names is
 * sent.  `poolctl names` then asks the one reply (NAMES_OLD answers it as
 * such a daemon did: from the first name, some left out): a reply that
 * leaves names out is printed, said on stderr, and exit 1.
 *
 * A pool opened under a limit (with a share map in use, so a cache) whose
 * limit is then removed: a daemon that says its batch replies carry the
 * pool's limit and quota (bit 2) and sends them makes the cache's budget
 * follow, from 1/16 of the limit to 1/16 of the size; one without the
 * bit, whose replies read limit 0, and one with the bit whose replies
 * lack the fields, leave the budget the open gave.
 *
 * The fake refuses the whole connection (an id-0 reply, -EUSERS and words
 * with an escape byte in them, then it closes) while two threads of one
 * client have an Alloc each in flight: once it has read both, or before
 * it reads either, so that a send fails.  Each call is -EUSERS with the
 * words, the escape byte shown as '?', in its own thread's
 * pool_last_message (a call begun once the other thread had found the
 * connection refused may be -ECONNRESET instead, without words); every
 * later call is -ECONNRESET, without them.  And once more, a hundred
 * times over, with one thread's Alloc the one refused while three others
 * keep asking (UsableSize): whichever thread reads the refusal, and
 * whichever send the close makes fail, the refused Alloc is -EUSERS.
 *
 * ListPools, answered in pages (LIST_NONE: LIST_POOLS names, LIST_PAGE a
 * page, each after ListPools.after): pool_list asks from the last name
 * until unlisted is 0 and gets every name once, in order.  A daemon from
 * before paging (LIST_OLD) sends them all at once, not in name order, and
 * is asked once.  Lies, each -EPROTO with nothing kept, no descriptor
 * left open, nothing leaked (the client exits through exit(3), so that
 * LeakSanitizer looks) and a bounded count of requests: a page that does
 * not advance (the first one again, whatever after says), one whose names
 * are not in order, more left out but no entry, and pages that go on
 * without end, each after the last, always one more left out.
 *
 * `poolctl status` against a daemon of DaemonStats from before its fields
 * 23 to 25 (STATUS_OLD), that could not read its resident memory either:
 * the four are "unknown" in the text, null in JSON, and have no kv line
 * or metric, where they once read 0.
 *
 * Every client runs in a child process that reports through its exit code
 * (each failed check its own code, up to 255, and a line on stderr).  The
 * parent fails the test if the child crashes (a signal, told from an exit
 * code by WIFSIGNALED, so a check above 127 is never taken for one) or
 * hangs (killed after CLIENT_TIMEOUT_MS), and checks the requests the fake
 * saw, which it logs one per line through a pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "poolclient.h"
#include "poolmgr.pb-c.h"

#define FAKE_POOL	"liar"
#define FAKE_SIZE	((uint64_t)1 << 20)
#define FAKE_G		16
#define FAKE_HANDLE	7		/* the first handle the fake gives */
#define FAKE_MAX_BLOCKS	256
#define MAX_MESSAGE	65536
#define FAKE_IDLE_MS	10000		/* an abandoned fake gives up */
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

#define REFUSED_SIZE	64

/*
 * The fake's refusal, with a control byte a terminal would act on, and the
 * words each refused call must leave in its thread's pool_last_message.
 */
#define REFUSAL_WORDS	"too many clients of this uid\033[2J connected"
#define REFUSAL_SHOWN	"too many clients of this uid?[2J connected"

/* HelloReply.features: the bits the fake can announce. */
#define FEATURE_LOOKUP_WAIT	((uint64_t)1 << 0)
#define FEATURE_POOL_LIMIT	((uint64_t)1 << 1)
#define FEATURE_BATCH_BOUNDS	((uint64_t)1 << 2)
#define FEATURE_DAEMON_STATS	((uint64_t)1 << 3)
#define FEATURE_LIST_BLOCKS	((uint64_t)1 << 4)
#define FEATURE_ALLOC_WAIT	((uint64_t)1 << 5)
#define FEATURE_ALLOC_PERSIST	((uint64_t)1 << 6)
#define FEATURE_USER_QUOTA	((uint64_t)1 << 8)
#define FEATURE_BATCH_PERSIST	((uint64_t)1 << 10)
#define FEATURE_USER_QUOTAS	((uint64_t)1 << 11)
#define FEATURE_RETAINED_NOW	((uint64_t)1 << 13)
#define PERSIST_REFUSED_SIZE	128

/* The truthful fake's blocks: BLOCKS_TOTAL, BLOCKS_PAGE a page. */
#define BLOCKS_TOTAL	10
#define BLOCKS_PAGE	4
#define BLOCKS_STEP	4096

/* The limit the fake opens its pool under, for the bounds cases. */
#define FAKE_LIMIT	((uint64_t)256 << 10)

/* Does the fake open its pool under FAKE_LIMIT, with a share map? */
static bool
bounds_case(enum lie lie)
{
	return lie == BOUNDS_SENT || lie == LIE_BOUNDS_WITHOUT_BIT ||
	       lie == LIE_BOUNDS_ABSENT;
}

/* Does the fake lie to a refill (so send a share map in use)? */
static bool
refill_case(enum lie lie)
{
	return lie == LIE_REFILL_DUPLICATE || lie == LIE_REFILL_OVERLAP;
}

/* How long LIE_LOOKUP_EINTR interrupts every waiting Lookup. */
#define LOOKUP_EINTR_MS		200

/* The waits the RESTART_THEN_* fakes hold past their deadline. */
#define RESTART_WAIT_MS		100

/* Does the fake hold waiting requests past their deadline, then -EINTR? */
static bool
restart_case(enum lie lie)
{
	return lie == RESTART_THEN_EDQUOT || lie == RESTART_THEN_TIMEDOUT ||
	       lie == RESTART_THEN_BLOCK || lie == RESTART_EARLY_THEN_EDQUOT;
}

/* What the client does to meet the lie. */
enum call {
	CALL_OPEN,		/* pool_open: -EPROTO, then works */
	CALL_ALLOC,		/* pool_alloc: -EPROTO, then works */
	CALL_ALIGNED,		/* pool_alloc_aligned 4096: the same */
	CALL_BATCH,		/* pool_alloc_batch: the same */
	CALL_USABLE,		/* pool_usable_size: the same */
	CALL_REFILL,		/* pool_alloc through a cache: works */
	CALL_BREAKS,		/* pool_alloc: -EPROTO, then -ECONNRESET */
	CALL_GONE,		/* the daemon hung up: -ECONNRESET */
};

struct lie_case {
	enum lie lie;
	enum call call;
	const char *what;
};

static const struct lie_case open_lies[] = {
	{LIE_OPEN_UNSEALED, CALL_OPEN, "an Open memfd without seals"},
	{LIE_OPEN_NO_GROW_SEAL, CALL_OPEN, "an Open memfd without F_SEAL_GROW"},
	{LIE_OPEN_NO_SHRINK_SEAL, CALL_OPEN,
	 "an Open memfd without F_SEAL_SHRINK"},
	{LIE_OPEN_SMALLER, CALL_OPEN, "an Open memfd smaller than max_size"},
	{LIE_OPEN_LARGER, CALL_OPEN, "an Open memfd larger than max_size"},
	{LIE_OPEN_NO_FD, CALL_OPEN, "an Open reply without an fd"},
	{LIE_OPEN_RDONLY_FD, CALL_OPEN,
	 "an O_RDONLY fd for a read-write Open"},
	{LIE_OPEN_PIPE_FD, CALL_OPEN, "an Open reply carrying a pipe"},
	{LIE_OPEN_HANDLE_0, CALL_OPEN, "an Open reply with handle 0"},
	{LIE_OPEN_SAYS_READ_ONLY, CALL_OPEN,
	 "an Open reply saying read-only to a read-write open"},
	{LIE_OPEN_GRANULARITY_0, CALL_OPEN, "an Open reply with granularity 0"},
	{LIE_OPEN_GRANULARITY_24, CALL_OPEN,
	 "an Open reply with granularity 24 (not a power of two)"},
	{LIE_OPEN_PAGE_0, CALL_OPEN, "an Open reply with page size 0"},
};

static const struct lie_case alloc_lies[] = {
	{LIE_ALLOC_AT_END, CALL_ALLOC, "an Alloc offset at the pool's end"},
	{LIE_ALLOC_RUNS_PAST_END, CALL_ALLOC,
	 "an Alloc block running past the end"},
	{LIE_ALLOC_SMALLER, CALL_ALLOC,
	 "an Alloc usable_size smaller than asked"},
	{LIE_ALLOC_WRAPS, CALL_ALLOC,
	 "an Alloc offset + usable_size that wraps"},
	{LIE_ALLOC_MISALIGNED, CALL_ALIGNED,
	 "a misaligned offset for pool_alloc_aligned(4096)"},
	{LIE_ALLOC_OFF_GRANULE, CALL_ALLOC,
	 "an Alloc offset inside a granule"},
	{LIE_ALLOC_NO_BODY, CALL_ALLOC, "an Alloc reply without a body"},
	{LIE_ALLOC_WRONG_BODY, CALL_ALLOC,
	 "an Alloc reply with a Stats body"},
	{LIE_BATCH_SHORT, CALL_BATCH,
	 "an AllocBatch reply with fewer blocks than asked"},
	{LIE_BATCH_OUTSIDE, CALL_BATCH,
	 "an AllocBatch reply with a block outside the pool"},
	{LIE_BATCH_OFF_GRANULE, CALL_BATCH,
	 "an AllocBatch reply with a block inside a granule"},
	{LIE_BATCH_DUPLICATE, CALL_BATCH,
	 "an AllocBatch reply with one block twice"},
	{LIE_BATCH_OVERLAP, CALL_BATCH,
	 "an AllocBatch reply with two blocks that overlap"},
	{LIE_BATCH_USABLE_OVERLAP, CALL_BATCH,
	 "an AllocBatch usable size running into the next block"},
	{LIE_REFILL_DUPLICATE, CALL_REFILL,
	 "a refill with one block twice"},
	{LIE_REFILL_OVERLAP, CALL_REFILL,
	 "a refill with two blocks that overlap"},
	{LIE_USABLE_OTHER_OFFSET, CALL_USABLE,
	 "a UsableSize reply about another offset"},
};

static const struct lie_case conversation_lies[] = {
	{LIE_ALLOC_ERROR_4096, CALL_ALLOC, "error -4096"},
	{LIE_ALLOC_ERROR_INT_MIN, CALL_ALLOC, "error INT32_MIN"},
	{LIE_ALLOC_ERROR_POSITIVE, CALL_ALLOC, "error 5"},
	{LIE_UNKNOWN_ID, CALL_BREAKS, "a reply with an unknown id"},
	{LIE_ID_ZERO, CALL_BREAKS, "a reply with id 0 and no error"},
	{LIE_UNDECODABLE, CALL_BREAKS, "a reply that does not decode"},
	{LIE_HANG_UP, CALL_GONE, "a daemon that hangs up"},
};

/* ---- the fake daemon (runs in a child process) ------------------------- */

struct fake {
	pid_t pid;
	char dir[64];
	char sock[128];
	int logfd;		/* read end: the requests the fake saw */
};

struct fake_state {
	enum lie lie;
	bool lied;
	uint32_t next_handle;
	uint64_t next_off;
	uint64_t off[FAKE_MAX_BLOCKS], usable[FAKE_MAX_BLOCKS];
	unsigned nblocks;
	unsigned allocs_held;		/* REFUSE_TWO_ALLOCS: unanswered */
	uint64_t last_size;		/* the last Alloc's size */
	uint64_t unheld_off;		/* LIE_PERSIST_UNSAID's block, */
	bool unheld;			/* ... while the handle holds none */
	uint64_t refused_off;		/* the batch's PERSIST_REFUSED_SIZE */
	bool refused_set;		/* ... block, if it had one */
	uint64_t first_wait_ms;		/* LIE_LOOKUP_EINTR's first, or 0 */
	bool wait_held;			/* RESTART_THEN_*: the last waiting
					 * request was held, then -EINTR */
	unsigned endless;		/* LIE_LIST_ENDLESS's pools so far */
	unsigned interrupted;		/* and how many it interrupted */
	FILE *log;
};

/* Is this request the one to lie to? */
static bool
lie_now(struct fake_state *fs, Poolmgr__Request__BodyCase body)
{
	Poolmgr__Request__BodyCase target;

	switch (fs->lie) {
	case LIE_NONE: case LIE_MAP_OLD_DAEMON: case LIE_MAP_UNSEALED:
	case LIE_MAP_FROZEN_AGAIN: case LIE_OLD_LOOKUP: case LIE_LOOKUP_EINTR:
	case LIE_OLD_ALLOC: case LIE_PERSIST_IGNORED: case LIE_PERSIST_UNSAID:
	case RESTART_THEN_EDQUOT: case RESTART_THEN_TIMEDOUT:
	case RESTART_THEN_BLOCK: case RESTART_EARLY_THEN_EDQUOT:
	case LIE_BATCH_PERSIST_IGNORED:
	case BOUNDS_SENT: case LIE_BOUNDS_WITHOUT_BIT: case LIE_BOUNDS_ABSENT:
	case REFUSE_TWO_ALLOCS: case REFUSE_AFTER_OPEN:
	case REFUSE_AMID_OTHERS: case LIST_NONE: case LIST_OLD:
	case LIE_LIST_STUCK: case LIE_LIST_UNSORTED: case LIE_LIST_EMPTY_MORE:
	case LIE_LIST_ENDLESS:
	case BLOCKS_NONE: case LIE_BLOCKS_STUCK: case LIE_BLOCKS_DOWN:
	case LIE_BLOCKS_129: case LIE_BLOCKS_BEHIND: case LIE_BLOCKS_NEXT_BACK:
	case LIE_BLOCKS_5_HOLDERS: case LIE_BLOCKS_HOLDERS_OVER:
	case UQUOTA_NONE: case LIE_UQUOTA_33: case LIE_UQUOTA_UNSORTED:
	case LIE_UQUOTA_TWICE: case LIE_UQUOTA_NOBODY:
	case LIE_UQUOTA_COUNT_33: case LIE_UQUOTA_COUNT_BELIED:
	case TOOK_SAID: case LIE_TOOK_WITHOUT_BIT: case STATUS_OLD:
		return false;
	case LIE_OPEN_UNSEALED: case LIE_OPEN_NO_GROW_SEAL:
	case LIE_OPEN_NO_SHRINK_SEAL: case LIE_OPEN_SMALLER:
	case LIE_OPEN_LARGER: case LIE_OPEN_NO_FD: case LIE_OPEN_RDONLY_FD:
	case LIE_OPEN_PIPE_FD: case LIE_OPEN_HANDLE_0:
	case LIE_OPEN_SAYS_READ_ONLY: case LIE_OPEN_GRANULARITY_0:
	case LIE_OPEN_GRANULARITY_24: case LIE_OPEN_PAGE_0: case LIE_HANG_UP:
		target = POOLMGR__REQUEST__BODY_OPEN;
		break;
	case LIE_BATCH_SHORT: case LIE_BATCH_OUTSIDE:
	case LIE_BATCH_OFF_GRANULE: case LIE_BATCH_DUPLICATE:
	case LIE_BATCH_OVERLAP: case LIE_BATCH_USABLE_OVERLAP:
	case LIE_REFILL_DUPLICATE: case LIE_REFILL_OVERLAP:
		target = POOLMGR__REQUEST__BODY_ALLOC_BATCH;
		break;
	case LIE_USABLE_OTHER_OFFSET:
		target = POOLMGR__REQUEST__BODY_USABLE_SIZE;
		break;
	default:
		target = POOLMGR__REQUEST__BODY_ALLOC;
		break;
	}
	if (fs->lied || body != target)
		return false;
	fs->lied = true;
	return true;
}

static int
fake_send(int fd, const Poolmgr__Reply *rep, const int *fds, int nfds)
{
	static uint8_t buf[MAX_MESSAGE];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = buf};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	size_t len = poolmgr__reply__get_packed_size(rep);

	if (len > sizeof(buf))
		return -1;
	poolmgr__reply__pack(rep, buf);
	iov.iov_len = len;
	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Raw bytes with one descriptor attached (the conversation lies). */
static int
fake_send_bytes(int fd, const uint8_t *buf, size_t len, int passfd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf)};
	struct cmsghdr *c;

	memset(&cm, 0, sizeof(cm));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The reply to req, its body and error yet to be set. */
static Poolmgr__Reply
fake_reply(const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;

	rep.id = req->id;
	return rep;
}

/* The daemon refusing the whole connection, as poolmgrd past a limit. */
static int
fake_refuse(struct fake_state *fs, int cfd)
{
	Poolmgr__Reply rep = POOLMGR__REPLY__INIT;

	fprintf(fs->log, "refused\n");
	rep.id = 0;
	rep.error = -EUSERS;
	rep.message = REFUSAL_WORDS;
	return fake_send(cfd, &rep, NULL, 0);
}

/* A memfd of size bytes with the given seals; -1 on failure. */
static int
fake_memfd(uint64_t size, unsigned seals)
{
	int fd = memfd_create("liar-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd == -1)
		return -1;
	if (ftruncate(fd, (off_t)size) == -1 ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals) == -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The share map a daemon restarted in place leaves: every bit set, the
 * state 0, "replaced" 1; sealed as the daemon seals it unless unsealed.
 * Or (not frozen) one in use with no block shared.  Its size in *size;
 * the memfd, or -1.
 */
static int
fake_map(bool frozen, bool unsealed, uint64_t *size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t bits = (FAKE_SIZE / FAKE_G / 8 + page - 1) & ~(page - 1);
	uint64_t one = 1;
	unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE |
			 F_SEAL_SEAL;
	uint8_t *m;
	int fd = fake_memfd(bits + page, 0);

	if (fd == -1)
		return -1;
	m = mmap(NULL, bits + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		close(fd);
		return -1;
	}
	if (frozen) {
		memset(m, 0xff, bits);
		memcpy(m + bits + 8, &one, sizeof(one));
	}
	munmap(m, bits + page);
	if (!unsealed && fcntl(fd, F_ADD_SEALS, seals) == -1) {
		close(fd);
		return -1;
	}
	*size = bits + page;
	return fd;
}

/* ShareMap: an old daemon's refusal, an unsealed map, or a frozen one. */
static int
fake_share_map(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ShareMapReply srep = POOLMGR__SHARE_MAP_REPLY__INIT;
	int fd, rc;

	fprintf(fs->log, "share_map %u\n", req->share_map->handle);
	if (fs->lie == LIE_MAP_OLD_DAEMON) {
		rep.error = -EOPNOTSUPP;
		return fake_send(cfd, &rep, NULL, 0);
	}
	fd = fake_map(true, fs->lie == LIE_MAP_UNSEALED,
		      &srep.share_map_size);
	if (fd == -1)
		return -1;
	rep.body_case = POOLMGR__REPLY__BODY_SHARE_MAP;
	rep.share_map = &srep;
	rc = fake_send(cfd, &rep, &fd, 1);
	close(fd);
	return rc;
}

/* The truthful block for size bytes aligned to align; 0 or -ENOMEM. */
static int
fake_block(struct fake_state *fs, uint64_t size, uint64_t align,
	   uint64_t *off, uint64_t *usable)
{
	uint64_t a = align > FAKE_G ? align : FAKE_G;
	uint64_t o = (fs->next_off + a - 1) & ~(a - 1);
	uint64_t u = (size + FAKE_G - 1) & ~(uint64_t)(FAKE_G - 1);

	if (size == 0 || size > FAKE_SIZE || o > FAKE_SIZE - u ||
	    fs->nblocks == FAKE_MAX_BLOCKS)
		return -ENOMEM;
	fs->off[fs->nblocks] = o;
	fs->usable[fs->nblocks++] = u;
	fs->next_off = o + u;
	*off = o;
	*usable = u;
	return 0;
}

static int
fake_open(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__OpenReply orep = POOLMGR__OPEN_REPLY__INIT;
	const Poolmgr__OpenPool *m = req->open;
	unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	uint64_t size = FAKE_SIZE;
	int fds[2], nfds = 1, memfd, pfd[2] = {-1, -1}, rc;
	bool lie = lie_now(fs, req->body_case);
	char path[64];

	fprintf(fs->log, "open %s %s share_map=%d\n", m->name ? m->name : "",
		m->read_only ? "ro" : "rw", m->want_share_map ? 1 : 0);
	if (lie && fs->lie == LIE_OPEN_UNSEALED)
		seals = 0;
	if (lie && fs->lie == LIE_OPEN_NO_GROW_SEAL)
		seals = F_SEAL_SHRINK | F_SEAL_SEAL;
	if (lie && fs->lie == LIE_OPEN_NO_SHRINK_SEAL)
		seals = F_SEAL_GROW | F_SEAL_SEAL;
	if (lie && fs->lie == LIE_OPEN_SMALLER)
		size = FAKE_SIZE / 2;
	if (lie && fs->lie == LIE_OPEN_LARGER)
		size = FAKE_SIZE * 2;
	if ((memfd = fake_memfd(size, seals)) == -1)
		return -1;
	fds[0] = memfd;
	if (m->read_only || (lie && fs->lie == LIE_OPEN_RDONLY_FD)) {
		/* What the real daemon does: a new read-only description. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
		if ((fds[0] = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			close(memfd);
			return -1;
		}
	}
	if (lie && fs->lie == LIE_OPEN_PIPE_FD) {
		if (pipe(pfd) == -1) {
			close(memfd);
			return -1;
		}
		fds[0] = pfd[0];
	}
	if (lie && fs->lie == LIE_OPEN_NO_FD)
		nfds = 0;

	orep.handle = fs->next_handle++;
	if (lie && fs->lie == LIE_OPEN_HANDLE_0)
		orep.handle = 0;
	orep.max_size = FAKE_SIZE;
	orep.granularity = FAKE_G;
	if (lie && fs->lie == LIE_OPEN_GRANULARITY_0)
		orep.granularity = 0;
	if (lie && fs->lie == LIE_OPEN_GRANULARITY_24)
		orep.granularity = 24;
	orep.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	if (lie && fs->lie == LIE_OPEN_PAGE_0)
		orep.page_size = 0;
	orep.read_only = m->read_only ||
			 (lie && fs->lie == LIE_OPEN_SAYS_READ_ONLY);
	orep.share_map_size = 0;	/* asked for or not: none sent */
	if ((fs->lie == LIE_MAP_OLD_DAEMON || fs->lie == LIE_MAP_UNSEALED ||
	     fs->lie == LIE_MAP_FROZEN_AGAIN) &&
	    m->want_share_map && !m->read_only) {
		if ((fds[1] = fake_map(true, false,
				       &orep.share_map_size)) == -1) {
			close(memfd);
			return -1;
		}
		nfds = 2;
	}
	if ((bounds_case(fs->lie) || refill_case(fs->lie)) &&
	    m->want_share_map && !m->read_only) {
		if ((fds[1] = fake_map(false, false,
				       &orep.share_map_size)) == -1) {
			close(memfd);
			return -1;
		}
		nfds = 2;
		if (bounds_case(fs->lie))
			orep.limit = FAKE_LIMIT;
	}
	rep.body_case = POOLMGR__REPLY__BODY_OPEN;
	rep.open = &orep;
	rc = fake_send(cfd, &rep, fds, nfds);
	if (fds[0] != memfd)
		close(fds[0]);
	if (nfds == 2)
		close(fds[1]);
	close(memfd);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (rc == 0 && lie && fs->lie == LIE_HANG_UP)
		return 1;	/* and go away */
	if (rc == 0 && fs->lie == REFUSE_AFTER_OPEN)
		return fake_refuse(fs, cfd) == 0 ? 1 : -1;
	return rc;
}

/*
 * RESTART_THEN_*: a waiting Lookup or Alloc (req, of size bytes, aligned
 * to align; a Lookup's 64, 0) that follows none held is held past its
 * deadline, a millisecond more than its wait_ms from now (the client read
 * its clock before it sent it), then answered -EINTR, as by a daemon that
 * restarts in place meanwhile; RESTART_EARLY_THEN_EDQUOT's for half its
 * wait_ms only.  The next is answered as the lie says, in the daemon's
 * words for a wait of its wait_ms, and logged with its wait and whether
 * it is a part (a Lookup's never is).
 */
static int
fake_restart_wait(struct fake_state *fs, int cfd, const Poolmgr__Request *req,
		  uint32_t wait_ms, bool part, uint64_t size, uint64_t align)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__AllocReply ar = POOLMGR__ALLOC_REPLY__INIT;
	bool lookup = req->body_case == POOLMGR__REQUEST__BODY_LOOKUP;
	uint64_t until = harness_now_ms() +
			 (fs->lie == RESTART_EARLY_THEN_EDQUOT ? wait_ms / 2
							       : wait_ms + 1);
	char words[256];

	if (!fs->wait_held) {
		fs->wait_held = true;
		while (harness_now_ms() < until)
			(void)poll(NULL, 0, 1);
		fprintf(fs->log, "held %u\n", wait_ms);
		rep.error = -EINTR;
		rep.message = "the daemon restarts in place: ask again for the "
			      "time left";
		return fake_send(cfd, &rep, NULL, 0);
	}
	fs->wait_held = false;
	fprintf(fs->log, "asked again wait_ms=%u part=%d\n", wait_ms,
		(int)part);
	if (fs->lie == RESTART_THEN_EDQUOT ||
	    fs->lie == RESTART_EARLY_THEN_EDQUOT) {
		snprintf(words, sizeof(words), "allocating %llu bytes would "
			 "pass pool %s's quota of 4.0 KiB per connection (its "
			 "blocks and its uid's persistent and named ones "
			 "count), still after %u ms", (unsigned long long)size,
			 FAKE_POOL, wait_ms);
		rep.error = -EDQUOT;
	} else if (fs->lie == RESTART_THEN_TIMEDOUT && lookup) {
		snprintf(words, sizeof(words), "no generation of 'frame' "
			 "above %llu came in pool %s in %u ms",
			 (unsigned long long)req->lookup->after_generation,
			 FAKE_POOL, wait_ms);
		rep.error = -ETIMEDOUT;
	} else if (fs->lie == RESTART_THEN_TIMEDOUT) {
		snprintf(words, sizeof(words), "no room came for %llu bytes in "
			 "pool %s in %u ms", (unsigned long long)size,
			 FAKE_POOL, wait_ms);
		rep.error = -ETIMEDOUT;
	} else if ((rep.error = fake_block(fs, size, align, &ar.offset,
					   &ar.usable_size)) != 0) {
		snprintf(words, sizeof(words), "no room in the fake");
	} else {
		ar.generation = lookup;
		rep.body_case = POOLMGR__REPLY__BODY_ALLOC;
		rep.alloc = &ar;
	}
	if (rep.error)
		rep.message = words;
	return fake_send(cfd, &rep, NULL, 0);
}

/* Alloc, and the lies told in reply to one. */
static int
fake_alloc(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__AllocReply ar = POOLMGR__ALLOC_REPLY__INIT;
	Poolmgr__PoolStats st = POOLMGR__POOL_STATS__INIT;
	const Poolmgr__Alloc *m = req->alloc;
	bool lie = lie_now(fs, req->body_case);
	uint64_t off = 0, usable = 0;
	Poolmgr__Reply *check;
	int rc, stray;

	fprintf(fs->log, "alloc %llu align %llu\n",
		(unsigned long long)m->size, (unsigned long long)m->align);
	if (m->wait_ms)
		fprintf(fs->log, "alloc_wait %u\n", m->wait_ms);
	if (m->persist)
		fprintf(fs->log, "alloc_persist\n");
	fs->last_size = m->size;
	if (m->wait_ms && restart_case(fs->lie))
		return fake_restart_wait(fs, cfd, req, m->wait_ms,
					 m->wait_part, m->size, m->align);
	/*
	 * A daemon that can wait says the wait ran out, at once; one from
	 * before waiting allocations ignores wait_ms.
	 */
	if (m->wait_ms && fs->lie != LIE_OLD_ALLOC) {
		rep.error = -ETIMEDOUT;
		return fake_send(cfd, &rep, NULL, 0);
	}
	/* Both calls in flight, neither answered: then the refusal. */
	if (fs->lie == REFUSE_TWO_ALLOCS) {
		if (++fs->allocs_held < 2)
			return 0;
		return fake_refuse(fs, cfd) == 0 ? 1 : -1;
	}
	if (fs->lie == REFUSE_AMID_OTHERS && m->size == REFUSED_SIZE)
		return fake_refuse(fs, cfd) == 0 ? 1 : -1;
	rc = fake_block(fs, m->size, m->align, &off, &usable);
	if (rc) {
		rep.error = rc;
		rep.message = "no room in the fake";
		return fake_send(cfd, &rep, NULL, 0);
	}
	ar.offset = off;
	ar.usable_size = usable;
	rep.body_case = POOLMGR__REPLY__BODY_ALLOC;
	rep.alloc = &ar;
	if (fs->lie == LIE_PERSIST_UNSAID && m->persist) {
		fs->unheld_off = off;
		fs->unheld = true;
	}
	if (!lie)
		return fake_send(cfd, &rep, NULL, 0);

	switch (fs->lie) {
	case LIE_ALLOC_AT_END:
		ar.offset = FAKE_SIZE;
		break;
	case LIE_ALLOC_RUNS_PAST_END:
		ar.offset = FAKE_SIZE - FAKE_G;
		ar.usable_size = 2 * FAKE_G + usable;
		break;
	case LIE_ALLOC_SMALLER:
		ar.usable_size = m->size - 1;
		break;
	case LIE_ALLOC_WRAPS:
		ar.usable_size = UINT64_MAX - FAKE_G + 1;
		break;
	case LIE_ALLOC_MISALIGNED:
		ar.offset = off + FAKE_G;	/* aligned to 16 only */
		break;
	case LIE_ALLOC_OFF_GRANULE:
		/* Inside the pool, room to spare, but no block starts there. */
		ar.offset = off + FAKE_G / 2;
		break;
	case LIE_ALLOC_NO_BODY:
		rep.body_case = POOLMGR__REPLY__BODY__NOT_SET;
		rep.alloc = NULL;
		break;
	case LIE_ALLOC_WRONG_BODY:
		st.name = FAKE_POOL;
		st.max_size = FAKE_SIZE;
		rep.body_case = POOLMGR__REPLY__BODY_STATS;
		rep.stats = &st;
		break;
	case LIE_ALLOC_ERROR_4096:
		rep.error = -4096;
		break;
	case LIE_ALLOC_ERROR_INT_MIN:
		rep.error = INT32_MIN;
		break;
	case LIE_ALLOC_ERROR_POSITIVE:
		rep.error = 5;
		break;
	case LIE_UNKNOWN_ID:
		rep.id = req->id + 1000;
		break;
	case LIE_ID_ZERO:
		/* Id 0 is the daemon refusing the connection: not with 0. */
		rep.id = 0;
		break;
	case LIE_UNDECODABLE:
		/* Make sure it really does not decode. */
		check = poolmgr__reply__unpack(NULL, sizeof(garbage), garbage);
		if (check) {
			poolmgr__reply__free_unpacked(check, NULL);
			fprintf(fs->log, "fake: the garbage decodes\n");
			return -1;
		}
		if ((stray = fake_memfd(4096, 0)) == -1)
			return -1;
		rc = fake_send_bytes(cfd, garbage, sizeof(garbage), stray);
		close(stray);
		return rc;
	default:
		break;
	}
	if (fs->lie == LIE_UNKNOWN_ID) {
		/* With a descriptor: it must be closed, not kept. */
		if ((stray = fake_memfd(4096, 0)) == -1)
			return -1;
		rc = fake_send(cfd, &rep, &stray, 1);
		close(stray);
		return rc;
	}
	return fake_send(cfd, &rep, NULL, 0);
}

static int
fake_alloc_batch(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static uint64_t offs[64], usable[64];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__AllocBatchReply br = POOLMGR__ALLOC_BATCH_REPLY__INIT;
	const Poolmgr__AllocBatch *m = req->alloc_batch;
	/* Two blocks at least, to have one to repeat or overlap. */
	bool lie = m->n_sizes >= 2 && lie_now(fs, req->body_case);
	size_t i, n = m->n_sizes;
	int rc;

	fprintf(fs->log, "alloc_batch %zu\n", m->n_sizes);
	if (m->persist)
		fprintf(fs->log, "alloc_batch_persist\n");
	fs->refused_set = false;
	if (m->n_sizes == 0 || m->n_sizes > 64) {
		rep.error = -E2BIG;
		return fake_send(cfd, &rep, NULL, 0);
	}
	for (i = 0; i < m->n_sizes; i++) {
		if ((rc = fake_block(fs, m->sizes[i], 0, &offs[i],
				     &usable[i]))) {
			rep.error = rc;
			return fake_send(cfd, &rep, NULL, 0);
		}
		if (m->sizes[i] == PERSIST_REFUSED_SIZE) {
			fs->refused_off = offs[i];
			fs->refused_set = true;
		}
	}
	br.n_offsets = br.n_usable_sizes = m->n_sizes;
	br.offsets = offs;
	br.usable_sizes = usable;
	if (lie && fs->lie == LIE_BATCH_SHORT)
		br.n_offsets = br.n_usable_sizes = m->n_sizes - 1;
	if (lie && fs->lie == LIE_BATCH_OUTSIDE)
		offs[m->n_sizes - 1] = FAKE_SIZE + 4096;
	if (lie && fs->lie == LIE_BATCH_OFF_GRANULE)
		offs[m->n_sizes - 1] += FAKE_G / 2;
	/* Each of these blocks on its own is one a daemon could give. */
	if (lie && (fs->lie == LIE_BATCH_DUPLICATE ||
		    fs->lie == LIE_REFILL_DUPLICATE))
		offs[n - 1] = offs[0];
	if (lie && (fs->lie == LIE_BATCH_OVERLAP ||
		    fs->lie == LIE_REFILL_OVERLAP))
		offs[n - 1] = offs[n - 2] + FAKE_G;
	if (lie && fs->lie == LIE_BATCH_USABLE_OVERLAP)
		usable[n - 2] += FAKE_G;
	/* The bounds cases: the limit since removed, quota none. */
	if (fs->lie == BOUNDS_SENT || fs->lie == LIE_BOUNDS_WITHOUT_BIT) {
		br.pool_limit_case =
		    POOLMGR__ALLOC_BATCH_REPLY__POOL_LIMIT_LIMIT;
		br.pool_quota_case =
		    POOLMGR__ALLOC_BATCH_REPLY__POOL_QUOTA_QUOTA;
	}
	rep.body_case = POOLMGR__REPLY__BODY_ALLOC_BATCH;
	rep.alloc_batch = &br;
	return fake_send(cfd, &rep, NULL, 0);
}

/* FreeBatch: every block freed; the bounds as fake_alloc_batch's. */
static int
fake_free_batch(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__FreeBatchReply fr = POOLMGR__FREE_BATCH_REPLY__INIT;

	fprintf(fs->log, "free_batch %zu\n", req->free_batch->n_offsets);
	if (fs->lie == BOUNDS_SENT || fs->lie == LIE_BOUNDS_WITHOUT_BIT) {
		fr.pool_limit_case =
		    POOLMGR__FREE_BATCH_REPLY__POOL_LIMIT_LIMIT;
		fr.pool_quota_case =
		    POOLMGR__FREE_BATCH_REPLY__POOL_QUOTA_QUOTA;
		rep.body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
		rep.free_batch = &fr;
	}
	return fake_send(cfd, &rep, NULL, 0);
}

static int
fake_usable_size(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__AllocReply ar = POOLMGR__ALLOC_REPLY__INIT;
	uint64_t off = req->usable_size->offset;
	bool lie = lie_now(fs, req->body_case);
	unsigned i;

	if (fs->lie != REFUSE_AMID_OTHERS)
		fprintf(fs->log, "usable_size %llu\n",
			(unsigned long long)off);
	for (i = 0; i < fs->nblocks && fs->off[i] != off; i++)
		;
	if (i == fs->nblocks) {
		rep.error = -EINVAL;
		return fake_send(cfd, &rep, NULL, 0);
	}
	ar.offset = lie ? off + fs->usable[i] : off;
	ar.usable_size = fs->usable[i];
	rep.body_case = POOLMGR__REPLY__BODY_ALLOC;
	rep.alloc = &ar;
	return fake_send(cfd, &rep, NULL, 0);
}

/*
 * LIE_LOOKUP_EINTR: a waiting Lookup within LOOKUP_EINTR_MS of the first
 * is answered -EINTR at once, and counted but not logged (a client that
 * spins would fill the log's pipe); after, a block, generation 1, and the
 * count logged.
 */
static int
fake_lookup_interrupted(struct fake_state *fs, int cfd,
			const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__AllocReply ar = POOLMGR__ALLOC_REPLY__INIT;
	uint64_t now = harness_now_ms();
	int rc;

	if (fs->first_wait_ms == 0)
		fs->first_wait_ms = now;
	if (now - fs->first_wait_ms < LOOKUP_EINTR_MS) {
		fs->interrupted++;
		rep.error = -EINTR;
		return fake_send(cfd, &rep, NULL, 0);
	}
	fprintf(fs->log, "lookup interrupted %u\n", fs->interrupted);
	if ((rc = fake_block(fs, 64, 0, &ar.offset, &ar.usable_size))) {
		rep.error = rc;
		return fake_send(cfd, &rep, NULL, 0);
	}
	ar.generation = 1;
	rep.body_case = POOLMGR__REPLY__BODY_ALLOC;
	rep.alloc = &ar;
	return fake_send(cfd, &rep, NULL, 0);
}

/*
 * TOOK_SAID, LIE_TOOK_WITHOUT_BIT: a Lookup with retain is answered at
 * once, waiting or not, with a new block of generation 1 whose retain
 * the reply says gave the handle its reference.
 */
static int
fake_lookup_took(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__AllocReply ar = POOLMGR__ALLOC_REPLY__INIT;

	if ((rep.error = fake_block(fs, 64, 0, &ar.offset,
				    &ar.usable_size)) != 0)
		return fake_send(cfd, &rep, NULL, 0);
	ar.generation = 1;
	ar.retained_now = true;
	rep.body_case = POOLMGR__REPLY__BODY_ALLOC;
	rep.alloc = &ar;
	return fake_send(cfd, &rep, NULL, 0);
}

/*
 * Lookup: no name is ever published here.  A daemon that can wait says the
 * wait ran out; one from before waiting lookups says -ENOENT at once.
 */
static int
fake_lookup(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	const Poolmgr__Lookup *m = req->lookup;

	if (m->wait_ms && fs->lie == LIE_LOOKUP_EINTR)
		return fake_lookup_interrupted(fs, cfd, req);
	fprintf(fs->log, "lookup %.*s wait_ms=%u after=%llu retain=%d\n",
		(int)m->name.len, (const char *)m->name.data, m->wait_ms,
		(unsigned long long)m->after_generation, (int)m->retain);
	if (m->wait_ms && restart_case(fs->lie))
		return fake_restart_wait(fs, cfd, req, m->wait_ms, false, 64,
					 0);
	if (m->retain && (fs->lie == TOOK_SAID ||
			  fs->lie == LIE_TOOK_WITHOUT_BIT))
		return fake_lookup_took(fs, cfd, req);
	rep.error = m->wait_ms && fs->lie != LIE_OLD_LOOKUP ? -ETIMEDOUT
							    : -ENOENT;
	return fake_send(cfd, &rep, NULL, 0);
}

/*
 * A ListPools: LIST_PAGE of the truthful pools after req's after when
 * paged, else all of them; or the lie.  Its names are "l0".."l9"; a
 * daemon from before paging made them in another order.
 */
static int
fake_list(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static const char order_made[LIST_POOLS + 1] = "5183092746";
	static char names[64][8];
	static Poolmgr__PoolStats st[64];
	static Poolmgr__PoolStats *ptrs[64];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ListPoolsReply lr = POOLMGR__LIST_POOLS_REPLY__INIT;
	const char *after = req->list->after ? req->list->after : "";
	unsigned i, n = 0, most = req->list->paged ? LIST_PAGE : LIST_POOLS;

	fprintf(fs->log, "list after=%s paged=%d\n", after,
		(int)req->list->paged);
	for (i = 0; i < LIST_POOLS; i++) {
		snprintf(names[n], sizeof(names[n]), "l%c",
			 fs->lie == LIST_OLD ? order_made[i] : (char)('0' + i));
		if (fs->lie == LIST_OLD || strcmp(names[n], after) > 0)
			n++;
	}
	lr.unlisted = n > most && fs->lie != LIST_OLD ? n - most : 0;
	n = n - lr.unlisted;
	switch (fs->lie) {
	case LIE_LIST_STUCK:		/* the first page, again and again */
		for (i = 0; i < LIST_PAGE; i++)
			snprintf(names[i], sizeof(names[i]), "l%u", i);
		n = LIST_PAGE;
		lr.unlisted = LIST_POOLS - LIST_PAGE;
		break;
	case LIE_LIST_UNSORTED:
		snprintf(names[0], sizeof(names[0]), "l9");
		break;
	case LIE_LIST_EMPTY_MORE:
		n = 0;
		break;
	case LIE_LIST_ENDLESS:		/* 64 more after each, always */
		for (n = 0; n < 64; n++)
			snprintf(names[n], sizeof(names[n]), "e%06u",
				 fs->endless++);
		lr.unlisted = 1;
		break;
	default:
		break;
	}
	for (i = 0; i < n; i++) {
		poolmgr__pool_stats__init(&st[i]);
		st[i].name = names[i];
		st[i].max_size = FAKE_SIZE;
		st[i].granularity = FAKE_G;
		ptrs[i] = &st[i];
	}
	lr.n_pools = n;
	lr.pools = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_LIST;
	rep.list = &lr;
	return fake_send(cfd, &rep, NULL, 0);
}

/* NAMES_OLD's names, in byte order, and the most its one reply lists. */
static const char *const old_names[] = {"a/0", "a/1", "b/0", "b/1", "b/2"};
#define NAMES_OLD_REPLY	3

/*
 * A ListNames, as NAMES_OLD answers it: logged with its prefix and the
 * bytes of its after, which no client may send to such a daemon.
 */
static int
fake_names(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static Poolmgr__NamedBlock nb[NAMES_OLD_REPLY];
	static Poolmgr__NamedBlock *ptrs[NAMES_OLD_REPLY];
	const Poolmgr__ListNames *m = req->names;
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ListNamesReply lr = POOLMGR__LIST_NAMES_REPLY__INIT;
	size_t i, k = 0;

	fprintf(fs->log, "names pool=%s prefix=%.*s after=%zu\n",
		m->pool && m->pool->name ? m->pool->name : "",
		(int)m->prefix.len, m->prefix.len ? (char *)m->prefix.data : "",
		m->after.len);
	for (i = 0; i < sizeof(old_names) / sizeof(old_names[0]); i++) {
		if (m->prefix.len && strncmp(old_names[i],
		    (const char *)m->prefix.data, m->prefix.len) != 0)
			continue;
		if (k == NAMES_OLD_REPLY) {
			lr.unlisted++;
			continue;
		}
		poolmgr__named_block__init(&nb[k]);
		nb[k].name.data = (uint8_t *)old_names[i];
		nb[k].name.len = strlen(old_names[i]);
		nb[k].offset = (i + 1) * BLOCKS_STEP;
		nb[k].usable_size = 64;
		nb[k].generation = i + 1;
		ptrs[k] = &nb[k];
		k++;
	}
	lr.n_names = k;
	lr.names = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_NAMES;
	rep.names = &lr;
	return fake_send(cfd, &rep, NULL, 0);
}

/* Is lie one of ListBlocks' (so the fake announces the request)? */
static bool
blocks_case(enum lie lie)
{
	return lie >= BLOCKS_NONE && lie <= LIE_BLOCKS_HOLDERS_OVER;
}

/*
 * A ListBlocks: the truthful fake's blocks at k * BLOCKS_STEP from req's
 * from on, BLOCKS_PAGE a page, each with one holder; or the lie, told of
 * the first page.
 */
static int
fake_blocks(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static Poolmgr__BlockInfo bi[BLOCKS_PAGE + 129];
	static Poolmgr__BlockInfo *ptrs[BLOCKS_PAGE + 129];
	static Poolmgr__BlockHolder bh[5];
	static Poolmgr__BlockHolder *hptrs[5];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__ListBlocksReply lr = POOLMGR__LIST_BLOCKS_REPLY__INIT;
	uint64_t from = req->list_blocks->from;
	unsigned i, k, n = 0;

	fprintf(fs->log, "blocks from=%llu pid=%u handle=%u\n",
		(unsigned long long)from, req->list_blocks->pid,
		req->list_blocks->handle);
	k = (unsigned)((from + BLOCKS_STEP - 1) / BLOCKS_STEP);
	for (; k < BLOCKS_TOTAL && n < BLOCKS_PAGE; k++, n++) {
		poolmgr__block_info__init(&bi[n]);
		bi[n].offset = (uint64_t)k * BLOCKS_STEP;
		bi[n].usable_size = bi[n].requested = 64;
		bi[n].holders = 1;
		bi[n].n_first_holders = 1;
		bi[n].first_holders = hptrs;
		ptrs[n] = &bi[n];
	}
	for (i = 0; i < 5; i++) {
		poolmgr__block_holder__init(&bh[i]);
		bh[i].pid = 4242;
		bh[i].handle = i + 1;
		hptrs[i] = &bh[i];
	}
	lr.done = k >= BLOCKS_TOTAL;
	lr.next = (uint64_t)k * BLOCKS_STEP;
	switch (fs->lie) {
	case LIE_BLOCKS_STUCK:		/* nothing, and no further on */
		n = 0;
		lr.next = from;
		lr.done = false;
		break;
	case LIE_BLOCKS_DOWN:
		bi[2].offset = bi[1].offset - 16;
		break;
	case LIE_BLOCKS_129:
		for (n = 0; n < 129; n++) {
			poolmgr__block_info__init(&bi[n]);
			bi[n].offset = (uint64_t)n * 64;
			bi[n].usable_size = 64;
			ptrs[n] = &bi[n];
		}
		lr.next = 129 * 64;
		break;
	case LIE_BLOCKS_BEHIND:		/* asked from 4096 */
		bi[0].offset = 0;
		break;
	case LIE_BLOCKS_NEXT_BACK:
		lr.next = bi[n - 1].offset;
		break;
	case LIE_BLOCKS_5_HOLDERS:
		bi[1].holders = 5;
		bi[1].n_first_holders = 5;
		break;
	case LIE_BLOCKS_HOLDERS_OVER:
		bi[1].n_first_holders = 2;
		break;
	default:
		break;
	}
	lr.n_blocks = n;
	lr.blocks = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_BLOCKS;
	rep.blocks = &lr;
	return fake_send(cfd, &rep, NULL, 0);
}

/* One request: answer it (or lie).  0, 1 to hang up, or -1 to stop. */
/* Is lie one of the user quota entries' (so the fake says bit 11)? */
static bool
uquota_case(enum lie lie)
{
	return lie >= UQUOTA_NONE && lie <= LIE_UQUOTA_COUNT_BELIED;
}

/* The truthful entries, uid and bytes: sorted by uid, as a daemon's. */
#define UQUOTA_TOLD	3
static const uint32_t uquota_told_uid[UQUOTA_TOLD] = {7, 1000, 1001};
static const uint64_t uquota_told_bytes[UQUOTA_TOLD] = {0, 1 << 20, 1 << 16};

/*
 * A Stats of the pool, by name: its statistics with the entries the lie
 * says (the truthful ones for every other fake that says bit 11).
 */
static int
fake_stats(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	static Poolmgr__UserQuota e[POOL_USER_QUOTA_MAX + 1];
	static Poolmgr__UserQuota *ptrs[POOL_USER_QUOTA_MAX + 1];
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__PoolStats st = POOLMGR__POOL_STATS__INIT;
	unsigned i, n = UQUOTA_TOLD;

	fprintf(fs->log, "stats %s\n", req->stats->name ? req->stats->name :
		"(by handle)");
	if (fs->lie == LIE_UQUOTA_33)
		n = POOL_USER_QUOTA_MAX + 1;
	for (i = 0; i < n; i++) {
		poolmgr__user_quota__init(&e[i]);
		e[i].uid = i < UQUOTA_TOLD ? uquota_told_uid[i] : 2000 + i;
		e[i].bytes = i < UQUOTA_TOLD ? uquota_told_bytes[i] : 4096;
		ptrs[i] = &e[i];
	}
	if (fs->lie == LIE_UQUOTA_UNSORTED)
		e[0].uid = 5000;
	else if (fs->lie == LIE_UQUOTA_TWICE)
		e[2].uid = e[1].uid;
	else if (fs->lie == LIE_UQUOTA_NOBODY)
		e[2].uid = UINT32_MAX;
	if (fs->lie == LIE_UQUOTA_COUNT_33)
		st.user_quota_entries = POOL_USER_QUOTA_MAX + 1;
	else if (fs->lie == LIE_UQUOTA_COUNT_BELIED)
		st.user_quota_entries = n - 1;
	st.name = FAKE_POOL;
	st.max_size = FAKE_SIZE;
	st.granularity = FAKE_G;
	st.n_user_quotas = n;
	st.user_quotas = ptrs;
	rep.body_case = POOLMGR__REPLY__BODY_STATS;
	rep.stats = &st;
	return fake_send(cfd, &rep, NULL, 0);
}

/* The fakes that say features bit 6 (and answer Persist and Retain). */
static bool
persist_lie(enum lie lie)
{
	return lie == LIE_PERSIST_IGNORED || lie == LIE_PERSIST_UNSAID ||
	       lie == LIE_BATCH_PERSIST_IGNORED;
}

/*
 * A Free, logged: "free_ends_persistent" for LIE_PERSIST_UNSAID's block
 * while the handle holds none of it, which a daemon would end.
 */
static void
fake_free_logged(struct fake_state *fs, uint64_t off)
{
	bool ends = fs->lie == LIE_PERSIST_UNSAID && fs->unheld &&
		    off == fs->unheld_off;

	fprintf(fs->log, "%s %llu\n", ends ? "free_ends_persistent" : "free",
		(unsigned long long)off);
}

/*
 * Persist (-EDQUOT for a block of PERSIST_REFUSED_SIZE bytes, where
 * persist was ignored) and Retain, which gives LIE_PERSIST_UNSAID's
 * block a holder.
 */
static int
fake_persist_op(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);

	if (req->body_case == POOLMGR__REQUEST__BODY_RETAIN) {
		fprintf(fs->log, "retain %llu\n",
			(unsigned long long)req->retain->offset);
		if (req->retain->offset == fs->unheld_off)
			fs->unheld = false;
		return fake_send(cfd, &rep, NULL, 0);
	}
	fprintf(fs->log, "persist %llu\n",
		(unsigned long long)req->persist->offset);
	if (fs->lie == LIE_PERSIST_IGNORED &&
	    fs->last_size == PERSIST_REFUSED_SIZE)
		rep.error = -EDQUOT;
	if (fs->lie == LIE_BATCH_PERSIST_IGNORED && fs->refused_set &&
	    req->persist->offset == fs->refused_off)
		rep.error = -EDQUOT;
	return fake_send(cfd, &rep, NULL, 0);
}

/* STATUS_OLD: the figures of a daemon before fields 23 to 25, no
 * resident memory read. */
static int
fake_daemon_stats(struct fake_state *fs, int cfd, const Poolmgr__Request *req)
{
	Poolmgr__Reply rep = fake_reply(req);
	Poolmgr__DaemonStatsReply r = POOLMGR__DAEMON_STATS_REPLY__INIT;

	fprintf(fs->log, "daemon stats\n");
	r.server = "a liar";
	r.pid = 4242;
	r.max_connections = 1024;
	r.connections = 1;
	r.requests_total = 7;
	r.features = FEATURE_DAEMON_STATS;
	rep.body_case = POOLMGR__REPLY__BODY_DAEMON_STATS;
	rep.daemon_stats = &r;
	return fake_send(cfd, &rep, NULL, 0);
}

static int
fake_serve_one(struct fake_state *fs, int cfd, const uint8_t *buf,
	       size_t len)
{
	Poolmgr__HelloReply hr = POOLMGR__HELLO_REPLY__INIT;
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	Poolmgr__Reply rep;
	int rc = 0;

	if (!req) {
		fprintf(fs->log, "fake: a request that does not decode\n");
		return -1;
	}
	rep = fake_reply(req);
	switch (req->body_case) {
	case POOLMGR__REQUEST__BODY_HELLO:
		fprintf(fs->log, "hello %u\n", req->hello->version);
		hr.version = 1;
		hr.max_message = MAX_MESSAGE;
		hr.server = "a liar";
		if (fs->lie != LIE_OLD_LOOKUP && fs->lie != LIST_OLD)
			hr.features = FEATURE_LOOKUP_WAIT | FEATURE_POOL_LIMIT;
		if (hr.features && fs->lie != LIE_OLD_ALLOC)
			hr.features |= FEATURE_ALLOC_WAIT | FEATURE_USER_QUOTA;
		if (persist_lie(fs->lie))
			hr.features |= FEATURE_ALLOC_PERSIST;
		if (fs->lie == LIE_BATCH_PERSIST_IGNORED)
			hr.features |= FEATURE_BATCH_PERSIST;
		if (fs->lie == BOUNDS_SENT || fs->lie == LIE_BOUNDS_ABSENT)
			hr.features |= FEATURE_BATCH_BOUNDS;
		if (blocks_case(fs->lie))
			hr.features |= FEATURE_LIST_BLOCKS;
		if (uquota_case(fs->lie))
			hr.features |= FEATURE_USER_QUOTAS;
		if (fs->lie == TOOK_SAID)
			hr.features |= FEATURE_RETAINED_NOW;
		if (fs->lie == STATUS_OLD)
			hr.features |= FEATURE_DAEMON_STATS;
		rep.body_case = POOLMGR__REPLY__BODY_HELLO;
		rep.hello = &hr;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_OPEN:
		rc = fake_open(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_CLOSE:
		fprintf(fs->log, "close %u\n", req->close->handle);
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_ALLOC:
		rc = fake_alloc(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_ALLOC_BATCH:
		rc = fake_alloc_batch(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_FREE:
		fake_free_logged(fs, req->free->offset);
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_FREE_BATCH:
		rc = fake_free_batch(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_USABLE_SIZE:
		rc = fake_usable_size(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_SHARE_MAP:
		rc = fake_share_map(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_LOOKUP:
		rc = fake_lookup(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_LIST:
		rc = fake_list(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_LIST_BLOCKS:
		rc = fake_blocks(fs, cfd, req);
		break;
	case POOLMGR__REQUEST__BODY_STATS:
		if (uquota_case(fs->lie)) {
			rc = fake_stats(fs, cfd, req);
			break;
		}
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_NAMES:
		if (fs->lie == NAMES_OLD) {
			rc = fake_names(fs, cfd, req);
			break;
		}
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_DAEMON_STATS:
		if (fs->lie == STATUS_OLD) {
			rc = fake_daemon_stats(fs, cfd, req);
			break;
		}
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	case POOLMGR__REQUEST__BODY_PERSIST:
	case POOLMGR__REQUEST__BODY_RETAIN:
		if (persist_lie(fs->lie)) {
			rc = fake_persist_op(fs, cfd, req);
			break;
		}
		__attribute__((fallthrough));	/* the others know none */
	default:
		fprintf(fs->log, "request %d\n", (int)req->body_case);
		rep.error = -EOPNOTSUPP;
		rc = fake_send(cfd, &rep, NULL, 0);
		break;
	}
	poolmgr__request__free_unpacked(req, NULL);
	fflush(fs->log);
	return rc;
}

/* The fake's life: one connection, served until the client hangs up. */
static int
fake_main(int lfd, enum lie lie, FILE *log)
{
	static uint8_t buf[MAX_MESSAGE + 1];
	struct fake_state fs = {.lie = lie, .next_handle = FAKE_HANDLE,
				.log = log};
	struct pollfd pfd = {.fd = lfd, .events = POLLIN};
	ssize_t n;
	int cfd, rc;

	if (poll(&pfd, 1, FAKE_IDLE_MS) != 1)
		return 2;
	if ((cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return 3;
	close(lfd);
	pfd.fd = cfd;
	for (;;) {
		if (poll(&pfd, 1, FAKE_IDLE_MS) != 1)
			return 4;
		n = recv(cfd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			break;
		if (n < 0)
			return 5;
		rc = fake_serve_one(&fs, cfd, buf, (size_t)n);
		if (rc == 1) {
			fprintf(log, "hung up\n");
			close(cfd);
			return 0;
		}
		if (rc != 0)
			return 6;
	}
	fprintf(log, "eof\n");
	close(cfd);
	return 0;
}

static void
fake_start(struct fake *f, enum lie lie)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int lfd, pipefd[2], rc;
	FILE *log;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/poolmgr-liar.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/liar.sock", f->dir);
	memcpy(sun.sun_path, f->sock, strlen(f->sock) + 1);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	/*
	 * The fake leaves by _exit, which does not flush stdio, but under
	 * ThreadSanitizer output pending here was printed a second time.
	 */
	fflush(stdout);
	fflush(stderr);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(pipefd[0]);
		if (!(log = fdopen(pipefd[1], "w")))
			_exit(1);
		rc = fake_main(lfd, lie, log);
		fclose(log);	/* _exit would not flush it */
		_exit(rc);
	}
	close(pipefd[1]);
	close(lfd);
	f->logfd = pipefd[0];
}

/*
 * How a child process ended.  An exit code and a signal are kept apart:
 * a client numbers its checks up to 255, so "128 + signal" would make a
 * check above 127 read as a crash.
 */
struct child_end {
	enum { CHILD_EXITED, CHILD_KILLED, CHILD_HUNG, CHILD_LOST } how;
	int code;	/* exit code, signal, ms waited, or errno */
};

/* Wait up to ms for pid, killing it if it is still running then. */
static struct child_end
wait_at_most(pid_t pid, long ms)
{
	struct child_end e;
	int status;
	long waited;

	for (waited = 0; waited <= ms; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid && WIFSIGNALED(status)) {
			e.how = CHILD_KILLED;
			e.code = WTERMSIG(status);
			return e;
		}
		if (r == pid) {
			/* Without WUNTRACED, what did not die exited. */
			assert_true(WIFEXITED(status));
			e.how = CHILD_EXITED;
			e.code = WEXITSTATUS(status);
			return e;
		}
		if (r == -1) {
			e.how = CHILD_LOST;
			e.code = errno;
			return e;
		}
		harness_sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	e.how = CHILD_HUNG;
	e.code = (int)ms;
	return e;
}

static bool
child_passed(struct child_end e)
{
	return e.how == CHILD_EXITED && e.code == 0;
}

/*
 * How a child that did not pass ended, in words after its name ("the
 * client crashed with signal 11 (...)"); exited is what its exit code
 * means ("failed its check").
 */
static const char *
child_end_words(struct child_end e, const char *exited, char *buf,
		size_t len)
{
	switch (e.how) {
	case CHILD_EXITED:
		snprintf(buf, len, "%s %d", exited, e.code);
		break;
	case CHILD_KILLED:
		snprintf(buf, len, "crashed with signal %d (%s)", e.code,
			 strsignal(e.code));
		break;
	case CHILD_HUNG:
		snprintf(buf, len, "hung (killed after %d ms)", e.code);
		break;
	case CHILD_LOST:
		snprintf(buf, len, "could not be waited for (%s)",
			 strerror(e.code));
		break;
	}
	return buf;
}

/* Fail unless the client passed, saying how it ended and what the fake saw. */
static void
expect_client_passed(struct child_end e, const char *what, const char *log)
{
	char words[128];

	if (!child_passed(e))
		fail_msg("%s: the client %s; the fake saw:\n%s", what,
			 child_end_words(e, "failed its check", words,
					 sizeof(words)), log);
}

/* Fail unless the fake daemon ended well. */
static void
expect_fake_passed(struct child_end e, const char *what, const char *log)
{
	char words[128];

	if (!child_passed(e))
		fail_msg("%s: the fake daemon %s; it saw:\n%s", what,
			 child_end_words(e, "failed with exit code", words,
					 sizeof(words)), log);
}

/* Wait for the fake, read its log into log, remove its directory. */
static struct child_end
fake_finish(struct fake *f, char *log, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	struct child_end rc = wait_at_most(f->pid, CLIENT_TIMEOUT_MS);

	while (n + 1 < cap && (r = read(f->logfd, log + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	log[n] = '\0';
	close(f->logfd);
	unlink(f->sock);
	rmdir(f->dir);
	return rc;
}

/* ---- the clients (run in child processes) ------------------------------ */

struct client_arg {
	const char *sock;
	const struct lie_case *lc;
};

/* Open descriptors of this process. */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}

/*
 * In a client child: connect to the fake at sock and open its pool, into
 * *c and *p; a failed connect ends the child with code, a failed open
 * with code + 1.
 */
#define CHECK_FAKE_POOL_OPEN(sock, c, p, code)				\
	do {								\
		CHECK_RC(pool_connect((sock), (c)), 0, (code));		\
		CHECK_RC(pool_open(*(c), FAKE_POOL, (p)), 0,		\
			 (code) + 1);					\
	} while (0)

/* The fake's pool closed, and the connection it was opened on. */
static void
fake_pool_close(struct pool_conn *c, struct pool *p)
{
	pool_close(p);
	pool_disconnect(c);
}

/* The handle works: a block to write and read, freed again. */
static int
use_handle(struct pool *p)
{
	pool_off_t off = POOL_OFF_NONE;
	uint8_t *b;
	int i;

	CHECK_RC(pool_alloc(p, 256, &off), 0, 20);
	CHECK(off < FAKE_SIZE && off % FAKE_G == 0, 21);
	CHECK((b = pool_ptr(p, off)) != NULL, 22);
	memset(b, 0x5a, 256);
	for (i = 0; i < 256; i++)
		CHECK(b[i] == 0x5a, 23);
	CHECK_RC(pool_free(p, off), 0, 24);
	return 0;
}

static int
client_open_lie(struct pool_conn *c)
{
	struct pool *p = (struct pool *)&p;	/* not NULL: must be reset */
	int fds = count_fds(), rc;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), -EPROTO, 30);
	CHECK(p == NULL, 31);
	CHECK(count_fds() == fds, 32);
	/* The connection is fine; the next, truthful, open works. */
	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 33);
	CHECK(pool_size(p) == FAKE_SIZE, 34);
	if ((rc = use_handle(p)))
		return rc;
	pool_close(p);
	return 0;
}

static int
client_block_lie(struct pool_conn *c, enum call call)
{
	size_t sizes[4] = {100, 200, 300, 400}, us = 0;
	pool_off_t off = 1, offs[4] = {1, 1, 1, 1}, good;
	struct pool *p;
	int i, rc;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 40);
	/* The first Alloc is the lie's, when it is an Alloc's. */
	switch (call) {
	case CALL_ALLOC:
		CHECK_RC(pool_alloc(p, 100, &off), -EPROTO, 42);
		CHECK(off == POOL_OFF_NONE, 43);
		break;
	case CALL_ALIGNED:
		CHECK_RC(pool_alloc_aligned(p, 100, 4096, &off), -EPROTO, 44);
		CHECK(off == POOL_OFF_NONE, 45);
		CHECK_RC(pool_alloc_aligned(p, 100, 4096, &off), 0, 46);
		CHECK(off % 4096 == 0, 47);
		break;
	case CALL_BATCH:
		CHECK_RC(pool_alloc_batch(p, 4, sizes, offs), -EPROTO, 48);
		/* Refused: the caller's array is as it was. */
		for (i = 0; i < 4; i++)
			CHECK(offs[i] == 1, 56);
		CHECK_RC(pool_alloc_batch(p, 4, sizes, offs), 0, 49);
		for (i = 0; i < 4; i++)
			CHECK(offs[i] < FAKE_SIZE, 50);
		break;
	case CALL_USABLE:
		CHECK_RC(pool_alloc(p, 64, &good), 0, 41);
		CHECK_RC(pool_usable_size(p, good, &us), -EPROTO, 51);
		CHECK_RC(pool_usable_size(p, good, &us), 0, 52);
		CHECK(us == 64, 53);
		break;
	default:
		return 54;
	}
	/* Same connection, same handle: the next requests are answered. */
	if (call != CALL_USABLE)
		CHECK_RC(pool_alloc(p, 64, &good), 0, 41);
	if ((rc = use_handle(p)))
		return rc;
	CHECK_RC(pool_free(p, good), 0, 55);
	pool_close(p);
	return 0;
}

#define REFILL_BLOCKS	16

/*
 * A caching handle takes REFILL_BLOCKS blocks of 64 bytes, the first
 * refill's a lie: every block it gets is its own, byte for byte.
 */
static int
client_refill_lie(struct pool_conn *c)
{
	pool_off_t offs[REFILL_BLOCKS];
	struct pool *p;
	uint8_t *b;
	int i, j;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 103);
	CHECK_RC(pool_set_cache(p, 1 << 20), 0, 104);	/* whatever the env */
	for (i = 0; i < REFILL_BLOCKS; i++) {
		CHECK_RC(pool_alloc(p, 64, &offs[i]), 0, 105);
		CHECK((b = pool_ptr(p, offs[i])) != NULL, 106);
		memset(b, i, 64);
	}
	for (i = 0; i < REFILL_BLOCKS; i++)
		for (j = 0; j < i; j++)
			CHECK(offs[i] >= offs[j] + 64 ||
			      offs[j] >= offs[i] + 64, 107);
	for (i = 0; i < REFILL_BLOCKS; i++) {
		b = pool_ptr(p, offs[i]);
		for (j = 0; j < 64; j++)
			CHECK(b[j] == i, 108);
	}
	for (i = 0; i < REFILL_BLOCKS; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 109);
	pool_close(p);
	return 0;
}

static int
client_broken_by_lie(struct pool_conn *c)
{
	struct pool_stats st;
	pool_off_t off = 1;
	struct pool *p;
	int fds;

	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 60);
	fds = count_fds();
	CHECK_RC(pool_alloc(p, 100, &off), -EPROTO, 61);
	CHECK(off == POOL_OFF_NONE, 62);
	/* The descriptor that came with the lie was closed. */
	CHECK(count_fds() == fds, 63);
	/* Nobody can tell whose reply is next: the connection is done. */
	CHECK_RC(pool_alloc(p, 100, &off), -ECONNRESET, 64);
	CHECK_RC(pool_stats(p, &st), -ECONNRESET, 65);
	CHECK_RC(pool_free(p, 0), -ECONNRESET, 66);
	pool_close(p);
	return 0;
}

static int
client_daemon_gone(struct pool_conn *c)
{
	struct pool_stats st;
	pool_off_t off = 1;
	struct pool *p;

	/* The Open was answered before the daemon went. */
	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 80);
	harness_sleep_ms(50);	/* its close has arrived */
	/* A send to a closed socket: no SIGPIPE (not ignored here). */
	CHECK_RC(pool_alloc(p, 100, &off), -ECONNRESET, 81);
	CHECK(off == POOL_OFF_NONE, 82);
	CHECK_RC(pool_stats(p, &st), -ECONNRESET, 83);
	/* The mapping stays readable. */
	CHECK(((volatile uint8_t *)pool_ptr(p, 0))[FAKE_SIZE - 1] == 0, 84);
	pool_close(p);
	return 0;
}

static int
client_main(void *arg)
{
	const struct client_arg *a = arg;
	struct pool_conn *c;
	int rc;

	CHECK_RC(pool_connect(a->sock, &c), 0, 10);
	switch (a->lc->call) {
	case CALL_OPEN:
		rc = client_open_lie(c);
		break;
	case CALL_BREAKS:
		rc = client_broken_by_lie(c);
		break;
	case CALL_GONE:
		rc = client_daemon_gone(c);
		break;
	case CALL_REFILL:
		rc = client_refill_lie(c);
		break;
	default:
		rc = client_block_lie(c, a->lc->call);
		break;
	}
	pool_disconnect(c);
	return rc;
}

/* ---- the tests ----------------------------------------------------------- */

/*
 * Tell one lie to a client: it must neither crash nor hang, and it must
 * pass its checks.  The fake's log goes to log.
 */
static void
run_lie(const struct lie_case *lc, char *log, size_t cap)
{
	struct client_arg a;
	struct child_end rc, frc;
	struct fake f;
	pid_t pid;

	fake_start(&f, lc->lie);
	a.sock = f.sock;
	a.lc = lc;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_main, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, lc->what, log);
	expect_fake_passed(frc, lc->what, log);
	printf("liar: %-52s -> %s, client fine\n", lc->what,
	       lc->call == CALL_GONE ? "-ECONNRESET" :
	       lc->call == CALL_REFILL ? "refused, the block asked alone" :
	       lc->call == CALL_BREAKS ? "-EPROTO, then -ECONNRESET" :
	       "-EPROTO");
}

static void
run_lies(const struct lie_case *cases, size_t n)
{
	char log[LOG_MAX], close_line[32];
	size_t i;

	for (i = 0; i < n; i++) {
		run_lie(&cases[i], log, sizeof(log));
		/* The connection ended with the client's hang-up. */
		if (cases[i].call != CALL_GONE && !strstr(log, "eof\n"))
			fail_msg("%s: the fake saw no hang-up:\n%s",
				 cases[i].what, log);
		/* A refused refill: the block asked for came alone. */
		if (cases[i].call == CALL_REFILL &&
		    (!strstr(log, "\nalloc_batch ") ||
		     !strstr(log, "\nalloc 64 align 0\n")))
			fail_msg("%s: no refill, or no Alloc after it; the "
				 "fake saw:\n%s", cases[i].what, log);
		if (cases[i].call != CALL_OPEN ||
		    cases[i].lie == LIE_OPEN_HANDLE_0)
			continue;
		/* A handle it was given with a bad Open was given back. */
		snprintf(close_line, sizeof(close_line), "close %u\n",
			 (unsigned)FAKE_HANDLE);
		if (!strstr(log, close_line))
			fail_msg("%s: the handle of the refused open was not "
				 "closed; the fake saw:\n%s", cases[i].what,
				 log);
	}
}

static void
open_reply_lies_are_refused(void **state)
{
	(void)state;
	run_lies(open_lies, sizeof(open_lies) / sizeof(open_lies[0]));
}

static void
block_reply_lies_are_refused(void **state)
{
	(void)state;
	run_lies(alloc_lies, sizeof(alloc_lies) / sizeof(alloc_lies[0]));
}

static void
conversation_lies_are_refused(void **state)
{
	(void)state;
	run_lies(conversation_lies,
		 sizeof(conversation_lies) / sizeof(conversation_lies[0]));
}

/* The truthful fake, which sends no share map. */
static int
client_without_share_map(void *arg)
{
	struct pool_conn *c;
	struct pool *p, *ro;
	pool_off_t offs[8];
	int i, rc;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 70);
	/* No share map, no cache: a budget cannot be set... */
	CHECK_RC(pool_set_cache(p, 1 << 20), -EOPNOTSUPP, 72);
	CHECK_RC(pool_set_cache(p, 0), 0, 73);
	CHECK_RC(pool_flush(p), 0, 74);
	/* ...and every free reaches the daemon (the fake counts them). */
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_alloc(p, 48, &offs[i]), 0, 75);
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 76);
	if ((rc = use_handle(p)))
		return rc;
	/* A read-only open gets its O_RDONLY descriptor and works. */
	CHECK_RC(pool_open_readonly(c, FAKE_POOL, &ro), 0, 77);
	CHECK(pool_size(ro) == FAKE_SIZE, 78);
	CHECK(pool_ptr(ro, 0) != NULL, 79);
	pool_close(ro);
	fake_pool_close(c, p);
	return 0;
}

static void
fake_without_share_map_works(void **state)
{
	char log[LOG_MAX];
	const char *l;
	struct child_end rc, frc;
	struct fake f;
	int frees = 0;
	pid_t pid;

	(void)state;
	fake_start(&f, LIE_NONE);
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_without_share_map, f.sock);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, sizeof(log));
	expect_client_passed(rc, "a fake without share map", log);
	expect_fake_passed(frc, "a fake without share map", log);
	/* Read-write opens ask for the share map, read-only ones do not. */
	assert_non_null(strstr(log, "open " FAKE_POOL " rw share_map=1\n"));
	assert_non_null(strstr(log, "open " FAKE_POOL " ro share_map=0\n"));
	for (l = log; (l = strstr(l, "\nfree ")); l++)
		frees++;
	/* 8 blocks and use_handle's one: none kept in a cache. */
	assert_int_equal(frees, 9);
	assert_non_null(strstr(log, "close 7\n"));
	assert_non_null(strstr(log, "close 8\n"));
	printf("liar: no share map: the handle works without a cache, "
	       "%d frees reached the daemon\n", frees);
}

/*
 * A handle whose share map a restart in place froze, from a daemon that
 * gives it no new one: it asks once, keeps the frozen map (every free to
 * the daemon) and no descriptor, and works on.
 */
static int
client_frozen_map(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t offs[8];
	int i, fds, rc;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 80);
	fds = count_fds();
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_alloc(p, 48, &offs[i]), 0, 82);
	for (i = 0; i < 8; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 83);
	if ((rc = use_handle(p)))
		return rc;
	CHECK(count_fds() == fds, 84);
	fake_pool_close(c, p);
	return 0;
}

static void
frozen_map_not_renewed(enum lie lie, const char *what)
{
	char log[LOG_MAX];
	const char *l;
	struct child_end rc, frc;
	struct fake f;
	int frees = 0, asked = 0;
	pid_t pid;

	fake_start(&f, lie);
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_frozen_map, f.sock);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, sizeof(log));
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
	for (l = log; (l = strstr(l, "\nfree ")); l++)
		frees++;
	for (l = log; (l = strstr(l, "\nshare_map ")); l++)
		asked++;
	printf("liar: %s: %d ShareMap asked, %d frees reached the daemon\n",
	       what, asked, frees);
	assert_int_equal(asked, 1);
	/* 8 blocks and use_handle's one: the map says every one shared. */
	assert_int_equal(frees, 9);
	/* Nor is a refill asked for, to be given straight back. */
	assert_null(strstr(log, "alloc_batch"));
	assert_null(strstr(log, "free_batch"));
}

static void
frozen_map_old_daemon(void **state)
{
	(void)state;
	frozen_map_not_renewed(LIE_MAP_OLD_DAEMON, "a daemon without "
			       "ShareMap");
}

static void
frozen_map_unsealed_renewal(void **state)
{
	(void)state;
	frozen_map_not_renewed(LIE_MAP_UNSEALED, "an unsealed new map");
}

static void
frozen_map_renewed_frozen(void **state)
{
	(void)state;
	frozen_map_not_renewed(LIE_MAP_FROZEN_AGAIN, "a new map frozen "
			       "already");
}

/*
 * A daemon from before waiting lookups: a lookup that would wait is
 * -EOPNOTSUPP, however long or with whatever flags, and a timeout of 0 is
 * the plain lookup.  (The parent checks that only that one was sent.)
 */
static int
client_old_lookup(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;
	uint64_t gen = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 90);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, 200, 0, &off, NULL, &gen),
		 -EOPNOTSUPP, 92);
	CHECK_RC(pool_lookup_wait(p, "frame", 3, -1, POOL_LOOKUP_RETAIN, &off,
				  NULL, &gen), -EOPNOTSUPP, 93);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "waits") != NULL, 94);
	/* Bad arguments are still told apart from the daemon's age. */
	CHECK_RC(pool_lookup_wait(p, "", 0, 200, 0, &off, NULL, &gen),
		 -EINVAL, 95);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, 0, 0, &off, NULL, &gen),
		 -ENOENT, 96);
	CHECK_RC(pool_lookup(p, "frame", &off, NULL), -ENOENT, 97);
	fake_pool_close(c, p);
	return 0;
}

/* A daemon that announces waiting lookups is asked to wait. */
static int
client_new_lookup(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 100);
	CHECK_RC(pool_lookup_wait(p, "frame", 2, 200, 0, &off, NULL, NULL),
		 -ETIMEDOUT, 102);
	fake_pool_close(c, p);
	return 0;
}

/* How many lines of log begin with what. */
static int
log_lines(const char *log, const char *what)
{
	char want[64];
	const char *l;
	int n = 0;

	snprintf(want, sizeof(want), "\n%s", what);
	for (l = log; (l = strstr(l, want)); l++)
		n++;
	return n;
}

/* Run client against a fake telling lie; the fake's log into log. */
static void
run_lookup_client(enum lie lie, int (*client)(void *), char *log,
		  size_t cap)
{
	struct child_end rc, frc;
	struct fake f;
	pid_t pid;

	fake_start(&f, lie);
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client, f.sock);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, "the lookup client", log);
	expect_fake_passed(frc, "the lookup client", log);
}

static void
lookup_wait_needs_the_feature(void **state)
{
	char log[LOG_MAX];
	const char *l;
	int lookups = 0;

	(void)state;
	run_lookup_client(LIE_OLD_LOOKUP, client_old_lookup, log,
			  sizeof(log));
	for (l = log; (l = strstr(l, "\nlookup ")); l++)
		lookups++;
	printf("liar: a daemon without waiting lookups: -EOPNOTSUPP, "
	       "%d lookups sent\n", lookups);
	/* pool_lookup_wait with timeout 0, and pool_lookup: no waits. */
	assert_int_equal(lookups, 2);
	assert_non_null(strstr(log, "lookup frame wait_ms=0 after=0 "
			       "retain=0\n"));
	assert_null(strstr(log, "retain=1"));

	run_lookup_client(LIE_NONE, client_new_lookup, log, sizeof(log));
	l = strstr(log, "lookup frame wait_ms=");
	assert_non_null(l);
	/* What was left of the 200 ms when the request went. */
	assert_true(atoi(l + strlen("lookup frame wait_ms=")) > 0);
	assert_true(atoi(l + strlen("lookup frame wait_ms=")) <= 200);
	assert_non_null(strstr(log, " after=2 retain=0\n"));
	printf("liar: a daemon with waiting lookups was asked to wait\n");
}

/*
 * A daemon without features bit 5 is not asked to wait for room: a wait
 * would be an Alloc it answers -ENOMEM at once, as if no room had come.
 */
static int
client_old_alloc(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 120);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, 200, &off), -EOPNOTSUPP, 122);
	CHECK(off == POOL_OFF_NONE, 123);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_ZERO, -1, &off),
		 -EOPNOTSUPP, 124);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "an allocation that waits")
	      != NULL, 125);
	/* Bad arguments are still told apart from the daemon's age. */
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0x8, 200, &off), -EINVAL, 126);
	/*
	 * Nor can it make a block persistent as it allocates (bit 6): its
	 * block would be the handle's, gone when the program exits.
	 */
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off),
		 -EOPNOTSUPP, 129);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 200, &off),
		 -EOPNOTSUPP, 130);
	CHECK(off == POOL_OFF_NONE, 131);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "blocks persistent from "
		     "their allocation (alone or in a batch)") != NULL, 132);
	/* Timeout 0 does not wait: the plain Alloc it always was. */
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, 0, &off), 0, 127);
	CHECK(off < FAKE_SIZE, 128);
	/* Nor end a persistent block by its age (bit 7): nothing sent. */
	CHECK_RC(pool_free_persisted(p, off, 1000), -EOPNOTSUPP, 133);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "a free of persistent "
		     "blocks by age") != NULL, 134);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that said bit 6 at Hello but ignores Alloc.persist (a restart
 * in place onto an older binary): the reply says nothing of persisted, so
 * the library persists the block and drops its reference itself, and the
 * caller gets what it asked for.  Its Persist refused, the block goes
 * back and the refusal is the answer.
 */
static int
client_persist_ignored(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 140);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off), 0,
		 142);
	CHECK(off < FAKE_SIZE, 143);
	CHECK_RC(pool_alloc_wait(p, PERSIST_REFUSED_SIZE, 0,
				 POOL_ALLOC_PERSIST, 0, &off), -EDQUOT, 144);
	CHECK(off == POOL_OFF_NONE, 145);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that said bit 6 and made the block persistent, but from before
 * AllocReply.persisted: the library's own Persist and Free must not end
 * the block its handle never held.
 */
static int
client_persist_unsaid(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 150);
	CHECK_RC(pool_alloc_wait(p, 64, 0, POOL_ALLOC_PERSIST, 0, &off), 0,
		 152);
	CHECK(off < FAKE_SIZE, 153);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that says bit 6 but not bit 10 is never sent a batch of
 * persistent blocks: its blocks would be the handle's, gone when the
 * program exits.  Bad flags are still told apart from its age.
 */
static int
client_batch_persist_old(void *arg)
{
	size_t sizes[2] = {64, 64};
	pool_off_t offs[2] = {1, 1};
	struct pool_conn *c;
	struct pool *p;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 160);
	CHECK_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_PERSIST, offs),
		 -EOPNOTSUPP, 162);
	CHECK(offs[0] == 1 && offs[1] == 1, 163);
	CHECK_RC(pool_alloc_batch_flags(p, 2, sizes, POOL_ALLOC_ZERO, offs),
		 -EINVAL, 164);
	CHECK_RC(pool_alloc_batch_flags(p, 2, sizes, 0, offs), 0, 165);
	CHECK(offs[0] < FAKE_SIZE && offs[1] < FAKE_SIZE, 166);
	fake_pool_close(c, p);
	return 0;
}

/*
 * A daemon that said bit 10 at Hello but ignores AllocBatch.persist: the
 * reply says nothing of persisted, so the library persists each block
 * and drops its references itself.  A Persist refused, every block goes
 * back (a second Free for those persisted) and the refusal is the answer.
 */
static int
client_batch_persist_ignored(void *arg)
{
	size_t sizes[3] = {64, 64, 64};
	size_t refused[3] = {64, PERSIST_REFUSED_SIZE, 64};
	pool_off_t offs[3];
	struct pool_conn *c;
	struct pool *p;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 170);
	CHECK_RC(pool_alloc_batch_flags(p, 3, sizes, POOL_ALLOC_PERSIST, offs),
		 0, 172);
	CHECK(offs[2] < FAKE_SIZE, 173);
	CHECK_RC(pool_alloc_batch_flags(p, 3, refused, POOL_ALLOC_PERSIST,
					offs), -EDQUOT, 174);
	fake_pool_close(c, p);
	return 0;
}

static void
batch_persist_needs_the_feature(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(LIE_PERSIST_IGNORED, client_batch_persist_old, log,
			  sizeof(log));
	printf("liar: a daemon without persistent batches: -EOPNOTSUPP, %d "
	       "batches sent, %d of them persistent\n",
	       log_lines(log, "alloc_batch "),
	       log_lines(log, "alloc_batch_persist"));
	assert_int_equal(log_lines(log, "alloc_batch "), 1);
	assert_int_equal(log_lines(log, "alloc_batch_persist"), 0);

	run_lookup_client(LIE_BATCH_PERSIST_IGNORED,
			  client_batch_persist_ignored, log, sizeof(log));
	printf("liar: a daemon that ignores AllocBatch.persist: %d persistent "
	       "batches, %d persists and %d frees sent by the library\n",
	       log_lines(log, "alloc_batch_persist"),
	       log_lines(log, "persist "), log_lines(log, "free "));
	assert_int_equal(log_lines(log, "alloc_batch_persist"), 2);
	/* 3 persisted; then the first, and the second refused. */
	assert_int_equal(log_lines(log, "persist "), 5);
	/* 3 handles' references; then 3 of them and the one persisted. */
	assert_int_equal(log_lines(log, "free "), 7);
}

/*
 * A wait for room without end answered -ETIMEDOUT at once is a lie:
 * -EPROTO, not a loop asking again.  A finite wait ends -ETIMEDOUT.
 */
static int
client_alloc_wait_forever_timed_out(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 130);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, -1, &off), -EPROTO, 132);
	CHECK(off == POOL_OFF_NONE, 133);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, 100, &off), -ETIMEDOUT, 134);
	CHECK(off == POOL_OFF_NONE, 135);
	fake_pool_close(c, p);
	return 0;
}

static void
alloc_wait_needs_the_feature(void **state)
{
	char log[LOG_MAX];
	const char *l;

	(void)state;
	run_lookup_client(LIE_OLD_ALLOC, client_old_alloc, log, sizeof(log));
	printf("liar: a daemon without waiting allocations: -EOPNOTSUPP, "
	       "%d allocations sent, %d of them waiting\n",
	       log_lines(log, "alloc "), log_lines(log, "alloc_wait "));
	assert_int_equal(log_lines(log, "alloc "), 1);
	assert_int_equal(log_lines(log, "alloc_wait "), 0);
	assert_int_equal(log_lines(log, "request "), 0);	/* unknown ones */

	run_lookup_client(LIE_PERSIST_IGNORED, client_persist_ignored, log,
			  sizeof(log));
	printf("liar: a daemon that ignores Alloc.persist: %d persistent "
	       "allocations, %d persists and %d frees sent by the library\n",
	       log_lines(log, "alloc_persist"), log_lines(log, "persist "),
	       log_lines(log, "free "));
	assert_int_equal(log_lines(log, "alloc_persist"), 2);
	assert_int_equal(log_lines(log, "persist "), 2);
	assert_int_equal(log_lines(log, "free "), 2);

	run_lookup_client(LIE_PERSIST_UNSAID, client_persist_unsaid, log,
			  sizeof(log));
	printf("liar: a daemon that made the block persistent, unsaid: %d "
	       "persists, %d retains, %d frees, %d of them ending it\n",
	       log_lines(log, "persist "), log_lines(log, "retain "),
	       log_lines(log, "free "), log_lines(log, "free_ends"));
	assert_int_equal(log_lines(log, "free_ends"), 0);
	assert_int_equal(log_lines(log, "free "), 1);

	run_lookup_client(LIE_NONE, client_alloc_wait_forever_timed_out, log,
			  sizeof(log));
	printf("liar: a wait for room without end answered -ETIMEDOUT at "
	       "once: -EPROTO, %d waiting allocations sent\n",
	       log_lines(log, "alloc_wait "));
	assert_int_equal(log_lines(log, "alloc_wait "), 2);
	l = strstr(log, "\nalloc_wait ");
	assert_non_null(l);
	/* The part of a wait without end: all the wire's 32 bits hold. */
	assert_true(strtoul(l + strlen("\nalloc_wait "), NULL, 10) ==
		    UINT32_MAX);
	l = strstr(l + 1, "\nalloc_wait ");
	assert_non_null(l);
	assert_true(strtoul(l + strlen("\nalloc_wait "), NULL, 10) <= 100);
}

/*
 * A daemon without features bit 3 is not asked for its statistics: it
 * would refuse the request as unknown, which must not look like a
 * refusal of it.  The connection goes on serving.
 */
static int
client_daemon_stats(void *arg)
{
	const char *sock = arg;
	struct pool_daemon_stats ds;
	struct pool_conn *c;
	struct pool *p;

	memset(&ds, 0xa5, sizeof(ds));
	CHECK_RC(pool_connect(sock, &c), 0, 110);
	CHECK_RC(pool_daemon_stats(c, &ds), -EOPNOTSUPP, 111);
	CHECK(ds.pid == 0 && ds.requests_total == 0 && ds.server[0] == '\0',
	      112);
	CHECK(pool_last_message(-EOPNOTSUPP)[0] == '\0', 113);
	CHECK_RC(pool_daemon_stats(c, NULL), -EINVAL, 114);
	CHECK_RC(pool_daemon_stats(NULL, &ds), -EINVAL, 115);
	CHECK_RC(pool_open(c, FAKE_POOL, &p), 0, 116);
	fake_pool_close(c, p);
	return 0;
}

static void
daemon_stats_needs_the_feature(void **state)
{
	char log[LOG_MAX], unknown[32];

	(void)state;
	run_lookup_client(LIE_NONE, client_daemon_stats, log, sizeof(log));
	snprintf(unknown, sizeof(unknown), "\nrequest %d\n",
		 (int)POOLMGR__REQUEST__BODY_DAEMON_STATS);
	printf("liar: a daemon without DaemonStats: -EOPNOTSUPP, %s sent\n",
	       strstr(log, unknown) ? "a request" : "none");
	assert_null(strstr(log, unknown));
	assert_int_equal(log_lines(log, "request "), 0);
	assert_non_null(strstr(log, "open " FAKE_POOL " "));
}

/*
 * A wait without end answered -ETIMEDOUT at once: the daemon cannot have
 * waited the 49 days asked, so the answer is a lie (-EPROTO), not a cue
 * to ask again, and again.  The connection goes on: a finite wait is
 * answered as ever.  (The parent counts the lookups sent.)
 */
static int
client_wait_forever_timed_out(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 115);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, -1, 0, &off, NULL, NULL),
		 -EPROTO, 117);
	CHECK(off == POOL_OFF_NONE, 118);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, 100, 0, &off, NULL, NULL),
		 -ETIMEDOUT, 119);
	fake_pool_close(c, p);
	return 0;
}

static void
lookup_wait_forever_timed_out_is_a_lie(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(LIE_NONE, client_wait_forever_timed_out, log,
			  sizeof(log));
	printf("liar: a wait without end answered -ETIMEDOUT at once: "
	       "-EPROTO, %d lookups sent\n", log_lines(log, "lookup "));
	assert_int_equal(log_lines(log, "lookup "), 2);
}

/*
 * Waits answered -EINTR at once for LOOKUP_EINTR_MS: a finite one half as
 * long still ends at its time (-ETIMEDOUT), then one without end is
 * answered once the fake stops interrupting.  (The parent counts the
 * interruptions: a client that asks again at once asks thousands of
 * times.)
 */
static int
client_wait_interrupted(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE;
	uint64_t start, gen = 0;
	size_t us = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 85);
	start = harness_now_ms();
	CHECK_RC(pool_lookup_wait(p, "frame", 0, LOOKUP_EINTR_MS / 2, 0, &off,
				  NULL, NULL), -ETIMEDOUT, 87);
	CHECK(harness_now_ms() - start >= LOOKUP_EINTR_MS / 2, 88);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, -1, 0, &off, &us, &gen), 0,
		 89);
	CHECK(off < FAKE_SIZE && us == 64 && gen == 1, 98);
	fake_pool_close(c, p);
	return 0;
}

/* Fewer than this many -EINTRs in LOOKUP_EINTR_MS: asked after pauses. */
#define LOOKUP_EINTR_MAX	100

static void
lookup_wait_interrupted_backs_off(void **state)
{
	char log[LOG_MAX];
	const char *l;
	int n;

	(void)state;
	run_lookup_client(LIE_LOOKUP_EINTR, client_wait_interrupted, log,
			  sizeof(log));
	l = strstr(log, "lookup interrupted ");
	assert_non_null(l);
	n = atoi(l + strlen("lookup interrupted "));
	printf("liar: waits answered -EINTR at once for %d ms: asked %d "
	       "times, then answered\n", LOOKUP_EINTR_MS, n);
	assert_in_range(n, 2, LOOKUP_EINTR_MAX - 1);
}

/*
 * A wait whose deadline passes while the daemon restarts in place (the
 * fake holds it, then says -EINTR): the library asks once more, and its
 * answer is the wait's.  The -EDQUOT of the quota per connection that held
 * an allocation back to its end, in the daemon's words, which say the
 * whole wait; one that found no room, or no newer generation, -ETIMEDOUT
 * likewise; one that found them, the block, the caller's.  (The parent
 * checks what was asked.)
 */
static int
client_restart_then_edquot(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;
	char want[256];

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 180);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, RESTART_WAIT_MS, &off), -EDQUOT,
		 182);
	CHECK(off == POOL_OFF_NONE, 183);
	snprintf(want, sizeof(want), "allocating 64 bytes would pass pool %s's "
		 "quota of 4.0 KiB per connection (its blocks and its uid's "
		 "persistent and named ones count), still after %d ms",
		 FAKE_POOL, RESTART_WAIT_MS);
	CHECK(strcmp(pool_last_message(-EDQUOT), want) == 0, 184);
	fake_pool_close(c, p);
	return 0;
}

static int
client_restart_then_timedout(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = 0;
	char want[128];

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 185);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, RESTART_WAIT_MS, &off),
		 -ETIMEDOUT, 187);
	CHECK(off == POOL_OFF_NONE, 188);
	snprintf(want, sizeof(want), "no room came for 64 bytes in pool %s "
		 "in %d ms", FAKE_POOL, RESTART_WAIT_MS);
	CHECK(strcmp(pool_last_message(-ETIMEDOUT), want) == 0, 189);
	off = POOL_OFF_NONE;
	CHECK_RC(pool_lookup_wait(p, "frame", 3, RESTART_WAIT_MS, 0, &off,
				  NULL, NULL), -ETIMEDOUT, 190);
	snprintf(want, sizeof(want), "no generation of 'frame' above 3 came "
		 "in pool %s in %d ms", FAKE_POOL, RESTART_WAIT_MS);
	CHECK(strcmp(pool_last_message(-ETIMEDOUT), want) == 0, 191);
	fake_pool_close(c, p);
	return 0;
}

static int
client_restart_then_block(void *arg)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off = POOL_OFF_NONE, named = POOL_OFF_NONE;
	uint64_t gen = 0;
	size_t us = 0;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 192);
	CHECK_RC(pool_alloc_wait(p, 64, 0, 0, RESTART_WAIT_MS, &off), 0, 194);
	CHECK(off < FAKE_SIZE, 195);
	CHECK_RC(pool_usable_size(p, off, &us), 0, 196);
	CHECK(us >= 64, 197);
	CHECK_RC(pool_lookup_wait(p, "frame", 0, RESTART_WAIT_MS, 0, &named,
				  NULL, &gen), 0, 198);
	CHECK(named < FAKE_SIZE && named != off && gen == 1, 199);
	CHECK_RC(pool_free(p, off), 0, 200);
	fake_pool_close(c, p);
	return 0;
}

/*
 * Run client against the fake of lie, its log into log: waits requests
 * held, each asked again as the last try of its wait, a wait of 1 ms
 * that is not a part.
 */
static void
restart_then(enum lie lie, int (*client)(void *), int waits,
	     const char *what, char *log, size_t cap)
{
	run_lookup_client(lie, client, log, cap);
	printf("liar: a wait outlived by a restart in place, then %s: %d "
	       "held, %d asked again as a wait's last try\n", what,
	       log_lines(log, "held "),
	       log_lines(log, "asked again wait_ms=1 part=0\n"));
	assert_int_equal(log_lines(log, "held "), waits);
	assert_int_equal(log_lines(log, "asked again "), waits);
	assert_int_equal(log_lines(log, "asked again wait_ms=1 part=0\n"),
			 waits);
}

static void
wait_outlived_by_a_restart_asks_once_more(void **state)
{
	char log[LOG_MAX];

	(void)state;
	restart_then(RESTART_THEN_EDQUOT, client_restart_then_edquot, 1,
		     "-EDQUOT", log, sizeof(log));
	restart_then(RESTART_THEN_TIMEDOUT, client_restart_then_timedout, 2,
		     "-ETIMEDOUT", log, sizeof(log));
	/* The lookup asked again still wants a newer generation. */
	assert_non_null(strstr(log, "\nlookup frame wait_ms=1 after=3 "));
	restart_then(RESTART_THEN_BLOCK, client_restart_then_block, 2,
		     "a block", log, sizeof(log));
}

/*
 * A restart in place half way through a wait that the quota per connection
 * then holds back to its end: the library asks the new image for the time
 * left, which answers -EDQUOT "still after" that time; the words say the
 * whole wait, as those of -ETIMEDOUT do.
 */
static void
wait_interrupted_ends_in_the_quota_words(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(RESTART_EARLY_THEN_EDQUOT, client_restart_then_edquot,
			  log, sizeof(log));
	printf("liar: a wait interrupted half way, then -EDQUOT: %d held, %d "
	       "asked again\n", log_lines(log, "held "),
	       log_lines(log, "asked again "));
	assert_int_equal(log_lines(log, "held "), 1);
	assert_int_equal(log_lines(log, "asked again "), 1);
}

/*
 * Creates and sets, with and without a limit: -EOPNOTSUPP either way (the
 * fake knows neither request), but from the library, unsent, for a limit
 * to a daemon without them.  (The parent counts what was sent.)
 */
static int
client_limit(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_set_opts s = {.which = POOL_SET_LIMIT, .limit = 1 << 16};
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 110);
	CHECK_RC(pool_create_set(c, "lim", &o, &s), -EOPNOTSUPP, 111);
	CHECK_RC(pool_set(c, "lim", &s), -EOPNOTSUPP, 112);
	/* A limit of 0 is no limit: sent to either. */
	s.limit = 0;
	CHECK_RC(pool_create_set(c, "nolim", &o, &s), -EOPNOTSUPP, 113);
	CHECK_RC(pool_create(c, "plain", &o), -EOPNOTSUPP, 114);
	pool_disconnect(c);
	return 0;
}

static void
limit_needs_the_feature(void **state)
{
	char log[LOG_MAX], create[32], set[32];

	(void)state;
	snprintf(create, sizeof(create), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_CREATE);
	snprintf(set, sizeof(set), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_SET);
	run_lookup_client(LIE_OLD_LOOKUP, client_limit, log, sizeof(log));
	printf("liar: a daemon without limits: %d creates and %d sets sent\n",
	       log_lines(log, create), log_lines(log, set));
	assert_int_equal(log_lines(log, create), 2);
	assert_int_equal(log_lines(log, set), 0);
	run_lookup_client(LIE_NONE, client_limit, log, sizeof(log));
	assert_int_equal(log_lines(log, create), 3);
	assert_int_equal(log_lines(log, set), 1);
}

/*
 * Creates and sets with a user quota, as client_limit's with a limit: to
 * a daemon without user quotas, -EOPNOTSUPP from the library, unsent,
 * while a limit beside none is sent.  (The parent counts what was sent.)
 */
static int
client_user_quota(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_set_opts s = {.which = POOL_SET_USER_QUOTA,
				  .user_quota = 1 << 16};
	struct pool_user *u = NULL;
	size_t n = 1, total = 1;
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 140);
	CHECK_RC(pool_create_set(c, "uq", &o, &s), -EOPNOTSUPP, 141);
	CHECK_RC(pool_set(c, "uq", &s), -EOPNOTSUPP, 142);
	s.which |= POOL_SET_LIMIT;
	s.limit = 1 << 16;
	CHECK_RC(pool_set(c, "uq", &s), -EOPNOTSUPP, 143);
	/* A user quota of 0 is none: a create may say it to either. */
	s.which = POOL_SET_USER_QUOTA;
	s.user_quota = 0;
	CHECK_RC(pool_create_set(c, "nouq", &o, &s), -EOPNOTSUPP, 144);
	s.which = POOL_SET_LIMIT;
	CHECK_RC(pool_set(c, "lim", &s), -EOPNOTSUPP, 145);
	/* Who holds what per uid comes with user quotas. */
	CHECK_RC(pool_users(c, "uq", &u, &n, &total), -EOPNOTSUPP, 146);
	CHECK(u == NULL && n == 0 && total == 0, 147);
	pool_disconnect(c);
	return 0;
}

static void
user_quota_needs_the_feature(void **state)
{
	char log[LOG_MAX], create[32], set[32], users[32];

	(void)state;
	snprintf(create, sizeof(create), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_CREATE);
	snprintf(set, sizeof(set), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_SET);
	snprintf(users, sizeof(users), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_USERS);
	run_lookup_client(LIE_OLD_ALLOC, client_user_quota, log, sizeof(log));
	printf("liar: a daemon without user quotas: %d creates, %d sets and "
	       "%d user listings sent\n", log_lines(log, create),
	       log_lines(log, set), log_lines(log, users));
	assert_int_equal(log_lines(log, create), 1);
	assert_int_equal(log_lines(log, set), 1);
	assert_int_equal(log_lines(log, users), 0);
	run_lookup_client(LIE_NONE, client_user_quota, log, sizeof(log));
	assert_int_equal(log_lines(log, create), 2);
	assert_int_equal(log_lines(log, set), 3);
	assert_int_equal(log_lines(log, users), 1);
}

/*
 * uids' own user quotas to a daemon without them (bit 11): reading,
 * changing, a create and a set with entries are -EOPNOTSUPP from the
 * library, unsent, while a create or a set without entries is sent;
 * a bad argument is still -EINVAL first.  (The parent counts what was
 * sent.)
 */
static int
client_old_user_quotas(void *arg)
{
	struct pool_create_opts o = {.max_size = 1 << 20};
	struct pool_user_quota e[1] = {{.uid = 1000, .bytes = 1 << 20}};
	struct pool_set_opts so = {.which = POOL_SET_MODE, .mode = 0600};
	uint32_t rm[1] = {1001};
	struct pool_user_quota out[4];
	struct pool_conn *c;

	CHECK_RC(pool_connect(arg, &c), 0, 150);
	CHECK_RC(pool_user_quota_get(c, FAKE_POOL, out, 4), -EOPNOTSUPP,
		 151);
	CHECK_RC(pool_user_quota_modify(c, FAKE_POOL, e, 1, NULL, 0),
		 -EOPNOTSUPP, 152);
	CHECK_RC(pool_user_quota_modify(c, FAKE_POOL, NULL, 0, rm, 1),
		 -EOPNOTSUPP, 153);
	CHECK_RC(pool_create_user_quotas(c, "uq", &o, NULL, e, 1),
		 -EOPNOTSUPP, 154);
	CHECK(strcmp(pool_last_message(-EOPNOTSUPP), "") == 0, 155);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "uids' own user quotas") !=
	      NULL, 159);
	CHECK_RC(pool_set_user_quotas(c, FAKE_POOL, &so, e, 1, NULL, 0),
		 -EOPNOTSUPP, 170);
	CHECK_RC(pool_set_user_quotas(c, FAKE_POOL, &so, NULL, 0, rm, 1),
		 -EOPNOTSUPP, 171);
	/* No entries: the set the daemon always knew (it refuses). */
	CHECK_RC(pool_set_user_quotas(c, FAKE_POOL, &so, NULL, 0, NULL, 0),
		 -EOPNOTSUPP, 172);
	e[0].uid = UINT32_MAX;
	CHECK_RC(pool_user_quota_modify(c, FAKE_POOL, e, 1, NULL, 0),
		 -EINVAL, 156);
	CHECK_RC(pool_create_user_quotas(c, "uq", &o, NULL, e, 1), -EINVAL,
		 157);
	/* No entries: the create the daemon always knew (it refuses). */
	CHECK_RC(pool_create_user_quotas(c, "uq", &o, NULL, NULL, 0),
		 -EOPNOTSUPP, 158);
	pool_disconnect(c);
	return 0;
}

static void
user_quotas_need_the_feature(void **state)
{
	char log[LOG_MAX], create[32], set[32];

	(void)state;
	snprintf(create, sizeof(create), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_CREATE);
	snprintf(set, sizeof(set), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_SET);
	run_lookup_client(LIE_NONE, client_old_user_quotas, log, sizeof(log));
	printf("liar: a daemon without uids' own user quotas: %d creates, "
	       "%d sets and %d stats sent\n", log_lines(log, create),
	       log_lines(log, set), log_lines(log, "stats "));
	assert_int_equal(log_lines(log, create), 1);
	assert_int_equal(log_lines(log, set), 1);
	assert_int_equal(log_lines(log, "stats "), 0);
	assert_int_equal(log_lines(log, "request "), 2);
}

/*
 * Names in pages to a daemon without them (bit 12): pool_names_after is
 * -EOPNOTSUPP from the library, unsent, from the first page on, while
 * pool_names is sent (the fake knows no ListNames: -EOPNOTSUPP in its
 * words); a bad argument is still -EINVAL, an after too long
 * -ENAMETOOLONG, first.  (The parent counts what was sent.)
 */
static int
client_old_names(void *arg)
{
	char too_long[POOL_BLOCK_NAME_MAX + 2];
	struct pool_named *pn = NULL;
	struct pool_conn *c;
	size_t n = 1, total = 1;

	memset(too_long, 'z', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	CHECK_RC(pool_connect(arg, &c), 0, 180);
	CHECK_RC(pool_names_after(c, FAKE_POOL, NULL, NULL, &pn, &n, &total),
		 -EOPNOTSUPP, 181);
	CHECK(pn == NULL && n == 0 && total == 0, 182);
	CHECK(strcmp(pool_last_message(-EOPNOTSUPP), "") == 0, 183);
	CHECK(strstr(pool_strerror(-EOPNOTSUPP), "names listed in pages") !=
	      NULL, 188);
	CHECK_RC(pool_names_after(c, FAKE_POOL, "cam/", "cam/left", &pn, &n,
				  &total), -EOPNOTSUPP, 184);
	CHECK_RC(pool_names_after(c, FAKE_POOL, NULL, too_long, &pn, &n,
				  &total), -ENAMETOOLONG, 185);
	CHECK_RC(pool_names_after(c, FAKE_POOL, NULL, NULL, NULL, &n,
				  &total), -EINVAL, 186);
	CHECK_RC(pool_names(c, FAKE_POOL, NULL, &pn, &n, &total),
		 -EOPNOTSUPP, 187);
	pool_disconnect(c);
	return 0;
}

static void
names_after_needs_the_feature(void **state)
{
	char log[LOG_MAX], names[32];

	(void)state;
	snprintf(names, sizeof(names), "request %d\n",
		 (int)POOLMGR__REQUEST__BODY_NAMES);
	run_lookup_client(LIE_NONE, client_old_names, log, sizeof(log));
	printf("liar: a daemon without names in pages: %d listings sent\n",
	       log_lines(log, names));
	/* pool_names alone. */
	assert_int_equal(log_lines(log, names), 1);
	assert_int_equal(log_lines(log, "request "), 1);
}

/*
 * A retaining lookup of the fake's (at sock), not waiting and waiting:
 * its block, and *took want (1 only from the fake that says bit 13).
 * Without the flag nothing is retained: 0 either way.
 */
static int
lookups_took(const char *sock, int want)
{
	struct pool_conn *c;
	struct pool *p;
	pool_off_t off;
	uint64_t gen;
	int took, i;

	CHECK_FAKE_POOL_OPEN(sock, &c, &p, 210);
	for (i = 0; i < 2; i++) {
		off = POOL_OFF_NONE;
		gen = 0;
		took = -1;
		CHECK_RC(pool_lookup_wait_took(p, "frame", 0, i ? 200 : 0,
					       POOL_LOOKUP_RETAIN, &off, NULL,
					       &gen, &took), 0, 212);
		CHECK(off < FAKE_SIZE && gen == 1, 213);
		CHECK(took == want, 214);
	}
	took = -1;
	CHECK_RC(pool_lookup_wait_took(p, "frame", 0, 0, 0, &off, NULL, NULL,
				       &took), -ENOENT, 215);
	CHECK(took == -1, 216);
	fake_pool_close(c, p);
	return 0;
}

/* Against TOOK_SAID: took 1. */
static int
client_took_said(void *arg)
{
	return lookups_took(arg, 1);
}

/* Against LIE_TOOK_WITHOUT_BIT: not believed, took 0. */
static int
client_took_unsaid(void *arg)
{
	return lookups_took(arg, 0);
}

static void
took_needs_the_feature(void **state)
{
	char log[LOG_MAX];

	(void)state;
	run_lookup_client(TOOK_SAID, client_took_said, log, sizeof(log));
	assert_int_equal(log_lines(log, "lookup frame wait_ms=0 after=0 "
				   "retain=1"), 1);
	printf("liar: a daemon with bit 13 said its lookups took the "
	       "reference\n");
	run_lookup_client(LIE_TOOK_WITHOUT_BIT, client_took_unsaid, log,
			  sizeof(log));
	assert_int_equal(log_lines(log, "lookup frame wait_ms=0 after=0 "
				   "retain=1"), 1);
	printf("liar: a daemon without bit 13 that said so was not "
	       "believed\n");
}

/*
 * The entries as a daemon tells them (UQUOTA_NONE), or a lie: with a
 * lie, pool_user_quota_get and pool_stats_by_name are -EPROTO, out[] and
 * the statistics as they were; the truth reads back as told.
 */
struct uquota_client {
	enum lie lie;
	const char *sock;
};

static int
client_uquota_replies(void *arg)
{
	const struct uquota_client *lc = arg;
	struct pool_user_quota out[POOL_USER_QUOTA_MAX + 1];
	struct pool_stats st;
	struct pool_conn *c;
	int i, want = lc->lie == UQUOTA_NONE ? UQUOTA_TOLD : -EPROTO;

	CHECK_RC(pool_connect(lc->sock, &c), 0, 160);
	memset(out, 0xa5, sizeof(out));
	CHECK_RC(pool_user_quota_get(c, FAKE_POOL, out,
				     POOL_USER_QUOTA_MAX + 1), want, 161);
	for (i = 0; want > 0 && i < UQUOTA_TOLD; i++) {
		CHECK(out[i].uid == uquota_told_uid[i], 162);
		CHECK(out[i].bytes == uquota_told_bytes[i], 163);
		CHECK(out[i].reserved == 0, 164);
	}
	if (want < 0)
		CHECK(out[0].uid == 0xa5a5a5a5u, 165);
	memset(&st, 0, sizeof(st));
	CHECK_RC(pool_stats_by_name(c, FAKE_POOL, &st),
		 want > 0 ? 0 : -EPROTO, 166);
	CHECK(st.user_quota_entries == (want > 0 ? UQUOTA_TOLD : 0), 167);
	pool_disconnect(c);
	return 0;
}

static void
uquota_replies_checked(void **state)
{
	static const enum lie lies[] = {
		UQUOTA_NONE, LIE_UQUOTA_33, LIE_UQUOTA_UNSORTED,
		LIE_UQUOTA_TWICE, LIE_UQUOTA_NOBODY, LIE_UQUOTA_COUNT_33,
		LIE_UQUOTA_COUNT_BELIED,
	};
	struct uquota_client lc;
	struct child_end rc, frc;
	struct fake f;
	char log[LOG_MAX];
	size_t i;
	pid_t pid;

	(void)state;
	for (i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		memset(&lc, 0, sizeof(lc));
		lc.lie = lies[i];
		fake_start(&f, lies[i]);
		lc.sock = f.sock;
		fflush(stdout);
		fflush(stderr);
		pid = harness_spawn(client_uquota_replies, &lc);
		assert_true(pid > 0);
		rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
		frc = fake_finish(&f, log, sizeof(log));
		expect_client_passed(rc, "the user quota entries' client",
				     log);
		expect_fake_passed(frc, "the user quota entries' client",
				   log);
		/* Asked once each: a lie is not asked again. */
		assert_int_equal(log_lines(log, "stats "), 2);
	}
}

#define BOUNDS_BLOCKS	100
#define BOUNDS_BLOCK	1024

/*
 * A handle of the pool opened under FAKE_LIMIT takes BOUNDS_BLOCKS blocks
 * of 1 KiB, one refill each, and frees them all: its cache keeps what its
 * budget holds, the rest reach the fake.  (The parent counts them.)
 */
static int
client_bounds(void *arg)
{
	static pool_off_t offs[BOUNDS_BLOCKS];
	struct pool_conn *c;
	struct pool *p;
	int i;

	CHECK_FAKE_POOL_OPEN(arg, &c, &p, 120);
	CHECK_RC(pool_set_cache(p, 4 << 20), 0, 122);	/* whatever the env */
	for (i = 0; i < BOUNDS_BLOCKS; i++)
		CHECK_RC(pool_alloc(p, BOUNDS_BLOCK, &offs[i]), 0, 123);
	for (i = 0; i < BOUNDS_BLOCKS; i++)
		CHECK_RC(pool_free(p, offs[i]), 0, 124);
	fake_pool_close(c, p);
	return 0;
}

/* Blocks the fake saw freed: in batches, and one by one. */
static int
freed_blocks(const char *log)
{
	const char *l;
	int n = 0;

	for (l = log; (l = strstr(l, "\nfree_batch ")); l++)
		n += atoi(l + strlen("\nfree_batch "));
	return n + log_lines(log, "free ");
}

static void
bounds_need_the_feature(void **state)
{
	char log[LOG_MAX];
	int without, absent, sent;

	(void)state;
	run_lookup_client(LIE_BOUNDS_WITHOUT_BIT, client_bounds, log,
			  sizeof(log));
	without = freed_blocks(log);
	run_lookup_client(LIE_BOUNDS_ABSENT, client_bounds, log, sizeof(log));
	absent = freed_blocks(log);
	run_lookup_client(BOUNDS_SENT, client_bounds, log, sizeof(log));
	sent = freed_blocks(log);
	printf("liar: %d blocks of %d B freed under a %llu KiB limit since "
	       "removed; given back: %d without bit 2, %d with the fields "
	       "absent, %d with them sent\n", BOUNDS_BLOCKS, BOUNDS_BLOCK,
	       (unsigned long long)FAKE_LIMIT >> 10, without, absent, sent);
	/*
	 * The open's 16 KiB budget keeps 8 to 16 blocks (an eviction
	 * halves it); 64 KiB, 32 to 64.
	 */
	assert_in_range(without, BOUNDS_BLOCKS - 16, BOUNDS_BLOCKS - 8);
	assert_in_range(absent, BOUNDS_BLOCKS - 16, BOUNDS_BLOCKS - 8);
	assert_in_range(sent, BOUNDS_BLOCKS - 64, BOUNDS_BLOCKS - 32);
}

/* ---- the harness's own words --------------------------------------------- */

static int
child_fails_check_137(void *arg)
{
	(void)arg;
	return 137;
}

static int
child_killed_by_sigkill(void *arg)
{
	(void)arg;
	kill(getpid(), SIGKILL);
	return 0;
}

static int
child_hangs(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* wait_at_most's end of fn's child, waiting up to ms, in words. */
static struct child_end
child_end_of(int (*fn)(void *), long ms, char *words, size_t len)
{
	struct child_end e;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(fn, NULL);
	assert_true(pid > 0);
	e = wait_at_most(pid, ms);
	child_end_words(e, "failed its check", words, len);
	return e;
}

/*
 * A client's check numbered above 127 is a failed check, not a signal: the
 * exit code 137 and SIGKILL (9) once both read 137, and the check was
 * reported as "crashed with signal 9".
 */
static void
harness_tells_a_check_from_a_signal(void **state)
{
	char words[128];
	struct child_end e;

	(void)state;
	e = child_end_of(child_fails_check_137, CLIENT_TIMEOUT_MS, words,
			 sizeof(words));
	assert_int_equal(e.how, CHILD_EXITED);
	assert_int_equal(e.code, 137);
	assert_string_equal(words, "failed its check 137");

	e = child_end_of(child_killed_by_sigkill, CLIENT_TIMEOUT_MS, words,
			 sizeof(words));
	assert_int_equal(e.how, CHILD_KILLED);
	assert_int_equal(e.code, SIGKILL);
	assert_non_null(strstr(words, "crashed with signal 9 ("));

	e = child_end_of(child_hangs, 50, words, sizeof(words));
	assert_int_equal(e.how, CHILD_HUNG);
	assert_string_equal(words, "hung (killed after 50 ms)");
	printf("liar: exit 137 is check 137, SIGKILL is signal 9, a hang is "
	       "a hang\n");
}

/*
 * One thread's part in a refused connection: an Alloc when the barrier
 * lets both threads go, then one more on the broken connection, each
 * with what pool_last_message says of it in this thread (the words are
 * the thread's own, so they are read here, not by whoever joins it).
 */
struct refused_call {
	struct pool *p;
	pthread_barrier_t *go;
	int rc, later_rc;
	pool_off_t off;
	char words[256], later_words[256];
};

static void *
refused_call_thread(void *arg)
{
	struct refused_call *rc = arg;
	pool_off_t off = 1;

	pthread_barrier_wait(rc->go);
	rc->off = 1;
	rc->rc = pool_alloc(rc->p, 64, &rc->off);
	snprintf(rc->words, sizeof(rc->words), "%s",
		 pool_last_message(rc->rc));
	rc->later_rc = pool_alloc(rc->p, 64, &off);
	snprintf(rc->later_words, sizeof(rc->later_words), "%s",
		 pool_last_message(rc->later_rc));
	return NULL;
}

/*
 * A call the refusal failed: -EUSERS, no block, and the fake's words in
 * the thread's pool_last_message, the control byte shown as '?'.  Or,
 * if in_flight is false (the call may have begun after another thread
 * had found the connection refused), -ECONNRESET with no words at all.
 * Either way the next call is -ECONNRESET, with no words: the refusal's
 * are not that failure's.
 */
static int
check_refused_call(const struct refused_call *rc, bool in_flight)
{
	if (rc->rc == -EUSERS || in_flight) {
		CHECK_RC(rc->rc, -EUSERS, 130);
		if (strcmp(rc->words, REFUSAL_SHOWN) != 0) {
			fprintf(stderr, "child %d: the refused call's words: "
				"\"%s\"\n", (int)getpid(), rc->words);
			return 131;
		}
	} else {
		CHECK_RC(rc->rc, -ECONNRESET, 132);
		CHECK(rc->words[0] == '\0', 133);
	}
	CHECK(rc->off == POOL_OFF_NONE, 134);
	CHECK_RC(rc->later_rc, -ECONNRESET, 135);
	CHECK(rc->later_words[0] == '\0', 136);
	return 0;
}

/*
 * Two threads of one process, each an Alloc on one handle (no share map:
 * no cache, so both reach the fake), and the connection refused.  With
 * REFUSE_TWO_ALLOCS both were read by the fake before it refused, so one
 * thread reads the refusal and fails both calls with it.  With
 * REFUSE_AFTER_OPEN the refusal is waiting when the threads send: a send
 * fails and that thread reads the refusal itself; a call that began once
 * the connection was known refused is -ECONNRESET, but one of the two
 * was the first.
 */
static int
client_refused_two_threads(void *arg)
{
	const struct client_arg *a = arg;
	struct refused_call calls[2];
	pthread_barrier_t go;
	pthread_t t[2];
	struct pool_stats st;
	struct pool_conn *c;
	struct pool *p;
	bool in_flight = a->lc->lie == REFUSE_TWO_ALLOCS;
	int i, rc;

	CHECK_FAKE_POOL_OPEN(a->sock, &c, &p, 120);
	if (!in_flight)
		harness_sleep_ms(50);	/* the refusal and close are in */
	CHECK(pthread_barrier_init(&go, NULL, 2) == 0, 122);
	memset(calls, 0, sizeof(calls));
	for (i = 0; i < 2; i++) {
		calls[i].p = p;
		calls[i].go = &go;
		CHECK(pthread_create(&t[i], NULL, refused_call_thread,
				     &calls[i]) == 0, 123);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < 2; i++)
		if ((rc = check_refused_call(&calls[i], in_flight)))
			return rc;
	CHECK(calls[0].rc == -EUSERS || calls[1].rc == -EUSERS, 137);
	/* This thread made no call the refusal failed: no words here. */
	CHECK_RC(pool_stats(p, &st), -ECONNRESET, 138);
	CHECK(pool_last_message(-EUSERS)[0] == '\0', 139);
	CHECK(pool_last_message(-ECONNRESET)[0] == '\0', 140);
	fake_pool_close(c, p);
	return 0;
}

static void
run_refusal(enum lie lie, const char *what)
{
	struct lie_case lc = {lie, CALL_ALLOC, what};
	struct client_arg a = {NULL, &lc};
	struct child_end rc, frc;
	char log[LOG_MAX];
	struct fake f;
	pid_t pid;

	fake_start(&f, lie);
	a.sock = f.sock;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_refused_two_threads, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, sizeof(log));
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
	if (!strstr(log, "refused\nhung up\n"))
		fail_msg("%s: the fake did not refuse; it saw:\n%s", what,
			 log);
	if (lie == REFUSE_TWO_ALLOCS &&
	    !strstr(log, "\nalloc 64 align 0\nalloc 64 align 0\nrefused\n"))
		fail_msg("%s: the fake did not read both Allocs first; it "
			 "saw:\n%s", what, log);
	if (lie == REFUSE_AFTER_OPEN && strstr(log, "\nalloc "))
		fail_msg("%s: the fake read an Alloc; it saw:\n%s", what,
			 log);
	printf("liar: %-52s -> -EUSERS and its words in each thread\n",
	       what);
}

/*
 * The daemon refusing a connection two threads have calls in flight on:
 * each call is -EUSERS with the daemon's words in its own thread, read
 * there by the thread that read the refusal or by the other, and every
 * later call -ECONNRESET without them.
 */
static void
refusal_fails_both_threads_calls(void **state)
{
	(void)state;
	run_refusal(REFUSE_TWO_ALLOCS, "a refusal after two threads' Allocs");
	run_refusal(REFUSE_AFTER_OPEN, "a refusal waiting for two senders");
}

#define AMID_THREADS	4	/* one Alloc, the rest asking and asking */
#define AMID_ROUNDS	100

/*
 * A thread that keeps asking for the usable size of a block that is not
 * there (-EINVAL, the connection fine) until the refusal ends it.
 */
static void *
asking_thread(void *arg)
{
	struct refused_call *rc = arg;
	size_t us;

	pthread_barrier_wait(rc->go);
	rc->off = POOL_OFF_NONE;
	while ((rc->rc = pool_usable_size(rc->p, 0, &us)) == -EINVAL)
		;
	snprintf(rc->words, sizeof(rc->words), "%s",
		 pool_last_message(rc->rc));
	rc->later_rc = pool_usable_size(rc->p, 0, &us);
	snprintf(rc->later_words, sizeof(rc->later_words), "%s",
		 pool_last_message(rc->later_rc));
	return NULL;
}

/*
 * The Alloc the fake read and refused is -EUSERS with its words, whoever
 * read the refusal: the thread waiting in recvmsg, or one whose send the
 * close made fail.  The others' last calls were either in flight then
 * (-EUSERS) or begun after (-ECONNRESET).
 */
static int
client_refused_amid_others(void *arg)
{
	const struct client_arg *a = arg;
	struct refused_call calls[AMID_THREADS];
	pthread_t t[AMID_THREADS];
	pthread_barrier_t go;
	struct pool_conn *c;
	struct pool *p;
	int i, rc;

	CHECK_FAKE_POOL_OPEN(a->sock, &c, &p, 150);
	CHECK(pthread_barrier_init(&go, NULL, AMID_THREADS) == 0, 152);
	memset(calls, 0, sizeof(calls));
	for (i = 0; i < AMID_THREADS; i++) {
		calls[i].p = p;
		calls[i].go = &go;
		CHECK(pthread_create(&t[i], NULL, i == 0 ? refused_call_thread
				     : asking_thread, &calls[i]) == 0, 153);
	}
	for (i = 0; i < AMID_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < AMID_THREADS; i++)
		if ((rc = check_refused_call(&calls[i], i == 0)))
			return rc;
	fake_pool_close(c, p);
	return 0;
}

/*
 * The refusal read by a sender while another thread waits in recvmsg:
 * the call the daemon read and refused must still be -EUSERS.  A race,
 * so many rounds.
 */
static void
refusal_amid_other_threads_calls(void **state)
{
	struct lie_case lc = {REFUSE_AMID_OTHERS, CALL_ALLOC,
			      "a refusal amid other threads' calls"};
	struct client_arg a = {NULL, &lc};
	struct child_end rc, frc;
	char log[LOG_MAX];
	struct fake f;
	pid_t pid;
	int round;

	(void)state;
	for (round = 0; round < AMID_ROUNDS; round++) {
		fake_start(&f, lc.lie);
		a.sock = f.sock;
		pid = harness_spawn(client_refused_amid_others, &a);
		assert_true(pid > 0);
		rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
		frc = fake_finish(&f, log, sizeof(log));
		if (!child_passed(rc))
			fprintf(stderr, "round %d of %d\n", round + 1,
				AMID_ROUNDS);
		expect_client_passed(rc, lc.what, log);
		expect_fake_passed(frc, lc.what, log);
		if (!strstr(log, "alloc 64 align 0\nrefused\nhung up\n"))
			fail_msg("%s: the fake did not refuse the Alloc; it "
				 "saw:\n%s", lc.what, log);
	}
	printf("liar: %-52s -> -EUSERS for the Alloc, %d rounds\n",
	       lc.what, AMID_ROUNDS);
}

/*
 * pool_list against the fake: the names it must get (NULL: -EPROTO, and
 * nothing kept), in that order.  Leaves by exit(3), not a return: the
 * child's _exit would spare a leak LeakSanitizer's look.
 */
struct list_client {
	const char *sock;
	const char *want;		/* the names, one letter after 'l' */
};

static int
client_list(void *arg)
{
	const struct list_client *a = arg;
	struct pool_stats *ps = (struct pool_stats *)&ps;
	struct pool_conn *c;
	size_t n = 99, i;
	int fds;

	CHECK_RC(pool_connect(a->sock, &c), 0, 130);
	fds = count_fds();
	if (!a->want) {
		CHECK_RC(pool_list(c, &ps, &n), -EPROTO, 131);
		CHECK(ps == NULL && n == 0, 132);
	} else {
		CHECK_RC(pool_list(c, &ps, &n), 0, 133);
		CHECK(n == strlen(a->want), 134);
		for (i = 0; i < n; i++)
			CHECK(ps[i].name[0] == 'l' &&
			      ps[i].name[1] == a->want[i] &&
			      ps[i].name[2] == '\0' &&
			      ps[i].max_size == FAKE_SIZE, 135);
		free(ps);
	}
	CHECK(count_fds() == fds, 136);
	pool_disconnect(c);
	exit(0);
}

/* client_list against a fake telling lie; the fake's log into log. */
static void
run_list_client(enum lie lie, const char *want, const char *what, char *log,
		size_t cap)
{
	struct list_client a;
	struct fake f;
	struct child_end rc, frc;
	pid_t pid;

	fake_start(&f, lie);
	a.sock = f.sock;
	a.want = want;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_list, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
}

struct list_case {
	enum lie lie;
	const char *want;		/* as list_client's */
	int asked;			/* ListPools requests it takes */
	const char *what;
	const char *saw;		/* in the fake's log, or NULL */
};

static void
list_pages_checked(void **state)
{
	static const struct list_case cases[] = {
		/* Each page from the last name of the one before. */
		{LIST_NONE, "0123456789", 4, "pages of 3 of 10 pools",
		 "\nlist after= paged=1\nlist after=l2 paged=1\n"
		 "list after=l5 paged=1\nlist after=l8 paged=1\n"},
		{LIST_OLD, "5183092746", 1,
		 "all at once, as made (no paging)", NULL},
		{LIE_LIST_STUCK, NULL, 2, "a page that does not advance",
		 NULL},
		{LIE_LIST_UNSORTED, NULL, 1, "a page out of order", NULL},
		{LIE_LIST_EMPTY_MORE, NULL, 1, "more left out, none listed",
		 NULL},
		{LIE_LIST_ENDLESS, NULL, 64, "pages without end", NULL},
	};
	char log[LOG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_list_client(cases[i].lie, cases[i].want, cases[i].what,
				log, sizeof(log));
		printf("liar: ListPools %-36s -> %s, %d requests\n",
		       cases[i].what, cases[i].want ? "listed" : "-EPROTO",
		       log_lines(log, "list "));
		if (log_lines(log, "list ") != cases[i].asked)
			fail_msg("%s: %d ListPools, not %d; the fake saw:\n%s",
				 cases[i].what, log_lines(log, "list "),
				 cases[i].asked, log);
		if (cases[i].saw && !strstr(log, cases[i].saw))
			fail_msg("%s: not asked from the last names; the fake "
				 "saw:\n%s", cases[i].what, log);
	}
}

/*
 * pool_blocks against a fake telling lie: the truthful one's 10 blocks in
 * pages of 4, each once; a lie -EPROTO with the cursor, array, count and
 * done as they were and no descriptor kept.  A daemon without features
 * bit 4 (LIE_NONE) is not asked: -EOPNOTSUPP.  Ends with exit(), not
 * _exit, so that LeakSanitizer looks for what a refused page left.
 */
struct blocks_client {
	const char *sock;
	enum lie lie;
};

static int
client_blocks(void *arg)
{
	const struct blocks_client *a = arg;
	struct pool_block_info *b = (struct pool_block_info *)&b;
	struct pool_conn *c;
	uint64_t from = a->lie == LIE_BLOCKS_BEHIND ? BLOCKS_STEP : 0;
	size_t n = 99, seen = 0;
	int done = 7, fds, pages = 0;

	CHECK_RC(pool_connect(a->sock, &c), 0, 140);
	fds = count_fds();
	if (a->lie == LIE_NONE) {
		CHECK_RC(pool_blocks(c, "p", 0, 0, &from, &b, &n, &done),
			 -EOPNOTSUPP, 141);
		CHECK(pool_last_message(-EOPNOTSUPP)[0] == '\0', 142);
	} else if (a->lie != BLOCKS_NONE) {
		CHECK_RC(pool_blocks(c, "p", 0, 0, &from, &b, &n, &done),
			 -EPROTO, 143);
	}
	if (a->lie != BLOCKS_NONE) {
		CHECK(b == (struct pool_block_info *)&b && n == 99 &&
		      done == 7, 144);
		CHECK(from == (a->lie == LIE_BLOCKS_BEHIND ? BLOCKS_STEP : 0),
		      145);
	}
	while (a->lie == BLOCKS_NONE && !(pages > 0 && done)) {
		CHECK_RC(pool_blocks(c, "p", 7, 0, &from, &b, &n, &done), 0,
			 146);
		CHECK(n <= BLOCKS_PAGE && pages++ < BLOCKS_TOTAL, 147);
		for (size_t i = 0; i < n; i++, seen++)
			CHECK(b[i].offset == seen * BLOCKS_STEP &&
			      b[i].nlisted == 1 &&
			      b[i].first_holders[0].pid == 4242, 148);
		free(b);
	}
	CHECK(a->lie != BLOCKS_NONE || seen == BLOCKS_TOTAL, 149);
	CHECK(count_fds() == fds, 150);
	pool_disconnect(c);
	exit(0);
}

static void
run_blocks_client(enum lie lie, const char *what, char *log, size_t cap)
{
	struct blocks_client a;
	struct child_end rc, frc;
	struct fake f;
	pid_t pid;

	fake_start(&f, lie);
	a.sock = f.sock;
	a.lie = lie;
	fflush(stdout);
	fflush(stderr);
	pid = harness_spawn(client_blocks, &a);
	assert_true(pid > 0);
	rc = wait_at_most(pid, CLIENT_TIMEOUT_MS);
	frc = fake_finish(&f, log, cap);
	expect_client_passed(rc, what, log);
	expect_fake_passed(frc, what, log);
}

static void
blocks_pages_checked(void **state)
{
	static const struct {
		enum lie lie;
		int asked;		/* ListBlocks requests it takes */
		const char *what;
	} cases[] = {
		{LIE_NONE, 0, "a daemon without ListBlocks"},
		{BLOCKS_NONE, 3, "pages of 4 of 10 blocks"},
		{LIE_BLOCKS_STUCK, 1, "an empty page that does not move on"},
		{LIE_BLOCKS_DOWN, 1, "offsets going down"},
		{LIE_BLOCKS_129, 1, "129 blocks in a page"},
		{LIE_BLOCKS_BEHIND, 1, "a block below the page's from"},
		{LIE_BLOCKS_NEXT_BACK, 1, "a next not past the last block"},
		{LIE_BLOCKS_5_HOLDERS, 1, "5 first holders"},
		{LIE_BLOCKS_HOLDERS_OVER, 1, "more holders listed than held"},
	};
	char log[LOG_MAX], unknown[32];
	size_t i;

	(void)state;
	snprintf(unknown, sizeof(unknown), "\nrequest %d\n",
		 (int)POOLMGR__REQUEST__BODY_LIST_BLOCKS);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_blocks_client(cases[i].lie, cases[i].what, log,
				  sizeof(log));
		printf("liar: ListBlocks %-38s -> %s, %d requests\n",
		       cases[i].what, cases[i].lie == BLOCKS_NONE ? "listed" :
		       cases[i].lie == LIE_NONE ? "-EOPNOTSUPP" : "-EPROTO",
		       log_lines(log, "blocks "));
		if (log_lines(log, "blocks ") != cases[i].asked ||
		    strstr(log, unknown))
			fail_msg("%s: %d ListBlocks, not %d; the fake saw:\n%s",
				 cases[i].what, log_lines(log, "blocks "),
				 cases[i].asked, log);
	}
	/* Each page from the last one's next, with the filter asked. */
	run_blocks_client(BLOCKS_NONE, "pages", log, sizeof(log));
	if (!strstr(log, "\nblocks from=0 pid=7 handle=0\n"
			 "blocks from=16384 pid=7 handle=0\n"
			 "blocks from=32768 pid=7 handle=0\n"))
		fail_msg("pages not asked from the last next; the fake "
			 "saw:\n%s", log);
}

/* poolctl blocks against a daemon from before ListBlocks. */
static void
poolctl_blocks_old_daemon(void **state)
{
	struct daemon_proc dp;
	char out[1024], err[1024], log[LOG_MAX];
	struct fake f;
	int rc;

	(void)state;
	fake_start(&f, LIE_NONE);
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
	rc = harness_poolctl(&dp, NULL, out, sizeof(out), err, sizeof(err),
			     "--socket %s blocks " FAKE_POOL, f.sock);
	unlink(strcat(dp.dir, "/poolctl.err"));
	expect_fake_passed(fake_finish(&f, log, sizeof(log)),
			   "poolctl blocks against an old daemon", log);
	if (rc != 1 || out[0] != '\0' ||
	    !strstr(err, "poolctl: blocks " FAKE_POOL ": this poolmgrd "
			 "cannot list blocks"))
		fail_msg("poolctl blocks against an old daemon: exit %d, "
			 "\"%s\"; the fake saw:\n%s", rc, err, log);
	assert_int_equal(log_lines(log, "request "), 0);
}

/* poolctl status in each format against a daemon that sends neither. */
static void
poolctl_status_old_daemon_run(const char *format, char *out, size_t len)
{
	struct daemon_proc dp;
	char err[1024], log[LOG_MAX];
	struct fake f;
	int rc;

	fake_start(&f, STATUS_OLD);
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
	rc = harness_poolctl(&dp, NULL, out, len, err, sizeof(err),
			     "--socket %s status -n %s", f.sock, format);
	unlink(strcat(dp.dir, "/poolctl.err"));
	expect_fake_passed(fake_finish(&f, log, sizeof(log)),
			   "poolctl status against an old daemon", log);
	if (rc != 0 || log_lines(log, "daemon stats") != 1)
		fail_msg("poolctl status %s against an old daemon: exit %d, "
			 "\"%s\"; the fake saw:\n%s", format, rc, err, log);
}

/*
 * poolctl status against a daemon from before admin_connections,
 * max_connections_per_uid and kept_connections, that could not read its
 * resident memory either: each is "unknown" in the text, null in JSON
 * and left out of kv and Prometheus, not a 0 that reads as a setting (no
 * place reserved for the admins), as none kept, or as a daemon of no
 * memory.  What it did send is there.
 */
static void
poolctl_status_old_daemon(void **state)
{
	char out[8192];

	(void)state;
	poolctl_status_old_daemon_run("", out, sizeof(out));
	if (!strstr(out, "\n  reserved for admins  unknown\n") ||
	    !strstr(out, "\n  max per uid          unknown\n") ||
	    !strstr(out, "\n  kept for unread fds  unknown\n") ||
	    !strstr(out, "\n  resident memory      unknown\n") ||
	    !strstr(out, "\n  max connections      1024\n") ||
	    !strstr(out, "\n  requests answered    7\n"))
		fail_msg("poolctl status against an old daemon:\n%s", out);
	poolctl_status_old_daemon_run("--json", out, sizeof(out));
	if (!strstr(out, "\"admin_connections\": null") ||
	    !strstr(out, "\"max_connections_per_uid\": null") ||
	    !strstr(out, "\"kept_connections\": null") ||
	    !strstr(out, "\"rss_bytes\": null") ||
	    !strstr(out, "\"max_connections\": 1024"))
		fail_msg("poolctl status --json against an old daemon:\n%s",
			 out);
	poolctl_status_old_daemon_run("--format kv", out, sizeof(out));
	if (strstr(out, "admin_connections") ||
	    strstr(out, "max_connections_per_uid") || strstr(out, "rss_") ||
	    strstr(out, "kept_connections") ||
	    !strstr(out, "\nmax_connections 1024\n"))
		fail_msg("poolctl status --kv against an old daemon:\n%s",
			 out);
	poolctl_status_old_daemon_run("--format prometheus", out, sizeof(out));
	if (strstr(out, "poolmgr_daemon_admin_connections") ||
	    strstr(out, "poolmgr_daemon_max_connections_per_uid") ||
	    strstr(out, "poolmgr_daemon_resident_memory_bytes") ||
	    strstr(out, "poolmgr_daemon_kept_connections") ||
	    !strstr(out, "\npoolmgr_daemon_max_connections 1024\n"))
		fail_msg("poolctl status --prometheus against an old "
			 "daemon:\n%s", out);
}

/* poolctl wait against a daemon from before waiting lookups. */
static void
poolctl_wait_old_daemon(void **state)
{
	struct daemon_proc dp;
	char out[1024], err[1024], log[LOG_MAX];
	struct fake f;
	int rc;

	(void)state;
	fake_start(&f, LIE_OLD_LOOKUP);
	memset(&dp, 0, sizeof(dp));
	snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
	rc = harness_poolctl(&dp, NULL, out, sizeof(out), err, sizeof(err),
			     "--socket %s wait " FAKE_POOL " frame --timeout 5",
			     f.sock);
	unlink(strcat(dp.dir, "/poolctl.err"));
	expect_fake_passed(fake_finish(&f, log, sizeof(log)),
			   "poolctl wait against an old daemon", log);
	if (rc != 1 || !strstr(err, "poolctl: wait " FAKE_POOL ": poolmgrd "
			       "is older than lookups that wait: only "
			       "--timeout 0 works"))
		fail_msg("poolctl wait against an old daemon: exit %d, "
			 "\"%s\"; the fake saw:\n%s", rc, err, log);
	assert_null(strstr(log, "lookup "));
}

/*
 * poolctl names against a daemon from before paging by name: no page is
 * asked for, one ListNames is sent, without an after.  A prefix whose
 * names fit the one reply lists them all, exit 0, nothing on stderr.
 * A reply that leaves names out prints those listed, as a table or a
 * JSON array, says on stderr how many of how many, and exits 1: a script
 * that took the output for every name (to unpublish each, or to look
 * for one) would go on wrong, and a warning alone it does not read.
 */
static void
poolctl_names_old_daemon(void **state)
{
	static const char cut[] =
		"poolctl: names " FAKE_POOL ": 3 of 5 names listed: poolmgrd "
		"is older than paging by name, and one reply holds at most "
		"1000, fewer with long names (a longer prefix lists the "
		"rest)\n";
	static const struct {
		const char *args, *prefix;
		int rc;
		const char *listed, *unlisted, *words;
	} cases[] = {
		{"names " FAKE_POOL " a/", "a/", 0, "a/1", "b/0", ""},
		{"names " FAKE_POOL, "", 1, "b/0", "b/1", cut},
		{"--json names " FAKE_POOL, "", 1, "\"b/0\"", "\"b/1\"", cut},
	};
	struct daemon_proc dp;
	char out[4096], err[1024], log[LOG_MAX], asked[64];
	struct fake f;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&f, NAMES_OLD);
		memset(&dp, 0, sizeof(dp));
		snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
		rc = harness_poolctl(&dp, NULL, out, sizeof(out), err,
				     sizeof(err), "--socket %s -n %s", f.sock,
				     cases[i].args);
		unlink(strcat(dp.dir, "/poolctl.err"));
		expect_fake_passed(fake_finish(&f, log, sizeof(log)),
				   cases[i].args, log);
		printf("liar: poolctl %s against a daemon from before paging "
		       "by name: exit %d, stderr \"%s\"\n", cases[i].args, rc,
		       err);
		if (rc != cases[i].rc || !strstr(out, "a/0") ||
		    !strstr(out, cases[i].listed) ||
		    strstr(out, cases[i].unlisted) ||
		    strcmp(err, cases[i].words) != 0)
			fail_msg("poolctl %s against an old daemon: exit %d, "
				 "stdout:\n%s\nstderr \"%s\"; the fake saw:\n%s",
				 cases[i].args, rc, out, err, log);
		snprintf(asked, sizeof(asked), "names pool=" FAKE_POOL
			 " prefix=%s after=0\n", cases[i].prefix);
		if (log_lines(log, "names ") != 1 || !strstr(log, asked))
			fail_msg("poolctl %s: not one ListNames without an "
				 "after; the fake saw:\n%s", cases[i].args, log);
		assert_int_equal(log_lines(log, "request "), 0);
	}
}

/*
 * poolctl create and set against daemons from before user quotas (and
 * limits), or uids' own user quotas: exit 1, nothing sent, the words
 * naming what the daemon lacks.
 */
static void
poolctl_user_quota_old_daemon(void **state)
{
	static const struct {
		enum lie lie;
		const char *args, *words;
	} cases[] = {
		{LIE_OLD_ALLOC, "set " FAKE_POOL " --user-quota 1M",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for a user quota\n"},
		{LIE_OLD_ALLOC, "create uq --size 1M --user-quota 1M",
		 "poolctl: cannot create pool uq: not supported: the daemon "
		 "is too old for a user quota\n"},
		{LIE_OLD_LOOKUP, "set " FAKE_POOL " --limit 1M --user-quota 1M",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for a limit or a user quota\n"},
		/* uids' own user quotas: the newest, named alone. */
		{LIE_NONE, "set " FAKE_POOL " --user-quota root=1M",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for per-user quotas (--user-quota "
		 "USER=SIZE)\n"},
		{LIE_NONE, "set " FAKE_POOL " --limit 1M --user-quota 0=default",
		 "poolctl: cannot set pool " FAKE_POOL ": not supported: the "
		 "daemon is too old for per-user quotas (--user-quota "
		 "USER=SIZE)\n"},
		{LIE_OLD_ALLOC, "create uq --size 1M --user-quota 1M "
		 "--user-quota 0=2M",
		 "poolctl: cannot create pool uq: not supported: the daemon "
		 "is too old for per-user quotas (--user-quota USER=SIZE)\n"},
		/* Its pools listed, the first asked: nothing sent. */
		{LIE_OLD_ALLOC, "users",
		 "poolctl: users l0: this poolmgrd has no user quotas, and "
		 "cannot list who holds what per uid\n"},
	};
	struct daemon_proc dp;
	char out[1024], err[1024], log[LOG_MAX];
	struct fake f;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fake_start(&f, cases[i].lie);
		memset(&dp, 0, sizeof(dp));
		snprintf(dp.dir, sizeof(dp.dir), "%s", f.dir);
		rc = harness_poolctl(&dp, NULL, out, sizeof(out), err,
				     sizeof(err), "--socket %s %s", f.sock,
				     cases[i].args);
		unlink(strcat(dp.dir, "/poolctl.err"));
		expect_fake_passed(fake_finish(&f, log, sizeof(log)),
				   cases[i].args, log);
		if (rc != 1 || out[0] != '\0' ||
		    strcmp(err, cases[i].words) != 0)
			fail_msg("poolctl %s against an old daemon: exit %d, "
				 "\"%s\"; the fake saw:\n%s", cases[i].args, rc,
				 err, log);
		assert_int_equal(log_lines(log, "request "), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(harness_tells_a_check_from_a_signal),
		cmocka_unit_test(fake_without_share_map_works),
		cmocka_unit_test(open_reply_lies_are_refused),
		cmocka_unit_test(block_reply_lies_are_refused),
		cmocka_unit_test(conversation_lies_are_refused),
		cmocka_unit_test(frozen_map_old_daemon),
		cmocka_unit_test(frozen_map_unsealed_renewal),
		cmocka_unit_test(frozen_map_renewed_frozen),
		cmocka_unit_test(lookup_wait_needs_the_feature),
		cmocka_unit_test(daemon_stats_needs_the_feature),
		cmocka_unit_test(lookup_wait_forever_timed_out_is_a_lie),
		cmocka_unit_test(lookup_wait_interrupted_backs_off),
		cmocka_unit_test(wait_outlived_by_a_restart_asks_once_more),
		cmocka_unit_test(wait_interrupted_ends_in_the_quota_words),
		cmocka_unit_test(alloc_wait_needs_the_feature),
		cmocka_unit_test(batch_persist_needs_the_feature),
		cmocka_unit_test(limit_needs_the_feature),
		cmocka_unit_test(user_quota_needs_the_feature),
		cmocka_unit_test(user_quotas_need_the_feature),
		cmocka_unit_test(names_after_needs_the_feature),
		cmocka_unit_test(took_needs_the_feature),
		cmocka_unit_test(uquota_replies_checked),
		cmocka_unit_test(bounds_need_the_feature),
		cmocka_unit_test(poolctl_wait_old_daemon),
		cmocka_unit_test(refusal_fails_both_threads_calls),
		cmocka_unit_test(refusal_amid_other_threads_calls),
		cmocka_unit_test(list_pages_checked),
		cmocka_unit_test(blocks_pages_checked),
		cmocka_unit_test(poolctl_blocks_old_daemon),
		cmocka_unit_test(poolctl_status_old_daemon),
		cmocka_unit_test(poolctl_user_quota_old_daemon),
		cmocka_unit_test(poolctl_names_old_daemon),
	};

	/* SIGPIPE keeps its default: a client that got one would show it. */
	return cmocka_run_group_tests_name("a lying daemon", tests, NULL,
					   NULL);
}
