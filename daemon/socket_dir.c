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
 * checkout run by root is such a place (`sudo make run RUN_USER=`), and
 * its owner is who started the daemon there.  A group that is its
 * owner's private one (Debian makes one for each user, and a umask of
 * 002 lets it write every directory the user makes) is its owner alone.
 * A directory that does not exist yet server_listen.c makes first, the
 * daemon's own, before it asks here.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "socket_dir.h"

/* "user NAME (uid N)", or "uid N" for a uid nobody is. */
static const char *
user_text(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "user %s (uid %u)", pw->pw_name,
			 (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

/* "group NAME (gid N)", or "gid N" for a gid no group is. */
static const char *
group_text(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, len, "group %s (gid %u)", gr->gr_name,
			 (unsigned)gid);
	else
		snprintf(buf, len, "gid %u", (unsigned)gid);
	return buf;
}

/*
 * Is gid the private group of uid, as Debian makes one for each user
 * (useradd's USERGROUPS_ENAB): its primary group, of its name, with no
 * other member listed?  A directory such a group may write is its
 * owner's alone, as a umask of 002 leaves every directory it makes.
 */
static bool
private_group(uid_t uid, gid_t gid)
{
	struct passwd *pw = getpwuid(uid);
	struct group *gr;

	if (!pw || pw->pw_gid != gid || !(gr = getgrgid(gid)))
		return false;
	return strcmp(gr->gr_name, pw->pw_name) == 0 &&
	       (!gr->gr_mem[0] || (strcmp(gr->gr_mem[0], pw->pw_name) == 0 &&
				   !gr->gr_mem[1]));
}

/*
 * Is the entry at path (lstat's st) safe to lead to the socket?  0; 1
 * (warned of) with why, if nothing was said in it yet; or -1 (refused)
 * with why.
 */
static int
entry_check(const char *path, const struct stat *st, char *why, size_t len)
{
	bool sticky = st->st_mode & S_ISVTX;
	char who[300];

	if (!S_ISLNK(st->st_mode) && !S_ISDIR(st->st_mode)) {
		snprintf(why, len, "%s is not a directory", path);
		return -1;
	}
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_IWOTH) && !sticky) {
		snprintf(why, len, "%s is writable by every user (mode %04o) "
			 "and not sticky: any of them could put a socket of "
			 "their own in the daemon's place", path,
			 (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (*why)
		return 1;
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, len, "%s is owned by %s", path,
			 user_text(st->st_uid, who, sizeof(who)));
		return 1;
	}
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_IWGRP) && !sticky &&
	    !private_group(st->st_uid, st->st_gid)) {
		snprintf(why, len, "%s is writable by %s (mode %04o)", path,
			 group_text(st->st_gid, who, sizeof(who)),
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
