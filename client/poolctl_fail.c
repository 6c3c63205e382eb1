/*
 * poolctl_fail.c - what poolctl says when something fails, and the exit
 * status it means.
 *
 * Diagnostics go to stderr and read "poolctl: WHAT: WHY"; each helper
 * returns the exit status its error means (sysexits, see poolctl.c and
 * poolctl.1's EXIT STATUS), so that a command ends with
 * "return fail(...)".  What the daemon said of a refusal follows its
 * code's text as "poolmgrd says: ...".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>

#include "poolctl.h"

/* "poolctl: " and the words, on stderr; the caller ends the line. */
static void
ctl_vsay(const char *fmt, va_list ap)
{
	fputs("poolctl: ", stderr);
	vfprintf(stderr, fmt, ap);
}

void
ctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	va_start(ap, fmt);
	ctl_vsay(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A usage error: say what is wrong (usage_hint says where help is). */
int
usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	ctl_vsay(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/*
 * After a usage error, where help is: the command's own, which lists its
 * arguments and options, once the command is known (cmd not NULL).
 */
void
usage_hint(const char *cmd)
{
	if (cmd != NULL)
		fprintf(stderr, "Try 'poolctl help %s' for its arguments and "
		    "options.\n", cmd);
	else
		fputs("Try 'poolctl --help' for more information.\n", stderr);
}

/*
 * The exit status for a library error.  A daemon that went away mid-way is
 * as unreachable as one that never answered, so it gets EX_UNAVAILABLE too.
 */
static int
exit_code(int error)
{
	switch (error) {
	case -EPERM:
	case -EACCES:
		return EX_NOPERM;
	case -ECONNRESET:
	case -ECONNREFUSED:
	case -ENOTCONN:
	case -EPIPE:
		return EX_UNAVAILABLE;
	default:
		return EXIT_FAILED;
	}
}

/*
 * What the daemon said of the refusal error, if it said more, to end the
 * line with: "; poolmgrd says: WORDS", or "".  Only for a failure of a
 * request: the words the library leaves itself, when a connect found no
 * socket, are not the daemon's (fail_connect says them as they are).
 */
static const char *
daemon_words(int error)
{
	static char	 buf[300];
	const char	*m = pool_last_message(error);

	/* The library's rule, shared with the Python binding. */
	if (*m == '\0' || !pool_message_adds(error))
		return "";
	snprintf(buf, sizeof buf, "; poolmgrd says: %s", m);
	return buf;
}

/*
 * Whether path is a socket, or may be: connect(2) to a directory or a
 * regular file says ECONNREFUSED, as if a daemon had gone, which sends
 * the admin after the daemon rather than the path.
 */
static bool
is_socket(const char *path)
{
	struct stat	st;

	return stat(path, &st) != 0 || S_ISSOCK(st.st_mode);
}

/*
 * The setting behind a refusal of the connection (-EUSERS), after the
 * daemon's words, which say only which count was full: of this uid, or
 * in all.  The latter comes at max_connections for an admin, and sooner
 * for anyone else, at the places admin_connections keeps: with fewer
 * connections open than max_connections, the words alone read as a
 * daemon past no bound at all.  A daemon out of descriptors says so:
 * its limit of open files is behind it.  "" when the daemon said nothing.
 */
static const char *
users_setting(void)
{
	const char	*m = pool_last_message(-EUSERS);

	if (*m == '\0')
		return "";
	if (strstr(m, "descriptors") != NULL)
		return " (its limit of open files: LimitNOFILE= in its "
		    "unit, or ulimit -n where it was started)";
	if (strstr(m, "uid") != NULL)
		return " (max_connections_per_uid in poolmgrd.conf)";
	return " (max_connections in poolmgrd.conf, of which "
	    "admin_connections are kept for root, the daemon's uid and "
	    "admin_group)";
}

/*
 * Report a failed pool_connect to socket.  A socket that is not there, one
 * that keeps the caller out, and a daemon that did not answer in time,
 * are the failures the library words itself (its -ENOENT would read as a
 * pool in pool_strerror's text, its -EACCES as a pool's mode first, its
 * -ETIMEDOUT would not say which bound): no daemon answered, so those
 * words, which name the path and what to check, what lets a client in
 * or the bound, are said alone, not as the daemon's.  The daemon's
 * refusals of a connection (too many clients, a reply that makes no
 * sense) read best as the client library words them, with the daemon's
 * own (which limit it was) and, for too many clients, the setting.  A socket nobody listens on, or one of
 * another type, is said as what it likely is, since the C library's
 * "Connection refused" or "Protocol wrong type for socket" leaves the
 * admin to guess; the socket's other errors as the C library says them.
 */
void
fail_connect(int error, const char *socket)
{
	const char	*own = error == -ENOENT || error == -EACCES ||
			    error == -ETIMEDOUT ? pool_last_message(error) : "";

	if (*own != '\0')
		ctl_warnx("cannot connect: %s", own);
	else if (error == -EUSERS)
		ctl_warnx("cannot connect to %s: %s%s%s", socket,
		    pool_strerror(error), daemon_words(error), users_setting());
	else if (error == -EPROTO)
		ctl_warnx("cannot connect to %s: %s%s", socket,
		    pool_strerror(error), daemon_words(error));
	else if (error == -ECONNREFUSED && !is_socket(socket))
		ctl_warnx("cannot connect to %s: not a socket", socket);
	else if (error == -ECONNREFUSED)
		ctl_warnx("cannot connect to %s: no poolmgrd listens on it "
		    "(a socket left by a daemon that stopped?)", socket);
	else if (error == -EPROTOTYPE)
		ctl_warnx("cannot connect to %s: a socket of another type, "
		    "not poolmgrd's", socket);
	else
		ctl_warnx("cannot connect to %s: %s", socket,
		    error < 0 ? strerror(-error) : "unknown error");
}

/* Report a failed library call on stderr and return its exit status. */
int
fail(int error, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	va_start(ap, fmt);
	ctl_vsay(fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s%s\n", pool_strerror(error), daemon_words(error));
	return exit_code(error);
}

/*
 * Report a refused request about the pool name and return its exit
 * status: "poolctl: WHAT NAME: WHY", WHY being why's words (see struct
 * why), and then the daemon's when they add to them.  pool_strerror's
 * texts cover the whole library, so some of them name cases that cannot
 * be meant here: we are connected, so -ENOENT without words of ours is the
 * pool, not a missing socket.
 */
int
fail_refusal(int error, const char *what, const char *name,
    const struct why *why)
{
	const char	*words = pool_last_message(error);
	const char	*text = why->text;

	if (error == -ENOENT && text == NULL) {
		ctl_warnx("no such pool: %s", name);
		return exit_code(error);
	}
	/* Nor is -EACCES the socket's mode, or a handle of ours. */
	if (error == -EACCES && text == NULL)
		text = "permission denied by the pool's mode or access "
		    "control list";
	if (*words == '\0' && why->bare != NULL)
		text = why->bare;
	ctl_warnx("%s %s: %s%s", what, name,
	    text != NULL ? text : pool_strerror(error),
	    why->whole ? "" : daemon_words(error));
	return exit_code(error);
}

/*
 * As fail_refusal, with why (if not NULL) poolctl's whole explanation of
 * what error means for this command, and pool_strerror's text and the
 * daemon's words otherwise.
 */
int
fail_pool(int error, const char *what, const char *name, const char *why)
{
	struct why	w = { why, why != NULL, NULL };

	return fail_refusal(error, what, name, &w);
}
