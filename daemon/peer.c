/*
 * peer.c - datagram transport for one client connection.
 *
 * Reads drain up to PEER_READ_BATCH datagrams per wakeup with one recvmmsg,
 * and no more, so one busy client cannot starve the others.  A datagram
 * longer than PEER_MAX_MESSAGE (seen with MSG_TRUNC) or carrying
 * descriptors we did not ask for is a protocol violation: the descriptors
 * are closed and the peer is dropped.  Where the kernel can (Linux 6.16),
 * no descriptor gets that far: the daemon's sockets refuse them
 * (peer_refuse_fds, peer_socket.c), for the close of one a client
 * passed, and closed its own copy of, would be the daemon's to wait out
 * (a TCP socket lingering over bytes its peer never reads: up to its
 * SO_LINGER, on the only thread).
 *
 * Writes: the replies to one read batch are staged in a static buffer and
 * go out together with one sendmmsg when the batch ends, so a client that
 * pipelines costs one system call per batch, not one per reply, and no
 * reply is copied to the heap.  A reply that cannot go out at once (the
 * socket is full, or older replies wait) is queued; a client that stops
 * reading is dropped once its queue costs PEER_MAX_QUEUED bytes of the
 * daemon's memory (each reply counted with its record, so that empty ones
 * count too) or holds PEER_MAX_QUEUED_FDS descriptors, or once the queues
 * of all hold a quarter of the daemon's descriptors, or once the queues of
 * all the connections of its uid would cost PEER_MAX_QUEUED_UID (then the
 * one of them whose queue costs the most goes, which need not be the one
 * the reply is for): so it cannot grow the daemon, nor use up its
 * descriptors, however many connections its uid opens.  A queued reply owns its
 * descriptors: one the caller lent (a pool's memfd) is duplicated when
 * the reply is made, for the caller's may be closed (the pool destroyed)
 * and its number reused before the reply leaves.
 *
 * Descriptors sent are in flight until the client reads them, and the
 * kernel counts all the daemon's in flight against its uid: past its
 * RLIMIT_NOFILE, every sendmsg that passes one fails (root alone is
 * exempt), and every client's open with it.  A connection holds at most
 * its socket's send buffer of them, and 8 more queued here.  That buffer
 * is the daemon's own, PEER_SNDBUF (some 170 small replies), set on each
 * connection (peer_bound_sndbuf in peer_socket.c, unless
 * net.core.wmem_max would keep it under the largest reply): the kernel's
 * default is
 * net.core.wmem_default, which an administrator may raise (common
 * tuning), and each connection would then hold that many more (some 270
 * replies at the kernel's default of 208 KiB, ten times that at 2 MiB),
 * max_connections of them past the unit's LimitNOFILE.  They stay in
 * flight after the daemon closes its end, as long as the client keeps
 * its own: a uid dropped for not reading and connecting again could pile
 * them up without end.  So a peer let go of while its client has not
 * read all it was sent, descriptors among them, keeps its socket (shut
 * down both ways, so that the client reads what came and then its end)
 * until the client reads it all or closes (SIOCOUTQ reads 0 then): such
 * kept connections count as their uid's (peer_kept), so that a uid's
 * descriptors in flight stay below max_connections_per_uid socket
 * buffers.  Under systemd's fd store each is also in the store from the
 * moment it is kept (peer_store.c), so that a crash loses none of them:
 * the next image takes them back and counts them on.
 *
 * Held requests: a request that must wait (for its pool to settle,
 * dispatch.c) is kept with peer_hold, with every datagram of its batch
 * after it, and the peer stops reading; peer_resume hands them to dispatch
 * again in order and reads on.  So the client's requests are answered in
 * the order sent, and a client that waits costs nobody else a thing.  A
 * peer holds at most the rest of one read batch (PEER_READ_BATCH
 * datagrams), as it queues at most PEER_MAX_QUEUED bytes of replies.  A
 * holding peer still watches for the client hanging up (EV_CLOSED), so a
 * client that dies while it waits is let go of at once.
 *
 * Paused reads (peer_pause_reads): while a restart in place waits for a
 * quiet moment, no peer reads, new ones included.  The requests stay in
 * the sockets, whole, for the new image, which takes the connections;
 * what was read already (held requests, their replies) finishes here.
 * A paused peer does not watch for a hang-up either: its end of file
 * waits behind its requests, as they do.  Replies queued for a client
 * that does not read are no reason to wait: they are datagrams already
 * made, and go over in the state as they are (peer_unsent_each); the new
 * image queues them first (peer_carry), so the client gets every one,
 * in order, before the replies to what it sends next.  The descriptors
 * a queued reply passes (OpenPool's, ShareMap's) go with it: state_save.c
 * says which pool's each is, and the new image passes its own of them.
 * A peer being closed is not carried: its last replies are dropped with
 * it.
 *
 * Teardown happens in one place (peer_free) and never in the middle of a
 * callback that still uses the peer: peer_kill only marks it.
 */
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/sys/queue.h>

#include "fdstore.h"
#include "log.h"
#include "memtrim.h"
#include "peer.h"
#include "peer_kept.h"
#include "peer_socket.h"

#define PEER_READ_BATCH 64
#define OUTMSG_OVERHEAD 32	/* the allocator's share of a queued reply */
#define PEER_FLUSH_SEC 5	/* a killed peer's last replies: then gone */

#define STAGE_BYTES (256 * 1024)

struct outmsg {
	STAILQ_ENTRY(outmsg) entry;
	struct peer_fds fds;
	size_t len;
	size_t cost;		/* what it counts in the peer's queue */
	uint8_t data[];
};

/* The replies of the read batch in progress, all for one peer. */
static struct {
	int n;
	size_t used;
	struct {
		size_t off, len;
		struct peer_fds fds;
	} msg[PEER_READ_BATCH];
	uint8_t buf[STAGE_BYTES] __attribute__((aligned(MEMTRIM_ALIGN)));
} stage;

/* A datagram read but not yet carried out (peer_hold). */
struct held {
	STAILQ_ENTRY(held) entry;
	size_t len;
	uint8_t data[];
};

struct peer {
	LIST_ENTRY(peer) entry;
	int fd;
	struct event *ev_read, *ev_write;
	struct event *ev_closed;	/* while holding: the client hung up */
	struct event *ev_deadline;	/* NULL: none set yet */
	peer_dispatch_fn dispatch;
	void *arg;
	bool dead;		/* killed: flush, then free */
	bool in_callback;
	bool holding;		/* held datagrams wait for peer_resume */
	bool replaying;		/* in peer_resume: the head is being served */
	STAILQ_HEAD(, outmsg) out;
	size_t queued;		/* cost of the queued replies */
	unsigned queued_fds;	/* and their descriptors */
	STAILQ_HEAD(, held) held;
	uid_t uid;		/* the client's, for PEER_MAX_QUEUED_UID */
	bool passed_fds;	/* a reply passed it descriptors */
};

/* A stop: no connection is kept, and none shut down, for systemd's
 * store may hold them for the next start. */
static bool closing_all;

static LIST_HEAD(, peer) peers = LIST_HEAD_INITIALIZER(peers);
static bool reads_paused;	/* a restart waits: nobody reads */
static uint64_t queued_fds_all;	/* over every peer's queue */
static uint64_t queued_all;	/* the cost of every peer's queue */
/* One slot per datagram of a batch; pages are touched only where used. */
static uint8_t inbuf[PEER_READ_BATCH][PEER_MAX_MESSAGE + 1]
    __attribute__((aligned(MEMTRIM_ALIGN)));

static void peer_on_read(evutil_socket_t, short, void *);
static void peer_on_write(evutil_socket_t, short, void *);
static void peer_on_closed(evutil_socket_t, short, void *);
static bool queue_msg(struct peer *, const void *, size_t,
		      const struct peer_fds *);
static bool fds_own(struct peer_fds *);

/* A peer_new that could not make its events: nothing of it is kept. */
static void
peer_new_undo(struct peer *p)
{
	if (p->ev_read)
		event_free(p->ev_read);
	if (p->ev_write)
		event_free(p->ev_write);
	if (p->ev_closed)
		event_free(p->ev_closed);
	free(p);
}

struct peer *
peer_new(struct event_base *base, int fd, peer_dispatch_fn fn, void *arg)
{
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	/* The listener's refusal came with it; a carried connection may be
	 * an older image's, accepted without one. */
	peer_refuse_fds(fd);
	peer_bound_sndbuf(fd);
	p->fd = fd;
	p->dispatch = fn;
	p->arg = arg;
	p->uid = peer_uid(fd);
	/* A carried connection may hold an older image's replies unread,
	 * descriptors among them for all this one knows (peer_keep). */
	p->passed_fds = peer_unread_bytes(fd) != 0;
	STAILQ_INIT(&p->out);
	STAILQ_INIT(&p->held);
	p->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, peer_on_read, p);
	p->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST, peer_on_write,
				p);
	p->ev_closed = event_new(base, fd, EV_CLOSED | EV_PERSIST,
				 peer_on_closed, p);
	if (!p->ev_read || !p->ev_write || !p->ev_closed) {
		peer_new_undo(p);
		return NULL;
	}
	if (!reads_paused)
		event_add(p->ev_read, NULL);
	LIST_INSERT_HEAD(&peers, p, entry);
	return p;
}

int
peer_fd(const struct peer *p)
{
	return p->fd;
}

void *
peer_arg(const struct peer *p)
{
	return p->arg;
}

static void
fds_close(const struct peer_fds *fds)
{
	int i;

	for (i = 0; fds && i < fds->n; i++)
		if (fds->close[i])
			close(fds->fd[i]);
}

/* Take m off p's counts and free it; it must be off the queue already. */
static void
outmsg_free(struct peer *p, struct outmsg *m)
{
	p->queued -= m->cost;
	queued_all -= m->cost;
	p->queued_fds -= (unsigned)m->fds.n;
	queued_fds_all -= (uint64_t)m->fds.n;
	fds_close(&m->fds);
	free(m);
}

/* A quarter of the descriptors this process may have, for queued replies. */
static uint64_t
queued_fds_budget(void)
{
	static uint64_t budget;
	struct rlimit rl;

	if (budget == 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 22))
			rl.rlim_cur = 1u << 22;
		budget = rl.rlim_cur / 4 ? rl.rlim_cur / 4 : 1;
	}
	return budget;
}

/*
 * Would a reply costing more, queued for p, make the queues of p's uid
 * pass PEER_MAX_QUEUED_UID?  They are summed only when all the queues
 * together could pass it: a walk of the peers, for a reply to a client
 * that does not read, once all the queues cost that much between them.
 */
static bool
uid_queue_over(const struct peer *p, size_t more)
{
	const struct peer *q;
	uint64_t queued = more;

	if (queued_all + more <= PEER_MAX_QUEUED_UID)
		return false;
	LIST_FOREACH(q, &peers, entry)
		if (q->uid == p->uid)
			queued += q->queued;
	return queued > PEER_MAX_QUEUED_UID;
}

/*
 * The connection of p's uid whose queue costs the most, p's counted with
 * more: the one to drop when the uid's queues would pass
 * PEER_MAX_QUEUED_UID.  Not p unless it is that one: a client that reads
 * may meet the bound with a reply or two queued (a burst it has not read
 * yet) while others of its uid hold megabytes they never read, and those
 * would stay, and every connection of the uid that ever queued a reply
 * would go.  p on a tie.  A walk of the peers, as uid_queue_over's.
 */
static struct peer *
uid_fullest(struct peer *p, size_t more)
{
	struct peer *q, *most = p;
	size_t cost = p->queued + more;

	LIST_FOREACH(q, &peers, entry)
		if (q->uid == p->uid && q->queued > cost) {
			most = q;
			cost = q->queued;
		}
	return most;
}

static void
held_drop(struct peer *p)
{
	struct held *h;

	while ((h = STAILQ_FIRST(&p->held))) {
		STAILQ_REMOVE_HEAD(&p->held, entry);
		free(h);
	}
}

/*
 * Keep p's socket if its client has descriptors unread: closing our end
 * would not take them out of flight (peer_kept.c).  True if kept.
 */
static bool
peer_keep(struct peer *p)
{
	if (closing_all || !p->passed_fds || peer_unread_bytes(p->fd) == 0)
		return false;
	return peer_kept_add(p->fd, p->uid);
}

static void
peer_free(struct peer *p)
{
	struct outmsg *m;

	p->dispatch(p, NULL, 0, p->arg);
	held_drop(p);
	LIST_REMOVE(p, entry);
	event_free(p->ev_read);
	event_free(p->ev_write);
	event_free(p->ev_closed);
	if (p->ev_deadline)
		event_free(p->ev_deadline);
	while ((m = STAILQ_FIRST(&p->out))) {
		STAILQ_REMOVE_HEAD(&p->out, entry);
		outmsg_free(p, m);
	}
	if (!peer_keep(p))
		close(p->fd);
	free(p);
}

void
peer_kill(struct peer *p)
{
	struct timeval flush = {PEER_FLUSH_SEC, 0};

	p->dead = true;
	event_del(p->ev_read);
	event_del(p->ev_closed);
	/*
	 * Let the write side flush what is queued, then free; a client that
	 * does not read gets PEER_FLUSH_SEC, not forever.
	 */
	event_add(p->ev_write, &flush);
}

/* Drop a peer now, queue and all (from inside its own callbacks too). */
static void
peer_drop(struct peer *p)
{
	struct outmsg *m;

	while ((m = STAILQ_FIRST(&p->out))) {
		STAILQ_REMOVE_HEAD(&p->out, entry);
		outmsg_free(p, m);
	}
	peer_kill(p);
	event_active(p->ev_write, EV_WRITE, 0);
}

/* "pid N uid U" of the peer, for an operator to find it by; else its fd. */
static const char *
peer_who(const struct peer *p)
{
	static char who[64];
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(p->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		snprintf(who, sizeof(who), "pid %d uid %u", (int)cr.pid,
			 (unsigned)cr.uid);
	else
		snprintf(who, sizeof(who), "fd %d", p->fd);
	return who;
}

static uint64_t deadline_drops;

uint64_t
peer_deadline_drops(void)
{
	return deadline_drops;
}

static void
peer_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	static struct log_limit lim;
	struct peer *p = arg;

	(void)fd;	/* -1: a timer's */
	(void)what;
	deadline_drops++;
	log_limited(&lim, LOG_PRI_WARNING, "client %s said nothing in time; "
		    "dropping it", peer_who(p));
	peer_drop(p);
}

void
peer_set_deadline(struct peer *p, unsigned seconds)
{
	if (seconds != 0)
		peer_set_deadline_ms(p, seconds * 1000ull);
}

void
peer_set_deadline_ms(struct peer *p, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	if (!p->ev_deadline) {
		p->ev_deadline = evtimer_new(event_get_base(p->ev_read),
					     peer_on_deadline, p);
		if (!p->ev_deadline) {
			static struct log_limit lim;

			/* Unbounded, it could keep its descriptor forever. */
			log_limited(&lim, LOG_PRI_WARNING, "out of memory for "
				    "the deadline of client %s; dropping it",
				    peer_who(p));
			peer_drop(p);
			return;
		}
	}
	evtimer_add(p->ev_deadline, &tv);
}

void
peer_clear_deadline(struct peer *p)
{
	if (p->ev_deadline)
		evtimer_del(p->ev_deadline);
}

struct peer *
peer_first(void)
{
	return LIST_FIRST(&peers);
}

struct peer *
peer_next(struct peer *p)
{
	return LIST_NEXT(p, entry);
}

/*
 * Is p in the middle of something a restart would lose?  Its unsent
 * replies are not: they are whole datagrams, carried over as bytes with
 * what their descriptors are (peer_unsent_each, peer_carry).
 */
static bool
peer_busy(const struct peer *p)
{
	return p->holding || p->dead;
}

bool
peer_all_quiet(void)
{
	struct peer *p;

	LIST_FOREACH(p, &peers, entry)
		if (peer_busy(p))
			return false;
	return true;
}

unsigned
peer_drop_closing(void)
{
	struct peer *p, *next;
	unsigned n = 0;

	for (p = LIST_FIRST(&peers); p; p = next) {
		next = LIST_NEXT(p, entry);
		if (!p->dead)
			continue;
		if (!STAILQ_EMPTY(&p->out)) {
			log_info("restart: dropping client %s (closing, its "
				 "last replies unsent)", peer_who(p));
			n++;
		}
		peer_free(p);
	}
	return n;
}

size_t
peer_out_cost(size_t len)
{
	return sizeof(struct outmsg) + len + OUTMSG_OVERHEAD;
}

void
peer_unsent_each(const struct peer *p, peer_unsent_fn fn, void *arg)
{
	const struct outmsg *m;

	STAILQ_FOREACH(m, &p->out, entry)
		fn(m->data, m->len, &m->fds, arg);
}

bool
peer_carry(struct peer *p, const void *buf, size_t len,
	   const struct peer_fds *lent)
{
	struct peer_fds own;

	if (!lent || lent->n == 0)
		return queue_msg(p, buf, len, NULL);
	own = *lent;
	if (!fds_own(&own)) {
		log_warnx("restart in place: out of descriptors for a reply "
			  "carried to client %s; dropping it", peer_who(p));
		peer_drop(p);
		return false;
	}
	if (queue_msg(p, buf, len, &own))
		return true;
	fds_close(&own);
	return false;
}

/*
 * A peer that holds still waits for its held requests (peer_resume reads
 * on, or not); a dead one reads nothing more anyway.
 */
void
peer_pause_reads(bool pause)
{
	struct peer *p;

	if (pause == reads_paused)
		return;
	reads_paused = pause;
	LIST_FOREACH(p, &peers, entry) {
		if (p->dead || p->holding)
			continue;
		if (pause)
			event_del(p->ev_read);
		else
			event_add(p->ev_read, NULL);
	}
}

void
peer_close_all(void)
{
	struct peer *p;

	closing_all = true;
	while ((p = LIST_FIRST(&peers)))
		peer_free(p);
	peer_kept_close_all();
}

/* Room for the SCM_RIGHTS of one datagram. */
union cmsg_space {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(PEER_MAX_FDS * sizeof(int))];
};

static void
msg_build(struct msghdr *msg, struct iovec *iov, union cmsg_space *cm,
	  const void *buf, size_t len, const struct peer_fds *fds)
{
	memset(msg, 0, sizeof(*msg));
	iov->iov_base = (void *)buf;
	iov->iov_len = len;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	if (fds && fds->n > 0) {
		struct cmsghdr *c;

		memset(cm, 0, sizeof(*cm));
		msg->msg_control = cm->buf;
		msg->msg_controllen = CMSG_SPACE((size_t)fds->n * sizeof(int));
		c = CMSG_FIRSTHDR(msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)fds->n * sizeof(int));
		memcpy(CMSG_DATA(c), fds->fd, (size_t)fds->n * sizeof(int));
	}
}

/* 0 sent, 1 would block, -1 connection broken (for errno of a send). */
static int
send_error(void)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
		return 1;
	return -1;
}

/* Send one datagram now; 0 sent, 1 would block, -1 connection broken. */
static int
send_one(struct peer *p, const void *buf, size_t len,
	 const struct peer_fds *fds)
{
	struct msghdr msg;
	struct iovec iov;
	union cmsg_space cm;

	msg_build(&msg, &iov, &cm, buf, len, fds);
	for (;;) {
		if (sendmsg(p->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return send_error();
	}
}

/* Queue a datagram behind the others; false if the peer had to go. */
static bool
queue_msg(struct peer *p, const void *buf, size_t len,
	  const struct peer_fds *fds)
{
	size_t cost = peer_out_cost(len);
	unsigned nfds = fds ? (unsigned)fds->n : 0;
	struct outmsg *m;

	if (p->queued + cost > PEER_MAX_QUEUED ||
	    p->queued_fds + nfds > PEER_MAX_QUEUED_FDS ||
	    queued_fds_all + nfds > queued_fds_budget()) {
		static struct log_limit lim;

		log_limited(&lim, LOG_PRI_WARNING, "client %s does not read "
			    "its replies; dropping it", peer_who(p));
		peer_drop(p);
		return false;
	}
	while (uid_queue_over(p, cost)) {
		static struct log_limit lim;
		struct peer *q = uid_fullest(p, cost);

		/* Each drop frees more than the reply costs: it ends. */
		log_limited(&lim, LOG_PRI_WARNING, "the connections of uid %u "
			    "hold %u MiB of replies not yet read; dropping "
			    "client %s, whose are the most", (unsigned)p->uid,
			    PEER_MAX_QUEUED_UID >> 20, peer_who(q));
		peer_drop(q);
		if (q == p)
			return false;
	}
	if (!(m = malloc(sizeof(*m) + len))) {
		static struct log_limit lim;

		/* The request was done: only its reply is lost, and the
		 * session's end undoes what it holds. */
		log_limited(&lim, LOG_PRI_WARNING, "out of memory for a reply "
			    "to client %s; dropping it", peer_who(p));
		peer_drop(p);
		return false;
	}
	if (fds)
		m->fds = *fds;
	else
		m->fds.n = 0;
	m->len = len;
	m->cost = cost;
	if (len)	/* an empty one carried over may have no buffer */
		memcpy(m->data, buf, len);
	STAILQ_INSERT_TAIL(&p->out, m, entry);
	p->queued += cost;
	queued_all += cost;
	p->queued_fds += nfds;
	queued_fds_all += nfds;
	event_add(p->ev_write, NULL);
	return true;
}

/*
 * Send the staged replies of peer p with as few sendmmsg calls as the
 * socket allows; what it will not take now is queued.
 */
static void
stage_flush(struct peer *p)
{
	struct mmsghdr mm[PEER_READ_BATCH];
	struct iovec iov[PEER_READ_BATCH];
	union cmsg_space cm[PEER_READ_BATCH];
	int i, sent = 0, rc = 0;

	for (i = 0; i < stage.n; i++) {
		msg_build(&mm[i].msg_hdr, &iov[i], &cm[i],
			  stage.buf + stage.msg[i].off, stage.msg[i].len,
			  &stage.msg[i].fds);
		mm[i].msg_len = 0;
	}
	while (sent < stage.n) {
		int n = sendmmsg(p->fd, mm + sent, (unsigned)(stage.n - sent),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = send_error();
			break;
		}
		for (i = sent; i < sent + n; i++)
			fds_close(&stage.msg[i].fds);
		sent += n;
	}
	for (i = sent; i < stage.n; i++) {
		if (rc == 1 && queue_msg(p, stage.buf + stage.msg[i].off,
					 stage.msg[i].len, &stage.msg[i].fds))
			continue;
		fds_close(&stage.msg[i].fds);
		rc = -1;
	}
	if (rc < 0)
		peer_kill(p);
	stage.n = 0;
	stage.used = 0;
}

/* Forget the staged replies (the peer is gone). */
static void
stage_drop(void)
{
	int i;

	for (i = 0; i < stage.n; i++)
		fds_close(&stage.msg[i].fds);
	stage.n = 0;
	stage.used = 0;
}

/* Stage a reply made inside p's read callback; false if there is no room. */
static bool
stage_add(const void *buf, size_t len, const struct peer_fds *fds)
{
	if (stage.n == PEER_READ_BATCH || len > STAGE_BYTES - stage.used)
		return false;
	memcpy(stage.buf + stage.used, buf, len);
	stage.msg[stage.n].off = stage.used;
	stage.msg[stage.n].len = len;
	if (fds)
		stage.msg[stage.n].fds = *fds;
	else
		stage.msg[stage.n].fds.n = 0;
	stage.n++;
	stage.used += len;
	return true;
}

/*
 * Make every descriptor of fds the reply's own: a lent one is duplicated.
 * False if the daemon has no descriptor free (those made are closed).
 */
static bool
fds_own(struct peer_fds *fds)
{
	int i, fd;

	for (i = 0; i < fds->n; i++) {
		if (fds->close[i])
			continue;
		if ((fd = fcntl(fds->fd[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			fds_close(fds);	/* the owned ones: lent ones stay */
			return false;
		}
		fds->fd[i] = fd;
		fds->close[i] = true;
	}
	return true;
}

void
peer_send(struct peer *p, const void *buf, size_t len,
	  const struct peer_fds *lent)
{
	struct peer_fds own, *fds = NULL;
	int rc;

	if (lent && lent->n > 0) {
		p->passed_fds = true;
		own = *lent;
		if (!fds_own(&own)) {
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "out of "
				    "descriptors for a reply to client %s; "
				    "dropping it", peer_who(p));
			peer_drop(p);
			return;
		}
		fds = &own;
	}

	if (p->dead && STAILQ_EMPTY(&p->out) && p->in_callback == false)
		goto drop;
	if (STAILQ_EMPTY(&p->out) && p->in_callback) {
		if (stage_add(buf, len, fds))
			return;
		stage_flush(p);
		if (STAILQ_EMPTY(&p->out) && !p->dead &&
		    stage_add(buf, len, fds))
			return;
	}
	if (STAILQ_EMPTY(&p->out) && !p->in_callback) {
		rc = send_one(p, buf, len, fds);
		if (rc == 0) {
			fds_close(fds);
			return;
		}
		if (rc < 0) {
			peer_kill(p);
			goto drop;
		}
	}
	if (queue_msg(p, buf, len, fds))
		return;
drop:
	fds_close(fds);
}

/*
 * Between callbacks both buffers are empty: a batch's replies go out (or
 * are copied to the peer's queue) before its read callback returns, and
 * a held datagram is copied out of inbuf (held_add), for the next read
 * overwrites it.  So their pages can go back (memtrim.c).
 */
void
peer_buffers_release(void)
{
	assert(stage.n == 0);
	memtrim_pages(inbuf, sizeof(inbuf));
	memtrim_pages(stage.buf, sizeof(stage.buf));
}

/* Keep a request for later; false (logged) if there is no memory. */
static bool
held_add(struct peer *p, const uint8_t *buf, size_t len)
{
	struct held *h = malloc(sizeof(*h) + len);

	if (!h) {
		static struct log_limit lim;

		log_limited(&lim, LOG_PRI_WARNING, "out of memory for a "
			    "request of client %s to wait; dropping it",
			    peer_who(p));
		return false;
	}
	h->len = len;
	memcpy(h->data, buf, len);
	STAILQ_INSERT_TAIL(&p->held, h, entry);
	return true;
}

void
peer_hold(struct peer *p, const uint8_t *buf, size_t len)
{
	p->holding = true;
	event_del(p->ev_read);
	event_add(p->ev_closed, NULL);
	/* Replaying, it is the head of the held list already. */
	if (!p->replaying && !held_add(p, buf, len))
		peer_drop(p);
}

bool
peer_holding(const struct peer *p)
{
	return p->holding;
}

bool
peer_reads_are_paused(void)
{
	return reads_paused;
}

void
peer_resume(struct peer *p)
{
	struct held *h;

	if (!p->holding || p->in_callback)
		return;
	/* The stage is one for all peers: another's replies must be out. */
	assert(stage.n == 0);
	p->holding = false;
	p->in_callback = true;
	p->replaying = true;
	while (!p->dead && (h = STAILQ_FIRST(&p->held))) {
		p->dispatch(p, h->data, h->len, p->arg);
		if (p->holding)
			break;
		STAILQ_REMOVE_HEAD(&p->held, entry);
		free(h);
	}
	p->replaying = false;
	if (stage.n)
		stage_flush(p);
	p->in_callback = false;
	if (p->dead) {
		held_drop(p);
	} else if (!p->holding) {
		event_del(p->ev_closed);
		if (!reads_paused)
			event_add(p->ev_read, NULL);
	}
}

/*
 * A holding peer does not read, so its end of file would wait in the
 * socket until the held request goes on (seconds, maybe); the
 * client may have died meanwhile, and what it held should go back now.
 * Its held requests go with it, as a request read after its end of file
 * would: nobody is left to answer.
 */
static void
peer_on_closed(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	(void)what;
	peer_free(p);
}

static void
peer_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct outmsg *m;

	(void)fd;
	if ((what & EV_TIMEOUT) && p->dead) {
		peer_free(p);	/* it would not take its last replies */
		return;
	}
	while ((m = STAILQ_FIRST(&p->out))) {
		int rc = send_one(p, m->data, m->len, &m->fds);

		if (rc == 1)
			return;
		STAILQ_REMOVE_HEAD(&p->out, entry);
		outmsg_free(p, m);
		if (rc < 0) {
			peer_free(p);
			return;
		}
	}
	event_del(p->ev_write);
	if (p->dead)
		peer_free(p);
}

/*
 * The datagrams of the batch after a held one are held too, in order,
 * checked as they would have been; returns where the reading stopped.
 */
static int
hold_rest(struct peer *p, struct mmsghdr *mm, int i, int n)
{
	for (; i < n; i++) {
		struct msghdr *msg = &mm[i].msg_hdr;
		size_t len = mm[i].msg_len;

		/*
		 * End of file, or an empty datagram, which reads the same and
		 * is no request: either way the client is done.  (Stopping
		 * here instead would lose what an empty datagram came before.)
		 */
		if (len == 0) {
			peer_kill(p);
			return i + 1;
		}
		if (drop_passed_fds(msg) || (msg->msg_flags & MSG_CTRUNC) ||
		    len > PEER_MAX_MESSAGE || (msg->msg_flags & MSG_TRUNC)) {
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "client %s sent a "
				    "bad datagram; dropping it", peer_who(p));
			peer_kill(p);
			return i + 1;
		}
		if (!held_add(p, inbuf[i], len)) {
			peer_kill(p);
			return i + 1;
		}
	}
	return i;
}

static void
peer_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	/* Set up once; the kernel rewrites only lengths and flags. */
	static union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} cm[PEER_READ_BATCH];
	static struct mmsghdr mm[PEER_READ_BATCH];
	static struct iovec iov[PEER_READ_BATCH];
	static int touched = -1;	/* entries the kernel filled last */
	int i, n;

	(void)what;
	if (touched < 0) {
		for (i = 0; i < PEER_READ_BATCH; i++) {
			iov[i].iov_base = inbuf[i];
			iov[i].iov_len = sizeof(inbuf[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = cm[i].buf;
			mm[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
		}
		touched = 0;
	}
	/* The kernel rewrote the lengths and flags of what it filled. */
	for (i = 0; i < touched; i++) {
		mm[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
		mm[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, mm, PEER_READ_BATCH, MSG_DONTWAIT | MSG_TRUNC |
		     MSG_CMSG_CLOEXEC, NULL);
	/* An entry it tried but could not fill may have changed too. */
	touched = n < PEER_READ_BATCH ? (n > 0 ? n + 1 : 1) : n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n < 0) {
		peer_free(p);	/* a broken connection */
		return;
	}
	p->in_callback = true;
	for (i = 0; i < n && !p->dead; i++) {
		struct msghdr *msg = &mm[i].msg_hdr;
		size_t len = mm[i].msg_len;

		if (len == 0) {
			/* End of file: the replies have nobody to go to. */
			p->in_callback = false;
			stage_drop();
			for (i++; i < n; i++)
				drop_passed_fds(&mm[i].msg_hdr);
			peer_free(p);
			return;
		}
		if (drop_passed_fds(msg) || (msg->msg_flags & MSG_CTRUNC)) {
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "client %s sent "
				    "descriptors; dropping it", peer_who(p));
			peer_kill(p);
			i++;
			break;
		}
		if (len > PEER_MAX_MESSAGE || (msg->msg_flags & MSG_TRUNC)) {
			static struct log_limit lim;

			log_limited(&lim, LOG_PRI_WARNING, "client %s sent %zu "
				    "bytes, over the limit; dropping it",
				    peer_who(p), len);
			peer_kill(p);
			i++;
			break;
		}
		p->dispatch(p, inbuf[i], len, p->arg);
		if (p->holding) {
			i = hold_rest(p, mm, i + 1, n);
			break;
		}
	}
	/* Datagrams after the peer was killed are not read: close their fds. */
	for (; i < n; i++)
		drop_passed_fds(&mm[i].msg_hdr);
	if (stage.n)
		stage_flush(p);
	p->in_callback = false;
}
