/*
 * restart.h - restarting in place (SIGUSR2): the daemon waits for a quiet
 * moment, saves its state (state_save.c) and executes its binary again,
 * handing the new image the listening socket, the state, every pool's
 * memfd and every client's connection (restore.c takes them).  Nothing
 * is lost but a short pause; if the exec fails, nothing has changed.
 */
#ifndef POOLMGRD_RESTART_H
#define POOLMGRD_RESTART_H

#include <stdbool.h>

struct event_base;

/*
 * First thing in main: remember the binary this process runs.  Taken
 * before anything else, since once it is replaced (an upgrade, or a test
 * that puts another program there) /proc/self/exe names the old, deleted
 * file: the socket listens before restart_setup runs, and a client that
 * connected may already have replaced it.
 */
void restart_note_binary(void);

/*
 * At start: remember the binary (restart_note_binary, if main did not), its
 * arguments and the listening socket, and catch SIGUSR2 on base.  Called
 * once the daemon catches its other signals too: the signals a restart
 * blocked across its exec are unblocked here.
 */
void restart_setup(struct event_base *base, char **argv, int listen_fd,
		   bool socket_activated, const char *socket_path,
		   const char *config_file);
void restart_teardown(void);

/*
 * SIGTERM or SIGINT: true if the stop goes through systemd's fd store
 * (fdstore.h): at the first quiet moment the state and every descriptor
 * go to the store and the loop exits.  false: stop now, as always.
 */
bool restart_stop(void);
/* Does the store hold everything now (the socket file must stay)? */
bool restart_stored(void);

#endif /* POOLMGRD_RESTART_H */
