/*
 * fuzz_restore.c - libFuzzer harness for the new image's side of a restart
 * in place: the state's decoding (state_load), its checks (state_check)
 * and, when they accept it, the rebuild of every pool and session
 * (restore.c's build) and its undoing (teardown).
 *
 * WHAT IT COVERS
 *
 * The input is the state itself, the bytes the old image writes into the
 * "poolmgrd-state" memfd: it goes into a sealed memfd as a restart passes
 * it.  The descriptors that come with it are made here: one listening
 * socket (made once), a memfd of the size the state claims for each pool
 * (sealed against shrinking and growing, as the daemon's are), and for
 * every session the daemon's end of one socketpair made once, so that
 * SO_PEERCRED answers (no peer is put on a loop: publish is not run).
 * States of more than 8 pools or 16 sessions, or a pool over 16 MiB, are
 * not fed: they cost memfds and metadata, not coverage.
 *
 * When the rebuild succeeds, every pool must pass heap_check and
 * dpool_check, and hold exactly the blocks the state lists with their
 * persisters, and every session its handles under their ids, on their
 * pools, with their holds in their saved order, and unsent replies that
 * its peer's queue would take (each a datagram, their cost within
 * PEER_MAX_QUEUED); when it fails it must say why.
 *
 * Then the unsent replies are sent as publish sends them: each session
 * with some gets a peer on a socketpair of its own, carry_unsent queues
 * them with their descriptors (carried_fds: this image's memfd of the
 * pool, opened read-only again for a read-only open, the pool's share
 * map, or one passed as "reply.<i>"), and the loop runs until the other
 * end has read them.  Every one must be carried and arrive whole, in
 * order, with no more descriptors than the state says, each the very
 * file it names (a share map the pool does not have is left out) and a
 * read-only one only reading.  The "reply.<i>" descriptors the state
 * names (at most 8) are memfds made here.  Either way teardown must leave no pool and no session
 * behind (under ASan: no leak, no use after free), and every 1000 inputs
 * the number of open descriptors may not have grown.  A failure aborts with
 * a message on the real stderr.
 *
 * The seeds (tests/fuzz/corpus/fuzz_restore/) are the states
 * tests/integration/itest_restore.c makes, good and bad, written there
 * with POOLMGR_STATE_SEEDS=DIR (state-*; its reply over PEER_MAX_MESSAGE
 * as oversized_reply, but not its 4 MiB of replies over PEER_MAX_QUEUED:
 * make_states.c writes a state of about 170 KiB over that bound,
 * oversized_queue, and one over the count's bound, oversized_count),
 * and make_states.c's states with named blocks, evictable and kept,
 * their generations and the eviction counters, good and bad (named-*);
 * regress_events_not_summing is an input this harness once found to
 * abort the rebuild (allocation counters that did not add up passed the
 * checks, and heap_events_restore asserted).  A rebuilt pool must also
 * have every name as saved: its block, publisher, flag and generation
 * (or one given anew above the saved count, for a state without them),
 * the eviction counters, and its unheld evictable names on the list of
 * eviction by their saved places (named_use_order; equal places, or
 * none saved, in the state's order); and its limit as saved, which
 * make_states.c's limit-* seeds give (0, below what the pool holds, the
 * whole size; refused: past the size, below a granule); and its access
 * control list as saved, entry for entry, which only a list of at most
 * 32 words, each one acl_word could make, no kind and id twice, may give
 * (make_states.c's acl-* seeds: saved out of order, none, 32; refused: a
 * word of no kind, of bits past the kind, an entry twice, 33); and its
 * user quotas of uids as saved, entry for entry, which only an even count
 * of at most 64 words may give, each entry a uid below 2^32 - 1, none
 * twice (make_states.c's uq-* seeds: saved out of order, 32; refused: an
 * odd word, a uid past 32 bits, nobody's, a uid twice, 33).
 *
 * restore.c is included, not linked, to reach its static build and
 * teardown; the Makefile leaves it out of the daemon's sources here.
 * The daemon logs to stderr; libFuzzer is asked to close it
 * (-close_fd_mask=2) unless POOLMGR_FUZZ_LOG is set.
 */
#include "restore.c"

#include <event2/event.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "block_names.h"
#include "pool.h"
#include "pool_evict.h"
#include "session.h"

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_POOLS 8
#define FUZZ_MAX_SESSIONS 16
#define FUZZ_MAX_POOL_SIZE (16ull << 20)
#define FUZZ_MAX_REPLIES 8
#define FUZZ_MAX_FDS (2 + FUZZ_MAX_POOLS + FUZZ_MAX_SESSIONS + \
		      FUZZ_MAX_REPLIES)

static int listen_fd = -1;
static int conn_fd = -1;	/* the daemon's end of every session */
static int client_fd = -1;	/* its other end, kept open */
static struct event_base *base;	/* the carried replies' peers */
static unsigned long inputs, fed, rebuilt, sent, sent_fds;
static long fd_base = -1;

/* How many inputs were states fed to the checks, and how many rebuilt. */
static void
report(void)
{
	fprintf(fuzz_errout, "fuzz_restore: %lu inputs, %lu states fed to "
		"the checks, %lu rebuilt; %lu carried replies sent, passing "
		"%lu descriptors\n", inputs, fed, rebuilt, sent, sent_fds);
	fflush(fuzz_errout);
}

static int
sealed_memfd(const char *name, const void *data, size_t len, int seals)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd == -1)
		die("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)len) == -1 ||
	    (data && len && pwrite(fd, data, len, 0) != (ssize_t)len) ||
	    fcntl(fd, F_ADD_SEALS, seals) == -1)
		die("making a memfd of %zu bytes: %s", len, strerror(errno));
	return fd;
}

/*
 * Is it worth feeding?  The sizes a pool memfd would need, and the
 * numbers of descriptors, within this harness's bounds.
 */
static bool
feedable(const Poolmgrd__State *st, unsigned *nreplies)
{
	size_t i;

	/* A count that does not add up is load's to refuse: none made. */
	if (state_replies(st, nreplies) != 0)
		*nreplies = 0;
	if (st->n_pools > FUZZ_MAX_POOLS ||
	    st->n_sessions > FUZZ_MAX_SESSIONS ||
	    *nreplies > FUZZ_MAX_REPLIES)
		return false;
	for (i = 0; i < st->n_pools; i++)
		if (st->pools[i]->size > FUZZ_MAX_POOL_SIZE)
			return false;
	return true;
}

/* The rebuilt pools hold the state's blocks and pass every check. */
static void
check_built(const struct rebuild *rb)
{
	char problem[256];
	unsigned k;

	if (dpool_count() != rb->st->n_pools ||
	    session_count() != rb->st->n_sessions)
		die("built %u pools and %u sessions of %zu and %zu",
		    dpool_count(), session_count(), rb->st->n_pools,
		    rb->st->n_sessions);
	/*
	 * A small block's slack is kept only as far as its bits can hold
	 * (heap_reserve): the engine may count it asked for more than saved.
	 */
	for (k = 0; k < rb->st->n_pools; k++) {
		const Poolmgrd__PoolState *ps = rb->st->pools[k];
		struct dpool *p = rb->pools[k];
		struct heap_block_info bi;
		size_t i;

		if (heap_check(p->heap, problem, sizeof(problem)) != 0 ||
		    dpool_check(p, problem, sizeof(problem)) != 0)
			die("pool %s restored, but: %s", p->name, problem);
		for (i = 0; i < ps->n_block_off; i++)
			if (heap_block_info(p->heap, ps->block_off[i], &bi) ||
			    bi.size != ps->block_size[i] ||
			    bi.requested < ps->block_requested[i] ||
			    bi.span != (ps->block_span[i] ? 1 : 0))
				die("pool %s: block %#llx of %llu bytes (%llu "
				    "asked, span %d) is saved as %llu (%llu, "
				    "%d)", p->name,
				    (unsigned long long)ps->block_off[i],
				    (unsigned long long)bi.size,
				    (unsigned long long)bi.requested, bi.span,
				    (unsigned long long)ps->block_size[i],
				    (unsigned long long)ps->block_requested[i],
				    ps->block_span[i]);
	}
}

/* Every handle of session k as saved: its id, pool, access and holds, in
 * their order; every block's persister as saved. */
static void
check_sessions(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__SessionState *ss = rb->st->sessions[k];
	struct session *s = rb->sessions[k];
	size_t i, j, cost = 0;

	for (i = 0; i < ss->n_unsent; i++) {
		if (ss->unsent[i].len > PEER_MAX_MESSAGE)
			die("client %u: an unsent reply of %zu bytes passed",
			    k, ss->unsent[i].len);
		cost += peer_out_cost(ss->unsent[i].len);
	}
	if (cost > PEER_MAX_QUEUED)
		die("client %u: unsent replies costing %zu passed", k, cost);

	if (s->nhandles != ss->n_handles || s->greeted != ss->greeted ||
	    s->next_handle != ss->next_handle)
		die("client %u: %u handles, not %zu", k, s->nhandles,
		    ss->n_handles);
	for (i = 0; i < ss->n_handles; i++) {
		const Poolmgrd__HandleState *hs = ss->handles[i];
		struct handle *h = session_handle(s, hs->id);
		struct hold *hd;

		if (!h || h->pool != rb->pools[hs->pool] ||
		    h->read_only != hs->read_only || h->nrefs != hs->n_holds)
			die("client %u: handle %u is not as saved", k, hs->id);
		j = 0;
		LIST_FOREACH(hd, &h->refs, by_handle)
			if (hold_block(hd)->off != hs->holds[j++])
				die("client %u: handle %u: hold %zu is of "
				    "%#llx, saved %#llx", k, hs->id, j - 1,
				    (unsigned long long)hold_block(hd)->off,
				    (unsigned long long)hs->holds[j - 1]);
	}
}

/* Pool k's limit as saved: a restart in place neither drops nor
 * enforces it on what the pool holds. */
static void
check_limit(const struct rebuild *rb, unsigned k)
{
	if (rb->pools[k]->limit != rb->st->pools[k]->limit)
		die("pool %s: limit %llu, saved %llu", rb->pools[k]->name,
		    (unsigned long long)rb->pools[k]->limit,
		    (unsigned long long)rb->st->pools[k]->limit);
}

/*
 * Pool k's access control list is the saved one, entry for entry: which
 * must then have been a list (at most 32 words, each with a kind of user
 * or group and nothing past it, an id not 2^32 - 1, rights of read and
 * write only, no kind and id twice), in whatever order it was saved.
 */
static void
check_acl(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	const struct dpool *p = rb->pools[k];
	uint64_t w, kind;
	size_t i, j;

	if (ps->n_acl > 32 || p->acl.n != ps->n_acl)
		die("pool %s: %u access control entries rebuilt, %zu saved",
		    p->name, (unsigned)p->acl.n, ps->n_acl);
	for (i = 0; i < ps->n_acl; i++) {
		w = ps->acl[i];
		kind = w >> 40 & 0xff;
		if (w >> 48 || (kind != 1 && kind != 2) ||
		    (w & 0xffffffff) == 0xffffffff || (w >> 32 & 0xff & ~6u))
			die("pool %s: access control word %#llx rebuilt",
			    p->name, (unsigned long long)w);
		for (j = 0; j < p->acl.n; j++)
			if (((uint64_t)p->acl.e[j].kind << 40 |
			     (uint64_t)p->acl.e[j].rights << 32 |
			     p->acl.e[j].id) == w)
				break;
		if (j == p->acl.n)
			die("pool %s: access control word %#llx saved, not "
			    "rebuilt", p->name, (unsigned long long)w);
	}
}

/*
 * Pool k's user quotas of uids are the saved ones, entry for entry: which
 * must then have been a list (an even count of at most 64 words, each
 * uid below 2^32 - 1, none twice), in whatever order it was saved.
 */
static void
check_uquotas(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	const struct dpool *p = rb->pools[k];
	const struct uquota_entry *e;
	size_t i;

	if (ps->n_user_quotas % 2 || ps->n_user_quotas > 64 ||
	    2 * p->uquotas.n != ps->n_user_quotas)
		die("pool %s: %u user quotas of uids rebuilt, %zu words saved",
		    p->name, (unsigned)p->uquotas.n, ps->n_user_quotas);
	for (i = 0; i < p->uquotas.n; i++) {
		if (ps->user_quotas[2 * i] >= 0xffffffff)
			die("pool %s: a user quota of uid %#llx rebuilt",
			    p->name,
			    (unsigned long long)ps->user_quotas[2 * i]);
		e = uquota_find(&p->uquotas,
				(uint32_t)ps->user_quotas[2 * i]);
		if (!e || e->bytes != ps->user_quotas[2 * i + 1])
			die("pool %s: the user quota of uid %llu saved, not "
			    "rebuilt", p->name,
			    (unsigned long long)ps->user_quotas[2 * i]);
		if (i && p->uquotas.e[i - 1].uid >= p->uquotas.e[i].uid)
			die("pool %s: user quotas of uids rebuilt out of "
			    "order", p->name);
	}
}

/* Pool k's quota refusals as saved: counted since the pool was made. */
static void
check_refusals(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	const struct dpool *p = rb->pools[k];

	if (p->quota_refusals != ps->quota_refusals ||
	    p->user_quota_refusals != ps->user_quota_refusals)
		die("pool %s: quota refusals %llu and %llu, saved %llu and "
		    "%llu", p->name, (unsigned long long)p->quota_refusals,
		    (unsigned long long)p->user_quota_refusals,
		    (unsigned long long)ps->quota_refusals,
		    (unsigned long long)ps->user_quota_refusals);
}

static void
check_persisters(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	struct dpool *p = rb->pools[k];
	struct block *b;
	size_t i;

	for (i = 0; i < ps->n_block_off; i++) {
		b = block_index_find(&p->blocks, ps->block_off[i]);
		if (!b || b->size != ps->block_size[i] ||
		    b->persister != (uid_t)ps->block_persister[i])
			die("pool %s: block %#llx's record is not as saved",
			    p->name, (unsigned long long)ps->block_off[i]);
	}
}

/*
 * Every name of pool k as saved: at its block, by its publisher, its flag
 * (none saved: kept) and its generation (none saved: given anew, above
 * the saved count), the pool's count at least every generation, and the
 * eviction counters carried.
 */
static void
check_names(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	struct dpool *p = rb->pools[k];
	const struct block_name *n;
	uint64_t gen;
	bool evictable;
	size_t i;

	if (p->names.count != ps->n_named_name ||
	    p->name_generation < ps->name_generation ||
	    p->evict.evictions != ps->evictions ||
	    p->evict.evicted_bytes != ps->evicted_bytes)
		die("pool %s: %u names up to generation %llu, %llu evicted; "
		    "saved %zu, %llu, %llu", p->name, p->names.count,
		    (unsigned long long)p->name_generation,
		    (unsigned long long)p->evict.evictions, ps->n_named_name,
		    (unsigned long long)ps->name_generation,
		    (unsigned long long)ps->evictions);
	for (i = 0; i < ps->n_named_name; i++) {
		n = block_names_find(&p->names, ps->named_name[i].data,
				     ps->named_name[i].len);
		evictable = ps->n_named_flags && (ps->named_flags[i] &
		    POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE);
		gen = ps->n_named_generation ? ps->named_generation[i] : 0;
		if (!n || n->block->off != ps->named_off[i] ||
		    n->publisher != (uid_t)ps->named_publisher[i] ||
		    (n->evict != NULL) != evictable ||
		    (gen && n->generation != gen) ||
		    (!gen && n->generation <= ps->name_generation) ||
		    n->generation > p->name_generation)
			die("pool %s: name %zu is %s at %#llx, evictable %d, "
			    "generation %llu of %llu; saved at %#llx, %d, %llu "
			    "of %llu", p->name, i, n ? "there" : "not there",
			    n ? (unsigned long long)n->block->off : 0ull,
			    n ? n->evict != NULL : 0,
			    n ? (unsigned long long)n->generation : 0ull,
			    (unsigned long long)p->name_generation,
			    (unsigned long long)ps->named_off[i], evictable,
			    (unsigned long long)gen,
			    (unsigned long long)ps->name_generation);
	}
}

/* The index in ps of the name at off (restore gives each block one). */
static size_t
named_index(const Poolmgrd__PoolState *ps, uint64_t off)
{
	size_t i;

	for (i = 0; i < ps->n_named_off && ps->named_off[i] != off; i++)
		;
	return i;
}

/*
 * Pool k's list of eviction: its unheld evictable names by their saved
 * places (named_use_order; none saved: all equal), equal ones in the
 * state's order.  Holds restored after the names take theirs off the
 * list without moving the others.  A name per link costs a search of the
 * state's: inputs are small.
 */
static void
check_evict_order(const struct rebuild *rb, unsigned k)
{
	const Poolmgrd__PoolState *ps = rb->st->pools[k];
	struct dpool *p = rb->pools[k];
	const struct evict_link *l;
	uint64_t key, last_key = 0;
	size_t i, last = 0;
	bool first = true;

	TAILQ_FOREACH(l, &p->evict.lru, lru) {
		i = named_index(ps, l->name->block->off);
		if (i == ps->n_named_off)
			die("pool %s: a name on the list of eviction that "
			    "was not saved", p->name);
		key = ps->n_named_use_order ? ps->named_use_order[i] : 0;
		if (!first && (key < last_key || (key == last_key &&
		    i < last)))
			die("pool %s: name %zu (place %llu) is evicted before "
			    "name %zu (place %llu)", p->name, last,
			    (unsigned long long)last_key, i,
			    (unsigned long long)key);
		first = false;
		last_key = key;
		last = i;
	}
}

/* The peers' dispatch: their clients send nothing; a gone peer is free. */
static void
on_peer(struct peer *p, const uint8_t *buf, size_t len, void *arg)
{
	(void)p;
	(void)buf;
	(void)len;
	(void)arg;
}

/* The file the j-th descriptor of a carried reply must be; -1: none. */
static int
carried_file(const struct rebuild *rb, const Poolmgrd__SessionState *ss,
	     size_t j)
{
	unsigned first = 2 + (unsigned)(rb->st->n_pools + rb->st->n_sessions);
	uint32_t ref = ss->unsent_fd_ref[j];

	switch (ss->unsent_fd_kind[j]) {
	case POOLMGRD__CARRIED_FD__CARRIED_FD_POOL:
	case POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY:
		return rb->pools[ref]->memfd;
	case POOLMGRD__CARRIED_FD__CARRIED_FD_SHARE_MAP:
		return rb->pools[ref]->share_fd;
	default:
		return rb->fds[first + ref];
	}
}

/* How many descriptors the state says unsent reply i passes. */
static size_t
passes(const Poolmgrd__SessionState *ss, size_t i)
{
	return ss->n_unsent_nfds ? ss->unsent_nfds[i] : 0;
}

static bool
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	    sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/*
 * Carried reply i of session k as received (buf, len, fds[0 .. n - 1]),
 * its descriptors from the j-th of the state's on: as the state says.
 */
static void
check_received(const struct rebuild *rb, unsigned k, size_t i, size_t j,
	       const uint8_t *buf, size_t len, const int *fds, int n)
{
	const Poolmgrd__SessionState *ss = rb->st->sessions[k];
	size_t want = passes(ss, i), e;
	int got = 0, file;

	if (len != ss->unsent[i].len ||
	    (len && memcmp(buf, ss->unsent[i].data, len) != 0))
		die("client %u: carried reply %zu arrived as %zu other bytes",
		    k, i, len);
	for (e = j; e < j + want; e++) {
		if ((file = carried_file(rb, ss, e)) < 0)
			continue;	/* a share map the pool lacks */
		if (got == n)
			die("client %u: carried reply %zu came with %d "
			    "descriptors, fewer than its %zu", k, i, n, want);
		if (!same_file(fds[got], file))
			die("client %u: carried reply %zu: descriptor %d is "
			    "not the file it names", k, i, got);
		if (ss->unsent_fd_kind[e] ==
		    POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY &&
		    (fcntl(fds[got], F_GETFL) & O_ACCMODE) != O_RDONLY)
			die("client %u: carried reply %zu: a read-only open's "
			    "memfd writes", k, i);
		got++;
	}
	if (got != n)
		die("client %u: carried reply %zu came with %d descriptors, "
		    "not %d", k, i, n, got);
}

/* The next datagram on fd, its descriptors in fds: its length, or -1. */
static ssize_t
receive(int fd, uint8_t *buf, int *fds, int *n)
{
	union {
		struct cmsghdr hdr;
		char space[CMSG_SPACE(PEER_MAX_FDS * sizeof(int))];
	} cm;
	struct iovec iov = {.iov_base = buf, .iov_len = PEER_MAX_MESSAGE};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.space,
			     .msg_controllen = sizeof(cm.space)};
	struct cmsghdr *c;
	ssize_t len;

	*n = 0;
	if ((len = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC)) < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			*n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), (size_t)*n * sizeof(int));
		}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		die("a carried reply came truncated");
	return len;
}

/*
 * Session k's unsent replies, carried on a peer of their own as publish
 * does, and read at the other end: as the state has them.
 */
static void
send_carried(struct rebuild *rb, unsigned k)
{
	const Poolmgrd__SessionState *ss = rb->st->sessions[k];
	static uint8_t buf[PEER_MAX_MESSAGE];
	int sv[2], fds[PEER_MAX_FDS], n, idle;
	size_t carried, i = 0, j = 0;
	struct peer *pe;
	ssize_t len;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) == -1)
		die("socketpair: %s", strerror(errno));
	pe = peer_new(base, sv[0], on_peer, NULL);
	if ((carried = carry_unsent(rb, pe, ss)) != ss->n_unsent)
		die("client %u: %zu of its %zu unsent replies carried", k,
		    carried, ss->n_unsent);
	for (idle = 0; i < carried && idle < 100; idle++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		while (i < carried &&
		       (len = receive(sv[1], buf, fds, &n)) >= 0) {
			check_received(rb, k, i, j, buf, (size_t)len, fds, n);
			sent++;
			sent_fds += (unsigned long)n;
			while (n > 0)
				close(fds[--n]);
			j += passes(ss, i);
			i++;
			idle = 0;
		}
	}
	if (i < carried)
		die("client %u: %zu of its %zu carried replies arrived", k, i,
		    carried);
	peer_close_all();
	close(sv[1]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int sv[2];

	fuzz_quiet_daemon_log("fuzz_restore", argc, argv);
	signal(SIGPIPE, SIG_IGN);
	atexit(report);
	dpool_release_setup(DPOOL_RELEASE_STEP_DEFAULT,
			    DPOOL_DROP_STEP_DEFAULT, NULL);
	/* Bound to an abstract name the kernel picks (autobind). */
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (listen_fd == -1 ||
	    bind(listen_fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) ||
	    listen(listen_fd, 1) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		die("sockets: %s", strerror(errno));
	conn_fd = sv[0];
	client_fd = sv[1];
	if (!(base = event_base_new()))
		die("event_base_new failed");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *names[FUZZ_MAX_FDS];
	static char named[FUZZ_MAX_FDS][24];
	int fds[FUZZ_MAX_FDS];
	struct passed_fds pf = {0};
	struct rebuild rb = {0};
	Poolmgrd__State *st;
	char why[320];
	unsigned n, k, nreplies;
	int sfd, rc;

	inputs++;
	if (size == 0)
		return 0;
	sfd = sealed_memfd("poolmgrd-state", data, size, F_SEAL_SHRINK |
			   F_SEAL_GROW | F_SEAL_WRITE);
	/* Decoded once to size the descriptors, again by load. */
	if (!(st = state_load(sfd, why, sizeof(why))) ||
	    !feedable(st, &nreplies)) {
		if (st)
			poolmgrd__state__free_unpacked(st, NULL);
		close(sfd);
		return 0;
	}
	n = 2 + (unsigned)st->n_pools + (unsigned)st->n_sessions + nreplies;
	fds[0] = listen_fd;
	names[0] = "listen";
	fds[1] = sfd;
	names[1] = "state";
	for (k = 0; k < st->n_pools; k++) {
		fds[2 + k] = sealed_memfd("poolmgr:fuzz", NULL,
					  st->pools[k]->size,
					  F_SEAL_SHRINK | F_SEAL_GROW);
		snprintf(named[2 + k], sizeof(named[0]), "pool.%u", k);
		names[2 + k] = named[2 + k];
	}
	for (k = 2 + (unsigned)st->n_pools; k < n - nreplies; k++) {
		fds[k] = conn_fd;
		snprintf(named[k], sizeof(named[0]), "conn.%u",
			 k - 2 - (unsigned)st->n_pools);
		names[k] = named[k];
	}
	/* A destroyed pool's memory, as the old image passes it. */
	for (k = n - nreplies; k < n; k++) {
		fds[k] = sealed_memfd("poolmgr:fuzz-gone", NULL, 4096,
				      F_SEAL_SHRINK | F_SEAL_GROW);
		snprintf(named[k], sizeof(named[0]), "reply.%u",
			 k - (n - nreplies));
		names[k] = named[k];
	}
	poolmgrd__state__free_unpacked(st, NULL);

	fed++;
	/* As restore_fds_take leaves them: load places them by name. */
	pf.n = n;
	pf.fd = fds;
	pf.name = names;
	pf.listen = listen_fd;
	pf.state = sfd;
	if ((rc = load(&rb, &pf)) == 0)
		rc = build(&rb);
	if (rc == 0) {
		check_built(&rb);
		for (k = 0; k < rb.st->n_pools; k++) {
			check_persisters(&rb, k);
			check_limit(&rb, k);
			check_acl(&rb, k);
			check_uquotas(&rb, k);
			check_refusals(&rb, k);
			check_names(&rb, k);
			check_evict_order(&rb, k);
		}
		for (k = 0; k < rb.st->n_sessions; k++)
			check_sessions(&rb, k);
		for (k = 0; k < rb.st->n_sessions; k++)
			if (rb.st->sessions[k]->n_unsent)
				send_carried(&rb, k);
		rebuilt++;
	} else if (!*rb.why)
		die("refused (%d) without saying why", rc);
	/*
	 * Neither the listening socket nor the connection is ours to close:
	 * every input shares them.  What load placed, teardown closes; what
	 * it did not place is still in fds.
	 */
	for (k = 0; rb.fds && k < rb.nfds; k++)
		if (rb.fds[k] == listen_fd || rb.fds[k] == conn_fd)
			rb.fds[k] = -1;
	teardown(&rb);
	for (k = 1; k < n; k++)
		if (fds[k] >= 0 && fds[k] != conn_fd)
			close(fds[k]);
	free(rb.fds);
	if (dpool_count() != 0 || session_count() != 0)
		die("teardown left %u pools and %u sessions", dpool_count(),
		    session_count());
	if (rb.st)
		poolmgrd__state__free_unpacked(rb.st, NULL);
	free(rb.pools);
	free(rb.sessions);

	if (inputs % 1000 == 0) {
		long now = fuzz_open_fds();

		if (fd_base < 0)
			fd_base = now;
		else if (now > fd_base + 16)
			die("%ld descriptors open, %ld at input 1000", now,
			    fd_base);
	}
	return 0;
}
