/*
 * conn.c - the connection to poolmgrd: its requests and replies.
 *
 * One SOCK_SEQPACKET socket carries encoded Requests one way and Replies the
 * other, one message per datagram (docs/protocol.md).  Many threads may use
 * a connection at once, so requests are pipelined: each thread sends its
 * request with a fresh id and waits for the reply with that id.
 *
 * No thread owns the socket for reading.  A waiting thread that finds
 * nobody reading becomes the reader: it drops the lock, receives one
 * datagram, takes the lock again and hands the reply (and any fd that came
 * with it) to the call it belongs to.  It keeps reading until its own reply
 * arrives, then wakes one other waiting call to take over.  So a round trip
 * costs one wakeup at most, and threads never queue behind one another's
 * round trips.
 *
 * When the daemon goes away (EOF, ECONNRESET, EPIPE) or sends something that
 * cannot be matched to a call, the connection is marked broken: every call
 * still waiting fails at once, and every later one fails with -ECONNRESET.
 *
 * The making of a connection is conn_open.c's: the socket connected, the
 * Hello, the time bound on both (which the send and receive here wait
 * under, conn_ready), and the list that fork() goes through.
 *
 * What a thread is told of its last call's failure (pool_last_message)
 * is conn_words.c's: each round trip and failed connect leaves it there.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_internal.h"

/* A reply carries at most two fds; room for more so extras are seen. */
#define CONN_MAX_FDS	4

/* Requests this small are packed on the stack. */
#define CONN_STACK_BUF	512

static void	conn_take_fds(struct msghdr *, struct conn_fds *);
static int	conn_recv(struct pool_conn *, Poolmgr__Reply **,
		    struct conn_fds *);
static int	conn_send(struct pool_conn *, const Poolmgr__Request *);
static void	conn_fail(struct pool_conn *, int);
static void	conn_kick(struct pool_conn *);
static void	conn_deliver(struct pool_conn *, Poolmgr__Reply *,
		    struct conn_fds *);
static int	conn_wait(struct pool_conn *, struct conn_call *);
static int	conn_round_trip(struct pool_conn *, Poolmgr__Request *,
		    Poolmgr__Reply **, struct conn_fds *);

/*
 * Replies numbered as they are read, from 1, across all connections: one
 * connection's are read by one thread at a time and handed out under its
 * lock, so their numbers grow in the order they came.  The daemon answers
 * a connection's requests in the order they reach it, which is not the
 * order of their ids (two threads may send in either order once each has
 * its id), so only this number says which of two replies tells of the
 * later state.
 */
static uint64_t		conn_arrivals;
/* The number of the reply this thread's last round trip got (0: none). */
static __thread uint64_t reply_arrival;

void
conn_fds_init(struct conn_fds *f)
{
	int	i;

	for (i = 0; i < CONN_REPLY_FDS; i++)
		f->fd[i] = -1;
	f->dropped = 0;
}

void
conn_fds_close(struct conn_fds *f)
{
	int	i;

	for (i = 0; i < CONN_REPLY_FDS; i++) {
		if (f->fd[i] != -1)
			close(f->fd[i]);
		f->fd[i] = -1;
	}
}

/*
 * Take the fds out of a received message: keep the first CONN_REPLY_FDS,
 * close any others (an fd we do not keep would leak).
 */
static void
conn_take_fds(struct msghdr *msg, struct conn_fds *f)
{
	struct cmsghdr	*cmsg;
	int		 fd, kept = 0;
	size_t		 i, n;

	conn_fds_init(f);
	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof fd;
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof fd, sizeof fd);
			if (kept < CONN_REPLY_FDS)
				f->fd[kept++] = fd;
			else
				close(fd);
		}
	}
}
/*
 * Receive and decode one reply.  Called by the reader without the lock.
 * Returns 0, or the error that breaks the connection: -ECONNRESET when the
 * daemon has gone, -EPROTO when what arrived is not a reply we can decode
 * (then we cannot tell whose it was, so nobody can be answered),
 * -ETIMEDOUT when the Hello's reply did not come by its deadline.
 */
static int
conn_recv(struct pool_conn *c, Poolmgr__Reply **replyp, struct conn_fds *fdp)
{
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(CONN_MAX_FDS * sizeof(int))];
	} cbuf;
	struct iovec	 iov;
	struct msghdr	 msg;
	ssize_t		 n;
	struct conn_fds	 fds;
	int		 flags = MSG_TRUNC|MSG_CMSG_CLOEXEC, reset = 0, error;

	*replyp = NULL;
	conn_fds_init(fdp);

	for (;;) {
		/* Only a connection being made has a deadline (conn_open). */
		if ((flags & MSG_DONTWAIT) == 0 &&
		    (error = conn_ready(c, POLLIN)) != 0)
			return error;
		memset(&msg, 0, sizeof msg);
		iov.iov_base = c->rbuf;
		iov.iov_len = CONN_MAX_MESSAGE;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof cbuf.buf;

		/* MSG_TRUNC: return the real length of a longer datagram. */
		n = recvmsg(c->fd, &msg, flags);
		if (n != -1)
			break;
		if (errno == EINTR)
			continue;
		/*
		 * A daemon that closes with our request unread makes the
		 * kernel report ECONNRESET before the datagrams it sent
		 * first: look once more for them (its refusal, say).
		 */
		if (errno == ECONNRESET && !reset) {
			reset = 1;
			flags |= MSG_DONTWAIT;
			continue;
		}
		break;
	}
	if (n == -1)
		return -ECONNRESET;

	conn_take_fds(&msg, &fds);
	fds.dropped = (msg.msg_flags & MSG_CTRUNC) != 0;

	/*
	 * Zero bytes is end of file: every reply we can get is at least a few
	 * bytes long, because our request ids are never 0.
	 */
	if (n == 0) {
		conn_fds_close(&fds);
		return -ECONNRESET;
	}
	if ((size_t)n > CONN_MAX_MESSAGE || (msg.msg_flags & MSG_TRUNC)) {
		conn_fds_close(&fds);
		return -EPROTO;
	}

	*replyp = poolmgr__reply__unpack(NULL, n, c->rbuf);
	if (*replyp == NULL) {
		conn_fds_close(&fds);
		return -EPROTO;
	}
	*fdp = fds;
	return 0;
}

/*
 * Send one request.  Not under the lock: a datagram is sent whole or not at
 * all, so concurrent senders cannot interleave, and a sender blocked on a
 * full socket must not stop the reader from taking the lock to deliver.
 */
static int
conn_send(struct pool_conn *c, const Poolmgr__Request *req)
{
	uint8_t			 stackbuf[CONN_STACK_BUF], *buf;
	ProtobufCBufferSimple	 out = PROTOBUF_C_BUFFER_SIMPLE_INIT(stackbuf);
	size_t			 len;
	ssize_t			 n;
	int			 error = 0;

	/*
	 * One pass: pack into the stack buffer, which grows onto the heap
	 * only for a large request.  A growth that failed leaves out short.
	 */
	len = poolmgr__request__pack_to_buffer(req, &out.base);
	buf = out.data;
	if (out.len != len)
		error = -ENOMEM;
	else if (len > c->max_send)
		error = -EMSGSIZE;
	if (error != 0) {
		PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
		return error;
	}

	/*
	 * A Hello cannot fill a new socket, but its send is bounded all the
	 * same: the deadline covers the whole of making a connection.
	 */
	if ((error = conn_ready(c, POLLOUT)) != 0) {
		PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
		return error;
	}

	/* MSG_NOSIGNAL: a dead daemon is EPIPE here, never SIGPIPE. */
	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);

	if (n == -1) {
		switch (errno) {
		case EMSGSIZE:
		case ENOBUFS:
		case ENOMEM:
			/* This request failed; the connection is fine. */
			error = -errno;
			break;
		default:
			error = -ECONNRESET;
			break;
		}
	} else if ((size_t)n != len)
		error = -ECONNRESET;

	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
	return error;
}

/*
 * Break the connection: fail every waiting call with error and refuse all
 * later ones.  Called with the lock held.  The socket is shut down (not
 * closed: another thread may be in send on it) so the daemon sees us go
 * and drops our handles.
 */
static void
conn_fail(struct pool_conn *c, int error)
{
	struct conn_call	*call;

	if (!c->broken) {
		__atomic_store_n(&c->broken, 1, __ATOMIC_RELEASE);
		shutdown(c->fd, SHUT_RDWR);
	}
	while ((call = TAILQ_FIRST(&c->calls)) != NULL) {
		TAILQ_REMOVE(&c->calls, call, entry);
		call->done = 1;
		call->error = error;
		pthread_cond_signal(&call->cond);
	}
}

/*
 * Is the daemon still there?  For work done without a round trip (the
 * cache): -ECONNRESET once the connection is known broken; with probe, a
 * look at the socket first (one system call), so that a program living on
 * its cache learns that the daemon went away.  A datagram waiting there is
 * someone's reply and stays for its reader.
 */
int
conn_alive(struct pool_conn *c, int probe)
{
	char	b;
	ssize_t	n;

	if (conn_forked(c)) {
		conn_forget_refusal();
		return -ECHILD;
	}
	if (probe && !__atomic_load_n(&c->broken, __ATOMIC_ACQUIRE)) {
		n = recv(c->fd, &b, 1, MSG_PEEK|MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK && errno != EINTR)) {
			pthread_mutex_lock(&c->lock);
			conn_fail(c, -ECONNRESET);
			pthread_mutex_unlock(&c->lock);
		}
	}
	if (__atomic_load_n(&c->broken, __ATOMIC_ACQUIRE)) {
		conn_forget_refusal();
		return -ECONNRESET;
	}
	return 0;
}

/*
 * If nobody is reading, wake the oldest waiting call so that it becomes the
 * reader.  Called with the lock held whenever a reader stops or a call
 * leaves the list without a reply.
 */
static void
conn_kick(struct pool_conn *c)
{
	struct conn_call	*call;

	if (!c->reading && (call = TAILQ_FIRST(&c->calls)) != NULL)
		pthread_cond_signal(&call->cond);
}

/*
 * The error of a connection-level reply: its own if plausible.  Its words
 * are kept with the connection (the lock held), so that each call the
 * refusal fails can leave them in its own thread's pool_last_message.
 */
static int
conn_refusal_error(struct pool_conn *c, const Poolmgr__Reply *reply)
{
	int	error = -EPROTO;

	if (reply->error < 0 && reply->error >= -4095)
		error = reply->error;
	if (c->refusal_code == 0) {
		c->refusal_code = error;
		client_copy_words(c->refusal_words, sizeof c->refusal_words,
		    error == reply->error && reply->message != NULL ?
		    reply->message : "");
	}
	return error;
}

/*
 * Hand a reply to the call with its id.  A reply nobody asked for means the
 * daemon and we disagree about the conversation; the call it should have
 * answered would wait forever, so the connection is broken instead.
 */
static void
conn_deliver(struct pool_conn *c, Poolmgr__Reply *reply,
    struct conn_fds *fds)
{
	struct conn_call	*call;

	/*
	 * Id 0 is never a request's: it is the daemon refusing the whole
	 * connection (too many clients), which it then closes.
	 */
	if (reply->id == 0) {
		conn_fds_close(fds);
		conn_fail(c, conn_refusal_error(c, reply));
		poolmgr__reply__free_unpacked(reply, NULL);
		return;
	}
	TAILQ_FOREACH(call, &c->calls, entry) {
		/* cppcheck cannot follow TAILQ_FOREACH: call is a queued call. */
		/* cppcheck-suppress uninitvar */
		if (call->id == reply->id)
			break;
	}
	if (call == NULL) {
		poolmgr__reply__free_unpacked(reply, NULL);
		conn_fds_close(fds);
		conn_fail(c, -EPROTO);
		return;
	}
	TAILQ_REMOVE(&c->calls, call, entry);
	call->arrival = __atomic_add_fetch(&conn_arrivals, 1, __ATOMIC_RELAXED);
	call->done = 1;
	call->reply = reply;
	call->fds = *fds;
	pthread_cond_signal(&call->cond);
}

/*
 * Wait, with the lock held, until call is answered, reading the socket
 * ourselves whenever nobody else is.
 */
static int
conn_wait(struct pool_conn *c, struct conn_call *call)
{
	Poolmgr__Reply	*reply;
	struct conn_fds	 fds;
	int		 error;

	while (!call->done) {
		if (c->reading) {
			pthread_cond_wait(&call->cond, &c->lock);
			continue;
		}

		c->reading = 1;
		pthread_mutex_unlock(&c->lock);
		error = conn_recv(c, &reply, &fds);
		pthread_mutex_lock(&c->lock);
		c->reading = 0;

		if (error != 0)
			conn_fail(c, error);
		else
			conn_deliver(c, reply, &fds);
	}

	/* Our reply is in: let another waiting call read. */
	conn_kick(c);
	return call->error;
}

/*
 * Send req (its id is set here) and wait for its reply.  Returns 0 with the
 * decoded reply in *replyp, whatever its error field says, or a negative
 * errno when no reply came.  Fds that came with the reply are stored in
 * *fdp, or closed when fdp is NULL.
 */
int
conn_request(struct pool_conn *c, Poolmgr__Request *req,
    Poolmgr__Reply **replyp, struct conn_fds *fdp)
{
	int	error, cancel;

	*replyp = NULL;
	if (fdp != NULL)
		conn_fds_init(fdp);
	/*
	 * Not a cancellation point: a thread cancelled in recvmsg or in
	 * pthread_cond_wait would leave its call, on its stack, in the list
	 * and the connection marked as being read, and every later call on
	 * it would hang.  A round trip ends: it fails when the daemon goes.
	 */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	error = conn_round_trip(c, req, replyp, fdp);
	pthread_setcancelstate(cancel, NULL);
	if (error == 0)
		conn_note_refusal(*replyp);
	else
		conn_note_broken(c, error);
	return error;
}

static int
conn_round_trip(struct pool_conn *c, Poolmgr__Request *req,
    Poolmgr__Reply **replyp, struct conn_fds *fdp)
{
	struct conn_call	call;
	int			error;

	memset(&call, 0, sizeof call);
	conn_fds_init(&call.fds);
	pthread_cond_init(&call.cond, NULL);

	pthread_mutex_lock(&c->lock);
	if (c->broken) {
		error = c->forked ? -ECHILD : -ECONNRESET;
		pthread_mutex_unlock(&c->lock);
		pthread_cond_destroy(&call.cond);
		return error;
	}
	/* Ids start at 1: a zero-length datagram can then only be EOF. */
	call.id = c->next_id++;
	req->id = call.id;
	/* On the list before it is sent, so the reader can find it. */
	TAILQ_INSERT_TAIL(&c->calls, &call, entry);
	pthread_mutex_unlock(&c->lock);

	error = conn_send(c, req);

	pthread_mutex_lock(&c->lock);
	if (error == -ECONNRESET) {
		/*
		 * The daemon has closed.  What it said first (a refusal of
		 * the whole connection, say) waits to be read, and is read
		 * in turn, by whoever reads: a sender that read it aside
		 * left the reader only the end of the connection, and the
		 * calls in flight failed -ECONNRESET or the refusal's code
		 * by who took the lock first.  Shut for reading, the socket
		 * yields what is queued and then its end, never a wait.
		 */
		shutdown(c->fd, SHUT_RD);
		error = conn_wait(c, &call);
	} else if (error != 0) {
		if (!call.done) {
			TAILQ_REMOVE(&c->calls, &call, entry);
			conn_kick(c);
		}
	} else
		error = conn_wait(c, &call);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&call.cond);

	/* A call failed by conn_fail may still have been answered before. */
	if (error != 0) {
		if (call.reply != NULL)
			poolmgr__reply__free_unpacked(call.reply, NULL);
		conn_fds_close(&call.fds);
		return error;
	}

	reply_arrival = call.arrival;
	*replyp = call.reply;
	if (fdp != NULL)
		*fdp = call.fds;
	else
		conn_fds_close(&call.fds);
	return 0;
}

/*
 * The place in which the reply to this thread's last round trip arrived
 * (conn_arrivals): of two replies on one connection, the larger
 * number tells of the later state.
 */
uint64_t
conn_reply_arrival(void)
{
	return reply_arrival;
}

/*
 * Make a request and check the reply: its error becomes the return value
 * (if it is a plausible negative errno), and on success it must carry the
 * body want (POOLMGR__REPLY__BODY__NOT_SET: any or none).  On success the
 * reply is stored in *replyp or freed when replyp is NULL; on failure
 * nothing is kept and no fd is left open.
 */
int
conn_call(struct pool_conn *c, Poolmgr__Request *req,
    Poolmgr__Reply__BodyCase want, Poolmgr__Reply **replyp,
    struct conn_fds *fdp)
{
	Poolmgr__Reply	*reply;
	struct conn_fds	 fds;
	int		 error;

	if (replyp != NULL)
		*replyp = NULL;
	if (fdp != NULL)
		conn_fds_init(fdp);

	error = conn_request(c, req, &reply, &fds);
	if (error != 0)
		return error;

	if (reply->error != 0) {
		/* Errno values are 1 .. 4095; anything else is a lie. */
		if (reply->error < 0 && reply->error >= -4095)
			error = reply->error;
		else
			error = -EPROTO;
	} else if (want != POOLMGR__REPLY__BODY__NOT_SET &&
	    (reply->body_case != want || reply->hello == NULL)) {
		/* reply->hello: any member of the union of pointers. */
		error = -EPROTO;
	}
	if (error != 0) {
		poolmgr__reply__free_unpacked(reply, NULL);
		conn_fds_close(&fds);
		return error;
	}

	if (replyp != NULL)
		*replyp = reply;
	else
		poolmgr__reply__free_unpacked(reply, NULL);
	if (fdp != NULL)
		*fdp = fds;
	else
		conn_fds_close(&fds);
	return 0;
}
