/*
 * bench_daemon.h - start the real poolmgrd for a benchmark, on a socket in
 * a fresh temporary directory, and stop it again.
 */
#ifndef BENCH_DAEMON_H
#define BENCH_DAEMON_H

#include <sys/types.h>

struct daemon {
	pid_t pid;
	char dir[64];
	char sock[128];
	char conf[128];
	char log[128];
};

/* Start bin and wait until it accepts connections.  0 or -1. */
int daemon_start(struct daemon *d, const char *bin);

/* The same, with extra lines (ending in a newline) in its [daemon] section. */
int daemon_start_conf(struct daemon *d, const char *bin, const char *extra);

/* SIGTERM, wait, remove the directory; the log is printed if it failed. */
void daemon_stop(struct daemon *d);

/* Wait until a SOCK_SEQPACKET socket at path accepts; 0 or -1. */
int wait_for_socket(const char *path, pid_t pid);

#endif /* BENCH_DAEMON_H */
