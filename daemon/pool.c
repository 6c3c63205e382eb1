/*
 * pool.c - pools: the memfd, the engine over it, and block ownership.
 *
 * The memfd is sized once and sealed against shrinking and growing before
 * any client sees it, so no client can truncate it and make another
 * process's mapping fault with SIGBUS.  The engine never touches memory; it
 * asks this file to punch holes (pages given back), zero (calloc) and copy
 * (a moving realloc), which we do through the daemon's own mapping.
 *
 * Ownership (docs/protocol.md): a block's references are its own first
 * hold and a short list of struct ref for any further holders, each hold
 * also on its handle's list so a closing handle finds all of its blocks
 * without a scan.  Nearly every block has one holder, the handle that
 * allocated it, and so costs one record: when that holder lets go while
 * others hold on, one of theirs moves into the block (hold_promote).  The
 * block is freed in the engine when its last reference goes and it is
 * not persistent.  Requests name blocks by offset, and find them in the
 * pool's index (block_index.c), a hash table that is resized a step per
 * change, so that neither a lookup nor a resize grows with the number of
 * blocks.
 *
 * The share map publishes one fact per block to the clients: whether it is
 * shared.  Every change to a block's references or persistence ends in
 * block_share_sync, so the bit is right before the reply that made the
 * change leaves; clients rely on that ordering (client/cache.c).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hugepage.h"
#include "journal.h"
#include "log.h"
#include "pool.h"
#include "pool_names.h"
#include "pool_numa.h"
#include "records.h"
#include "session.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static TAILQ_HEAD(, dpool) pools = TAILQ_HEAD_INITIALIZER(pools);
static unsigned npools;

/*
 * Blocks and references come and go with every allocation and free: their
 * records come from chunks (records.c), without malloc's header each, and
 * the chunks a client's freed blocks emptied go back to the kernel.
 */
static struct records block_records = RECORDS_INIT(sizeof(struct block));
static struct records ref_records = RECORDS_INIT(sizeof(struct ref));

_Static_assert(sizeof(void *) != 8 ||
	       (sizeof(struct block) == 56 && sizeof(struct ref) == 48),
	       "docs/PERFORMANCE.md counts a block's records in these sizes");
_Static_assert(_Alignof(struct handle) > HOLD_INLINE,
	       "a handle's address has no HOLD_INLINE bit");

/* A zeroed record; the request path has no way back from a failure. */
static void *
record_take(struct records *r)
{
	void *rec = records_take(r);

	if (rec == NULL)
		fatalx("out of memory");
	return rec;
}

void
dpool_idle_tick(uint64_t now, uint32_t idle_trim)
{
	struct heap_stats st;
	struct dpool *p;

	TAILQ_FOREACH(p, &pools, entry) {
		uint64_t ops;

		if (dpool_unsettled(p) || p->trimming || p->huge)
			continue;	/* a free just happened, or a trim goes
					 * on; or its pages are kept for life */
		heap_get_stats(p->heap, &st);
		ops = st.allocs + st.frees;
		if (ops != p->idle_ops || p->idle_since == 0) {
			p->idle_ops = ops;
			p->idle_since = now;
		} else if (idle_trim && now - p->idle_since >= idle_trim &&
			   (st.free_resident_bytes || st.cached_bytes)) {
			(void)dpool_trim_begin(p);
		}
	}
}

struct dpool *
dpool_find(const char *name)
{
	struct dpool *p;

	TAILQ_FOREACH(p, &pools, entry)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct dpool *
dpool_first(void)
{
	return TAILQ_FIRST(&pools);
}

struct dpool *
dpool_next(struct dpool *p)
{
	return TAILQ_NEXT(p, entry);
}

unsigned
dpool_count(void)
{
	return npools;
}

/* Engine callbacks. */

static int
pool_release(void *ctx, uint64_t off, uint64_t len)
{
	struct dpool *p = ctx;

	if (p->huge)
		return -EOPNOTSUPP;	/* kept for life: they stay dirty */
	if (dpool_release_stopped())
		return 0;
	if (fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == -1) {
		log_warn("pool %s: punching a hole", p->name);
		return -errno;
	}
	dpool_released_at_once(len);
	return 0;
}

void
dpool_zero(struct dpool *p, uint64_t off, uint64_t len)
{
	uint64_t page = p->page_size;
	uint64_t a = (off + page - 1) & ~(page - 1);
	uint64_t b = (off + len) & ~(page - 1);

	/*
	 * Whole pages: a hole reads as zero and costs no memory.  Not on
	 * huge pages, whose holes would lose their reservation.
	 */
	if (!p->huge && b > a && fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, (off_t)a, (off_t)(b - a)) == 0) {
		memset(p->map + off, 0, a - off);
		memset(p->map + b, 0, off + len - b);
		return;
	}
	memset(p->map + off, 0, len);
}

static void
pool_zero(void *ctx, uint64_t off, uint64_t len)
{
	dpool_zero(ctx, off, len);
}

static void
pool_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len)
{
	struct dpool *p = ctx;

	memmove(p->map + dst, p->map + src, len);
}

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static void
share_bit(struct dpool *p, uint64_t off, bool on)
{
	uint64_t bit = off >> p->granule_shift;
	uint8_t mask = (uint8_t)(1u << (bit & 7));

	if (!p->share_map)
		return;
	if (on)
		__atomic_fetch_or(&p->share_map[bit >> 3], mask,
				  __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&p->share_map[bit >> 3], (uint8_t)~mask,
				   __ATOMIC_RELEASE);
}

/*
 * Set b's bit to on, if it is not so already.  A write to a page of the
 * map that nobody wrote before makes the kernel allocate and clear it: a
 * block's free cleared its bit, set or not, and a FreeBatch of 4096
 * blocks of 1 MiB, each bit on its own page, took 19-60 ms of the
 * daemon's thread (and 16 MiB of map) for 4096 such page faults.
 */
static void
block_share_set(struct dpool *p, struct block *b, bool on)
{
	if (b->shared == on)
		return;
	b->shared = on;
	share_bit(p, b->off, on);
}

static bool
share_bit_get(const struct dpool *p, uint64_t off)
{
	uint64_t bit = off >> p->granule_shift;

	return p->share_map &&
	       (__atomic_load_n(&p->share_map[bit >> 3], __ATOMIC_RELAXED) >>
		(bit & 7) & 1);
}

/*
 * Does b's share bit, or the map's bit for it, say other than its holders
 * do (dpool_check)?  Only blocks' own bits are read: a read of a map page
 * nobody wrote would make the kernel allocate it.
 */
static bool
share_bit_wrong(const struct dpool *p, const struct block *b)
{
	bool shared = b->nrefs > 1 || block_persistent(b);

	return (p->share_map && share_bit_get(p, b->off) != b->shared) ||
	       b->shared != shared;
}

/* Publish whether b is shared; called after every change to its refs. */
static void
block_share_sync(struct dpool *p, struct block *b)
{
	block_share_set(p, b, b->nrefs > 1 || block_persistent(b));
}

/*
 * The share map: mapped writable here first, then sealed so that no
 * descriptor, ours included, can make a new writable mapping or write()
 * to it: clients get the very descriptor and can only read.
 */
static int
make_share_map(struct dpool *p)
{
	char label[80];
	long page = sysconf(_SC_PAGESIZE);
	uint64_t bits = (p->size + (1ull << p->granule_shift) - 1) >>
			p->granule_shift;
	/* The bits, then a page: the pool's state word, "replaced". */
	uint64_t size = (((bits + 7) / 8 + (uint64_t)page - 1) &
			 ~((uint64_t)page - 1)) + (uint64_t)page;
	int fd;

	snprintf(label, sizeof(label), "poolmgr:%s:shared", p->name);
	fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		return -errno;
	if (ftruncate(fd, (off_t)size) == -1 || fchmod(fd, 0600) == -1)
		goto fail;
	p->share_map = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p->share_map == MAP_FAILED) {
		p->share_map = NULL;
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) == -1) {
		munmap(p->share_map, size);
		p->share_map = NULL;
		goto fail;
	}
	p->share_fd = fd;
	p->share_size = size;
	return 0;
fail:
	{
		int err = -errno;

		close(fd);
		return err;
	}
}

/*
 * A pool's memfd of size bytes on pages of page bytes.  A hugetlb memfd
 * takes the same seals (the kernel has sealed them since 4.16), so a
 * pool on huge pages keeps the guarantees of one on system pages.
 */
static int
make_memfd(const char *name, uint64_t size, uint64_t page)
{
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING |
			 hugepage_memfd_flags(page);
	char label[80];
	int fd;

	snprintf(label, sizeof(label), "poolmgr:%s", name);
	fd = memfd_create(label, flags | MFD_NOEXEC_SEAL);
	if (fd == -1 && errno == EINVAL)	/* kernels before 6.3 */
		fd = memfd_create(label, flags);
	if (fd == -1)
		return -errno;
	/*
	 * 0600: a client of another uid holding a read-only descriptor cannot
	 * reopen it read-write through /proc.
	 */
	if (ftruncate(fd, (off_t)size) == -1 || fchmod(fd, 0600) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
	    == -1) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * The engine's retain_pages for a retain setting in bytes.  More than the
 * pool means all of it, and says so in the stats (not the page count's
 * limit, which a huge setting would otherwise show).
 */
static uint32_t
retain_pages(uint64_t bytes, uint64_t size, uint64_t page)
{
	uint64_t n;

	/* Huge pages are kept for life: every one, whatever was asked. */
	if (hugepage_is_huge(page))
		bytes = size;
	if (bytes == 0)
		return 0;
	if (bytes == DPOOL_RETAIN_NONE)
		return HEAP_RETAIN_NONE;
	if (bytes > size)
		bytes = size;
	n = bytes / page + (bytes % page != 0);
	return n < HEAP_RETAIN_NONE ? (uint32_t)n : HEAP_RETAIN_NONE - 1;
}

/* A pool's mode for a mode asked for: 0 is the default, 0600. */
static uint32_t
pool_mode(uint32_t mode)
{
	return mode ? mode & 0777 : 0600;
}

/*
 * A pool named name over memfd, or over a new memfd if it is -1 (the
 * memfd is taken only on success): the engine, the daemon's mapping, a
 * new share map, the settings.
 */
static int
pool_make(const char *name, const struct dpool_params *pp, int memfd,
	  struct dpool **out)
{
	struct heap_config hc = {0};
	uint64_t page = hugepage_valid(pp->page_size);
	struct dpool *p;
	struct stat sb;
	int rc;

	if (dpool_find(name))
		return -EEXIST;
	if (npools >= POOL_MAX_POOLS)
		return -ENOSPC;
	if (pp->size == 0 || pp->size > POOL_MAX_SIZE || page == 0 ||
	    (memfd != -1 && hugepage_of_fd(memfd) != page))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name);
	hc.max_size = pp->size;
	hc.granularity = pp->granularity;
	hc.page_size = (uint32_t)page;
	/*
	 * Page spans exist so that a freed large block's pages can go back
	 * at once; a huge-page pool never gives pages back, so below a huge
	 * page a block is cut to its granularity like any small one (a
	 * 200 KiB block would otherwise hold 2 MiB).
	 */
	if (hugepage_is_huge(page))
		hc.large_threshold = page;
	hc.retain_pages = retain_pages(pp->retain, pp->size, page);
	/* What a free may give back of kept pages over their bound, at once. */
	hc.retain_cut = dpool_retain_cut();
	hc.release = pool_release;
	hc.zero = pool_zero;
	hc.copy = pool_copy;
	hc.ctx = p;
	if ((rc = heap_create(&hc, &p->heap)) != 0) {
		free(p);
		return rc;
	}
	{
		struct heap_stats st;

		heap_get_stats(p->heap, &st);
		p->size = st.max_size;
		p->page_size = st.page_size;
		p->huge = hugepage_is_huge(page);
		p->granule_shift = (unsigned)__builtin_ctzll(st.granularity);
		p->large_threshold = hc.large_threshold ? hc.large_threshold :
		    HEAP_DEFAULT_LARGE_THRESHOLD;
		p->large_threshold = (p->large_threshold + st.granularity - 1) &
		    ~(st.granularity - 1);
	}
	if (memfd == -1) {
		if ((rc = make_memfd(name, p->size, page)) < 0)
			goto fail;
		p->memfd = rc;
	} else {
		/* Exactly the size the engine manages: a mapping past the
		 * end of the file would fault. */
		if (fstat(memfd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
		    (uint64_t)sb.st_size != p->size) {
			rc = -EINVAL;
			goto fail;
		}
		p->memfd = memfd;
	}
	/*
	 * Huge pages are reserved for a shared mapping when it is made, for
	 * the file: so this one takes every page of the pool now, or fails
	 * with ENOMEM, and no client's fault can find none later.
	 */
	p->map = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | (p->huge ? 0 : MAP_NORESERVE), p->memfd, 0);
	if (p->map == MAP_FAILED) {
		rc = -errno;
		if (memfd == -1)
			close(p->memfd);
		goto fail;
	}
	/* Before any page is faulted in: none is placed otherwise. */
	if (memfd == -1 && pp->numa_policy != DPOOL_NUMA_NONE &&
	    (rc = dpool_numa_set(p->map, p->size, pp->numa_policy,
				 pp->numa_node)) != 0) {
		munmap(p->map, p->size);
		close(p->memfd);
		goto fail;
	}
	p->share_fd = -1;
	if ((rc = make_share_map(p)) < 0)
		log_warnx("pool %s: no share map (%s): clients will not cache "
			  "freed blocks", p->name, strerror(-rc));
	p->uid = pp->uid;
	p->gid = pp->gid;
	p->mode = pool_mode(pp->mode);
	p->quota = pp->quota;
	p->limit = pp->limit;
	p->retain = pp->retain;
	block_index_init(&p->blocks);
	block_names_init(&p->names);
	evict_init(&p->evict);
	LIST_INIT(&p->handles);
	TAILQ_INSERT_TAIL(&pools, p, entry);
	npools++;
	*out = p;
	return 0;
fail:
	heap_destroy(p->heap);
	free(p);
	return rc;
}

int
dpool_create(const char *name, const struct dpool_params *pp,
	     struct dpool **out)
{
	int rc = pool_make(name, pp, -1, out);

	if (rc == 0)
		journal_pool_made(*out);
	return rc;
}

int
dpool_adopt(const char *name, const struct dpool_params *pp, int memfd,
	    struct dpool **out)
{
	if (memfd < 0)
		return -EBADF;
	return pool_make(name, pp, memfd, out);
}

bool
dpool_over_limit(const struct dpool *p, uint64_t more)
{
	return p->limit && (more > p->limit ||
			    heap_allocated_bytes(p->heap) > p->limit - more);
}

uint64_t
dpool_failed_allocs(const struct dpool *p)
{
	struct heap_stats st;

	heap_get_stats(p->heap, &st);
	return st.failed_allocs + p->limit_failures + p->failed_before -
	       p->unseen_failures;
}

/* A retain setting for the log: "default", "none" or bytes. */
static const char *
retain_text(uint64_t retain, char *buf, size_t len)
{
	if (retain == 0)
		return "default";
	if (retain == DPOOL_RETAIN_NONE)
		return "none";
	snprintf(buf, len, "%llu", (unsigned long long)retain);
	return buf;
}

/* Append ", what old -> new" to buf. */
static void changed_add(char *, size_t, const char *, const char *, ...)
	__attribute__((format(printf, 4, 5)));

static void
changed_add(char *buf, size_t len, const char *what, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n >= len)
		return;
	n += (size_t)snprintf(buf + n, len - n, "%s%s ", n ? ", " : "", what);
	if (n >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/*
 * A new limit below what the pool holds takes no held block back, but
 * the unheld evictable names are the pool's cache, which its operator
 * has just shrunk: they go, least recently used first, until the pool
 * holds no more than the limit or none is left.
 */
static void
evict_over_limit(struct dpool *p, char *changed, size_t len)
{
	uint64_t bytes;
	uint32_t n;

	if ((n = dpool_evict_over_limit(p, &bytes)))
		changed_add(changed, len, "evicted", "%u names of %llu bytes",
			    n, (unsigned long long)bytes);
}

void
dpool_apply_settings(struct dpool *p, const struct dpool_params *pp,
		     char *changed, size_t len)
{
	uint32_t mode = pool_mode(pp->mode);
	char a[24], b[24];

	*changed = '\0';
	if (pp->uid != p->uid)
		changed_add(changed, len, "owner", "%u -> %u",
			    (unsigned)p->uid, (unsigned)pp->uid);
	if (pp->gid != p->gid)
		changed_add(changed, len, "group", "%u -> %u",
			    (unsigned)p->gid, (unsigned)pp->gid);
	if (mode != p->mode)
		changed_add(changed, len, "mode", "%04o -> %04o", p->mode, mode);
	if (pp->quota != p->quota)
		changed_add(changed, len, "quota", "%llu -> %llu",
			    (unsigned long long)p->quota,
			    (unsigned long long)pp->quota);
	if (pp->retain != p->retain)
		changed_add(changed, len, "retain", "%s -> %s",
			    retain_text(p->retain, a, sizeof(a)),
			    retain_text(pp->retain, b, sizeof(b)));
	if (pp->limit != p->limit)
		changed_add(changed, len, "limit", "%llu -> %llu",
			    (unsigned long long)p->limit,
			    (unsigned long long)pp->limit);
	p->uid = pp->uid;
	p->gid = pp->gid;
	p->mode = mode;
	p->quota = pp->quota;
	if (pp->limit != p->limit) {
		p->limit = pp->limit;
		evict_over_limit(p, changed, len);
	}
	if (pp->retain == p->retain)
		return;
	p->retain = pp->retain;
	/* Kept pages over a lowered bound go back a step per loop turn. */
	if (heap_set_retain_pages(p->heap, retain_pages(pp->retain, p->size,
							p->page_size)))
		dpool_retain_check(p);
}

static void
block_delete(struct dpool *p, struct block *b)
{
	block_index_remove(&p->blocks, b);
	records_give(&block_records, b);
}

/* The words of the page after the share map's bits (docs/protocol.md). */
static uint64_t *
share_word(struct dpool *p, unsigned i)
{
	return (uint64_t *)(p->share_map + p->share_size -
			    (uint64_t)sysconf(_SC_PAGESIZE)) + i;
}

void
dpool_mark_destroyed(struct dpool *p)
{
	if (!p->share_map)
		return;
	__atomic_store_n(share_word(p, DPOOL_WORD_STATE),
			 DPOOL_STATE_DESTROYED, __ATOMIC_RELEASE);
}

void
dpool_destroy(struct dpool *p, bool unmapped)
{
	struct block_index_iter it;
	struct block *b;

	if (p->nhandles)
		fatalx("pool %s destroyed with %u open handles", p->name,
		       p->nhandles);
	dpool_release_forget(p);	/* the memfd goes with the pool */
	/* Freed as they come: the index goes as a whole after. */
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
		records_give(&block_records, b);
	block_index_free(&p->blocks);
	evict_free(&p->evict);	/* its links point into the names */
	block_names_free(&p->names);
	TAILQ_REMOVE(&pools, p, entry);
	npools--;
	munmap(p->map, p->size);
	if (unmapped)	/* else closing frees nothing: others map it */
		dpool_release_file(p->memfd, p->size);
	else
		close(p->memfd);
	if (p->share_map) {
		munmap(p->share_map, p->share_size);
		close(p->share_fd);
	}
	free(p->charges);
	heap_destroy(p->heap);
	free(p);
	if (npools == 0) {	/* no block or reference is left anywhere */
		records_trim(&block_records);
		records_trim(&ref_records);
	}
}

/*
 * Does a holder of b have its handle open?  One found on b's list is moved
 * to its head, so that the next look finds it second, after b's own, and
 * it is the one that takes b's own place if that holder lets go.
 */
static bool
open_holder(struct block *b)
{
	struct ref *r;

	if (b->first.handle_bits && hold_handle(&b->first)->session)
		return true;
	LIST_FOREACH(r, &b->refs, by_block)
		if (hold_handle(&r->hold)->session)
			break;
	if (r && r != LIST_FIRST(&b->refs)) {
		LIST_REMOVE(r, by_block);
		LIST_INSERT_HEAD(&b->refs, r, by_block);
	}
	return r != NULL;
}

/*
 * Has every holder let b go (closed its handle)?  Asked on every lookup of
 * a block.  Walking its holders from the newest made each request about a
 * block whose first holder was open, and 50,000 later ones closed, take
 * 80-200 us instead of 13 until they had dropped their references
 * (bench_handles).  A closed holder is a handle still dropping its
 * references in steps (p->closing counts them; one closed at once has
 * dropped them all), and holds b once: a block with more holders than
 * that has an open one.  Else the holders are looked at, at most
 * p->closing of them: once, if they have all let go, which is for good
 * (nobody can reach b to hold it again); else until the open one found,
 * now b's own or first on its list, closes.
 */
static bool
block_let_go(struct dpool *p, struct block *b)
{
	if (block_persistent(b))
		return false;
	if (b->let_go)
		return true;
	if (b->nrefs > p->closing || open_holder(b))
		return false;
	b->let_go = true;
	return true;
}

struct block *
dpool_block(struct dpool *p, uint64_t off)
{
	struct block *b = block_index_find(&p->blocks, off);

	return b && !block_let_go(p, b) ? b : NULL;
}

/*
 * h's reference to b, or NULL: looked for on the shorter of the two lists,
 * so that neither a block held by many handles nor a handle holding many
 * blocks makes every request about them slow.
 */
static struct hold *
ref_of(struct block *b, struct handle *h)
{
	struct hold *hd;

	if (b->nrefs <= h->nrefs) {
		BLOCK_FOREACH_HOLD(hd, b)
			if (hold_handle(hd) == h)
				return hd;
	} else {
		LIST_FOREACH(hd, &h->refs, by_handle)
			if (hold_block(hd) == b)
				return hd;
	}
	return NULL;
}

bool
dpool_holds(struct block *b, struct handle *h)
{
	return ref_of(b, h) != NULL;
}

/* Where uid's charge is, or would go, in the sorted array. */
static unsigned
charge_index(const struct dpool *p, uid_t uid)
{
	unsigned lo = 0, hi = p->ncharges;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (p->charges[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t
dpool_persisted_by(const struct dpool *p, uid_t uid)
{
	unsigned i = charge_index(p, uid);

	return i < p->ncharges && p->charges[i].uid == uid ?
	       p->charges[i].bytes : 0;
}

/* Add n bytes in blocks blocks (each two's complement to take away) to
 * uid's charge. */
static void
charge_add(struct dpool *p, uid_t uid, uint64_t n, uint64_t blocks)
{
	unsigned i = charge_index(p, uid);
	struct persist_charge *c;

	if (i == p->ncharges || p->charges[i].uid != uid) {
		if (p->ncharges == p->charges_cap) {
			unsigned cap = p->charges_cap ? 2 * p->charges_cap : 4;

			if (!(c = reallocarray(p->charges, cap, sizeof(*c))))
				fatalx("out of memory");
			p->charges = c;
			p->charges_cap = cap;
		}
		memmove(&p->charges[i + 1], &p->charges[i],
			(p->ncharges - i) * sizeof(*c));
		p->charges[i] = (struct persist_charge){uid, 0, 0};
		p->ncharges++;
	}
	c = &p->charges[i];
	c->bytes += n;
	c->blocks += blocks;
	if (c->blocks == 0) {	/* none left */
		p->ncharges--;
		memmove(c, c + 1, (p->ncharges - i) * sizeof(*c));
	}
}

/* Every holder's bytes, by d (two's complement to take away). */
static void
holders_add(struct block *b, uint64_t d)
{
	struct hold *hd;

	BLOCK_FOREACH_HOLD(hd, b)
		handle_set_bytes(hold_handle(hd), hold_handle(hd)->bytes + d);
}

static void
persist(struct dpool *p, struct block *b, uid_t uid)
{
	holders_add(b, -b->size);
	b->persister = uid;
	charge_add(p, uid, b->size, 1);
	p->persistent_blocks++;
	journal_persist(p, b);
}

/* Journalled before the engine may hand its pages out again. */
static void
unpersist(struct dpool *p, struct block *b)
{
	charge_add(p, b->persister, -b->size, -1);
	b->persister = NO_PERSISTER;
	holders_add(b, b->size);
	p->persistent_blocks--;
	journal_unpersist(p, b);
}

/* h holds b: in b's own hold if nobody does, else in a struct ref. */
static void
ref_add(struct block *b, struct handle *h)
{
	struct hold *hd = &b->first;
	struct ref *r;

	if (b->nrefs == 0) {
		if (b->evictable)
			evict_held(h->pool, b);
		hd->handle_bits = (uintptr_t)h | HOLD_INLINE;
	} else {
		r = record_take(&ref_records);
		h->pool->nrefs++;
		r->block = b;
		r->hold.handle_bits = (uintptr_t)h;
		LIST_INSERT_HEAD(&b->refs, r, by_block);
		hd = &r->hold;
	}
	b->nrefs++;
	LIST_INSERT_HEAD(&h->refs, hd, by_handle);
	h->nrefs++;
	h->session->nrefs++;
	if (!block_persistent(b))	/* else its persister's (charge) */
		handle_set_bytes(h, h->bytes + b->size);
}

/*
 * b's own holder let go and r's holds on: r's hold moves into b, taking
 * r's place on its handle's list, whose order is the order its references
 * are dropped in when it closes (dpool_drop_refs).  The first on b's list
 * is promoted: the open holder block_let_go found last, if any.
 */
static void
hold_promote(struct block *b, struct ref *r)
{
	LIST_INSERT_AFTER(&r->hold, &b->first, by_handle);
	LIST_REMOVE(&r->hold, by_handle);
	LIST_REMOVE(r, by_block);
	b->first.handle_bits = r->hold.handle_bits | HOLD_INLINE;
	records_give(&ref_records, r);
}

/* Unlink hold hd from b and its handle; b may now be unreferenced. */
static void
ref_remove(struct block *b, struct hold *hd)
{
	struct handle *h = hold_handle(hd);
	struct ref *r;

	LIST_REMOVE(hd, by_handle);
	if (hd != &b->first) {
		r = (struct ref *)hd;
		LIST_REMOVE(r, by_block);
		records_give(&ref_records, r);
	} else if ((r = LIST_FIRST(&b->refs)))
		hold_promote(b, r);
	else
		b->first.handle_bits = 0;
	if (r)			/* a ref's record went back */
		h->pool->nrefs--;
	b->nrefs--;
	h->nrefs--;
	if (h->session)		/* else closed: its session let go */
		h->session->nrefs--;
	if (b->nrefs == 0 && b->evictable)
		evict_unheld(h->pool, b);
	if (!block_persistent(b))
		handle_set_bytes(h, h->bytes - b->size);
}

/*
 * heap_free of live block b.  Once the turn has given back its step's
 * worth, a small block's pages only join those the engine keeps, and
 * the excess goes back a step per turn: a FreeBatch of 4096 blocks of a
 * page, each past the bound, punched 4096 holes in its turn (19 ms).
 */
static void
block_engine_free(struct dpool *p, struct block *b)
{
	bool hold = dpool_turn_spent();
	int rc;

	if (hold)
		heap_set_retain_hold(p->heap, 1);
	rc = heap_free(p->heap, b->off);
	if (hold && heap_set_retain_hold(p->heap, 0))
		dpool_retain_check(p);
	if (rc)
		fatalx("pool %s: engine refused to free live block %#llx: %s",
		       p->name, (unsigned long long)b->off, heap_strerror(rc));
}

/*
 * Free the block in the engine if nobody holds it any more; a big one may
 * be held a little longer while its pages go back (pool_release.c).
 */
static void
block_maybe_free(struct dpool *p, struct block *b, bool may_defer)
{
	if (b->nrefs || block_persistent(b)) {
		block_share_sync(p, b);
		return;
	}
	if (b->busy)		/* dpool_move_end frees it */
		return;
	block_share_set(p, b, false);
	if (may_defer && dpool_release_defer(p, b->off, b->size)) {
		block_delete(p, b);
		return;
	}
	block_engine_free(p, b);
	if (b->size >= HEAP_DEFAULT_LARGE_THRESHOLD)
		dpool_retain_check(p);
	block_delete(p, b);
}

static bool
over_quota(const struct dpool *p, uint64_t used, uint64_t more)
{
	return p->quota && (more > p->quota || used > p->quota - more);
}

/*
 * Is copying or zeroing len bytes worth steps?  A move copies about 0.4 ms
 * per MiB (a 2 GiB block held the daemon's thread for 5 s, with the old
 * place's punch); a calloc over pages made dirty one by one punched each
 * alone (1 GiB over 131,072 such stretches: 0.5 s).  Over the release
 * step, either goes in steps, as a big free does.
 */
static bool
in_steps(uint64_t len)
{
	uint64_t step = dpool_release_step_bytes();

	return step && len > step;
}

/*
 * dpool_alloc's zeroing in steps: whole pages punched, release_step bytes
 * a turn, which costs next to nothing where pages were never touched.
 */
static int
zero_begin(struct dpool *p, struct block *b)
{
	b->busy = true;
	if (dpool_zero_defer(p, b))
		return DPOOL_IN_STEPS;
	dpool_zero(p, b->off, b->size);	/* no memory to queue: at once */
	b->busy = false;
	return 0;
}

void
dpool_zero_end(struct dpool *p, struct block *b)
{
	assert(b->busy);
	b->busy = false;
	block_maybe_free(p, b, true);	/* if its holder let go meanwhile */
}

int
dpool_alloc(struct dpool *p, struct handle *h, uint64_t size, uint64_t align,
	    bool zero, uint64_t quota_used, struct block **out)
{
	uint64_t off, usable;
	struct block *b;
	bool steps;
	int rc;

	usable = heap_block_size(p->heap, size);
	if (usable && over_quota(p, quota_used, usable))
		return -EDQUOT;
	/* As if the pool had no room: the same waits, retries, evictions. */
	if ((p->limit_hit = usable && dpool_over_limit(p, usable))) {
		p->limit_failures++;
		return -ENOMEM;
	}
	steps = zero && in_steps(size);
	rc = zero && !steps ? heap_calloc(p->heap, 1, size, &off)
			    : heap_alloc(p->heap, size, align, &off);
	if (rc)
		return rc;
	heap_usable_size(p->heap, off, &usable);
	b = record_take(&block_records);
	b->off = off;
	b->size = usable;
	b->persister = NO_PERSISTER;
	LIST_INIT(&b->refs);
	block_index_insert(&p->blocks, b);
	ref_add(b, h);
	*out = b;
	return steps ? zero_begin(p, b) : 0;
}

int
dpool_may_free(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(p, off);

	if (!b)
		return -EINVAL;
	if (ref_of(b, h))
		return 0;
	if (b->named)
		return -EBUSY;
	return block_persistent(b) ? 0 : -EPERM;
}

int
dpool_free(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(p, off);
	struct hold *hd;

	if (!b) {
		p->invalid_frees++;
		return -EINVAL;
	}
	if ((hd = ref_of(b, h)))
		ref_remove(b, hd);
	else if (b->named) {
		/* The pool's reference is its name's: Unpublish drops it. */
		return -EBUSY;
	} else if (block_persistent(b)) {
		unpersist(p, b);
	} else {
		p->invalid_frees++;
		return -EPERM;
	}
	block_maybe_free(p, b, true);
	return 0;
}

int
dpool_unalloc(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = dpool_block(p, off);
	struct hold *hd;

	if (!b || !(hd = ref_of(b, h)))
		return -EINVAL;
	ref_remove(b, hd);
	block_maybe_free(p, b, false);
	return 0;
}

/* The block's size changed in the engine: fix the books of whoever pays. */
static void
block_resized(struct dpool *p, struct block *b, uint64_t size)
{
	if (block_persistent(b))
		charge_add(p, b->persister, size - b->size, 0);
	else
		holders_add(b, size - b->size);
	b->size = size;
	if (block_persistent(b))
		journal_resize(p, b);
}

/* dpool_realloc's stepped move: a new block, and the copy queued. */
static int
move_begin(struct dpool *p, struct block *b, uint64_t size,
	   struct block **out, uint64_t *dst)
{
	uint64_t noff, len;
	int rc;

	if ((rc = heap_alloc(p->heap, size, 0, &noff)))
		return rc;	/* the block is untouched */
	heap_usable_size(p->heap, noff, &len);
	if (len > b->size)
		len = b->size;
	b->busy = true;
	*out = b;
	if (dpool_move_defer(p, b, noff, len)) {
		*dst = noff;
		return DPOOL_IN_STEPS;
	}
	/* No memory for the queue's record: at once, as before. */
	memmove(p->map + noff, p->map + b->off, len);
	dpool_move_end(p, b, noff);
	return 0;
}

void
dpool_move_end(struct dpool *p, struct block *b, uint64_t dst)
{
	uint64_t src = b->off, len = b->size, usable;

	assert(b->busy);
	b->busy = false;
	heap_usable_size(p->heap, dst, &usable);
	if (!b->nrefs && !block_persistent(b)) {
		/* Its holder let go meanwhile: nobody wants either copy. */
		if (!dpool_release_defer(p, dst, usable) &&
		    heap_free(p->heap, dst))
			fatalx("pool %s: engine refused to free moved block "
			       "%#llx", p->name, (unsigned long long)dst);
		block_maybe_free(p, b, true);
		return;
	}
	/* Nobody could come to share it meanwhile: dpool_retain refuses. */
	assert(b->nrefs == 1 && !block_persistent(b));
	block_index_remove(&p->blocks, b);
	b->off = dst;
	block_index_insert(&p->blocks, b);
	block_resized(p, b, usable);
	if (!dpool_release_defer(p, src, len) && heap_free(p->heap, src))
		fatalx("pool %s: engine refused to free moved block %#llx",
		       p->name, (unsigned long long)src);
}

/*
 * A big shrink: the tail is split off and given back in steps, like a big
 * free, where heap_resize would punch it out inside this call (4 GiB: 1 s).
 * Nonzero if the engine cannot split it so: then heap_resize does.
 */
static int
shrink_in_steps(struct dpool *p, struct block *b, uint64_t size)
{
	uint64_t toff, tlen, usable;
	int rc;

	if ((rc = heap_split(p->heap, b->off, size, &toff, &tlen)))
		return rc;
	if (!dpool_release_defer(p, toff, tlen)) {
		if ((rc = heap_free(p->heap, toff)))
			fatalx("pool %s: engine refused to free split tail "
			       "%#llx: %s", p->name, (unsigned long long)toff,
			       heap_strerror(rc));
		dpool_retain_check(p);
	}
	heap_usable_size(p->heap, b->off, &usable);
	block_resized(p, b, usable);
	return 0;
}

int
dpool_realloc(struct dpool *p, struct handle *h, uint64_t off, uint64_t size,
	      uint64_t quota_used, bool in_place, struct block **out,
	      uint64_t *dst)
{
	struct block *b = dpool_block(p, off);
	uint64_t want, noff;
	bool shared;
	int rc;

	if (!b)
		return -EINVAL;
	if (!ref_of(b, h))
		return -EPERM;
	if (size == 0)
		return -EINVAL;	/* a free is the caller's to make */
	want = heap_block_size(p->heap, size);
	if (block_persistent(b))	/* its persister pays for it */
		quota_used = dpool_persisted_by(p, b->persister);
	if (want > b->size && over_quota(p, quota_used, want - b->size))
		return -EDQUOT;
	/* Its growth: a move's old place goes with it, so is not counted. */
	if ((p->limit_hit = want > b->size &&
			    dpool_over_limit(p, want - b->size))) {
		p->limit_failures++;
		return -ENOMEM;
	}
	/*
	 * Moving a block others can see would pull it from under them, and
	 * shrinking it would give away bytes they were told they may use: a
	 * shared block grows in place or not at all.  Any other is resized
	 * in place if it can be, else moved, in one engine call.
	 */
	shared = b->nrefs > 1 || block_persistent(b);
	if (shared && want < b->size)
		return -EBUSY;
	if (want < b->size && in_steps(b->size - want) &&
	    shrink_in_steps(p, b, size) == 0) {
		*out = b;
		return 0;
	}
	noff = off;
	if (shared || in_place) {
		rc = heap_resize(p->heap, off, size);
		if (rc == -EAGAIN && shared)
			return -EBUSY;
	} else if (in_steps(b->size < want ? b->size : want)) {
		rc = heap_resize(p->heap, off, size);
		if (rc == -EAGAIN)
			return move_begin(p, b, size, out, dst);
	} else {
		rc = heap_realloc(p->heap, off, size, &noff);
	}
	if (rc)
		return rc;
	if (noff != off) {
		block_index_remove(&p->blocks, b);
		b->off = noff;
		block_index_insert(&p->blocks, b);
	}
	heap_usable_size(p->heap, noff, &want);
	block_resized(p, b, want);
	*out = b;
	return 0;
}

int
dpool_retain(struct dpool *p, struct handle *h, uint64_t off,
	     uint64_t quota_used)
{
	struct block *b = dpool_block(p, off);

	if (!b)
		return -EINVAL;
	if (ref_of(b, h))
		return 0;
	if (b->busy)		/* it would leave from under the new holder */
		return -EBUSY;
	/*
	 * Every request about a block may walk its holders (a reference
	 * looked up, a persist moving their charges): so many, no more.
	 */
	if (b->nrefs >= POOL_MAX_HOLDERS)
		return -EMLINK;
	if (!block_persistent(b) && over_quota(p, quota_used, b->size))
		return -EDQUOT;
	ref_add(b, h);
	block_share_sync(p, b);
	return 0;
}

int
dpool_persist(struct dpool *p, struct handle *h, uint64_t off,
	      uint64_t credit)
{
	struct block *b = dpool_block(p, off);
	uint64_t persisted;

	if (!b)
		return -EINVAL;
	if (block_persistent(b))
		return 0;
	/*
	 * The charge moves from the holders to the persister, who holds it
	 * (dispatch checks).  What a uid persists stays charged to it after
	 * its connections go: all of it together within one quota, or a uid
	 * could keep a quota's worth per connection it ever made.
	 */
	persisted = dpool_persisted_by(p, h->session->uid);
	assert(credit <= persisted);
	if (over_quota(p, persisted - credit, b->size))
		return -EDQUOT;
	persist(p, b, h->session->uid);
	block_share_sync(p, b);
	return 0;
}

void
dpool_unpersist(struct dpool *p, struct block *b)
{
	unpersist(p, b);
	block_maybe_free(p, b, true);
}

bool
dpool_drop_refs(struct dpool *p, struct handle *h, uint64_t max)
{
	struct hold *hd;

	for (; max && (hd = LIST_FIRST(&h->refs)); max--) {
		struct block *b = hold_block(hd);

		ref_remove(b, hd);
		block_maybe_free(p, b, true);
	}
	return LIST_EMPTY(&h->refs);
}

void
dpool_unlink_refs(struct handle *h)
{
	struct hold *hd;

	while ((hd = LIST_FIRST(&h->refs)))
		ref_remove(hold_block(hd), hd);
}

/* Does any holder of b have its handle open? */
static bool
held_open(struct block *b)
{
	struct hold *hd;

	BLOCK_FOREACH_HOLD(hd, b)
		if (hold_handle(hd)->session)
			return true;
	return false;
}

/*
 * Are b's holds as struct block says: its own held exactly while anyone
 * holds it, nrefs in all, each on a handle of p and marked inline or not
 * as it is?  NULL, or what is wrong.
 */
static const char *
holds_wrong(struct dpool *p, struct block *b)
{
	struct hold *hd;
	uint32_t n = 0;

	if ((b->first.handle_bits != 0) != (b->nrefs != 0))
		return b->nrefs ? "its own hold is empty" :
				  "its own hold is held";
	BLOCK_FOREACH_HOLD(hd, b) {
		if (hold_handle(hd) == NULL || hold_handle(hd)->pool != p)
			return "a hold of no handle of the pool";
		if (((hd->handle_bits & HOLD_INLINE) != 0) != (hd == &b->first))
			return "a hold marked inline where it is not";
		if (hold_block(hd) != b)
			return "a hold of another block";
		n++;
	}
	return n != b->nrefs ? "holds not as many as counted" : NULL;
}

/*
 * Is each uid charged for the persistent blocks it persisted, their number
 * and bytes?  The charges change with them (persist, unpersist, a resize),
 * so only a recount from the blocks can tell that they kept step: the
 * quota reads the bytes.  0, or -EFAULT with the problem; 0 also if there
 * is no memory to count in.
 */
static int
charges_wrong(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct persist_charge *c;
	struct block *b;
	unsigned i;
	int rc = 0;

	if (!(c = calloc(p->ncharges ? p->ncharges : 1, sizeof(*c))))
		return 0;
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		if (!block_persistent(b))
			continue;
		i = charge_index(p, b->persister);
		if (i == p->ncharges || p->charges[i].uid != b->persister) {
			snprintf(problem, len, "pool %s: block %#llx persisted "
				 "by uid %u, who is charged nothing", p->name,
				 (unsigned long long)b->off,
				 (unsigned)b->persister);
			rc = -EFAULT;
			goto out;
		}
		c[i].blocks++;
		c[i].bytes += b->size;
	}
	for (i = 0; i < p->ncharges; i++) {
		if (c[i].blocks == p->charges[i].blocks &&
		    c[i].bytes == p->charges[i].bytes)
			continue;
		snprintf(problem, len, "pool %s: uid %u persisted %llu blocks "
			 "of %llu bytes, charged for %llu of %llu", p->name,
			 (unsigned)p->charges[i].uid,
			 (unsigned long long)c[i].blocks,
			 (unsigned long long)c[i].bytes,
			 (unsigned long long)p->charges[i].blocks,
			 (unsigned long long)p->charges[i].bytes);
		rc = -EFAULT;
		break;
	}
out:
	free(c);
	return rc;
}

/*
 * Are the counts the statistics read without a walk (nrefs, the charges'
 * blocks) what the blocks say?  0, or -EFAULT with the problem.
 */
static int
counts_wrong(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct block *b;
	uint64_t refs = 0, charged = 0;

	BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
		refs += b->nrefs ? b->nrefs - 1 : 0;
	for (unsigned i = 0; i < p->ncharges; i++)
		charged += p->charges[i].blocks;
	if (refs == p->nrefs && charged == p->persistent_blocks)
		return charges_wrong(p, problem, len);
	snprintf(problem, len, "pool %s: %llu refs and %llu persistent "
		 "blocks charged, the books say %llu and %llu", p->name,
		 (unsigned long long)refs, (unsigned long long)charged,
		 (unsigned long long)p->nrefs,
		 (unsigned long long)p->persistent_blocks);
	return -EFAULT;
}

int
dpool_check(struct dpool *p, char *problem, size_t len)
{
	struct block_index_stats st;
	struct block_index_iter it;
	const struct handle *h;
	struct block *b;
	uint64_t cached = 0, named = 0;
	uint32_t n = 0;
	char why[192];

	LIST_FOREACH(h, &p->handles, in_pool) {
		cached += handle_cached(h);
		n++;
	}
	if (n != p->nhandles || cached != p->client_cached) {
		snprintf(problem, len, "pool %s: %u open handles with %llu "
			 "bytes cached, the books say %u with %llu", p->name,
			 n, (unsigned long long)cached, p->nhandles,
			 (unsigned long long)p->client_cached);
		return -EFAULT;
	}
	if (block_index_check(&p->blocks, &st, why, sizeof(why)) != 0) {
		snprintf(problem, len, "pool %s: its index of blocks: %s",
			 p->name, why);
		return -EFAULT;
	}
	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		const char *wrong = holds_wrong(p, b);

		if (wrong) {
			snprintf(problem, len, "pool %s: block %#llx of %u "
				 "holders: %s", p->name,
				 (unsigned long long)b->off, b->nrefs, wrong);
			return -EFAULT;
		}
		if (share_bit_wrong(p, b)) {
			snprintf(problem, len, "pool %s: block %#llx of %u "
				 "holders%s: its share bit is %s, the map's "
				 "%s", p->name, (unsigned long long)b->off,
				 b->nrefs, block_persistent(b) ?
				 ", persistent" : "", b->shared ? "set" :
				 "clear", share_bit_get(p, b->off) ? "set" :
				 "clear");
			return -EFAULT;
		}
		/* Its first hold or last release would find no name. */
		if (b->evictable && !b->named) {
			snprintf(problem, len, "pool %s: block %#llx is "
				 "marked evictable, but no name holds it",
				 p->name, (unsigned long long)b->off);
			return -EFAULT;
		}
		if (b->let_go && (block_persistent(b) || held_open(b))) {
			snprintf(problem, len, "pool %s: block %#llx taken "
				 "for let go, but it is %s", p->name,
				 (unsigned long long)b->off,
				 block_persistent(b) ? "persistent" :
				 "held through an open handle");
			return -EFAULT;
		}
		named += b->named;
	}
	if (dpool_names_check(p, named, problem, len) ||
	    counts_wrong(p, problem, len) ||
	    records_check(&block_records, problem, len) ||
	    records_check(&ref_records, problem, len))
		return -EFAULT;
	return session_check_pool(p, problem, len);
}

uint64_t
dpool_share_resident(const struct dpool *p)
{
	struct stat st;

	if (p->share_fd < 0 || fstat(p->share_fd, &st) == -1)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

uint64_t
dpool_committed(const struct dpool *p)
{
	struct stat st;

	if (fstat(p->memfd, &st) == -1)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

/* Restarting in place (restart.c saves, restore.c rebuilds). */

int
dpool_restore_block(struct dpool *p, uint64_t off,
		    const struct heap_block_info *bi, uid_t persister)
{
	struct block *b;
	int rc;

	if ((rc = heap_reserve(p->heap, off, bi)) != 0)
		return rc;
	/* Not record_take: a restore that fails starts fresh, not dies. */
	if (!(b = records_take(&block_records)))
		return -ENOMEM;
	b->off = off;
	b->size = bi->size;
	b->persister = NO_PERSISTER;
	LIST_INIT(&b->refs);
	block_index_insert(&p->blocks, b);
	if (persister != NO_PERSISTER)
		persist(p, b, persister);
	return 0;
}

int
dpool_restore_hold(struct dpool *p, struct handle *h, uint64_t off)
{
	struct block *b = block_index_find(&p->blocks, off);

	if (!b)
		return -ENOENT;
	if (b->nrefs >= POOL_MAX_HOLDERS)
		return -EMLINK;
	if (ref_of(b, h))
		return -EEXIST;
	ref_add(b, h);
	return 0;
}

int
dpool_restore_done(struct dpool *p, char *problem, size_t len)
{
	struct block_index_iter it;
	struct block *b;

	BLOCK_INDEX_FOREACH(b, &p->blocks, &it) {
		if (!b->nrefs && !block_persistent(b)) {
			snprintf(problem, len, "pool %s: block %#llx is held "
				 "by nobody and not persistent", p->name,
				 (unsigned long long)b->off);
			return -EINVAL;
		}
		block_share_sync(p, b);
	}
	return 0;
}

int
dpool_punch(struct dpool *p, uint64_t off, uint64_t len)
{
	/*
	 * Huge pages are kept for life (a hole would lose its reservation):
	 * zeroed instead, as the engine takes them for never touched.
	 */
	if (p->huge) {
		memset(p->map + off, 0, len);
		return 0;
	}
	if (fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == -1)
		return -errno;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The share map's bytes of bits (the state word's page follows them). */
static uint64_t
share_bits_len(const struct dpool *p)
{
	return p->share_size - (uint64_t)sysconf(_SC_PAGESIZE);
}

int
dpool_share_freeze(struct dpool *p)
{
	uint64_t len = share_bits_len(p);

	if (!p->share_map)
		return 0;
	/* The pages first, so that a lack of memory is an error, not a
	 * SIGBUS in the middle. */
	if (madvise(p->share_map, len, MADV_POPULATE_WRITE) == -1)
		return -errno;
	memset(p->share_map, 0xff, len);
	/*
	 * After the bits: a client that sees the word and asks the next
	 * image for its map has read no bit of this one as clear since.
	 */
	__atomic_store_n(share_word(p, DPOOL_WORD_REPLACED), 1,
			 __ATOMIC_RELEASE);
	return 0;
}

void
dpool_share_detach(struct dpool *p)
{
	if (!p->share_map)
		return;
	munmap(p->share_map, p->share_size);
	close(p->share_fd);
	p->share_map = NULL;
	p->share_fd = -1;
}

void
dpool_share_thaw(struct dpool *p)
{
	struct block_index_iter it;
	struct block *b;
	uint64_t len = share_bits_len(p), i;
	uint8_t *want;

	if (!p->share_map)
		return;
	/*
	 * Each byte goes straight to its value: a set bit that passed
	 * through 0 would let a client keep a shared block it frees.
	 */
	want = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (want == MAP_FAILED)
		log_warn("pool %s: every block stays marked shared", p->name);
	else {
		BLOCK_INDEX_FOREACH(b, &p->blocks, &it)
			if (b->shared)
				want[(b->off >> p->granule_shift) >> 3] |=
				    (uint8_t)(1u << ((b->off >>
						      p->granule_shift) & 7));
		for (i = 0; i < len; i++)
			__atomic_store_n(&p->share_map[i], want[i],
					 __ATOMIC_RELEASE);
		munmap(want, len);
	}
	/*
	 * This map stays the pool's, even all set: a client that saw the
	 * word meanwhile and asks for the current map gets this one again,
	 * and must not find it "replaced" (it would take it for a daemon
	 * that only has frozen maps, and stop asking).
	 */
	__atomic_store_n(share_word(p, DPOOL_WORD_REPLACED), 0,
			 __ATOMIC_RELEASE);
}
