/*
 * pool.c - pools: the registry, the memfd, the engine over it, the
 * settings, and the records a pool's blocks and references come from.
 *
 * The memfd is sized once and sealed against shrinking and growing before
 * any client sees it, so no client can truncate it and make another
 * process's mapping fault with SIGBUS.  The engine never touches memory; it
 * asks this file to punch holes (pages given back), zero (calloc) and copy
 * (a moving realloc), which we do through the daemon's own mapping.  A
 * copy skips the holes of what it copies: reading one through the mapping
 * would give it a page, charged to the daemon, whoever wrote nothing there.
 *
 * The rest of a pool is in files of their own (pool_internal.h): the share
 * map (pool_share.c), who holds which block (pool_hold.c), a block's
 * allocation, free and resize (pool_block.c), the check of the books
 * (pool_check.c) and their rebuilding after a restart (pool_restore.c).
 * A pool leaves the registry only with dpool_destroy, which frees every
 * block record it has at once: its handles are closed by then.
 */
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
#include "pool_internal.h"
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
struct records block_records = RECORDS_INIT(sizeof(struct block));
struct records ref_records = RECORDS_INIT(sizeof(struct ref));

_Static_assert(sizeof(void *) != 8 ||
	       (sizeof(struct block) == 56 && sizeof(struct ref) == 48),
	       "docs/PERFORMANCE.md counts a block's records in these sizes");
_Static_assert(_Alignof(struct handle) > HOLD_INLINE,
	       "a handle's address has no HOLD_INLINE bit");

bool
dpool_idle_tick(uint64_t now, uint32_t idle_trim)
{
	struct heap_stats st;
	struct dpool *p;
	bool owed = false;

	TAILQ_FOREACH(p, &pools, entry) {
		uint64_t ops;
		bool kept;

		if (p->huge)
			continue;	/* its pages are kept for life */
		if (dpool_unsettled(p) || p->trimming) {
			owed = true;	/* a free just happened, or a trim
					 * goes on: look again */
			continue;
		}
		heap_get_stats(p->heap, &st);
		ops = st.allocs + st.frees;
		kept = idle_trim && (st.free_resident_bytes || st.cached_bytes);
		if (ops != p->idle_ops || p->idle_since == 0) {
			p->idle_ops = ops;
			p->idle_since = now;
		} else if (kept && now - p->idle_since >= idle_trim) {
			(void)dpool_trim_begin(p);
		}
		owed = owed || kept;
	}
	return owed;
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
	if (p->trial)
		return -EAGAIN;		/* a trial's frees are undone: kept */
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

static int copy_fd(struct dpool *p);

uint64_t
dpool_trim_past_top(struct dpool *p, uint64_t *at, uint64_t max)
{
	uint64_t page = p->page_size;
	uint64_t from = (heap_top(p->heap) + page - 1) & ~(page - 1);
	uint64_t to = p->size, before, after, given;
	off_t data;
	int fd;

	/*
	 * Kept as pool_release keeps them: for life on huge pages, for the
	 * undo in a trial, and all of them while the daemon stops.
	 */
	if (from < *at)
		from = *at;
	if (p->huge || p->trial || dpool_release_stopped() || from >= to) {
		*at = to;
		return 0;
	}
	/*
	 * A step: from the next data on, at most max bytes, so that a
	 * gigabyte a reader faulted in (0.1 s of punching) holds nobody's
	 * turn.  Found on the daemon's own description (copy_fd), whose
	 * offset no client shares; without one, or where the kernel cannot
	 * say, all of it at once.
	 */
	if (max != UINT64_MAX && (fd = copy_fd(p)) >= 0) {
		data = lseek(fd, (off_t)from, SEEK_DATA);
		if (data == -1 && errno == ENXIO) {
			*at = to;
			return 0;
		}
		if (data != -1) {
			from = (uint64_t)data & ~(page - 1);
			if (max < to - from)
				to = from + ((max + page - 1) & ~(page - 1));
		}
	}
	*at = to;
	/*
	 * Nothing live or cached ends past the mark (the engine's invariant
	 * 8), and it is read in this turn, so no block handed out since can
	 * lie there: whatever the punch takes, no block held it.  The
	 * engine takes those pages for never touched, so its own trim
	 * reaches none of them, though a mapping's read faults one in as a
	 * page of the memfd's own, not the zero page.
	 */
	before = dpool_committed(p);
	if (fallocate(p->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)from, (off_t)(to - from)) == -1) {
		log_warn("pool %s: punching a hole", p->name);
		*at = p->size;
		return 0;
	}
	after = dpool_committed(p);
	/* Others' faults below the mark meanwhile may add pages. */
	given = before > after ? before - after : 0;
	log_debug("pool %s: trimmed 0x%llx-0x%llx past the high-water mark, "
		  "%llu bytes given back", p->name, (unsigned long long)from,
		  (unsigned long long)to, (unsigned long long)given);
	return given;
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

/*
 * A copy looks for holes once per COPY_CHUNK of data, with SEEK_DATA
 * alone: at data, that answers at once, where SEEK_HOLE would walk all
 * the data after it, every step of a big move again.  A hole inside a
 * chunk of data is read as data: at most a chunk's pages per such chunk.
 */
#define COPY_CHUNK (64 * 1024)

/*
 * A descriptor of p's memfd on an open file description of the daemon's
 * own, for SEEK_DATA: lseek moves the file offset of the description, and
 * p->memfd's is shared with every client that received it, which would
 * see its offset jump at each move.  Opened at the first copy (a pool
 * whose blocks never move costs no descriptor) and kept with the pool;
 * -1 while the daemon has no descriptor to spare.
 */
static int
copy_fd(struct dpool *p)
{
	char path[64];

	if (p->copy_fd >= 0)
		return p->copy_fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->memfd);
	p->copy_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->copy_fd < 0 && !p->copy_fd_said) {
		p->copy_fd_said = true;
		log_warn("pool %s: no descriptor to look for holes through: "
			 "a block moved is copied whole, holes and all, until "
			 "one is free", p->name);
	}
	return p->copy_fd;
}

/* Where data starts in [at, end) of the memfd fd is of: end if none, at
 * if the kernel cannot say.  Pages swapped out are data. */
static uint64_t
data_from(int fd, uint64_t at, uint64_t end)
{
	off_t d = lseek(fd, (off_t)at, SEEK_DATA);

	if (d == -1)
		return errno == ENXIO ? end : at;
	return (uint64_t)d < end ? (uint64_t)d : end;
}

void
dpool_copy(struct dpool *p, uint64_t dst, uint64_t src, uint64_t len)
{
	uint64_t at = src, end = src + len, next;
	int fd;

	/* Every page of a pool on huge pages is its own already; with no
	 * descriptor to find holes by, every page is copied, as a read
	 * would have it. */
	if (p->huge || (fd = copy_fd(p)) < 0) {
		memmove(p->map + dst, p->map + src, len);
		return;
	}
	while (at < end) {
		if ((next = data_from(fd, at, end)) > at) {
			dpool_zero(p, dst + (at - src), next - at);
		} else {
			next = (at & ~(uint64_t)(COPY_CHUNK - 1)) + COPY_CHUNK;
			if (next > end)
				next = end;
			memmove(p->map + dst + (at - src), p->map + at,
				next - at);
		}
		at = next;
	}
}

static void
pool_copy(void *ctx, uint64_t dst, uint64_t src, uint64_t len)
{
	dpool_copy(ctx, dst, src, len);
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
		/* The engine's, rounded as it rounds it (a threshold near
		 * 2^64 rounded here wrapped to 0). */
		p->large_threshold = st.large_threshold;
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
	/*
	 * Out of the daemon's core dumps: a dump reads every page of every
	 * pool, which on a memfd makes each page no block uses resident (a
	 * pool of 64 TiB of address space, all of it), and writes every
	 * pool into the core.  A kernel without it dumps them, as before.
	 */
	(void)madvise(p->map, p->size, MADV_DONTDUMP);
	/* Before any page is faulted in: none is placed otherwise. */
	if (memfd == -1 && pp->numa_policy != DPOOL_NUMA_NONE &&
	    (rc = dpool_numa_set(p->map, p->size, pp->numa_policy,
				 pp->numa_node)) != 0) {
		munmap(p->map, p->size);
		close(p->memfd);
		goto fail;
	}
	p->share_fd = -1;
	p->copy_fd = -1;
	/*
	 * A new pool is refused for want of descriptors rather than made for
	 * life without a map, its clients without a cache: a later create
	 * makes it whole.  One adopted keeps its memory, map or none.
	 */
	if ((rc = make_share_map(p)) < 0 && memfd == -1 &&
	    (rc == -EMFILE || rc == -ENFILE)) {
		munmap(p->map, p->size);
		close(p->memfd);
		goto fail;
	}
	if (rc < 0)
		log_warnx("pool %s: no share map (%s): clients will not cache "
			  "freed blocks", p->name, strerror(-rc));
	p->uid = pp->uid;
	p->gid = pp->gid;
	p->mode = pool_mode(pp->mode);
	p->acl = pp->acl;
	p->quota = pp->quota;
	p->user_quota = pp->user_quota;
	p->uquotas = pp->uquotas;
	p->limit = pp->limit;
	p->retain = pp->retain;
	block_index_init(&p->blocks);
	uid_holds_init(&p->uid_holds);
	block_names_init(&p->names);
	persist_times_init(&p->persist_times);
	evict_init(&p->evict);
	LIST_INIT(&p->handles);
	RB_INIT(&p->users);
	LIST_INIT(&p->closing_work);
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

static void (*room_made)(struct dpool *);

void
dpool_room_setup(void (*made)(struct dpool *p))
{
	room_made = made;
}

void
dpool_room_tell(struct dpool *p)
{
	if (room_made)
		room_made(p);
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

const char *
dpool_acl_made_text(const struct dpool *p, char *buf, size_t len)
{
	int n;

	buf[0] = '\0';
	if (p->acl.n && (n = snprintf(buf, len, ", acl ")) > 0 &&
	    (size_t)n < len)
		acl_text(&p->acl, buf + n, len - (size_t)n);
	return buf;
}

const char *
dpool_bounds_text(const struct dpool *p, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (p->quota && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", quota %llu",
				      (unsigned long long)p->quota);
	if (p->user_quota && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", user_quota %llu",
				      (unsigned long long)p->user_quota);
	if (p->limit && n < len)
		n += (size_t)snprintf(buf + n, len - n, ", limit %llu",
				      (unsigned long long)p->limit);
	if (p->uquotas.n && n < len &&
	    (n += (size_t)snprintf(buf + n, len - n, ", user_quotas ")) < len)
		uquota_text(&p->uquotas, buf + n, len - n);
	return buf;
}

/* "user_quotas 1001:none -> 1001:none,1002:4096" into changed. */
static void
uquotas_changed(const struct dpool *p, const struct dpool_params *pp,
		char *changed, size_t len)
{
	char *was = malloc(UQUOTA_TEXT_MAX), *now = malloc(UQUOTA_TEXT_MAX);

	/* Without memory the line says less, never the wrong thing. */
	if (was && now)
		changed_add(changed, len, "user_quotas", "%s -> %s",
			    uquota_text(&p->uquotas, was, UQUOTA_TEXT_MAX),
			    uquota_text(&pp->uquotas, now, UQUOTA_TEXT_MAX));
	else
		changed_add(changed, len, "user_quotas", "changed");
	free(was);
	free(now);
}

/*
 * A new limit below what the pool holds takes no held block back, but
 * the unheld evictable names are the pool's cache, which its operator
 * has just shrunk: they go, least recently used first, until the pool
 * holds no more than the limit or none is left.
 */
void
dpool_evict_to_limit(struct dpool *p, char *changed, size_t len)
{
	uint64_t bytes;
	uint32_t n;

	if ((n = dpool_evict_over_limit(p, &bytes)))
		changed_add(changed, len, "evicted", "%u name%s of %llu bytes",
			    n, log_plural(n), (unsigned long long)bytes);
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
	if (!acl_equal(&pp->acl, &p->acl)) {
		char *was = malloc(ACL_TEXT_MAX), *now = malloc(ACL_TEXT_MAX);

		/* Without memory the line says less, never the wrong thing. */
		if (was && now)
			changed_add(changed, len, "acl", "%s -> %s",
				    acl_text(&p->acl, was, ACL_TEXT_MAX),
				    acl_text(&pp->acl, now, ACL_TEXT_MAX));
		else
			changed_add(changed, len, "acl", "changed");
		free(was);
		free(now);
	}
	if (pp->quota != p->quota)
		changed_add(changed, len, "quota", "%llu -> %llu",
			    (unsigned long long)p->quota,
			    (unsigned long long)pp->quota);
	if (pp->user_quota != p->user_quota)
		changed_add(changed, len, "user_quota", "%llu -> %llu",
			    (unsigned long long)p->user_quota,
			    (unsigned long long)pp->user_quota);
	if (!uquota_equal(&pp->uquotas, &p->uquotas))
		uquotas_changed(p, pp, changed, len);
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
	p->acl = pp->acl;
	if (pp->quota != p->quota) {
		p->quota = pp->quota;
		dpool_room(p);	/* allocations waiting under it try again */
	}
	if (pp->user_quota != p->user_quota) {
		p->user_quota = pp->user_quota;
		dpool_room(p);	/* allocations waiting under it try again */
	}
	if (!uquota_equal(&pp->uquotas, &p->uquotas)) {
		p->uquotas = pp->uquotas;
		dpool_room(p);	/* ... and under the uids' own */
	}
	if (pp->limit != p->limit) {
		p->limit = pp->limit;
		dpool_room(p);
	}
	if (pp->retain == p->retain)
		return;
	p->retain = pp->retain;
	/* Kept pages over a lowered bound go back a step per loop turn. */
	if (heap_set_retain_pages(p->heap, retain_pages(pp->retain, p->size,
							p->page_size)))
		dpool_retain_check(p);
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
	uid_holds_free(&p->uid_holds);
	evict_free(&p->evict);	/* its links point into the names */
	block_names_free(&p->names);
	persist_times_free(&p->persist_times);
	TAILQ_REMOVE(&pools, p, entry);
	npools--;
	/* Before the memfd: its release may be the file's last close. */
	if (p->copy_fd >= 0)
		close(p->copy_fd);
	munmap(p->map, p->size);
	if (unmapped)	/* else closing frees nothing: others map it */
		dpool_release_file(p->memfd);
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
		records_trim(&persist_time_records);
	}
}

uint64_t
dpool_committed(const struct dpool *p)
{
	struct stat st;

	if (fstat(p->memfd, &st) == -1)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}
