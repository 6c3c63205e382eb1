/*
 * closer.h - descriptors whose last close is slow, closed off the loop.
 */
#ifndef POOLMGRD_CLOSER_H
#define POOLMGRD_CLOSER_H

/*
 * Close fd on the closer's thread, started on the first call; takes fd,
 * which the caller must not use again.  Where that thread cannot be had
 * (it failed to start, or closer_stop ran) or no memory is left to queue
 * fd, fd is closed here and now.
 */
void closer_close(int fd);

/*
 * Return once every descriptor given so far is closed: before a restart
 * in place moves descriptors to the numbers it passes, none of which may
 * then be closed behind its back.
 */
void closer_drain(void);

/* The daemon is stopping: close what is queued, then end the thread. */
void closer_stop(void);

#endif /* POOLMGRD_CLOSER_H */
