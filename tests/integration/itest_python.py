#!/usr/bin/env python3
"""itest_python.py - the Python binding (client/poolclient.py) against the
real daemon: a poolmgrd of the build on a temporary socket, driven from
this process, from Python child processes and from the C examples.

Prints one "ok"/"FAIL" line per test, cmocka's PASSED/FAILED lines (which
tests/run.sh counts) and "N passed, N failed" last; exits 1 on a failure.

In a sanitized build (libpoolclient.so linked with libasan) it runs again
under python3 with the compiler's libasan preloaded, as a sanitized
library needs its runtime loaded first; LeakSanitizer is off in the
Python processes only (the interpreter keeps its memory to the end), not
in the daemon or the C programs.

    POOLMGR_BUILD=build tests/integration/itest_python.py
"""
import copy
import ctypes
import ctypes.util
import errno
import fcntl
import gc
import grp
import json
import math
import os
import pickle
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SRC = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("POOLMGR_BUILD") or
                        os.path.join(SRC, "build"))
LIB = os.path.join(BUILD, "libpoolclient.so.1")
# What the C programs get back when the Python ones run sanitized.
SAVED = "ITEST_PYTHON_SAVED_"


def asan_runtime():
    """The libasan the library was linked with, or None."""
    out = subprocess.run(["ldd", LIB], capture_output=True, text=True,
                         check=False).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return line.split("=>")[1].split()[0]
    return None


def run_sanitized():
    """Run this script again with libasan preloaded, if it needs that."""
    rt = asan_runtime()
    if rt is None or SAVED + "PRELOAD" in os.environ:
        return
    env = dict(os.environ)
    env[SAVED + "PRELOAD"] = env.get("LD_PRELOAD", "")
    env[SAVED + "ASAN"] = env.get("ASAN_OPTIONS", "")
    env["LD_PRELOAD"] = rt
    env["ASAN_OPTIONS"] = ":".join(filter(None, [
        env[SAVED + "ASAN"], "detect_leaks=0", "verify_asan_link_order=0"]))
    print("itest_python: sanitized library: python3 with %s preloaded" % rt,
          flush=True)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def c_env():
    """The environment for the daemon and the C programs: as given."""
    env = dict(os.environ)
    if SAVED + "PRELOAD" in env:
        for var, key in (("LD_PRELOAD", "PRELOAD"), ("ASAN_OPTIONS", "ASAN")):
            env[var] = env.pop(SAVED + key)
            if not env[var]:
                del env[var]
    return env


run_sanitized()
os.environ["POOLCLIENT_LIB"] = LIB
sys.path.insert(0, os.path.join(SRC, "client"))
import poolclient  # noqa: E402 (after the library is chosen)

CONF = """[daemon]
socket_mode = 0666
[pool py]
size = 16M
[pool pystats]
size = 4M
[pool pyro]
size = 1M
"""


def die_with_test():
    """In the daemon's child before exec: a test that dies (a crash, a
    sanitizer's abort, a timeout's kill) takes its daemon with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class Daemon:
    """build/poolmgrd on a fresh socket in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="poolmgr-py.")
        # The socket's directory open to children of other uids.
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "poolmgrd.sock")
        conf = os.path.join(self.dir, "poolmgrd.conf")
        self.log = os.path.join(self.dir, "poolmgrd.log")
        with open(conf, "w") as f:
            f.write(CONF)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [os.path.join(BUILD, "poolmgrd"), "--verbose", "--socket",
                 self.sock, "--config", conf], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=log, env=c_env(),
                preexec_fn=die_with_test)
        for _ in range(500):
            if self.accepts():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("poolmgrd exited: " + self.log_text())
            time.sleep(0.01)
        else:
            raise RuntimeError("poolmgrd never listened")
        os.environ["POOLMGRD_SOCKET"] = self.sock

    def accepts(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        """SIGTERM; its exit status (0: a clean stop)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if rc != 0:
            print(self.log_text())
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def run_c(*argv, stdin=None):
    """A program of the build: (exit status, stdout, stderr)."""
    r = subprocess.run([os.path.join(BUILD, argv[0])] + list(argv[1:]),
                       input=stdin, capture_output=True, text=True,
                       env=c_env(), timeout=60, check=False)
    return r.returncode, r.stdout, r.stderr


# A child's qualname(frame): its code's qualified name, which Python
# 3.11 has (co_qualname); before it, the class of the call's self and the
# code's name, which the hooks of these tests need no more than.
QUALNAME = (
    "def qualname(frame):\n"
    "    q = getattr(frame.f_code, 'co_qualname', None)\n"
    "    if q is not None:\n"
    "        return q\n"
    "    s = frame.f_locals.get('self')\n"
    "    n = frame.f_code.co_name\n"
    "    return n if s is None else type(s).__name__ + '.' + n\n")


def run_py(code):
    """code in a new python3 process with poolclient importable: its
    stdout; a non-zero exit or anything on stderr fails the test."""
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "client"))
    r = subprocess.run([sys.executable, "-c",
                        "import poolclient, sys\n" + QUALNAME + code],
                       capture_output=True, text=True, env=env, timeout=60,
                       check=False)
    assert r.returncode == 0 and r.stderr == "", \
        "child: exit %d: %s" % (r.returncode, r.stderr)
    return r.stdout


def stop_hook(event, name):
    """A child's lines that define Stop and hook, a profile hook that,
    once the child sets armed, raises Stop at the next event ('call' or
    'return') of a function called name, once."""
    return ("class Stop(Exception):\n"
            "    pass\n"
            "armed = False\n"
            "def hook(frame, event, arg):\n"
            "    global armed\n"
            "    if armed and event == %r and \\\n"
            "            frame.f_code.co_name == %r:\n"
            "        armed = False\n"
            "        raise Stop\n" % (event, name))


def expect_error(code, fn, *args, **kw):
    """fn(*args) must raise PoolError code; returns it."""
    try:
        fn(*args, **kw)
    except poolclient.PoolError as e:
        assert e.errno == code, "%s: errno %s (%s), expected %s" % (
            fn.__name__, errno.errorcode.get(e.errno, e.errno), e,
            errno.errorcode[code])
        return e
    raise AssertionError("%s%r: no error, expected %s" % (
        fn.__name__, args, errno.errorcode[code]))


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def structs_match_the_c_layout():
    """Every ctypes mirror's size, and every field's offset and size, as
    the compiler lays out poolclient.h's structures."""
    mirrors = {"pool_create_opts": poolclient._CreateOpts,
               "pool_set_opts": poolclient._SetOpts,
               "pool_acl_entry": poolclient._AclEntry,
               "pool_user_quota": poolclient._UserQuota,
               "pool_stats": poolclient._Stats,
               "pool_client_info": poolclient._ClientInfo,
               "pool_persisted": poolclient._Persisted,
               "pool_user": poolclient._User,
               "pool_named": poolclient._Named,
               "pool_daemon_stats": poolclient._DaemonStats,
               "pool_block_holder": poolclient._BlockHolder,
               "pool_block_info": poolclient._BlockInfo}
    out = subprocess.run([os.path.join(BUILD, "tests", "py_abi")],
                         capture_output=True, text=True, env=c_env(),
                         check=True).stdout
    seen = {s: set() for s in mirrors}
    for line in out.splitlines():
        if line.startswith("#define "):
            continue		# constants_match_the_c_header's
        struct, field, off, size = line.split()
        cls = mirrors[struct]
        if field == "-":
            assert ctypes.sizeof(cls) == int(size), line
            continue
        desc = getattr(cls, field)
        assert (desc.offset, desc.size) == (int(off), int(size)), \
            "%s: ctypes has offset %d size %d" % (line, desc.offset,
                                                  desc.size)
        seen[struct].add(field)
    for s, cls in mirrors.items():
        fields = {f[0] for f in cls._fields_}
        assert fields == seen[s], "%s: %s" % (s, fields ^ seen[s])


@test
def constants_match_the_c_header():
    """Every constant of poolclient.h the binding copies (flags, limits,
    the enum's values) has the header's value."""
    pc, lib = poolclient, sys.modules["poolclient_lib"]
    copies = {
        "POOL_OFF_NONE": pc.OFF_NONE, "POOL_RETAIN_NONE": pc.RETAIN_NONE,
        "POOL_NAME_MAX": pc.NAME_MAX,
        "POOL_BLOCK_NAME_MAX": pc.BLOCK_NAME_MAX,
        "POOL_BATCH_MAX": pc.BATCH_MAX,
        "POOL_CREATE_OWNER": lib.CREATE_OWNER,
        "POOL_CREATE_GROUP": lib.CREATE_GROUP,
        "POOL_SET_MODE": lib.SET_MODE, "POOL_SET_OWNER": lib.SET_OWNER,
        "POOL_SET_GROUP": lib.SET_GROUP, "POOL_SET_QUOTA": lib.SET_QUOTA,
        "POOL_SET_RETAIN": lib.SET_RETAIN, "POOL_SET_LIMIT": lib.SET_LIMIT,
        "POOL_SET_USER_QUOTA": lib.SET_USER_QUOTA,
        "POOL_SET_ACL": lib.SET_ACL,
        "POOL_ACL_USER": lib.ACL_USER, "POOL_ACL_GROUP": lib.ACL_GROUP,
        "POOL_ACL_READ": lib.ACL_READ, "POOL_ACL_WRITE": lib.ACL_WRITE,
        "POOL_ACL_MAX": pc.ACL_MAX,
        "POOL_ACL_PARSE_NO_RIGHTS": lib.ACL_PARSE_NO_RIGHTS,
        "POOL_ACL_FORMAT_NAMES": lib.ACL_FORMAT_NAMES,
        "POOL_USER_QUOTA_MAX": pc.USER_QUOTA_MAX,
        "POOL_NUMA_NONE": pc.NUMA_NONE,
        "POOL_NUMA_PREFERRED": pc.NUMA_PREFERRED,
        "POOL_NUMA_BIND": pc.NUMA_BIND, "POOL_NUMA_OTHER": pc.NUMA_OTHER,
        "POOL_BLOCK_NAMED": pc._BLOCK_NAMED,
        "POOL_BLOCK_EVICTABLE": pc._BLOCK_EVICTABLE,
        "POOL_BLOCK_PERSISTENT": pc._BLOCK_PERSISTENT,
        "POOL_BLOCK_BUSY": pc._BLOCK_BUSY,
        "POOL_BLOCK_HOLDERS_LISTED": lib.BLOCK_HOLDERS_LISTED,
        "POOL_ALLOC_ZERO": lib.ALLOC_ZERO, "POOL_ALLOC_PART": lib.ALLOC_PART,
        "POOL_ALLOC_PERSIST": lib.ALLOC_PERSIST,
        "POOL_PUBLISH_REPLACE": lib.PUBLISH_REPLACE,
        "POOL_PUBLISH_EVICTABLE": lib.PUBLISH_EVICTABLE,
        "POOL_LOOKUP_RETAIN": lib.LOOKUP_RETAIN}
    out = subprocess.run([os.path.join(BUILD, "tests", "py_abi")],
                         capture_output=True, text=True, env=c_env(),
                         check=True).stdout
    header = {}
    for line in out.splitlines():
        if line.startswith("#define "):
            _, name, value = line.split()
            header[name] = int(value)
    assert set(header) == set(copies), set(header) ^ set(copies)
    for name, value in copies.items():
        assert value == header[name], "%s: C %d, Python %d" % (
            name, header[name], value)


def ctypes_for(decl, mirrors):
    """The ctypes type a C declaration of poolclient.h (a result, or a
    parameter without its name) calls for: c_void_p for the opaque
    handles, c_char_p for strings, the mirror for a structure."""
    t = " ".join(decl.replace("const", " ").replace("*", " * ").split())
    if t in ("struct pool *", "struct pool_conn *", "void *"):
        return ctypes.c_void_p
    if t == "char *":
        return ctypes.c_char_p
    if t == "void":
        return None
    if t.endswith(" *"):
        return ctypes.POINTER(ctypes_for(t[:-2], mirrors))
    if t.startswith("struct "):
        return getattr(poolclient, mirrors[t[len("struct "):]])
    return {"size_t": ctypes.c_size_t, "pool_off_t": ctypes.c_uint64,
            "uint64_t": ctypes.c_uint64, "uint32_t": ctypes.c_uint32,
            "int": ctypes.c_int, "unsigned": ctypes.c_uint}[t]


@test
def prototypes_match_the_c_header():
    """Every function the binding calls has, in its ctypes prototype, the
    result and the parameters poolclient.h declares, one by one: a
    parameter added or widened in C would otherwise be passed wrong with
    no error (ctypes trusts argtypes)."""
    mirrors = {"pool_create_opts": "_CreateOpts", "pool_set_opts": "_SetOpts",
               "pool_acl_entry": "_AclEntry", "pool_stats": "_Stats", "pool_client_info": "_ClientInfo",
               "pool_user_quota": "_UserQuota",
               "pool_persisted": "_Persisted", "pool_user": "_User",
               "pool_named": "_Named",
               "pool_daemon_stats": "_DaemonStats",
               "pool_block_info": "_BlockInfo"}
    with open(os.path.join(SRC, "client", "poolclient.h")) as f:
        header = f.read()
    declared = {}
    for m in re.finditer(r"POOL_API\s+([^;(]*?)\b(pool_\w+)\s*\(([^)]*)\)"
                         r"\s*;", header):
        params = [re.sub(r"\w+$", "", p.strip()).strip()
                  for p in m.group(3).split(",")]
        declared[m.group(2)] = (m.group(1), params)
    protos = sys.modules["poolclient_lib"]._PROTOS
    assert len(protos) > 40, len(protos)
    for name, res, args in protos:
        assert name in declared, "%s: not in poolclient.h" % name
        cres, cparams = declared[name]
        assert res is ctypes_for(cres, mirrors), (name, cres, res)
        assert len(args) == len(cparams), (name, cparams, args)
        for i, (arg, cparam) in enumerate(zip(args, cparams)):
            assert arg is ctypes_for(cparam, mirrors), \
                "%s: parameter %d is %s in C, %s in ctypes" % (
                    name, i + 1, cparam, arg.__name__)


@test
def bytes_cross_python_processes():
    """One process writes through its memoryview and publishes; another
    finds the name and reads the same bytes, and its writes show here."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(4096)
        mv = p.buffer(off, 4096)
        mv[:] = bytes(range(256)) * 16
        p.publish("py/frame", off)
        out = run_py(
            "with poolclient.connect() as c:\n"
            "    with c.open('py', read_only=True) as p:\n"
            "        off, n = p.lookup('py/frame')\n"
            "        print(off, n, bytes(p.buffer(off, 4096)).hex())\n"
            "    with c.open('py') as p:\n"
            "        off, n = p.lookup('py/frame', retain=True)\n"
            "        p.buffer(off, 5)[:] = b'reply'\n"
            "        p.free(off)\n")
        got_off, usable, data = out.split()
        assert int(got_off) == off and int(usable) >= 4096, out
        assert bytes.fromhex(data) == bytes(range(256)) * 16
        assert bytes(mv[:5]) == b"reply", bytes(mv[:5])
        assert bytes(mv[5:256]) == bytes(range(5, 256))
        mv.release()
        p.unpublish("py/frame")
        expect_error(errno.ENOENT, p.lookup, "py/frame")


@test
def c_producer_python_reader():
    """A block the C producer publishes, and one it persists, read here."""
    rc, out, err = run_c("examples/producer", "-n", "from-c", "py",
                         "written in C")
    assert rc == 0 and out == "from-c\n", (rc, out, err)
    rc, out, err = run_c("examples/producer", "py", "persisted in C")
    assert rc == 0 and re.fullmatch("0x[0-9a-f]+\n", out), (rc, out, err)
    persisted = int(out, 16)
    with poolclient.connect() as c, c.open("py") as p:
        off, n = p.lookup("from-c")
        assert bytes(p.buffer(off, 13)) == b"written in C\0"
        assert n == p.usable_size(off)
        assert bytes(p.buffer(persisted, 15)) == b"persisted in C\0"
        before = p.stats()
        p.free(persisted)	# the pool's reference, as consumer does
        p.unpublish("from-c")
        after = p.stats()
        assert after.live_blocks == before.live_blocks - 2, (before, after)
        assert after.named_blocks == before.named_blocks - 1


@test
def c_producer_piped_to_consumer():
    """The README's quick start, producer | consumer: the producer prints
    each offset in hexadecimal, as poolctl blocks lists it, and the
    consumer reads them from its stdin, prints the strings and lets each
    block go."""
    rc, out, err = run_c("examples/producer", "py", "hello", "world")
    assert rc == 0 and err == "", (rc, out, err)
    offs = out.splitlines()
    assert len(offs) == 2, out
    assert all(re.fullmatch("0x[0-9a-f]+", o) for o in offs), out
    rc, listed, err = run_c("poolctl", "blocks", "py")
    assert rc == 0, (rc, listed, err)
    at = [line.split()[0] for line in listed.splitlines()[1:]]
    assert all(o in at for o in offs), (offs, listed)
    rc, read, err = run_c("examples/consumer", "py", stdin=out)
    assert (rc, read, err) == (0, "hello\nworld\n", ""), (rc, read, err)
    with poolclient.connect() as c, c.open("py") as p:
        for o in offs:
            expect_error(errno.EINVAL, p.usable_size, int(o, 16))


@test
def python_producer_c_reader():
    """A block published here, and one persisted, read by the C consumer,
    which then lets both go."""
    with poolclient.connect() as c, c.open("py") as p:
        a = p.alloc(64)
        p.buffer(a, 17)[:] = b"named in Python\0\0"
        p.publish("from-py", a)
        b = p.alloc(64)
        p.buffer(b, 20)[:] = b"persisted in Python\0"
        p.persist(b)
        p.free(b)		# the pool's reference alone keeps it now
        rc, out, err = run_c("examples/consumer", "py", "from-py", str(b))
        assert rc == 0, (rc, out, err)
        assert out == "named in Python\npersisted in Python\n", out
        expect_error(errno.ENOENT, p.lookup, "from-py")
        expect_error(errno.EINVAL, p.usable_size, b)


@test
def persistent_from_the_alloc_read_by_c():
    """alloc(persist=True) makes a block the pool holds, this handle
    none (as persist() and free() would): the C consumer reads it and its
    free ends it.  With a wait and zeroed, aligned too."""
    with poolclient.connect() as c, c.open("py") as p:
        p.flush()
        before = p.stats()
        b = p.alloc(64, persist=True)
        p.buffer(b, 21)[:] = b"persistent from birth"
        z = p.alloc(8192, align=4096, zero=True, wait=1, persist=True)
        assert z % 4096 == 0 and bytes(p.buffer(z, 8192)) == bytes(8192)
        now = p.stats()
        assert now.persistent_blocks == before.persistent_blocks + 2, now
        mine = [k for k in c.clients("py") if k.pid == os.getpid()]
        assert sum(k.blocks for k in mine) == 0, mine
        p.buffer(b, 22)[21:] = b"\0"
        rc, out, err = run_c("examples/consumer", "py", str(b))
        assert rc == 0 and out == "persistent from birth\n", (rc, out, err)
        expect_error(errno.EINVAL, p.usable_size, b)
        p.free(z)
        after = p.stats()
        assert after.persistent_blocks == before.persistent_blocks, after
        assert after.live_blocks == before.live_blocks, (before, after)


@test
def persistent_batch_read_by_c():
    """alloc_batch(persist=True) makes every block one the pool holds,
    this handle none: the C consumer reads one and its free ends it, and
    free_batch ends the rest.  All or nothing: a batch past the pool's
    size makes none; bad sizes are refused before anything is asked."""
    with poolclient.connect() as c, c.open("py") as p:
        p.flush()
        before = p.stats()
        offs = p.alloc_batch([64, 128, 256], persist=True)
        assert len(offs) == 3 and len(set(offs)) == 3, offs
        p.buffer(offs[1], 19)[:] = b"persistent batched\0"
        now = p.stats()
        assert now.persistent_blocks == before.persistent_blocks + 3, now
        mine = [k for k in c.clients("py") if k.pid == os.getpid()]
        assert sum(k.blocks for k in mine) == 0, mine
        rc, out, err = run_c("examples/consumer", "py", str(offs[1]))
        assert rc == 0 and out == "persistent batched\n", (rc, out, err)
        expect_error(errno.EINVAL, p.usable_size, offs[1])
        p.free_batch([offs[0], offs[2]])
        after = p.stats()
        assert after.persistent_blocks == before.persistent_blocks, after
        assert after.live_blocks == before.live_blocks, (before, after)
        expect_error(errno.EFBIG, p.alloc_batch, [64, 1 << 40],
                     persist=True)
        expect_error(errno.EINVAL, p.alloc_batch, [64, 0], persist=True)
        assert p.alloc_batch([], persist=True) == []
        after = p.stats()
        assert after.persistent_blocks == before.persistent_blocks, after
        assert after.allocs == before.allocs + 3, (before, after)


@test
def example_workers_share_one_array():
    """client/examples/workers.py: the parent loads an 8 MiB array once
    into a pool whose user quota is 12 MiB, three workers read it whole
    in place (the one that crashed halfway, started again, too), and
    their holds cost the uid nothing: it persists 8 MiB and holds none.
    Run again, the parent finds the array and loads nothing."""
    prog = os.path.join(SRC, "client", "examples", "workers.py")
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "client"))
    with poolclient.connect() as c:
        c.create_pool("pyml", 64 << 20, user_quota=12 << 20)
        try:
            for first in (True, False):
                r = subprocess.run([sys.executable, prog, "pyml", "3", "8"],
                                   capture_output=True, text=True, env=env,
                                   timeout=60, check=False)
                assert r.returncode == 0 and r.stderr == "", \
                    (r.returncode, r.stdout, r.stderr)
                out = r.stdout.splitlines()
                assert out[0] == "parent: %s 8 MiB at 0x0" % (
                    "loaded" if first else "found"), out
                assert "worker 1: crashing halfway" in out, out
                assert "parent: worker 1 died (signal 9); starting it " \
                    "again" in out, out
                for i in (1, 2, 3):
                    assert "worker %d: 1048576 doubles at 0x0, sum right" \
                        % i in out, out
                assert out[-1] == "parent: uid %d holds 0 MiB, persists " \
                    "8 MiB, user quota 12 MiB" % os.getuid(), out
            st = c.stats("pyml")
            assert (st.live_blocks, st.named_blocks, st.clients) == \
                (1, 1, 0), st
            assert st.user_quota_refusals == 0, st
        finally:
            c.destroy_pool("pyml", force=True)


@test
def a_daemons_einval_at_hello_is_labelled():
    """A daemon that turns a connection away with EINVAL (as a Reply of
    id 0, the connection's answer) is quoted as the daemon, not taken for
    the library's own words about an empty path."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-hello.")
    path = os.path.join(where, "fake.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(1)

    def answer():
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)		# its Hello
            words = b"a hello this daemon will not take"
            # Reply{id 0, error -EINVAL (sint32: zigzag 43), message}
            conn.send(b"\x08\x00\x10" + bytes([2 * errno.EINVAL - 1]) +
                      b"\x1a" + bytes([len(words)]) + words)
            conn.recv(1)		# until the client hangs up

    t = threading.Thread(target=answer)
    t.start()
    try:
        e = expect_error(errno.EINVAL, poolclient.connect, path, 5)
        assert e.strerror.endswith("; poolmgrd says: a hello this daemon "
                                   "will not take"), e.strerror
    finally:
        t.join(10)
        srv.close()
        shutil.rmtree(where)


@test
def free_persisted_by_age():
    """free_persisted ends a persistent block only once it has been so
    for min_age seconds (ESTALE before, nothing changed), as blocks()
    lists its age; bad ages are refused before anything is asked."""
    with poolclient.connect() as c, c.open("py") as p:
        b = p.alloc(64, persist=True)
        time.sleep(0.25)
        info = next(i for i in c.blocks("py", start=b) if i.offset == b)
        assert info.persistent and info.persisted_ms >= 250, info
        expect_error(errno.ESTALE, p.free_persisted, b, 3600)
        assert p.usable_size(b) >= 64
        for bad in (-1, float("inf"), float("nan"), 2**64):
            expect_error(errno.EINVAL, p.free_persisted, b, bad)
        for bad in (None, "1", True):
            try:
                p.free_persisted(b, bad)
            except TypeError:
                pass
            else:
                raise AssertionError("min_age %r taken" % (bad,))
        p.free_persisted(b, 0.25)
        expect_error(errno.EINVAL, p.usable_size, b)
        held = p.alloc(64)
        expect_error(errno.EPERM, p.free_persisted, held, 0)
        assert next(i for i in c.blocks("py", start=held)
                    if i.offset == held).persisted_ms is None
        p.free(held)


@test
def c_consumer_hex_offsets_and_misses():
    """The C consumer takes an offset as poolctl names prints it (0x...),
    says once of each block it cannot find why, in words of blocks and
    names, and lets go only the blocks it read: no free of an offset that
    is no block, no unpublish of a name it waited for in vain."""
    with poolclient.connect() as c, c.open("py") as p:
        a = p.alloc(64)
        p.buffer(a, 7)[:] = b"by hex\0"
        p.persist(a)
        p.free(a)		# the pool's reference alone keeps it now
        rc, out, err = run_c("examples/consumer", "py", "%#x" % a)
        assert (rc, out, err) == (0, "by hex\n", ""), (rc, out, err)
        expect_error(errno.EINVAL, p.usable_size, a)

        before = p.stats()
        rc, out, err = run_c("examples/consumer", "py", "12345", "nosuch")
        assert (rc, out) == (1, ""), (rc, out, err)
        assert err == ("consumer: 0x3039: invalid argument, or not the "
                       "start of a live block\nconsumer: nosuch: no such "
                       "name\n"), err
        assert p.stats().invalid_frees == before.invalid_frees, \
            "the consumer freed an offset it could not read"
        rc, out, err = run_c("examples/consumer", "-w", "1", "py", "later")
        assert (rc, out) == (1, ""), (rc, out, err)
        assert err == "consumer: later: not published within 1 s\n", err
        rc, out, err = run_c("examples/producer", "nosuch", "x")
        assert (rc, err) == (1, "producer: nosuch: no such pool\n"), err


MISSING = ("no poolmgrd socket at %s (is poolmgrd running? "
           "$POOLMGRD_SOCKET names its socket)")


def library_words_for(path):
    """What libpoolclient itself leaves in pool_last_message when
    pool_connect finds no socket at path (bytes, or None: the
    environment's)."""
    lib = poolclient._lib
    ptr = ctypes.c_void_p()
    assert lib.pool_connect(path, ctypes.byref(ptr)) == -errno.ENOENT
    return lib.pool_last_message(-errno.ENOENT).decode()


@test
def a_missing_socket_is_named():
    """Connecting where there is no socket says so and names the path,
    from Python and from the C examples, in the library's own words
    (pool_last_message), not pool_strerror's -ENOENT text, which speaks
    of pools and block names first, nor as the daemon's words: no daemon
    was reached.  The library shows a control character of the path as
    '?', so Python and the examples do too (they once printed their own
    text, the path's escape sequence raw)."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-gone.")
    gone = os.path.join(where, "poolmgrd.sock")
    odd = os.path.join(where, "poolmgrd\x1b[2J.sock")
    saved = os.environ["POOLMGRD_SOCKET"]
    try:
        e = expect_error(errno.ENOENT, poolclient.connect, gone)
        assert e.strerror == MISSING % gone, e.strerror
        assert e.strerror == library_words_for(gone.encode()), e.strerror
        assert "poolmgrd says" not in e.strerror, e.strerror
        e = expect_error(errno.ENOENT, poolclient.connect, odd)
        assert e.strerror == MISSING % odd.replace("\x1b", "?"), \
            e.strerror
        assert e.strerror == library_words_for(odd.encode()), e.strerror
        os.environ["POOLMGRD_SOCKET"] = gone
        e = expect_error(errno.ENOENT, poolclient.connect)
        assert e.strerror == MISSING % gone, e.strerror
        for prog in ("producer", "consumer"):
            rc, out, err = run_c("examples/" + prog, "py", "x")
            assert (rc, out) == (1, ""), (rc, out, err)
            assert err == "%s: cannot connect: %s\n" % (
                prog, library_words_for(None)), err
            assert err == "%s: cannot connect: %s\n" % (
                prog, MISSING % gone), err
        os.environ["POOLMGRD_SOCKET"] = odd
        rc, out, err = run_c("examples/producer", "py", "x")
        assert err == "producer: cannot connect: %s\n" % (
            MISSING % odd.replace("\x1b", "?")), err
        e = expect_error(errno.ENOENT, poolclient.connect)
        assert e.strerror == library_words_for(None), e.strerror
        # A path no socket address holds is named so, by the library.
        e = expect_error(errno.EINVAL, poolclient.connect, "")
        assert e.strerror == "the socket path is empty", e.strerror
        e = expect_error(errno.ENAMETOOLONG, poolclient.connect,
                         "/" + "x" * 120)
        assert e.strerror.startswith("the socket path is longer than a "
                                     "socket address holds"), e.strerror
    finally:
        os.environ["POOLMGRD_SOCKET"] = saved
        os.rmdir(where)
    with open(os.path.join(SRC, "client", "poolclient.h")) as f:
        assert ('#define POOL_DEFAULT_SOCKET "%s"\n' %
                poolclient.DEFAULT_SOCKET) in f.read()


REFUSED = ("no poolmgrd listens on the socket, or the path is not a "
           "socket (connection refused)")
NOT_A_SOCKET = "%s is %s, not a socket ($POOLMGRD_SOCKET names poolmgrd's " \
    "socket)"


@test
def a_refused_connect_is_not_said_a_stopped_daemon():
    """connect(2) is refused (ECONNREFUSED) by a socket nobody listens on
    and as much by a directory at the path: pool_strerror's text, which
    the C examples say, says both, where it once said poolmgrd was not
    running, which sent the user after the daemon when the path was
    wrong; Python says which (a_connect_names_what_is_at_the_path), and
    so do the C examples, in the library's words, where they said the
    code's text for both.  A path no socket address holds: the examples
    name it, then the library's words, which do not."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-dir.")
    saved = os.environ["POOLMGRD_SOCKET"]
    try:
        e = expect_error(errno.ECONNREFUSED, poolclient.connect, where)
        assert e.strerror == NOT_A_SOCKET % (where, "a directory"), \
            e.strerror
        os.environ["POOLMGRD_SOCKET"] = where
        rc, out, err = run_c("examples/producer", "py", "x")
        assert (rc, out) == (1, ""), (rc, out, err)
        assert err == "producer: cannot connect: %s\n" % (
            NOT_A_SOCKET % (where, "a directory")), err
        assert REFUSED not in err, err
        long_path = "/" + "x" * 120
        os.environ["POOLMGRD_SOCKET"] = long_path
        for prog in ("producer", "consumer"):
            rc, out, err = run_c("examples/" + prog, "py", "x")
            assert (rc, out) == (1, ""), (rc, out, err)
            assert err.startswith("%s: cannot connect to %s: the socket "
                                  "path is longer than a socket address "
                                  "holds" % (prog, long_path)), err
    finally:
        os.environ["POOLMGRD_SOCKET"] = saved
        os.rmdir(where)


@test
def a_connect_names_what_is_at_the_path():
    """A directory, a regular file, a socket nobody listens on (as a
    daemon that stopped leaves its socket) and a socket of another type
    at the path: PoolError with connect(2)'s own code, ECONNREFUSED or
    EPROTOTYPE, its text the library's words, which name the path and
    say which, alone and not as the daemon's: no daemon was reached.
    Before, each was pool_strerror's text for its code, the C library's
    "Protocol wrong type for socket" for EPROTOTYPE."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-what.")
    path = os.path.join(where, "there")
    try:
        e = expect_error(errno.ECONNREFUSED, poolclient.connect, where)
        assert e.strerror == NOT_A_SOCKET % (where, "a directory"), \
            e.strerror
        open(path, "w").close()
        e = expect_error(errno.ECONNREFUSED, poolclient.connect, path, 5)
        assert e.strerror == NOT_A_SOCKET % (path, "a regular file"), \
            e.strerror
        os.unlink(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.bind(path)
        e = expect_error(errno.ECONNREFUSED, poolclient.connect, path)
        assert e.strerror == "no poolmgrd listens on the socket %s (a " \
            "socket left by a daemon that stopped?)" % path, e.strerror
        os.unlink(path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(path)
            s.listen(1)
            e = expect_error(errno.EPROTOTYPE, poolclient.connect, path)
        assert e.strerror == "%s is a socket of another type, not " \
            "poolmgrd's" % path, e.strerror
    finally:
        shutil.rmtree(where)


@test
def a_socket_that_refuses_says_what_lets_in():
    """A socket whose mode keeps the caller out (the test's daemon is
    root's: at mode 0660 its socket lets root and group root in) is
    PoolError EACCES, its text the library's own words, which name the
    socket, its owner, group and mode and what lets a client in, alone
    and not as the daemon's: no daemon was reached.  They once followed
    pool_strerror's text as "poolmgrd says"; before that there were
    none."""
    if os.geteuid() != 0:
        print("a_socket_that_refuses_says_what_lets_in: not root: cannot "
              "drop to another uid; skipping")
        return
    sock = os.environ["POOLMGRD_SOCKET"]

    def child():
        e = expect_error(errno.EACCES, poolclient.connect)
        lib = poolclient._lib
        words = lib.pool_last_message(-errno.EACCES).decode()
        assert e.strerror == words, (e.strerror, words)
        assert e.strerror.startswith(
            "permission denied by the socket %s (owner root, group root, "
            "mode 0660): only its owner and group root may connect; "
            % sock), e.strerror
        assert "poolmgrd says" not in e.strerror, e.strerror
        return 0
    os.chmod(sock, 0o660)
    try:
        assert as_other_uid(child) == 0
    finally:
        os.chmod(sock, 0o666)


@test
def connect_timeout_ends_an_unanswered_connect():
    """Connection(timeout=0.3) to a socket whose listener never answers
    (it never accepts: the hello waits in the backlog) is PoolError
    ETIMEDOUT, no sooner than the bound, its text the library's own words
    naming the path and the bound, not labelled as the daemon's.  Run in
    a child process, killed after 60 s, so that a connect without a bound
    fails the test rather than hang it.  connect() takes the same
    timeout; None is the library's bound, -1 none; a bad one is refused
    before any connect."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-silent.")
    path = os.path.join(where, "silent.sock")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        silent.bind(path)
        silent.listen(16)
        out = run_py(
            "import errno, time\n"
            "for fn in (poolclient.Connection, poolclient.connect):\n"
            "    t = time.monotonic()\n"
            "    try:\n"
            "        fn(%r, timeout=0.3)\n"
            "        print('connected')\n"
            "    except poolclient.PoolError as e:\n"
            "        print(errno.errorcode[e.errno], time.monotonic() - t)\n"
            "        print(e.strerror)\n" % path)
        lines = out.splitlines()
        assert len(lines) == 4, out
        words = "poolmgrd at %s did not answer within 0.3 s" % path
        for code_ms, text in ((lines[0], lines[1]), (lines[2], lines[3])):
            code, secs = code_ms.split()
            assert code == "ETIMEDOUT", out
            assert 0.3 <= float(secs) < 3.0, out
            assert text == words, out
        for bad in (-2, -0.5, 1e12):
            expect_error(errno.EINVAL, poolclient.Connection, path,
                         timeout=bad)
        for bad in ("1", True, [1]):
            try:
                poolclient.Connection(path, timeout=bad)
                raise AssertionError("timeout=%r: no error" % (bad,))
            except TypeError:
                pass
    finally:
        silent.close()
        shutil.rmtree(where, ignore_errors=True)
    for timeout in (None, -1, 0.3, 5):
        with poolclient.Connection(timeout=timeout) as c:
            assert c.stats("py").name == "py"
    with poolclient.connect(timeout=2) as c:
        assert c.stats("py").name == "py"


@test
def errors_map_to_pool_error():
    """Each failure is a PoolError (an OSError) with the library's errno
    and pool_strerror's text, then the daemon's words if it gave some, and
    changes nothing."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(32)
        before = p.stats()
        e = expect_error(errno.EINVAL, p.free, 12345)
        assert isinstance(e, OSError)
        assert e.strerror == poolclient._lib.pool_strerror(
            -errno.EINVAL).decode() + \
            "; poolmgrd says: 0x3039 is not a live block", e.strerror
        expect_error(errno.EINVAL, p.free, 1 << 40)
        expect_error(errno.EINVAL, p.free, -1)
        expect_error(errno.EINVAL, p.alloc, 0)
        expect_error(errno.EINVAL, p.alloc, -5)
        expect_error(errno.EINVAL, p.alloc, 1 << 64)
        expect_error(errno.EFBIG, p.alloc, 2 * p.size)
        expect_error(errno.EINVAL, p.buffer, p.size - 8, 16)
        expect_error(errno.EINVAL, p.buffer, p.size, 0)
        e = expect_error(errno.ENOENT, p.lookup, "no such name")
        # The name once, in the daemon's words; escaped where not ASCII.
        assert e.strerror == poolclient._lib.pool_strerror(
            -errno.ENOENT).decode() + \
            "; poolmgrd says: no such name 'no such name' in pool py", \
            e.strerror
        e = expect_error(errno.ENOENT, p.unpublish, "caf\u00e9")
        assert e.strerror.endswith(
            "; poolmgrd says: no such name 'caf\\xc3\\xa9' in pool py"), \
            e.strerror
        expect_error(errno.EINVAL, p.publish, "", off)
        expect_error(errno.EINVAL, p.publish, "a\0b", off)
        expect_error(errno.ENAMETOOLONG, p.publish, "n" * 256, off)
        expect_error(errno.EINVAL, p.realloc, 12345, 64)
        try:
            p.alloc("16")
            raise AssertionError("alloc('16') did not raise")
        except TypeError:
            pass
        after = p.stats()
        for f in ("live_blocks", "allocated_bytes", "named_blocks"):
            assert getattr(after, f) == getattr(before, f), f
        p.free(off)
        expect_error(errno.ENOENT, c.open, "no-such-pool")
        expect_error(errno.ENAMETOOLONG, c.open, "x" * 65)
        expect_error(errno.EINVAL, c.open, "bad\0name")
        expect_error(errno.EEXIST, c.create_pool, "py", 1 << 20)
        expect_error(errno.EBUSY, c.destroy_pool, "py")
    expect_error(errno.ENOENT, poolclient.connect,
                 os.path.join(tempfile.gettempdir(), "no-such-dir", "sock"))


@test
def argument_refusals_say_what_is_wrong():
    """A size 0 in alloc_batch and a handle without a pid in blocks are
    refused before any request, in words that say which, as alloc(0)
    is: they were the library's bare text for EINVAL, which speaks of a
    live block.  Nothing changes."""
    with poolclient.connect() as c, c.open("py") as p:
        before = p.stats()
        for call in (p.alloc_batch, lambda sizes: p.alloc_batch(
                sizes, persist=True)):
            e = expect_error(errno.EINVAL, call, [64, 0])
            assert e.strerror == "invalid argument: size 0 out of range", \
                e.strerror
        e = expect_error(errno.EINVAL, p.alloc, 0)
        assert e.strerror == "invalid argument: size 0 out of range", \
            e.strerror
        for call in (lambda: c.blocks("py", handle=1),
                     lambda: p.blocks(handle=1)):
            e = expect_error(errno.EINVAL, call)
            assert e.strerror == "invalid argument: handle 1 without a " \
                "pid: a handle is known by its process's pid and its " \
                "number", e.strerror
        after = p.stats()
        for f in ("live_blocks", "allocated_bytes", "allocs",
                  "failed_allocs"):
            assert getattr(after, f) == getattr(before, f), f


class Int:
    """An integer that is not an int, as numpy's int64 (what np.prod and
    an array's elements give): it has __index__."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


@test
def integers_of_any_integer_type():
    """Sizes, offsets, alignments and waits may be integers of any type
    with __index__, as os.read and mmap take them: they were TypeError.
    Out of range they are EINVAL as ints are; a float, a bool, a str or
    None is still TypeError."""
    with poolclient.connect(timeout=Int(5)) as c, c.open("py") as p:
        off = p.alloc(Int(64), align=Int(16))
        assert off % 16 == 0 and p.usable_size(Int(off)) >= 64
        p.buffer(Int(off), Int(8))[:] = b"indexed!"
        assert bytes(p.buffer(off, 8)) == b"indexed!"
        batch = p.alloc_batch([Int(16), Int(32)])
        p.free_batch([Int(o) for o in batch])
        expect_error(errno.ENOENT, p.lookup, "py/no-such", wait=Int(0))
        expect_error(errno.EINVAL, p.alloc, Int(-1))
        expect_error(errno.EINVAL, p.alloc, Int(1 << 64))
        for bad in (64.0, True, "64", None):
            try:
                p.alloc(bad)
            except TypeError:
                continue
            raise AssertionError("alloc(%r) taken" % (bad,))
        p.free(Int(off))
        expect_error(errno.EINVAL, p.usable_size, off)


@test
def a_socket_path_not_in_utf_8():
    """A socket path as the file system gives it (os.listdir, argv: bytes
    that are not UTF-8 escaped as surrogates) reaches the library as those
    bytes, os.fsencode's: it was a UnicodeEncodeError."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-bytes.")
    try:
        raw = os.path.join(where.encode(), b"poolmgrd\xff.sock")
        lib = poolclient._lib
        ptr = ctypes.c_void_p()
        assert lib.pool_connect(raw, ctypes.byref(ptr)) == -errno.ENOENT
        # The library names the path's bytes; the text shows 0xff as the
        # replacement character.
        words = lib.pool_last_message(-errno.ENOENT)
        assert b"\xff" in words, words
        words = words.decode(errors="replace")
        for path in (os.fsdecode(raw), raw):
            e = expect_error(errno.ENOENT, poolclient.connect, path)
            assert e.strerror == words, e.strerror
    finally:
        os.rmdir(where)


def import_fails(env, path):
    """import poolclient in a new python3 with env and path: the
    ImportError's text (the import must fail)."""
    code = ("import sys\ntry:\n    import poolclient\nexcept ImportError"
            " as e:\n    print(e)\n    sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, env=dict(env, PYTHONPATH=path),
                       timeout=60, check=False)
    assert r.returncode == 3, "exit %d: %s%s" % (r.returncode, r.stdout,
                                                 r.stderr)
    return r.stdout


@test
def a_missing_library_names_every_place_tried():
    """When libpoolclient does not load, the ImportError names each place
    tried and why it failed: $POOLCLIENT_LIB when set (and it alone), else
    the tree's build and the dynamic loader's search, not only the last."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    where = tempfile.mkdtemp(prefix="poolmgr-py-nolib.")
    try:
        nope = os.path.join(where, "libnope.so.1")
        env["POOLCLIENT_LIB"] = nope
        said = import_fails(env, os.path.join(SRC, "client"))
        assert "tried $POOLCLIENT_LIB: %s: cannot open shared object " \
            "file" % nope in said, said
        assert "Set POOLCLIENT_LIB to the library's path" in said, said
        # A copy of the module in a tree with no build beside it.
        del env["POOLCLIENT_LIB"]
        os.mkdir(os.path.join(where, "client"))
        for f in ("poolclient.py", "poolclient_lib.py",
                  "poolclient_handle.py"):
            shutil.copy(os.path.join(SRC, "client", f),
                        os.path.join(where, "client", f))
        # Not this process: it has the build's loaded, under that soname.
        if subprocess.run([sys.executable, "-c", "import ctypes; ctypes."
                           "CDLL('libpoolclient.so.1')"], env=env,
                          capture_output=True, timeout=60,
                          check=False).returncode == 0:
            print("  (libpoolclient.so.1 is installed: only "
                  "$POOLCLIENT_LIB's failure checked)")
            return
        said = import_fails(env, os.path.join(where, "client"))
        tree = os.path.join(where, "build", "libpoolclient.so.1")
        assert "tried the source tree's build: %s: cannot open shared " \
            "object file" % tree in said, said
        assert "; the dynamic loader's search path (LD_LIBRARY_PATH, " \
            "/etc/ld.so.cache, the system's library directories): " \
            "libpoolclient.so.1: cannot open shared object file" in said, \
            said
    finally:
        shutil.rmtree(where, ignore_errors=True)


@test
def a_library_without_a_function_is_an_import_error():
    """A library that loads but lacks a function the module uses (an
    older libpoolclient.so.1; libm here) is an ImportError that names it
    and the first function missing, as a library that does not load is:
    it was an AttributeError, which `except ImportError` lets through."""
    libm = ctypes.util.find_library("m")
    assert libm, "no libm to stand for an older library"
    env = dict(os.environ, POOLCLIENT_LIB=libm)
    said = import_fails(env, os.path.join(SRC, "client"))
    assert "tried $POOLCLIENT_LIB: %s: lacks pool_connect and " % libm \
        in said, said
    assert "older than this module" in said, said


@test
def daemon_words_only_when_they_add():
    """PoolError leaves the daemon's words out where pool_strerror's text
    names the code's one case (EROFS: the file's pool), by the library's
    rule that poolctl follows too (pool_message_adds), and keeps them
    where they say which case it was; nothing changes either way."""
    lib = poolclient._lib
    with poolclient.connect() as c:
        e = expect_error(errno.EROFS, c.set_pool, "py", mode=0o644)
        assert e.strerror == lib.pool_strerror(-errno.EROFS).decode(), \
            e.strerror
        assert "poolmgrd says" not in e.strerror, e.strerror
        assert c.stats("py").mode == 0o600
        e = expect_error(errno.EEXIST, c.create_pool, "py", 1 << 20)
        assert e.strerror.endswith("; poolmgrd says: pool py exists"), \
            e.strerror
        assert c.stats("py").max_size == 16 << 20
    assert lib.pool_message_adds(-errno.EROFS) == 0
    for code in (errno.EINVAL, errno.EEXIST, errno.EBUSY, errno.ENOMEM,
                 errno.EACCES, errno.EPERM, errno.EIO):
        assert lib.pool_message_adds(-code) == 1, errno.errorcode[code]


@test
def a_name_too_long_has_no_words():
    """A block name too long is the library's own ENAMETOOLONG, asked of
    no daemon: its PoolError is pool_strerror's text alone, without the
    words an earlier failure of the same code left (here the library's
    for a socket path too long), which would say that poolmgrd said so,
    and of another name."""
    long_path = "/" + "x" * 200
    name = "n" * (poolclient.BLOCK_NAME_MAX + 1)
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(64)
        for fn, args, kw in ((p.publish, (name, off), {}),
                             (p.lookup, (name,), {}),
                             (p.lookup, (name,), {"retain": True}),
                             (p.lookup, (name,), {"wait": 0.1}),
                             (p.unpublish, (name,), {})):
            e = expect_error(errno.ENAMETOOLONG, poolclient.connect,
                             long_path)
            assert "socket path" in e.strerror, e.strerror
            e = expect_error(errno.ENAMETOOLONG, fn, *args, **kw)
            assert e.strerror == poolclient._lib.pool_strerror(
                -errno.ENAMETOOLONG).decode(), (fn.__name__, kw, e.strerror)
        p.free(off)


@test
def read_only_handle():
    """A read-only handle's buffer is not writable (its mapping is
    PROT_READ), and it may not allocate."""
    with poolclient.connect() as c, c.open("pyro") as w:
        off = w.alloc(128)
        w.buffer(off, 4)[:] = b"ro!!"
        assert w.read_only is False
        with c.open("pyro", read_only=1) as r:
            assert r.read_only is True     # a bool, whatever truth was given
            mv = r.buffer(off, 128)
            assert mv.readonly and mv.format == "B" and len(mv) == 128
            assert bytes(mv[:4]) == b"ro!!"
            try:
                mv[0] = 1
                raise AssertionError("a read-only buffer took a write")
            except TypeError:
                pass
            expect_error(errno.EACCES, r.alloc, 16)
            expect_error(errno.EACCES, r.publish, "ro", off)
            mv.release()
        w.free(off)


@test
def closed_handles_raise():
    """A closed pool or connection raises EBADF instead of reaching freed
    memory; a pool with a buffer in use refuses to close."""
    c = poolclient.connect()
    p = c.open("py")
    off = p.alloc(64)
    mv = p.buffer(off, 64)
    try:
        p.close()
        raise AssertionError("close with a buffer in use")
    except BufferError:
        pass
    try:
        c.close()
        raise AssertionError("connection close with a buffer in use")
    except BufferError:
        pass
    assert not p.closed and not c.closed
    mv[:3] = b"abc"		# still mapped
    assert p.usable_size(off) >= 64
    mv.release()
    p.close()
    p.close()
    assert p.closed
    expect_error(errno.EBADF, p.alloc, 16)
    expect_error(errno.EBADF, p.buffer, off, 8)
    expect_error(errno.EBADF, p.stats)
    q = c.open("py")
    c.close()		# closes q first: its pointer is not freed twice
    assert q.closed and c.closed
    expect_error(errno.EBADF, q.alloc, 16)
    expect_error(errno.EBADF, c.open, "py")
    expect_error(errno.EBADF, c.list_pools)
    q.close()
    c.close()


@test
def an_error_in_a_with_block_is_not_hidden_by_a_buffer():
    """An exception raised in a pool's (or connection's) with block while
    a buffer of the pool is still held (a local of the block, as it is
    when the block fails) comes out of the block as it was: the exit's
    close once raised BufferError in its place.  The pool stays open
    while the buffer lives, and is closed once it is dropped."""
    with poolclient.connect() as w:
        base = w.stats("py").clients
        for pool_with in (True, False):
            try:
                with poolclient.connect() as c:
                    if pool_with:
                        with c.open("py") as p:
                            mv = p.buffer(p.alloc(64), 64)
                            raise KeyError("the block's own error")
                    p = c.open("py")
                    mv = p.buffer(p.alloc(64), 64)
                    raise KeyError("the block's own error")
            except KeyError as e:
                assert e.args == ("the block's own error",), e
            except BufferError as e:
                raise AssertionError("the block's error hidden: %r" % e)
            else:
                raise AssertionError("no error came out")
            assert not p.closed and not c.closed
            mv[:4] = b"open"	# still mapped
            assert w.stats("py").clients == base + 1
            del mv, p, c
            gc.collect()
            assert w.stats("py").clients == base, "not closed once dropped"
        try:
            with poolclient.connect() as c, c.open("py") as p:
                mv = p.buffer(p.alloc(64), 64)
        except BufferError:
            pass		# without an error, the exit's close refuses
        else:
            raise AssertionError("a close under a buffer went through")
        mv.release()
        p.close()
        c.close()


@test
def handles_are_not_copied_or_pickled():
    """copy.copy, copy.deepcopy and pickle refuse a Pool or a Connection
    with a TypeError that names it, as they refuse a socket: a shallow
    copy shared the original's handle, and once dropped closed the
    original under its user; a deep copy and a pickle (an argument to a
    process that multiprocessing starts) failed on a lock inside."""
    with poolclient.connect() as c, c.open("py") as p:
        for obj in (p, c):
            for fn in (copy.copy, copy.deepcopy, pickle.dumps):
                try:
                    dup = fn(obj)
                except TypeError as e:
                    assert type(obj).__name__ in str(e), e
                else:
                    del dup
                    gc.collect()
                    raise AssertionError("%s of a %s went through" % (
                        fn.__name__, type(obj).__name__))
                assert not p.closed and not c.closed
        p.free(p.alloc(64))


@test
def forked_child_must_reconnect():
    """A forked child's inherited pool answers ECHILD (its buffers still
    reach the mapping); a connection of its own works."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(64)
        mv = p.buffer(off, 8)
        mv[:] = b"parent!!"
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                expect_error(errno.ECHILD, p.alloc, 16)
                expect_error(errno.ECHILD, p.stats)
                if bytes(mv) == b"parent!!":
                    with poolclient.connect() as d, d.open("py") as q:
                        q.buffer(off, 5)[:] = b"child"
                    code = 0
            except BaseException:
                traceback.print_exc()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert bytes(mv) == b"childt!!", bytes(mv)
        mv.release()
        p.free(off)


@test
def a_forked_child_makes_no_buffer():
    """A forked child's inherited pool refuses a new buffer with ECHILD,
    with a length given or without, as its every other call: a buffer
    with a length was made over the inherited mapping.  The buffers it
    inherited still reach the mapping."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(64)
        mv = p.buffer(off, 8)
        mv[:] = b"inherit!"
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for args in ((off, 8), (off,), (off, 0)):
                    e = expect_error(errno.ECHILD, p.buffer, *args)
                    assert e.strerror == poolclient._lib.pool_strerror(
                        -errno.ECHILD).decode(), e.strerror
                assert bytes(mv) == b"inherit!", bytes(mv)
                mv.release()
                p.close()
                assert p.closed
                code = 0
            except BaseException:
                traceback.print_exc()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        # The parent's own calls are untouched by the child's.
        assert bytes(p.buffer(off, 8)) == b"inherit!"
        mv.release()
        p.free(off)


@test
def close_while_threads_call():
    """A close while other threads call on the pool waits for their calls
    to end, and the calls after it are EBADF: no call reaches a freed
    handle (which ASan would report)."""
    c = poolclient.connect()
    base = c.stats("py").clients
    p = c.open("py")
    started = [threading.Event() for _ in range(4)]
    seen = []

    def work(ev):
        n = 0
        while True:
            try:
                p.free(p.alloc(64 + n % 512))
            except poolclient.PoolError as e:
                seen.append(e.errno)
                return
            n += 1
            ev.set()

    threads = [threading.Thread(target=work, args=(ev,)) for ev in started]
    for t in threads:
        t.start()
    for ev in started:
        ev.wait(60)
    p.close()
    for t in threads:
        t.join(60)
    assert all(ev.is_set() for ev in started)
    assert seen == [errno.EBADF] * 4, seen
    assert c.stats("py").clients == base, "the handle is still open"
    c.close()


OPEN_KEPT = 64


@test
def close_while_threads_open_pools():
    """A connection's close while another thread opens pools on it leaves
    none of them looking open: pool_disconnect frees every pool of the
    connection, and a pool whose open was under way as the close began
    was once not marked closed, its calls then reaching freed memory.
    Past OPEN_KEPT pools the thread closes each it opens (and keeps
    opening): a close that comes late, on a loaded machine, would else
    meet the thread out of descriptors (EMFILE), one a pool."""
    for _ in range(3):
        c = poolclient.connect()
        opened = []
        some = threading.Event()

        def open_until_closed():
            while True:
                try:
                    p = c.open("py")
                except poolclient.PoolError as e:
                    opened.append(e.errno)
                    return
                if len(opened) < OPEN_KEPT:
                    opened.append(p)
                else:
                    p.close()
                if len(opened) >= 5:
                    some.set()

        t = threading.Thread(target=open_until_closed)
        t.start()
        some.wait(60)
        c.close()
        t.join(60)
        assert opened[-1] == errno.EBADF, opened[-1]
        pools = opened[:-1]
        left = [p for p in pools if not p.closed]
        assert not left, "%d of %d pools not closed" % (len(left),
                                                         len(pools))
        expect_error(errno.EBADF, pools[-1].stats)


@test
def close_while_threads_make_buffers():
    """A pool's close while two other threads make and write buffers of
    it either refuses (BufferError) or comes after the last buffer: a
    buffer made as the close ran was once made over the mapping the
    close had just unmapped, and its write killed the process (SIGSEGV).
    The collector runs often, with finalizers to run: the close once
    walked the other threads' stacks (sys._current_frames, f_back), and
    in CPython 3.11 making the frame object of another thread's frame
    can collect, whose finalizers let that thread pop the frame being
    made; the walk read freed memory (SIGSEGV, or "'int' object has no
    attribute 'f_back'"), here in about one run in four.  Rounds for 3 s
    in a child process, whose death fails the test."""
    out = run_py(
        "import gc, threading, time\n"
        "sys.setswitchinterval(1e-6)\n"
        "class Garbage:\n"
        "    def __del__(self):\n"
        "        sum(range(20))\n"
        "def litter():\n"
        "    for _ in range(4):\n"
        "        g = Garbage()\n"
        "        g.me = g\n"
        "c = poolclient.connect()\n"
        "gc.set_threshold(20)\n"
        "end = time.monotonic() + 3\n"
        "rounds = 0\n"
        "while rounds < 20 or time.monotonic() < end:\n"
        "    p = c.open('py')\n"
        "    off = p.alloc(64)\n"
        "    go = threading.Event()\n"
        "    def write(p=p, off=off):\n"
        "        while True:\n"
        "            litter()\n"
        "            try:\n"
        "                mv = p.buffer(off, 64)\n"
        "            except poolclient.PoolError:\n"
        "                return\n"
        "            go.set()\n"
        "            mv[0] = 1\n"
        "            mv.release()\n"
        "    ts = [threading.Thread(target=write) for _ in range(2)]\n"
        "    for t in ts:\n"
        "        t.start()\n"
        "    go.wait()\n"
        "    while True:\n"
        "        litter()\n"
        "        try:\n"
        "            p.close()\n"
        "            break\n"
        "        except BufferError:\n"
        "            pass\n"
        "    for t in ts:\n"
        "        t.join()\n"
        "    rounds += 1\n"
        "gc.set_threshold(700)\n"
        "c.close()\n"
        "print('done')\n")
    assert out == "done\n", out


@test
def close_ends_the_waits_of_other_threads():
    """A pool's close, and its connection's, while another thread waits
    in lookup(wait=-1) or alloc(wait=-1) on it, ends that wait at its
    next part (EBADF) and closes: it once waited for the wait to end, for
    ever with nothing published (a publish 10 s on ends it here)."""
    with poolclient.connect() as w, w.open("py") as pw:
        w.create_pool("pyfull", 1 << 20, limit=64 << 10)
        try:
            for what in ("lookup", "alloc", "connection"):
                c = poolclient.connect()
                p = c.open("pyfull" if what == "alloc" else "py")
                if what == "alloc":
                    p.alloc(64 << 10)
                got = []

                def wait():
                    try:
                        if what == "alloc":
                            got.append(p.alloc(4096, wait=-1))
                        else:
                            got.append(p.lookup("py/closed", wait=-1))
                    except poolclient.PoolError as e:
                        got.append(e.errno)

                t = threading.Thread(target=wait)
                t.start()
                blk = pw.alloc(64)
                end = threading.Timer(10, pw.publish, ("py/closed", blk))
                end.start()
                try:
                    # Not an assertion: time for the wait to begin.
                    time.sleep(0.3)
                    start = time.monotonic()
                    (c if what == "connection" else p).close()
                    took = time.monotonic() - start
                    t.join(60)
                finally:
                    end.cancel()
                    end.join()
                assert got == [errno.EBADF], (what, got)
                assert took < 5, "%s: close took %.1f s" % (what, took)
                assert p.closed, what
                c.close()
                pw.free(blk)
                if pw.names("py/closed"):
                    pw.unpublish("py/closed")
        finally:
            w.destroy_pool("pyfull", force=True)


@test
def a_forked_child_closes_what_a_thread_was_in():
    """A child forked while another thread of the parent waits in a call
    on a pool closes its inherited pool and connection at once: the call
    counted as running there never ends in the child, and close once
    waited for it for ever (SIGALRM ends such a child here)."""
    with poolclient.connect() as c, c.open("py") as p, \
            poolclient.connect() as c2, c2.open("py") as q:
        got = []
        t = threading.Thread(target=lambda: got.append(
            p.lookup("py/forked", wait=60)))
        t.start()
        try:
            # Not an assertion: time for the thread to be in its wait,
            # which lasts until the publish below.
            time.sleep(0.3)
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    signal.alarm(10)
                    p.close()
                    c.close()
                    code = 0 if p.closed and c.closed else 2
                except BaseException:
                    traceback.print_exc()
                os._exit(code)
            _, status = os.waitpid(pid, 0)
        finally:
            off = q.alloc(64)
            q.publish("py/forked", off)
            q.free(off)
            t.join(60)
        assert got and got[0].offset == off, got
        assert os.waitstatus_to_exitcode(status) == 0, \
            "child: %s" % os.waitstatus_to_exitcode(status)
        q.unpublish("py/forked")


@test
def a_pool_in_a_garbage_cycle_with_its_buffer_is_closed():
    """A pool that the collector finds in a reference cycle with a buffer
    of it (an object that holds both, and itself) is closed with them:
    the buffer's weak reference, cleared by the collector, once counted
    as a buffer in use, so the pool's close refused and the handle stayed
    open until the connection closed."""
    class Holder:
        pass

    with poolclient.connect() as w, poolclient.connect() as c:
        base = w.stats("py").clients
        for _ in range(3):
            h = Holder()
            h.me, h.pool = h, c.open("py")
            h.view = h.pool.buffer(h.pool.alloc(64), 64)
            del h
        gc.collect()
        assert w.stats("py").clients == base, \
            "%d handles left open" % (w.stats("py").clients - base)


@test
def dropped_handles_are_closed():
    """Pools and connections dropped without close are closed by the
    collector: the daemon sees their handles go."""
    with poolclient.connect() as c:
        base = c.stats("py").clients
        p = c.open("py")
        assert c.stats("py").clients == base + 1
        del p
        gc.collect()
        assert c.stats("py").clients == base
        d = poolclient.connect()
        q = d.open("py")
        q.alloc(100)
        assert c.stats("py").clients == base + 1
        del d, q
        gc.collect()
        assert c.stats("py").clients == base
    # A process that exits with everything open: no error, no crash.
    out = run_py("c = poolclient.connect()\np = c.open('py')\n"
                 "mv = p.buffer(p.alloc(10), 10)\nprint('left')\n")
    assert out == "left\n"


@test
def handles_in_a_cycle_are_closed_once():
    """A connection and its pool that the collector finds in a reference
    cycle, or in the globals at exit (which a function makes a cycle),
    are each closed once: the pool is not closed after its connection's
    close freed it (which hung the process on a freed lock)."""
    code = ("import gc, poolclient\n"
            "class Holder:\n"
            "    pass\n"
            "with poolclient.connect() as watch:\n"
            "    base = watch.stats('py').clients\n"
            "    for i in range(20):\n"
            "        h = Holder()\n"
            "        h.me, h.conn = h, poolclient.connect()\n"
            "        h.pool = h.conn.open('py')\n"
            "        h.pool.alloc(100)\n"
            "        del h\n"
            "        gc.collect()\n"
            "    print(watch.stats('py').clients - base)\n"
            "def kept():\n"
            "    pass\n"
            "c = poolclient.connect()\n"
            "p = c.open('py')\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "client"))
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, env=env, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise AssertionError("the child hung closing its handles") from None
    assert r.returncode == 0 and r.stderr == "", \
        "child: exit %d: %s" % (r.returncode, r.stderr)
    assert r.stdout == "0\n", "handles left open: " + r.stdout


@test
def stats_equal_poolctl_json():
    """Every field poolctl stats --json prints equals PoolStats', and
    PoolStats has every field of struct pool_stats."""
    fields = {f[0] for f in poolclient._Stats._fields_} - {"reserved",
                                                           "reserved32"}
    assert set(poolclient.PoolStats.__dataclass_fields__) == fields
    with poolclient.connect() as c, c.open("pystats") as p:
        offs = [p.alloc(n) for n in (16, 100, 5000, 70000)]
        p.free(offs.pop())
        p.persist(offs[0])
        p.publish("pystats/one", offs[1])
        p.flush()
        mine = p.stats()
        rc, out, err = run_c("poolctl", "--json", "stats", "pystats")
        assert rc == 0, (rc, out, err)
        doc = json.loads(out)
        doc = doc[0] if isinstance(doc, list) else doc
        compared = 0
        for key, v in doc.items():
            if key in ("used_percent", "fragmentation_percent"):
                continue
            if key in ("user", "group"):    # the names beside the ids
                try:
                    want_name = (pwd.getpwuid(mine.uid).pw_name if key == "user"
                              else grp.getgrgid(mine.gid).gr_name)
                except KeyError:
                    want_name = None
                assert v == want_name, (key, v, want_name)
                compared += 1
                continue
            if key == "acl":    # not in struct pool_stats: Connection.acl
                got = [(e["kind"], e["id"], e["rights"]) for e in v]
                assert got == [tuple(e) for e in c.acl("pystats")], got
                compared += 1
                continue
            if key == "user_quotas":    # nor these: Connection.user_quotas
                got = {e["uid"]: e["bytes"] for e in v}
                assert got == c.user_quotas("pystats"), got
                compared += 1
                continue
            want = getattr(mine, key)
            if key == "mode":
                v = int(v, 8)
            if key == "numa_policy":
                v = ("default", "preferred", "bind", "other").index(v)
            if key == "numa_node" and v is None:	# no policy: 0 in C
                v = 0
            assert v == want, "%s: poolctl %r, Python %r" % (key, v, want)
            compared += 1
        assert compared >= 25, compared
        assert mine.allocs >= 4 and mine.frees >= 1 and mine.named_blocks == 1
        assert c.stats("pystats") == mine
        p.unpublish("pystats/one")
        for o in (offs[0], offs[0], offs[1], offs[2]):	# [0]: the pool's too
            p.free(o)
        p.flush()		# the client cache gives its blocks back
        assert p.stats().live_blocks == 0


@test
def daemon_stats_count_what_happens():
    """Connection.daemon_stats has every field of struct
    pool_daemon_stats, counts a refused request, and says what poolctl
    status --format=kv says."""
    fields = {f[0] for f in poolclient._DaemonStats._fields_} - {"reserved",
                                                                 "reserved32"}
    assert set(poolclient.DaemonStats.__dataclass_fields__) == fields
    with poolclient.connect() as c:
        a = c.daemon_stats()
        assert a.server.startswith("poolmgrd "), a.server
        assert a.features & (1 << 3) and a.connections >= 1
        assert a.rss_bytes > 0 and a.started > 0
        expect_error(errno.ENOENT, c.stats, "py_no_such_pool")
        b = c.daemon_stats()
        # a's own request, and the refused stats.
        assert b.requests_total == a.requests_total + 2, (a, b)
        assert b.requests_refused == a.requests_refused + 1, (a, b)
        assert b.started == a.started and b.uptime_ms >= a.uptime_ms
        rc, out, err = run_c("poolctl", "status", "--format=kv")
        assert rc == 0 and err == "", (rc, err)
        kv = dict(line.split(" ", 1) for line in out.splitlines())
        assert kv["server"] == b.server
        for key in ("pid", "uid", "gid", "started", "restarts", "pools",
                    "max_connections", "admin_connections",
                    "max_connections_per_uid", "kept_connections",
                    "features", "bad_messages"):
            assert int(kv[key]) == getattr(b, key), (key, kv[key], b)
        # b's own request, and poolctl's Hello.
        assert int(kv["requests_total"]) == b.requests_total + 2
        assert int(kv["connections_total"]) == b.connections_total + 1


@test
def blocks_list_what_each_process_holds():
    """Connection.blocks lists a pool's live blocks in address order, page
    after page, with their holders and flags; pid keeps exactly one
    process's blocks (a child's here); a bad filter fails at the call."""
    with poolclient.connect() as c, c.open("py") as p:
        p.set_cache(0)
        offs = [p.alloc(100 + i) for i in range(300)]
        big = p.alloc(300 << 10)
        p.persist(offs[5])
        r, w = os.pipe()
        child = subprocess.Popen(
            [sys.executable, "-c",
             "import os, sys\n"
             "import poolclient\n"
             "with poolclient.connect() as c, c.open('py') as p:\n"
             "    p.set_cache(0)\n"
             "    a, b = p.alloc(64), p.alloc(5000)\n"
             "    p.retain(%d)\n"
             "    os.write(%d, b'%%d %%d\\n' %% (a, b))\n"
             "    sys.stdin.read()\n" % (offs[7], w)],
            stdin=subprocess.PIPE, pass_fds=(w,),
            env=dict(os.environ, PYTHONPATH=os.path.join(SRC, "client")))
        os.close(w)
        theirs = [int(x) for x in os.read(r, 100).split()]
        os.close(r)
        try:
            listed = list(c.blocks("py"))
            at = [b.offset for b in listed]
            assert at == sorted(set(at)), "not in address order"
            by_off = {b.offset: b for b in listed}
            for o in offs + [big] + theirs:
                assert o in by_off, "block %#x not listed" % o
            assert by_off[big].usable_size >= 300 << 10
            assert by_off[offs[0]].requested == 100
            assert by_off[offs[5]].persistent
            assert by_off[offs[5]].persister == os.getuid()
            assert not by_off[offs[6]].persistent
            assert by_off[offs[6]].persister is None
            shared = by_off[offs[7]]
            assert shared.holders == 2, shared
            assert {h.pid for h in shared.first_holders} == \
                {os.getpid(), child.pid}, shared
            mine = [b.offset for b in c.blocks("py", pid=os.getpid())]
            assert set(offs + [big]) <= set(mine), "own blocks missing"
            assert not set(theirs) & set(mine)
            kid = [b.offset for b in p.blocks(pid=child.pid)]
            assert kid == sorted(theirs + [offs[7]]), (kid, theirs)
            later = [b.offset for b in c.blocks("py", start=offs[150])]
            assert later == [o for o in at if o >= offs[150]]
            expect_error(errno.ESRCH, c.blocks, "py", pid=1)
            expect_error(errno.EINVAL, c.blocks, "py", handle=1)
            # Out of a C field's range: refused, not wrapped (pid 2**32
            # would be 0, every block; start -1 past them all).
            expect_error(errno.EINVAL, c.blocks, "py", pid=2**32)
            expect_error(errno.EINVAL, c.blocks, "py", pid=-1)
            expect_error(errno.EINVAL, c.blocks, "py", pid=os.getpid(),
                         handle=2**32)
            expect_error(errno.EINVAL, c.blocks, "py", start=-1)
            expect_error(errno.EINVAL, c.blocks, "py", start=2**64)
            expect_error(errno.ENOENT, c.blocks, "py_no_such_pool")
        finally:
            child.communicate(b"", timeout=60)
        assert child.returncode == 0
        for o in offs + [big, offs[5]]:	# [5]: the pool's reference too
            p.free(o)
        assert [b for b in c.blocks("py", pid=os.getpid())] == []


@test
def blocks_and_names():
    """realloc, retain, persist, aligned and zeroed allocations, batches
    and the list of names behave as the C calls do."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(100)
        p.buffer(off, 100)[:] = b"x" * 100
        big = p.realloc(off, 100000)
        assert bytes(p.buffer(big, 100)) == b"x" * 100
        assert p.usable_size(big) >= 100000
        assert p.realloc(big, 0) == poolclient.OFF_NONE
        a = p.alloc(3000, align=4096, zero=True)
        assert a % 4096 == 0 and bytes(p.buffer(a, 3000)) == bytes(3000)
        z = p.alloc(200, zero=True)
        assert bytes(p.buffer(z, 200)) == bytes(200)
        assert len(p.buffer(z)) == p.usable_size(z)
        with c.open("py") as q:
            q.retain(a)
            p.free(a)
            assert bytes(q.buffer(a, 3000)) == bytes(3000)	# q's now
            q.free(a)
            expect_error(errno.EINVAL, q.free, a)
        batch = p.alloc_batch([16, 32, 64])
        assert len(set(batch)) == 3
        p.free_batch(batch)
        # An empty batch is no blocks, as free_batch([]) frees none: it
        # was EINVAL, "not the start of a live block".
        assert p.alloc_batch([]) == [] and p.free_batch([]) is None
        expect_error(errno.E2BIG, p.alloc_batch,
                     [16] * (poolclient.BATCH_MAX + 1))
        expect_error(errno.EINVAL, p.free_batch, [z, z])
        for i in range(3):
            p.publish("pylist/%d" % i, p.alloc(10 + i))
        p.publish("other", z)
        names = p.names("pylist/")
        assert [n.name for n in names] == ["pylist/0", "pylist/1",
                                           "pylist/2"], names
        assert names.total == 3 and names[1].usable_size >= 11
        assert names[2].publisher == os.getuid()
        assert [n.evictable for n in names] == [False] * 3
        repl = p.alloc(40)
        p.publish("pylist/0", repl, replace=True, evictable=True)
        assert p.lookup("pylist/0").offset == repl
        assert p.names("pylist/0")[0].evictable is True
        expect_error(errno.EEXIST, p.publish, "pylist/1", p.alloc(8))
        for n in ("pylist/0", "pylist/1", "pylist/2", "other"):
            p.unpublish(n)
        assert p.names("pylist/") == []
        p.check()
        c.check("py")


@test
def names_in_pages():
    """all_names lists every name of a pool, however few one reply holds,
    page after page, a name that is not UTF-8 among them; names_after is
    one page, its .total the page and what is left after it; a page from
    past the last name is empty; an after too long is ENAMETOOLONG."""
    pad = "x" * 180
    names = ["pypage/%04d/%s" % (i, pad) for i in range(3000)]
    odd = b"pypage/\xff"
    with poolclient.connect() as c, c.open("py") as p:
        for n in reversed(names):
            p.publish(n, p.alloc(16))
        p.publish(odd, p.alloc(16))
        first = p.names_after("pypage/")
        assert 0 < len(first) < 3000 and first.total == 3001, first.total
        listed = p.all_names("pypage/")
        assert [n.name for n in listed[:-1]] == names
        assert listed[-1].name == odd.decode(errors="replace")
        assert len(c.all_names("py", "pypage/0")) == 1000
        rest = c.names_after("py", "pypage/", first[-1].name)
        assert rest.total == 3001 - len(first)
        assert rest[0].name == names[len(first)]
        assert c.names_after("py", "pypage/", odd) == []
        assert c.names_after("py", "pypage/", odd).total == 0
        expect_error(errno.ENAMETOOLONG, p.names_after, "", "z" * 256)
        for n in names + [odd]:
            p.unpublish(n)
        assert p.all_names("pypage/") == []
        p.check()


@test
def names_after_pages_on_from_last():
    """names_after asked page after page, each from the .last of the one
    before, lists every name once and ends, with names that are not
    UTF-8 at the pages' bounds; the last .name would not do: it reads
    with U+FFFD, which sorts before them, and a page from it lists them
    again from the first."""
    pad = b"y" * 190
    names = [b"pyodd/\xff%04d/" % i + pad for i in range(1000)]
    with poolclient.connect() as c, c.open("py") as p:
        for n in names:
            p.publish(n, p.alloc(16))
        first = p.names_after(b"pyodd/")
        assert 0 < len(first) < len(names), len(first)
        assert first.last == names[len(first) - 1]
        assert p.names_after(b"pyodd/", first[-1].name)[0] == first[0]
        listed, after, pages = [], b"", 0
        while True:
            page = p.names_after(b"pyodd/", after)
            pages += 1
            assert pages <= len(names), "the pages never end"
            listed += [n.name for n in page]
            if page.total == len(page):
                break
            after = page.last
        assert pages > 1, pages
        assert listed == [n.decode(errors="replace") for n in names]
        empty = c.names_after("py", b"pyodd/", names[-1])
        assert empty == [] and empty.total == 0
        assert empty.last == names[-1]
        for n in names:
            p.unpublish(n)
        p.check()


@test
def every_page_of_names_has_last():
    """names() is a page as names_after's are, with .total and .last: the
    bytes of its last name, one that is not UTF-8 too, where the next
    page starts (from .name, which reads with U+FFFD, it would list the
    page again); b"" for a page of none, and after for names_after's."""
    pad = b"z" * 190
    names = [b"pylast/\xfe%04d/" % i + pad for i in range(1000)]
    with poolclient.connect() as c, c.open("py") as p:
        for n in names:
            p.publish(n, p.alloc(16))
        for page in (p.names(b"pylast/"), c.names("py", b"pylast/"),
                     p.names_after(b"pylast/")):
            assert 0 < len(page) < len(names), len(page)
            assert page.total == len(names), page.total
            assert page.last == names[len(page) - 1], page.last
            rest = p.names_after(b"pylast/", page.last)
            assert rest[0].name == names[len(page)].decode(errors="replace")
            assert rest.total == len(names) - len(page)
        whole = p.names(names[-1])
        assert len(whole) == 1 and whole.total == 1
        assert whole.last == names[-1]
        none = p.names(b"pylast/none")
        assert none == [] and none.total == 0 and none.last == b""
        for n in names:
            p.unpublish(n)
        p.check()


@test
def a_lookup_is_a_named_tuple_with_its_generation():
    """A Lookup is the pair (offset, usable_size), with the generation
    besides: namedtuple's _replace and _make give a Lookup that still
    has one (they raised AttributeError, and its repr too), and a copy
    or a pickle keeps it."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(64)
        p.publish("py/tuple", off)
        p.publish("py/tuple", off, replace=True)
        p.free(off)
        try:
            f = p.lookup("py/tuple")
            assert f.generation > 1, f
            off2, usable = f
            assert (off2, usable) == (off, p.usable_size(off)) == f
            moved = f._replace(offset=off + 16)
            assert isinstance(moved, poolclient.Lookup), type(moved)
            assert tuple(moved) == (off + 16, usable), moved
            assert moved.generation == f.generation, moved
            assert repr(moved) == "Lookup(offset=%d, usable_size=%d, " \
                "generation=%d)" % (off + 16, usable, f.generation)
            newer = f._replace(generation=f.generation + 1)
            assert tuple(newer) == tuple(f), newer
            assert newer.generation == f.generation + 1, newer
            made = poolclient.Lookup._make([off, usable])
            assert tuple(made) == (off, usable) and made.generation == 0
            assert repr(made) == "Lookup(offset=%d, usable_size=%d, " \
                "generation=0)" % (off, usable)
            for again in (copy.copy(f), copy.deepcopy(f),
                          pickle.loads(pickle.dumps(f))):
                assert again == f and again.generation == f.generation, \
                    again
            assert f._asdict() == {"offset": off, "usable_size": usable}
            try:
                f._replace(size=1)
                raise AssertionError("_replace(size=1) did not raise")
            except ValueError:
                pass
        finally:
            p.unpublish("py/tuple")


@test
def lookup_waits_for_a_newer_generation():
    """lookup(wait=...) in a child process is answered by a publish
    here, with the name's generation (as names() lists it); a lookup after
    that generation times out, changing nothing; bad waits are refused."""
    with poolclient.connect() as c, c.open("py") as p:
        r, w = os.pipe()
        child = subprocess.Popen(
            [sys.executable, "-c",
             "import os\n"
             "import poolclient\n"
             "with poolclient.connect() as c:\n"
             "    with c.open('py', read_only=True) as p:\n"
             "        os.write(%d, b'1')\n"
             "        f = p.lookup('py/wait', wait=60)\n"
             "        print(f.offset, f.generation,\n"
             "              bytes(p.buffer(f.offset, 4)).decode())\n"
             % w],
            stdout=subprocess.PIPE, text=True, pass_fds=(w,),
            env=dict(os.environ, PYTHONPATH=os.path.join(SRC, "client")))
        os.close(w)
        assert os.read(r, 1) == b"1"
        os.close(r)
        # Published now or before the child asks: either way it is the
        # block and generation the child gets.
        off = p.alloc(64)
        p.buffer(off, 4)[:] = b"wait"
        p.publish("py/wait", off)
        p.free(off)
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0, out
        got_off, gen, text = out.split()
        listed = p.names("py/wait")[0]
        assert int(got_off) == off and text == "wait", out
        assert int(gen) == listed.generation > 0, (out, listed)
        f = p.lookup("py/wait")
        assert (f.offset, f.generation) == (off, listed.generation)
        before = p.stats()
        expect_error(errno.ETIMEDOUT, p.lookup, "py/wait", retain=True,
                     wait=0.05, after_generation=f.generation)
        after = p.stats()
        assert after.live_blocks == before.live_blocks
        assert after.allocated_bytes == before.allocated_bytes
        expect_error(errno.EINVAL, p.lookup, "py/wait", wait=-2)
        try:
            p.lookup("py/wait", wait="1")
        except TypeError:
            pass
        else:
            raise AssertionError("wait='1' taken")
        p.unpublish("py/wait")


def read_within(fd, n, seconds):
    """n bytes from fd, or what came before seconds passed (a liveness
    bound, not a measure of speed)."""
    got = b""
    end = time.monotonic() + seconds
    while len(got) < n:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        b = os.read(fd, n - len(got))
        if not b:
            break
        got += b
    return got


def asleep(pid):
    """Whether process pid is asleep (state S): after it said it is about
    to wait, the only sleep on its way is the wait for the daemon."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "S"


@test
def ctrl_c_stops_a_wait_without_end():
    """A child blocked in lookup(wait=-1) runs its own signal handler
    (SIGUSR1, which returns: the wait goes on) and is stopped by SIGINT
    with KeyboardInterrupt, as Ctrl-C would; its connection answers after
    the interrupt, as nothing of the wait is left in flight."""
    r, w = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import os, signal, sys\n"
         "import poolclient\n"
         # An ignored SIGINT (a background job's) stays ignored in Python.
         "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
         "signal.signal(signal.SIGUSR1, lambda *a: os.write(%d, b'u'))\n"
         "with poolclient.connect() as c, c.open('py') as p:\n"
         "    os.write(%d, b'w')\n"
         "    try:\n"
         "        p.lookup('py/never', retain=True, wait=-1)\n"
         "    finally:\n"
         "        print(p.stats().live_blocks, file=sys.stderr)\n"
         % (w, w)],
        stderr=subprocess.PIPE, text=True, pass_fds=(w,),
        env=dict(os.environ, PYTHONPATH=os.path.join(SRC, "client")))
    os.close(w)
    try:
        assert read_within(r, 1, 20) == b"w", "the child never got going"
        end = time.monotonic() + 20
        while not asleep(child.pid) and time.monotonic() < end:
            time.sleep(0.01)
        child.send_signal(signal.SIGUSR1)
        assert read_within(r, 1, 20) == b"u", \
            "the child's SIGUSR1 handler did not run while it waited"
        child.send_signal(signal.SIGINT)
        try:
            _, err = child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise AssertionError("a SIGINT did not stop lookup(wait=-1)")
    finally:
        os.close(r)
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = err.strip().splitlines()
    assert child.returncode == -signal.SIGINT, (child.returncode, err)
    assert lines[-1] == "KeyboardInterrupt", err
    assert lines[0].isdigit(), err


@test
def an_exception_as_a_retaining_wait_ends_leaves_no_hold():
    """A signal handler that raises, run as a lookup(retain=True) returns
    with the block (the signal came while it waited, the publish right
    after), gives back the reference the lookup took (the daemon says it
    took it: the handle held nothing before); should the part end
    between the two, the handler runs before the next part is asked and
    nothing is held.  Either way the handle holds nothing after: its
    free of the block is EBUSY."""
    with poolclient.connect() as c, c.open("py") as p:
        old = p.alloc(64)
        p.publish("py/grab", old)
        p.free(old)
        g = p.lookup("py/grab").generation
        r, w = os.pipe()
        child = subprocess.Popen(
            [sys.executable, "-c",
             "import errno, os, signal, sys\n"
             "import poolclient\n"
             "class Stop(Exception):\n"
             "    pass\n"
             "def stop(*a):\n"
             "    raise Stop\n"
             "signal.signal(signal.SIGUSR1, stop)\n"
             "with poolclient.connect() as c, c.open('py') as p:\n"
             "    os.write(%d, b'w')\n"
             "    try:\n"
             "        p.lookup('py/grab', retain=True, wait=-1,\n"
             "                 after_generation=%d)\n"
             "        print('not stopped')\n"
             "    except Stop:\n"
             "        pass\n"
             "    f = p.lookup('py/grab')\n"
             "    try:\n"
             "        p.free(f.offset)\n"
             "        print('held', f.offset)\n"
             "    except poolclient.PoolError as e:\n"
             "        print(errno.errorcode[e.errno], f.offset)\n"
             % (w, g)],
            stdout=subprocess.PIPE, text=True, pass_fds=(w,),
            env=dict(os.environ, PYTHONPATH=os.path.join(SRC, "client")))
        os.close(w)
        try:
            assert read_within(r, 1, 20) == b"w", "the child never got going"
            end = time.monotonic() + 20
            while not asleep(child.pid) and time.monotonic() < end:
                time.sleep(0.01)
            off = p.alloc(64)
            child.send_signal(signal.SIGUSR1)
            p.publish("py/grab", off, replace=True)
            p.free(off)
            out, _ = child.communicate(timeout=20)
        finally:
            os.close(r)
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, out
        # EBUSY: a named block this handle holds no reference to.
        assert out.split() == ["EBUSY", str(off)], out
        p.unpublish("py/grab")


@test
def threads_that_share_a_pool_share_its_hold():
    """Two threads that look the same name up with retain=True through
    one Pool are answered with the handle's one reference: the first
    free drops it for both, and the second is EBUSY (a named block the
    handle holds no reference to), as python.md and libpoolclient(3)
    warn.  Through a Pool each, each free drops its own."""
    with poolclient.connect() as c, c.open("py") as prod:
        off = prod.alloc(64)
        prod.publish("py/shared", off)
        prod.free(off)
        try:
            for pools in (1, 2):
                ps = [c.open("py") for _ in range(pools)]
                found = []

                def look(p):
                    found.append(p.lookup("py/shared", retain=True).offset)

                ts = [threading.Thread(target=look, args=(ps[i % pools],))
                      for i in range(2)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                assert found == [off, off], (found, off)
                ps[0].free(off)
                if pools == 1:
                    expect_error(errno.EBUSY, ps[0].free, off)
                else:
                    ps[1].free(off)
                    expect_error(errno.EBUSY, ps[1].free, off)
                for p in ps:
                    p.close()
        finally:
            prod.unpublish("py/shared")


@test
def an_exception_as_a_retaining_lookup_ends_keeps_the_hold_before():
    """A consumer holds the frame it read (lookup(retain=True)); the
    producer writes the next frame in place and publishes it again, on
    the same block.  The consumer's next lookup(retain=True), with or
    without a wait, is answered with that block, which its handle holds
    already (the retain does nothing), and an exception that comes as it
    returns (raised by a profile hook at the binding's first call after
    the library's, where a signal handler's would be) leaves the handle
    holding it: the daemon says the lookup did not add the reference,
    and giving it back dropped the one the consumer still reads its
    frame by (its free was EBUSY: a named block it holds no reference
    to).  A consumer that had freed its frame first gets back the
    reference the lookup took: it holds nothing, its free is EBUSY."""
    out = run_py(
        "import errno\n"
        "class Stop(Exception):\n"
        "    pass\n"
        "armed = None\n"
        "def hook(frame, event, arg):\n"
        "    global armed\n"
        "    if event == 'call' and frame.f_code.co_name == armed:\n"
        "        armed = None\n"
        "        raise Stop\n"
        "def free(p, off):\n"
        "    try:\n"
        "        p.free(off)\n"
        "        print('held')\n"
        "    except poolclient.PoolError as e:\n"
        "        print(errno.errorcode[e.errno])\n"
        "with poolclient.connect() as c, c.open('py') as prod, \\\n"
        "        poolclient.connect() as d, d.open('py') as p:\n"
        "    off = prod.alloc(64)\n"
        "    prod.publish('py/inplace', off)\n"
        "    prod.free(off)\n"
        "    for wait, first, kept in ((None, '_check', True),\n"
        "                              (5, '_wait_ended', True),\n"
        "                              (None, '_check', False),\n"
        "                              (5, '_wait_ended', False)):\n"
        "        g = p.lookup('py/inplace', retain=True).generation\n"
        "        if not kept:\n"
        "            p.free(off)\n"
        "        prod.publish('py/inplace', off, replace=True)\n"
        "        armed = first\n"
        "        sys.setprofile(hook)\n"
        "        try:\n"
        "            print('not stopped', p.lookup('py/inplace', "
        "retain=True, wait=wait, after_generation=g))\n"
        "        except Stop:\n"
        "            print('stopped')\n"
        "        sys.setprofile(None)\n"
        "        free(p, off)\n"
        "        free(p, off)\n"
        "    prod.unpublish('py/inplace')\n")
    assert out.split() == ["stopped", "held", "EBUSY"] * 2 + \
        ["stopped", "EBUSY", "EBUSY"] * 2, out


@test
def an_exception_as_a_persistent_alloc_returns_leaves_nothing():
    """An exception that comes as alloc(persist=True) returns with its
    block, before the caller has the offset (a signal handler's, which
    runs at the first Python call after the library's: here raised there
    on purpose, by a profile hook at the binding's first call after
    pool_alloc_wait), leaves no persistent block: nobody else has the
    offset, so it would outlive the program with nobody to free it.  Not
    zeroed, and zeroed with an alignment (zeroed by the binding)."""
    with poolclient.connect() as c:
        before = c.stats("py").persistent_blocks
        out = run_py(
            stop_hook('call', '_check') +
            "with poolclient.connect() as c, c.open('py') as p:\n"
            "    for kw in ({}, {'zero': True, 'align': 4096}):\n"
            "        armed = True\n"
            "        sys.setprofile(hook)\n"
            "        try:\n"
            "            print('not stopped', p.alloc(64, persist=True, "
            "**kw))\n"
            "        except Stop:\n"
            "            print('stopped')\n"
            "        sys.setprofile(None)\n")
        assert out.split() == ["stopped", "stopped"], out
        after = c.stats("py").persistent_blocks
        assert after == before, (before, after)


@test
def an_exception_as_an_alloc_returns_leaves_nothing():
    """An exception that comes as alloc or alloc_batch returns with the
    block (raised by a profile hook at the binding's first call after the
    library's, where a signal handler's would be) gives the block back:
    the caller never had the offset, and the handle held it until its
    close, a leak in a process that lives on (a service whose SIGALRM
    handler ends a slow request).  Plain, zeroed, aligned and zeroed."""
    out = run_py(
        stop_hook('call', '_check') +
        "with poolclient.connect() as c, c.open('py') as p:\n"
        "    p.set_cache(0)\n"
        "    before = p.stats().live_blocks\n"
        "    for call in (lambda: p.alloc(64),\n"
        "                 lambda: p.alloc(64, zero=True),\n"
        "                 lambda: p.alloc(8192, align=4096, zero=True),\n"
        "                 lambda: p.alloc_batch([16, 32, 64])):\n"
        "        armed = True\n"
        "        sys.setprofile(hook)\n"
        "        try:\n"
        "            print('not stopped', call())\n"
        "        except Stop:\n"
        "            print('stopped')\n"
        "        sys.setprofile(None)\n"
        "    print(p.stats().live_blocks - before)\n")
    assert out.split() == ["stopped"] * 4 + ["0"], out


@test
def an_exception_as_a_call_that_made_a_block_ends_leaves_nothing():
    """An exception that comes as the call's with block ends, after the
    library made the block (raised by a profile hook as the handle's
    __exit__ is entered, where a signal handler's would be: SIGALRM
    every few us left one block in twenty so), gives it back as one
    that comes earlier does: the caller never had the offset, and the
    handle held the block until its close, or the pool for good for a
    persistent one.  A retaining lookup gives back the reference it
    took."""
    out = run_py(
        "class Stop(Exception):\n"
        "    pass\n"
        "armed = False\n"
        "def hook(frame, event, arg):\n"
        "    global armed\n"
        "    if armed and event == 'call' and \\\n"
        "            qualname(frame) == '_Handle.__exit__':\n"
        "        armed = False\n"
        "        raise Stop\n"
        "with poolclient.connect() as w, poolclient.connect() as c, \\\n"
        "        c.open('py') as p:\n"
        "    p.set_cache(0)\n"
        "    off = p.alloc(64)\n"
        "    p.publish('py/ends', off)\n"
        "    p.free(off)\n"
        "    before = w.stats('py').live_blocks\n"
        "    def held():\n"
        "        return sum(b.holders for b in w.blocks('py'))\n"
        "    holds = held()\n"
        "    for call in (lambda: p.alloc(64),\n"
        "                 lambda: p.alloc(64, zero=True),\n"
        "                 lambda: p.alloc(8192, align=4096, zero=True),\n"
        "                 lambda: p.alloc(64, persist=True),\n"
        "                 lambda: p.alloc(64, wait=5),\n"
        "                 lambda: p.alloc(64, wait=5, persist=True),\n"
        "                 lambda: p.alloc_batch([16, 32, 64]),\n"
        "                 lambda: p.alloc_batch([16, 32], persist=True),\n"
        "                 lambda: p.lookup('py/ends', retain=True)):\n"
        "        armed = True\n"
        "        sys.setprofile(hook)\n"
        "        try:\n"
        "            print('not stopped', call())\n"
        "        except Stop:\n"
        "            print('stopped')\n"
        "        sys.setprofile(None)\n"
        "    print(w.stats('py').live_blocks - before, held() - holds)\n"
        "    p.unpublish('py/ends')\n")
    assert out.split() == ["stopped"] * 9 + ["0", "0"], out


@test
def an_exception_as_a_connect_or_open_returns_leaves_nothing_open():
    """An exception that comes as connect or open returns with the new
    connection or handle, before the caller has it (raised by a profile
    hook at the binding's first call after the library's, or as the
    Connection is made, where a signal handler's would be), closes it:
    the connection stayed open until the process ended (the daemon
    counts connections per uid), the handle until its connection's
    close."""
    with poolclient.connect() as w:
        conns = w.daemon_stats().connections
        handles = w.stats("py").clients
        child = subprocess.Popen(
            [sys.executable, "-c",
             "import sys\n"
             "import poolclient\n" + QUALNAME +
             "class Stop(Exception):\n"
             "    pass\n"
             "armed = None\n"
             "def hook(frame, event, arg):\n"
             "    global armed\n"
             "    if (event, qualname(frame)) == armed:\n"
             "        armed = None\n"
             "        raise Stop\n"
             "c = poolclient.connect()\n"
             "for what, call in ((('return', 'Connection.__init__'),\n"
             "                    poolclient.connect),\n"
             "                   (('call', '_check'),\n"
             "                    lambda: c.open('py'))):\n"
             "    armed = what\n"
             "    sys.setprofile(hook)\n"
             "    try:\n"
             "        kept = call()\n"
             "        print('not stopped', flush=True)\n"
             "    except Stop:\n"
             "        print('stopped', flush=True)\n"
             "    sys.setprofile(None)\n"
             "sys.stdin.read()\n"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=os.path.join(SRC, "client")))
        try:
            said = [child.stdout.readline().strip() for _ in range(2)]
            assert said == ["stopped"] * 2, said
            now = (w.daemon_stats().connections, w.stats("py").clients)
            assert now == (conns + 1, handles), \
                "connections %d -> %d, handles %d -> %d" % (
                    conns, now[0], handles, now[1])
        finally:
            child.communicate("", timeout=60)
        assert child.returncode == 0, child.returncode


@test
def an_exception_as_a_close_takes_the_handle_leaves_nothing_open():
    """An exception that comes as a close has taken a pool's or a
    connection's handle, before the library's close of it has run
    (raised by a profile hook as the binding's _take_all returns, where
    a signal handler's would be: a service whose SIGALRM handler ends a
    slow request), does not leave it open behind an object that reads
    closed: the pool's handle stayed open, with the blocks it held,
    until its connection's close, and the connection until the process
    ended (SIGALRM every 20 us or so left 160 of 4000 closed pools and
    21 of 2000 closed connections so).  The close done again, or the
    collector's, ends it."""
    out = run_py(
        "import gc\n"
        + stop_hook('return', '_take_all') +
        "def broken_close(obj):\n"
        "    global armed\n"
        "    armed = True\n"
        "    sys.setprofile(hook)\n"
        "    try:\n"
        "        obj.close()\n"
        "        print('not stopped')\n"
        "    except Stop:\n"
        "        print('stopped', obj.closed)\n"
        "    sys.setprofile(None)\n"
        "with poolclient.connect() as w:\n"
        "    def left():\n"
        "        s = w.stats('py')\n"
        "        return (w.daemon_stats().connections, s.clients,\n"
        "                s.live_blocks)\n"
        "    c = poolclient.connect()\n"
        "    base = left()\n"
        "    for again in (True, False):\n"
        "        p = c.open('py')\n"
        "        p.set_cache(0)\n"
        "        p.alloc(64)\n"
        "        broken_close(p)\n"
        "        if again:\n"
        "            p.close()\n"
        "        del p\n"
        "        gc.collect()\n"
        "        print(left() == base, left(), base)\n"
        "    c.close()\n"
        "    base = left()\n"
        "    for again in (True, False):\n"
        "        c = poolclient.connect()\n"
        "        c.open('py').alloc(64)\n"
        "        broken_close(c)\n"
        "        if again:\n"
        "            c.close()\n"
        "        del c\n"
        "        gc.collect()\n"
        "        print(left() == base, left(), base)\n")
    said = [line.split(" (")[0] for line in out.splitlines()]
    assert said == ["stopped True", "True"] * 4, out


@test
def an_exception_as_a_pool_is_made_closes_its_handle_once():
    """An exception that comes as open has made the Pool, before the
    caller has it (raised by a profile hook as Pool.__init__ returns,
    where a signal handler's would be), closes the handle once: open
    closed it, and the Pool made closed it again when collected, a
    double free that aborted the process."""
    with poolclient.connect() as w:
        base = w.stats("py").clients
        out = run_py(
            "import gc\n"
            "class Stop(Exception):\n"
            "    pass\n"
            "armed = True\n"
            "def hook(frame, event, arg):\n"
            "    global armed\n"
            "    if armed and event == 'return' and \\\n"
            "            qualname(frame) == 'Pool.__init__':\n"
            "        armed = False\n"
            "        raise Stop\n"
            "with poolclient.connect() as c:\n"
            "    sys.setprofile(hook)\n"
            "    try:\n"
            "        c.open('py')\n"
            "        print('not stopped')\n"
            "    except Stop:\n"
            "        print('stopped')\n"
            "    sys.setprofile(None)\n"
            "    gc.collect()\n"
            "    print(c.stats('py').clients)\n"
            "    with c.open('py') as p:\n"
            "        p.free(p.alloc(64))\n")
        assert out.split() == ["stopped", str(base)], out


@test
def an_exception_as_a_list_comes_frees_it():
    """An exception that comes as a listing returns (raised by a profile
    hook at the binding's first call after the library's, where a
    signal handler's would be) frees the array the C library made for
    it: it was freed only once read, and each such exception left one
    behind, in a service that lists while its signal handlers raise (a
    timeout's SIGALRM).  Counted in the C heap's bytes in use (glibc's
    mallinfo2: none under a sanitizer's allocator, which finds leaks
    itself)."""
    out = run_py(
        "import ctypes\n"
        "class Mallinfo2(ctypes.Structure):\n"
        "    _fields_ = [(f, ctypes.c_size_t) for f in (\n"
        "        'arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',\n"
        "        'usmblks', 'fsmblks', 'uordblks', 'fordblks',\n"
        "        'keepcost')]\n"
        "libc = ctypes.CDLL(None)\n"
        "libc.mallinfo2.restype = Mallinfo2\n"
        + stop_hook('call', '_check') +
        "with poolclient.connect() as c, c.open('py') as p:\n"
        "    offs = p.alloc_batch([64] * 64)\n"
        "    for i, off in enumerate(offs):\n"
        "        p.publish('py/list/%02d' % i, off)\n"
        "    calls = (lambda: c.names('py', 'py/list/'),\n"
        "             lambda: c.names_after('py', 'py/list/'),\n"
        "             lambda: c.list_pools(),\n"
        "             lambda: c.clients())\n"
        "    for call in calls:\n"
        "        call()\n"
        "    before = libc.mallinfo2().uordblks\n"
        "    stopped = 0\n"
        "    for i in range(400):\n"
        "        armed = True\n"
        "        sys.setprofile(hook)\n"
        "        try:\n"
        "            calls[i % len(calls)]()\n"
        "        except Stop:\n"
        "            stopped += 1\n"
        "        sys.setprofile(None)\n"
        "    grew = libc.mallinfo2().uordblks - before\n"
        "    print(stopped, grew < (256 << 10), grew)\n"
        "    for i in range(len(offs)):\n"
        "        p.unpublish('py/list/%02d' % i)\n"
        "    p.free_batch(offs)\n")
    assert out.split()[:2] == ["400", "True"], out


@test
def close_after_signals_broke_calls():
    """A close after many calls that a signal handler's exception broke
    (SIGALRM every 30 us while the calls go on, each raising) closes at
    once: an exception raised as a call's with block exited, before its
    count of calls under way went down, left the count up for ever, and
    the close (a `finally: close()` after Ctrl-C, or the collector's at
    exit) waited for ever (faulthandler ends such a child after 20 s here)."""
    out = run_py(
        "import faulthandler, signal\n"
        "faulthandler.dump_traceback_later(20, exit=True)\n"
        "class Stop(Exception):\n"
        "    pass\n"
        "def stop(*a):\n"
        "    raise Stop\n"
        "signal.signal(signal.SIGALRM, stop)\n"
        "c = poolclient.connect()\n"
        "p = c.open('py')\n"
        "stopped = 0\n"
        "for i in range(3000):\n"
        "    try:\n"
        "        try:\n"
        "            signal.setitimer(signal.ITIMER_REAL, 30e-6)\n"
        "            c.check('py') if i % 2 else p.free(p.alloc(64))\n"
        "        finally:\n"
        "            signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "    except Stop:\n"
        "        stopped += 1\n"
        "p.close()\n"
        "c.close()\n"
        "faulthandler.cancel_dump_traceback_later()\n"
        "print(stopped > 0, p.closed and c.closed)\n")
    assert out.split() == ["True", "True"], out


@test
def a_finalizer_closes_the_connection_its_thread_is_in():
    """A finalizer (__del__ of an object in a garbage cycle) that closes
    a connection, run by the collector inside a call of the same thread
    on that connection or its pool (the collector's thresholds varied so
    that it runs at many places in the calls), closes it as the call
    ends: the close waited for the call under it, and the process hung
    (faulthandler ends such a child after 20 s here)."""
    out = run_py(
        "import errno, faulthandler, gc\n"
        "faulthandler.dump_traceback_later(20, exit=True)\n"
        "class Closer:\n"
        "    def __del__(self):\n"
        "        self.conn.close()\n"
        "seen = set()\n"
        "for i in range(120):\n"
        "    c = poolclient.connect()\n"
        "    p = c.open('py')\n"
        "    x = Closer()\n"
        "    x.conn, x.me = c, x\n"
        "    del x\n"
        "    gc.set_threshold(1 + i % 40)\n"
        "    try:\n"
        "        for _ in range(50):\n"
        "            list(c.names('py'))\n"
        "            p.stats()\n"
        "    except poolclient.PoolError as e:\n"
        "        seen.add((errno.errorcode[e.errno], c.closed, p.closed))\n"
        "    finally:\n"
        "        gc.set_threshold(700)\n"
        "    gc.collect()\n"
        "    assert c.closed and p.closed\n"
        "faulthandler.cancel_dump_traceback_later()\n"
        "print(sorted(seen))\n")
    assert out.split("\n")[0] == "[('EBADF', True, True)]", out


@test
def calls_broken_as_they_ended_do_not_pile_up():
    """Calls that an exception broke as they ended (a profile hook's, as
    every call's with block exits, where a signal handler's would be)
    leave the handle a bounded record of them: the frame of each was
    kept, with all it held, until the handle's close, which a service's
    long-lived connection may never reach."""
    out = run_py(
        "class Stop(Exception):\n"
        "    pass\n"
        "def hook(frame, event, arg):\n"
        "    if event == 'call' and \\\n"
        "            qualname(frame) == '_Handle.__exit__':\n"
        "        raise Stop\n"
        "c = poolclient.connect()\n"
        "p = c.open('py')\n"
        "for _ in range(3000):\n"
        "    sys.setprofile(hook)\n"
        "    try:\n"
        "        p.usable_size(0)\n"
        "    except (Stop, poolclient.PoolError):\n"
        "        pass\n"
        "    sys.setprofile(None)\n"
        "print(len(p._h._calls) <= 128, len(p._h._calls))\n"
        "c.close()\n")
    assert out.split()[0] == "True", "frames kept: " + out


@test
def a_close_left_to_a_broken_call_still_closes_when_dropped():
    """A pool's close begun inside its own thread's call (by a profile
    hook, as the call's with block exits, where a signal handler's would
    be), left to that call's end, which an exception then breaks before
    it runs a line, does not keep the pool alive: dropped, it is
    collected and closed while its connection lives on (the daemon sees
    the handle go), where the connection's record of the close held it."""
    out = run_py(
        "import gc\n"
        "class Stop(Exception):\n"
        "    pass\n"
        "armed = True\n"
        "def hook(frame, event, arg):\n"
        "    global armed\n"
        "    if armed and event == 'call' and \\\n"
        "            qualname(frame) == '_Handle.__exit__':\n"
        "        armed = False\n"
        "        p.close()\n"
        "        raise Stop\n"
        "with poolclient.connect() as w, poolclient.connect() as c:\n"
        "    base = w.stats('py').clients\n"
        "    p = c.open('py')\n"
        "    sys.setprofile(hook)\n"
        "    try:\n"
        "        p.stats()\n"
        "    except Stop:\n"
        "        print('stopped', p.closed)\n"
        "    sys.setprofile(None)\n"
        "    del p\n"
        "    gc.collect()\n"
        "    print(w.stats('py').clients - base)\n")
    assert out.split() == ["stopped", "False", "0"], out


@test
def a_close_is_not_held_by_a_call_broken_as_it_waited():
    """A close in another thread that began waiting for a call which an
    exception then broke as it ended (raised by a profile hook as the
    call's with block exits, where a signal handler's would be, after
    the close has begun) returns: the broken call left no wakeup, and
    the close slept for ever, the call's frame gone from every stack."""
    out = run_py(
        "import faulthandler, threading, time\n"
        "faulthandler.dump_traceback_later(20, exit=True)\n"
        "class Stop(Exception):\n"
        "    pass\n"
        "c = poolclient.connect()\n"
        "p = c.open('py')\n"
        "closed = threading.Event()\n"
        "def close():\n"
        "    p.close()\n"
        "    closed.set()\n"
        "armed = True\n"
        "def hook(frame, event, arg):\n"
        "    global armed\n"
        "    if armed and event == 'call' and \\\n"
        "            qualname(frame) == '_Handle.__exit__':\n"
        "        armed = False\n"
        "        threading.Thread(target=close).start()\n"
        "        # Not an assertion: time for the close to wait.\n"
        "        time.sleep(0.5)\n"
        "        raise Stop\n"
        "sys.setprofile(hook)\n"
        "try:\n"
        "    p.stats()\n"
        "except Stop:\n"
        "    print('stopped')\n"
        "sys.setprofile(None)\n"
        "print(closed.wait(10), p.closed)\n"
        "c.close()\n"
        "faulthandler.cancel_dump_traceback_later()\n")
    assert out.split() == ["stopped", "True", "True"], out


@test
def a_signal_handler_closes_what_its_thread_waits_in():
    """A signal handler that closes the pool, or its connection, that
    its own thread is waiting in (lookup(wait=-1), as a service's SIGTERM
    handler may) ends that wait with EBADF and the object closes as the
    call ends: the close waited for the call it had interrupted, which
    could not go on until the handler returned, and the process hung
    (faulthandler ends such a child after 20 s here)."""
    out = run_py(
        "import errno, faulthandler, signal\n"
        "faulthandler.dump_traceback_later(20, exit=True)\n"
        "for what in ('pool', 'connection'):\n"
        "    c = poolclient.connect()\n"
        "    p = c.open('py')\n"
        "    victim = p if what == 'pool' else c\n"
        "    signal.signal(signal.SIGALRM, lambda *a: victim.close())\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0.3)\n"
        "    try:\n"
        "        p.lookup('py/never', wait=-1)\n"
        "        print(what, 'returned')\n"
        "    except poolclient.PoolError as e:\n"
        "        print(what, errno.errorcode[e.errno])\n"
        "    print(p.closed, c.closed)\n"
        "    c.close()\n"
        "faulthandler.cancel_dump_traceback_later()\n")
    assert out.split() == ["pool", "EBADF", "True", "False",
                           "connection", "EBADF", "True", "True"], out


@test
def a_finite_wait_ends_at_its_time():
    """A wait longer than one part of the wait and not a whole number of
    them ends with ETIMEDOUT once its time has passed, never before,
    asking each part after the same generation: the name's block, there
    all along, is not the answer, nor retained; the error names the
    wait's time."""
    with poolclient.connect() as c, c.open("py") as p:
        off = p.alloc(64)
        p.publish("py/slow", off)
        p.free(off)
        g = p.lookup("py/slow").generation
        before = p.stats()
        for wait in (0.7, 0.3):
            t = time.monotonic()
            e = expect_error(errno.ETIMEDOUT, p.lookup, "py/slow",
                             retain=True, wait=wait, after_generation=g)
            took = time.monotonic() - t
            assert took >= wait, "ETIMEDOUT after %.3f s of %s" % (took, wait)
            assert took < wait + 30, took
            assert e.strerror == "the wait ran out: no generation of " \
                "'py/slow' above %d came in pool py in %d ms" % (
                    g, wait * 1000), e
        after = p.stats()
        assert after.live_blocks == before.live_blocks
        assert after.allocated_bytes == before.allocated_bytes
        p.unpublish("py/slow")


@test
def a_wait_for_an_odd_name_names_it():
    """A name with " in " and digits in it, and one that is not UTF-8,
    whose waits run out: the words end with the whole wait's time, the
    name shown as the daemon shows it (its bytes past ASCII escaped), in
    one part of the wait and in several."""
    names = ((b"py/a in 5 ms", "'py/a in 5 ms'"),
             (b"py/\xff in 7 ms", "'py/\\xff in 7 ms'"))
    with poolclient.connect() as c, c.open("py") as p:
        for name, shown in names:
            for wait in (0.1, 0.6):
                e = expect_error(errno.ETIMEDOUT, p.lookup, name,
                                 wait=wait)
                assert e.strerror == "the wait ran out: no name " \
                    "%s came in pool py in %d ms" % (shown, wait * 1000), e


def _varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([v & 0x7f | 0x80])
        v >>= 7
    return out + bytes([v])


def _read_varint(msg, i):
    v, shift = 0, 0
    while msg[i] & 0x80:
        v |= (msg[i] & 0x7f) << shift
        shift += 7
        i += 1
    return v | msg[i] << shift, i + 1


def _request_of(msg):
    """A Request's id and the field number of its body."""
    rid, body, i = 0, 0, 0
    while i < len(msg):
        tag, i = _read_varint(msg, i)
        if tag & 7 == 0:
            v, i = _read_varint(msg, i)
            if tag >> 3 == 1:
                rid = v
        else:			# length-delimited: a body
            n, i = _read_varint(msg, i)
            i += n
            body = tag >> 3
    return rid, body


class Restarting:
    """A fake poolmgrd restarting in place for good, on a socket of its
    own (.path), for one connection: its Hello says lookups and
    allocations that wait (features bits 0 and 5), it opens any pool
    (read_only: as it is asked) as a sealed memfd of 4 KiB without a
    share map, and answers every Lookup and Alloc EINTR, each counted in
    .asked, so that the C library ends each part of a wait in its own
    words ("the wait ran out in N ms"), not the daemon's.  A context
    manager."""

    LOOKUP, ALLOC, OPEN = 31, 15, 13	# Request's body fields

    def __init__(self, read_only):
        self.read_only = read_only
        self.asked = []
        self.where = tempfile.mkdtemp(prefix="poolmgr-py-restarting.")
        self.path = os.path.join(self.where, "restarting.sock")
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.srv.bind(self.path)
        self.srv.listen(1)
        self.thread = threading.Thread(target=self._answer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(10)
        self.srv.close()
        shutil.rmtree(self.where)

    def _answer(self):
        conn, _ = self.srv.accept()
        with conn:
            rid, _ = _request_of(conn.recv(65536))	# its Hello
            # HelloReply{version 1, max_message 65536, server, features
            # bits 0 and 5: lookups and allocations that wait}
            server = b"poolmgrd restarting"
            hello = b"\x08\x01\x10" + _varint(65536) + b"\x1a" + \
                bytes([len(server)]) + server + b"\x20\x21"
            conn.send(b"\x08" + _varint(rid) + b"\x52" +
                      bytes([len(hello)]) + hello)
            while True:
                msg = conn.recv(65536)
                if not msg:
                    break
                rid, body = _request_of(msg)
                head = b"\x08" + _varint(rid)
                if body == self.OPEN:
                    self._open(conn, head)
                elif body in (self.LOOKUP, self.ALLOC):
                    # Reply{id, error -EINTR (sint32, zigzag)}
                    self.asked.append(body)
                    conn.send(head + b"\x10" + _varint(2 * errno.EINTR - 1))
                else:
                    conn.send(head)

    def _open(self, conn, head):
        """OpenReply{handle 1, max_size 4096, granularity 16, page_size
        4096, read_only} and its sealed memfd."""
        fd = os.memfd_create("restarting", os.MFD_ALLOW_SEALING)
        os.ftruncate(fd, 4096)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
        opened = b"\x08\x01\x10" + _varint(4096) + b"\x18\x10\x20" + \
            _varint(4096) + (b"\x28\x01" if self.read_only else b"")
        socket.send_fds(conn, [head + b"\x6a" + bytes([len(opened)]) +
                               opened], [fd])
        os.close(fd)


@test
def a_wait_the_library_ends_names_the_name():
    """A daemon restarting in place for the whole of a lookup's wait
    answers each ask EINTR, and the C library ends each part in its own
    words ("the wait ran out in N ms"), not the daemon's: the error still
    names the name as the daemon shows it (quoted, bytes past printable
    ASCII and the quote and backslash as \\xHH, at most 128 characters,
    never half an escape, "..." after a name cut short) and the pool, in
    one part of the wait and in several, and says what did not come by
    the daemon's rule: the name after generation 0, a generation above
    any other."""
    names = ((b"py/\xff it's \\ here", "'py/\\xff it\\x27s \\x5c here'"),
             (b"n" * 200, "'%s'..." % ("n" * 128)),
             (b"n" * 126 + b"\x01n", "'%s'..." % ("n" * 126)))
    with Restarting(True) as fake, \
            poolclient.connect(fake.path, 5) as c, \
            c.open("pyrestarting", read_only=True) as p:
        for (name, shown), after, what in zip(
                names, (0, 7, 2**64 - 1),
                ("no name %s came", "no generation of %s above 7 came",
                 "no generation of %s above 18446744073709551615 came")):
            for wait in (0.1, 0.6):
                asked = len(fake.asked)
                e = expect_error(errno.ETIMEDOUT, p.lookup, name,
                                 wait=wait, after_generation=after)
                assert e.strerror == "the wait ran out: " + \
                    what % shown + " in pool pyrestarting in %d ms" % (
                        wait * 1000), e
                # Asked again after each EINTR, and once more at the
                # deadline: the words were the library's.
                assert len(fake.asked) - asked >= 2, fake.asked


@test
def an_alloc_wait_the_library_ends_names_the_pool():
    """The same daemon for the whole of an allocation's wait: the error
    names the size and the pool, as the daemon's words for a wait that
    found no room do ("no room came for 1 byte in pool P in N ms"), in
    one part of the wait and in several."""
    with Restarting(False) as fake, \
            poolclient.connect(fake.path, 5) as c, \
            c.open("pyrestarting") as p:
        for size, what in ((64, "64 bytes"), (1, "1 byte")):
            for wait in (0.1, 0.6):
                asked = len(fake.asked)
                e = expect_error(errno.ETIMEDOUT, p.alloc, size, wait=wait)
                assert e.strerror == "the wait ran out: no room came " \
                    "for %s in pool pyrestarting in %d ms" % (
                        what, wait * 1000), e
                assert len(fake.asked) - asked >= 2, fake.asked
                assert set(fake.asked) == {Restarting.ALLOC}, fake.asked


@test
def a_publish_ends_a_long_wait_retained_once():
    """A name published while a lookup(retain=True) has waited through
    several parts is its answer, with the generation names() lists; the
    block is held once: one free drops the last reference, a second is
    EINVAL (a double free)."""
    with poolclient.connect() as c, c.open("py") as p, \
            poolclient.connect() as c2, c2.open("py") as q:
        old = p.alloc(64)
        p.publish("py/next", old)
        p.free(old)
        g = p.lookup("py/next").generation
        got = []

        def waiter():
            try:
                got.append(q.lookup("py/next", retain=True, wait=60,
                                    after_generation=g))
            except BaseException as e:
                got.append(e)

        t = threading.Thread(target=waiter)
        t.start()
        # Not an assertion: a publish later than a few parts of the wait.
        time.sleep(1)
        off = p.alloc(1 << 20)
        p.publish("py/next", off, replace=True)
        p.free(off)
        t.join(60)
        assert not t.is_alive(), "the wait did not end"
        f = got[0]
        assert isinstance(f, poolclient.Lookup), f
        listed = p.names("py/next")[0]
        assert (f.offset, f.generation) == (off, listed.generation), \
            (f, listed)
        assert f.generation > g
        live = p.stats().live_blocks
        p.unpublish("py/next")
        q.free(f.offset)
        assert p.stats().live_blocks == live - 1
        expect_error(errno.EINVAL, q.free, f.offset)


@test
def admin_calls():
    """create_pool, list_pools, trim, check, clients, persisted and
    destroy_pool."""
    with poolclient.connect() as c:
        c.create_pool("pyadmin", 1 << 20, mode=0o640, quota=1 << 16,
                      granularity=64)
        pools = {s.name: s for s in c.list_pools()}
        s = pools["pyadmin"]
        assert (s.max_size, s.mode, s.quota, s.granularity) == \
            (1 << 20, 0o640, 1 << 16, 64), s
        assert "py" in pools
        with c.open("pyadmin") as p:
            off = p.alloc(20000)
            p.persist(off)
            who = c.clients("pyadmin")
            assert len(who) == 1 and who.total == 1
            assert who[0].pid == os.getpid() and who[0].pool == "pyadmin"
            pers = c.persisted("pyadmin")
            assert len(pers) == 1 and pers[0].uid == os.getuid()
            assert pers[0].blocks == 1 and pers[0].bytes >= 20000
            expect_error(errno.EDQUOT, p.alloc, 1 << 17)
            expect_error(errno.EBUSY, c.destroy_pool, "pyadmin")
            p.free(off)
            p.free(off)		# the pool's reference
        assert c.trim("pyadmin") >= 0
        c.check("pyadmin")
        c.destroy_pool("pyadmin")
        expect_error(errno.ENOENT, c.stats, "pyadmin")
        c.create_pool("pyforce", 1 << 20)
        with c.open("pyforce") as p:
            p.alloc(10)
            c.destroy_pool("pyforce", force=True)
        expect_error(errno.ENOENT, c.open, "pyforce")


@test
def placement_options():
    """create_pool's page_size, numa_node and numa_policy reach the daemon
    and come back in PoolStats; bad combinations change nothing."""
    sys_page = os.sysconf("SC_PAGE_SIZE")
    with poolclient.connect() as c:
        c.create_pool("pybind", 1 << 20, page_size=sys_page, numa_node=0,
                      numa_policy=poolclient.NUMA_BIND)
        s = c.stats("pybind")
        assert (s.numa_policy, s.numa_node, s.page_size) == \
            (poolclient.NUMA_BIND, 0, sys_page), s
        c.create_pool("pypref", 1 << 20, numa_node=0)
        assert c.stats("pypref").numa_policy == poolclient.NUMA_PREFERRED
        c.create_pool("pyplain", 1 << 20)
        assert c.stats("pyplain").numa_policy == poolclient.NUMA_NONE
        expect_error(errno.EINVAL, c.create_pool, "pybad", 1 << 20,
                     numa_policy=poolclient.NUMA_BIND)
        expect_error(errno.EINVAL, c.create_pool, "pybad", 1 << 20,
                     page_size=3 << 20)
        if os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
            expect_error(errno.EINVAL, c.create_pool, "pybad", 2 << 20,
                         page_size=2 << 20, numa_node=0)
        expect_error(errno.ENOENT, c.stats, "pybad")
        for name in ("pybind", "pypref", "pyplain"):
            c.destroy_pool(name)


@test
def set_pool_changes_settings():
    """set_pool changes only the settings given; a bad one changes none;
    the file's pool is EROFS."""
    with poolclient.connect() as c:
        c.create_pool("pyset", 1 << 20, mode=0o600, quota=1 << 16)
        c.set_pool("pyset", mode=0o640, quota=1 << 18)
        s = c.stats("pyset")
        assert (s.mode, s.quota, s.uid) == (0o640, 1 << 18, os.getuid()), s
        c.set_pool("pyset", uid=4242, gid=4343,
                   retain=poolclient.RETAIN_NONE)
        s = c.stats("pyset")
        assert (s.uid, s.gid, s.retain_bytes, s.mode) == \
            (4242, 4343, 0, 0o640), s
        expect_error(errno.EINVAL, c.set_pool, "pyset", mode=0o1000,
                     quota=0)
        expect_error(errno.EINVAL, c.set_pool, "pyset", uid=-1)
        assert c.stats("pyset").quota == 1 << 18
        expect_error(errno.EROFS, c.set_pool, "py", mode=0o600)
        expect_error(errno.ENOENT, c.set_pool, "pynone", mode=0o600)
        c.destroy_pool("pyset")


@test
def create_pool_for_another():
    """create_pool's uid and gid make the pool another's from the start;
    either alone leaves the other the caller's; 2**32 - 1 is EINVAL with
    nothing made."""
    with poolclient.connect() as c:
        c.create_pool("pyown", 1 << 20, mode=0o640, uid=4242, gid=4343)
        s = c.stats("pyown")
        assert (s.uid, s.gid, s.mode) == (4242, 4343, 0o640), s
        c.create_pool("pyuid", 1 << 20, uid=0)
        c.create_pool("pygid", 1 << 20, gid=4343)
        s = c.stats("pygid")
        assert (s.uid, s.gid) == (os.getuid(), 4343), s
        expect_error(errno.EINVAL, c.create_pool, "pybad", 1 << 20,
                     uid=(1 << 32) - 1)
        expect_error(errno.EINVAL, c.create_pool, "pybad", 1 << 20,
                     gid=(1 << 32) - 1)
        expect_error(errno.EINVAL, c.create_pool, "pybad", 1 << 20,
                     uid=1 << 32)
        expect_error(errno.ENOENT, c.stats, "pybad")
        for name in ("pyown", "pyuid", "pygid"):
            c.destroy_pool(name)


@test
def pool_limit():
    """create_pool's and set_pool's limit: an allocation past it is
    ENOMEM, raised it goes through, the stats show it; above the size is
    EINVAL with nothing changed."""
    with poolclient.connect() as c:
        c.create_pool("pylim", 8 << 20, limit=1 << 20)
        assert c.stats("pylim").limit == 1 << 20
        with c.open("pylim") as p:
            off = p.alloc(768 << 10)
            e = expect_error(errno.ENOMEM, p.alloc, 512 << 10)
            # The daemon's own words end the text (pool_last_message).
            assert e.strerror.endswith(
                "; poolmgrd says: pool pylim holds 768.0 KiB of its "
                "1.0 MiB limit"), e.strerror
            c.set_pool("pylim", limit=2 << 20)
            more = p.alloc(512 << 10)
            assert c.stats("pylim").limit == 2 << 20
            expect_error(errno.EINVAL, c.set_pool, "pylim", limit=9 << 20)
            assert c.stats("pylim").limit == 2 << 20
            c.set_pool("pylim", limit=0)
            assert c.stats("pylim").limit == 0
            p.free(more)
            p.free(off)
        expect_error(errno.EINVAL, c.create_pool, "pybad", 1 << 20,
                     limit=2 << 20)
        expect_error(errno.ENOENT, c.stats, "pybad")
        c.destroy_pool("pylim")


@test
def pool_user_quota():
    """create_pool's and set_pool's user_quota: two connections of one
    uid share it (EDQUOT past it, in the daemon's words \"per user\"; users()
    lists the uid with both connections' blocks),
    lowered below what is held it takes nothing back, removed the
    allocation goes through; stats and list_pools show it."""
    with poolclient.connect() as c, poolclient.connect() as c2:
        c.create_pool("pyuq", 8 << 20, user_quota=1 << 20)
        assert c.stats("pyuq").user_quota == 1 << 20
        assert [s.user_quota for s in c.list_pools()
                if s.name == "pyuq"] == [1 << 20]
        with c.open("pyuq") as p, c2.open("pyuq") as p2:
            off = p.alloc(512 << 10)
            off2 = p2.alloc(512 << 10)
            e = expect_error(errno.EDQUOT, p.alloc, 256 << 10)
            assert "per user" in e.strerror, e.strerror
            expect_error(errno.EDQUOT, p2.alloc, 256 << 10)
            # Who holds what: the one uid, both connections' blocks.
            who = c.users("pyuq")
            assert len(who) == 1 and who.total == 1, who
            assert (who[0].uid, who[0].connections, who[0].handles) == \
                (os.getuid(), 2, 2), who[0]
            assert who[0].held_bytes >= 1 << 20, who[0]
            assert (who[0].persisted_blocks, who[0].persisted_bytes) == \
                (0, 0), who[0]
            c.set_pool("pyuq", user_quota=2 << 20)
            more = p2.alloc(768 << 10)
            assert p.stats().user_quota == 2 << 20
            c.set_pool("pyuq", user_quota=1 << 20)
            assert c.stats("pyuq").live_blocks == 3
            expect_error(errno.EDQUOT, p.alloc, 256 << 10)
            c.set_pool("pyuq", user_quota=0)
            assert c.stats("pyuq").user_quota == 0
            last = p.alloc(256 << 10)
            for q, o in ((p, last), (p, off), (p2, off2), (p2, more)):
                q.free(o)
        c.destroy_pool("pyuq")


@test
def replace_at_the_user_quota():
    """A uid at its user quota with kept (not evictable) values cannot
    replace one by a new value of the same size: the new block is
    allocated before the replace, and old and new count at once (EDQUOT,
    nothing changed).  The two ways out docs/python.md gives: with room
    of one value left under the quota the replace goes through and gives
    the room back; with evictable values the allocation evicts the uid's
    least recently used one, and the replace then frees the old value."""
    big = 256 << 10
    with poolclient.connect() as c:
        c.create_pool("pyrq", 8 << 20, user_quota=4 * big)
        try:
            with c.open("pyrq") as p:
                for evictable in (False, True):
                    names = ["pyrq/%d" % i for i in range(4)]
                    for n in names:
                        o = p.alloc(big)
                        p.publish(n, o, evictable=evictable)
                        p.free(o)
                    was = p.lookup(names[0]).offset
                    if not evictable:
                        expect_error(errno.EDQUOT, p.alloc, big)
                        assert p.lookup(names[0]).offset == was
                        p.unpublish(names[3])
                        names.pop()
                    new = p.alloc(big)
                    p.publish(names[0], new, replace=True)
                    p.free(new)
                    assert p.lookup(names[0]).offset == new
                    # The old value went with the replace: three values,
                    # room of one again (the name unpublished, or the
                    # one evicted, names[1], used least recently).
                    if evictable:
                        expect_error(errno.ENOENT, p.lookup, names[1])
                        names.remove(names[1])
                    used = c.users("pyrq")[0].persisted_bytes
                    assert used == 3 * big, (evictable, used)
                    assert c.stats("pyrq").evictions == int(evictable)
                    for n in names:
                        p.unpublish(n)
        finally:
            c.destroy_pool("pyrq", force=True)


NOBODY = 65534		# the uid and gid of the tests that drop to another


def as_other_uid(fn):
    """fn() in a forked child running as uid and gid NOBODY, with no
    supplementary group: its exit status (0: fn returned 0; 99: it
    raised, which it prints).  The test process must be root."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            code = fn()
        except BaseException:
            traceback.print_exc(file=sys.stdout)
        finally:
            sys.stdout.flush()
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@test
def pool_acl_set_read_and_modify():
    """create_pool's acl (words, names and numbers) comes back sorted as
    AclEntry (users, then groups, by id); acl_text prints it as acl_parse
    reads it; acl_modify removes and adds in one request (an absent
    removal is no error); set_pool replaces the list whole (from a list
    of AclEntry too), keeps it when not given, and "none" or "" clears
    it."""
    A = poolclient.AclEntry
    with poolclient.connect() as c:
        c.create_pool("pyacl", 1 << 20,
                      acl="group:root:r user:nobody:rw,u:4242:---")
        got = c.acl("pyacl")
        assert got == [A("user", 4242, "-"), A("user", NOBODY, "rw"),
                       A("group", 0, "r")], got
        assert poolclient.acl_text(got, names=False) == \
            "user:4242:-,user:65534:rw,group:0:r"
        assert got[1].text() == "user:nobody:rw"
        assert got[2].text(names=False) == "group:0:r"
        assert poolclient.acl_parse(poolclient.acl_text(got)) == got
        assert poolclient.acl_text([]) == "none"
        c.acl_modify("pyacl", add="user:4242:r,group:4343:rw",
                     remove="user:nobody")
        assert c.acl("pyacl") == [A("user", 4242, "r"), A("group", 0, "r"),
                                  A("group", 4343, "rw")], c.acl("pyacl")
        c.acl_modify("pyacl", remove=[A("group", 0, "rw"), ("group", 4343)])
        assert c.acl("pyacl") == [A("user", 4242, "r")]
        c.acl_modify("pyacl", remove="user:7")
        c.acl_modify("pyacl")
        assert c.acl("pyacl") == [A("user", 4242, "r")]
        c.set_pool("pyacl", acl=[A("group", 5, "w"), A("user", 9, "rw")])
        assert c.acl("pyacl") == [A("user", 9, "rw"), A("group", 5, "w")]
        c.set_pool("pyacl", mode=0o640)
        assert len(c.acl("pyacl")) == 2
        c.set_pool("pyacl", acl="none")
        assert c.acl("pyacl") == []
        c.set_pool("pyacl", acl="user:9:r")
        c.set_pool("pyacl", acl="")
        assert c.acl("pyacl") == []
        c.destroy_pool("pyacl")


# Names pool_acl_parse would not read back as their ids, and one it would.
ODD_PASSWD = ("pm,comma:x:4311:4311::/:/bin/false\n"
              "4313:x:4314:4314::/:/bin/false\n"
              "pmplain:x:4323:4323::/:/bin/false\n")


def with_odd_names(fn):
    """fn() in a forked child whose own mount namespace has ODD_PASSWD
    added to the password file (bound over it, seen by the child alone):
    its exit status (0: fn returned; 1: it raised, which it prints; 99:
    no such namespace could be had).  The test process must be root."""
    sys.stdout.flush()
    pid = os.fork()
    if pid != 0:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    code = 99
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        clone_newns, ms_bind, ms_rec, ms_private = 0x20000, 0x1000, \
            0x4000, 0x40000
        with tempfile.NamedTemporaryFile("w", prefix="poolmgr-ids.",
                                         delete=False) as f:
            with open("/etc/passwd") as orig:
                f.write(orig.read())
            f.write(ODD_PASSWD)
        ok = libc.unshare(clone_newns) == 0 and \
            libc.mount(None, b"/", None, ms_rec | ms_private, None) == 0 \
            and libc.mount(f.name.encode(), b"/etc/passwd", None, ms_bind,
                           None) == 0
        os.unlink(f.name)
        if ok and pwd.getpwnam("pmplain").pw_uid == 4323:
            code = 1
            fn()
            code = 0
    except BaseException:
        traceback.print_exc(file=sys.stdout)
    finally:
        sys.stdout.flush()
        os._exit(code)


@test
def acl_text_reads_back_odd_names():
    """acl_text and AclEntry.text, through pool_acl_format, print as its
    number an id whose name would not read back as it (a comma in it;
    "4313", the name of uid 4314), a plain name as the name, and
    acl_parse reads the text back as the same entries."""
    if os.geteuid() != 0:
        print("acl_text_reads_back_odd_names: not root: cannot bind a "
              "password file of its own; skipping")
        return
    A = poolclient.AclEntry

    def check():
        entries = [A("user", 4311, "r"), A("user", 4314, "rw"),
                   A("user", 4323, "-")]
        text = poolclient.acl_text(entries)
        assert text == "user:4311:r,user:4314:rw,user:pmplain:-", text
        assert poolclient.acl_parse(text) == entries
        assert entries[1].text() == "user:4314:rw", entries[1].text()

    code = with_odd_names(check)
    if code == 99:
        print("acl_text_reads_back_odd_names: no mount namespace; skipping")
        return
    assert code == 0, "the child exited %d" % code


@test
def pool_stats_count_acl_entries():
    """PoolStats.acl_entries is how many entries the pool's list has, from
    Connection.stats, Pool.stats and Connection.list_pools alike: 0
    without a list, 1 and 32 with, and what it is after a change."""
    A = poolclient.AclEntry
    full = [A("user", 5000 + i, "r") for i in range(poolclient.ACL_MAX)]

    def counts(c, p, name):
        listed = [s.acl_entries for s in c.list_pools() if s.name == name]
        return c.stats(name).acl_entries, p.stats().acl_entries, listed

    with poolclient.connect() as c:
        c.create_pool("pyacln0", 1 << 20)
        c.create_pool("pyacln1", 1 << 20, acl="user:4242:r")
        c.create_pool("pyacln32", 1 << 20, acl=full)
        with c.open("pyacln0") as p0, c.open("pyacln1") as p1, \
                c.open("pyacln32") as p32:
            assert counts(c, p0, "pyacln0") == (0, 0, [0])
            assert counts(c, p1, "pyacln1") == (1, 1, [1])
            assert counts(c, p32, "pyacln32") == (32, 32, [32])
            c.acl_modify("pyacln1", add="group:4343:rw")
            assert counts(c, p1, "pyacln1") == (2, 2, [2])
            c.set_pool("pyacln32", acl="none")
            assert counts(c, p32, "pyacln32") == (0, 0, [0])
        for name in ("pyacln0", "pyacln1", "pyacln32"):
            c.destroy_pool(name)


@test
def pool_acl_daemon_without_lists():
    """A daemon whose HelloReply lacks features bit 9: acl, acl_modify,
    create_pool and set_pool with entries raise EOPNOTSUPP, in words
    that name access control lists, and nothing but the Hello is sent:
    the library knew from the Hello.  So do user_quotas, and create_pool
    and set_pool with user_quotas (bit 11, which it lacks too)."""
    where = tempfile.mkdtemp(prefix="poolmgr-py-old.")
    path = os.path.join(where, "old.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(1)
    asked = []

    def varint(v):
        out = b""
        while v >= 0x80:
            out += bytes([v & 0x7f | 0x80])
            v >>= 7
        return out + bytes([v])

    def request_id(msg):
        v, shift, i = 0, 0, 1
        if not msg or msg[0] != 0x08:	# no id: 0
            return 0
        while msg[i] & 0x80:
            v |= (msg[i] & 0x7f) << shift
            shift += 7
            i += 1
        return v | msg[i] << shift

    def answer():
        conn, _ = srv.accept()
        with conn:
            msg = conn.recv(65536)	# its Hello
            # HelloReply{version 1, max_message 4096, server, features
            # bits 0 to 8: all but lists}
            server = b"poolmgrd before lists"
            hello = b"\x08\x01\x10" + varint(4096) + b"\x1a" + \
                bytes([len(server)]) + server + b"\x20" + varint(0x1ff)
            conn.send(b"\x08" + varint(request_id(msg)) + b"\x52" +
                      bytes([len(hello)]) + hello)
            while True:
                msg = conn.recv(65536)
                if not msg:
                    break
                asked.append(msg)
                # Reply{id, error -EOPNOTSUPP (sint32, zigzag)}
                conn.send(b"\x08" + varint(request_id(msg)) + b"\x10" +
                          varint(2 * errno.EOPNOTSUPP - 1))

    t = threading.Thread(target=answer)
    t.start()
    A = poolclient.AclEntry
    try:
        with poolclient.connect(path, 5) as c:
            e = expect_error(errno.EOPNOTSUPP, c.acl, "old")
            assert "access control list" in e.strerror, e.strerror
            expect_error(errno.EOPNOTSUPP, c.acl_modify, "old",
                         add="user:1:r")
            expect_error(errno.EOPNOTSUPP, c.acl_modify, "old",
                         remove=[("user", 1)])
            expect_error(errno.EOPNOTSUPP, c.create_pool, "new", 1 << 20,
                         acl="user:1:r")
            expect_error(errno.EOPNOTSUPP, c.set_pool, "old", mode=0o640,
                         acl=[A("user", 1, "r")])
            # Nor uids' own user quotas (bit 11), newer still.
            e = expect_error(errno.EOPNOTSUPP, c.user_quotas, "old")
            assert "uids' own user quotas" in e.strerror, e.strerror
            expect_error(errno.EOPNOTSUPP, c.create_pool, "new", 1 << 20,
                         user_quotas={1: 1 << 20})
            expect_error(errno.EOPNOTSUPP, c.set_pool, "old", mode=0o640,
                         user_quotas={1: None})
            assert asked == [], "the daemon without lists was asked " \
                "%d requests" % len(asked)
    finally:
        t.join(10)
        srv.close()
        shutil.rmtree(where)


@test
def pool_acl_refusals():
    """Bad lists change nothing: words acl_parse refuses are EINVAL (an
    unknown name ENOENT; a name with a colon, which no name holds, EINVAL
    as poolmgrd.conf refuses it) in the library's words; a kind and id
    twice is the daemon's EINVAL in its words; past ACL_MAX is ENOSPC,
    from the library for a list too long and from the daemon for a
    modify that would make one; bad AclEntry fields are EINVAL, a list of
    another type TypeError; the file's pool is EROFS; no pool, ENOENT."""
    A = poolclient.AclEntry
    with poolclient.connect() as c:
        c.create_pool("pyaclbad", 1 << 20, acl="user:7:r")
        was = [A("user", 7, "r")]
        e = expect_error(errno.EINVAL, c.set_pool, "pyaclbad",
                         acl="user:7:rwx")
        assert "user:7:rwx: x (execute) means nothing for a pool" in \
            e.strerror, e.strerror
        e = expect_error(errno.EINVAL, c.acl_modify, "pyaclbad",
                         add="other:1:r")
        assert "a user or a group" in e.strerror, e.strerror
        e = expect_error(errno.ENOENT, c.acl_modify, "pyaclbad",
                         add="user:no-such-user-here:r")
        assert "no such user" in e.strerror, e.strerror
        # No name holds a colon: the library's words, as poolctl's.
        e = expect_error(errno.EINVAL, c.set_pool, "pyaclbad",
                         acl="user:a:b:rw")
        assert e.strerror == "invalid access control list: user:a:b:rw: " \
            "no user name holds a colon", e.strerror
        e = expect_error(errno.EINVAL, poolclient.acl_parse, "group:x:y",
                         rights=False)
        assert "group:x:y: a removal names the group alone" in \
            e.strerror, e.strerror
        e = expect_error(errno.EINVAL, c.acl_modify, "pyaclbad",
                         remove="group:x:y:z")
        assert "group:x:y:z: no group name holds a colon" in e.strerror, \
            e.strerror
        e = expect_error(errno.EINVAL, c.set_pool, "pyaclbad", mode=0o640,
                         acl="user:8:r,user:8:w")
        assert e.strerror.endswith("poolmgrd says: user 8 is given twice"), \
            e.strerror
        expect_error(errno.EINVAL, c.acl_modify, "pyaclbad",
                     add=[A("group", 8, "r"), A("group", 8, "w")])
        assert c.stats("pyaclbad").mode == 0o600
        e = expect_error(errno.ENOSPC, c.set_pool, "pyaclbad",
                         acl=[A("user", i, "r") for i in range(33)])
        assert "at most 32" in e.strerror, e.strerror
        e = expect_error(errno.ENOSPC, c.set_pool, "pyaclbad",
                         acl=",".join("u:%d:r" % i for i in range(33)))
        assert "more than 32 entries" in e.strerror, e.strerror
        for bad in ([A("person", 1, "r")], [A("user", 1, "x")],
                    [A("user", -1, "r")], [A("user", (1 << 32) - 1, "r")]):
            expect_error(errno.EINVAL, c.set_pool, "pyaclbad", acl=bad)
        for bad in (5, [("user", 1)], [A("user", "root", "r")]):
            try:
                c.set_pool("pyaclbad", acl=bad)
            except TypeError:
                pass
            else:
                raise AssertionError("acl=%r: no TypeError" % (bad,))
        assert c.acl("pyaclbad") == was
        c.acl_modify("pyaclbad",
                     add=",".join("u:%d:r" % i for i in range(100, 131)))
        assert len(c.acl("pyaclbad")) == 32
        e = expect_error(errno.ENOSPC, c.acl_modify, "pyaclbad",
                         add="group:1:r")
        assert "poolmgrd says: an access control list holds at most 32" \
            in e.strerror, e.strerror
        c.acl_modify("pyaclbad", add="group:1:r", remove="user:7")
        assert len(c.acl("pyaclbad")) == 32
        expect_error(errno.EROFS, c.set_pool, "py", acl="user:7:r")
        expect_error(errno.EROFS, c.acl_modify, "py", add="user:7:r")
        assert c.acl("py") == []
        expect_error(errno.ENOENT, c.acl, "pynone")
        expect_error(errno.ENOENT, c.acl_modify, "pynone", add="user:7:r")
        c.destroy_pool("pyaclbad")


@test
def pool_acl_decides_for_another_uid():
    """A process of another uid: refused by an entry "user:UID:-" though
    the other bits would let it in; with r it opens read-only and reads
    the list, not read-write; with rw, read-write.  Not the owner, it may
    change no list (EPERM); made the owner, it may."""
    if os.geteuid() != 0:
        print("pool_acl_decides_for_another_uid: not root: cannot drop "
              "to another uid; skipping")
        return
    A = poolclient.AclEntry

    def may(rw, ro):
        def child():
            with poolclient.connect() as c:
                for read_only, want in ((False, rw), (True, ro)):
                    if want:
                        c.open("pyaclu", read_only=read_only).close()
                    else:
                        expect_error(errno.EACCES, c.open, "pyaclu",
                                     read_only=read_only)
                if ro:
                    assert len(c.acl("pyaclu")) == 1
                else:
                    expect_error(errno.EACCES, c.acl, "pyaclu")
                expect_error(errno.EPERM, c.acl_modify, "pyaclu",
                             add="user:65534:rw")
                expect_error(errno.EPERM, c.set_pool, "pyaclu", acl="none")
            return 0
        return child

    with poolclient.connect() as c:
        c.create_pool("pyaclu", 1 << 20, mode=0o606, acl="user:nobody:-")
        assert as_other_uid(may(False, False)) == 0
        c.acl_modify("pyaclu", add="user:nobody:r")
        assert as_other_uid(may(False, True)) == 0
        c.set_pool("pyaclu", mode=0o600, acl=[A("user", NOBODY, "rw")])
        assert as_other_uid(may(True, True)) == 0
        c.set_pool("pyaclu", uid=NOBODY)

        def owner():
            with poolclient.connect() as c:
                c.acl_modify("pyaclu", add="group:4343:r")
                c.set_pool("pyaclu", acl="user:4242:rw")
            return 0
        assert as_other_uid(owner) == 0
        assert c.acl("pyaclu") == [A("user", 4242, "rw")]
        c.destroy_pool("pyaclu")


@test
def user_quotas_set_read_and_modify():
    """create_pool's user_quotas (numbers and names) come back as a dict
    in uid order, counted in PoolStats.user_quota_entries (list_pools'
    too, which has the count but not the entries); set_pool's
    change some (None takes one out) in the same request as the other
    settings, keeping the rest; the users' entries say the bound in
    force and whether it is the uid's own."""
    me = os.geteuid()
    with poolclient.connect() as c:
        c.create_pool("pyuq", 4 << 20, user_quota=1 << 20,
                      user_quotas={4242: 8 << 20, "nobody": 0,
                                   me: 2 << 20})
        assert c.user_quotas("pyuq") == {me: 2 << 20, 4242: 8 << 20,
                                         NOBODY: 0}
        assert list(c.user_quotas("pyuq")) == sorted([me, 4242, NOBODY])
        assert c.stats("pyuq").user_quota_entries == 3
        assert [s.user_quota_entries for s in c.list_pools()
                if s.name == "pyuq"] == [3]
        with c.open("pyuq") as p:
            p.alloc(4096)
            p.flush()
            u = [u for u in c.users("pyuq") if u.uid == me][0]
            assert (u.quota, u.quota_own) == (2 << 20, True), u
            c.set_pool("pyuq", user_quota=3 << 20,
                       user_quotas={me: None, 4243: 1 << 16})
            assert c.user_quotas("pyuq") == {4242: 8 << 20, 4243: 1 << 16,
                                             NOBODY: 0}
            assert c.stats("pyuq").user_quota == 3 << 20
            u = [u for u in c.users("pyuq") if u.uid == me][0]
            assert (u.quota, u.quota_own) == (3 << 20, False), u
            assert isinstance(u.quota_own, bool)
        c.set_pool("pyuq", mode=0o640)
        assert len(c.user_quotas("pyuq")) == 3
        c.set_pool("pyuq", user_quotas={})
        c.set_pool("pyuq", user_quotas={4242: None, 4243: None,
                                        "nobody": None, 7: None})
        assert c.user_quotas("pyuq") == {}
        assert c.stats("pyuq").user_quota_entries == 0
        c.destroy_pool("pyuq")


@test
def user_quotas_digits_are_uids():
    """A user given as digits (str or bytes) is that uid, as poolctl
    reads USER: no password database need know it; nobody's and past it
    are EINVAL in words, and the same uid as a number beside it is given
    twice."""
    with poolclient.connect() as c:
        c.create_pool("pyuqd", 1 << 20, user_quotas={"4242": 1 << 20,
                                                     b"4243": 0})
        try:
            assert c.user_quotas("pyuqd") == {4242: 1 << 20, 4243: 0}
            c.set_pool("pyuqd", user_quotas={"4242": None, "0": 5})
            assert c.user_quotas("pyuqd") == {0: 5, 4243: 0}
            e = expect_error(errno.EINVAL, c.set_pool, "pyuqd",
                             user_quotas={"4294967295": 1})
            assert "nobody's" in e.strerror, e.strerror
            e = expect_error(errno.EINVAL, c.set_pool, "pyuqd",
                             user_quotas={"4294967296": 1})
            assert "out of range" in e.strerror, e.strerror
            e = expect_error(errno.EINVAL, c.set_pool, "pyuqd",
                             user_quotas={"4243": 1, 4243: None})
            assert "given twice" in e.strerror, e.strerror
            assert c.user_quotas("pyuqd") == {0: 5, 4243: 0}
        finally:
            c.destroy_pool("pyuqd")


@test
def user_quotas_refusals():
    """Bad entries change nothing: an unknown user name is ENOENT, a uid
    given twice (by name and number), nobody's uid (set or removed) or
    more than USER_QUOTA_MAX removals EINVAL in words that say so, None to
    create_pool EINVAL, more than USER_QUOTA_MAX ENOSPC (from the
    binding for a create, from the daemon for a set that would make
    one, in its words); a mapping of another type is TypeError, and so
    are bytes not an int; the file's pool is EROFS; no pool, ENOENT."""
    with poolclient.connect() as c:
        c.create_pool("pyuqbad", 1 << 20, user_quotas={7: 1 << 20})
        was = {7: 1 << 20}
        e = expect_error(errno.ENOENT, c.set_pool, "pyuqbad",
                         user_quotas={"no-such-user-here": 1})
        assert "no such user" in e.strerror, e.strerror
        e = expect_error(errno.EINVAL, c.set_pool, "pyuqbad", mode=0o640,
                         user_quotas={"root": 1, 0: 2})
        assert "given twice" in e.strerror, e.strerror
        # Refused by the binding in words that say what is wrong, not
        # in the library's bare EINVAL.
        for bad in ({(1 << 32) - 1: 1}, {(1 << 32) - 1: None},
                    {"nobody": 1, (1 << 32) - 1: None}):
            e = expect_error(errno.EINVAL, c.set_pool, "pyuqbad",
                             user_quotas=bad)
            assert "4294967295 is nobody's" in e.strerror, e.strerror
        e = expect_error(errno.EINVAL, c.set_pool, "pyuqbad",
                         user_quotas={i: None for i in range(33)})
        assert "at most 32 uids to remove, not 33" in e.strerror, \
            e.strerror
        expect_error(errno.EINVAL, c.set_pool, "pyuqbad",
                     user_quotas={-1: 1})
        expect_error(errno.EINVAL, c.create_pool, "pyuqnew", 1 << 20,
                     user_quotas={7: None})
        expect_error(errno.ENOSPC, c.create_pool, "pyuqnew", 1 << 20,
                     user_quotas={i: 1 for i in range(33)})
        # Empty ones too: [] or 0 is no mapping, whatever it holds.
        for bad in ([(7, 1)], 5, {7: "1M"}, {7: 1.5}, [], 0, "", ()):
            for call in (lambda: c.set_pool("pyuqbad", user_quotas=bad),
                         lambda: c.create_pool("pyuqnew", 1 << 20,
                                               user_quotas=bad)):
                try:
                    call()
                except TypeError:
                    pass
                else:
                    raise AssertionError("user_quotas=%r: no TypeError" %
                                         (bad,))
        assert c.user_quotas("pyuqbad") == was
        assert c.stats("pyuqbad").mode == 0o600
        c.set_pool("pyuqbad", user_quotas={i: 1 for i in range(100, 131)})
        e = expect_error(errno.ENOSPC, c.set_pool, "pyuqbad",
                         user_quotas={5: 1})
        assert "poolmgrd says: a pool holds at most 32 user quota" in \
            e.strerror, e.strerror
        c.set_pool("pyuqbad", user_quotas={5: 1, 7: None})
        assert len(c.user_quotas("pyuqbad")) == 32
        expect_error(errno.EROFS, c.set_pool, "py", user_quotas={7: 1})
        assert c.user_quotas("py") == {}
        expect_error(errno.ENOENT, c.user_quotas, "pynone")
        expect_error(errno.ENOENT, c.set_pool, "pynone", user_quotas={7: 1})
        try:
            expect_error(errno.ENOENT, c.stats, "pyuqnew")
        finally:
            c.destroy_pool("pyuqbad")


@test
def user_quota_entry_decides_for_another_uid():
    """A process of another uid, under a pool's user quota of 1 MiB: its
    own entry of 4 MiB lets 2 MiB through, one of 512 KiB refuses 1 MiB
    (EDQUOT, the daemon's words naming its own quota), and with the
    entry taken out the pool's refuses 2 MiB again.  Not an admin (the
    pool's owner), it may change no entry (EPERM)."""
    if os.geteuid() != 0:
        print("user_quota_entry_decides_for_another_uid: not root: cannot "
              "drop to another uid; skipping")
        return

    def alloc(size, code, words=None):
        def child():
            with poolclient.connect() as c, c.open("pyuqu") as p:
                if code == 0:
                    p.free(p.alloc(size))
                else:
                    e = expect_error(code, p.alloc, size)
                    assert words in e.strerror, e.strerror
                expect_error(errno.EPERM, c.set_pool, "pyuqu",
                             user_quotas={NOBODY: 0})
            return 0
        return child

    with poolclient.connect() as c:
        c.create_pool("pyuqu", 8 << 20, mode=0o666, uid=NOBODY,
                      user_quota=1 << 20, user_quotas={"nobody": 4 << 20})
        assert as_other_uid(alloc(2 << 20, 0)) == 0
        c.set_pool("pyuqu", user_quotas={NOBODY: 512 << 10})
        assert as_other_uid(alloc(1 << 20, errno.EDQUOT,
                                  "uid 65534's own user quota")) == 0
        c.set_pool("pyuqu", user_quotas={NOBODY: None})
        assert as_other_uid(alloc(2 << 20, errno.EDQUOT,
                                  "per user")) == 0
        assert c.user_quotas("pyuqu") == {}
        c.destroy_pool("pyuqu")


def await_alloc_waits(c, pool, n):
    """Until pool's alloc_waits is n (a liveness bound, not a measure)."""
    end = time.monotonic() + 30
    while c.stats(pool).alloc_waits != n:
        assert time.monotonic() < end, \
            "alloc_waits of %s stays %d, not %d" % (
                pool, c.stats(pool).alloc_waits, n)
        time.sleep(0.01)


@test
def alloc_waits_for_room_another_process_frees():
    """alloc(wait=...) in a child process, refused for the pool's limit,
    waits (the pool's alloc_waits counts it) until a free here makes
    room: then it gets its block, zeroed as asked."""
    with poolclient.connect() as c:
        c.create_pool("pywait", 8 << 20, limit=1 << 20)
        try:
            with c.open("pywait") as p:
                full = p.alloc(1 << 20)
                p.buffer(full, 1 << 20)[:] = b"\xff" * (1 << 20)
                child = subprocess.Popen(
                    [sys.executable, "-c",
                     "import poolclient\n"
                     "with poolclient.connect() as c, "
                     "c.open('pywait') as p:\n"
                     "    off = p.alloc(512 << 10, zero=True, wait=60)\n"
                     "    b = bytes(p.buffer(off, 512 << 10))\n"
                     "    print(off, b == bytes(512 << 10))\n"
                     "    p.free(off)\n"],
                    stdout=subprocess.PIPE, text=True,
                    env=dict(os.environ,
                             PYTHONPATH=os.path.join(SRC, "client")))
                try:
                    await_alloc_waits(c, "pywait", 1)
                    assert child.poll() is None, "the child did not wait"
                    p.free(full)
                    p.flush()
                    out, _ = child.communicate(timeout=60)
                finally:
                    if child.poll() is None:
                        child.kill()
                        child.wait()
                assert child.returncode == 0, out
                off, zeroed = out.split()
                assert int(off) < 8 << 20 and zeroed == "True", out
                after = c.stats("pywait")
                assert after.alloc_waits == 0, after
        finally:
            c.destroy_pool("pywait")


@test
def alloc_wait_under_the_user_quota():
    """alloc(wait=...) refused by the user quota waits as for room: it
    raises ETIMEDOUT, not EDQUOT, when its time passes, whatever its
    length (one that ends just after a part of a quarter second ends
    with a try that does not wait, and that try's EDQUOT is the wait
    running out), in words that name the quota per user, not a pool
    without room, and none counted in user_quota_refusals (that last
    try was, once in 4 waits); a free by another connection of the uid
    wakes it."""
    with poolclient.connect() as c, poolclient.connect() as c2:
        c.create_pool("pyuqw", 8 << 20, user_quota=1 << 20)
        try:
            with c.open("pyuqw") as p, c2.open("pyuqw") as p2:
                full = p.alloc(1 << 20)
                p.flush()
                for wait in (0.1,) + (0.2502, 0.2505, 0.251, 0.2515) * 2:
                    e = expect_error(errno.ETIMEDOUT, p2.alloc, 4096,
                                     wait=wait)
                    assert "per user" in e.strerror, e.strerror
                    assert "no room came" not in e.strerror, e.strerror
                    assert e.strerror.endswith(
                        " in %d ms" % math.ceil(wait * 1000)), e.strerror
                s = c.stats("pyuqw")
                assert s.user_quota_refusals == 0, s.user_quota_refusals
                assert s.quota_refusals == 0, s.quota_refusals
                got = []
                waiter = threading.Thread(
                    target=lambda: got.append(p2.alloc(4096, wait=60)))
                waiter.start()
                try:
                    await_alloc_waits(c, "pyuqw", 1)
                    p.free(full)
                    p.flush()
                finally:
                    waiter.join(60)
                assert not waiter.is_alive() and len(got) == 1, got
                p2.free(got[0])
        finally:
            c.destroy_pool("pyuqw")


@test
def alloc_wait_under_the_quota_per_connection():
    """alloc(wait=...) refused by the quota per connection waits too,
    and raises EDQUOT at its end, in the daemon's words for that quota
    with the whole wait's time (not its last part's, a quarter second at
    most, nor the 1 ms of a last try), counted once in quota_refusals
    whatever the number of parts."""
    with poolclient.connect() as c:
        c.create_pool("pyqcw", 8 << 20, quota=1 << 20)
        try:
            with c.open("pyqcw") as p:
                full = p.alloc(1 << 20)
                p.flush()
                for wait in (0.1, 0.6, 0.2505):
                    e = expect_error(errno.EDQUOT, p.alloc, 4096, wait=wait)
                    assert "per connection" in e.strerror, e.strerror
                    assert e.strerror.endswith(
                        "still after %d ms" % math.ceil(wait * 1000)), \
                        e.strerror
                s = c.stats("pyqcw")
                assert s.quota_refusals == 3, s.quota_refusals
                assert s.alloc_waits == 0, s.alloc_waits
                p.free(full)
        finally:
            c.destroy_pool("pyqcw")


@test
def alloc_wait_times_out_and_bad_waits():
    """alloc(wait=...) in a full pool raises ETIMEDOUT once its time has
    passed, never before (a wait of more than one part too), naming the
    size, the wait and the limit that held it back (the daemon's words
    for the last part, with the whole wait's time), with nothing
    allocated and nothing left waiting,
    each counted once in failed_allocs however many parts it took (every
    part counted before: 3 for the 0.6 s wait); bad waits are refused before anything is asked; a wait with room
    there allocates at once, aligned and zeroed as asked."""
    with poolclient.connect() as c:
        c.create_pool("pywait", 8 << 20, limit=1 << 20)
        try:
            with c.open("pywait") as p:
                full = p.alloc(1 << 20)
                p.flush()
                before = p.stats()
                for wait in (0.3, 0.6):
                    t = time.monotonic()
                    e = expect_error(errno.ETIMEDOUT, p.alloc, 4096,
                                     wait=wait)
                    took = time.monotonic() - t
                    assert took >= wait, "ETIMEDOUT after %.3f s of %s" % (
                        took, wait)
                    assert e.strerror == "the wait ran out: pool pywait " \
                        "stayed too near its limit for 4096 bytes more " \
                        "in %d ms" % (wait * 1000), e
                after = p.stats()
                assert after.failed_allocs == before.failed_allocs + 2, (
                    before.failed_allocs, after.failed_allocs)
                assert after.alloc_waits == 0, after
                assert after.live_blocks == before.live_blocks
                assert after.allocated_bytes == before.allocated_bytes
                for bad in (-2, -0.5, 2**31, float("nan")):
                    expect_error(errno.EINVAL, p.alloc, 4096, wait=bad)
                for bad in ("1", True, [1]):
                    try:
                        p.alloc(4096, wait=bad)
                    except TypeError:
                        pass
                    else:
                        raise AssertionError("wait=%r taken" % (bad,))
                assert p.stats().allocs == after.allocs
                p.free(full)
                p.flush()
                dirty = p.alloc(64 << 10)
                p.buffer(dirty, 64 << 10)[:] = b"\x5a" * (64 << 10)
                p.free(dirty)
                p.flush()
                for align in (0, 1, 4096):
                    off = p.alloc(64 << 10, align=align, zero=True, wait=1)
                    assert align == 0 or off % align == 0, (off, align)
                    assert bytes(p.buffer(off, 64 << 10)) == \
                        bytes(64 << 10), align
                    p.free(off)
                    p.flush()
        finally:
            c.destroy_pool("pywait")


@test
def alloc_wait_parts_keep_their_place():
    """alloc(wait=...) asks in parts (pool_alloc_wait with ALLOC_PART),
    and a part that runs out keeps its place for the next: a waiter in
    parts that began first gets the first free, though another (one
    wait in C, asked once) began waiting while its first part waited.
    Before, each part went to the back, behind the other, which took
    every free.  The parts' lengths are the test's (a first that runs
    out, then long ones), so that the free comes while a part waits."""
    half = 512 << 10
    with poolclient.connect() as c, poolclient.connect() as c2, \
            poolclient.connect() as c3:
        c.create_pool("pyparts", 8 << 20, limit=1 << 20)
        try:
            with c.open("pyparts") as p, c2.open("pyparts") as p2, \
                    c3.open("pyparts") as p3:
                p.set_cache(0)
                a, b = p.alloc(half), p.alloc(half)
                second_part = threading.Event()
                got = []
                done = threading.Condition()

                def parts(ms):
                    yield 300, True
                    second_part.set()
                    while True:
                        yield 60000, True

                def served(who, fn):
                    off = fn()
                    with done:
                        got.append((who, off))
                        done.notify_all()

                def once():
                    out = ctypes.c_uint64(poolclient.OFF_NONE)
                    with p3._h as h:
                        rc = poolclient._lib.pool_alloc_wait(
                            h, half, 0, 0, 60000, ctypes.byref(out))
                    assert rc == 0, rc
                    return out.value

                saved, poolclient._parts = poolclient._parts, parts
                try:
                    w = threading.Thread(target=served, args=(
                        "parts", lambda: p2.alloc(half, wait=60)))
                    w.start()
                    await_alloc_waits(c, "pyparts", 1)
                    q = threading.Thread(target=served, args=("once", once))
                    q.start()
                    await_alloc_waits(c, "pyparts", 2)
                    assert second_part.wait(30), "no second part"
                    # Ran out, the first part left one waiting: two again
                    # once the second part waits.
                    await_alloc_waits(c, "pyparts", 2)
                    p.free(a)
                    with done:
                        assert done.wait_for(lambda: got, 30), "none served"
                        first = got[0]
                    assert first[0] == "parts", \
                        "the one asked once got the free first: %r" % (got,)
                    assert a <= first[1] < a + half, (first, a)
                    p.free(b)
                    w.join(30)
                    q.join(30)
                finally:
                    poolclient._parts = saved
                assert [who for who, _ in got] == ["parts", "once"], got
                assert b <= got[1][1] < b + half, (got, b)
                p2.free(got[0][1])
                p3.free(got[1][1])
        finally:
            c.destroy_pool("pyparts")


def main():
    daemon = Daemon()
    passed = failed = 0
    # Names given run those tests alone (a test being worked on).
    only = set(sys.argv[1:])
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            print("ok", fn.__name__, flush=True)
            passed += 1
        except Exception:
            print("FAIL", fn.__name__, flush=True)
            traceback.print_exc(file=sys.stdout)
            failed += 1
        gc.collect()
    rc = daemon.stop()
    if rc != 0:
        print("FAIL poolmgrd exited with status %d" % rc)
        failed += 1
    print("[  PASSED  ] %d test(s)." % passed)
    print("[  FAILED  ] %d test(s)." % failed)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
