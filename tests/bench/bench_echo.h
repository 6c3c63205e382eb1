/*
 * bench_echo.h - the floor: an echo server over the daemon's socket type
 * (SOCK_SEQPACKET Unix socket), served the way poolmgrd serves (one
 * process, a libevent loop, datagrams drained in batches, replies sent at
 * once), with no logic at all; and its client.
 */
#ifndef BENCH_ECHO_H
#define BENCH_ECHO_H

#include <stddef.h>
#include <sys/types.h>

/* The floor's request and reply, about the size of poolmgr's Alloc. */
#define ECHO_MSG 16

/* Fork the server on path; its pid once it accepts, or -1. */
pid_t echo_start(const char *path);
void echo_stop(pid_t pid);

/* A blocking client connection; the fd or -1. */
int echo_connect(const char *path);

/* One request and its reply; 0 or -1. */
int echo_call(int fd, const void *msg, void *reply);

#endif /* BENCH_ECHO_H */
