/*
 * wait.c - libpoolclient's requests that the daemon holds until something
 * happens: a lookup until its name is published (names.c), an allocation
 * until the pool has room (alloc_wait.c).  What they share is how long to
 * ask for, and what to do when the daemon restarts in place meanwhile.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"

static uint64_t
wait_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
wait_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void
wait_sleep_ms(uint64_t ms)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	/* A signal only makes the pause shorter: the loop asks again. */
	(void)nanosleep(&ts, NULL);
}

/*
 * The pauses between -EINTRs answered at once: from the first, doubled
 * each time up to the last.  A daemon restarts in place in well under a
 * second, and the request asked again waits unread until it is back, so
 * a real restart costs one short pause; only a daemon that says -EINTR at
 * once, again and again, sees them grow, and is asked once a second.
 */
#define WAIT_PAUSE_FIRST_MS	2
#define WAIT_PAUSE_LAST_MS	1000

/*
 * A wait without end is asked for in parts of UINT32_MAX ms, and a
 * daemon says -ETIMEDOUT only once the part is over by its clock, the
 * same monotonic clock as ours.  Ours, read in whole milliseconds, may
 * see up to one less; this much earlier, the answer is a lie.
 */
#define WAIT_PART_SLACK_MS	1000

/*
 * The wait of a try asked once more when the deadline has passed here,
 * between two asks (below).  Not 0, which is the plain request, answered
 * as if nobody had asked to wait: a lookup of any generation, after_
 * generation not looked at; for an allocation, -ENOMEM where no room
 * came, -EDQUOT where the user quota held it back, counted as refusals a
 * wait's end is not (a part's in failed_allocs, the user quota's in
 * user_quota_refusals).  A wait of the least time ends as any wait the
 * daemon ran out does, in the same words, counted the same way.
 */
#define WAIT_LAST_MS	1

/*
 * The daemon's words for code, if they end "<word> N ms" with the time a
 * wait asked more than once (after a restart in place) had left when it
 * was last asked, or the last try's (above): they say the whole wait
 * instead, as those of a wait asked once do.  Words not of that form are
 * left as they are.
 */
static void
wait_words_whole(int code, const char *word, int timeout_ms)
{
	char		 m[256], *n;
	const char	*said = pool_last_message(code);
	size_t		 len = strlen(said), wl = strlen(word);

	if (len < 3 || strcmp(said + len - 3, " ms") != 0)
		return;
	snprintf(m, sizeof m, "%s", said);
	m[len - 3] = '\0';
	n = strrchr(m, ' ');
	if (n == NULL || n[1] == '\0' ||
	    strspn(n + 1, "0123456789") != strlen(n + 1) ||
	    (size_t)(n - m) < wl + 1 || n[-(ptrdiff_t)wl - 1] != ' ' ||
	    strncmp(n - wl, word, wl) != 0)
		return;
	snprintf(n + 1, sizeof m - (size_t)(n + 1 - m), "%d ms", timeout_ms);
	conn_note_words(code, m);
}

/*
 * A wait of timeout_ms ran out after it was asked more than once: the
 * daemon's words for it ("... in N ms") say the whole wait; none at all
 * (the last try interrupted too) get the wait's.
 */
static int
wait_ran_out(int timeout_ms)
{
	char	m[64];

	if (*pool_last_message(-ETIMEDOUT) == '\0') {
		snprintf(m, sizeof m, "the wait ran out in %d ms", timeout_ms);
		conn_note_words(-ETIMEDOUT, m);
	} else
		wait_words_whole(-ETIMEDOUT, "in", timeout_ms);
	return -ETIMEDOUT;
}

/*
 * The deadline passed here, between two asks (a restart in place answered
 * -EINTR once it had passed, or while the loop paused): the daemon has not
 * said how the wait ends, and only it knows.  A quota per connection that
 * held an allocation back ends it -EDQUOT, counted in quota_refusals, and
 * the room or the name may have come meanwhile (the block is then the
 * caller's).  So ask once more, waiting the least, and take its answer as
 * the wait's; -EINTR again (a daemon that restarts once more) is the end
 * of the wait all the same.
 */
static int
wait_last_try(struct pool *p, int timeout_ms, client_wait_try try, void *arg)
{
	int	error;

	error = try(p, arg, WAIT_LAST_MS, 0);
	if (error == -EINTR || error == -ETIMEDOUT)
		return wait_ran_out(timeout_ms);
	if (error == -EDQUOT)
		wait_words_whole(-EDQUOT, "after", timeout_ms);
	return error;
}

/*
 * The daemon answers -EINTR when it restarts in place while the request
 * waits (its state carries no waiting request): ask the new image again,
 * for the time left, at once if the request had waited, else after a
 * pause (above), so that a daemon answering -EINTR at once is not asked
 * thousands of times a second.  A wait longer than the wire's 32 bits of
 * milliseconds (or without end) is asked for in parts; a part said to
 * have run out long before its end is -EPROTO, not a cue to ask again
 * (and again, at once).  A finite wait ends at its time, pauses or not,
 * with a last try (wait_last_try) if the time ran out here.
 */
static int
wait_asking(struct pool *p, int timeout_ms, client_wait_try try, void *arg)
{
	uint64_t	deadline = 0, now, part, sent, pause = 0, nap;
	int		error, asked = 0;

	if (timeout_ms > 0)
		deadline = wait_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		part = UINT32_MAX;
		now = wait_now_ms();
		if (timeout_ms > 0) {
			if (now >= deadline)
				return wait_last_try(p, timeout_ms, try, arg);
			if (deadline - now < part)
				part = deadline - now;
		}
		sent = now;
		asked++;
		error = try(p, arg, (uint32_t)part,
		    timeout_ms < 0 || deadline - now > part);
		now = wait_now_ms();
		if (error == -ETIMEDOUT && timeout_ms < 0) {
			if (now - sent + WAIT_PART_SLACK_MS < part)
				return conn_local_failure(-EPROTO);
			continue;
		}
		if (error == -ETIMEDOUT && asked > 1)
			return wait_ran_out(timeout_ms);
		if (error == -EDQUOT && asked > 1)
			wait_words_whole(-EDQUOT, "after", timeout_ms);
		if (error != -EINTR)
			return error;
		if (now - sent >= WAIT_PAUSE_LAST_MS)
			pause = 0;	/* it waited: a restart, ask at once */
		else if (pause == 0)
			pause = WAIT_PAUSE_FIRST_MS;
		else if ((pause *= 2) > WAIT_PAUSE_LAST_MS)
			pause = WAIT_PAUSE_LAST_MS;
		nap = pause;
		if (timeout_ms > 0 && nap > 0)
			nap = deadline > now ? wait_min(nap, deadline - now) : 0;
		if (nap > 0)
			wait_sleep_ms(nap);
	}
}

/*
 * wait_asking, never cancelled halfway (see client_nocancel): the pause's
 * nanosleep is a cancellation point, and a thread cancelled there would
 * end in the middle of a call the header says runs to its end.
 */
int
client_wait(struct pool *p, int timeout_ms, client_wait_try try, void *arg)
{
	int	cancel = client_nocancel(), error;

	error = wait_asking(p, timeout_ms, try, arg);
	client_cancel_restore(cancel);
	return error;
}
