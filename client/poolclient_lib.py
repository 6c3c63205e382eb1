"""poolclient_lib - the C side of the poolclient module: libpoolclient
loaded with ctypes, the prototypes of its functions, and mirrors of the
structures of client/poolclient.h, field for field.

Not an interface of its own: programs import poolclient.
"""

import ctypes
import os

NAME_MAX = 64
"""Longest pool name in bytes (POOL_NAME_MAX)."""
BLOCK_NAME_MAX = 255
"""Longest block name in bytes (POOL_BLOCK_NAME_MAX)."""
# pool_publish_flags' flags (client/poolclient.h).
PUBLISH_REPLACE, PUBLISH_EVICTABLE = 0x1, 0x2
# pool_lookup_wait_took's flag (client/poolclient.h).
LOOKUP_RETAIN = 0x1
# pool_set_opts.which's bits (client/poolclient.h).
SET_MODE, SET_OWNER, SET_GROUP, SET_QUOTA, SET_RETAIN, SET_LIMIT = \
    0x1, 0x2, 0x4, 0x8, 0x10, 0x20
SET_USER_QUOTA = 0x40
SET_ACL = 0x80
# Access control lists (client/poolclient.h): struct pool_acl_entry's
# kinds and rights, the most entries a list holds, and the flags of
# pool_acl_parse and pool_acl_format.
ACL_USER, ACL_GROUP = 1, 2
ACL_READ, ACL_WRITE = 4, 2
ACL_MAX = 32
ACL_PARSE_NO_RIGHTS = 0x1
ACL_FORMAT_NAMES = 0x1
# The most entries of uids' own user quotas a pool holds
# (POOL_USER_QUOTA_MAX).
USER_QUOTA_MAX = 32
CREATE_OWNER, CREATE_GROUP = 0x1, 0x2
# pool_alloc_wait's flags (client/poolclient.h); pool_alloc_batch_flags
# takes ALLOC_PERSIST.
ALLOC_ZERO, ALLOC_PART, ALLOC_PERSIST = 0x1, 0x2, 0x4

# `make install` writes its LIBDIR here in the installed copy.
_LIBDIR = None
_SONAME = "libpoolclient.so.1"

_u32, _u64, _size = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t


class _CreateOpts(ctypes.Structure):
    """struct pool_create_opts."""
    _fields_ = [("max_size", _u64), ("granularity", _u32), ("mode", _u32),
                ("quota", _u64), ("retain", _u64), ("page_size", _u64),
                ("numa_policy", _u32), ("numa_node", _u32),
                ("flags", _u32), ("uid", _u32), ("gid", _u32),
                ("reserved", _u32 * 1)]


class _SetOpts(ctypes.Structure):
    """struct pool_set_opts."""
    _fields_ = [("which", _u32), ("mode", _u32), ("uid", _u32),
                ("gid", _u32), ("quota", _u64), ("retain", _u64),
                ("limit", _u64), ("user_quota", _u64),
                ("acl", ctypes.c_void_p), ("nacl", _u32),
                ("reserved", _u32)]


class _AclEntry(ctypes.Structure):
    """struct pool_acl_entry."""
    _fields_ = [("kind", _u32), ("id", _u32), ("rights", _u32),
                ("reserved", _u32)]


class _UserQuota(ctypes.Structure):
    """struct pool_user_quota."""
    _fields_ = [("uid", _u32), ("reserved", _u32), ("bytes", _u64)]


class _Stats(ctypes.Structure):
    """struct pool_stats."""
    _fields_ = [("name", ctypes.c_char * (NAME_MAX + 1))] + \
        [(f, _u64) for f in (
            "max_size", "committed_bytes", "allocated_bytes",
            "requested_bytes", "free_bytes", "largest_free", "live_blocks",
            "clients", "allocs", "frees", "failed_allocs", "invalid_frees",
            "cached_bytes", "metadata_bytes", "released_bytes",
            "persistent_blocks")] + \
        [(f, _u32) for f in ("granularity", "page_size", "mode", "uid",
                             "gid", "alloc_waits")] + \
        [(f, _u64) for f in (
            "quota", "client_cached_bytes", "retain_bytes",
            "free_resident_bytes", "books_bytes", "named_blocks",
            "release_steps", "retain_steps")] + \
        [(f, _u32) for f in ("numa_policy", "numa_node")] + \
        [(f, _u64) for f in ("evictions", "evicted_bytes", "limit",
                             "user_quota", "quota_refusals",
                             "user_quota_refusals")] + \
        [("acl_entries", _u32), ("user_quota_entries", _u32),
         ("reserved", _u64 * 4)]


class _ClientInfo(ctypes.Structure):
    """struct pool_client_info."""
    _fields_ = [("pid", _u32), ("uid", _u32), ("gid", _u32),
                ("name", ctypes.c_char * 64),
                ("pool", ctypes.c_char * (NAME_MAX + 1)),
                ("handle", _u32), ("read_only", ctypes.c_int),
                ("blocks", _u64), ("bytes", _u64), ("cached_bytes", _u64),
                ("reserved", _u64 * 4)]


class _Persisted(ctypes.Structure):
    """struct pool_persisted."""
    _fields_ = [("uid", _u32), ("blocks", _u64), ("bytes", _u64),
                ("reserved", _u64 * 2)]


class _User(ctypes.Structure):
    """struct pool_user."""
    _fields_ = [("uid", _u32), ("connections", _u32), ("handles", _u32),
                ("held_bytes", _u64), ("persisted_blocks", _u64),
                ("persisted_bytes", _u64), ("quota", _u64),
                ("quota_own", _u32), ("reserved32", _u32),
                ("reserved", _u64 * 2)]


class _Named(ctypes.Structure):
    """struct pool_named."""
    _fields_ = [("name", ctypes.c_char * (BLOCK_NAME_MAX + 1)),
                ("offset", _u64), ("usable_size", _u64),
                ("publisher", _u32), ("evictable", _u64),
                ("generation", _u64)]


class _BlockHolder(ctypes.Structure):
    """struct pool_block_holder."""
    _fields_ = [("pid", _u32), ("uid", _u32), ("handle", _u32)]


BLOCK_HOLDERS_LISTED = 4


class _BlockInfo(ctypes.Structure):
    """struct pool_block_info."""
    _fields_ = [("offset", _u64), ("usable_size", _u64),
                ("requested", _u64), ("holders", _u32), ("flags", _u32),
                ("persister", _u32), ("nlisted", _u32),
                ("first_holders", _BlockHolder * BLOCK_HOLDERS_LISTED),
                ("persisted_ms", _u64), ("reserved", _u64 * 3)]


class _DaemonStats(ctypes.Structure):
    """struct pool_daemon_stats."""
    _fields_ = [("server", ctypes.c_char * 64)] + \
        [(f, _u32) for f in ("pid", "uid", "gid", "max_connections")] + \
        [(f, _u64) for f in (
            "started", "uptime_ms", "restarts", "connections",
            "connections_total", "connections_refused", "hello_timeouts",
            "requests_total", "requests_refused", "bad_messages", "held",
            "pools", "live_blocks", "allocated_bytes", "rss_bytes",
            "log_lines_left_out", "features")] + \
        [("admin_connections", _u32), ("max_connections_per_uid", _u32),
         ("kept_connections", _u32), ("reserved32", _u32),
         ("reserved", _u64 * 6)]


# The sizes client/admin.c and client/stats.c assert: a mismatch is a
# wrong mirror above.  ctypes finds the default version of each function,
# pool_stats's of the 384-byte structure (LIBPOOLCLIENT_1.13).
for _t, _n in ((_CreateOpts, 64), (_SetOpts, 64), (_AclEntry, 16),
               (_UserQuota, 16), (_Stats, 384),
               (_ClientInfo, 208),
               (_Persisted, 40), (_User, 72), (_Named, 296),
               (_DaemonStats, 280)):
    assert ctypes.sizeof(_t) == _n, (_t.__name__, ctypes.sizeof(_t))

_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_S = ctypes.c_char_p
_OFFP = ctypes.POINTER(_u64)
_SIZEP = ctypes.POINTER(_size)
_ACLP = ctypes.POINTER(_AclEntry)
_UQP = ctypes.POINTER(_UserQuota)
_UIDP = ctypes.POINTER(_u32)

# Every function used: (name, result, argument types).
_PROTOS = (
    ("pool_connect", ctypes.c_int, [_S, _PP]),
    ("pool_connect_timeout", ctypes.c_int, [_S, ctypes.c_int, _PP]),
    ("pool_disconnect", None, [_P]),
    ("pool_create", ctypes.c_int, [_P, _S, ctypes.POINTER(_CreateOpts)]),
    ("pool_set", ctypes.c_int, [_P, _S, ctypes.POINTER(_SetOpts)]),
    ("pool_create_set", ctypes.c_int, [_P, _S, ctypes.POINTER(_CreateOpts),
                                       ctypes.POINTER(_SetOpts)]),
    ("pool_acl_get", ctypes.c_int, [_P, _S, _ACLP, _size]),
    ("pool_acl_modify", ctypes.c_int, [_P, _S, _ACLP, _size, _ACLP, _size]),
    ("pool_acl_parse", ctypes.c_int,
     [_S, ctypes.c_int, _ACLP, _size, _S, _size]),
    ("pool_acl_format", ctypes.c_int,
     [_ACLP, _size, ctypes.c_int, _S, _size]),
    ("pool_create_user_quotas", ctypes.c_int,
     [_P, _S, ctypes.POINTER(_CreateOpts), ctypes.POINTER(_SetOpts), _UQP,
      _size]),
    ("pool_set_user_quotas", ctypes.c_int,
     [_P, _S, ctypes.POINTER(_SetOpts), _UQP, _size, _UIDP, _size]),
    ("pool_user_quota_get", ctypes.c_int, [_P, _S, _UQP, _size]),
    ("pool_destroy", ctypes.c_int, [_P, _S]),
    ("pool_destroy_force", ctypes.c_int, [_P, _S]),
    ("pool_open", ctypes.c_int, [_P, _S, _PP]),
    ("pool_open_readonly", ctypes.c_int, [_P, _S, _PP]),
    ("pool_close", None, [_P]),
    ("pool_set_cache", ctypes.c_int, [_P, _size]),
    ("pool_flush", ctypes.c_int, [_P]),
    ("pool_alloc", ctypes.c_int, [_P, _size, _OFFP]),
    ("pool_alloc_aligned", ctypes.c_int, [_P, _size, _size, _OFFP]),
    ("pool_calloc", ctypes.c_int, [_P, _size, _size, _OFFP]),
    ("pool_alloc_wait", ctypes.c_int,
     [_P, _size, _size, ctypes.c_uint, ctypes.c_int, _OFFP]),
    ("pool_realloc", ctypes.c_int, [_P, _u64, _size, _OFFP]),
    ("pool_free", ctypes.c_int, [_P, _u64]),
    ("pool_alloc_batch", ctypes.c_int, [_P, _size, _SIZEP, _OFFP]),
    ("pool_alloc_batch_flags", ctypes.c_int,
     [_P, _size, _SIZEP, ctypes.c_uint, _OFFP]),
    ("pool_free_batch", ctypes.c_int, [_P, _size, _OFFP]),
    ("pool_retain", ctypes.c_int, [_P, _u64]),
    ("pool_persist", ctypes.c_int, [_P, _u64]),
    ("pool_free_persisted", ctypes.c_int, [_P, _u64, _u64]),
    ("pool_publish", ctypes.c_int, [_P, _u64, _S]),
    ("pool_publish_replace", ctypes.c_int, [_P, _u64, _S]),
    ("pool_publish_flags", ctypes.c_int, [_P, _u64, _S, ctypes.c_uint]),
    ("pool_lookup_wait_took", ctypes.c_int,
     [_P, _S, _u64, ctypes.c_int, ctypes.c_uint, _OFFP, _SIZEP,
      ctypes.POINTER(_u64), ctypes.POINTER(ctypes.c_int)]),
    ("pool_unpublish", ctypes.c_int, [_P, _S]),
    ("pool_usable_size", ctypes.c_int, [_P, _u64, _SIZEP]),
    ("pool_ptr", _P, [_P, _u64]),
    ("pool_size", _u64, [_P]),
    ("pool_stats", ctypes.c_int, [_P, ctypes.POINTER(_Stats)]),
    ("pool_stats_by_name", ctypes.c_int, [_P, _S, ctypes.POINTER(_Stats)]),
    ("pool_trim", ctypes.c_int, [_P]),
    ("pool_trim_by_name", ctypes.c_int, [_P, _S, ctypes.POINTER(_u64)]),
    ("pool_check_by_name", ctypes.c_int, [_P, _S, ctypes.c_char_p, _size]),
    ("pool_daemon_stats", ctypes.c_int, [_P, ctypes.POINTER(_DaemonStats)]),
    ("pool_list", ctypes.c_int,
     [_P, ctypes.POINTER(ctypes.POINTER(_Stats)), _SIZEP]),
    ("pool_clients_total", ctypes.c_int,
     [_P, _S, ctypes.POINTER(ctypes.POINTER(_ClientInfo)), _SIZEP, _SIZEP]),
    ("pool_persisted", ctypes.c_int,
     [_P, _S, ctypes.POINTER(ctypes.POINTER(_Persisted)), _SIZEP, _SIZEP]),
    ("pool_users", ctypes.c_int,
     [_P, _S, ctypes.POINTER(ctypes.POINTER(_User)), _SIZEP, _SIZEP]),
    ("pool_names", ctypes.c_int,
     [_P, _S, _S, ctypes.POINTER(ctypes.POINTER(_Named)), _SIZEP, _SIZEP]),
    ("pool_names_after", ctypes.c_int,
     [_P, _S, _S, _S, ctypes.POINTER(ctypes.POINTER(_Named)), _SIZEP,
      _SIZEP]),
    ("pool_blocks", ctypes.c_int,
     [_P, _S, _u32, _u32, ctypes.POINTER(_u64),
      ctypes.POINTER(ctypes.POINTER(_BlockInfo)), _SIZEP,
      ctypes.POINTER(ctypes.c_int)]),
    ("pool_strerror", ctypes.c_char_p, [ctypes.c_int]),
    ("pool_last_message", ctypes.c_char_p, [ctypes.c_int]),
    ("pool_message_adds", ctypes.c_int, [ctypes.c_int]),
)


def _candidates():
    """Where to look for the library, in order: (path, where it comes
    from) pairs.  $POOLCLIENT_LIB, when set, is the only one: a library
    asked for by name is not quietly replaced by another."""
    env = os.environ.get("POOLCLIENT_LIB")
    if env:
        return [(env, "$POOLCLIENT_LIB")]
    if _LIBDIR is not None:
        first = (os.path.join(_LIBDIR, _SONAME), "the installed LIBDIR")
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        first = (os.path.join(os.path.dirname(here), "build", _SONAME),
                 "the source tree's build")
    return [first, (_SONAME, "the dynamic loader's search path "
                    "(LD_LIBRARY_PATH, /etc/ld.so.cache, the system's "
                    "library directories)")]


def _lacking(lib, path):
    """Why lib cannot serve: the functions of _PROTOS it lacks, or None."""
    missing = [name for name, _, _ in _PROTOS if not hasattr(lib, name)]
    if not missing:
        return None
    extra = " and %d more" % (len(missing) - 1) if missing[1:] else ""
    return "%s: lacks %s%s (a libpoolclient older than this module?)" % (
        path, missing[0], extra)


def _load():
    """The C library with every prototype set, and the C library's free.
    If none loads, the error names every place tried, and why each
    failed.  A library without a function this module uses (an older
    one) fails as one that does not load: the import, not a call, says
    so, and an ImportError, not an AttributeError."""
    tried = []
    for path, where in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s: %s" % (where, e))
            continue
        why = _lacking(lib, path)
        if why is None:
            break
        tried.append("%s: %s" % (where, why))
    else:
        raise ImportError("poolclient: cannot load libpoolclient; tried " +
                          "; ".join(tried) + ". Set POOLCLIENT_LIB to "
                          "the library's path")
    for name, res, args in _PROTOS:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    libc = ctypes.CDLL(None)
    libc.free.restype, libc.free.argtypes = None, [_P]
    return lib, libc.free


lib, free = _load()
