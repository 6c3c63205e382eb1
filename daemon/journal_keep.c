/*
 * journal_keep.c - the pools' memfds in systemd's fd store, each as its
 * keep.<n> (journal_internal.h): one pushed, every one taken out of the
 * store while the journal is out and pushed back before a fresh one goes
 * in, every one let go of with a journal, and which of the store's
 * refusals may pass.  Which number a keep gets, when it is pushed, and
 * what a refused one waits for are the journal's (journal.c): the numbers
 * are one series with the journals', and a pool kept late needs its
 * records written.  Nothing is kept here between calls.
 *
 * A pool's own memfd goes to the store once, through a descriptor of its
 * own (reopened by /proc): systemd skips a descriptor it holds already,
 * so the same one could not also go as "pool.<i>" at a planned stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "journal_internal.h"
#include "pool.h"

/*
 * p's memfd, through a descriptor of its own, as keep.<n>.  Without
 * kcmp(2) systemd takes two descriptors of one file with the same status
 * flags for one: O_NONBLOCK, which a regular file ignores, is the
 * opposite of the pool's own (after a crash, that is an old keep.<n>).
 */
int
keep_push_as(struct dpool *p, uint64_t id)
{
	char path[64];
	int fd, fl, rc;

	if ((fl = fcntl(p->memfd, F_GETFL)) == -1)
		return -errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p->memfd);
	fd = open(path, O_RDWR | O_CLOEXEC | (fl & O_NONBLOCK ? 0 : O_NONBLOCK));
	if (fd == -1)
		return -errno;
	rc = push("keep", id, fd);
	close(fd);
	return rc;
}

/*
 * A refusal that may not last: systemd's socket full (its queue in the
 * daemon too), memory or descriptors short.  Any other (the store too
 * small, no store) stays for the daemon's life.
 */
bool
keep_passing(int rc)
{
	return rc == -EAGAIN || rc == -ENOBUFS || rc == -ENOMEM ||
	       rc == -EMFILE || rc == -ENFILE || rc == -EINTR;
}

void
keeps_out(void)
{
	struct dpool *p;

	for (p = dpool_first(); p; p = dpool_next(p))
		if (p->keep_id)
			unstore("keep", p->keep_id);
}

/*
 * Out of the store: every pool's memfd back under its keep.<n>, before
 * the journal that names them (a crash between finds keeps and no
 * journal: a fresh start, as while out).  All or none.
 */
int
keeps_back(void)
{
	struct dpool *p, *q;
	int rc = 0;

	for (p = dpool_first(); p; p = dpool_next(p))
		if (p->keep_id && (rc = keep_push_as(p, p->keep_id)) != 0)
			break;
	if (rc == 0)
		return 0;
	for (q = dpool_first(); q != p; q = dpool_next(q))
		if (q->keep_id)
			unstore("keep", q->keep_id);
	return rc;
}

void
keeps_forget(void)
{
	struct dpool *p;

	for (p = dpool_first(); p; p = dpool_next(p))
		if (p->keep_id) {
			keep_remove(p->keep_id);
			p->keep_id = 0;
		}
}
