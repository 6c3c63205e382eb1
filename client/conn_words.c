/*
 * conn_words.c - the calling thread's words: what pool_last_message says
 * of the failure of its last call.
 *
 * Each round trip (conn.c's conn_request) leaves the daemon's words for a
 * refusal, or none; a call that fails without asking forgets them; a
 * connect that failed leaves the library's own words where the code
 * alone cannot say which case it was: no socket at the path, a file there
 * that is no socket or one nobody listens on, no answer within the bound
 * (conn_denied.c's for -EACCES).  conn.c keeps the socket and the calls;
 * this file, what a thread is told of them afterwards.  errors.c's
 * pool_strerror says what a code means, the same for every thread and
 * without a word of the protocol's: these are one thread's, of one call.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "client_internal.h"

/*
 * The daemon's words for the last refusal of this thread's requests, and
 * its code (pool_last_message): each request replaces them, and a call
 * that fails without asking clears them (conn_forget_refusal), so that
 * they never outlive the answer they came with by more than that thread's
 * next call.  Bytes the terminal would act on are shown as '?': the text
 * comes from another process.  A failure the library finds itself may
 * leave words of its own there too, where its code alone cannot say
 * which case it was (conn_note_missing_socket).
 */
static __thread char	last_message[sizeof(((struct conn_words *)0)->message)];
static __thread int	last_code;

/*
 * Copy a text from the daemon meant to be shown to a person (a refusal's
 * words, a check's problem) into dst of len bytes (len > 0), cut short if
 * need be: bytes a terminal would act on become '?'.
 */
void
client_copy_words(char *dst, size_t len, const char *src)
{
	size_t	i;

	for (i = 0; i < len - 1 && src[i] != '\0'; i++)
		dst[i] = (unsigned char)src[i] < 0x20 ||
		    src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

void
conn_note_words(int code, const char *m)
{
	last_code = code;
	client_copy_words(last_message, sizeof last_message, m);
}

/*
 * A reply's words: the daemon keeps its own within CONN_DAEMON_WORDS_MAX
 * bytes (a refusal says one thing), so a longer text, which only another
 * program could send, is cut there; the library's own words may take the
 * whole buffer (a socket's path and names, and what to do).
 */
void
conn_note_refusal(const Poolmgr__Reply *reply)
{
	char	m[CONN_DAEMON_WORDS_MAX];
	int	code = reply != NULL ? reply->error : 0;

	client_copy_words(m, sizeof m, code != 0 && reply->message != NULL ?
	    reply->message : "");
	conn_note_words(code, m);
}

/*
 * -ENOENT from connect is a missing socket, which pool_strerror's text
 * for the code names last, after pools and block names: the words say it
 * was the socket, and where it was looked for (a path from the
 * environment the caller may not know of).
 */
void
conn_note_missing_socket(const char *path)
{
	char	m[sizeof(last_message)];

	snprintf(m, sizeof m, "no poolmgrd socket at %s (is poolmgrd "
	    "running? $POOLMGRD_SOCKET names its socket)", path);
	conn_note_words(-ENOENT, m);
}

/* The kind of a file connect refused, "a directory"; NULL: a socket. */
static const char *
conn_file_kind(mode_t mode)
{
	if (S_ISSOCK(mode))
		return NULL;
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a file of another kind";
}

/*
 * -ECONNREFUSED from connect is a socket nobody listens on (one a daemon
 * that stopped left), or no socket at all: a directory or a file at the
 * path is refused alike.  -EPROTOTYPE is a socket of another type.  The
 * codes' texts (pool_strerror's, the C library's "Protocol wrong type
 * for socket") cannot say which, nor where: the file at the path says,
 * as connect found it (stat follows symlinks as connect does); one gone
 * meanwhile leaves no words.  The code stays connect's: callers test it.
 */
void
conn_note_refused(const char *path, int error)
{
	char		 m[sizeof(last_message)];
	struct stat	 st;
	const char	*kind;

	if (stat(path, &st) != 0) {
		conn_forget_refusal();
		return;
	}
	if ((kind = conn_file_kind(st.st_mode)) != NULL)
		snprintf(m, sizeof m, "%s is %s, not a socket "
		    "($POOLMGRD_SOCKET names poolmgrd's socket)", path, kind);
	else if (error == -EPROTOTYPE)
		snprintf(m, sizeof m, "%s is a socket of another type, not "
		    "poolmgrd's", path);
	else
		snprintf(m, sizeof m, "no poolmgrd listens on the socket %s "
		    "(a socket left by a daemon that stopped?)", path);
	conn_note_words(error, m);
}

/*
 * A connect that ran out of time: the words say where, and the bound (a
 * daemon stopped or hung, or busy restoring a large state), which the
 * caller may have from the environment and not know of.  The bound is
 * said in seconds as it would be written: "30 s", "0.25 s".
 */
void
conn_note_timeout(const char *path, int timeout_ms)
{
	char	m[sizeof(last_message)], frac[8];
	int	i;

	snprintf(frac, sizeof frac, ".%03d", timeout_ms % 1000);
	for (i = 3; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	if (i == 0)
		frac[0] = '\0';
	snprintf(m, sizeof m, "poolmgrd at %s did not answer within %d%s s",
	    path, timeout_ms / 1000, frac);
	conn_note_words(-ETIMEDOUT, m);
}

/*
 * A call that got no reply: if the daemon refused the whole connection
 * with this code, its words say why (which limit, say); else none.
 */
void
conn_note_broken(struct pool_conn *c, int error)
{
	pthread_mutex_lock(&c->lock);
	if (c->refusal_code != 0 && c->refusal_code == error)
		conn_note_words(error, c->refusal_words);
	else
		conn_note_refusal(NULL);
	pthread_mutex_unlock(&c->lock);
}

void
conn_forget_refusal(void)
{
	conn_note_refusal(NULL);
}

int
conn_local_failure(int err)
{
	conn_forget_refusal();
	return err;
}

void
conn_words_save(struct conn_words *w)
{
	w->code = last_code;
	memcpy(w->message, last_message, sizeof w->message);
}

void
conn_words_restore(const struct conn_words *w)
{
	last_code = w->code;
	memcpy(last_message, w->message, sizeof last_message);
}

const char *
pool_last_message(int err)
{
	return err != 0 && err == last_code ? last_message : "";
}
