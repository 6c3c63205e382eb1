/*
 * errors.c - pool_strerror: what the codes of this library mean.
 *
 * The codes are negative errno values, but several mean something more
 * precise here than their C library text (-ENOMEM is "the pool is full",
 * not "out of memory"), so the ones the protocol defines have their own
 * text.  Anything else falls back to the C library's text.  A text that
 * must name several things a code can mean (-ENOENT: a pool, a block
 * name, the socket) is made precise by pool_last_message, where the
 * daemon or the library says which it was.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "poolclient.h"

struct client_error {
	int		 code;
	const char	*text;
};

static const struct client_error client_errors[] = {
	{ 0,			"success" },
	{ -EINVAL,		"invalid argument, or not the start of a "
				"live block" },
	{ -ENOMEM,		"the pool is full: no free run can hold the "
				"request, or it would pass the pool's limit; "
				"from pool_create, too few huge pages are "
				"free to reserve the pool; from what the "
				"library does alone (a flush, a list, a "
				"parse), this process is out of memory" },
	{ -EFBIG,		"the request is larger than the whole pool" },
	{ -EOVERFLOW,		"size overflow (nmemb * size)" },
	{ -EDQUOT,		"a quota for the pool would be exceeded: this "
				"connection's, or its uid's (all its "
				"connections together), or its block limit" },
	{ -EACCES,		"not allowed by the pool's mode or access "
				"control list, a read-only handle or the "
				"socket's permissions" },
	{ -EPERM,		"not permitted (admin only, or another handle's "
				"private block)" },
	{ -ENOENT,		"no such pool or block name (or no poolmgrd "
				"socket at that path)" },
	{ -EEXIST,		"a pool (or block name) with that name exists" },
	{ -EBUSY,		"in use: the pool has live blocks or open "
				"handles, the shared block cannot move, "
				"the block has a name, or it is being moved "
				"or zeroed for its holder" },
	{ -EBADF,		"no such pool handle on this connection (closed, "
				"or its pool destroyed by force)" },
	{ -EUSERS,		"too many clients connected to poolmgrd" },
	{ -E2BIG,		"batch larger than POOL_BATCH_MAX" },
	{ -ENOSPC,		"poolmgrd already has the most pools it "
				"allows, or the pool the most block names; "
				"or a list has more entries than it may "
				"hold (an access control list, uids' own "
				"user quotas) or than the room given" },
	{ -EMFILE,		"too many open files, or pool handles on this "
				"connection" },
	{ -EMLINK,		"the block has the most holders it may have" },
	{ -ENAMETOOLONG,	"pool name longer than 64 bytes, block name "
				"longer than 255, or socket path too long" },
	{ -EPROTONOSUPPORT,	"protocol version not supported by poolmgrd" },
	{ -EOPNOTSUPP,		"not supported: a request poolmgrd does not "
				"know, a lookup or an allocation that waits, "
				"blocks persistent from their allocation "
				"(alone or in a batch), a "
				"free of persistent blocks by age, a pool's "
				"limit, a user quota, uids' own user quotas, "
				"names listed in pages or an access control "
				"list (poolmgrd is older than them), a cache on "
				"this handle, or NUMA policies where poolmgrd "
				"runs" },
	{ -EPROTO,		"malformed or unexpected reply from poolmgrd" },
	{ -ECONNRESET,		"connection to poolmgrd lost" },
	{ -ECHILD,		"connection or pool inherited across fork(): "
				"the child must connect and open its own" },
	/* connect(2) to a directory or a file is refused as well. */
	{ -ECONNREFUSED,	"no poolmgrd listens on the socket, or the "
				"path is not a socket (connection refused)" },
	{ -EFAULT,		"the pool's invariant check failed" },
	{ -EMSGSIZE,		"request too large for the protocol" },
	{ -ENODEV,		"no such NUMA node with memory that poolmgrd "
				"may use (or a pool without a share map)" },
	{ -EROFS,		"the pool is defined in poolmgrd's "
				"configuration file: change it there and "
				"reload (which also makes it again if it "
				"was destroyed)" },
	{ -ESRCH,		"the process has no such handle open on the "
				"pool" },
	{ -EAGAIN,		"not now: as many lookups or allocations wait "
				"in the pool as poolmgrd allows "
				"(max_name_waits, max_alloc_waits), or checks "
				"of large pools are paced" },
	{ -ETIMEDOUT,		"timed out: no name (or room) came within "
				"the wait, or poolmgrd did not answer a "
				"connect in time" },
	{ -ENOBUFS,		"no buffer space to send the request to "
				"poolmgrd: nothing was sent, try again" },
	{ -EIO,			"a block poolmgrd zeroed or moved in steps "
				"was gone when the steps ended (its books "
				"are wrong)" },
	{ -ESTALE,		"the block has been persistent for less than "
				"the age asked: perhaps a new block made at "
				"that offset since it was listed" },
};

/*
 * The codes whose text above names the one case they can mean: the
 * daemon's words for such a refusal could only say it again, so the
 * programs that show both leave them out (pool_message_adds).  Each other
 * text sums up several cases, or is the C library's, and the words say
 * which case it was.
 */
static const int whole_texts[] = { -EROFS };

/*
 * Every text is static: a program may keep it, or show two codes' texts
 * in one printf, and a signal handler may ask for one.  A code that no
 * errno value has reads as itself, "unknown error".
 */
POOL_API const char *
pool_strerror(int err)
{
	const char	*text;
	size_t		 i;

	for (i = 0; i < sizeof client_errors / sizeof client_errors[0]; i++) {
		if (client_errors[i].code == err)
			return client_errors[i].text;
	}

	/* Some other errno: the C library's text. */
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	text = strerrordesc_np(err);
	return text != NULL ? text : "unknown error";
}

POOL_API int
pool_message_adds(int err)
{
	size_t	i;

	for (i = 0; i < sizeof whole_texts / sizeof whole_texts[0]; i++) {
		if (whole_texts[i] == err)
			return 0;
	}
	return 1;
}
