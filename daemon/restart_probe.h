/*
 * restart_probe.h - ask the binary a restart would execute whether it
 * reads the state this one saves (restart_probe.c), without stopping the
 * loop meanwhile.
 */
#ifndef POOLMGRD_RESTART_PROBE_H
#define POOLMGRD_RESTART_PROBE_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

/*
 * The verdict: rc 0 if the binary reads the state version the daemon
 * would write now (state_version_needed), else
 * -errno (-ETIMEDOUT: no answer in time, -EPROTO: another answer) with
 * why saying so.  Called from the loop, the probe reaped already.
 */
typedef void (*restart_probe_fn)(int rc, const char *why, void *arg);

/*
 * Run "path --restart-probe" and watch it on base; done gets the verdict
 * later, never from in here.  path must last until then.  0, or -errno with why if it could not be
 * started (-EBUSY: a probe is running already).
 */
int restart_probe_start(struct event_base *base, const char *path,
			restart_probe_fn done, void *arg, char *why,
			size_t len);
bool restart_probe_running(void);
/*
 * The state version to write for the binary the last probe asked, when
 * the state needs at least needed (state_version_needed): the lowest from needed to the
 * current one that it reads, since each version carries all that those
 * before it carry; 0 if it reads none of them.
 */
unsigned restart_probe_version(unsigned needed);
/*
 * The seconds a probe started from now on has to answer in (the
 * configuration's restart_probe_timeout); until called, the default.
 */
void restart_probe_setup(unsigned seconds);
/* Kill and reap the probe running, if any; done is not called. */
void restart_probe_cancel(void);

/* poolmgrd --restart-probe: print the state versions this binary reads. */
void restart_probe_answer(void);

#endif /* POOLMGRD_RESTART_PROBE_H */
