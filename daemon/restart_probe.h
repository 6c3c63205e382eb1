/*
 * restart_probe.h - ask the binary a restart would execute whether it
 * reads the state this one saves (restart_probe.c).
 */
#ifndef POOLMGRD_RESTART_PROBE_H
#define POOLMGRD_RESTART_PROBE_H

#include <stddef.h>

/*
 * Run "path --restart-probe": 0 if it answers that it reads the current
 * state version, else -errno (-ETIMEDOUT: no answer in time, -EPROTO:
 * another answer) with why in why.
 */
int restart_probe(const char *path, char *why, size_t len);

/* poolmgrd --restart-probe: print the state versions this binary reads. */
void restart_probe_answer(void);

#endif /* POOLMGRD_RESTART_PROBE_H */
