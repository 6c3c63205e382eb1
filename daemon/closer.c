/*
 * closer.c - descriptors whose last close is slow, closed off the loop.
 *
 * The last close of a memfd that nothing maps frees its pages inside
 * close(), about 0.2 s per written GiB: a destroyed pool's memfd closed
 * on the daemon's thread would stop every other client for that long.
 * Punching the file out a step per loop turn first avoided that, but the
 * daemon cannot know every mapping (a client that forked after opening
 * the pool leaves its child mapping it, unseen), and a punch takes the
 * pages from under such a process: it reads zeros where its data was,
 * and on huge pages it faults with SIGBUS once another program has taken
 * the pages given back.  A close takes nothing from anyone: the pages go
 * when the last descriptor and the last mapping have.
 *
 * So such descriptors are closed by a thread of their own, the daemon's
 * only other one.  It does nothing but close(): it logs nothing, touches
 * no pool, and runs with every signal blocked, so the loop's signals
 * (and a restart's, which blocks them until the exec) never land on it.
 * It is given only descriptors the main thread has let go of, so a number
 * it closes is never one the main thread uses, with one exception: a
 * restart in place moves descriptors to fixed numbers (restart_exec.c),
 * which may be ones still queued here, so it waits for the queue first
 * (closer_drain).  At a stop, what is queued is closed before the thread
 * ends (closer_stop), as the exit would have closed it anyway.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "closer.h"
#include "log.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER; /* or stopping */
static pthread_cond_t emptied = PTHREAD_COND_INITIALIZER;
/* Under lock: */
static int *fds;		/* to close, in any order */
static size_t nfds, cap;
static bool closing;		/* the thread is in a close() */
static bool stopping;		/* closer_stop: end once fds is empty */

/* The main thread's own: */
static pthread_t thread;
static bool running;		/* thread was started and not joined */
static bool stopped;		/* closer_stop ran: close at once from now */
static bool start_failed;	/* said once in the log */

static void *
closer_main(void *arg)
{
	int fd;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!nfds && !stopping)
			pthread_cond_wait(&queued, &lock);
		if (!nfds)
			break;
		fd = fds[--nfds];
		closing = true;
		pthread_mutex_unlock(&lock);
		close(fd);
		pthread_mutex_lock(&lock);
		closing = false;
		if (!nfds)
			pthread_cond_broadcast(&emptied);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Start the thread, every signal blocked in it: false if it failed. */
static bool
start(void)
{
	sigset_t all, old;
	int rc;

	if (running)
		return true;
	if (stopped)
		return false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&thread, NULL, closer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return running = true;
	if (!start_failed)
		log_warnx("cannot start the thread that closes destroyed "
			  "pools' memfds: %s; they are closed on the loop's "
			  "thread, which frees their pages there",
			  strerror(rc));
	start_failed = true;
	return false;
}

/* Room for one more descriptor in fds, under lock: false if none. */
static bool
room(void)
{
	size_t ncap = cap ? 2 * cap : 16;
	int *n;

	if (nfds < cap)
		return true;
	if (!(n = realloc(fds, ncap * sizeof(*fds))))
		return false;
	fds = n;
	cap = ncap;
	return true;
}

void
closer_close(int fd)
{
	bool taken = false;

	if (start()) {
		pthread_mutex_lock(&lock);
		if ((taken = room())) {
			fds[nfds++] = fd;
			pthread_cond_signal(&queued);
		}
		pthread_mutex_unlock(&lock);
	}
	if (!taken)
		close(fd);
}

void
closer_drain(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	while (nfds || closing)
		pthread_cond_wait(&emptied, &lock);
	pthread_mutex_unlock(&lock);
}

void
closer_stop(void)
{
	stopped = true;
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&queued);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
	free(fds);
	fds = NULL;
	nfds = cap = 0;
}
