/*
 * restore_fds.c - the descriptors handed over, sorted by their names.
 *
 * systemd's store gives them back in no set order, so nothing here goes
 * by position: each name says what it is and, for a pool, a client or
 * a descriptor an unsent reply passes, its index in the state.  A name twice, an index the state does not
 * have, or a pool without its memfd refuses the state whole (restore.c).
 * "config", the configuration's text an exec passes, is read before
 * anything else (restore_fds_config) and then closed with the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "peer.h"
#include "peer_kept.h"
#include "restore_check.h"
#include "restart_names.h"
#include "restore_fds.h"

#define FDS_START 3		/* SD_LISTEN_FDS_START */
#define FDS_MAX (1 << 24)

enum fd_kind {
	FD_OTHER, FD_LISTEN, FD_STATE, FD_CONFIG, FD_POOL, FD_CONN, FD_REPLY,
	FD_KEPT, FD_UNREAD
};

/* "pool.<i>": the index, or -1 (digits only, no leading zero). */
static long
name_index(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *d = name + n;
	char *end;
	long i;

	if (strncmp(name, prefix, n) != 0 || *d < '0' || *d > '9' ||
	    (*d == '0' && d[1]))
		return -1;
	i = strtol(d, &end, 10);
	return *end || i >= FDS_MAX ? -1 : i;
}

static enum fd_kind
name_kind(const char *name, long *index)
{
	*index = 0;
	if (strcmp(name, "listen") == 0)
		return FD_LISTEN;
	if (strcmp(name, "state") == 0)
		return FD_STATE;
	if (strcmp(name, "config") == 0)
		return FD_CONFIG;
	if ((*index = name_index(name, "pool.")) >= 0)
		return FD_POOL;
	if ((*index = name_index(name, "conn.")) >= 0)
		return FD_CONN;
	if ((*index = name_index(name, "reply.")) >= 0)
		return FD_REPLY;
	if ((*index = name_index(name, "unread.")) >= 0)
		return FD_UNREAD;
	/* The crash journal's (journal.h): recover.c takes them. */
	if (strncmp(name, "keep.", 5) == 0 || strncmp(name, "journal.", 8) == 0)
		return FD_KEPT;
	return FD_OTHER;
}

int
restore_fds_take(struct passed_fds *pf)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char *end;
	long n, index;
	unsigned i;
	bool ours = false;
	int rc;

	memset(pf, 0, sizeof(*pf));
	pf->listen = pf->state = -1;
	if (!pid || !nfds || !names ||
	    strtol(pid, &end, 10) != (long)getpid() || *end)
		return -1;
	n = strtol(nfds, &end, 10);
	if (*end || n < 1 || n > FDS_MAX)
		return -1;
	pf->n = (unsigned)n;
	if (!(pf->fd = malloc(pf->n * sizeof(int))) ||
	    !(pf->name = calloc(pf->n, sizeof(char *))) ||
	    !(pf->list = strdup(names)))
		fatalx("restoring: out of memory for %u passed descriptors",
		       pf->n);
	for (i = 0; i < pf->n; i++)
		pf->fd[i] = -1;	/* none taken yet */
	if ((rc = restart_names_split(pf->list, pf->n, pf->name,
				      &pf->made)) != 0) {
		if (rc == -ENOMEM)
			fatalx("restoring: out of memory for the names of "
			       "the passed descriptors");
		restore_fds_free(pf);
		return -1;
	}
	for (i = 0; i < pf->n; i++)
		if (name_kind(pf->name[i], &index) != FD_OTHER)
			ours = true;
	if (!ours) {
		restore_fds_free(pf);
		return -1;
	}
	for (i = 0; i < pf->n; i++) {
		pf->fd[i] = FDS_START + (int)i;
		(void)fcntl(pf->fd[i], F_SETFD, FD_CLOEXEC);
		switch (name_kind(pf->name[i], &index)) {
		case FD_STATE:
			if (pf->state < 0)
				pf->state = pf->fd[i];
			break;
		case FD_LISTEN:
			pf->listen = pf->fd[i];
			break;
		case FD_UNREAD:
			/* Kept by the older image: still counted. */
			peer_keep_taken(pf->fd[i], (unsigned)index);
			pf->fd[i] = -1;
			break;
		default:
			break;
		}
	}
	/* Else systemd's own: the first listening socket of another name. */
	for (i = 0; pf->listen < 0 && i < pf->n; i++)
		if (name_kind(pf->name[i], &index) == FD_OTHER &&
		    state_check_listener(pf->fd[i]))
			pf->listen = pf->fd[i];
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}

/* The whole of memfd fd, malloc'ed in *text with a NUL after it. */
static int
read_config_fd(int fd, char **text, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
	    (uint64_t)st.st_size > CONFIG_MAX_TEXT)
		return -EINVAL;
	if (!(*text = malloc((size_t)st.st_size + 1)))
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		n = pread(fd, *text + got, (size_t)st.st_size - got,
			  (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(*text);
			*text = NULL;
			return n == 0 ? -EIO : -errno;
		}
		got += (size_t)n;
	}
	(*text)[got] = '\0';
	*len = got;
	return 0;
}

int
restore_fds_config(char **text, size_t *len)
{
	const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES"), *p;
	char *end;
	long n, i;
	size_t k;

	*text = NULL;
	if (!pid || !nfds || !names ||
	    strtol(pid, &end, 10) != (long)getpid() || *end)
		return 0;
	n = strtol(nfds, &end, 10);
	if (*end || n < 1 || n > FDS_MAX)
		return 0;
	for (i = 0, p = names; i < n && *p; i++, p += k + (p[k] == ':')) {
		k = strcspn(p, ":");
		if (k == strlen("config") && strncmp(p, "config", k) == 0)
			return read_config_fd(FDS_START + (int)i, text, len)
			    == 0 ? 1 : -1;
	}
	return 0;
}

/* A connection whose client has hung up: it reads end of file at once. */
static int
hung_up(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) == -1)
		return -1;
	close(sv[1]);
	return sv[0];
}

int
restore_fds_place(struct passed_fds *pf, unsigned npools,
		  unsigned nsessions, unsigned nreplies, int *fds, char *why,
		  size_t len)
{
	unsigned total = 2 + npools + nsessions + nreplies, i, f, gone = 0;
	long index;

	for (i = 0; i < total; i++)
		fds[i] = -1;
	fds[0] = pf->listen;
	for (i = 0; i < pf->n; i++) {
		switch (name_kind(pf->name[i], &index)) {
		case FD_POOL:
			if ((unsigned long)index >= npools)
				return state_why(why, len, "%s: the state has %u "
					       "pool%s", pf->name[i], npools,
					       log_plural(npools));
			f = 2 + (unsigned)index;
			break;
		case FD_CONN:
			if ((unsigned long)index >= nsessions)
				return state_why(why, len, "%s: the state has %u "
					       "client%s", pf->name[i],
					       nsessions,
					       log_plural(nsessions));
			f = 2 + npools + (unsigned)index;
			break;
		case FD_REPLY:
			if ((unsigned long)index >= nreplies)
				return state_why(why, len, "%s: the state's "
					       "unsent replies pass %u",
					       pf->name[i], nreplies);
			f = 2 + npools + nsessions + (unsigned)index;
			break;
		case FD_STATE:
			f = 1;
			break;
		default:
			continue;
		}
		if (fds[f] >= 0)
			return state_why(why, len, "%s twice", pf->name[i]);
		fds[f] = pf->fd[i];
		pf->fd[i] = -1;
	}
	if (fds[0] < 0)
		return state_why(why, len, "no listening socket");
	for (i = 0; i < npools; i++)
		if (fds[2 + i] < 0)
			return state_why(why, len, "no pool.%u", i);
	for (i = 0; i < nreplies; i++)
		if (fds[2 + npools + nsessions + i] < 0)
			return state_why(why, len, "no reply.%u", i);
	for (i = 0; i < nsessions; i++) {
		if (fds[2 + npools + i] >= 0)
			continue;
		if ((fds[2 + npools + i] = hung_up()) < 0)
			return state_why(why, len, "socketpair: %s",
				       strerror(errno));
		gone++;
	}
	/* Only systemd's store drops a connection: an exec passes all. */
	if (gone)
		log_info("systemd's fd store: %u client%s hung up while the "
			 "daemon was stopped; %s handles close now", gone,
			 gone == 1 ? "" : "s", gone == 1 ? "its" : "their");
	return 0;
}

char *
restore_fds_ours(const struct passed_fds *pf)
{
	size_t len = 1;
	unsigned i;
	long index;
	char *s;

	for (i = 0; i < pf->n; i++)
		len += strlen(pf->name[i]) + 1;
	if (!(s = malloc(len)))
		return NULL;
	*s = '\0';
	for (i = 0; i < pf->n; i++) {
		enum fd_kind kind = name_kind(pf->name[i], &index);

		/* A kept connection stays in the store (peer_store.c). */
		if (kind == FD_OTHER || kind == FD_UNREAD)
			continue;
		if (*s)
			strcat(s, ":");
		strcat(s, pf->name[i]);
	}
	return s;
}

void
restore_fds_free(struct passed_fds *pf)
{
	unsigned i;

	for (i = 0; pf->fd && i < pf->n; i++)
		if (pf->fd[i] >= 0 && pf->fd[i] != pf->listen)
			close(pf->fd[i]);
	free(pf->fd);
	free(pf->name);
	free(pf->list);
	free(pf->made);
	pf->fd = NULL;
	pf->name = NULL;
	pf->list = NULL;
	pf->made = NULL;
	pf->n = 0;
}
