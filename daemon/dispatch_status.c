/*
 * dispatch_status.c - the daemon's own statistics (DaemonStats,
 * docs/protocol.md "The daemon's statistics").
 *
 * Each count belongs to the code that sees its event and that alone
 * writes it: server_accept.c the connections accepted and refused,
 * peer.c the Hello timeouts, peer_kept.c the kept connections (some of
 * them looked at in turn before they are counted, those done with let go
 * of; a refusal looks at them all), dispatch.c the requests, the
 * undecodable datagrams and the requests held for their pool,
 * dispatch_wait.c the waiting lookups, dispatch_room.c the waiting
 * allocations, log.c the lines left out.  This
 * file only reads them, and keeps what the images before this one had
 * counted (a restart in place hands their totals over in the state), so
 * that a total is since the daemon started, not since the last exec.
 *
 * Anyone connected may ask: the reply has no pool's own figures and
 * nothing of any client's, and its sums are over the pools the caller may
 * read (docs/security.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "log.h"
#include "peer.h"
#include "peer_kept.h"
#include "pool.h"
#include "server.h"
#include "session.h"

/* The kept connections a request looks at, at most (peer_kept_look). */
#define KEPT_LOOKS	16

/* The images before this one: their totals, as the state carried them. */
static struct daemon_totals carried;

/*
 * /proc/self/statm, open for the daemon's life (-1: not yet).  Opened at
 * each request, it could not be when the daemon is at its open files
 * limit, as it is when an operator most wants its status; read from the
 * start each time, it needs no descriptor more.  getrusage has only the
 * peak (ru_maxrss), not what is resident now.
 */
static int statm_fd = -1;

static int
status_statm(void)
{
	if (statm_fd < 0)
		statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	return statm_fd;
}

static uint64_t
status_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
dispatch_status_start(const struct daemon_totals *from)
{
	uint64_t now_ns = status_clock_ns(CLOCK_MONOTONIC);

	/* While descriptors are to be had (a failure is tried again at the
	 * next request). */
	(void)status_statm();
	/* A start the monotonic clock has not reached is no start of ours
	 * (a state from before a reboot, or a lie): count afresh. */
	if (from && from->started != 0 && from->started_ns != 0 &&
	    from->started_ns <= now_ns) {
		carried = *from;
		carried.restarts++;
		return;
	}
	carried = (struct daemon_totals){
		.started = status_clock_ns(CLOCK_REALTIME) / 1000000000ull,
		.started_ns = now_ns,
	};
}

void
dispatch_status_totals(struct daemon_totals *out)
{
	uint64_t answered, refused, bad;

	dispatch_counts(&answered, &refused, &bad);
	*out = carried;
	out->connections += server_connections_accepted();
	out->connections_refused += server_connections_refused();
	out->hello_timeouts += peer_deadline_drops();
	out->requests += answered;
	out->requests_refused += refused;
	out->bad_messages += bad;
	out->log_lines_left_out += log_lines_left_out();
}

/*
 * Resident bytes, from /proc/self/statm's second field; 0 if unread (no
 * running process has none resident: DaemonStatsReply.rss_bytes says 0
 * for unknown).
 */
static uint64_t
status_rss(void)
{
	char buf[128], *at, *end;
	unsigned long long resident;
	long page = sysconf(_SC_PAGESIZE);
	int fd = status_statm();
	ssize_t n;

	if (fd < 0 || page <= 0)
		return 0;
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	(void)strtoull(buf, &at, 10);		/* size */
	resident = strtoull(at, &end, 10);
	if (errno || end == at)
		return 0;
	return (uint64_t)resident * (uint64_t)page;
}

int
do_daemon_stats(struct call *c, const Poolmgr__DaemonStats *m)
{
	static Poolmgr__DaemonStatsReply r;
	struct daemon_totals t;
	struct heap_stats st;
	struct dpool *p;

	(void)m;
	poolmgr__daemon_stats_reply__init(&r);
	dispatch_status_totals(&t);
	r.server = DISPATCH_SERVER;
	r.pid = (uint32_t)getpid();
	r.uid = (uint32_t)geteuid();
	r.gid = (uint32_t)getegid();
	r.started = t.started;
	r.uptime_ms = (status_clock_ns(CLOCK_MONOTONIC) - t.started_ns) /
		      1000000u;
	r.restarts = t.restarts;
	r.connections = session_count();
	r.max_connections = dispatch_cf ? dispatch_cf->max_connections : 0;
	r.admin_connections = dispatch_cf ? dispatch_cf->admin_connections : 0;
	r.max_connections_per_uid = dispatch_cf ?
				    dispatch_cf->max_connections_per_uid : 0;
	/*
	 * Some looked at first, in turn (a system call each, and anyone
	 * may ask, as often as they like): those whose clients have read
	 * all or closed are no longer counted once a look has come round
	 * to them.  A refusal looks at them all.
	 */
	r.kept_connections = peer_kept_look(KEPT_LOOKS);
	r.connections_total = t.connections;
	r.connections_refused = t.connections_refused;
	r.hello_timeouts = t.hello_timeouts;
	r.requests_total = t.requests;
	r.requests_refused = t.requests_refused;
	r.bad_messages = t.bad_messages;
	r.held = dispatch_held();
	/*
	 * Only the pools the caller may read, as ListPools lists: a sum over
	 * every pool less the ones it can list would tell it a hidden pool's
	 * figures, as often as it asks.  The engine keeps running counts: no
	 * block is walked.
	 */
	for (p = dpool_first(); p; p = dpool_next(p)) {
		if (!session_may_access(c->s, p, 4))
			continue;
		r.pools++;
		heap_get_stats(p->heap, &st);
		r.live_blocks += st.live_blocks;
		r.allocated_bytes += st.allocated_bytes;
	}
	r.rss_bytes = status_rss();
	r.log_lines_left_out = t.log_lines_left_out;
	r.features = DISPATCH_FEATURES;
	c->rep->body_case = POOLMGR__REPLY__BODY_DAEMON_STATS;
	c->rep->daemon_stats = &r;
	return 0;
}
