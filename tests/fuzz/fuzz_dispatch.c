/*
 * fuzz_dispatch.c - libFuzzer harness for the daemon's request path: the
 * protobuf-c decoder, dispatch.c's checks and every request it carries out
 * on real pools (pool.c, session.c, the engine), and peer.c's transport.
 *
 * WHAT IT COVERS
 *
 * The daemon runs in-process: one event_base, the pools "f" (1 MiB,
 * granularity 16, mode 0600, owned by the fuzzer's uid) and "g" (256 KiB,
 * granularity 64, mode 0644, owner 4242, group 4243, quota 64 KiB),
 * recreated for every input so each input starts from the same state.  An
 * input talks over one or two connections, each a socketpair(AF_UNIX,
 * SOCK_SEQPACKET) with a session and a peer exactly as server_accept.c
 * makes them
 * (session_new reads SO_PEERCRED; the harness may then lower the session's
 * credentials to another uid, see below).  Datagrams go to dispatch_message
 * directly (only while the peer still reads: once killed, peer.c reads no
 * more), or through the socket and peer.c's read path; replies are read
 * back and must decode, an Open reply must carry exactly one descriptor
 * with the access it claims (no other reply may carry one; all are closed)
 * and the size of the pool it was opened on, and a Check reply must say
 * ok.
 *
 * After the datagrams, and again after every connection is closed (the
 * client end closed, the peer noticing EOF on the event loop and freeing
 * its session), every pool must pass heap_check, dpool_check and
 * dispatch_wait_check (its waiting lookups) and dispatch_room_check (its
 * waiting allocations), and its books must agree:
 * each block record matches a live engine block, the engine's other live
 * blocks are the ones held for a stepped release (pool_release.c; blocks
 * over 64 KiB here, one step after each datagram) and the new places of
 * blocks being moved in steps, no request can see a
 * block that only closed handles hold (a handle holding more than 4
 * references drops 4 per step here) and every request sees one that an
 * open handle or the pool holds, references and handle and session
 * counts add up, and once the sessions are gone and the pool has settled
 * only persisted blocks may remain, with no handles.  Every 1000 inputs
 * the number of open descriptors may not have grown by more than 16.  A failure aborts with a
 * message on the real stderr.
 *
 * A FAILED REQUEST CHANGES NO STATE
 *
 * Around each request dispatched for the first time (not one held and
 * taken up again: what a wait began and how it ends are no immediate
 * answer), the harness takes a digest of what clients can see of the
 * daemon: every pool with whatever CreatePool and SetPool set (size,
 * page, granule, mode, owner, group, quota, user quota and uids' own,
 * limit, retain, access control list) and the generation the next
 * Publish follows; its live blocks, each with its size, its holders (as
 * a set: connection and handle, or a closed handle still dropping its
 * references), whether it is persistent, by whom and since when, and
 * whether it is being moved or zeroed; its names, each with its block,
 * generation, publisher and, evictable, its last use (the order of
 * eviction); and each connection: whether it said Hello and as whom, the
 * handle number its next open gets, its open handles (pool, access,
 * references and bytes), the handles a forced destroy closed, and its
 * waits (a lookup, an allocation, a place kept for a wait's next part).
 * If every reply the dispatch made was an error (DaemonStats' requests
 * and requests_refused each grew by as many), the digest after must be
 * the one before.  Left out, as documented to change or as nobody's
 * state: the statistics (failed_allocs, invalid_frees, the quotas'
 * refusals count refusals), the cached bytes a request's cache report
 * gives (taken even when the request is refused: docs/protocol.md,
 * "Cache reports"), and the pages the engine keeps, commits or gives
 * back.  One difference is allowed: an Alloc, a Realloc or an AllocBatch
 * without retry_follows, refused -ENOMEM or -EDQUOT, may have evicted
 * unheld evictable names, their blocks gone with them, and been refused
 * all the same (docs/protocol.md, "Eviction"); nothing else may go, and
 * nothing may come.  A connection closed after a Hello of the wrong
 * version is closed after its reply, outside the dispatch compared.  A
 * difference aborts with the request's type, its error and message (from
 * its reply, once read) and the lines of the digest that differ; at the
 * latest when its client closes, for the daemon drops the replies a
 * client leaves unread (peer.c), and a connection opened in its place
 * may be answered with the same id.  At exit the harness says how many
 * refusals it compared and how many of them changed only names evicted
 * for them: a replay of the seed evict_refused shows that allowance
 * met (tests/system/test_fuzz_smoke.sh).
 *
 * HOW THE BYTES ARE READ
 *
 *   byte 0   bits 0-1  0: no automatic Hello; else each connection first
 *                      says a valid Hello (so most inputs reach requests)
 *            bits 2-3  credentials of connection 0: 0 the fuzzer's own
 *                      (trusted), 1 uid 4242 (owner of "g"), 2 uid 4244
 *                      with group 4243 ("g"'s group, the admin group when
 *                      configured), 3 uid 4245 (anyone else)
 *            bit 4     the configuration names admin group 4243
 *            bit 5     deliver through the socket (peer.c reads them)
 *                      instead of calling dispatch_message directly
 *            bits 6-7  credentials of connection 1, as bits 2-3
 *   byte 1   bits 0-1  max_blocks_per_session: the default, 2, 8, 32
 *            bit 2     settle_wait_ms = 0: a request held for its pool's
 *                      queued work waits only for the work queued before
 *                      it, then is carried out as things stand
 *   then     datagrams: a control byte (bit 0: connection 0 or 1; bit 1:
 *            close that connection first and open it again; bit 2: that
 *            client stops reading its replies, or reads them again, so
 *            the peer has to queue them; bit 3: if the connection is
 *            opened for this datagram, it is one over the connection
 *            limit, refused at once as the daemon does; bit 4: two seconds
 *            pass on the idle clock first, and the idle tick runs with
 *            idle_trim = 1, so a pool left alone starts a trim in steps
 *            of 64 KiB, one after each datagram; bit 5: if a lookup of
 *            either connection waits for a name, or an alloc for room,
 *            two milliseconds pass first and the loop runs, so that a
 *            wait_ms of 1 ends), a
 *            2-byte
 *            little-endian length and that many bytes (fewer at the end of
 *            the input).  A zero length closes the connection (an empty
 *            datagram is EOF on SOCK_SEQPACKET).  A CreatePool of more than
 *            4 MiB (up to the daemon's own 64 TiB limit) is not delivered:
 *            realloc copies and calloc zeroing through such pools would
 *            only measure the machine's memory.  Nor is one on huge pages
 *            of a size the machine has some of free: those are others'.
 *            Where it has none (the usual case), such a CreatePool is
 *            refused -ENOMEM, and that path is fuzzed.
 *
 * The daemon logs to stderr; the harness asks libFuzzer to close stderr
 * (-close_fd_mask=2, added to the command line) so the log lines do not
 * slow it down.  POOLMGR_FUZZ_LOG=1 keeps them, e.g. to see the message of
 * a fatalx() that ended a run ("fuzz target exited").
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "poolmgr.pb-c.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#include "config.h"
#include "dispatch.h"
#include "hugepage.h"
#include "peer.h"
#include "peer_kept.h"
#include "pool.h"
#include "session.h"

#include "fuzz_common.h"

#define NCONN 2
#define MAX_DATAGRAMS 1024
#define CREATE_CAP (4ull << 20)
#define FD_CHECK_EVERY 1000
#define FD_SLACK 16
#define PUMP_ROUNDS 1000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ident {
	uid_t uid;
	gid_t gid;
	gid_t group;		/* one supplementary group, or 0 for none */
};

/* Index 0 keeps the credentials SO_PEERCRED gave. */
static const struct ident idents[4] = {
	{0, 0, 0},
	{4242, 4242, 0},
	{4244, 4244, 4243},
	{4245, 4245, 0},
};

struct conn {
	int cfd;		/* the client's end; -1 when closed */
	int dfd;		/* the daemon's end, while open */
	struct session *s;
	struct peer *p;
	bool open;		/* session and peer exist */
	bool hold;		/* the client does not read its replies */
	unsigned ident;
};

static struct event_base *base;
static struct config cf;
static uint8_t hello[64];
static size_t hello_len;
static uint64_t max_blocks_default;
static unsigned long inputs;
/* Refusals whose digests were compared, and of those the ones whose
 * only change was names evicted for them, and the ones of those whose
 * reply was never read (said at exit, see report). */
static unsigned long compared, excused, unread_excused;
static long fd_base = -1;
static bool via_socket;
static uint8_t rbuf[PEER_MAX_MESSAGE + 1];

/* ------------------------------------------------------------------ */
/* Pools and their books */

static void
make_pool(const char *name, uint64_t size, uint32_t g, uint32_t mode,
	  uid_t uid, gid_t gid, uint64_t quota)
{
	struct dpool_params pp = {
		.size = size, .granularity = g, .mode = mode, .uid = uid,
		.gid = gid, .quota = quota,
	};
	struct dpool *p;
	int rc = dpool_create(name, &pp, &p);

	if (rc)
		die("dpool_create(%s) = %d", name, rc);
}

static void
reset_pools(void)
{
	struct dpool *p;

	while ((p = dpool_first()))
		dpool_destroy(p, false);
	make_pool("f", 1 << 20, 16, 0600, getuid(), getgid(), 0);
	make_pool("g", 256 << 10, 64, 0644, 4242, 4243, 64 << 10);
}

/* References and byte counts of one pool's handles add up. */
static void
check_handles(struct dpool *p)
{
	struct handle *h;
	unsigned n = 0;

	LIST_FOREACH(h, &p->handles, in_pool) {
		uint64_t refs = 0, bytes = 0;
		struct hold *hd;

		if (h->pool != p)
			die("pool %s lists a handle of pool %s", p->name,
			    h->pool->name);
		LIST_FOREACH(hd, &h->refs, by_handle) {
			struct block *b = hold_block(hd);

			if (hold_handle(hd) != h || b->nrefs == 0)
				die("pool %s: handle %u has a stray reference",
				    p->name, h->id);
			refs++;
			/* A persistent block is its persister's to pay for. */
			if (!block_persistent(b))
				bytes += b->size;
		}
		if (refs != h->nrefs || bytes != h->bytes)
			die("pool %s: handle %u counts %" PRIu64 " refs of %"
			    PRIu64 " bytes, holds %" PRIu64 " of %" PRIu64,
			    p->name, h->id, h->nrefs, h->bytes, refs, bytes);
		n++;
	}
	if (n != p->nhandles)
		die("pool %s counts %u handles, lists %u", p->name,
		    p->nhandles, n);
}

/* Each uid's charge is the bytes of the persistent blocks it persisted. */
static void
check_charges(struct dpool *p)
{
	struct block *b;
	struct block_index_iter it;
	uint64_t sum;
	unsigned i;

	for (i = 0; i < p->ncharges; i++) {
		sum = 0;
		BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
			if (b->persister == p->charges[i].uid)
				sum += b->size;
		if (sum == 0 || sum != p->charges[i].bytes)
			die("pool %s: uid %u charged %" PRIu64 " bytes of "
			    "persistent blocks, persisted %" PRIu64, p->name,
			    (unsigned)p->charges[i].uid, p->charges[i].bytes,
			    sum);
		/* Sorted, so no uid twice and the lookup finds each. */
		if (i && p->charges[i - 1].uid >= p->charges[i].uid)
			die("pool %s: charges of uid %u and %u out of order",
			    p->name, (unsigned)p->charges[i - 1].uid,
			    (unsigned)p->charges[i].uid);
	}
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
		if (block_persistent(b) &&
		    dpool_persisted_by(p, b->persister) == 0)
			die("pool %s: block %#" PRIx64 " persistent but its "
			    "uid is charged nothing", p->name, b->off);
}

/*
 * The engine and the pool's block records agree.  final: no sessions are
 * left; the books must agree as the last one left them, and again once the
 * pool has settled (closed handles' references dropped, held blocks
 * released), when only persisted blocks may remain.
 */
static void
check_pool(struct dpool *p, bool final)
{
	struct heap_stats st;
	struct block *b;
	struct block_index_iter it;
	uint64_t n = 0, persistent = 0, u;
	char msg[256];

	if (final) {
		check_pool(p, false);
		while (dpool_release_step())
			;
		if (dpool_unsettled(p))
			die("pool %s: %u blocks held and %u handles closing "
			    "after settling", p->name, p->releasing,
			    p->closing);
	}
	if (heap_check(p->heap, msg, sizeof(msg)) != 0)
		die("pool %s: heap_check: %s", p->name, msg);
	if (dpool_check(p, msg, sizeof(msg)) != 0)
		die("pool %s: dpool_check: %s", p->name, msg);
	if (dispatch_wait_check(p, msg, sizeof(msg)) != 0)
		die("pool %s: dispatch_wait_check: %s", p->name, msg);
	if (dispatch_room_check(p, msg, sizeof(msg)) != 0)
		die("pool %s: dispatch_room_check: %s", p->name, msg);
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		uint32_t refs = 0, closed = 0;
		struct hold *hd;
		struct ref *r;

		/* Its own hold is held while anyone holds it, and marked. */
		if (b->first.handle_bits) {
			hd = &b->first;
			if (!(hd->handle_bits & HOLD_INLINE) ||
			    hold_handle(hd)->pool != p)
				die("pool %s: block %#" PRIx64 " has a stray "
				    "hold of its own", p->name, b->off);
			refs++;
			closed += !hold_handle(hd)->session;
		} else if (!LIST_EMPTY(&b->refs))
			die("pool %s: block %#" PRIx64 " has holders but its "
			    "own hold is empty", p->name, b->off);
		LIST_FOREACH(r, &b->refs, by_block) {
			hd = &r->hold;
			if (r->block != b || hold_block(hd) != b ||
			    (hd->handle_bits & HOLD_INLINE) ||
			    hold_handle(hd)->pool != p)
				die("pool %s: block %#" PRIx64 " has a stray "
				    "reference", p->name, b->off);
			refs++;
			closed += !hold_handle(hd)->session;
		}
		/* Only closed handles hold it: no request may see it. */
		if (closed == refs && !block_persistent(b) &&
		    dpool_block(p, b->off))
			die("pool %s: block %#" PRIx64 " that only closed "
			    "handles hold is still live", p->name, b->off);
		/* An open handle, or the pool, holds it: requests see it. */
		if ((closed < refs || block_persistent(b)) &&
		    !dpool_block(p, b->off))
			die("pool %s: block %#" PRIx64 " that an open handle "
			    "or the pool holds is not live", p->name, b->off);
		/* A block whose holder let go mid-move waits for the move. */
		if (refs != b->nrefs ||
		    (!refs && !block_persistent(b) && !b->busy))
			die("pool %s: block %#" PRIx64 " has %u refs, counts %u,"
			    " persistent %d", p->name, b->off, refs, b->nrefs,
			    (int)block_persistent(b));
		if (final && refs)
			die("pool %s: block %#" PRIx64 " still referenced after "
			    "every session closed", p->name, b->off);
		if (heap_usable_size(p->heap, b->off, &u) != 0 || u != b->size)
			die("pool %s: block %#" PRIx64 " of %" PRIu64 " bytes is "
			    "not such a live block in the engine", p->name,
			    b->off, b->size);
		persistent += block_persistent(b);
		n++;
	}
	heap_get_stats(p->heap, &st);
	/* Each move has its new place live in the engine too. */
	if (st.live_blocks != n + p->releasing + p->moving)
		die("pool %s: the engine has %" PRIu64 " live blocks, the pool "
		    "knows %" PRIu64 ", holds %u for release and moves %u "
		    "(leaked blocks)", p->name, st.live_blocks, n,
		    p->releasing, p->moving);
	if (persistent != p->persistent_blocks)
		die("pool %s: %" PRIu64 " persistent blocks, counted %" PRIu64,
		    p->name, persistent, p->persistent_blocks);
	check_charges(p);
	if (final && (p->nhandles || !LIST_EMPTY(&p->handles)))
		die("pool %s: %u handles left after every session closed",
		    p->name, p->nhandles);
	check_handles(p);
}

/* A live session's reference count is its handles'. */
static void
check_sessions(const struct conn *conns)
{
	const struct handle *h;
	unsigned k;

	for (k = 0; k < NCONN; k++) {
		uint64_t refs = 0;

		if (!conns[k].open)
			continue;
		LIST_FOREACH(h, &conns[k].s->handles, in_session)
			refs += h->nrefs;
		if (refs != conns[k].s->nrefs)
			die("session %u counts %" PRIu64 " references, its handles "
			    "hold %" PRIu64, k, conns[k].s->nrefs, refs);
	}
}

static void
check_pools(bool final)
{
	struct dpool *p;

	for (p = dpool_first(); p; p = dpool_next(p))
		check_pool(p, final);
}

/* ------------------------------------------------------------------ */
/* Descriptors */

static long
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		die("opendir /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
check_fds(void)
{
	long n;

	if (inputs % FD_CHECK_EVERY != 1)
		return;
	n = count_fds();
	if (fd_base < 0)
		fd_base = n;
	else if (n > fd_base + FD_SLACK)
		die("%ld descriptors open after %lu inputs, %ld after the first",
		    n, inputs, fd_base);
}

/* ------------------------------------------------------------------ */
/* What a refused request must leave as it was */

/*
 * The daemon's state as its clients can see it, one fact a line, the
 * lines sorted: two digests compare line by line, and what differs is
 * said in the daemon's own terms.  Each line is NUL-terminated in text;
 * line[] holds where each begins.
 */
struct digest {
	char *text;
	size_t len, cap;
	size_t *line;
	size_t n, ncap;
};

static struct digest before, after;

/*
 * The digests' own branches and comparisons are not the daemon's:
 * coverage of them, and libFuzzer's hooks of strcmp, would only have it
 * vary the state's words.  So they are left out of its view, and lines
 * are compared by line_cmp, not strcmp.
 */
#define UNWATCHED __attribute__((no_sanitize("coverage")))

UNWATCHED static int
line_cmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* Marks the lines of an evictable name nobody holds, and of its block. */
#define UNHELD_EVICTABLE " [unheld evictable]"

/* realloc, or die: a digest that cannot grow cannot be compared. */
UNWATCHED static void *
grown(void *old, size_t bytes)
{
	void *p = realloc(old, bytes);

	if (!p)
		die("out of memory for a digest of %zu bytes", bytes);
	return p;
}

UNWATCHED __attribute__((format(printf, 2, 3))) static void
fact(struct digest *d, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	for (;;) {
		size_t room = d->cap - d->len;

		if (room) {
			va_start(ap, fmt);
			n = vsnprintf(d->text + d->len, room, fmt, ap);
			va_end(ap);
			if (n < 0)
				die("vsnprintf failed");
			if ((size_t)n < room)
				break;
		}
		d->cap = d->cap * 2 + 65536;
		d->text = grown(d->text, d->cap);
	}
	if (d->n == d->ncap) {
		d->ncap = d->ncap * 2 + 256;
		d->line = grown(d->line, d->ncap * sizeof(*d->line));
	}
	d->line[d->n++] = d->len;
	d->len += (size_t)n + 1;
}

static struct conn *cur_conns;	/* the input's, while it runs */

/* Who holds through h: its connection (NCONN: closed) and handle. */
UNWATCHED static uint64_t
holder_key(const struct handle *h)
{
	unsigned k;

	for (k = 0; k < NCONN; k++)
		if (h->session && cur_conns[k].open &&
		    cur_conns[k].s == h->session)
			return (uint64_t)k << 32 | h->id;
	return (uint64_t)NCONN << 32 | h->id;
}

UNWATCHED static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A block: its place and size, whether it is persistent, by whom and
 * since when, and its holders (a set: the order of a handle's list is
 * nobody's to see), "k.id" for handle id of connection k, "closed.id"
 * for a closed handle still dropping its references.
 */
UNWATCHED static void
digest_block(struct digest *d, struct dpool *p, struct block *b)
{
	static uint64_t keys[POOL_MAX_HOLDERS];
	static char holders[1 << 16];
	struct hold *hd;
	size_t n = 0, i, at = 0;
	uint64_t since = 0;

	BLOCK_FOREACH_HOLD(hd, b)
		if (n < POOL_MAX_HOLDERS)
			keys[n++] = holder_key(hold_handle(hd));
	qsort(keys, n, sizeof(keys[0]), cmp_u64);
	holders[0] = '\0';
	for (i = 0; i < n && at < sizeof(holders) - 32; i++) {
		unsigned k = (unsigned)(keys[i] >> 32), id = (unsigned)keys[i];

		at += (size_t)(k < NCONN ?
			       snprintf(holders + at, sizeof(holders) - at,
					" %u.%u", k, id) :
			       snprintf(holders + at, sizeof(holders) - at,
					" closed.%u", id));
	}
	if (block_persistent(b))
		persist_times_find(&p->persist_times, b->off, &since);
	fact(d, "pool %s block %#" PRIx64 ": %" PRIu64 " bytes, persister "
	     "%d since %" PRIu64 ", busy %d, %zu holders%s%s", p->name,
	     b->off, b->size, block_persistent(b) ? (int)b->persister : -1,
	     since, (int)b->busy, n, holders,
	     b->named && b->evictable && b->nrefs == 0 ? UNHELD_EVICTABLE :
	     "");
}

/*
 * A name: its bytes (in hex: a name may hold any byte but NUL), its
 * block, generation and publisher, and, evictable, its place in the
 * order of eviction (the last use, which a refused Lookup may not
 * change: docs/protocol.md, "Eviction").
 */
UNWATCHED static void
digest_name(struct digest *d, const struct dpool *p,
	    const struct block_name *n)
{
	char hex[2 * BLOCK_NAME_MAX + 1];
	unsigned i;

	for (i = 0; i < n->len; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned char)n->name[i]);
	hex[2 * i] = '\0';
	fact(d, "pool %s name %s: block %#" PRIx64 ", generation %" PRIu64
	     ", publisher %u, evictable %d, used %" PRIu64 ", listed %d%s",
	     p->name, hex, n->block->off, n->generation,
	     (unsigned)n->publisher, n->evict != NULL,
	     n->evict ? n->evict->used : 0, n->evict ? n->evict->on_lru : 0,
	     n->block->evictable && n->block->nrefs == 0 ? UNHELD_EVICTABLE :
	     "");
}

/*
 * A pool: whatever CreatePool and SetPool set, and the generation the
 * next Publish follows; then its blocks and names.  Not its statistics
 * (failed_allocs, invalid_frees, quota_refusals, evictions: they count
 * refusals, docs/protocol.md, "A pool's statistics"), nor what its pages
 * hold or give back (committed bytes, cached blocks, trims and the work
 * of releases: memory the engine keeps or returns, not a client's
 * state), nor the cached bytes its handles' clients reported (taken even
 * with a refused request: docs/protocol.md, "Cache reports").
 */
UNWATCHED static void
digest_pool(struct digest *d, struct dpool *p)
{
	char acl[ACL_MAX * 32 + 8], uq[UQUOTA_TEXT_MAX];
	struct block_index_iter it;
	struct block_name *n;
	struct block *b;
	size_t at = 0;
	unsigned i;

	acl[0] = '\0';
	for (i = 0; i < p->acl.n; i++)
		at += (size_t)snprintf(acl + at, sizeof(acl) - at, " %u:%u:%u",
				       (unsigned)p->acl.e[i].kind,
				       p->acl.e[i].id,
				       (unsigned)p->acl.e[i].rights);
	fact(d, "pool %s: size %" PRIu64 ", page %" PRIu64 ", granule %u, "
	     "mode %#o, owner %u, group %u, quota %" PRIu64 ", user quota %"
	     PRIu64 ", user quotas %s, limit %" PRIu64 ", retain %" PRIu64
	     ", acl%s, generation %" PRIu64, p->name, p->size, p->page_size,
	     1u << p->granule_shift, (unsigned)p->mode, (unsigned)p->uid,
	     (unsigned)p->gid, p->quota, p->user_quota,
	     uquota_text(&p->uquotas, uq, sizeof(uq)), p->limit, p->retain,
	     p->acl.n ? acl : " none", p->name_generation);
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
		digest_block(d, p, b);
	for (n = block_names_from(&p->names, "", 0); n;
	     n = block_names_next(&p->names, n))
		digest_name(d, p, n);
}

/*
 * A connection: whether it said Hello and as whom, the handle number its
 * next open gets, each open handle (its pool, its access, what it holds:
 * the blocks' lines name it), the handles a forced destroy closed, and
 * its waits: a lookup for a name, an allocation for room, a place kept
 * for a wait's next part.
 */
UNWATCHED static void
digest_connection(struct digest *d, unsigned k, const struct conn *c)
{
	const struct handle *h;
	uint32_t i;

	fact(d, "connection %u: greeted %d as '%s', next handle %u, %u "
	     "handles, %u closed by destroys, waits: name %d room %d kept %d",
	     k, (int)c->s->greeted, c->s->name, c->s->next_handle,
	     c->s->nhandles, c->s->ngone, c->s->lookup_wait != NULL,
	     c->s->room_wait != NULL, c->s->room_kept != NULL);
	for (i = 0; i < c->s->ngone && i < SESSION_GONE; i++)
		fact(d, "connection %u: handle %u closed with pool %s", k,
		     c->s->gone[i].id, c->s->gone[i].pool);
	LIST_FOREACH(h, &c->s->handles, in_session)
		fact(d, "connection %u handle %u: pool %s, read-only %d, %"
		     PRIu64 " refs of %" PRIu64 " bytes, moving %" PRIu64, k,
		     h->id, h->pool->name, (int)h->read_only, h->nrefs,
		     h->bytes, h->moving);
}

static const char *digest_text;	/* the digest being sorted */

UNWATCHED static int
cmp_line(const void *a, const void *b)
{
	return line_cmp(digest_text + *(const size_t *)a,
			digest_text + *(const size_t *)b);
}

/* Everything a client can see of the daemon, now. */
UNWATCHED static void
digest_take(struct digest *d)
{
	struct dpool *p;
	unsigned k;

	d->len = 0;
	d->n = 0;
	for (p = dpool_first(); p; p = dpool_next(p))
		digest_pool(d, p);
	for (k = 0; k < NCONN; k++)
		if (cur_conns[k].open)
			digest_connection(d, k, &cur_conns[k]);
	digest_text = d->text;
	qsort(d->line, d->n, sizeof(d->line[0]), cmp_line);
}

/*
 * A refused request that changed what a client can see: said once its
 * reply is read (the reply holds the error), or at the input's end.
 */
static struct {
	bool set;
	unsigned k;		/* its connection */
	uint64_t id;		/* its request's id, echoed in the reply */
	char what[48];		/* its request's type */
	char diff[4096];	/* what differs */
	bool evictions;		/* only names evicted: -ENOMEM and -EDQUOT
				 * may have left that */
} changed;

/* The request's type, as the protocol names its message. */
static void
request_type(const Poolmgr__Request *req, char *out, size_t len)
{
	const ProtobufCFieldDescriptor *f = req ?
		protobuf_c_message_descriptor_get_field(
			&poolmgr__request__descriptor, (int)req->body_case) :
		NULL;
	const ProtobufCMessageDescriptor *m = f && f->type ==
		PROTOBUF_C_TYPE_MESSAGE ? f->descriptor : NULL;

	snprintf(out, len, "%s", m ? m->short_name :
		 "request of no known type");
}

/*
 * May a refusal of req with these lines gone leave them gone?  An
 * allocation refused for room or by a quota (-ENOMEM, -EDQUOT: its
 * reply tells, changed_said) evicts unheld evictable names, then is
 * tried again, and may be refused all the same (docs/protocol.md,
 * "Eviction": "evicts, then is tried again, and succeeds if the room is
 * there now"; "Rarely the engine refuses it all the same"); one that
 * says retry_follows evicts nothing.  Nothing else may go, and nothing
 * may come.
 */
UNWATCHED static bool
evictions_only(const Poolmgr__Request *req, bool all_evictable)
{
	bool retry;

	if (!req || !all_evictable)
		return false;
	switch (req->body_case) {
	case POOLMGR__REQUEST__BODY_ALLOC:
		retry = req->alloc->retry_follows;
		break;
	case POOLMGR__REQUEST__BODY_REALLOC:
		retry = req->realloc->retry_follows;
		break;
	case POOLMGR__REQUEST__BODY_ALLOC_BATCH:
		retry = req->alloc_batch->retry_follows;
		break;
	default:
		return false;
	}
	return !retry;
}

/* Append line to out, as far as it goes. */
UNWATCHED static void
say_line(char *out, size_t len, const char *sign, const char *line)
{
	size_t at = strlen(out);

	if (at + 1 < len)
		snprintf(out + at, len - at, "\n  %s %s", sign, line);
}

/*
 * Compare the digests taken around a request that every reply of was an
 * error; a difference is kept in changed, to be said with its reply.
 */
UNWATCHED static void
compare_refused(unsigned k, const uint8_t *buf, size_t len)
{
	Poolmgr__Request *req;
	size_t i = 0, j = 0, shown = 0;
	bool evictable = true, differs = false;
	char diff[sizeof(changed.diff)] = "";

	while (i < before.n || j < after.n) {
		const char *a = i < before.n ? before.text + before.line[i] :
			NULL;
		const char *b = j < after.n ? after.text + after.line[j] : NULL;
		int c = !a ? 1 : !b ? -1 : line_cmp(a, b);

		if (c == 0) {
			i++;
			j++;
			continue;
		}
		differs = true;
		if (c < 0) {
			size_t n = strlen(a), m = strlen(UNHELD_EVICTABLE);

			if (n < m || line_cmp(a + n - m, UNHELD_EVICTABLE))
				evictable = false;
			if (shown++ < 8)
				say_line(diff, sizeof(diff), "before:", a);
			i++;
		} else {
			evictable = false;
			if (shown++ < 8)
				say_line(diff, sizeof(diff), "after: ", b);
			j++;
		}
	}
	if (!differs)
		return;
	req = poolmgr__request__unpack(NULL, len, buf);
	changed.set = true;
	changed.k = k;
	changed.id = req ? req->id : 0;
	changed.evictions = evictions_only(req, evictable);
	request_type(req, changed.what, sizeof(changed.what));
	snprintf(changed.diff, sizeof(changed.diff), "%s", diff);
	poolmgr__request__free_unpacked(req, NULL);
}

/*
 * Dispatch a datagram of c; if it is a request come for the first time
 * (not one held and taken up again: what a wait began is no part of an
 * immediate answer) and every reply it made at once was an error, the
 * daemon's state must be as it was before.
 */
static void
dispatch_checked(struct peer *p, struct conn *c, const uint8_t *buf,
		 size_t len)
{
	struct daemon_totals t0, t1;
	uint64_t answered, refused;
	bool fresh = !c->s->waiter.held && !c->s->lookup_wait &&
		     !c->s->room_wait;

	if (!fresh || changed.set) {
		dispatch_message(p, c->s, buf, len);
		return;
	}
	digest_take(&before);
	dispatch_status_totals(&t0);
	dispatch_message(p, c->s, buf, len);
	dispatch_status_totals(&t1);
	answered = t1.requests - t0.requests;
	refused = t1.requests_refused - t0.requests_refused;
	if (answered == 0 || refused != answered)
		return;
	compared++;
	digest_take(&after);
	compare_refused((unsigned)(c - cur_conns), buf, len);
}

/*
 * The reply of the refused request that changed the state: say it,
 * unless its error is one that may have evicted what went.
 */
static void
changed_said(unsigned k, const Poolmgr__Reply *rep)
{
	if (!changed.set || changed.k != k || rep->id != changed.id ||
	    rep->error == 0)
		return;
	if (changed.evictions &&
	    (rep->error == -ENOMEM || rep->error == -EDQUOT)) {
		changed.set = false;
		excused++;
		return;
	}
	die("a %s refused with %d (%s) on connection %u changed the "
	    "daemon's state:%s", changed.what, rep->error,
	    rep->message ? rep->message : "", k, changed.diff);
}

/*
 * A refused request that changed the state, whose reply was never read:
 * its client closed, or the input ended, first.  The daemon drops the
 * queued replies of a client that does not read them (peer.c), so the
 * reply may never come: a reply read later on a connection opened again
 * in its place is another's, though it may carry the same id (0, from a
 * connection refused over the limit, or any id a request reuses).
 */
static void
changed_unsaid(void)
{
	/*
	 * Names evicted alone are what a -ENOMEM or -EDQUOT may leave: with
	 * the reply gone, nothing tells it was not one of those.  Only a
	 * change no reply could excuse is said.
	 */
	if (changed.set && changed.evictions) {
		changed.set = false;
		excused++;
		unread_excused++;
		return;
	}
	if (changed.set)
		die("a %s refused on connection %u changed the daemon's state "
		    "(its reply was never read):%s", changed.what, changed.k,
		    changed.diff);
}

/* ------------------------------------------------------------------ */
/* Replies */

/* The share map: no descriptor may write it, and it is as long as said. */
static void
check_share_map(int fd, uint64_t size)
{
	struct stat st;
	int fl = fcntl(fd, F_GET_SEALS);

	if (fl == -1 || !(fl & F_SEAL_FUTURE_WRITE) ||
	    !(fl & F_SEAL_SHRINK) || !(fl & F_SEAL_GROW))
		die("the share map has seals %#x", fl);
	if (fstat(fd, &st) == -1 || (uint64_t)st.st_size != size)
		die("a share map of %" PRIu64 " bytes passed as %lld", size,
		    (long long)st.st_size);
}

/*
 * One reply: it decodes, and descriptors come only with an Open or a
 * ShareMap.
 */
static void
check_reply(unsigned k, const uint8_t *buf, size_t len, const int *fds,
	    size_t nfds)
{
	Poolmgr__Reply *rep = poolmgr__reply__unpack(NULL, len, buf);
	struct stat st;
	bool open_ok, map_ok;
	size_t want;
	int fl;

	if (!rep)
		die("the daemon sent a reply of %zu bytes that does not decode",
		    len);
	open_ok = rep->error == 0 && rep->body_case == POOLMGR__REPLY__BODY_OPEN;
	map_ok = rep->error == 0 &&
		 rep->body_case == POOLMGR__REPLY__BODY_SHARE_MAP;
	/* An Open: the memfd, and the share map when its size is given. */
	want = open_ok ? (rep->open->share_map_size ? 2u : 1u) : map_ok;
	if (nfds != want)
		die("a reply (error %d, body %d) came with %zu descriptors",
		    rep->error, (int)rep->body_case, nfds);
	if (rep->error && (!rep->message || !rep->message[0]))
		die("error %d without a message", rep->error);
	if (rep->body_case == POOLMGR__REPLY__BODY_CHECK && !rep->check->ok)
		die("Check reply: %s", rep->check->problem);
	if (open_ok) {
		fl = fcntl(fds[0], F_GETFL);
		if (fl == -1 || (fl & O_ACCMODE) !=
		    (rep->open->read_only ? O_RDONLY : O_RDWR))
			die("Open (read_only %d) passed a descriptor with flags "
			    "%#x", (int)rep->open->read_only, fl);
		if (fstat(fds[0], &st) == -1 ||
		    (uint64_t)st.st_size != rep->open->max_size)
			die("Open of a pool of %" PRIu64 " bytes passed a "
			    "descriptor of %lld bytes", rep->open->max_size,
			    (long long)st.st_size);
	}
	/* The share map: writers only, and no descriptor may write it. */
	if (open_ok && nfds == 2) {
		if (rep->open->read_only)
			die("a read-only Open got the share map");
		check_share_map(fds[1], rep->open->share_map_size);
	}
	if (map_ok)
		check_share_map(fds[0], rep->share_map->share_map_size);
	changed_said(k, rep);
	poolmgr__reply__free_unpacked(rep, NULL);
}

/* Read every reply waiting on c's client end; returns how many. */
static unsigned
drain(struct conn *c)
{
	unsigned n = 0;

	while (c->cfd >= 0 && !c->hold) {
		char cbuf[CMSG_SPACE(16 * sizeof(int))];
		struct iovec iov = {.iov_base = rbuf, .iov_len = sizeof(rbuf)};
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm;
		int fds[16];
		size_t nfds = 0, i;
		ssize_t len = recvmsg(c->cfd, &msg, MSG_DONTWAIT |
				      MSG_CMSG_CLOEXEC);

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			break;	/* nothing waiting, or the daemon closed */
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t k;

			if (cm->cmsg_level != SOL_SOCKET ||
			    cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < k && nfds < 16; i++)
				memcpy(&fds[nfds++], CMSG_DATA(cm) +
				       i * sizeof(int), sizeof(int));
		}
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			die("a reply was truncated (flags %#x)", msg.msg_flags);
		check_reply((unsigned)(c - cur_conns), rbuf, (size_t)len, fds,
			    nfds);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		n++;
	}
	return n;
}

/*
 * Run the event loop until the peers have nothing left to send: a killed
 * peer flushes and frees itself here, a live one sends what it queued.
 */
static void
pump(struct conn *conns)
{
	unsigned i, k, got, idle = 0;

	for (k = 0; k < NCONN; k++)
		drain(&conns[k]);
	for (i = 0; i < PUMP_ROUNDS && idle < 2; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		for (got = 0, k = 0; k < NCONN; k++)
			got += drain(&conns[k]);
		idle = got ? 0 : idle + 1;
	}
}

/* ------------------------------------------------------------------ */
/* Connections */

struct reader {
	evutil_socket_t fd;
	bool found;
};

static int
find_reader(const struct event_base *b, const struct event *ev, void *arg)
{
	struct reader *r = arg;

	(void)b;
	if (event_get_fd(ev) == r->fd && (event_get_events(ev) & EV_READ)) {
		r->found = true;
		return 1;
	}
	return 0;
}

/* Does the peer still read (is its read event registered)? */
static bool
peer_reading(const struct conn *c)
{
	struct reader r = {.fd = c->dfd, .found = false};

	if (!c->open)
		return false;
	event_base_foreach_event(base, find_reader, &r);
	return r.found;
}

/*
 * Would m take huge pages the machine has?  Only where it has none free
 * is such a CreatePool delivered (refused -ENOMEM): the fuzzer never
 * takes what is reserved for others.
 */
static bool
takes_huge_pages(const Poolmgr__CreatePool *m)
{
	uint64_t page = hugepage_valid(m->page_size);

	return hugepage_is_huge(page) && hugepage_available(page) > 0;
}

/*
 * Delivered to the daemon?  Huge pools, and pools on huge pages the
 * machine has, are kept out (see the header).
 */
static bool
deliverable(const uint8_t *buf, size_t len)
{
	Poolmgr__Request *req = poolmgr__request__unpack(NULL, len, buf);
	bool ok = true;

	if (req && req->body_case == POOLMGR__REQUEST__BODY_CREATE &&
	    ((req->create->max_size > CREATE_CAP &&
	      req->create->max_size <= POOL_MAX_SIZE) ||
	     takes_huge_pages(req->create)))
		ok = false;
	poolmgr__request__free_unpacked(req, NULL);
	return ok;
}

/* The peer's callback, as server_accept.c's: NULL: the peer is gone. */
static void
on_peer(struct peer *p, const uint8_t *buf, size_t len, void *arg)
{
	struct conn *c = arg;

	if (!buf) {
		dispatch_forget(c->s);
		session_free(c->s);
		c->s = NULL;
		c->p = NULL;
		c->open = false;
		return;
	}
	if (deliverable(buf, len))
		dispatch_checked(p, c, buf, len);
}

static void
conn_open(struct conn *c, bool over_limit)
{
	const struct ident *id = &idents[c->ident];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) == -1)
		die("socketpair: %s", strerror(errno));
	c->s = session_new(sv[0]);
	if (!c->s)
		die("session_new: %s", strerror(errno));
	if (c->ident) {
		c->s->uid = id->uid;
		c->s->gid = id->gid;
		c->s->ngroups = id->group ? 1 : 0;
		c->s->groups[0] = id->group;
	}
	if (over_limit) {
		/* As server_accept.c refuses one connection too many. */
		dispatch_refuse_connection(sv[0], -EUSERS,
					   "too many clients connected");
		session_free(c->s);
		c->s = NULL;
		close(sv[0]);
		c->p = NULL;
		c->dfd = -1;
		c->cfd = sv[1];
		c->open = false;
		return;
	}
	c->p = peer_new(base, sv[0], on_peer, c);
	c->dfd = sv[0];
	c->cfd = sv[1];
	c->open = true;
}

/* One datagram from the client of c. */
static void
conn_send(struct conn *conns, struct conn *c, const uint8_t *buf,
	  size_t len)
{
	uint8_t *copy;
	unsigned i;

	if (!c->open)
		return;		/* the daemon dropped this client */
	if (!via_socket) {
		if (!peer_reading(c))
			return;	/* killed: peer.c would not read it */
		/* An exact copy: ASan sees any read past the datagram. */
		copy = malloc(len ? len : 1);
		if (!copy)
			die("out of memory");
		memcpy(copy, buf, len);
		on_peer(c->p, copy, len, c);
		free(copy);
		pump(conns);
		return;
	}
	for (i = 0; i < PUMP_ROUNDS; i++) {
		if (send(c->cfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			return;		/* the daemon closed its end */
		pump(conns);
	}
	pump(conns);
}

/* Close the client end; the peer must notice EOF and free its session. */
static void
conn_close(struct conn *conns, struct conn *c)
{
	unsigned i;

	if (c->cfd < 0)
		return;
	c->hold = false;
	pump(conns);
	if (changed.k == (unsigned)(c - conns))
		changed_unsaid();
	close(c->cfd);
	c->cfd = -1;
	/*
	 * A held request must go on before the peer reads its EOF; but a
	 * lookup waiting for a name, or an allocation for room, may wait
	 * for days: the peer sees the hang-up, as server.c's does, and
	 * drops it.
	 */
	for (i = 0; c->open && peer_holding(c->p) && !c->s->lookup_wait &&
	     !c->s->room_wait; i++) {
		if (i == 100000000)
			die("a held request never went on");
		dpool_release_step();
		dispatch_wake();
	}
	for (i = 0; i < PUMP_ROUNDS && c->open; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (c->open)
		die("the peer did not notice its client closed");
}

static void
conn_start(struct conn *conns, struct conn *c, bool say_hello,
	   bool over_limit)
{
	conn_open(c, over_limit);
	if (say_hello)
		conn_send(conns, c, hello, hello_len);
}

/* ------------------------------------------------------------------ */
/* libFuzzer entry points */

/*
 * At exit: how many refusals were compared, and how many of them changed
 * only names evicted for them (the one difference allowed): a replay
 * shows whether its seeds reached that allowance at all.
 */
static void
report(void)
{
	fprintf(fuzz_errout, "fuzz_dispatch: %lu inputs, %lu refusals "
		"compared, %lu of them changed only names evicted for them "
		"(%lu with their replies never read)\n",
		inputs, compared, excused, unread_excused);
	fflush(fuzz_errout);
}

static void
pack_hello(void)
{
	Poolmgr__Request req = POOLMGR__REQUEST__INIT;
	Poolmgr__Hello h = POOLMGR__HELLO__INIT;

	h.version = 1;
	h.client_name = "fuzz";
	req.id = 1;
	req.body_case = POOLMGR__REQUEST__BODY_HELLO;
	req.hello = &h;
	hello_len = poolmgr__request__get_packed_size(&req);
	if (hello_len > sizeof(hello))
		die("Hello does not fit");
	poolmgr__request__pack(&req, hello);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_daemon_log("fuzz_dispatch", argc, argv);
	signal(SIGPIPE, SIG_IGN);
	atexit(report);
	base = event_base_new();
	if (!base)
		die("event_base_new failed");
	dispatch_wait_setup(base);
	if (dispatch_room_setup(base))
		die("dispatch_room_setup failed");
	config_defaults(&cf);
	cf.admin_gid = 4243;
	max_blocks_default = cf.max_blocks_per_session;
	dispatch_set_config(&cf);
	/* Every page span of these small pools goes back in steps, and a
	 * closed handle with more than 4 references drops them in steps, one
	 * step after each datagram (the server makes one per loop turn), so
	 * blocks are held while later requests arrive. */
	dpool_release_setup(64 << 10, 4, NULL);
	pack_hello();
	reset_pools();
	return 0;
}

static uint64_t idle_clock;	/* seconds, for dpool_idle_tick */

/*
 * A lookup waits for a name, or an allocation for room: let two
 * milliseconds pass, and the loop see its deadline (a real sleep, so only
 * when one waits).
 */
static void
deadlines_pass(struct conn *conns)
{
	const struct timespec ms2 = {0, 2000000};
	unsigned k;

	for (k = 0; k < NCONN; k++)
		if (conns[k].open && (conns[k].s->lookup_wait ||
				      conns[k].s->room_wait))
			break;
	if (k == NCONN)
		return;
	nanosleep(&ms2, NULL);
	pump(conns);
}

/* Feed the datagrams of the input; returns when it is used up. */
static void
run_datagrams(struct conn *conns, const uint8_t *data, size_t size,
	      bool say_hello)
{
	unsigned n;

	for (n = 0; n < MAX_DATAGRAMS && size >= 3; n++) {
		uint8_t ctl = data[0];
		struct conn *c = &conns[ctl & 1];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (ctl & 2)
			conn_close(conns, c);
		if (ctl & 4)
			c->hold = !c->hold;
		if (ctl & 16) {
			idle_clock += 2;
			dpool_idle_tick(idle_clock, 1);
		}
		if (ctl & 32)
			deadlines_pass(conns);
		if (c->cfd < 0)
			conn_start(conns, c, say_hello, (ctl & 8) != 0);
		if (len == 0) {
			conn_close(conns, c);
			continue;
		}
		conn_send(conns, c, data, len);
		dpool_release_step();
		dispatch_wake();
		data += len;
		size -= len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t caps[4] = {0, 2, 8, 32};
	struct conn conns[NCONN];
	uint8_t flags;
	unsigned k, kept_of_uid;

	if (size < 2)
		return 0;
	inputs++;
	check_fds();
	flags = data[0];
	via_socket = flags & 0x20;
	cf.has_admin_gid = (flags & 0x10) != 0;
	cf.max_blocks_per_session = caps[data[1] & 3] ? caps[data[1] & 3]
						      : max_blocks_default;
	cf.settle_wait_ms = data[1] & 4 ? 0 : 2000;
	memset(conns, 0, sizeof(conns));
	cur_conns = conns;
	conns[0].ident = (flags >> 2) & 3;
	conns[1].ident = (flags >> 6) & 3;
	for (k = 0; k < NCONN; k++)
		conns[k].cfd = -1;

	run_datagrams(conns, data + 2, size - 2, (flags & 3) != 0);
	pump(conns);
	check_sessions(conns);
	check_pools(false);
	for (k = 0; k < NCONN; k++)
		conn_close(conns, &conns[k]);
	/*
	 * A connection dropped with replies unread after descriptors went
	 * is kept until its client closes (peer.c); the clients have closed,
	 * and the daemon sweeps only when the count would refuse one: sweep
	 * now, or check_fds would count them.  One left is a leak.
	 */
	if (peer_kept(0, &kept_of_uid, true))
		die("a connection kept after its client closed");
	changed_unsaid();
	check_pools(true);
	reset_pools();
	return 0;
}
