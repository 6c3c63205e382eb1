/*
 * fail_pipe_event.c - preloaded into a daemon under test (LD_PRELOAD):
 * with $POOLMGR_FAIL_PIPE_EVENT set, an event_new on a pipe fails, as
 * memory short would make it; every other goes to libevent.  The daemon
 * watches no pipe but the restart probe's stdout, and only once the
 * probe runs: the fatalx that follows is an exit with a probe running,
 * which no test can cause from outside.
 */
#include <dlfcn.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct event *(*event_new_fn)(struct event_base *, evutil_socket_t,
				      short, event_callback_fn, void *);

struct event *
event_new(struct event_base *base, evutil_socket_t fd, short what,
	  event_callback_fn cb, void *arg)
{
	static event_new_fn real;
	struct stat sb;

	/* A signal's number is no descriptor. */
	if (getenv("POOLMGR_FAIL_PIPE_EVENT") && !(what & EV_SIGNAL) &&
	    fd >= 0 && fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode))
		return NULL;
	if (!real)
		real = (event_new_fn)dlsym(RTLD_NEXT, "event_new");
	if (!real)
		return NULL;
	return real(base, fd, what, cb, arg);
}
