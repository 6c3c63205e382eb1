/*
 * server.h - the listening socket, accepting clients, signals and reload.
 */
#ifndef POOLMGRD_SERVER_H
#define POOLMGRD_SERVER_H

#include <stdint.h>

struct config;

struct server_opts {
	const char *socket_path;	/* NULL: the configuration's */
	const char *config_path;	/* NULL: no configuration file */
	const char *config_error;	/* why it did not load, or NULL */
	char **argv;			/* executed again by SIGUSR2 */
};

/* Run until SIGTERM or SIGINT (SIGUSR2 executes the daemon again, in
 * place: restart.h); returns the exit status.  With config_error, cf
 * holds the defaults and only a restore runs on (server.c). */
int server_run(const struct server_opts *o, struct config *cf);

/*
 * Since this image started (DaemonStats): connections accepted, and of
 * those, the ones closed at once for a limit (max_connections,
 * max_connections_per_uid, no descriptor to serve them with).
 */
uint64_t server_connections_accepted(void);
uint64_t server_connections_refused(void);

#endif /* POOLMGRD_SERVER_H */
