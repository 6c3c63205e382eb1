/*
 * harness_ids.c - users and groups of a test's own, bound over the
 * password and group files in a child's own mount namespace (see
 * harness_ids.h).
 */
#include "harness_ids.h"

#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A copy of the file at path with lines appended, bound over it: 0 or
 * -1.  The copy is made in $TMPDIR (else /tmp), and its name goes at
 * once: the mount keeps the file.
 */
static int
ids_bind_one(const char *path, const char *lines)
{
	const char *dir = getenv("TMPDIR");
	char tmp[4096], buf[4096];
	FILE *in, *out;
	size_t n;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s/poolmgr-ids.XXXXXX",
		 dir != NULL && *dir != '\0' ? dir : "/tmp");
	if ((fd = mkstemp(tmp)) < 0)
		return -1;
	/* As readable as the files it stands for, for a child that drops
	 * root to look a name up. */
	if (fchmod(fd, 0644) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if ((out = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if ((in = fopen(path, "r")) != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
	}
	fputs(lines, out);
	ok = fclose(out) == 0 && mount(tmp, path, NULL, MS_BIND, NULL) == 0;
	unlink(tmp);
	return ok ? 0 : -1;
}

int
harness_ids_bind(const char *passwd_lines, const char *group_lines,
		 const char *check_user)
{
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return 99;
	if (passwd_lines != NULL &&
	    ids_bind_one("/etc/passwd", passwd_lines) != 0)
		return 99;
	if (group_lines != NULL && ids_bind_one("/etc/group", group_lines) != 0)
		return 99;
	if (check_user != NULL && getpwnam(check_user) == NULL)
		return 99;
	return 0;
}
