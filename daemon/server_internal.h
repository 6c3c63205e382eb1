/*
 * server_internal.h - what server.c shares with the files split from it:
 * server_accept.c (a new connection, held to the connection limits, and
 * the spare descriptor that refuses one when there are none),
 * server_listen.c (the socket the daemon binds itself) and
 * server_pools.c (the file's pools made, or given the file's settings).
 * Nothing here is seen outside daemon/server*.c.
 */
#ifndef POOLMGRD_SERVER_INTERNAL_H
#define POOLMGRD_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct peer;

/* server.c */
/* A request, a connection or a release step: the idle ticks have work. */
void served(void);

/* server_accept.c */
/*
 * Each connection's datagrams, to dispatch; buf NULL: the client is gone
 * (peer.h).  Every peer's, a restored one's too.
 */
void peer_dispatch(struct peer *p, const uint8_t *buf, size_t len, void *arg);
/*
 * Connections are served on loop and held to cf's limits (the running
 * configuration, which a reload changes in place); the spare descriptor
 * is taken now.
 */
void accept_setup(struct event_base *loop, const struct config *cf);
/* Accept on the listening socket lfd from now on. */
void accept_start(int lfd);
/* Before the loop is freed: no accept more, the spare given back. */
void accept_teardown(void);

/* server_listen.c */
/*
 * The listening socket at path, made with mode, or the daemon exits
 * saying why: another daemon answers there, or the path is not ours.
 */
int listen_on(const char *path, unsigned mode);

/* server_pools.c */
/*
 * Create the file's pools that do not exist yet, and give those that do
 * the file's settings (what a live pool keeps, a warning names).
 */
void apply_config(const struct config *cf);
/* Live pools the old file had and the new one has not: they stay. */
void forgotten_pools(const struct config *old, const struct config *cf);

#endif /* POOLMGRD_SERVER_INTERNAL_H */
