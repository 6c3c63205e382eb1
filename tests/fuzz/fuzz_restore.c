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
 * PEER_MAX_QUEUED: publish queues them, unchecked); when it fails
 * it must say why.  Either way teardown must leave no pool and no session
 * behind (under ASan: no leak, no use after free), and every 1000 inputs
 * the number of open descriptors may not have grown.  A failure aborts with
 * a message on the real stderr.
 *
 * The seeds (tests/fuzz/corpus/fuzz_restore/) are the states
 * tests/integration/itest_restore.c makes, good and bad, written there
 * with POOLMGR_STATE_SEEDS=DIR; regress_events_not_summing is an input
 * this harness once found to abort the rebuild (allocation counters that
 * did not add up passed the checks, and heap_events_restore asserted).
 *
 * restore.c is included, not linked, to reach its static build and
 * teardown; the Makefile leaves it out of the daemon's sources here.
 * The daemon logs to stderr; libFuzzer is asked to close it
 * (-close_fd_mask=2) unless POOLMGR_FUZZ_LOG is set.
 */
#include "restore.c"

#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "pool.h"
#include "session.h"

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_POOLS 8
#define FUZZ_MAX_SESSIONS 16
#define FUZZ_MAX_POOL_SIZE (16ull << 20)
#define FUZZ_MAX_FDS (2 + FUZZ_MAX_POOLS + FUZZ_MAX_SESSIONS)

static int listen_fd = -1;
static int conn_fd = -1;	/* the daemon's end of every session */
static int client_fd = -1;	/* its other end, kept open */
static unsigned long inputs, fed, rebuilt;
static long fd_base = -1;

/* How many inputs were states fed to the checks, and how many rebuilt. */
static void
report(void)
{
	fprintf(fuzz_errout, "fuzz_restore: %lu inputs, %lu states fed to "
		"the checks, %lu rebuilt\n", inputs, fed, rebuilt);
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
feedable(const Poolmgrd__State *st)
{
	size_t i;

	if (st->n_pools > FUZZ_MAX_POOLS || st->n_sessions > FUZZ_MAX_SESSIONS)
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
	unsigned n, k;
	int sfd, rc;

	inputs++;
	if (size == 0)
		return 0;
	sfd = sealed_memfd("poolmgrd-state", data, size, F_SEAL_SHRINK |
			   F_SEAL_GROW | F_SEAL_WRITE);
	/* Decoded once to size the descriptors, again by load. */
	if (!(st = state_load(sfd, why, sizeof(why))) || !feedable(st)) {
		if (st)
			poolmgrd__state__free_unpacked(st, NULL);
		close(sfd);
		return 0;
	}
	n = 2 + (unsigned)st->n_pools + (unsigned)st->n_sessions;
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
	for (k = 2 + (unsigned)st->n_pools; k < n; k++) {
		fds[k] = conn_fd;
		snprintf(named[k], sizeof(named[0]), "conn.%u",
			 k - 2 - (unsigned)st->n_pools);
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
		for (k = 0; k < rb.st->n_pools; k++)
			check_persisters(&rb, k);
		for (k = 0; k < rb.st->n_sessions; k++)
			check_sessions(&rb, k);
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
