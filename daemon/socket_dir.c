/*
 * socket_dir.c - is the socket's directory the daemon's alone?
 *
 * Clients find the daemon by the socket's path.  Whoever may change the
 * entries of the socket's directory, or of any directory above it, can
 * take the socket away and bind one of their own in its place, and be
 * the daemon to every client that connects from then on: the clients'
 * own pools' contents are then theirs to read.  So each directory on
 * the way, as the path names it and as its symbolic links resolve, is
 * looked at, and each symbolic link on the way.  One every user may
 * write, and not sticky (as /tmp is: others may not rename or remove
 * what is not theirs there), is refused: anyone could be the daemon.
 * One of another uid than root's and the daemon's, or that a group may
 * write (not sticky), is warned of, naming who could: a developer's
 * checkout run by root (`sudo make run`), or a user's private group's
 * directory, is such a place, and its owner is who started the daemon
 * there.  Where the directory does not exist yet the daemon makes it,
 * its own.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socket_dir.h"

/*
 * Is the entry at path (lstat's st) safe to lead to the socket?  0; 1
 * (warned of) with why, if nothing was said in it yet; or -1 (refused)
 * with why.
 */
static int
entry_check(const char *path, const struct stat *st, char *why, size_t len)
{
	bool sticky = st->st_mode & S_ISVTX;

	if (!S_ISLNK(st->st_mode) && !S_ISDIR(st->st_mode)) {
		snprintf(why, len, "%s is not a directory", path);
		return -1;
	}
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_IWOTH) && !sticky) {
		snprintf(why, len, "%s is writable by every user (mode %04o) "
			 "and not sticky", path,
			 (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (*why)
		return 1;
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, len, "%s is owned by uid %u, neither root nor "
			 "the daemon's", path, (unsigned)st->st_uid);
		return 1;
	}
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_IWGRP) && !sticky) {
		snprintf(why, len, "%s is writable by group %u (mode %04o) and "
			 "not sticky", path, (unsigned)st->st_gid,
			 (unsigned)(st->st_mode & 07777));
		return 1;
	}
	return 0;
}

/* Each entry from path up to its top ("/", or "." for a relative one). */
static int
walk_up(const char *path, char *why, size_t len)
{
	char at[PATH_MAX], up[PATH_MAX], tmp[PATH_MAX];
	bool warned = false;
	struct stat st;
	int rc = 0;

	if (strlen(path) >= sizeof(at)) {
		snprintf(why, len, "%s: path too long", path);
		return -1;
	}
	snprintf(at, sizeof(at), "%s", path);
	for (;;) {
		/* One not there yet is made the daemon's: those above count. */
		bool there = lstat(at, &st) == 0;

		if (!there && errno != ENOENT) {
			snprintf(why, len, "%s: %s", at, strerror(errno));
			return -1;
		}
		if (there && (rc = entry_check(at, &st, why, len)) < 0)
			return -1;
		warned |= rc > 0;
		/* dirname may write into its argument, and return it. */
		snprintf(tmp, sizeof(tmp), "%s", at);
		snprintf(up, sizeof(up), "%s", dirname(tmp));
		if (strcmp(up, at) == 0)
			return warned;
		memcpy(at, up, sizeof(at));
	}
}

int
socket_dir_check(const char *dir, char *why, size_t len)
{
	char *real;
	int rc, warned;

	*why = '\0';
	if ((warned = walk_up(dir, why, len)) < 0)
		return -1;
	/* Where its symbolic links lead, checked the same way. */
	if (!(real = realpath(dir, NULL)))
		return warned;	/* not there yet: the walk above saw its way */
	rc = walk_up(real, why, len);
	free(real);
	return rc < 0 ? -1 : (warned || rc);
}
