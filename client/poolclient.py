"""poolclient - poolmgr's client library (libpoolclient) from Python.

A thin binding over the C library with ctypes: the same daemon protocol,
the same client-side cache, the same errors.  A program connects to
poolmgrd, opens a named pool (which maps the pool's memory once) and
allocates blocks named by offsets: the same offset means the same bytes in
every process that has the pool open, C or Python.

    import poolclient

    with poolclient.connect() as conn, conn.open("default") as pool:
        off = pool.alloc(4096)
        pool.buffer(off, 5)[:] = b"hello"
        pool.publish("greeting", off)

Pool.buffer gives a memoryview straight over the pool's mapping, no copy:
numpy.frombuffer(pool.buffer(off, n), dtype) works on it in place.

Every failure of the library raises PoolError, an OSError whose errno is
the library's code made positive (errno.ENOMEM: the pool is full) and
whose strerror is pool_strerror's text.

The library is found at $POOLCLIENT_LIB when set, else where `make
install` put it, else in the build/ directory beside this file's client/
(an uninstalled tree), else by the dynamic loader (libpoolclient.so.1):
see poolclient_lib, which loads it.
"""

import ctypes
import dataclasses
import errno as _errno
import math
import numbers
import operator
import os
import pwd
import time
import typing
import weakref

from poolclient_lib import (ACL_FORMAT_NAMES, ACL_GROUP, ACL_MAX,
                            ACL_PARSE_NO_RIGHTS, ACL_READ, ACL_USER,
                            ACL_WRITE, ALLOC_PART, ALLOC_PERSIST, ALLOC_ZERO,
                            BLOCK_NAME_MAX, CREATE_GROUP,
                            CREATE_OWNER, LOOKUP_RETAIN,
                            NAME_MAX, PUBLISH_EVICTABLE,
                            PUBLISH_REPLACE, SET_GROUP, SET_MODE, SET_OWNER,
                            SET_ACL, SET_LIMIT, SET_QUOTA, SET_RETAIN,
                            SET_USER_QUOTA, USER_QUOTA_MAX, _AclEntry,
                            _BlockHolder, _BlockInfo,
                            _ClientInfo, _CreateOpts,
                            _DaemonStats, _Named, _Persisted, _SetOpts, _Stats,
                            _User, _UserQuota,
                            free as _free, lib as _lib)
# How a handle is shared by threads and closed while calls run.
from poolclient_handle import _Closing, _Handle, _take_all, _Views

__all__ = ["PoolError", "Connection", "Pool", "PoolStats", "DaemonStats",
           "ClientInfo", "BlockInfo", "BlockHolder",
           "Persisted", "User", "NamedBlock", "NameList", "Lookup",
           "AclEntry", "acl_parse", "acl_text", "ACL_MAX",
           "USER_QUOTA_MAX", "connect",
           "OFF_NONE", "NAME_MAX", "BLOCK_NAME_MAX", "BATCH_MAX",
           "RETAIN_NONE", "NUMA_NONE", "NUMA_PREFERRED", "NUMA_BIND",
           "NUMA_OTHER"]

OFF_NONE = (1 << 64) - 1
"""The null offset (POOL_OFF_NONE)."""
BATCH_MAX = 4096
"""Most blocks one batch call may allocate or free (POOL_BATCH_MAX)."""
RETAIN_NONE = (1 << 64) - 1
"""create_pool(retain=RETAIN_NONE): give every free page back at once."""
NUMA_NONE, NUMA_PREFERRED, NUMA_BIND, NUMA_OTHER = 0, 1, 2, 3
"""enum pool_numa_policy: create_pool(numa_policy=...), PoolStats.numa_policy
(NUMA_OTHER only there: a policy the daemon did not set)."""

DEFAULT_SOCKET = "/run/poolmgrd/poolmgrd.sock"
"""Where connect() goes without a socket and $POOLMGRD_SOCKET
(POOL_DEFAULT_SOCKET)."""

_u64, _size = ctypes.c_uint64, ctypes.c_size_t


class PoolError(OSError):
    """A failure of libpoolclient: .errno is the (positive) errno code,
    .strerror what pool_strerror says of it, followed by the daemon's own
    words for the refusal when it gave some and they add to that text
    (pool_last_message, pool_message_adds): "...; poolmgrd says: pool cam
    holds 1.0 MiB of its 1.0 MiB limit".  A connect to a path with no
    socket, or no daemon's, or to a socket that keeps the caller out, is
    the exception: the library's own words are the text, as they are not
    the daemon's (see _connect_failure)."""

    def __init__(self, code, text=None):
        code = abs(code)
        if text is None:
            text = _lib.pool_strerror(-code).decode(errors="replace")
            words = _lib.pool_last_message(-code)
            # poolctl's rule, from the library: a text that names the
            # code's one case is not followed by the same again.
            if words and _lib.pool_message_adds(-code):
                text += "; poolmgrd says: " + words.decode(errors="replace")
        super().__init__(code, text)


def _check(rc):
    """Raise PoolError for a negative return code."""
    if rc < 0:
        raise PoolError(rc)
    return rc


def _connect_failure(rc, path):
    """The PoolError of a failed pool_connect to path (None: the default).
    A socket that is not there (ENOENT), one that keeps this process out
    (EACCES), a path that is no socket or a socket nobody listens on
    (ECONNREFUSED), a socket of another type (EPROTOTYPE), and a daemon
    that did not answer in time (ETIMEDOUT), are the failures the library
    words itself, where the code alone would read as a pool or a name, or
    not say what refused, what is at the path or which bound: no daemon
    answered, so those words, which name the path the library tried (and
    the socket's owner, group and mode, what is there, or the bound), are
    the whole text and not labelled as the daemon's; so are a path that is
    empty or too long for a socket address (EINVAL, ENAMETOOLONG), which
    the library words before it tries anything.  Any other failure reads as usual: a daemon that turned the
    connection away says which limit it was, and an EINVAL for a path
    that is not empty is a daemon's, labelled so."""
    library_einval = path is not None and len(path) == 0
    if rc in (-_errno.ENOENT, -_errno.EACCES, -_errno.ECONNREFUSED,
              -_errno.EPROTOTYPE, -_errno.ETIMEDOUT,
              -_errno.ENAMETOOLONG) or \
            (rc == -_errno.EINVAL and library_einval):
        words = _lib.pool_last_message(rc)
        if words:
            return PoolError(rc, words.decode(errors="replace"))
    return PoolError(rc)


def _closed(what):
    """The error of a call on a closed connection or pool (what)."""
    return PoolError(_errno.EBADF, what + " is closed")


def _bad(what):
    """A bad argument, as the C library reports one."""
    return PoolError(_errno.EINVAL, "invalid argument: " + what)


_WAIT_MAX = (2**31 - 1) // 1000	# seconds: timeout_ms is a C int


def _seconds(v, what):
    """v, a number of seconds of any real type but bool, as an int or a
    float; TypeError for anything else."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    if not isinstance(v, bool):
        if hasattr(type(v), "__index__"):	# numpy's integers ...
            return operator.index(v)
        if isinstance(v, numbers.Real):		# ... and its floats
            return float(v)
    raise TypeError("%s must be a number of seconds, not %s" %
                    (what, type(v).__name__))


def _connect_ms(timeout):
    """Connection's timeout (seconds, or -1 for no bound) as the timeout_ms
    of pool_connect_timeout, rounded up to a millisecond."""
    timeout = _seconds(timeout, "timeout")
    if timeout == -1:
        return -1
    if not 0 <= timeout <= _WAIT_MAX:
        raise _bad("timeout %r out of range" % (timeout,))
    return math.ceil(timeout * 1000)


def _wait_ms(wait):
    """lookup's and alloc's wait (seconds, None, or -1 for no end) as the
    timeout_ms of pool_lookup_wait and pool_alloc_wait, rounded up to a
    millisecond."""
    if wait is None:
        return 0
    wait = _seconds(wait, "wait")
    if wait == -1:
        return -1
    if not 0 <= wait <= _WAIT_MAX:
        raise _bad("wait %r out of range" % (wait,))
    return math.ceil(wait * 1000)


# The longest one pool_lookup_wait of a lookup (one pool_alloc_wait of an
# alloc) may wait.  ctypes lets go
# of the GIL for the C call, which goes on through signals, and Python
# runs its signal handlers only once the call has returned: a wait asked
# for whole could not be stopped by Ctrl-C.  A quarter second answers a
# Ctrl-C as soon as a person expects, and costs a waiting lookup four
# round trips a second, a few microseconds of the daemon's time each.
_PART_MS = 250


def _parts(ms):
    """The timeout_ms of each part (pool_lookup_wait, pool_alloc_wait) of
    a wait of ms (> 0, or
    -1: without end), until its deadline, read once on the monotonic
    clock as the C library reads its own, and whether another part
    follows if it runs out.  No part ends past the
    deadline rounded up to a millisecond, the unit of timeout_ms (as the
    whole wait was), and no part is 0, which would not wait at all."""
    if ms < 0:
        while True:
            yield _PART_MS, True
    deadline = time.monotonic() + ms / 1000
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        part = math.ceil(left * 1000)
        yield min(_PART_MS, part), part > _PART_MS


# The most characters of a name the daemon's words show (NAME_SHOWN_MAX).
_NAME_SHOWN_MAX = 128


def _name_shown(name):
    """Block name (bytes) as the daemon's words show it (name_shown in
    daemon/dispatch_names.c), for words of the library's own that stand
    for them: quoted, printable ASCII as it is, and the quote, the
    backslash and every other byte as \\xHH; at most _NAME_SHOWN_MAX
    characters of it, never half an escape, and "..." after the quote of
    a name cut short."""
    shown, n = [], 0
    for b in name:
        c = chr(b) if 0x20 <= b < 0x7f and b not in b"'\\" else \
            "\\x%02x" % b
        if n + len(c) > _NAME_SHOWN_MAX:
            return "'%s'..." % "".join(shown)
        shown.append(c)
        n += len(c)
    return "'%s'" % "".join(shown)


def _whole_wait(said, what, ms, use_said):
    """What did not come in a wait of ms: with use_said, the daemon's
    words for its last part (said), which for an allocation say what held
    it back (no room, the limit, the user quota), as what alone cannot;
    they end "in N ms" with the part's time, made the wait's.  Otherwise,
    or without such words (none, or the C library's own "the wait ran out
    in N ms"), the library's: what in ms.  (Not pool_strerror's, which
    says nothing of the name or size.)"""
    words = said.decode(errors="replace")
    head, sep, tail = words.rpartition(" in ")
    if use_said and sep and head != "the wait ran out" and \
            tail.endswith(" ms") and tail[:-3].isdigit():
        return "%s in %d ms" % (head, ms)
    return "%s in %d ms" % (what, ms)


def _lookup_ran_out(name, after, pool):
    """What did not come in a lookup's wait that ran out, as the daemon
    says it (but for the longest names with a long generation, whose
    words it shortens to fit what the C library keeps): the name after
    generation 0, a generation above after otherwise."""
    if after == 0:
        return "no name %s came in pool %s" % (_name_shown(name), pool)
    return "no generation of %s above %d came in pool %s" % (
        _name_shown(name), after, pool)


def _wait_ended(rc, ms):
    """rc, the answer of a wait of ms's part (> 0) that did not run out:
    rc itself if it is no error; else its PoolError.  An EDQUOT (the
    quota per connection held the wait back to its end) says "still
    after N ms" with its part's time: the whole wait's, as the C
    library's words for a wait asked more than once say."""
    if rc >= 0:
        return rc
    if rc == -_errno.EDQUOT and ms > 0:
        said = (_lib.pool_last_message(rc) or b"").decode(errors="replace")
        head, sep, tail = said.rpartition("still after ")
        if sep and tail.endswith(" ms") and tail[:-3].isdigit():
            raise PoolError(rc, "%s; poolmgrd says: %s%s%d ms" % (
                _lib.pool_strerror(rc).decode(errors="replace"), head, sep,
                ms))
    raise PoolError(rc)


def _uint(v, what, bits=64, zero=True):
    """v, an integer of any type with __index__ (numpy's too) but bool,
    as the int of a C unsigned integer of bits bits, or -EINVAL."""
    if isinstance(v, bool) or not hasattr(type(v), "__index__"):
        raise TypeError("%s must be an int, not %s" % (what,
                                                       type(v).__name__))
    v = operator.index(v)
    if v < (0 if zero else 1) or v >> bits:
        raise _bad("%s %d out of range" % (what, v))
    return v


def _name(s, what="name"):
    """A str or bytes name as C bytes; -EINVAL for an embedded NUL."""
    if isinstance(s, str):
        s = s.encode()
    elif not isinstance(s, (bytes, bytearray)):
        raise TypeError("%s must be str or bytes, not %s" %
                        (what, type(s).__name__))
    if b"\0" in s:
        raise _bad("%s holds a NUL byte" % what)
    return bytes(s)


def _text(b):
    """A fixed C char array's text."""
    return b.decode(errors="replace")


def _record(cls, c):
    """A dataclass cls from structure c: the fields of the same names."""
    kw = {}
    for f in dataclasses.fields(cls):
        v = getattr(c, f.name)
        if isinstance(v, bytes):
            v = _text(v)
        elif f.type in (bool, "bool"):
            v = bool(v)
        kw[f.name] = v
    return cls(**kw)


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """Statistics of a pool: every field of struct pool_stats (see
    client/poolclient.h for what each counts)."""
    name: str
    max_size: int
    committed_bytes: int
    allocated_bytes: int
    requested_bytes: int
    free_bytes: int
    largest_free: int
    live_blocks: int
    clients: int
    allocs: int
    frees: int
    failed_allocs: int
    invalid_frees: int
    cached_bytes: int
    metadata_bytes: int
    released_bytes: int
    persistent_blocks: int
    granularity: int
    page_size: int
    mode: int
    uid: int
    gid: int
    alloc_waits: int
    quota: int
    client_cached_bytes: int
    retain_bytes: int
    free_resident_bytes: int
    books_bytes: int
    named_blocks: int
    release_steps: int
    retain_steps: int
    numa_policy: int
    numa_node: int
    evictions: int
    evicted_bytes: int
    limit: int
    user_quota: int
    quota_refusals: int
    user_quota_refusals: int
    acl_entries: int
    user_quota_entries: int


@dataclasses.dataclass(frozen=True)
class DaemonStats:
    """The daemon's own statistics: every field of struct
    pool_daemon_stats but the reserved room (see client/poolclient.h for
    what each counts)."""
    server: str
    pid: int
    uid: int
    gid: int
    max_connections: int
    started: int
    uptime_ms: int
    restarts: int
    connections: int
    connections_total: int
    connections_refused: int
    hello_timeouts: int
    requests_total: int
    requests_refused: int
    bad_messages: int
    held: int
    pools: int
    live_blocks: int
    allocated_bytes: int
    rss_bytes: int
    log_lines_left_out: int
    features: int
    admin_connections: int
    max_connections_per_uid: int
    kept_connections: int


@dataclasses.dataclass(frozen=True)
class ClientInfo:
    """One open handle (struct pool_client_info), as `poolctl clients`."""
    pid: int
    uid: int
    gid: int
    name: str
    pool: str
    handle: int
    read_only: int
    blocks: int
    bytes: int
    cached_bytes: int


@dataclasses.dataclass(frozen=True)
class Persisted:
    """One uid's persistent blocks in a pool (struct pool_persisted)."""
    uid: int
    blocks: int
    bytes: int


@dataclasses.dataclass(frozen=True)
class User:
    """One uid's holdings in a pool (struct pool_user): its connections
    and handles there, the bytes its handles hold, its persistent blocks
    and their bytes, and the user quota that binds it (0: none), which
    quota_own says is its own (Connection.user_quotas) and not the
    pool's (both 0 and False from a daemon without uids' own)."""
    uid: int
    connections: int
    handles: int
    held_bytes: int
    persisted_blocks: int
    persisted_bytes: int
    quota: int
    quota_own: bool


@dataclasses.dataclass(frozen=True)
class NamedBlock:
    """One named block (struct pool_named), as `poolctl names`."""
    name: str
    offset: int
    usable_size: int
    publisher: int
    evictable: bool
    generation: int


@dataclasses.dataclass(frozen=True)
class BlockHolder:
    """An open handle holding a block (struct pool_block_holder): its
    process and uid, and its number as `poolctl clients` shows it."""
    pid: int
    uid: int
    handle: int


# struct pool_block_info's flags.
_BLOCK_NAMED, _BLOCK_EVICTABLE, _BLOCK_PERSISTENT, _BLOCK_BUSY = 1, 2, 4, 8


@dataclasses.dataclass(frozen=True)
class BlockInfo:
    """One live block of a pool (struct pool_block_info), as `poolctl
    blocks` shows it: its offset, usable size and the bytes asked for;
    how many references handles hold and the first few holders; whether
    a name holds it (and may evict it), whether it is persistent (and
    whose quota it counts in: persister; for how many milliseconds:
    persisted_ms), whether the daemon is moving or zeroing it (busy)."""
    offset: int
    usable_size: int
    requested: int
    holders: int
    first_holders: typing.Tuple[BlockHolder, ...]
    named: bool
    evictable: bool
    persistent: bool
    persister: typing.Optional[int]
    busy: bool
    persisted_ms: typing.Optional[int] = None


def _block_info(c):
    """A BlockInfo from a struct pool_block_info."""
    holders = tuple(BlockHolder(h.pid, h.uid, h.handle)
                    for h in c.first_holders[:c.nlisted])
    persistent = bool(c.flags & _BLOCK_PERSISTENT)
    return BlockInfo(c.offset, c.usable_size, c.requested, c.holders,
                     holders, bool(c.flags & _BLOCK_NAMED),
                     bool(c.flags & _BLOCK_EVICTABLE), persistent,
                     c.persister if persistent else None,
                     bool(c.flags & _BLOCK_BUSY),
                     c.persisted_ms if persistent else None)


class _Pair(typing.NamedTuple):
    offset: int
    usable_size: int


class Lookup(_Pair):
    """A name's block: its offset and usable size, a pair as before
    (`off, n = p.lookup(name)`), and the name's generation as an
    attribute (each publish gives the name a newer one), which _replace
    keeps unless given generation= (_make of a pair: 0)."""

    # Where none was given: a Lookup made by namedtuple's _make.
    generation = 0

    def __new__(cls, offset, usable_size, generation=0):
        self = super().__new__(cls, offset, usable_size)
        self.generation = generation
        return self

    def _replace(self, /, **changes):
        """A Lookup with the fields given changed, generation among them,
        and the others as they were (namedtuple's _replace would make
        one without the generation)."""
        generation = changes.pop("generation", self.generation)
        return type(self)(*super()._replace(**changes), generation)

    def __repr__(self):
        return "Lookup(offset=%d, usable_size=%d, generation=%d)" % (
            self.offset, self.usable_size, self.generation)


_ACL_KINDS = {ACL_USER: "user", ACL_GROUP: "group"}
_ACL_RIGHTS = {ACL_READ | ACL_WRITE: "rw", ACL_READ: "r", ACL_WRITE: "w",
               0: "-"}


class AclEntry(typing.NamedTuple):
    """An entry of a pool's access control list (struct pool_acl_entry):
    kind "user" or "group", id a uid or a gid (a number), rights "rw",
    "r", "w" or "-" (an entry that refuses).  Lists come back sorted as
    the daemon keeps them: users, then groups, each by id."""
    kind: str
    id: int
    rights: str

    def text(self, names=True):
        """The entry in pool_acl_parse's words, "user:alice:rw"; with
        names, a name for the id where the system's database has one."""
        return acl_text([self], names)


def _acl_entry(c):
    """An AclEntry from a struct pool_acl_entry."""
    return AclEntry(_ACL_KINDS.get(c.kind, str(c.kind)), c.id,
                    _ACL_RIGHTS[c.rights & (ACL_READ | ACL_WRITE)])


def _acl_from_text(text, flags):
    """A list in words as a ctypes array of struct pool_acl_entry, and
    its length, read by the C library (pool_acl_parse): the same words
    poolctl and poolmgrd.conf take, names looked up alike."""
    out = (_AclEntry * ACL_MAX)()
    err = ctypes.create_string_buffer(256)
    rc = _lib.pool_acl_parse(_name(text, "access control list"), flags, out,
                             ACL_MAX, err, len(err))
    if rc < 0 and err.value:
        # The library's words for what is wrong and where.
        raise PoolError(rc, "invalid access control list: " +
                        _text(err.value))
    return out, _check(rc)


def _acl_from_list(entries, rights_matter):
    """An iterable of AclEntry (or (kind, id, rights) tuples; for a
    removal (kind, id) will do) as a ctypes array and its length."""
    if isinstance(entries, (bytes, bytearray)) or \
            not hasattr(entries, "__iter__"):
        raise TypeError("an access control list is a str or a list of "
                        "AclEntry, not %s" % type(entries).__name__)
    items = list(entries)
    if len(items) > ACL_MAX:
        raise PoolError(_errno.ENOSPC, "an access control list holds at "
                        "most %d entries, not %d" % (ACL_MAX, len(items)))
    kinds = {v: k for k, v in _ACL_KINDS.items()}
    rights = {v: k for k, v in _ACL_RIGHTS.items()}
    out = (_AclEntry * max(len(items), 1))()
    for i, e in enumerate(items):
        if not isinstance(e, tuple) or \
                len(e) not in ((2, 3) if not rights_matter else (3,)):
            raise TypeError("access control list entry %r: an AclEntry "
                            "(kind, id, rights)" % (e,))
        if e[0] not in kinds:
            raise _bad("access control list entry %r: kind is \"user\" "
                       "or \"group\"" % (e,))
        out[i].kind = kinds[e[0]]
        out[i].id = _uint(e[1], "access control list id", 32)
        if rights_matter:
            if e[2] not in rights:
                raise _bad("access control list entry %r: rights are "
                           "\"rw\", \"r\", \"w\" or \"-\"" % (e,))
            out[i].rights = rights[e[2]]
    return out, len(items)


def _acl_array(acl, rights_matter=True):
    """acl, a str in pool_acl_parse's words ("" and "none": no entry) or
    an iterable of AclEntry, as a ctypes array and its length."""
    if isinstance(acl, (str, bytes, bytearray)):
        return _acl_from_text(acl, 0 if rights_matter else
                              ACL_PARSE_NO_RIGHTS)
    return _acl_from_list(acl, rights_matter)


# Nobody's uid, (uint32_t)-1: no user quota entry may name it.
_NOBODY = (1 << 32) - 1


def _uquota_uid(who):
    """The uid of a key of user_quotas: an int, or a user's name (str or
    bytes) from the password database, as poolctl looks it up (digits
    are the uid they spell, as poolctl reads them); not nobody's (EINVAL
    in words, where the library's would say none)."""
    uid = None
    if isinstance(who, (str, bytes, bytearray)):
        name = bytes(who).decode(errors="replace") \
            if not isinstance(who, str) else who
        if name.isascii() and name.isdigit():
            uid = _uint(int(name), "user quota's uid", 32)
        else:
            try:
                return pwd.getpwnam(name).pw_uid
            except (KeyError, ValueError):
                raise PoolError(_errno.ENOENT, "user quota of %r: no "
                                "such user" % (who,)) from None
    if uid is None:
        uid = _uint(who, "user quota's uid", 32)
    if uid == _NOBODY:
        raise _bad("user quota of %r: uid 4294967295 is nobody's: no "
                   "entry may name it" % (who,))
    return uid


def _uquota_arrays(quotas, removals):
    """quotas, a mapping of uid or user name to bytes (None: the entry
    taken out, where removals), as the ctypes arrays of the entries set
    and the uids removed, and their lengths.  A uid given twice (by its
    name and its number) is EINVAL: which was meant cannot be told."""
    if not hasattr(quotas, "items"):
        raise TypeError("user_quotas is a mapping of uid or user name to "
                        "bytes, not %s" % type(quotas).__name__)
    entries, rm, seen = [], [], {}
    for who, nbytes in quotas.items():
        uid = _uquota_uid(who)
        if uid in seen:
            raise _bad("user quota of %r: uid %d given twice (as %r)" %
                       (who, uid, seen[uid]))
        seen[uid] = who
        if nbytes is None and removals:
            rm.append(uid)
        elif nbytes is None:
            raise _bad("user quota of %r: None takes an entry out, and a "
                       "new pool has none" % (who,))
        else:
            entries.append((uid, _uint(nbytes, "user quota of %r" %
                                       (who,))))
    if len(entries) > USER_QUOTA_MAX:
        raise PoolError(_errno.ENOSPC, "a pool holds at most %d user quota "
                        "entries, not %d" % (USER_QUOTA_MAX, len(entries)))
    # More could name only uids without an entry (the daemon's rule).
    if len(rm) > USER_QUOTA_MAX:
        raise _bad("at most %d uids to remove, not %d (a pool holds at "
                   "most %d user quota entries)" % (USER_QUOTA_MAX, len(rm),
                                                    USER_QUOTA_MAX))
    arr = (_UserQuota * max(len(entries), 1))()
    for i, (uid, nbytes) in enumerate(entries):
        arr[i].uid, arr[i].bytes = uid, nbytes
    uids = (ctypes.c_uint32 * max(len(rm), 1))(*rm)
    return arr, len(entries), uids, len(rm)


def acl_parse(text, rights=True):
    """A list in words, as poolctl and poolmgrd.conf take it, as a list
    of AclEntry (pool_acl_parse): entries separated by commas or white
    space, each user:WHO:RIGHTS or group:WHO:RIGHTS (u: and g: too), WHO
    a name or a number, RIGHTS rw, r, w or - (or rw-, r--, -w-, ---); ""
    and "none" are no entry.  rights=False reads user:WHO and group:WHO
    (rights "-"), as a removal names entries.  PoolError EINVAL, ENOENT
    (no such user or group) or ENOSPC (more than ACL_MAX), with the
    library's words for what is wrong and where."""
    out, n = _acl_from_text(text, 0 if rights else ACL_PARSE_NO_RIGHTS)
    return [_acl_entry(out[i]) for i in range(n)]


def acl_text(entries, names=True):
    """entries (an iterable of AclEntry) in pool_acl_parse's words, by
    pool_acl_format: "user:alice:rw,group:20:r", "none" for no entry;
    with names, a user's or group's name for its id where the system's
    database has one, else the number."""
    arr, n = _acl_from_list(entries, True)
    flags = ACL_FORMAT_NAMES if names else 0
    need = _check(_lib.pool_acl_format(arr, n, flags, None, 0))
    buf = ctypes.create_string_buffer(need + 1)
    _check(_lib.pool_acl_format(arr, n, flags, buf, len(buf)))
    return _text(buf.value)


class NameList(list):
    """A list that may be cut (one message's worth): .total is how many
    there are, listed or not."""

    def __init__(self, items, total):
        super().__init__(items)
        self.total = total


def _array(fn, cls, *args):
    """Call a C function that returns a malloc'd array of structures and
    a count (and a total, if it has one): the records, and the total."""
    out = ctypes.POINTER(cls[0])()
    n, total = _size(), _size()
    extra = (ctypes.byref(total),) if cls[2] else ()
    # The call inside: an exception as it returns (a signal handler's)
    # frees the array too (free(NULL) if it made none).
    try:
        _check(fn(*args, ctypes.byref(out), ctypes.byref(n), *extra))
        items = [_record(cls[1], out[i]) for i in range(n.value)]
    finally:
        _free(out)
    return items, (total.value if cls[2] else n.value)


def _names_page(c, pool, prefix, after):
    """One page of names: pool_names_after's from after, or pool_names'
    (after None: the one reply, from the first): its NamedBlocks, the
    total, and the bytes of its last name (where the next page starts: a
    name that is not UTF-8 would not survive its str; after, or b"", if
    it lists none)."""
    out = ctypes.POINTER(_Named)()
    n, total = _size(), _size()
    try:
        # The call inside, as _array's.
        if after is None:
            after = b""
            _check(_lib.pool_names(c, pool, prefix, ctypes.byref(out),
                                   ctypes.byref(n), ctypes.byref(total)))
        else:
            _check(_lib.pool_names_after(c, pool, prefix, after,
                                         ctypes.byref(out), ctypes.byref(n),
                                         ctypes.byref(total)))
        items = [_record(NamedBlock, out[i]) for i in range(n.value)]
        last = out[n.value - 1].name if n.value else after
    finally:
        _free(out)
    return items, total.value, last


def _name_page(items, total, last):
    """A NameList of names, with .last (the bytes of its last name)."""
    page = NameList(items, total)
    page.last = last
    return page


class Connection(_Closing):
    """A connection to poolmgrd (pool_connect).  A context manager: close
    at exit.  Usable from many threads at once."""

    def __init__(self, socket=None, timeout=None):
        """Connect to poolmgrd at socket (None: $POOLMGRD_SOCKET, else
        the default socket) within timeout seconds (None: the library's
        bound, $POOLMGR_CONNECT_TIMEOUT or 30 s; -1: none; a fraction
        allowed): a daemon that does not take the connection and answer
        its hello by then is PoolError ETIMEDOUT, its text naming the
        path and the bound (pool_connect_timeout); 0 gives it no time,
        ETIMEDOUT unless another error comes first."""
        ptr = ctypes.c_void_p()
        # A path's bytes as the file system has them: a name os.listdir
        # or argv gave, not UTF-8, is escaped in str (os.fsencode).
        path = None if socket is None else _name(os.fsencode(socket),
                                                   "socket path")
        ms = None if timeout is None else _connect_ms(timeout)
        self._pools = weakref.WeakSet()
        # Closed until the connection is stored in it, in a step where no
        # exception can come: then it is this object's, closed when
        # collected.
        self._h = _Handle(None, "connection", _closed)
        try:
            if ms is None:
                rc = _lib.pool_connect(path, ctypes.byref(ptr))
            else:
                rc = _lib.pool_connect_timeout(path, ms, ctypes.byref(ptr))
            if rc < 0:
                raise _connect_failure(rc, path)
            self._h._ptr = ptr.value
        except BaseException:
            # A signal's exception as the connection comes (as the C
            # call returns), before it is stored: nobody else could close
            # it.  The C library sets it only on success.
            if self._h._ptr is None and ptr.value:
                _lib.pool_disconnect(ptr)
            raise

    @property
    def closed(self):
        """True once close has run."""
        return self._h.closed

    def close(self):
        """Close every pool still open, then the connection; again is a
        no-op.  BufferError (and nothing closed) while a buffer of one of
        its pools is still in use."""
        # One step for the connection and every pool: a pool that
        # another thread's open adds meanwhile, or a buffer that one
        # makes, is waited for and seen, not freed with the connection
        # behind its back.
        def pools():
            return [p._h for p in list(self._pools) if not p._h.closed]

        def refuse():
            for p in list(self._pools):
                if not p._h.closed:
                    p._refuse_if_exported()

        if not self._h.closed:
            _take_all(pools, refuse, first=[self._h], again=self.close)
        # Also what a close that an exception broke left pending.
        self._h.finish(_lib.pool_disconnect)	# closes the pools still open

    def open(self, name, read_only=False):
        """Open pool name and map it: a Pool.  read_only maps it
        PROT_READ, as the pool's mode may require."""
        fn = _lib.pool_open_readonly if read_only else _lib.pool_open
        out = ctypes.c_void_p()
        bname = _name(name, "pool name")
        with self._h as c:
            # The Pool first, closed: the handle is its own from the
            # step that stores it there, where no exception can come.
            p = Pool(self, bname.decode(errors="replace"), bool(read_only))
            try:
                _check(fn(c, bname, ctypes.byref(out)))
                p._h._ptr = out.value
                p._size = _lib.pool_size(out.value)
                # Listed before the call ends: a close that waits for it
                # then sees the pool it must mark closed.
                self._pools.add(p)
            except BaseException:
                # A signal's exception as the handle comes, before the
                # Pool has it (one that has it closes when collected).
                # The C library sets it only on success.
                if p._h._ptr is None and out.value:
                    _lib.pool_close(out.value)
                raise
        return p

    def create_pool(self, name, max_size, granularity=0, mode=0, quota=0,
                    retain=0, page_size=0, numa_node=None, numa_policy=None,
                    uid=None, gid=None, limit=0, user_quota=0, acl=None,
                    user_quotas=None):
        """Create a pool (the daemon's uid, root or the admin group):
        max_size bytes; granularity 0 = 16; mode 0 = 0600; quota bytes
        per connection, 0 = none; retain 0 = the daemon's default,
        RETAIN_NONE = none; page_size 0 = the system page, or a huge page
        size the kernel offers (all reserved now: ENOMEM if too few);
        numa_node None = no NUMA policy, else the node, placed by
        numa_policy (NUMA_PREFERRED when None, or NUMA_BIND); uid and gid
        (numbers) its owner and group from the start, None = the
        caller's; limit the most bytes its live blocks may hold together,
        0 = none (EOPNOTSUPP from a daemon without limits); user_quota
        the most bytes all the connections of one uid may hold in it
        together, with the blocks that uid made persistent, 0 = none
        (EOPNOTSUPP from a daemon without user quotas); acl its access
        control list from the start, as set_pool's (None: none);
        user_quotas the uids' own user quotas from the start, in the
        same request: a mapping of uid (or user name) to bytes, each in
        place of user_quota for that uid, 0 = none for it (None: none;
        EOPNOTSUPP from a daemon without them; at most USER_QUOTA_MAX)."""
        if numa_node is None:
            if numa_policy not in (None, NUMA_NONE):
                raise _bad("a NUMA policy needs numa_node")
            node, policy = 0, NUMA_NONE
        else:
            node = _uint(numa_node, "numa_node", 32)
            policy = NUMA_PREFERRED if numa_policy is None else \
                _uint(numa_policy, "numa_policy", 32)
        o = _CreateOpts(max_size=_uint(max_size, "max_size"),
                        granularity=_uint(granularity, "granularity", 32),
                        mode=_uint(mode, "mode", 32),
                        quota=_uint(quota, "quota"),
                        retain=_uint(retain, "retain"),
                        page_size=_uint(page_size, "page_size"),
                        numa_policy=policy, numa_node=node)
        if uid is not None:
            o.uid = _uint(uid, "uid", 32)
            o.flags |= CREATE_OWNER
        if gid is not None:
            o.gid = _uint(gid, "gid", 32)
            o.flags |= CREATE_GROUP
        s = _SetOpts(limit=_uint(limit, "limit"),
                     user_quota=_uint(user_quota, "user_quota"))
        s.which = (SET_LIMIT if s.limit else 0) | \
            (SET_USER_QUOTA if s.user_quota else 0)
        keep = self._set_acl(s, acl)	# the entries, alive for the call
        # None alone is none: an empty non-mapping is refused as any.
        uq, nuq, _, _ = _uquota_arrays({} if user_quotas is None else
                                       user_quotas, False)
        with self._h as c:
            _check(_lib.pool_create_user_quotas(c, _name(name),
                                                ctypes.byref(o),
                                                ctypes.byref(s), uq, nuq))
        del keep

    @staticmethod
    def _set_acl(s, acl):
        """Put acl (None: no change) into _SetOpts s: POOL_SET_ACL, the
        entries and their number.  Returns the ctypes array s points to,
        which the caller keeps until its call returns."""
        if acl is None:
            return None
        arr, n = _acl_array(acl)
        s.which |= SET_ACL
        s.acl = ctypes.addressof(arr) if n else None
        s.nacl = n
        return arr

    def set_pool(self, name, mode=None, uid=None, gid=None, quota=None,
                 retain=None, limit=None, user_quota=None, acl=None,
                 user_quotas=None):
        """Change the settings given (not None) of live pool name, all or
        none: mode (1 to 0o777), uid and gid (numbers), quota (bytes per
        connection, 0 = none), retain (as create_pool's: 0 = the daemon's
        default, RETAIN_NONE = none), limit (bytes of the pool's live
        blocks, 0 = none; admin only), user_quota (bytes all the
        connections of one uid may hold, with its persistent blocks, 0 =
        none; admin only; lowered below what a uid holds, it takes
        nothing back), acl (the pool's access control list, replaced
        whole: a str in acl_parse's words, "user:alice:rw,group:video:r",
        "" or "none" for none, or a list of AclEntry; EINVAL for a kind
        and id twice, ENOSPC past ACL_MAX; acl_modify changes some
        entries without losing another's change).  The daemon's uid,
        root and the admin group may change any, the pool's owner its
        mode, its list and its group (to one of its own): else EPERM.
        EROFS for a pool the daemon's configuration file defines;
        handles opened before keep their access.  user_quotas changes
        some uids' own user quotas in the same request, keeping the
        others: a mapping of uid (or user name) to bytes (0 = no user
        quota for that uid) or to None (its entry taken out: the pool's
        user_quota binds it again); admin only; ENOSPC past
        USER_QUOTA_MAX entries, EOPNOTSUPP from a daemon without them."""
        o = _SetOpts()
        for bit, field, value, bits in (
                (SET_MODE, "mode", mode, 32), (SET_OWNER, "uid", uid, 32),
                (SET_GROUP, "gid", gid, 32), (SET_QUOTA, "quota", quota, 64),
                (SET_RETAIN, "retain", retain, 64),
                (SET_LIMIT, "limit", limit, 64),
                (SET_USER_QUOTA, "user_quota", user_quota, 64)):
            if value is not None:
                setattr(o, field, _uint(value, field, bits))
                o.which |= bit
        keep = self._set_acl(o, acl)	# the entries, alive for the call
        uq, nuq, rm, nrm = _uquota_arrays({} if user_quotas is None else
                                          user_quotas, True)
        with self._h as c:
            _check(_lib.pool_set_user_quotas(c, _name(name), ctypes.byref(o),
                                             uq, nuq, rm, nrm))
        del keep

    def user_quotas(self, name):
        """The uids' own user quotas of pool name (read permission): a
        dict of uid to bytes (0: no user quota for that uid), in uid
        order (pool_user_quota_get); EOPNOTSUPP from a daemon without
        them."""
        out = (_UserQuota * USER_QUOTA_MAX)()
        with self._h as c:
            n = _check(_lib.pool_user_quota_get(c, _name(name), out,
                                                USER_QUOTA_MAX))
        return {out[i].uid: out[i].bytes
                for i in range(min(n, USER_QUOTA_MAX))}

    def acl(self, name):
        """The access control list of pool name (read permission), a
        list of AclEntry sorted as the daemon keeps it: users, then
        groups, each by id (pool_acl_get); EOPNOTSUPP from a daemon
        without lists."""
        out = (_AclEntry * ACL_MAX)()
        with self._h as c:
            n = _check(_lib.pool_acl_get(c, _name(name), out, ACL_MAX))
        return [_acl_entry(out[i]) for i in range(min(n, ACL_MAX))]

    def acl_modify(self, name, add=None, remove=None):
        """Change some entries of pool name's list in one request and
        keep the others (pool_acl_modify): the entries of the kinds and
        ids remove names go (a str "user:alice,group:video" or a list of
        AclEntry or (kind, id) pairs, rights not looked at; one the list
        lacks is no error), then each entry of add is set, in place of
        the entry of its kind and id or added (as set_pool's acl).  All
        or nothing; no change another made meanwhile is lost.  Who may:
        as set_pool's acl.  EINVAL for add naming a kind and id twice,
        ENOSPC for a list past ACL_MAX."""
        add_arr, nadd = _acl_array(add if add is not None else [])
        rm_arr, nrm = _acl_array(remove if remove is not None else [],
                                 rights_matter=False)
        with self._h as c:
            _check(_lib.pool_acl_modify(c, _name(name), add_arr, nadd,
                                        rm_arr, nrm))

    def destroy_pool(self, name, force=False):
        """Destroy pool name; EBUSY while in use unless force."""
        fn = _lib.pool_destroy_force if force else _lib.pool_destroy
        with self._h as c:
            _check(fn(c, _name(name)))

    def list_pools(self):
        """PoolStats of every pool the caller may read."""
        with self._h as c:
            return _array(_lib.pool_list, (_Stats, PoolStats, False), c)[0]

    def stats(self, name):
        """PoolStats of pool name (read permission)."""
        s = _Stats()
        with self._h as c:
            _check(_lib.pool_stats_by_name(c, _name(name),
                                           ctypes.byref(s)))
        return _record(PoolStats, s)

    def daemon_stats(self):
        """DaemonStats of the daemon itself (anyone connected may ask);
        PoolError EOPNOTSUPP from a daemon older than the request."""
        s = _DaemonStats()
        with self._h as c:
            _check(_lib.pool_daemon_stats(c, ctypes.byref(s)))
        return _record(DaemonStats, s)

    def trim(self, name):
        """Give every free page of pool name back to the OS now (those
        past its high-water mark that reads made resident too); returns
        the bytes this trim gave back."""
        released = _u64()
        with self._h as c:
            _check(_lib.pool_trim_by_name(c, _name(name),
                                          ctypes.byref(released)))
        return released.value

    def check(self, name):
        """Run the daemon's invariant check on pool name: None, or
        PoolError EFAULT with the problem as its text."""
        msg = ctypes.create_string_buffer(512)
        with self._h as c:
            rc = _lib.pool_check_by_name(c, _name(name), msg, len(msg))
        if rc == -_errno.EFAULT and msg.value:
            raise PoolError(rc, _text(msg.value))
        _check(rc)

    def clients(self, pool=None):
        """Open handles (of pool, or of all pools): a NameList of
        ClientInfo, .total how many there are."""
        arg = None if pool is None else _name(pool)
        with self._h as c:
            items, total = _array(_lib.pool_clients_total,
                                  (_ClientInfo, ClientInfo, True), c, arg)
        return NameList(items, total)

    def persisted(self, name):
        """The uids with persistent blocks in pool name, the most bytes
        first: a NameList of Persisted, .total how many uids."""
        with self._h as c:
            items, total = _array(_lib.pool_persisted,
                                  (_Persisted, Persisted, True), c,
                                  _name(name))
        return NameList(items, total)

    def users(self, name):
        """Who holds what in pool name, per uid, the most bytes (held and
        persistent) first: a NameList of User, .total how many uids."""
        with self._h as c:
            items, total = _array(_lib.pool_users, (_User, User, True), c,
                                  _name(name))
        return NameList(items, total)

    def names(self, pool, prefix=""):
        """The names in pool that begin with prefix, in byte order, as
        many as one message holds (pool_names): a NameList of
        NamedBlock, .total how many have the prefix, .last the bytes of
        the last name listed (b"" for none), as a page of names_after
        has them: names_after(pool, prefix, .last) goes on from it."""
        with self._h as c:
            return _name_page(*_names_page(c, _name(pool),
                                           _name(prefix, "prefix"), None))

    def names_after(self, pool, prefix="", after=""):
        """A page of names: those of pool that begin with prefix and
        sort after after ("": from the first), in byte order, as many
        as one message holds (pool_names_after): a NameList of
        NamedBlock, .total the page's and those after it; the listing is
        done when it equals len().  .last is the bytes of the page's
        last name (after, if it lists none): the next page's after.  Not
        the last NamedBlock's .name: a name that is not UTF-8 reads with
        U+FFFD there, which sorts elsewhere, and a page from it would
        list names again, or skip some.  EOPNOTSUPP from a daemon
        without paging by name."""
        with self._h as c:
            return _name_page(*_names_page(c, _name(pool),
                                           _name(prefix, "prefix"),
                                           _name(after, "after")))

    def all_names(self, pool, prefix=""):
        """Every name of pool that begins with prefix, in byte order: a
        list of NamedBlock, asked page after page (names_after), each
        from the last name of the one before.  A name published or
        removed meanwhile is listed or not by where it sorts; none comes
        twice.  It ends at the last name, one published ahead of it
        meanwhile too (pool_names_after(3) says why that ends).
        EOPNOTSUPP from a daemon without paging by name."""
        names, after = [], b""
        while True:
            with self._h as c:
                items, total, after = _names_page(
                    c, _name(pool), _name(prefix, "prefix"), after)
            names.extend(items)
            if total == len(items):
                return names

    def blocks(self, pool, pid=0, handle=0, start=0):
        """The live blocks of pool (read permission) in address order,
        from offset start on: an iterator of BlockInfo that asks the
        daemon a page at a time, as it is consumed (a pool may hold
        millions); the first page is asked for at once, so that a bad
        request fails here.  pid (0: any) keeps only the blocks a handle
        of that process holds, and handle (0: any; needs pid) only those
        of its handles with that number.  Each page is as the pool is
        when it is asked: blocks made, freed or moved meanwhile may be
        listed or not, none twice at one offset (a block moved on past
        where the listing is may come again at its new place).  PoolError
        ESRCH when the process has no (such) handle on the pool, EINVAL
        for a pid, handle or start out of range, EOPNOTSUPP from a daemon
        older than the listing."""
        pid, handle = _uint(pid, "pid", 32), _uint(handle, "handle", 32)
        if handle and not pid:
            # In words here: the library's bare EINVAL speaks of a block.
            raise _bad("handle %d without a pid: a handle is known by its "
                       "process's pid and its number" % handle)
        ask = (_name(pool), pid, handle, _u64(_uint(start, "start")),
               ctypes.c_int(0))
        return self._blocks_pages(ask, self._blocks_page(ask))

    def _blocks_page(self, ask):
        """One page of blocks for ask (name, pid, handle, where, done)."""
        out, n = ctypes.POINTER(_BlockInfo)(), _size()
        try:
            # The call inside, as _array's.
            with self._h as c:
                _check(_lib.pool_blocks(c, ask[0], ask[1], ask[2],
                                        ctypes.byref(ask[3]),
                                        ctypes.byref(out), ctypes.byref(n),
                                        ctypes.byref(ask[4])))
            return [_block_info(out[i]) for i in range(n.value)]
        finally:
            _free(out)

    def _blocks_pages(self, ask, page):
        """page's blocks, then the next pages' until the last."""
        yield from page
        while not ask[4].value:
            yield from self._blocks_page(ask)


def connect(socket=None, timeout=None):
    """Connect to poolmgrd: a Connection (a context manager).  socket is
    the daemon's path; None: $POOLMGRD_SOCKET, else the default.  timeout
    as Connection's."""
    return Connection(socket, timeout)


class Pool(_Closing):
    """An open pool handle (pool_open): offsets name blocks, buffer()
    reaches their bytes.  A context manager: close at exit.  Made by
    Connection.open."""

    def __init__(self, conn, name, read_only):
        self._conn = conn	# the connection outlives its pools
        # Closed until Connection.open stores the C library's handle.
        self._h = _Handle(None, "pool " + name, _closed, conn._h)
        self.name = name
        """The pool's name."""
        self.read_only = read_only
        """True for a handle opened read-only."""
        self._size = 0
        self._views = _Views()

    @property
    def closed(self):
        """True once close (or the connection's close) has run."""
        return self._h.closed

    @property
    def size(self):
        """The pool's size in bytes: the length of the mapping."""
        return self._size

    def _refuse_if_exported(self):
        if len(self._views):
            raise BufferError("pool %s: %d buffer(s) still in use; release "
                              "them first" % (self.name, len(self._views)))

    def close(self):
        """Drop this handle's references and unmap; again is a no-op.
        BufferError, and the pool stays open, while a buffer of it is
        still in use (release() it or drop it first)."""
        if not self._h.closed:
            self._h.take(self._refuse_if_exported, self.close)
        # Also what a close that an exception broke left pending.
        if not self._h._pending:
            return
        # Holding the connection keeps its close (pool_disconnect, which
        # frees its pools) from running under us.  A connection closed
        # already freed this pool with it: the collector clears a
        # connection's weak references to its pools before their
        # finalizers run, so its close may not have seen this one.
        try:
            with self._conn._h:
                self._h.finish(_lib.pool_close)
        except PoolError:
            self._h.forget()

    def _off(self, fn, *args):
        """Call fn(handle, *args, &offset): the new offset."""
        out = _u64()
        with self._h as p:
            _check(fn(p, *args, ctypes.byref(out)))
        return out.value

    def _call(self, fn, *args):
        with self._h as p:
            return _check(fn(p, *args))

    def alloc(self, size, align=0, zero=False, wait=None, persist=False):
        """Allocate size bytes (aligned to align, a power of two, when not
        0; zeroed when zero): the block's offset.  persist: the block is
        persistent from the start and this handle holds no reference to
        it, as after persist() and free() (POOL_ALLOC_PERSIST): for a
        block handed to another process, whose free() ends it; EOPNOTSUPP
        from a daemon without it.  wait (seconds; None: do
        not wait, -1: without end): when the pool has no room, wait for
        other clients to free some (or its limit to be raised), ENOMEM
        only without it; so under the pool's user quota (or the uid's
        own), for this uid's other connections to free some, EDQUOT only
        without it; ETIMEDOUT if none came in time, in the daemon's words
        for what held it back, the user quota's too; EDQUOT at its
        deadline if the quota per connection held it back, as without a
        wait; EOPNOTSUPP from a daemon that cannot wait.  A restart of
        the daemon in place goes unnoticed, its end the same.  While it
        waits, this connection's other calls wait behind it
        (pool_alloc_wait(3)); it asks in parts
        of a quarter second at most, as lookup does, so that signal
        handlers run meanwhile and Ctrl-C stops it (KeyboardInterrupt,
        nothing allocated).  Each part asks anew: among allocations that
        wait in the pool, this one is tried in the order of its last part,
        not its first.  Only the last part's running out counts in the
        pool's failed_allocs (POOL_ALLOC_PART), as for a wait in C."""
        size = _uint(size, "size", zero=False)
        align = _uint(align, "align")
        ms = _wait_ms(wait)
        if ms != 0 or persist:
            return self._alloc_wait(size, align, zero, ms, persist)
        if align == 0 and zero:
            return self._new_block(0, _lib.pool_calloc, 1, size)
        if align == 0:
            return self._new_block(0, _lib.pool_alloc, size)
        return self._new_block(size if zero else 0, _lib.pool_alloc_aligned,
                               size, align)

    def _give_back(self, fn, *args):
        """fn(handle, *args): give back what a call made (a block, a
        batch, a lookup's reference) that an exception kept from its
        caller.  Asked as a call of its own, after the one that made it,
        whose with block the exception may have come out of (a signal
        handler's, as __exit__ was entered).  A handle that a close took
        meanwhile let go of its references with it."""
        try:
            with self._h as p:
                fn(p, *args)
        except PoolError:
            pass

    def _new_block(self, zero, fn, *args):
        """fn(handle, *args, &offset): the new block's offset, its first
        zero bytes zeroed here.  An exception that comes as it returns
        (a signal handler's, which runs at the first Python call after
        the library's, up to the end of the call's with block), before
        the caller has the offset, gives the block back: the handle
        would hold it until its close."""
        out = _u64(OFF_NONE)
        try:
            with self._h as p:
                _check(fn(p, *args, ctypes.byref(out)))
                if zero:
                    ctypes.memset(_lib.pool_ptr(p, out.value), 0, zero)
        except BaseException:
            # The C library sets the offset only on success.
            if out.value != OFF_NONE:
                self._give_back(_lib.pool_free, out.value)
            raise
        return out.value

    def _alloc_wait(self, size, align, zero, ms, persist):
        """alloc with a wait of ms (pool_alloc_wait, in parts; 0: no
        wait), persistent if asked."""
        # pool_alloc_wait zeroes an unaligned block only (the daemon's
        # rule): an aligned one is zeroed here, as alloc does without wait.
        flags = ALLOC_ZERO if zero and align <= 1 else 0
        if persist:
            flags |= ALLOC_PERSIST
        out = _u64(OFF_NONE)
        try:
            with self._h as p:
                def ask(part, more):
                    # A part that another follows is not a failed
                    # allocation when it runs out: only the wait's end is.
                    return _lib.pool_alloc_wait(p, size, align,
                                                flags | (ALLOC_PART if more
                                                         else 0), part,
                                                ctypes.byref(out))
                # The pool named as the daemon's words name it, where
                # the library has none of them (a restart in place took
                # the last part's answer).
                self._wait_parts(ask, ms, "no room came for %d byte%s in "
                                 "pool %s" % (size, "" if size == 1 else "s",
                                              self.name), last_try=True)
                if zero and align > 1:
                    ctypes.memset(_lib.pool_ptr(p, out.value), 0, size)
        except BaseException:
            # A signal's exception can come as a part returns with the
            # block, before its offset is ours (up to the end of the with
            # block): the caller never sees it, so it goes back now;
            # persistent, it would outlive the program with nobody to
            # free it.  The C library sets the offset only on success.
            if out.value != OFF_NONE:
                self._give_back(_lib.pool_free, out.value)
            raise
        return out.value

    def alloc_batch(self, sizes, persist=False):
        """Allocate len(sizes) blocks in one round trip, all or nothing:
        their offsets ([] for no sizes, without a round trip, as
        free_batch([]) frees nothing; the C call takes 1 or more).
        persist: every block is persistent from the start and this handle
        holds no reference to any, as alloc(persist=True) makes one
        (POOL_ALLOC_PERSIST of pool_alloc_batch_flags): for blocks handed
        to another process, whose free() ends each; EOPNOTSUPP from a
        daemon without it."""
        n = len(sizes)
        if n == 0:
            return []
        # Size 0 in words here, as alloc's: the library's bare EINVAL
        # speaks of a live block.
        cs = (_size * n)(*[_uint(s, "size", zero=False) for s in sizes])
        offs = (_u64 * n)()
        flags = ALLOC_PERSIST if persist else 0
        rc = []
        try:
            with self._h as p:
                # The answer is kept inside the C call that gives it
                # (list.extend of a map): a signal handler's exception,
                # which comes first as that call returns, once found the
                # blocks made and their code not yet stored.
                rc.extend(map(_lib.pool_alloc_batch_flags, (p,), (n,),
                              (cs,), (flags,), (offs,)))
                _check(rc[0])
            got = list(offs[:n])
        except BaseException:
            # As _new_block's: the caller never had the offsets.
            # Persistent, they would outlive the program with nobody to
            # free them: free_batch ends them (the pool's reference, the
            # handle holding none).
            if rc == [0]:
                self._give_back(_lib.pool_free_batch, n, offs)
            raise
        return got

    def free(self, offset):
        """Drop this handle's reference to the block at offset; OFF_NONE
        is a no-op.  EINVAL if it is not a live block."""
        self._call(_lib.pool_free, _uint(offset, "offset"))

    def free_batch(self, offsets):
        """free of every offset in one round trip, all or nothing."""
        n = len(offsets)
        cs = (_u64 * max(n, 1))(*[_uint(o, "offset") for o in offsets])
        self._call(_lib.pool_free_batch, n, cs)

    def realloc(self, offset, size):
        """Resize the block at offset, in place when possible, else moved
        with its bytes: the block's offset now (OFF_NONE for size 0,
        which frees it).  On failure the old block is unchanged."""
        return self._off(_lib.pool_realloc, _uint(offset, "offset"),
                         _uint(size, "size"))

    def retain(self, offset):
        """Take a reference: the block lives while this handle does."""
        self._call(_lib.pool_retain, _uint(offset, "offset"))

    def persist(self, offset):
        """Give the pool a reference: the block outlives every handle."""
        self._call(_lib.pool_persist, _uint(offset, "offset"))

    def free_persisted(self, offset, min_age):
        """End what a program left behind: drop the pool's reference to
        the persistent block at offset (freeing it unless a handle holds
        it), only if it has been persistent for at least min_age seconds
        (rounded down to a millisecond; BlockInfo.persisted_ms says how
        long).  ESTALE, nothing changed, for a younger block: perhaps
        one made at the offset since it was listed."""
        age = _seconds(min_age, "min_age")
        if not 0 <= age < 2**64 // 1000:
            raise _bad("min_age %r out of range" % (age,))
        self._call(_lib.pool_free_persisted, _uint(offset, "offset"),
                   int(age * 1000))

    def usable_size(self, offset):
        """The real (rounded) size of the block at offset."""
        out = _size()
        self._call(_lib.pool_usable_size, _uint(offset, "offset"),
                   ctypes.byref(out))
        return out.value

    def publish(self, name, offset, replace=False, evictable=False):
        """Give the block at offset the name (it then holds the pool's
        reference).  replace moves a name in use to this block in one
        step; without it, a name in use is EEXIST.  evictable: the pool
        may evict the name (unpublish it, free its block) to make room
        for an allocation while no handle holds the block: the least
        recently used where room can be made, with the neighbours the
        new block needs, and none that could not make it
        (pool_publish_flags)."""
        flags = (PUBLISH_REPLACE if replace else 0) | \
            (PUBLISH_EVICTABLE if evictable else 0)
        self._call(_lib.pool_publish_flags, _uint(offset, "offset"),
                   _name(name), flags)

    def lookup(self, name, retain=False, wait=None, after_generation=0):
        """The block named name: a Lookup (offset, usable_size) with its
        generation.  retain holds it before the answer comes (free it
        when done); without, it may be unpublished and reused at any
        time.  wait (seconds; None: do not wait, -1: without end) waits
        for the name to have a generation above after_generation:
        ETIMEDOUT if none came in time; without a wait, after_generation
        is not looked at (the name's block, whatever its generation).
        While it waits, this connection's other calls wait behind it
        (pool_lookup_wait(3)), for a quarter second at most: it asks in
        parts that long, so that signal handlers run meanwhile and
        Ctrl-C stops it
        (KeyboardInterrupt).  A part that runs out retains nothing; an
        exception that comes as a part that retained returns (a signal
        handler's) gives back the reference that part took, and leaves
        one the handle held before (a handle holds a block once, and the
        daemon says which it was); a daemon from before it said leaves
        the reference either way, until the handle's next free of the
        block or its close.  With retain, threads that share a handle share its one reference
        to a block: the first free drops it for all of them (give each
        thread that holds blocks its own Pool, or count the holds)."""
        ms = _wait_ms(wait)
        bname = _name(name)
        after = _uint(after_generation, "after_generation")
        flags = LOOKUP_RETAIN if retain else 0
        out, usable, gen = _u64(OFF_NONE), _size(), _u64()
        took = ctypes.c_int(0)
        try:
            with self._h as p:
                def ask(part, more):
                    return _lib.pool_lookup_wait_took(
                        p, bname, after, part, flags, ctypes.byref(out),
                        ctypes.byref(usable), ctypes.byref(gen),
                        ctypes.byref(took))
                # The daemon's words name the name and the pool, and so
                # do the library's where it has none of the daemon's (a
                # restart in place took the last part's answer), by the
                # daemon's rule: after generation 0 the name itself did
                # not come, after any other no generation above it.
                self._wait_parts(ask, ms, _lookup_ran_out(
                    bname, after, self.name), use_said=True)
            found = Lookup(out.value, usable.value, gen.value)
        except BaseException:
            # A signal's exception can come as a part that retained
            # returns, before its answer is ours (up to the end of the
            # with block, and the answer made): the reference goes back
            # if that retain took it.  One the handle held before (a
            # frame the caller still reads, written again in place;
            # another thread's lookup on the same handle) stays: a handle
            # holds a block once, and a free would drop it, the block
            # evicted or reused under its reader.  took is 0 there, and
            # from a daemon that does not say: the reference then stays
            # until the caller's next free of the block, or the handle's
            # close.  The C library sets both only on success.
            if out.value != OFF_NONE and took.value == 1:
                self._give_back(_lib.pool_free, out.value)
            raise
        return found

    def _wait_parts(self, ask, ms, what, last_try=False, use_said=None):
        """ask(timeout_ms, more) for the parts of a wait of ms, the same
        request each time (more: another part follows if this one runs
        out): a part that ran out before the deadline is
        asked again, and the first other answer is the wait's (a part
        that found the name, or room, returns at once: it retained, or
        allocated, at most once).  what is what did not come in time.
        last_try: a part that runs out as the deadline passes is followed
        by ask(1, False) (an alloc's last part, which a lookup's would
        not be: it takes any generation).  use_said (None: last_try):
        the error's words are the daemon's for the last part, made the
        wait's (_whole_wait).  A close of
        the pool or its connection, which waits for this call, ends the
        wait with EBADF at the end of a part."""
        if ms == 0:
            return _check(ask(0, False))
        more, said = False, b""
        for part, more in _parts(ms):
            rc = ask(part, more)
            if rc != -_errno.ETIMEDOUT:
                return _wait_ended(rc, ms)
            said = _lib.pool_last_message(rc) or b""
            self._h.refuse_if_closing()
        if more and last_try:
            # The deadline came while a part that said another follows
            # was answered: one last part, of the least wait, is the
            # wait's last word, counted as the last part of a wait in C
            # is: once in failed_allocs if no room came, in neither of
            # the quotas' refusals if the user quota held it back.  A
            # try that did not wait would be one refusal more there.
            rc = ask(1, False)
            if rc != -_errno.ETIMEDOUT:
                return _wait_ended(rc, ms)
            said = _lib.pool_last_message(rc) or b""
        if use_said is None:
            use_said = last_try
        raise PoolError(-_errno.ETIMEDOUT, "the wait ran out: " +
                        _whole_wait(said, what, ms, use_said))

    def unpublish(self, name):
        """Remove the name and its reference to its block."""
        self._call(_lib.pool_unpublish, _name(name))

    def names(self, prefix=""):
        """The names of this pool that begin with prefix, one message's
        worth: Connection.names."""
        return self._conn.names(self.name, prefix)

    def names_after(self, prefix="", after=""):
        """A page of this pool's names: Connection.names_after."""
        return self._conn.names_after(self.name, prefix, after)

    def all_names(self, prefix=""):
        """Every name of this pool with prefix: Connection.all_names."""
        return self._conn.all_names(self.name, prefix)

    def blocks(self, pid=0, handle=0, start=0):
        """This pool's live blocks: Connection.blocks."""
        return self._conn.blocks(self.name, pid, handle, start)

    def stats(self):
        """PoolStats of this pool."""
        s = _Stats()
        self._call(_lib.pool_stats, ctypes.byref(s))
        return _record(PoolStats, s)

    def trim(self):
        """Give every free page of the pool back to the OS now (those
        past its high-water mark that reads made resident too)."""
        self._call(_lib.pool_trim)

    def check(self):
        """Run the daemon's invariant check on this pool (see
        Connection.check)."""
        self._conn.check(self.name)

    def set_cache(self, budget):
        """Set this handle's client-side cache budget in bytes; 0 turns
        it off."""
        self._call(_lib.pool_set_cache, _uint(budget, "budget"))

    def flush(self):
        """Give every block of this handle's client-side cache back."""
        self._call(_lib.pool_flush)

    def buffer(self, offset, length=None):
        """A memoryview (format 'B') of length bytes at offset, straight
        over the mapping: no copy; read-only for a read-only handle.
        length None: the block's usable size.  The view keeps the pool
        open: close() refuses while one is in use.  ECHILD in a forked
        child, as its every other call (the buffers made before the fork
        still reach the mapping)."""
        offset = _uint(offset, "offset")
        if length is None:
            length = self.usable_size(offset)
        length = _uint(length, "length")
        if offset >= self._size or length > self._size - offset:
            raise _bad("%d bytes at %d: outside the pool's %d" %
                       (length, offset, self._size))
        with self._h as p:
            if self._h.forked:
                # The mapping is inherited, and pool_ptr (no request)
                # answers there: the child's every other call is ECHILD,
                # the binding's here too.
                raise PoolError(_errno.ECHILD, _lib.pool_strerror(
                    -_errno.ECHILD).decode(errors="replace"))
            addr = _lib.pool_ptr(p, offset)
            if not addr:
                raise _bad("offset %d outside the pool" % offset)
            arr = (ctypes.c_char * length).from_address(addr)
            arr._pool = self	# the mapping stays while the view lives
            # Listed while the call counts as under way: a close waits
            # for it, then sees the view and refuses.
            self._views.add(arr)
        mv = memoryview(arr).cast("B")
        return mv.toreadonly() if self.read_only else mv
