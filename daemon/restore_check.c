/*
 * restore_check.c - check a handed-over state before anything is built.
 *
 * Every number is checked against what the daemon could have made, so
 * that the rebuild (restore.c) meets only what the engine and the books
 * can refuse for reasons of their own (a block over another, a hold of
 * no block), and every descriptor is checked to be of its kind: a memfd
 * of the pool's size, sealed as a pool's is, a connected SOCK_SEQPACKET
 * socket, a listening one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "heap.h"
#include "hugepage.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "restore_check.h"
#include "session.h"

int
state_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
state_acl(const char *name, const uint64_t *w, size_t n, struct acl *out,
	  char *why, size_t len)
{
	struct acl_entry e[ACL_MAX];
	char because[160];
	size_t i;

	if (n > ACL_MAX)
		return state_why(why, len, "pool %s: an access control list "
				 "of %zu entries, more than %d", name, n,
				 ACL_MAX);
	for (i = 0; i < n; i++)
		if (!acl_unword(w[i], &e[i]))
			return state_why(why, len, "pool %s: access control "
					 "entry %zu is %#llx, which no entry "
					 "makes", name, i,
					 (unsigned long long)w[i]);
	if (acl_build(out, e, n, because, sizeof(because)) != 0)
		return state_why(why, len, "pool %s: its access control list: "
				 "%s", name, because);
	return 0;
}

int
state_uquotas(const char *name, const uint64_t *w, size_t n,
	      struct uquota *out, char *why, size_t len)
{
	struct uquota_entry e[UQUOTA_MAX];
	char because[160];
	size_t i;

	if (n % 2)
		return state_why(why, len, "pool %s: user quotas of uids in %zu "
				 "words, not two an entry", name, n);
	if (n / 2 > UQUOTA_MAX)
		return state_why(why, len, "pool %s: %zu user quotas of uids, "
				 "more than %d", name, n / 2, UQUOTA_MAX);
	for (i = 0; i < n / 2; i++) {
		if (w[2 * i] > UINT32_MAX)
			return state_why(why, len, "pool %s: user quota entry "
					 "%zu is of uid %#llx, which no uid "
					 "is", name, i,
					 (unsigned long long)w[2 * i]);
		e[i].uid = (uint32_t)w[2 * i];
		e[i].bytes = w[2 * i + 1];
	}
	if (uquota_build(out, e, n / 2, because, sizeof(because)) != 0)
		return state_why(why, len, "pool %s: its user quotas of uids: "
				 "%s", name, because);
	return 0;
}

Poolmgrd__State *
state_load(int fd, char *why, size_t len)
{
	Poolmgrd__State *st;
	struct stat sb;
	void *m;
	int seals = fcntl(fd, F_GET_SEALS);
	int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

	if (seals == -1 || (seals & need) != need ||
	    fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
		state_why(why, len, "the state is not a sealed memfd");
		return NULL;
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		state_why(why, len, "mapping the state: %s", strerror(errno));
		return NULL;
	}
	st = poolmgrd__state__unpack(NULL, (size_t)sb.st_size, m);
	munmap(m, (size_t)sb.st_size);
	if (!st)
		state_why(why, len, "the state does not decode");
	return st;
}

static int
sock_opt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) == -1)
		return -1;
	return v;
}

int
state_check_listener(int fd)
{
	return sock_opt(fd, SO_DOMAIN) == AF_UNIX &&
	       sock_opt(fd, SO_TYPE) == SOCK_SEQPACKET &&
	       sock_opt(fd, SO_ACCEPTCONN) == 1;
}

static int
is_connection(int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	return sock_opt(fd, SO_DOMAIN) == AF_UNIX &&
	       sock_opt(fd, SO_TYPE) == SOCK_SEQPACKET &&
	       sock_opt(fd, SO_ACCEPTCONN) == 0 &&
	       getpeername(fd, (struct sockaddr *)&sun, &len) == 0;
}

int
is_pool_memfd(int fd, uint64_t size)
{
	int seals = fcntl(fd, F_GET_SEALS);
	int need = F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat sb;

	return seals != -1 && (seals & need) == need &&
	       fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	       (uint64_t)sb.st_size == size &&
	       (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
}

/*
 * The pool before pool i (its memfd at fds[2 + i]) whose memfd is the
 * same file, or -1.  Two pools on one memory would each punch the pages
 * of the other's blocks as free.  At most 256 pools: a pair each is cheap.
 */
static int
same_memfd_before(const int *fds, size_t i)
{
	struct stat a, b;
	size_t j;

	if (fstat(fds[2 + i], &a) == -1)
		return -1;	/* is_pool_memfd has just seen it */
	for (j = 0; j < i; j++)
		if (fstat(fds[2 + j], &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return (int)j;
	return -1;
}

/*
 * When each block became persistent, if the state says: a time the clock
 * has passed (the daemon read it; a later one would show the block 0 ms
 * old, and refuse every guarded free of it, until then), and none (0) for
 * a block that is not persistent, as state_save.c writes them.
 */
static bool
persist_times_valid(const Poolmgrd__PoolState *ps)
{
	uint64_t now = dpool_persist_clock_ns();
	size_t i;

	for (i = 0; i < ps->n_block_persisted_ns; i++)
		if (ps->block_persisted_ns[i] > now ||
		    (ps->block_persisted_ns[i] &&
		     ps->block_persister[i] == NO_PERSISTER))
			return false;
	return true;
}

static int
check_blocks(const Poolmgrd__PoolState *ps, char *why, size_t len)
{
	uint64_t end = 0;
	size_t n = ps->n_block_off, i;

	if (ps->n_block_size != n || ps->n_block_requested != n ||
	    ps->n_block_span != n || ps->n_block_persister != n ||
	    (ps->n_block_persisted_ns && ps->n_block_persisted_ns != n))
		return state_why(why, len, "pool %s: its block arrays differ "
			       "in length", ps->name);
	for (i = 0; i < n; i++) {
		uint64_t off = ps->block_off[i], size = ps->block_size[i];

		if ((i && off < end) || off % ps->granularity || size == 0 ||
		    size > ps->size || off > ps->size - size ||
		    ps->block_requested[i] > size ||
		    (ps->block_span[i] && (off | size) % ps->page_size))
			return state_why(why, len, "pool %s: block %zu "
				       "(0x%llx, %llu bytes) is out of place",
				       ps->name,
				       i, (unsigned long long)off,
				       (unsigned long long)size);
		end = off + size;
	}
	if (!persist_times_valid(ps))
		return state_why(why, len, "pool %s: a persist time after "
			       "now, or of a block that is not persistent",
			       ps->name);
	return 0;
}

/*
 * A flags word per name, or none (a state from before them); no bit but
 * the ones this image knows: one it does not could be a promise it would
 * not keep.
 */
static bool
named_flags_valid(const Poolmgrd__PoolState *ps)
{
	size_t i;

	if (ps->n_named_flags == 0)
		return true;
	if (ps->n_named_flags != ps->n_named_name)
		return false;
	for (i = 0; i < ps->n_named_flags; i++)
		if (ps->named_flags[i] &
		    ~(uint32_t)POOLMGRD__NAMED_FLAG__NAMED_FLAG_EVICTABLE)
			return false;
	return true;
}

/* The engine's event counters as heap_events_save made them. */
static bool
events_valid(const Poolmgrd__PoolState *ps)
{
	struct heap_events ev = {
		.allocs = ps->allocs, .frees = ps->frees,
		.cache_hits = ps->cache_hits,
	};

	if (ps->n_class_allocs > HEAP_NCLASSES)
		return false;
	if (ps->n_class_allocs)
		memcpy(ev.class_allocs, ps->class_allocs,
		       ps->n_class_allocs * sizeof(uint64_t));
	return heap_events_check(&ev) == 0;
}

#define GENERATION_MAX	((uint64_t)INT64_MAX)

/*
 * The names' generations: none (an older image's), or one per name, none
 * 0 and none past the last the pool gave (the next Publish must give a
 * newer one than any name has).
 */
static bool
generations_valid(const Poolmgrd__PoolState *ps)
{
	size_t i;

	/*
	 * No daemon gives 2^63 generations; a count above that is forged,
	 * and near 2^64 it would wrap to 0 for the names given one anew
	 * (below) or for the next publish.
	 */
	if (ps->name_generation > GENERATION_MAX)
		return false;
	if (ps->n_named_generation == 0)
		return true;
	if (ps->n_named_generation != ps->n_named_name)
		return false;
	for (i = 0; i < ps->n_named_generation; i++)
		if (ps->named_generation[i] == 0 ||
		    ps->named_generation[i] > ps->name_generation)
			return false;
	return true;
}

/*
 * The n words v sorted, tmp as many words of room: a byte a pass, from
 * the lowest, a pass in which every word has the same byte skipped (the
 * high bytes of generations).  O(n), whatever the words: a restart's
 * state may hold POOL_MAX_NAMES names a pool.
 */
static void
radix_sort(uint64_t *v, uint64_t *tmp, size_t n)
{
	uint64_t *from = v, *to = tmp, *t;
	size_t count[256], i, at, c;
	unsigned shift;

	for (shift = 0; shift < 64; shift += 8) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[from[i] >> shift & 0xff]++;
		if (count[from[0] >> shift & 0xff] == n)
			continue;
		for (i = at = 0; i < 256; i++) {
			c = count[i];
			count[i] = at;
			at += c;
		}
		for (i = 0; i < n; i++)
			to[count[from[i] >> shift & 0xff]++] = from[i];
		t = from;
		from = to;
		to = t;
	}
	if (from != v)
		memcpy(v, from, n * sizeof(*v));
}

/*
 * No two names of one generation: each publish gives the pool's next, so
 * a generation names one publish (a Lookup waits for one newer, eviction
 * goes by them).  A sorted copy, adjacent ones compared.
 */
static int
check_generations_once(const Poolmgrd__PoolState *ps, char *why, size_t len)
{
	size_t n = ps->n_named_generation, i;
	uint64_t *g;
	int rc = 0;

	if (n < 2)
		return 0;
	if (!(g = calloc(2 * n, sizeof(*g))))
		return state_why(why, len, "out of memory");
	memcpy(g, ps->named_generation, n * sizeof(*g));
	radix_sort(g, g + n, n);
	for (i = 1; i < n && rc == 0; i++)
		if (g[i] == g[i - 1])
			rc = state_why(why, len, "pool %s: two names of "
				       "generation %llu", ps->name,
				       (unsigned long long)g[i]);
	free(g);
	return rc;
}

/* The order of eviction: none (an older image's), or a place per name. */
static bool
use_order_valid(const Poolmgrd__PoolState *ps)
{
	return ps->n_named_use_order == 0 ||
	    ps->n_named_use_order == ps->n_named_name;
}

/*
 * Pool k of st, whose memfd is on pages of page bytes (hugepage_of_fd):
 * the state must say that page size, a pool on huge pages as one on the
 * system's.
 */
static int
check_pool(const Poolmgrd__State *st, size_t k, uint64_t page, char *why,
	   size_t len)
{
	const Poolmgrd__PoolState *ps = st->pools[k];
	struct uquota uq;
	struct acl acl;
	size_t i;
	int rc;

	/* As a configuration file or a CreatePool must name it. */
	if (!ps->name || !config_valid_pool_name(ps->name))
		return state_why(why, len, "pool %zu: a bad name", k);
	for (i = 0; i < k; i++)
		if (strcmp(st->pools[i]->name, ps->name) == 0)
			return state_why(why, len, "pool %s twice", ps->name);
	if (ps->page_size != page || ps->granularity < 8 ||
	    ps->granularity > page ||
	    (ps->granularity & (ps->granularity - 1)) ||
	    ps->size == 0 || ps->size > POOL_MAX_SIZE || ps->size % page ||
	    ps->mode > 0777 ||
	    !dpool_limit_valid(ps->limit, ps->size, ps->granularity))
		return state_why(why, len, "pool %s: a bad size, granularity, "
			       "page size, mode or limit", ps->name);
	if (!events_valid(ps))
		return state_why(why, len, "pool %s: its allocation counters "
			       "do not add up", ps->name);
	if (ps->n_named_off != ps->n_named_name ||
	    ps->n_named_publisher != ps->n_named_name ||
	    ps->n_named_name > POOL_MAX_NAMES)
		return state_why(why, len, "pool %s: its name arrays differ "
			       "in length, or are too long", ps->name);
	if (!named_flags_valid(ps))
		return state_why(why, len, "pool %s: its names' flags are "
			       "not one per name, or have an unknown bit",
			       ps->name);
	if (!generations_valid(ps))
		return state_why(why, len, "pool %s: a name's generation is "
			       "0 or past the pool's", ps->name);
	if ((rc = check_generations_once(ps, why, len)) != 0)
		return rc;
	if (!use_order_valid(ps))
		return state_why(why, len, "pool %s: its names' order of "
			       "eviction is not one per name", ps->name);
	/* A list that would let in or keep out other than it says: none. */
	if ((rc = state_acl(ps->name, ps->acl, ps->n_acl, &acl, why, len)))
		return rc;
	/* ... and none that would bind a uid other than it says. */
	if ((rc = state_uquotas(ps->name, ps->user_quotas, ps->n_user_quotas,
				&uq, why, len)))
		return rc;
	return check_blocks(ps, why, len);
}

/* A client's name as Hello keeps it: printable ASCII that fits. */
static bool
client_name_valid(const char *name)
{
	size_t i;

	if (!name)
		return true;
	for (i = 0; name[i]; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return i < sizeof(((struct session *)0)->name);
}

/*
 * Its unsent replies: each a datagram the old image could have sent, all
 * of them no more than its queue held (peer.c counts them so).
 */
static int
check_unsent(const Poolmgrd__SessionState *ss, size_t k, char *why,
	     size_t len)
{
	size_t cost = 0, i;

	if (ss->n_unsent > PEER_MAX_QUEUED / peer_out_cost(0))
		return state_why(why, len, "client %zu: %zu unsent replies",
				 k, ss->n_unsent);
	for (i = 0; i < ss->n_unsent; i++) {
		if (ss->unsent[i].len > PEER_MAX_MESSAGE)
			return state_why(why, len, "client %zu: unsent reply "
					 "%zu is %zu bytes", k, i,
					 ss->unsent[i].len);
		cost += peer_out_cost(ss->unsent[i].len);
	}
	if (cost > PEER_MAX_QUEUED)
		return state_why(why, len, "client %zu: its unsent replies "
				 "cost %zu bytes, over %u", k, cost,
				 PEER_MAX_QUEUED);
	return 0;
}

/* How many of the replies' descriptors are kind; ref the largest + 1. */
static size_t
carried_count(const Poolmgrd__SessionState *ss, Poolmgrd__CarriedFd kind,
	      uint32_t *refs)
{
	size_t i, n = 0;

	for (i = 0; i < ss->n_unsent_fd_kind && i < ss->n_unsent_fd_ref; i++)
		if (ss->unsent_fd_kind[i] == kind) {
			n++;
			if (ss->unsent_fd_ref[i] >= *refs)
				*refs = ss->unsent_fd_ref[i] + 1;
		}
	return n;
}

int
state_replies(const Poolmgrd__State *st, unsigned *n)
{
	uint32_t refs = 0;
	size_t i, used = 0;

	for (i = 0; i < st->n_sessions; i++)
		used += carried_count(st->sessions[i],
				      POOLMGRD__CARRIED_FD__CARRIED_FD_PASSED,
				      &refs);
	*n = refs;
	/* Each passed for one reply at least, so no more than they. */
	return refs <= used ? 0 : -EINVAL;
}

/*
 * The descriptors its unsent replies pass: a pool of the state's, or one
 * of the nreplies passed; no more than a reply or the queue takes.
 */
static int
check_unsent_fds(const Poolmgrd__State *st,
		 const Poolmgrd__SessionState *ss, size_t k,
		 unsigned nreplies, char *why, size_t len)
{
	size_t i, sum = 0;

	if (ss->n_unsent_nfds && ss->n_unsent_nfds != ss->n_unsent)
		return state_why(why, len, "client %zu: descriptors for %zu "
				 "of its unsent replies (%zu in all)", k,
				 ss->n_unsent_nfds, ss->n_unsent);
	for (i = 0; i < ss->n_unsent_nfds; i++) {
		if (ss->unsent_nfds[i] > PEER_MAX_FDS)
			return state_why(why, len, "client %zu: unsent reply "
					 "%zu passes %u descriptors", k, i,
					 ss->unsent_nfds[i]);
		sum += ss->unsent_nfds[i];
	}
	if (sum > PEER_MAX_QUEUED_FDS || ss->n_unsent_fd_kind != sum ||
	    ss->n_unsent_fd_ref != sum)
		return state_why(why, len, "client %zu: its unsent replies "
				 "pass %zu descriptor%s, %zu described", k,
				 sum, log_plural(sum), ss->n_unsent_fd_kind);
	for (i = 0; i < sum; i++) {
		uint32_t ref = ss->unsent_fd_ref[i];
		bool ok;

		switch (ss->unsent_fd_kind[i]) {
		case POOLMGRD__CARRIED_FD__CARRIED_FD_POOL:
		case POOLMGRD__CARRIED_FD__CARRIED_FD_POOL_READ_ONLY:
		case POOLMGRD__CARRIED_FD__CARRIED_FD_SHARE_MAP:
			ok = ref < st->n_pools;
			break;
		case POOLMGRD__CARRIED_FD__CARRIED_FD_PASSED:
			ok = ref < nreplies;
			break;
		default:
			ok = false;
		}
		if (!ok)
			return state_why(why, len, "client %zu: unsent "
					 "replies' descriptor %zu is of kind "
					 "%d, index %u", k, i,
					 (int)ss->unsent_fd_kind[i], ref);
	}
	return 0;
}

static int
check_session(const Poolmgrd__State *st, size_t k, char *why, size_t len)
{
	const Poolmgrd__SessionState *ss = st->sessions[k];
	size_t i;

	if (ss->n_handles > SESSION_MAX_HANDLES ||
	    !client_name_valid(ss->name))
		return state_why(why, len, "client %zu: too many handles or "
			       "a bad name", k);
	for (i = 0; i < ss->n_handles; i++) {
		const Poolmgrd__HandleState *hs = ss->handles[i];

		if (hs->pool >= st->n_pools || hs->id == 0 ||
		    (ss->next_handle && hs->id >= ss->next_handle))
			return state_why(why, len, "client %zu: handle %u of "
				       "pool %u is out of place", k, hs->id,
				       hs->pool);
	}
	return check_unsent(ss, k, why, len);
}

/* A memfd: the memory (or share map) of a pool destroyed since. */
static int
is_memfd(int fd)
{
	struct stat sb;

	return fcntl(fd, F_GET_SEALS) != -1 && fstat(fd, &sb) == 0 &&
	       S_ISREG(sb.st_mode);
}

int
state_check(const Poolmgrd__State *st, const int *fds, unsigned n,
	    char *why, size_t len)
{
	uint64_t page;
	unsigned nreplies;
	size_t i;
	int rc;

	if (st->version < POOLMGRD__STATE_VERSION__STATE_VERSION_FIRST ||
	    st->version > POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT)
		return state_why(why, len, "state version %u, not %u to %u",
			       st->version,
			       POOLMGRD__STATE_VERSION__STATE_VERSION_FIRST,
			       POOLMGRD__STATE_VERSION__STATE_VERSION_CURRENT);
	if (state_replies(st, &nreplies) != 0)
		return state_why(why, len, "unsent replies pass descriptor "
			       "%u, but not as many", nreplies - 1);
	if (st->n_pools > POOL_MAX_POOLS ||
	    n != 2 + st->n_pools + st->n_sessions + nreplies)
		return state_why(why, len, "%u descriptor%s for %zu pool%s, "
			       "%zu client%s and %u passed for replies", n,
			       log_plural(n), st->n_pools,
			       log_plural(st->n_pools), st->n_sessions,
			       log_plural(st->n_sessions), nreplies);
	/* A crash's state (recover.c) has no client: the daemon binds. */
	if (!state_check_listener(fds[0]) && (fds[0] >= 0 || st->n_sessions))
		return state_why(why, len, "no listening socket");
	for (i = 0; i < st->n_pools; i++) {
		/* No file at all: is_pool_memfd below says so. */
		if (!(page = hugepage_of_fd(fds[2 + i])))
			page = hugepage_system();
		if ((rc = check_pool(st, i, page, why, len)) != 0)
			return rc;
		if (!is_pool_memfd(fds[2 + i], st->pools[i]->size))
			return state_why(why, len, "pool %s: descriptor %d is "
				       "not its memfd", st->pools[i]->name,
				       fds[2 + i]);
		if ((rc = same_memfd_before(fds, i)) >= 0)
			return state_why(why, len, "pools %s and %s: one "
				       "memfd", st->pools[rc]->name,
				       st->pools[i]->name);
	}
	for (i = 0; i < st->n_sessions; i++) {
		unsigned f = 2 + (unsigned)st->n_pools + (unsigned)i;

		if ((rc = check_session(st, i, why, len)) != 0 ||
		    (rc = check_unsent_fds(st, st->sessions[i], i, nreplies,
					   why, len)) != 0)
			return rc;
		if (!is_connection(fds[f]))
			return state_why(why, len, "client %zu: descriptor %d "
				       "is not a connection", i, fds[f]);
	}
	for (i = 0; i < nreplies; i++) {
		unsigned f = 2 + (unsigned)(st->n_pools + st->n_sessions + i);

		if (!is_memfd(fds[f]))
			return state_why(why, len, "reply.%zu: descriptor %d "
				       "is not a memfd", i, fds[f]);
	}
	return 0;
}
