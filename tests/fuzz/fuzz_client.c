/*
 * fuzz_client.c - libFuzzer harness for libpoolclient against a daemon
 * that says anything: conn.c's receiving, matching and descriptor
 * handling, open.c's checks of an open and its mapping, pool.c's,
 * batch.c's, realloc.c's and names.c's checks of every block a reply
 * names, share.c's checks of a share map and its renewal, and the client
 * cache (cache*.c) running on whatever the replies and the share map say.
 *
 * WHAT IT COVERS
 *
 * The real library, linked in, connects with pool_connect to a socket in
 * a temporary directory.  A fake daemon in a thread of the harness accepts
 * the connection and answers every request the library sends: each answer
 * is the next record of the input (below), or a truthful one once the
 * records have run out.  A truthful answer is what poolmgrd would say to
 * this client: a bump allocator over a pool of the input's size and
 * granularity, names remembered, an OpenReply with a real sealed memfd of
 * the size that reply announces and, for a read-write open, a share map
 * (sealed against writing, its bits and state page as docs/protocol.md
 * has them).  A record can twist that answer (any scalar field of the
 * reply or of its body set to any value, a body of another type, a
 * string that cannot be a name), replace it with bytes from the input
 * (decoded and given the request's id when they decode, unless the
 * record says to keep their own; sent as they are when they do not),
 * send descriptors that lie (unsealed, missing a seal, the wrong size,
 * read-only, a pipe, one too many, more than a reply may carry), fill
 * the share map (bits set, the pool destroyed, the map replaced), write
 * the last share map it sent as the daemon writes its own (so a pool is
 * destroyed or a map replaced under blocks the cache holds), send a
 * stray reply, a refusal of the connection, an empty or oversized
 * datagram, the reply twice, or hang up.
 *
 * Meanwhile the harness's main thread (with a second one beside it, if
 * the input says) runs a script of library calls (the input's, or a
 * default one that makes every call once): opens read-write and
 * read-only, alloc, alloc_aligned, calloc, alloc_wait (OP_CALLOC's
 * arguments 4-7: the fake's truth answers -EINTR, then the block, or the
 * wait run out), realloc, free, batch
 * alloc and free, usable size, retain, persist, publish, lookup (plain,
 * retaining, waiting), unpublish, stats (by handle and by name), trim,
 * flush, set_cache, list, blocks, names, clients, persisted, check, create,
 * destroy, close, disconnect.  Whatever the fake said, the library must
 * keep its promises, or the harness aborts with a message on stderr:
 *
 *   - every int it returns is 0 or an errno-style code in -4095..-1
 *     that pool_strerror has text for;
 *   - a block it returns (alloc, calloc, realloc, batch, lookup, usable
 *     size) lies inside the pool: pool_ptr of it is inside the mapping,
 *     pool_offset_of gives the offset back, and the block's bytes can be
 *     written (read, on a read-only handle); a failed allocation leaves
 *     *out POOL_OFF_NONE;
 *   - the blocks of one pool_alloc_batch share no byte; nor do any two
 *     blocks the script holds at once (alloc, calloc, realloc, batch),
 *     on one thread or two (a block leaves the script's set before the
 *     call that frees it, which may cache it for the other thread), as
 *     long as the fake has told no lie that can name a block twice: a
 *     twisted or raw reply, unless all it names is a batch whose blocks
 *     overlap one another, which the library must refuse whole, or a
 *     stray reply, which may carry the other thread's id.  (A block
 *     handed out twice in two replies is not a lie the library can see.)
 *     The truthful answer sent twice, refused, oversized, with lying
 *     descriptors or share map contents keeps the check on;
 *   - strings it copies out of replies (stats, lists) are terminated,
 *     and words meant for a person (pool_last_message, a check's
 *     problem) hold no byte a terminal would act on;
 *   - every request it sends decodes;
 *   - after the input (the pools closed, the connection gone, the fake
 *     joined) no descriptor is left open that was not open before, and
 *     no mapping of the fake's memfds is left;
 *   - and, under ASan and UBSan, no crash, overflow, leak (libFuzzer's
 *     -detect_leaks) or undefined behaviour; a hang is libFuzzer's
 *     -timeout (the fake answers every request or hangs up, so a call
 *     that never returns is the library's).
 *
 * HOW THE BYTES ARE READ
 *
 *   byte 0   bits 0-2  the pool's size: 64 KiB, 1 MiB, 4 KiB, 8 KiB,
 *                      256 KiB, 2 MiB, 12 KiB, 128 KiB
 *            bits 3-4  its granularity: 16, 64, 8, 4096
 *            bits 5-7  HelloReply.features (waiting lookups, limits,
 *                      the batch replies' bounds, which bring
 *                      DaemonStats, ListBlocks and waiting Allocs along)
 *   byte 1   bits 0-5  n, the script's length: n bytes follow, one call
 *                      each; 0: the default script (DEFAULT_SCRIPT)
 *            bit 6     two threads: a call that opens, closes or
 *                      disconnects nothing runs beside the next one
 *                      when that one only allocates or reads (see
 *                      pairable), on a thread of its own, so that
 *                      conn.c has two requests in flight to match
 *                      replies to, and to fail together
 *   then     the script: a byte per call, bits 0-4 the call (OP_*),
 *            bits 5-7 its argument (a size, a block, a name, a timeout)
 *   then     reply records, one per request, in the order the requests
 *            arrive; once they run out every answer is truthful.  A
 *            record is a control byte:
 *              bits 0-1  0: the truthful answer; 1: the truthful answer
 *                        twisted (TWEAK records follow: a selector byte
 *                        and an 8-byte value each, bit 6 of the selector
 *                        saying another follows); 2: raw bytes (a 2-byte
 *                        length, then the bytes); 3: something else
 *                        (a byte choosing SPECIAL_*, see fake_special)
 *              bits 2-3  descriptors: 0 those the request wants (the
 *                        pool's memfd and share map for an open, the map
 *                        for a ShareMap), 1 none, 2 those with one that
 *                        lies (a byte: bit 3 the map, else the pool's;
 *                        bits 0-2 the lie, FD_LIE_*), 3 those and a
 *                        stray pipe
 *              bit 4     the share maps the answer sends have contents
 *                        from the input (3 bytes: the byte every bits'
 *                        byte holds, the state word, the replaced word)
 *              bit 5     raw bytes keep their own id
 *              bit 6     hang up after this answer
 *            and its extra bytes in the order: the lie's byte, the share
 *            map's 3 bytes, the kind's own.
 *
 * Past FAKE_WAITS_IN_ROW waiting Lookups or Allocs in a row, the next
 * ones take no record and get the truth (a wait that ends at once).  The library
 * pauses before it asks again after -EINTR, longer each time, and an
 * input should not buy seconds of sleep with a few bytes a record.
 *
 * Built with -DFUZZ_TRACE it prints each request the fake receives and
 * each call's result on stderr: to read what a kept input does.
 *
 * The seeds (tests/fuzz/corpus/fuzz_client/, written by
 * make_client_corpus.c) are truthful conversations: the default script
 * and shorter ones over pools of each size, granularity and feature set,
 * with and without a share map; a few lies the library must refuse
 * (batch-duplicate, refill-duplicate: a batch reply naming a block twice);
 * and paired-reply-twice, a script on two threads whose answers all come
 * twice.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolclient.h"
#include "poolmgr.pb-c.h"

#include "fuzz_client.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define FAKE_PAGE	4096
#define FAKE_HANDLE	7		/* the first handle the fake gives */
#define FAKE_BLOCKS	512		/* blocks the fake remembers */
#define FAKE_NAMES	8		/* names the fake remembers */
#define FAKE_MAX_MEMFD	((uint64_t)8 << 20)	/* larger announced: the
						 * input's size instead */
#define FAKE_MAX_SHARE	((uint64_t)1 << 20)
#define MAX_MESSAGE	65536
#define MEMFD_POOL	"fuzz-client-pool"
#define MEMFD_SHARE	"fuzz-client-share"
#define ACCEPT_MS	5000
#define LIVE_MAX	64		/* blocks the script keeps */
#define FAKE_WAITS_IN_ROW 4		/* 2 + 4 + 8 + 16 ms of pauses */
#define OVERLAP_MAX	64		/* larger batches: not looked at */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every call once, on a read-write and a read-only handle. */
static const uint8_t DEFAULT_SCRIPT[] = {
	OP(OP_OPEN, 0), OP(OP_ALLOC, 1), OP(OP_ALLOC, 2), OP(OP_ALLOC, 4),
	OP(OP_CALLOC, 3), OP(OP_ALIGNED, 3), OP(OP_REALLOC, 1),
	OP(OP_USABLE, 0), OP(OP_PUBLISH, 0), OP(OP_LOOKUP, 0),
	OP(OP_LOOKUP_RETAIN, 0), OP(OP_LOOKUP_WAIT, 1), OP(OP_RETAIN, 2),
	OP(OP_PERSIST, 2), OP(OP_STATS, 0), OP(OP_FREE, 0), OP(OP_FREE, 1),
	OP(OP_ALLOC, 1), OP(OP_ALLOC_BATCH, 2), OP(OP_FREE_BATCH, 0),
	OP(OP_PUBLISH_FLAGS, 1), OP(OP_OPEN_RO, 0), OP(OP_LOOKUP, 4),
	OP(OP_USABLE, 4), OP(OP_STATS, 4), OP(OP_STATS_NAME, 0),
	OP(OP_STATS_NAME, 4),
	OP(OP_UNPUBLISH, 0), OP(OP_LIST, 0), OP(OP_LIST, 2), OP(OP_NAMES, 0),
	OP(OP_CLIENTS, 0), OP(OP_PERSISTED, 0), OP(OP_CHECK, 0),
	OP(OP_TRIM, 0), OP(OP_FLUSH, 0), OP(OP_SET_CACHE, 0),
	OP(OP_CREATE, 0), OP(OP_CREATE, 1), OP(OP_CLOSE_RO, 0),
	OP(OP_CLOSE, 0),
};

/* Sizes the script asks for, by argument. */
static const size_t script_sizes[8] = {
	1, 16, 100, 4096, 5000, 65536, 70000, (size_t)1 << 20,
};

static const uint64_t pool_sizes[8] = {
	64 << 10, 1 << 20, 4 << 10, 8 << 10, 256 << 10, 2 << 20, 12 << 10,
	128 << 10,
};
static const uint32_t granularities[4] = { 16, 64, 8, 4096 };

static char	sock_dir[] = "/tmp/fuzz_client.XXXXXX";
static char	sock_path[128];
static int	listen_fd = -1;

/*
 * Fail: a message on stderr, then abort, so libFuzzer keeps the input.
 */
__attribute__((noreturn, format(printf, 1, 2))) static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "fuzz_client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/* ------------------------------------------------------------------ */
/* The input, read from the front.  Past its end every byte reads 0.  */

struct input {
	const uint8_t	*p;
	size_t		 left;
};

static uint8_t
in_byte(struct input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static uint64_t
in_u64(struct input *in)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)in_byte(in) << (8 * i);
	return v;
}

/* ------------------------------------------------------------------ */
/* The fake daemon.                                                    */

struct fake_block {
	uint64_t	off, usable;
};

struct fake_name {
	char		name[POOL_BLOCK_NAME_MAX + 1];
	uint64_t	off, usable, generation;
};

/*
 * One answer: the reply and every body it may carry, and the descriptors
 * it wants.  Static (one fake at a time): the batch arrays are large.
 */
struct answer {
	Poolmgr__Reply			reply;
	Poolmgr__HelloReply		hello;
	Poolmgr__OpenReply		open;
	Poolmgr__AllocReply		alloc;
	Poolmgr__PoolStats		stats;
	Poolmgr__PoolStats		*stats_list[1];
	Poolmgr__DaemonStatsReply	daemon_stats;
	Poolmgr__ListPoolsReply		list;
	Poolmgr__TrimReply		trim;
	Poolmgr__CheckReply		check;
	Poolmgr__ClientInfo		client, *client_list[1];
	Poolmgr__ListClientsReply	clients;
	Poolmgr__AllocBatchReply	batch;
	uint64_t			offsets[POOL_BATCH_MAX];
	uint64_t			usables[POOL_BATCH_MAX];
	Poolmgr__FreeBatchReply		free_batch;
	Poolmgr__PersistedBy		persisted_by, *persisted_list[1];
	Poolmgr__ListPersistedReply	persisted;
	Poolmgr__ShareMapReply		share_map;
	Poolmgr__NamedBlock		named, *named_list[1];
	Poolmgr__ListNamesReply		names;
	Poolmgr__BlockInfo		block, *block_list[1];
	Poolmgr__BlockHolder		holder, *holder_list[1];
	Poolmgr__ListBlocksReply	blocks;
	union {
		uint64_t		align;
		uint8_t			b[1024];
	}				other;	/* a body of another type */

	int				want_pool;	/* its memfd */
	int				want_share;	/* a share map */
	int				read_only;
};

struct fake {
	struct input	 in;
	int		 fd;		/* the connection */
	uint64_t	 pool_size;
	uint32_t	 granularity;
	uint64_t	 features;
	uint32_t	 next_handle;
	uint64_t	 cursor;	/* the bump allocator's */
	uint64_t	 generation;
	struct fake_block blocks[FAKE_BLOCKS];
	size_t		 nblocks;
	struct fake_name names[FAKE_NAMES];
	size_t		 nnames;
	uint8_t		 share_fill;	/* share maps' contents */
	uint64_t	 share_state, share_replaced;
	uint8_t		*share_live;	/* the last map made, mapped writable
					 * before its seals (as the daemon
					 * keeps its own) */
	uint64_t	 share_live_size;
	unsigned	 waits_in_row;	/* waiting requests asked in a row */
	unsigned	 alloc_waits;	/* waiting Allocs given room */
	int		 lied;		/* a lie told (fake_note_record) */
};

static struct fake	fake;
static struct answer	answer;
static uint8_t		fake_rbuf[MAX_MESSAGE + 1];
static uint8_t		fake_wbuf[MAX_MESSAGE + 64];

static uint64_t
round_up(uint64_t x, uint64_t to)
{
	return (x + to - 1) / to * to;
}

/* The share map's size for the pool: its bits in pages, and the state. */
static uint64_t
share_size(const struct fake *f)
{
	uint64_t	bits = (f->pool_size + f->granularity - 1) /
			    f->granularity;

	return round_up((bits + 7) / 8, FAKE_PAGE) + FAKE_PAGE;
}

static void
fake_drop_map(struct fake *f)
{
	if (f->share_live != NULL)
		munmap(f->share_live, f->share_live_size);
	f->share_live = NULL;
	f->share_live_size = 0;
}

/* Keep a writable mapping of a new share map fd, the last one's dropped. */
static void
fake_keep_map(struct fake *f, int fd, uint64_t size)
{
	void	*m;

	fake_drop_map(f);
	m = mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap of a share map: %s", strerror(errno));
	f->share_live = m;
	f->share_live_size = size;
}

/* A sealed memfd of size bytes (the share map's contents when map). */
static int
fake_memfd(struct fake *f, int map, uint64_t size, int seals)
{
	const char	*name = map ? MEMFD_SHARE : MEMFD_POOL;
	uint64_t	 words[2];
	uint8_t		*fill;
	int		 fd;

	fd = memfd_create(name, MFD_CLOEXEC|MFD_ALLOW_SEALING);
	if (fd == -1)
		die("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size) == -1)
		die("ftruncate %llu: %s", (unsigned long long)size,
		    strerror(errno));
	if (map && size >= FAKE_PAGE) {
		if (f->share_fill != 0) {
			if ((fill = malloc(size - FAKE_PAGE)) == NULL)
				die("out of memory");
			memset(fill, f->share_fill, size - FAKE_PAGE);
			if (pwrite(fd, fill, size - FAKE_PAGE, 0) == -1)
				die("pwrite: %s", strerror(errno));
			free(fill);
		}
		words[0] = f->share_state;
		words[1] = f->share_replaced;
		if (pwrite(fd, words, sizeof words,
		    (off_t)(size - FAKE_PAGE)) == -1)
			die("pwrite: %s", strerror(errno));
	}
	if (map && size >= FAKE_PAGE)
		fake_keep_map(f, fd, size);
	if (seals != 0 && fcntl(fd, F_ADD_SEALS, seals) == -1)
		die("F_ADD_SEALS: %s", strerror(errno));
	return fd;
}

/* SPECIAL_SHARE_WRITE: the last map's bits and words written now. */
static void
fake_write_map(struct fake *f, uint8_t fill, uint64_t state,
    uint64_t replaced)
{
	uint64_t	*words;

	if (f->share_live == NULL)
		return;
	memset(f->share_live, fill, f->share_live_size - FAKE_PAGE);
	words = (uint64_t *)(f->share_live + f->share_live_size - FAKE_PAGE);
	__atomic_store_n(&words[0], state, __ATOMIC_RELEASE);
	__atomic_store_n(&words[1], replaced, __ATOMIC_RELEASE);
}

/* A pipe's read end, its write end closed: a descriptor not a memfd. */
static int
fake_pipe(void)
{
	int	p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	close(p[1]);
	return p[0];
}

/* fd opened again with other access (/proc/self/fd), fd closed. */
static int
fake_reopen(int fd, int flags)
{
	char	path[64];
	int	nfd;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	nfd = open(path, flags|O_CLOEXEC);
	if (nfd == -1)
		die("%s: %s", path, strerror(errno));
	close(fd);
	return nfd;
}

/* The pool's memfd or a share map, telling the lie asked for (or -1). */
static int
fake_fd(struct fake *f, int map, uint64_t size, int lie)
{
	int	seals = F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL;

	if (map)
		seals |= F_SEAL_FUTURE_WRITE;
	switch (lie) {
	case FD_LIE_UNSEALED:
		seals = 0;
		break;
	case FD_LIE_NO_GROW:
		seals &= ~F_SEAL_GROW;
		break;
	case FD_LIE_NO_SHRINK:
		seals &= ~(F_SEAL_SHRINK|F_SEAL_FUTURE_WRITE);
		break;
	case FD_LIE_LARGER:
		size += FAKE_PAGE;
		break;
	case FD_LIE_SMALLER:
		size = size > FAKE_PAGE ? size - FAKE_PAGE : size / 2;
		break;
	case FD_LIE_PIPE:
		return fake_pipe();
	case FD_LIE_WRITE_ONLY:
		if (map)
			seals &= ~F_SEAL_FUTURE_WRITE;
		break;
	default:
		break;
	}
	if (lie == FD_LIE_READ_ONLY)
		return fake_reopen(fake_memfd(f, map, size, seals), O_RDONLY);
	if (lie == FD_LIE_WRITE_ONLY && !map)
		return fake_reopen(fake_memfd(f, map, size, seals), O_WRONLY);
	return fake_memfd(f, map, size, seals);
}

/*
 * Send one datagram with nfds descriptors (closed here).  A client that
 * has gone is no failure of the fake's: it stops at its next read.
 */
static void
fake_send(struct fake *f, const void *buf, size_t len, int *fds, int nfds)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(8 * sizeof(int))];
	} cbuf;
	struct iovec	 iov = { (void *)buf, len };
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	int		 i;

	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof cbuf);
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	(void)sendmsg(f->fd, &msg, MSG_NOSIGNAL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Pack a reply into fake_wbuf; its length. */
static size_t
fake_pack(const Poolmgr__Reply *r)
{
	size_t	len = poolmgr__reply__get_packed_size(r);

	if (len > sizeof fake_wbuf)
		die("a reply of %zu bytes", len);
	return poolmgr__reply__pack(r, fake_wbuf);
}

/* The bump allocator: a block of size bytes aligned to align, or -ENOMEM. */
static int
fake_alloc(struct fake *f, uint64_t size, uint64_t align, uint64_t *off,
    uint64_t *usable)
{
	uint64_t	g = f->granularity, at;

	if (size > f->pool_size)
		return -ENOMEM;
	*usable = size == 0 ? g : round_up(size, g);
	if (align < g)
		align = g;
	if (align > f->pool_size)
		return -ENOMEM;
	at = round_up(f->cursor, align);
	if (at > f->pool_size || *usable > f->pool_size - at)
		return -ENOMEM;
	f->cursor = at + *usable;
	*off = at;
	f->blocks[f->nblocks % FAKE_BLOCKS].off = at;
	f->blocks[f->nblocks % FAKE_BLOCKS].usable = *usable;
	f->nblocks++;
	return 0;
}

static struct fake_block *
fake_find_block(struct fake *f, uint64_t off)
{
	size_t	i, n = f->nblocks < FAKE_BLOCKS ? f->nblocks : FAKE_BLOCKS;

	for (i = 0; i < n; i++)
		if (f->blocks[i].off == off)
			return &f->blocks[i];
	return NULL;
}

/*
 * A realloc in place: only the last block can grow (into the room after
 * it); any other one is -EAGAIN, which has the library move it.
 */
static int
fake_grow(struct fake *f, uint64_t off, uint64_t size, uint64_t *newoff,
    uint64_t *usable)
{
	struct fake_block	*b = fake_find_block(f, off);
	uint64_t		 want;

	if (b == NULL)
		return -EINVAL;
	if (size > f->pool_size)
		return -ENOMEM;
	want = round_up(size, f->granularity);
	if (want > b->usable && (b->off + b->usable != f->cursor ||
	    want > f->pool_size - b->off))
		return -EAGAIN;
	if (want > b->usable) {
		b->usable = want;
		f->cursor = b->off + want;
	}
	*newoff = b->off;
	*usable = b->usable;
	return 0;
}

static struct fake_name *
fake_find_name(struct fake *f, const ProtobufCBinaryData *name)
{
	size_t	i;

	for (i = 0; i < f->nnames; i++)
		if (strlen(f->names[i].name) == name->len &&
		    memcmp(f->names[i].name, name->data, name->len) == 0)
			return &f->names[i];
	return NULL;
}

static void
fake_publish(struct fake *f, const Poolmgr__Publish *pb)
{
	const struct fake_block	*b = fake_find_block(f, pb->offset);
	struct fake_name	*n = fake_find_name(f, &pb->name);

	if (b == NULL || pb->name.len == 0 ||
	    pb->name.len > POOL_BLOCK_NAME_MAX)
		return;
	if (n == NULL) {
		n = &f->names[f->nnames < FAKE_NAMES ? f->nnames++ :
		    FAKE_NAMES - 1];
		memcpy(n->name, pb->name.data, pb->name.len);
		n->name[pb->name.len] = '\0';
	}
	n->off = b->off;
	n->usable = b->usable;
	n->generation = ++f->generation;
}

static void
fake_unpublish(struct fake *f, const Poolmgr__Unpublish *up)
{
	struct fake_name	*n = fake_find_name(f, &up->name);

	if (n != NULL)
		*n = f->names[--f->nnames];
}

static void
fake_refuse(struct answer *a, int error)
{
	a->reply.error = error;
	a->reply.message = (char *)"the fake daemon says no";
}

static void
answer_stats(struct fake *f, Poolmgr__PoolStats *s, const char *name)
{
	poolmgr__pool_stats__init(s);
	s->name = (char *)(name != NULL && *name != '\0' ? name : "fuzz");
	s->max_size = f->pool_size;
	s->granularity = f->granularity;
	s->page_size = FAKE_PAGE;
	s->mode = 0600;
	s->allocated_bytes = f->cursor;
	s->live_blocks = f->nblocks;
	s->clients = 1;
}

static const char *
ref_name(const Poolmgr__PoolRef *ref)
{
	return ref != NULL ? ref->name : NULL;
}

/*
 * What a waiting Alloc (wait_ms) is answered, the bump allocator having
 * said error (the cursor was at cursor before).  Room the fake cannot
 * wait for, as none is ever freed: the wait ran out, or, for a wait
 * without end (asked in parts of UINT32_MAX ms, which the library asks
 * again), the pool destroyed.  Room there: every other time, -EINTR
 * first, as a daemon restarting in place says, the block taken back; the
 * library asks again for the time left and gets it.
 */
static int
fake_alloc_waited(struct fake *f, int error, uint64_t cursor,
    uint32_t wait_ms)
{
	if (error != 0)
		return error != -ENOMEM ? error :
		    wait_ms == UINT32_MAX ? -ENOENT : -ETIMEDOUT;
	if ((f->alloc_waits++ & 1) != 0)
		return 0;
	f->cursor = cursor;
	f->nblocks--;
	return -EINTR;
}

/* The block answers: Alloc, Realloc, AllocBatch, UsableSize, Lookup. */
static void
answer_blocks(struct fake *f, const Poolmgr__Request *rq, struct answer *a)
{
	Poolmgr__Reply		*r = &a->reply;
	const struct fake_block	*b;
	struct fake_name	*n;
	uint64_t		 size, cursor;
	size_t			 i;
	int			 error = 0;

	poolmgr__alloc_reply__init(&a->alloc);
	switch (rq->body_case) {
	case POOLMGR__REQUEST__BODY_ALLOC:
		size = rq->alloc->size;
		if (rq->alloc->zero && rq->alloc->nmemb > 1)
			size = rq->alloc->nmemb > UINT64_MAX / (size + 1) ?
			    UINT64_MAX : size * rq->alloc->nmemb;
		cursor = f->cursor;
		error = fake_alloc(f, size, rq->alloc->align, &a->alloc.offset,
		    &a->alloc.usable_size);
		if (rq->alloc->wait_ms != 0)
			error = fake_alloc_waited(f, error, cursor,
			    rq->alloc->wait_ms);
		break;
	case POOLMGR__REQUEST__BODY_REALLOC:
		if (rq->realloc->size == 0)
			return;
		if (rq->realloc->in_place)
			error = fake_grow(f, rq->realloc->offset,
			    rq->realloc->size, &a->alloc.offset,
			    &a->alloc.usable_size);
		else
			error = fake_alloc(f, rq->realloc->size, 0,
			    &a->alloc.offset, &a->alloc.usable_size);
		break;
	case POOLMGR__REQUEST__BODY_USABLE_SIZE:
		if ((b = fake_find_block(f, rq->usable_size->offset)) == NULL)
			error = -EINVAL;
		else {
			a->alloc.offset = b->off;
			a->alloc.usable_size = b->usable;
		}
		break;
	case POOLMGR__REQUEST__BODY_LOOKUP:
		n = fake_find_name(f, &rq->lookup->name);
		/*
		 * A wait the fake cannot sit out: as if it had run out, or,
		 * for a wait without end (asked in parts of UINT32_MAX ms,
		 * which the library asks again), the pool destroyed.
		 */
		if (n == NULL || (rq->lookup->wait_ms != 0 &&
		    n->generation <= rq->lookup->after_generation))
			error = rq->lookup->wait_ms == 0 ? -ENOENT :
			    rq->lookup->wait_ms == UINT32_MAX ? -ENOENT :
			    -ETIMEDOUT;
		else {
			a->alloc.offset = n->off;
			a->alloc.usable_size = n->usable;
			a->alloc.generation = n->generation;
		}
		break;
	case POOLMGR__REQUEST__BODY_ALLOC_BATCH:
		poolmgr__alloc_batch_reply__init(&a->batch);
		cursor = f->cursor;
		for (i = 0; i < rq->alloc_batch->n_sizes &&
		    i < POOL_BATCH_MAX && error == 0; i++)
			error = fake_alloc(f, rq->alloc_batch->sizes[i], 0,
			    &a->offsets[i], &a->usables[i]);
		if (error != 0) {
			f->cursor = cursor;	/* all or nothing */
			break;
		}
		a->batch.n_offsets = a->batch.n_usable_sizes = i;
		a->batch.offsets = a->offsets;
		a->batch.usable_sizes = a->usables;
		r->body_case = POOLMGR__REPLY__BODY_ALLOC_BATCH;
		r->alloc_batch = &a->batch;
		return;
	default:
		return;
	}
	if (error != 0) {
		fake_refuse(a, error);
		return;
	}
	r->body_case = POOLMGR__REPLY__BODY_ALLOC;
	r->alloc = &a->alloc;
}

/* What poolmgrd would answer to rq. */
static void
answer_truth(struct fake *f, const Poolmgr__Request *rq, struct answer *a)
{
	Poolmgr__Reply	*r = &a->reply;

	poolmgr__reply__init(r);
	r->id = rq->id;
	a->want_pool = a->want_share = a->read_only = 0;

	switch (rq->body_case) {
	case POOLMGR__REQUEST__BODY_HELLO:
		poolmgr__hello_reply__init(&a->hello);
		a->hello.version = 1;
		a->hello.max_message = MAX_MESSAGE;
		a->hello.server = (char *)"poolmgrd fake";
		a->hello.features = f->features;
		r->body_case = POOLMGR__REPLY__BODY_HELLO;
		r->hello = &a->hello;
		break;
	case POOLMGR__REQUEST__BODY_OPEN:
		poolmgr__open_reply__init(&a->open);
		a->open.handle = f->next_handle++;
		a->open.max_size = f->pool_size;
		a->open.granularity = f->granularity;
		a->open.page_size = FAKE_PAGE;
		a->open.read_only = rq->open->read_only;
		a->read_only = rq->open->read_only;
		a->want_pool = 1;
		if (rq->open->want_share_map && !rq->open->read_only) {
			a->open.share_map_size = share_size(f);
			a->want_share = 1;
		}
		r->body_case = POOLMGR__REPLY__BODY_OPEN;
		r->open = &a->open;
		break;
	case POOLMGR__REQUEST__BODY_SHARE_MAP:
		poolmgr__share_map_reply__init(&a->share_map);
		a->share_map.share_map_size = share_size(f);
		a->want_share = 1;
		r->body_case = POOLMGR__REPLY__BODY_SHARE_MAP;
		r->share_map = &a->share_map;
		break;
	case POOLMGR__REQUEST__BODY_ALLOC:
	case POOLMGR__REQUEST__BODY_REALLOC:
	case POOLMGR__REQUEST__BODY_USABLE_SIZE:
	case POOLMGR__REQUEST__BODY_LOOKUP:
	case POOLMGR__REQUEST__BODY_ALLOC_BATCH:
		answer_blocks(f, rq, a);
		break;
	case POOLMGR__REQUEST__BODY_FREE_BATCH:
		poolmgr__free_batch_reply__init(&a->free_batch);
		r->body_case = POOLMGR__REPLY__BODY_FREE_BATCH;
		r->free_batch = &a->free_batch;
		break;
	case POOLMGR__REQUEST__BODY_PUBLISH:
		fake_publish(f, rq->publish);
		break;
	case POOLMGR__REQUEST__BODY_STATS:
		answer_stats(f, &a->stats, ref_name(rq->stats));
		r->body_case = POOLMGR__REPLY__BODY_STATS;
		r->stats = &a->stats;
		break;
	case POOLMGR__REQUEST__BODY_LIST:
		answer_stats(f, &a->stats, NULL);
		poolmgr__list_pools_reply__init(&a->list);
		a->stats_list[0] = &a->stats;
		/*
		 * Its one pool, unless asked for those after it: a twisted
		 * unlisted makes the library ask for the next page.
		 */
		a->list.n_pools = rq->list->after == NULL ||
		    strcmp(a->stats.name, rq->list->after) > 0;
		a->list.pools = a->stats_list;
		r->body_case = POOLMGR__REPLY__BODY_LIST;
		r->list = &a->list;
		break;
	case POOLMGR__REQUEST__BODY_DAEMON_STATS:
		poolmgr__daemon_stats_reply__init(&a->daemon_stats);
		a->daemon_stats.server = (char *)"poolmgrd fake";
		a->daemon_stats.pid = 1;
		a->daemon_stats.connections = 1;
		a->daemon_stats.pools = 1;
		a->daemon_stats.features = f->features;
		r->body_case = POOLMGR__REPLY__BODY_DAEMON_STATS;
		r->daemon_stats = &a->daemon_stats;
		break;
	case POOLMGR__REQUEST__BODY_LIST_BLOCKS:
		/*
		 * One block of one holder just past where it was asked from
		 * (the pool's offset space being the fake's), and the end: a
		 * twisted next, done or count makes the library page on, or
		 * refuse the page.
		 */
		poolmgr__block_holder__init(&a->holder);
		a->holder.pid = 1;
		a->holder.handle = FAKE_HANDLE;
		a->holder_list[0] = &a->holder;
		poolmgr__block_info__init(&a->block);
		a->block.offset = rq->list_blocks->from;
		a->block.usable_size = f->granularity;
		a->block.requested = 1;
		a->block.holders = 1;
		a->block.n_first_holders = 1;
		a->block.first_holders = a->holder_list;
		a->block_list[0] = &a->block;
		poolmgr__list_blocks_reply__init(&a->blocks);
		a->blocks.n_blocks = rq->list_blocks->from < f->pool_size;
		a->blocks.blocks = a->block_list;
		a->blocks.next = rq->list_blocks->from + f->granularity;
		a->blocks.done = 1;
		r->body_case = POOLMGR__REPLY__BODY_BLOCKS;
		r->blocks = &a->blocks;
		break;
	case POOLMGR__REQUEST__BODY_TRIM:
		poolmgr__trim_reply__init(&a->trim);
		r->body_case = POOLMGR__REPLY__BODY_TRIM;
		r->trim = &a->trim;
		break;
	case POOLMGR__REQUEST__BODY_CHECK:
		poolmgr__check_reply__init(&a->check);
		a->check.ok = 1;
		r->body_case = POOLMGR__REPLY__BODY_CHECK;
		r->check = &a->check;
		break;
	case POOLMGR__REQUEST__BODY_CLIENTS:
		poolmgr__client_info__init(&a->client);
		a->client.pid = 1;
		a->client.name = (char *)"fuzz_client";
		a->client.pool = (char *)"fuzz";
		a->client.handle = FAKE_HANDLE;
		a->client_list[0] = &a->client;
		poolmgr__list_clients_reply__init(&a->clients);
		a->clients.n_clients = 1;
		a->clients.clients = a->client_list;
		r->body_case = POOLMGR__REPLY__BODY_CLIENTS;
		r->clients = &a->clients;
		break;
	case POOLMGR__REQUEST__BODY_PERSISTED:
		poolmgr__persisted_by__init(&a->persisted_by);
		a->persisted_by.blocks = 1;
		a->persisted_by.bytes = f->granularity;
		a->persisted_list[0] = &a->persisted_by;
		poolmgr__list_persisted_reply__init(&a->persisted);
		a->persisted.n_uids = 1;
		a->persisted.uids = a->persisted_list;
		r->body_case = POOLMGR__REPLY__BODY_PERSISTED;
		r->persisted = &a->persisted;
		break;
	case POOLMGR__REQUEST__BODY_NAMES:
		poolmgr__named_block__init(&a->named);
		a->named.name.data = (uint8_t *)"fuzz";
		a->named.name.len = 4;
		a->named.usable_size = f->granularity;
		a->named.generation = 1;
		a->named_list[0] = &a->named;
		poolmgr__list_names_reply__init(&a->names);
		a->names.n_names = 1;
		a->names.names = a->named_list;
		r->body_case = POOLMGR__REPLY__BODY_NAMES;
		r->names = &a->names;
		break;
	case POOLMGR__REQUEST__BODY_UNPUBLISH:
		if (fake_find_name(f, &rq->unpublish->name) == NULL)
			fake_refuse(a, -ENOENT);
		fake_unpublish(f, rq->unpublish);
		break;
	case POOLMGR__REQUEST__BODY_CLOSE:
	case POOLMGR__REQUEST__BODY_FREE:
	case POOLMGR__REQUEST__BODY_RETAIN:
	case POOLMGR__REQUEST__BODY_PERSIST:
	case POOLMGR__REQUEST__BODY_CREATE:
	case POOLMGR__REQUEST__BODY_DESTROY:
	case POOLMGR__REQUEST__BODY_SET:
		break;
	default:
		fake_refuse(a, -EOPNOTSUPP);
		break;
	}
}

/* Strings a TWEAK may put in a string field. */
static const char	long_string[] =
	"a string far longer than a pool name may be, and longer than "
	"a block name may be, too: 0123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123"
	"0123456789012345678901234567890123456789012345678901234567890123"
	"0123456789012345678901234567890123456789012345678901234567890123";
static const char *const tweak_strings[4] = {
	"", "fuzz", "\x1b[2J\x07 bell and escape", long_string,
};

/*
 * Set one field of m, by the selector, to v: a scalar to v, a string to
 * one of tweak_strings, a repeated field cut to v % (n + 1) elements or,
 * for uint64s, one element set; a message field of the Reply makes the
 * body one of that type, empty.  A member of a oneof becomes its case.
 */
static void
tweak_field(ProtobufCMessage *m, unsigned sel, uint64_t v,
    struct answer *a)
{
	const ProtobufCMessageDescriptor	*d = m->descriptor;
	const ProtobufCFieldDescriptor		*fd;
	uint8_t					*at;
	size_t					*n;

	if (d->n_fields == 0)
		return;
	fd = &d->fields[sel % d->n_fields];
	at = (uint8_t *)m + fd->offset;
	if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
		n = (size_t *)((uint8_t *)m + fd->quantifier_offset);
		if (fd->type == PROTOBUF_C_TYPE_UINT64 && *n > 0 &&
		    (v & 0x100) != 0)
			(*(uint64_t **)at)[(v >> 9) % *n] = v >> 16 ?
			    v >> 16 : v & 0xff;
		else
			*n = v % (*n + 1);
		return;
	}
	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)((uint8_t *)m + fd->quantifier_offset) = fd->id;
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		*(uint32_t *)at = (uint32_t)v;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)at = v;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)at = v & 1;
		break;
	case PROTOBUF_C_TYPE_STRING:
		*(const char **)at = tweak_strings[v % 4];
		break;
	case PROTOBUF_C_TYPE_BYTES:
		((ProtobufCBinaryData *)at)->data =
		    (uint8_t *)tweak_strings[v % 4];
		((ProtobufCBinaryData *)at)->len =
		    strlen(tweak_strings[v % 4]);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *md = fd->descriptor;

		if (m != &a->reply.base || md->sizeof_message >
		    sizeof a->other.b)
			break;
		memset(a->other.b, 0, sizeof a->other.b);
		protobuf_c_message_init(md, a->other.b);
		*(void **)at = a->other.b;
		break;
	}
	default:
		break;
	}
}

/* REC_TWEAK: the truthful answer, twisted by the selectors that follow. */
static void
answer_tweak(struct fake *f, struct answer *a)
{
	ProtobufCMessage	*body;
	unsigned		 sel;
	uint64_t		 v;

	do {
		sel = in_byte(&f->in);
		v = in_u64(&f->in);
		/* reply.hello: any member of the union of body pointers. */
		body = a->reply.body_case != POOLMGR__REPLY__BODY__NOT_SET ?
		    (ProtobufCMessage *)a->reply.hello : NULL;
		if ((sel & TWEAK_BODY) && body != NULL)
			tweak_field(body, sel & TWEAK_FIELD, v, a);
		else
			tweak_field(&a->reply.base, sel & TWEAK_FIELD, v, a);
	} while ((sel & TWEAK_MORE) && f->in.left > 0);
}

/*
 * The descriptors an answer sends (into fds, at most 8): those it wants,
 * perhaps one of them lying, perhaps a stray pipe too.  An announced
 * size too large to make is made the input's.
 */
static int
answer_fds(struct fake *f, const struct answer *a, unsigned control,
    unsigned lie, int *fds)
{
	uint64_t	psize = f->pool_size, ssize = share_size(f);
	int		n = 0, lie_map, lie_kind;

	if ((control & REC_FDS) == REC_FDS_NONE)
		return 0;
	if (a->reply.body_case == POOLMGR__REPLY__BODY_OPEN &&
	    a->reply.open != NULL) {
		if (a->reply.open->max_size <= FAKE_MAX_MEMFD)
			psize = a->reply.open->max_size;
		if (a->reply.open->share_map_size <= FAKE_MAX_SHARE)
			ssize = a->reply.open->share_map_size;
	}
	if (a->reply.body_case == POOLMGR__REPLY__BODY_SHARE_MAP &&
	    a->reply.share_map != NULL &&
	    a->reply.share_map->share_map_size <= FAKE_MAX_SHARE)
		ssize = a->reply.share_map->share_map_size;

	lie_map = (lie & FD_LIE_MAP) != 0;
	lie_kind = (control & REC_FDS) == REC_FDS_LIE ? (int)(lie & 7) : -1;
	if (a->want_pool) {
		fds[n] = fake_fd(f, 0, psize, lie_map ? -1 : lie_kind);
		if (a->read_only && lie_kind != FD_LIE_WRITE_ONLY &&
		    lie_kind != FD_LIE_PIPE)
			fds[n] = fake_reopen(fds[n], O_RDONLY);
		n++;
	}
	if (a->want_share)
		fds[n++] = fake_fd(f, 1, ssize, lie_map ? lie_kind : -1);
	if ((control & REC_FDS) == REC_FDS_EXTRA)
		fds[n++] = fake_pipe();
	return n;
}

/* A SPECIAL record for request rq; 1 when the fake hangs up. */
static int
fake_special(struct fake *f, const Poolmgr__Request *rq, unsigned control,
    int *fds, int nfds)
{
	static uint8_t	 big[MAX_MESSAGE + 16];
	unsigned	 kind = in_byte(&f->in) % SPECIAL_COUNT;
	size_t		 len;
	int		 i, more[8], nmore;

	switch (kind) {
	case SPECIAL_HANG_UP:
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return 1;
	case SPECIAL_STRAY:	/* a lie: see fake_note_record */
		__atomic_store_n(&f->lied, 1, __ATOMIC_RELEASE);
		answer.reply.id = rq->id + 1 + in_byte(&f->in);
		len = fake_pack(&answer.reply);
		fake_send(f, fake_wbuf, len, NULL, 0);
		answer.reply.id = rq->id;
		break;
	case SPECIAL_EMPTY:
		more[0] = fake_pipe();
		fake_send(f, "", 0, more, 1);
		break;
	case SPECIAL_REFUSAL: {
		Poolmgr__Reply	refusal = POOLMGR__REPLY__INIT;

		refusal.error = -(int32_t)in_byte(&f->in);
		refusal.message = (char *)"too many clients";
		len = fake_pack(&refusal);
		fake_send(f, fake_wbuf, len, fds, nfds);
		return (control & REC_HANG_UP) != 0;
	}
	case SPECIAL_TWICE:
		len = fake_pack(&answer.reply);
		nmore = answer_fds(f, &answer, control, 0, more);
		fake_send(f, fake_wbuf, len, more, nmore);
		break;
	case SPECIAL_OVERSIZE:
		memset(big, 0, sizeof big);
		len = fake_pack(&answer.reply);
		memcpy(big, fake_wbuf, len);
		fake_send(f, big, sizeof big, fds, nfds);
		return (control & REC_HANG_UP) != 0;
	case SPECIAL_MANY_FDS:
		while (nfds < 6)
			fds[nfds++] = fake_pipe();
		break;
	case SPECIAL_SHARE_WRITE: {
		uint8_t	fill = in_byte(&f->in), state = in_byte(&f->in);

		fake_write_map(f, fill, state, in_byte(&f->in));
		break;
	}
	}
	len = fake_pack(&answer.reply);
	fake_send(f, fake_wbuf, len, fds, nfds);
	return (control & REC_HANG_UP) != 0;
}

/* The end of [off, off + len), or UINT64_MAX past it. */
static uint64_t
span_end(uint64_t off, uint64_t len)
{
	return len > UINT64_MAX - off ? UINT64_MAX : off + len;
}

/*
 * Does reply r carry a batch of blocks that overlap one another (by their
 * usable sizes)?  The library refuses such a reply whole, whatever else
 * it says: those blocks are never anybody's.  A batch past OVERLAP_MAX
 * is not looked at (no).
 */
static int
batch_overlaps(const Poolmgr__Reply *r)
{
	const Poolmgr__AllocBatchReply	*b;
	size_t				 n, i, j;

	if (r->body_case != POOLMGR__REPLY__BODY_ALLOC_BATCH ||
	    (b = r->alloc_batch) == NULL)
		return 0;
	n = b->n_offsets < b->n_usable_sizes ? b->n_offsets :
	    b->n_usable_sizes;
	if (n > OVERLAP_MAX)
		return 0;
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (b->offsets[i] < span_end(b->offsets[j],
			    b->usable_sizes[j]) && b->offsets[j] <
			    span_end(b->offsets[i], b->usable_sizes[i]))
				return 1;
	return 0;
}

/*
 * After a lie the library cannot see through, the blocks the script
 * holds may overlap: from then on only each batch's own are checked.
 * Such a lie is one that may name a block the fake's allocator did not
 * give, or give one request's reply to another: a reply twisted or
 * replaced by raw bytes (sent is the one that goes, NULL when the bytes
 * keep their own id), unless all it names is a batch whose blocks
 * overlap one another, which the library refuses whole; and a stray
 * reply, whose id may be that of the other thread's request.  The
 * truthful answer with lying descriptors, share map contents, a hang-up
 * or another special is not one: whatever the library makes of it, it
 * has no block to hand out twice but its own mistake.
 */
static void
fake_note_record(struct fake *f, unsigned control, const Poolmgr__Reply *sent)
{
	unsigned	kind = control & REC_KIND;

	if (kind != REC_TWEAK && kind != REC_RAW)
		return;
	if (sent != NULL && batch_overlaps(sent))
		return;
	__atomic_store_n(&f->lied, 1, __ATOMIC_RELEASE);
}

/* A Lookup or an Alloc that may wait (wait_ms)? */
static int
fake_waiting(const Poolmgr__Request *rq)
{
	if (rq->body_case == POOLMGR__REQUEST__BODY_LOOKUP)
		return rq->lookup->wait_ms != 0;
	if (rq->body_case == POOLMGR__REQUEST__BODY_ALLOC)
		return rq->alloc->wait_ms != 0;
	return 0;
}

/*
 * Is rq a waiting Lookup or Alloc past FAKE_WAITS_IN_ROW in a row?  Then
 * it gets the truth and reads no record (see the top).
 */
static int
fake_waits_too_long(struct fake *f, const Poolmgr__Request *rq)
{
	if (!fake_waiting(rq)) {
		f->waits_in_row = 0;
		return 0;
	}
	return ++f->waits_in_row > FAKE_WAITS_IN_ROW;
}

/* Answer one request from the next record; 1 when the fake hangs up. */
static int
fake_answer(struct fake *f, const Poolmgr__Request *rq)
{
	Poolmgr__Reply	*raw;
	unsigned	 control, lie = 0, kind;
	size_t		 len, rawlen;
	const uint8_t	*rawp;
	int		 fds[8], nfds;

	if (fake_waits_too_long(f, rq)) {
		answer_truth(f, rq, &answer);
		len = fake_pack(&answer.reply);
		fake_send(f, fake_wbuf, len, NULL, 0);
		return 0;
	}
	control = in_byte(&f->in);
	kind = control & REC_KIND;
	if ((control & REC_FDS) == REC_FDS_LIE)
		lie = in_byte(&f->in);
	if (control & REC_SHARE_BYTES) {
		f->share_fill = in_byte(&f->in);
		f->share_state = in_byte(&f->in);
		f->share_replaced = in_byte(&f->in);
	} else
		f->share_fill = f->share_state = f->share_replaced = 0;

	answer_truth(f, rq, &answer);
	if (kind == REC_TWEAK)
		answer_tweak(f, &answer);
	nfds = answer_fds(f, &answer, control, lie, fds);

	if (kind == REC_SPECIAL)
		return fake_special(f, rq, control, fds, nfds);
	if (kind == REC_RAW) {
		rawlen = in_byte(&f->in);
		rawlen |= (size_t)in_byte(&f->in) << 8;
		if (rawlen > f->in.left)
			rawlen = f->in.left;
		rawp = f->in.p;
		f->in.p += rawlen;
		f->in.left -= rawlen;
		raw = poolmgr__reply__unpack(NULL, rawlen, rawp);
		fake_note_record(f, control,
		    (control & REC_KEEP_ID) == 0 ? raw : NULL);
		if (raw != NULL && !(control & REC_KEEP_ID)) {
			raw->id = rq->id;
			len = fake_pack(raw);
			fake_send(f, fake_wbuf, len, fds, nfds);
		} else
			fake_send(f, rawp, rawlen, fds, nfds);
		if (raw != NULL)
			poolmgr__reply__free_unpacked(raw, NULL);
		return (control & REC_HANG_UP) != 0;
	}
	fake_note_record(f, control, &answer.reply);
	len = fake_pack(&answer.reply);
	fake_send(f, fake_wbuf, len, fds, nfds);
	return (control & REC_HANG_UP) != 0;
}

/*
 * The fake's thread: take the library's connection, answer each request
 * until it closes or the fake hangs up.
 */
static void *
fake_run(void *arg)
{
	struct fake		*f = arg;
	struct pollfd		 pfd = { listen_fd, POLLIN, 0 };
	Poolmgr__Request	*rq;
	ssize_t			 n;
	int			 hang_up = 0;

	if (poll(&pfd, 1, ACCEPT_MS) != 1)
		die("the library did not connect");
	f->fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (f->fd == -1)
		die("accept: %s", strerror(errno));
	while (!hang_up) {
		n = recv(f->fd, fake_rbuf, sizeof fake_rbuf, 0);
		if (n <= 0)
			break;
		if ((size_t)n > MAX_MESSAGE)
			die("the library sent a request of %zd bytes", n);
		rq = poolmgr__request__unpack(NULL, (size_t)n, fake_rbuf);
		if (rq == NULL)
			die("the library sent a request that does not decode");
		if (rq->id == 0)
			die("the library sent a request with id 0");
#ifdef FUZZ_TRACE
		fprintf(stderr, "  request %d\n", (int)rq->body_case);
#endif
		hang_up = fake_answer(f, rq);
		poolmgr__request__free_unpacked(rq, NULL);
	}
	close(f->fd);
	f->fd = -1;
	fake_drop_map(f);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The client: the script, and the library's promises checked.        */

struct client {
	struct pool_conn	*conn;
	struct pool		*rw, *ro;
	pthread_mutex_t		 lock;	/* live and nlive, when two threads
					 * run the script */
	pool_off_t		 live[LIVE_MAX];
	size_t			 live_size[LIVE_MAX];	/* as asked */
	size_t			 nlive;
	int			 paired;	/* the script on two threads */
};

static void
check_string(const char *call, const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		die("%s: a string not terminated", call);
}

/* Words for a person: terminated, and nothing a terminal would act on. */
static void
check_words(const char *call, const char *s, size_t size)
{
	size_t	i;

	check_string(call, s, size);
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			die("%s: control byte %#x at %zu", call,
			    (unsigned)(unsigned char)s[i], i);
}

/* An int the library returned: 0 or a code pool_strerror knows. */
static void
check_code(const char *call, int r)
{
	const char	*text;

#ifdef FUZZ_TRACE
	fprintf(stderr, "%s: %d\n", call, r);
#endif
	if (r > 0 || r < -4095)
		die("%s returned %d", call, r);
	if (r == 0)
		return;
	text = pool_strerror(r);
	if (text == NULL || *text == '\0')
		die("%s returned %d, which pool_strerror has no text for",
		    call, r);
	text = pool_last_message(r);
	if (text == NULL || strlen(text) > 255)
		die("%s: pool_last_message(%d) is not a short string", call, r);
	check_words(call, text, 256);
}

/*
 * A block the library handed out: inside the pool, its address inside
 * the mapping and its bytes usable.
 */
static void
check_block(struct pool *p, const char *call, pool_off_t off, size_t size)
{
	uint64_t		 psize = pool_size(p);
	uint8_t			*base = pool_ptr(p, 0), *at;
	volatile uint8_t	*v;

	if (base == NULL)
		die("%s: pool_ptr(0) is NULL", call);
	if (off == POOL_OFF_NONE || off >= psize || size > psize - off)
		die("%s: block %llu of %zu bytes outside the pool (%llu bytes)",
		    call, (unsigned long long)off, size,
		    (unsigned long long)psize);
	at = pool_ptr(p, off);
	if (at != base + off)
		die("%s: pool_ptr(%llu) is not base + offset", call,
		    (unsigned long long)off);
	if (pool_offset_of(p, at) != off)
		die("%s: pool_offset_of(pool_ptr(%llu)) differs", call,
		    (unsigned long long)off);
	if (size == 0)
		return;
	if (p == NULL || pool_offset_of(p, base + psize) != POOL_OFF_NONE)
		die("%s: the end of the mapping has an offset", call);
	v = at;
	(void)v[0];
	(void)v[size - 1];
}

/* Do [a, a + alen) and [b, b + blen) share a byte? */
static int
overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < span_end(b, blen) && b < span_end(a, alen);
}

/*
 * A new block, [off, off + size), against those the script holds: none
 * may share a byte with it while the fake's lies are ones the library
 * can see (fake_note_record).  Called with cl->lock held.
 */
static void
check_apart(struct client *cl, const char *call, pool_off_t off, size_t size)
{
	size_t	i;

	if (__atomic_load_n(&fake.lied, __ATOMIC_ACQUIRE))
		return;
	for (i = 0; i < cl->nlive; i++)
		if (overlap(off, size, cl->live[i], cl->live_size[i]))
			die("%s: block %llu of %zu bytes overlaps block %llu of "
			    "%zu bytes, held too", call,
			    (unsigned long long)off, size,
			    (unsigned long long)cl->live[i], cl->live_size[i]);
}

/* A block from a read-write handle: written whole, as a program would. */
static void
check_rw_block(struct client *cl, const char *call, pool_off_t off,
    size_t size)
{
	check_block(cl->rw, call, off, size);
	memset(pool_ptr(cl->rw, off), 0xa5, size);
	pthread_mutex_lock(&cl->lock);
	check_apart(cl, call, off, size);
	if (cl->nlive < LIVE_MAX) {
		cl->live[cl->nlive] = off;
		cl->live_size[cl->nlive++] = size;
	}
	pthread_mutex_unlock(&cl->lock);
}

/* A failed allocation: the code, and *out left POOL_OFF_NONE. */
static void
check_alloc(struct client *cl, const char *call, int r, pool_off_t off,
    size_t size)
{
	check_code(call, r);
	if (r != 0) {
		if (off != POOL_OFF_NONE)
			die("%s failed (%d) but stored %llu", call, r,
			    (unsigned long long)off);
		return;
	}
	check_rw_block(cl, call, off, size);
}

/* The live block the argument names (a free one may be named too). */
static pool_off_t
live_block(struct client *cl, unsigned arg)
{
	pool_off_t	off;

	pthread_mutex_lock(&cl->lock);
	if (cl->nlive == 0)
		off = arg & 1 ? 0 : POOL_OFF_NONE;
	else
		off = cl->live[arg % cl->nlive];
	pthread_mutex_unlock(&cl->lock);
	return off;
}

/*
 * A block about to be freed (or reallocated) leaves the live set before
 * the call, not after it: the call may put it in the cache, and the other
 * thread of a pair may be given it from there before the call returns.
 * Then put_live puts it back if the call failed.  1 if off was live.
 */
static int
take_live(struct client *cl, pool_off_t off, size_t *size)
{
	size_t	i;
	int	found = 0;

	pthread_mutex_lock(&cl->lock);
	for (i = 0; i < cl->nlive; i++)
		if (cl->live[i] == off) {
			*size = cl->live_size[i];
			cl->nlive--;
			cl->live[i] = cl->live[cl->nlive];
			cl->live_size[i] = cl->live_size[cl->nlive];
			found = 1;
			break;
		}
	pthread_mutex_unlock(&cl->lock);
	return found;
}

/* A block taken out by take_live whose free failed: it is still held. */
static void
put_live(struct client *cl, pool_off_t off, size_t size)
{
	pthread_mutex_lock(&cl->lock);
	if (cl->nlive < LIVE_MAX) {
		cl->live[cl->nlive] = off;
		cl->live_size[cl->nlive++] = size;
	}
	pthread_mutex_unlock(&cl->lock);
}

/* The handle a read call uses: read-only if the argument says and one is. */
static struct pool *
reader(const struct client *cl, unsigned arg)
{
	if ((arg & 4) && cl->ro != NULL)
		return cl->ro;
	return cl->rw != NULL ? cl->rw : cl->ro;
}

static void
run_open(struct client *cl, int read_only)
{
	struct pool	**slot = read_only ? &cl->ro : &cl->rw;
	int		  r;

	if (*slot != NULL) {
		pool_close(*slot);
		*slot = NULL;
		if (!read_only)
			cl->nlive = 0;
	}
	r = read_only ? pool_open_readonly(cl->conn, "fuzz", slot) :
	    pool_open(cl->conn, "fuzz", slot);
	check_code("pool_open", r);
	if (r != 0) {
		if (*slot != NULL)
			die("pool_open failed (%d) but gave a pool", r);
		return;
	}
	if (pool_size(*slot) == 0 || pool_ptr(*slot, pool_size(*slot)) != NULL)
		die("pool_open: a pool of %llu bytes maps its end",
		    (unsigned long long)pool_size(*slot));
	check_block(*slot, "pool_open", 0, pool_size(*slot));
}

/*
 * pool_blocks page after page (at most 8: a liar may page on for ever,
 * moving on a byte a page): each page in order, from where it was asked,
 * with no more holders than it says; a failed call leaves the cursor.
 */
static void
run_block_list(struct client *cl, unsigned arg)
{
	struct pool_block_info	*b;
	uint64_t		 from = arg & 4 ? 4096 : 0, before;
	size_t			 n, i;
	int			 done = 0, pages, r;

	for (pages = 0; !done && pages < 8; pages++) {
		before = from;
		b = NULL;
		n = 0;
		r = pool_blocks(cl->conn, "fuzz", arg & 1 ? 1 : 0, 0, &from,
		    &b, &n, &done);
		check_code("pool_blocks", r);
		if (r != 0) {
			if (from != before || b != NULL)
				die("pool_blocks failed (%d) but moved on", r);
			return;
		}
		if (n > 128 || (n == 0 && !done && from <= before))
			die("pool_blocks: %zu blocks, from %llu to %llu", n,
			    (unsigned long long)before,
			    (unsigned long long)from);
		for (i = 0; i < n; i++)
			if (b[i].offset < before ||
			    (i > 0 && b[i].offset <= b[i - 1].offset) ||
			    b[i].offset >= from ||
			    b[i].nlisted > POOL_BLOCK_HOLDERS_LISTED ||
			    b[i].nlisted > b[i].holders)
				die("pool_blocks: block %zu of %zu breaks the "
				    "page's order or its holders", i, n);
		free(b);
	}
}

static void
run_lists(struct client *cl, unsigned op, unsigned arg)
{
	struct pool_stats	*pools = NULL;
	struct pool_client_info	*clients = NULL;
	struct pool_persisted	*persisted = NULL;
	struct pool_named	*named = NULL;
	size_t			 n = 0, total = 0, i;
	int			 r;

	switch (op) {
	case OP_LIST:
		if (arg & 2) {
			run_block_list(cl, arg);
			break;
		}
		r = pool_list(cl->conn, &pools, &n);
		check_code("pool_list", r);
		for (i = 0; r == 0 && i < n; i++)
			check_string("pool_list", pools[i].name,
			    sizeof pools[i].name);
		free(pools);
		break;
	case OP_CLIENTS:
		r = pool_clients_total(cl->conn, arg & 1 ? NULL : "fuzz",
		    &clients, &n, &total);
		check_code("pool_clients", r);
		for (i = 0; r == 0 && i < n; i++) {
			check_string("pool_clients", clients[i].name,
			    sizeof clients[i].name);
			check_string("pool_clients", clients[i].pool,
			    sizeof clients[i].pool);
		}
		free(clients);
		break;
	case OP_PERSISTED:
		r = pool_persisted(cl->conn, "fuzz", &persisted, &n, &total);
		check_code("pool_persisted", r);
		free(persisted);
		break;
	case OP_NAMES:
		r = pool_names(cl->conn, "fuzz", arg & 1 ? "f" : NULL, &named,
		    &n, &total);
		check_code("pool_names", r);
		for (i = 0; r == 0 && i < n; i++)
			check_string("pool_names", named[i].name,
			    sizeof named[i].name);
		free(named);
		break;
	}
}

static void
run_names(struct client *cl, unsigned op, unsigned arg)
{
	static const int	 timeouts[4] = { 0, 10, -1, 1000 };
	struct pool		*p = reader(cl, arg);
	char			 name[8];
	pool_off_t		 off = POOL_OFF_NONE;
	size_t			 usable = 0;
	uint64_t		 gen = 0;
	int			 r;

	snprintf(name, sizeof name, "n%u", arg & 3);
	switch (op) {
	case OP_PUBLISH:
		r = pool_publish(cl->rw, live_block(cl, arg), name);
		check_code("pool_publish", r);
		return;
	case OP_PUBLISH_FLAGS:
		r = pool_publish_flags(cl->rw, live_block(cl, arg), name,
		    POOL_PUBLISH_REPLACE | (arg & 4 ? POOL_PUBLISH_EVICTABLE :
		    0));
		check_code("pool_publish_flags", r);
		return;
	case OP_UNPUBLISH:
		r = pool_unpublish(cl->rw, name);
		check_code("pool_unpublish", r);
		return;
	case OP_LOOKUP:
		r = pool_lookup(p, name, &off, &usable);
		break;
	case OP_LOOKUP_RETAIN:
		p = cl->rw;
		r = pool_lookup_retain(p, name, &off, &usable);
		break;
	default:
		r = pool_lookup_wait(p, name, arg & 4 ? 1 : 0,
		    timeouts[arg & 3], 0, &off, &usable, &gen);
		break;
	}
	check_code("pool_lookup", r);
	if (r == 0 && p != NULL) {
		check_block(p, "pool_lookup", off, usable);
		if (usable == 0)
			die("pool_lookup: a block of 0 bytes");
	}
}

/*
 * The blocks of one batch share no byte, whatever the fake said: the
 * library refuses a reply in which they would.
 */
static void
check_batch_apart(const pool_off_t *offs, const size_t *sizes, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (overlap(offs[i], sizes[i], offs[j], sizes[j]))
				die("pool_alloc_batch: block %zu (%llu, %zu "
				    "bytes) overlaps block %zu (%llu, %zu "
				    "bytes)", i, (unsigned long long)offs[i],
				    sizes[i], j, (unsigned long long)offs[j],
				    sizes[j]);
}

/*
 * OP_CALLOC's arguments 4-7: pool_alloc_wait of size bytes, zeroed (even
 * arguments) or aligned (odd), waiting 10 ms, without end, 1 s, or not at
 * all (7: pool_alloc_aligned's path); 6 persistent from the start too
 * (-EOPNOTSUPP, nothing sent, from a fake without features bit 6).
 */
static void
run_alloc_wait(struct client *cl, unsigned arg, size_t size)
{
	static const int	 waits[4] = { 10, -1, 1000, 0 };
	size_t			 align = arg & 1 ? (size_t)64 << arg : 0;
	pool_off_t		 off = POOL_OFF_NONE;
	unsigned		 flags = arg & 1 ? 0 : POOL_ALLOC_ZERO;
	int			 r;

	if (arg == 6)
		flags |= POOL_ALLOC_PERSIST;
	r = pool_alloc_wait(cl->rw, size, align, flags, waits[arg & 3], &off);
	check_alloc(cl, "pool_alloc_wait", r, off, size);
	if (r == 0 && align != 0 && (off & (align - 1)) != 0)
		die("pool_alloc_wait: %llu is misaligned",
		    (unsigned long long)off);
}

static void
run_blocks(struct client *cl, unsigned op, unsigned arg)
{
	pool_off_t	 off = POOL_OFF_NONE, old, offs[24], batch[LIVE_MAX];
	size_t		 size = script_sizes[arg], sizes[24], n, i, old_size;
	size_t		 batch_size[LIVE_MAX];
	int		 r, held;

	switch (op) {
	case OP_ALLOC:
		r = pool_alloc(cl->rw, size, &off);
		check_alloc(cl, "pool_alloc", r, off, size);
		break;
	case OP_ALIGNED:
		r = pool_alloc_aligned(cl->rw, size, (size_t)64 << (arg & 7),
		    &off);
		check_alloc(cl, "pool_alloc_aligned", r, off, size);
		if (r == 0 && (off & ((64u << (arg & 7)) - 1)) != 0)
			die("pool_alloc_aligned: %llu is misaligned",
			    (unsigned long long)off);
		break;
	case OP_CALLOC:
		if (arg & 4) {
			run_alloc_wait(cl, arg, size);
			return;
		}
		r = pool_calloc(cl->rw, 1 + (arg & 3), size, &off);
		check_alloc(cl, "pool_calloc", r, off, size * (1 + (arg & 3)));
		break;
	case OP_REALLOC:
		/* Argument 0 frees; 7, 1 MiB, moves in this process. */
		if (arg == 0)
			size = 0;
		old = live_block(cl, arg);
		off = old;
		held = take_live(cl, old, &old_size);
		r = pool_realloc(cl->rw, old, size, &off);
		check_code("pool_realloc", r);
		if (r != 0 && held)
			put_live(cl, old, old_size);
		if (r == 0) {
			if (size == 0 && off != POOL_OFF_NONE)
				die("pool_realloc to 0 left %llu",
				    (unsigned long long)off);
			if (size != 0)
				check_rw_block(cl, "pool_realloc", off, size);
		}
		break;
	case OP_FREE:
		off = live_block(cl, arg);
		held = take_live(cl, off, &old_size);
		r = pool_free(cl->rw, off);
		check_code("pool_free", r);
		if (r != 0 && held)
			put_live(cl, off, old_size);
		break;
	case OP_ALLOC_BATCH:
		n = 1 + arg * 3;
		for (i = 0; i < n; i++) {
			sizes[i] = script_sizes[(arg + i) % 5];
			offs[i] = POOL_OFF_NONE;
		}
		r = pool_alloc_batch(cl->rw, n, sizes, offs);
		check_code("pool_alloc_batch", r);
		if (r == 0)
			check_batch_apart(offs, sizes, n);
		for (i = 0; r == 0 && i < n; i++)
			check_rw_block(cl, "pool_alloc_batch", offs[i],
			    sizes[i]);
		break;
	case OP_FREE_BATCH:
		pthread_mutex_lock(&cl->lock);
		n = cl->nlive;
		memcpy(batch, cl->live, n * sizeof batch[0]);
		memcpy(batch_size, cl->live_size, n * sizeof batch_size[0]);
		cl->nlive = 0;
		pthread_mutex_unlock(&cl->lock);
		r = pool_free_batch(cl->rw, n, batch);
		check_code("pool_free_batch", r);
		for (i = 0; r != 0 && i < n; i++)
			put_live(cl, batch[i], batch_size[i]);
		break;
	case OP_USABLE: {
		struct pool	*p = reader(cl, arg);

		off = live_block(cl, arg);
		r = pool_usable_size(p, off, &size);
		check_code("pool_usable_size", r);
		if (r == 0)
			check_block(p, "pool_usable_size", off, size);
		break;
	}
	case OP_RETAIN:
		r = pool_retain(cl->rw, live_block(cl, arg));
		check_code("pool_retain", r);
		break;
	case OP_PERSIST:
		r = pool_persist(cl->rw, live_block(cl, arg));
		check_code("pool_persist", r);
		break;
	}
}

static void
run_pools(struct client *cl, unsigned op, unsigned arg)
{
	struct pool_stats	st;
	struct pool_daemon_stats ds;
	struct pool_create_opts	co;
	uint64_t		released;
	char			msg[64];
	int			r;

	switch (op) {
	case OP_STATS:
		memset(&st, 0xff, sizeof st);
		r = pool_stats(reader(cl, arg), &st);
		check_code("pool_stats", r);
		if (r == 0)
			check_string("pool_stats", st.name, sizeof st.name);
		break;
	case OP_STATS_NAME:
		if (arg & 4) {
			r = pool_daemon_stats(cl->conn, &ds);
			check_code("pool_daemon_stats", r);
			if (r == 0)
				check_string("pool_daemon_stats", ds.server,
				    sizeof ds.server);
			break;
		}
		r = pool_stats_by_name(cl->conn, "fuzz", &st);
		check_code("pool_stats_by_name", r);
		if (r == 0)
			check_string("pool_stats_by_name", st.name,
			    sizeof st.name);
		break;
	case OP_TRIM:
		r = arg & 1 ? pool_trim_by_name(cl->conn, "fuzz", &released) :
		    pool_trim(cl->rw);
		check_code("pool_trim", r);
		break;
	case OP_FLUSH:
		check_code("pool_flush", pool_flush(cl->rw));
		break;
	case OP_SET_CACHE:
		check_code("pool_set_cache", pool_set_cache(cl->rw,
		    arg & 1 ? 0 : (size_t)4096 << arg));
		break;
	case OP_CHECK:
		r = pool_check_by_name(cl->conn, "fuzz", msg, sizeof msg);
		check_code("pool_check_by_name", r);
		check_words("pool_check_by_name", msg, sizeof msg);
		break;
	case OP_CREATE:
		if (arg & 1) {
			check_code("pool_destroy", pool_destroy(cl->conn,
			    "fuzz"));
			break;
		}
		memset(&co, 0, sizeof co);
		co.max_size = 1 << 20;
		check_code("pool_create", pool_create(cl->conn, "fuzz2", &co));
		break;
	}
}

/* One call of the script; 1 when it disconnected. */
static int
run_op(struct client *cl, uint8_t byte)
{
	unsigned	op = (byte & 0x1f) % OP_COUNT, arg = byte >> 5;

	switch (op) {
	case OP_OPEN:
	case OP_OPEN_RO:
		run_open(cl, op == OP_OPEN_RO);
		break;
	case OP_CLOSE:
		pool_close(cl->rw);
		cl->rw = NULL;
		cl->nlive = 0;
		break;
	case OP_CLOSE_RO:
		pool_close(cl->ro);
		cl->ro = NULL;
		break;
	case OP_DISCONNECT:
		/* The pools still open are the disconnect's to close. */
		pool_disconnect(cl->conn);
		cl->conn = NULL;
		cl->rw = cl->ro = NULL;
		return 1;
	case OP_LIST:
	case OP_CLIENTS:
	case OP_PERSISTED:
	case OP_NAMES:
		run_lists(cl, op, arg);
		break;
	case OP_PUBLISH:
	case OP_PUBLISH_FLAGS:
	case OP_UNPUBLISH:
	case OP_LOOKUP:
	case OP_LOOKUP_RETAIN:
	case OP_LOOKUP_WAIT:
		run_names(cl, op, arg);
		break;
	case OP_STATS:
	case OP_STATS_NAME:
	case OP_TRIM:
	case OP_FLUSH:
	case OP_SET_CACHE:
	case OP_CHECK:
	case OP_CREATE:
		run_pools(cl, op, arg);
		break;
	default:
		/* Block calls on no read-write handle: the library's -EINVAL. */
		run_blocks(cl, op, arg);
		break;
	}
	return 0;
}

/* The second thread of a pair: one call. */
struct helper {
	struct client	*cl;
	uint8_t		 call;
};

static void *
helper_run(void *arg)
{
	struct helper	*h = arg;

	(void)run_op(h->cl, h->call);
	return NULL;
}

/*
 * May call run beside call next?  Not one that opens, closes or
 * disconnects (a pool closed under another call is the program's bug,
 * not the library's), and next only allocates or reads: it frees
 * nothing that call may be using.
 */
static int
pairable(uint8_t call, uint8_t next)
{
	switch ((call & 0x1f) % OP_COUNT) {
	case OP_OPEN: case OP_OPEN_RO: case OP_CLOSE: case OP_CLOSE_RO:
	case OP_DISCONNECT:
		return 0;
	}
	switch ((next & 0x1f) % OP_COUNT) {
	case OP_ALLOC: case OP_ALIGNED: case OP_CALLOC: case OP_ALLOC_BATCH:
	case OP_USABLE: case OP_LOOKUP: case OP_LOOKUP_WAIT: case OP_STATS:
	case OP_STATS_NAME: case OP_TRIM: case OP_FLUSH: case OP_SET_CACHE:
	case OP_LIST: case OP_NAMES: case OP_CLIENTS: case OP_PERSISTED:
	case OP_CHECK:
		return 1;
	}
	return 0;
}

/* The script, on one thread or two; 1 when it disconnected. */
static int
run_script(struct client *cl, const uint8_t *script, size_t n, int paired)
{
	struct helper	h;
	pthread_t	t;
	size_t		i;

	for (i = 0; i < n; i++) {
		if (paired && i + 1 < n && pairable(script[i], script[i + 1])) {
			h.cl = cl;
			h.call = script[++i];
			if (pthread_create(&t, NULL, helper_run, &h) != 0)
				die("pthread_create failed");
			(void)run_op(cl, script[i - 1]);
			pthread_join(t, NULL);
		} else if (run_op(cl, script[i]))
			return 1;
	}
	return 0;
}

/* Descriptors open now. */
static long
open_fds(void)
{
	DIR	*d = opendir("/proc/self/fd");
	long	 n = 0;

	if (d == NULL)
		die("/proc/self/fd: %s", strerror(errno));
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Mappings of the fake's memfds left in this process. */
static int
fake_mappings(void)
{
	char	 line[512];
	FILE	*maps = fopen("/proc/self/maps", "r");
	int	 n = 0;

	if (maps == NULL)
		die("/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof line, maps) != NULL)
		if (strstr(line, "memfd:fuzz-client-") != NULL)
			n++;
	fclose(maps);
	return n;
}

static void
remove_socket(void)
{
	unlink(sock_path);
	rmdir(sock_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un	sun;

	(void)argc;
	(void)argv;
	if (mkdtemp(sock_dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof sock_path, "%s/sock", sock_dir);
	atexit(remove_socket);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
	listen_fd = socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0);
	if (listen_fd == -1 ||
	    bind(listen_fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    listen(listen_fd, 4) == -1)
		die("%s: %s", sock_path, strerror(errno));
	/* The library's cache at its default budget, whatever runs us. */
	unsetenv("POOLMGR_CLIENT_CACHE");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input	 in = { data, size };
	struct client	 cl;
	pthread_t	 thread;
	const uint8_t	*script;
	size_t		 nscript;
	long		 fds_before = open_fds();
	uint8_t		 config, length;
	int		 r, gone;

	config = in_byte(&in);
	length = in_byte(&in);
	nscript = length & SCRIPT_LENGTH;
	if (nscript == 0) {
		script = DEFAULT_SCRIPT;
		nscript = sizeof DEFAULT_SCRIPT;
	} else {
		if (nscript > in.left)
			nscript = in.left;
		script = in.p;
		in.p += nscript;
		in.left -= nscript;
	}

	memset(&fake, 0, sizeof fake);
	fake.in = in;
	fake.fd = -1;
	fake.pool_size = pool_sizes[config & 7];
	fake.granularity = granularities[(config >> 3) & 3];
	/*
	 * Bit 2 (the batch bounds) brings DaemonStats, ListBlocks and
	 * waiting Allocs along.
	 */
	fake.features = config >> 5;
	if (fake.features & 4)
		fake.features |= 8 | 16 | 32;
	fake.next_handle = FAKE_HANDLE;
	if (pthread_create(&thread, NULL, fake_run, &fake) != 0)
		die("pthread_create failed");

	memset(&cl, 0, sizeof cl);
	pthread_mutex_init(&cl.lock, NULL);
	cl.paired = (length & SCRIPT_PAIRED) != 0;
	r = pool_connect(sock_path, &cl.conn);
	check_code("pool_connect", r);
	if (r == 0) {
		gone = run_script(&cl, script, nscript, (length & SCRIPT_PAIRED) != 0);
		if (!gone) {
			pool_close(cl.ro);
			pool_close(cl.rw);
			pool_disconnect(cl.conn);
		}
	} else if (cl.conn != NULL)
		die("pool_connect failed (%d) but gave a connection", r);
	pthread_mutex_destroy(&cl.lock);

	pthread_join(thread, NULL);
	if (open_fds() != fds_before)
		die("%ld descriptors open before the input, %ld after",
		    fds_before, open_fds());
	if (fake_mappings() != 0)
		die("a pool or share map is still mapped after disconnect");
	return 0;
}
