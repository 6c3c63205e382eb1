/*
 * conn_denied.c - the words of a connect refused with -EACCES.
 *
 * connect(2) needs write permission on the socket file and search
 * permission on every directory on the way to it.  pool_strerror's text
 * for -EACCES names pools and handles first, and the C library's
 * "Permission denied" names nothing: a new user is left to guess what
 * keeps them out and what lets them in.  The words say where: the
 * socket, by its owner, group and mode, or a directory on the way; and
 * what lets a client in, as the shipped units and poolmgrd.conf(5) have
 * it: membership of the socket's group, which the administrator grants,
 * or, where that group is no group of clients, the socket's group and
 * mode, which the administrator sets.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_internal.h"

/* The most a look-up's buffer grows to: far past any real group. */
#define DENIED_DB_MOST	(64u << 20)
/* The room for a user's or a group's name in the words, with its NUL. */
#define DENIED_NAME	64
/* What an administrator sets to let clients in (denied_remedy). */
#define DENIED_SETTINGS	"to let clients in, an administrator gives the " \
	"socket a group of theirs with mode 0660 (SocketGroup= and " \
	"SocketMode= in poolmgrd.socket, or, where poolmgrd binds the " \
	"socket itself, the group it runs as and socket_mode in " \
	"poolmgrd.conf)"

/*
 * The longest words fit whole: a path of 107 bytes (a socket address's
 * most), an owner's and a group's name of 63, the group's name again in
 * what lets a client in, and a uid of 10 digits.
 */
#define DENIED_FITS(words)						\
	(sizeof("permission denied by the socket  (owner , group , mode "	\
	    "0777): " words) + 107 + 3 * (DENIED_NAME - 1) <= CONN_WORDS_MAX)
_Static_assert(DENIED_FITS("only its owner and group  may connect; "
    DENIED_SETTINGS), "CONN_WORDS_MAX holds the settings' words");
_Static_assert(DENIED_FITS("uid 4294967295 is of group , whose bits keep "
    "it out, though others may connect; " DENIED_SETTINGS),
    "CONN_WORDS_MAX holds the words of a class that keeps its own out");

/*
 * The name of uid (group false) or gid (group true) into name (len
 * bytes), or the number where there is none; the buffer grows while the
 * entry does not fit, as a group of thousands of members needs.
 */
static void
denied_name(bool group, unsigned id, char *name, size_t len)
{
	struct passwd	 pw, *pwp = NULL;
	struct group	 gr, *grp = NULL;
	char		*buf = NULL, *bigger;
	size_t		 size = 4096;
	int		 rc;

	snprintf(name, len, "%u", id);
	for (;;) {
		if ((bigger = realloc(buf, size)) == NULL)
			break;
		buf = bigger;
		rc = group ? getgrgid_r(id, &gr, buf, size, &grp) :
		    getpwuid_r(id, &pw, buf, size, &pwp);
		if (rc == 0 && group && grp != NULL)
			snprintf(name, len, "%s", gr.gr_name);
		else if (rc == 0 && !group && pwp != NULL)
			snprintf(name, len, "%s", pw.pw_name);
		if (rc != ERANGE || size >= DENIED_DB_MOST)
			break;
		size *= 2;
	}
	free(buf);
}

/* Is gid this process's, as its effective or a supplementary group? */
static bool
denied_in_group(gid_t gid)
{
	gid_t	*groups;
	int	 n, i;
	bool	 in = getegid() == gid;

	if (in || (n = getgroups(0, NULL)) <= 0 ||
	    (groups = calloc((size_t)n, sizeof *groups)) == NULL)
		return in;
	n = getgroups(n, groups);
	for (i = 0; i < n && !in; i++)
		in = groups[i] == gid;
	free(groups);
	return in;
}

/*
 * Whether st's mode lets this process write the socket at path, as the
 * kernel decides: the owner's bits for its owner, else the group's for a
 * member, else the others'.  Root passes any mode with CAP_DAC_OVERRIDE
 * only, which a unit or a container may have taken from it: the kernel
 * is asked for the effective rights (faccessat2; where there is none,
 * the C library takes root to pass, as before).
 */
static bool
denied_mode_lets_in(const char *path, const struct stat *st)
{
	if (geteuid() == 0)
		return faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0;
	if (geteuid() == st->st_uid)
		return (st->st_mode & S_IWUSR) != 0;
	if (denied_in_group(st->st_gid))
		return (st->st_mode & S_IWGRP) != 0;
	return (st->st_mode & S_IWOTH) != 0;
}

/*
 * What lets a client in.  A group that may connect is the one to be in,
 * but for group 0, root's: nobody is to join it to reach a daemon.  Else
 * the administrator gives the socket a group of clients and a mode that
 * lets that group write: in the socket unit where systemd makes the
 * socket, or by the daemon's group and socket_mode where it binds the
 * socket itself (the daemon binds it with its own group).  The kernel
 * takes the first class the caller is of, owner or group, and looks no
 * further: a mode such as 0606 keeps the group's members out while
 * everyone else may connect, which is said as it is.
 */
static void
denied_remedy(const struct stat *st, const char *group, char *m, size_t len)
{
	bool	group_may = (st->st_mode & S_IWGRP) != 0;
	bool	owner = geteuid() == st->st_uid;
	bool	member = !owner && denied_in_group(st->st_gid);

	if (owner && (st->st_mode & (S_IWGRP | S_IWOTH)))
		snprintf(m, len, "uid %u is its owner, whose bits keep it out, "
		    "though others may connect; " DENIED_SETTINGS,
		    (unsigned)geteuid());
	else if (member && (st->st_mode & S_IWOTH))
		snprintf(m, len, "uid %u is of group %s, whose bits keep it "
		    "out, though others may connect; " DENIED_SETTINGS,
		    (unsigned)geteuid(), group);
	else if (group_may && st->st_gid != 0)
		snprintf(m, len, "run as a member of group %s (an "
		    "administrator adds a user with usermod -aG %s NAME; it "
		    "takes a new login)", group, group);
	else
		snprintf(m, len, "only its owner%s%s may connect; "
		    DENIED_SETTINGS, group_may ? " and group " : "",
		    group_may ? group : "");
}

void
conn_note_denied(const char *path)
{
	char		m[CONN_WORDS_MAX], owner[DENIED_NAME];
	char		group[DENIED_NAME];
	struct stat	st;
	bool		mode_lets_in;
	int		n;

	/* The socket is out of reach: a directory on the way is the bar. */
	if (stat(path, &st) != 0) {
		if (errno != EACCES) {
			conn_forget_refusal();
			return;
		}
		snprintf(m, sizeof m, "permission denied on the way to the "
		    "socket %s: a directory on it is not searchable by uid "
		    "%u", path, (unsigned)geteuid());
		conn_note_words(-EACCES, m);
		return;
	}
	denied_name(false, st.st_uid, owner, sizeof owner);
	denied_name(true, st.st_gid, group, sizeof group);
	mode_lets_in = denied_mode_lets_in(path, &st);
	n = snprintf(m, sizeof m, "permission denied %s the socket %s (owner "
	    "%s, group %s, mode 0%03o): ", mode_lets_in ? "connecting to" :
	    "by", path, owner, group, (unsigned)(st.st_mode & 0777));
	/* The path is at most 107 bytes, the names 63: room is left. */
	if (n > 0 && (size_t)n < sizeof m && mode_lets_in)
		snprintf(m + n, sizeof m - (size_t)n, "its mode lets uid %u "
		    "in, so something else refused (a security module's "
		    "policy?)", (unsigned)geteuid());
	else if (n > 0 && (size_t)n < sizeof m)
		denied_remedy(&st, group, m + n, sizeof m - (size_t)n);
	conn_note_words(-EACCES, m);
}
