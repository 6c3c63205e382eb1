/*
 * liar_pool.c - the fake daemon's replies about its pool and its blocks
 * (liar_fake.h): opens and share maps, allocations alone and in batches,
 * frees, usable sizes, lookups, persists and retains; each the truth, or
 * the lie it was started to tell.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "liar_fake.h"

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

int
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

int
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

int
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

int
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

int
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

int
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

int
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

void
fake_free_logged(struct fake_state *fs, uint64_t off)
{
	bool ends = fs->lie == LIE_PERSIST_UNSAID && fs->unheld &&
		    off == fs->unheld_off;

	fprintf(fs->log, "%s %llu\n", ends ? "free_ends_persistent" : "free",
		(unsigned long long)off);
}

int
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
