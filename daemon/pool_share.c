/*
 * pool_share.c - a pool's share map (pool.h, struct dpool; docs/protocol.md).
 *
 * The share map publishes one fact per block to the clients: whether it is
 * shared.  Every change to a block's references or persistence ends in
 * block_share_sync, so the bit is right before the reply that made the
 * change leaves; clients rely on that ordering (client/cache.c).
 *
 * Invariants: a block's bit in the map is b->shared, and b->shared is
 * whether it has more than one holder or is persistent (dpool_check reads
 * both), but while a restart in place has every bit set
 * (dpool_share_freeze), or after one that had no memory to redo the map
 * (share_all_set: the bits left set stay so until they change); the map
 * is written only when a bit changes, so that a page of it where no bit
 * was ever set is never faulted in.  After
 * the bits, a page of words: the pool's state (destroyed), and "replaced",
 * which the freeze sets on the map the next image cannot write, and a
 * failed restart clears again (dpool_share_thaw).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "pool_internal.h"

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
void
block_share_set(struct dpool *p, struct block *b, bool on)
{
	if (b->shared == on)
		return;
	b->shared = on;
	share_bit(p, b->off, on);
}

bool
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
bool
share_bit_wrong(const struct dpool *p, const struct block *b)
{
	bool shared = b->nrefs > 1 || block_persistent(b);
	bool bit = p->share_map && share_bit_get(p, b->off);

	/* Left all set, a map may say shared of any block, never less. */
	return (p->share_map && bit != b->shared &&
		!(p->share_all_set && bit)) ||
	       b->shared != shared;
}

/* Publish whether b is shared; called after every change to its refs. */
void
block_share_sync(struct dpool *p, struct block *b)
{
	block_share_set(p, b, b->nrefs > 1 || block_persistent(b));
}

/*
 * The share map: mapped writable here first, then sealed so that no
 * descriptor, ours included, can make a new writable mapping or write()
 * to it: clients get the very descriptor and can only read.
 */
int
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

uint64_t
dpool_share_resident(const struct dpool *p)
{
	struct stat st;

	if (p->share_fd < 0 || fstat(p->share_fd, &st) == -1)
		return 0;
	return (uint64_t)st.st_blocks * 512;
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
	p->share_all_set = want == MAP_FAILED;
	if (want == MAP_FAILED)
		log_warnx("pool %s: no memory to redo its share map (%s); "
			  "every block stays marked shared", p->name,
			  strerror(errno));
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
