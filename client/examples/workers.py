#!/usr/bin/env python3
"""workers - one array in a pool, read in place by worker processes.

    python3 workers.py POOL [WORKERS [MIB]]

The parent loads an array of MIB MiB (200) of float64 into a block of
POOL once and publishes it as "model/weights"; a parent started again
finds it there and loads nothing.  It then starts WORKERS (3) worker
processes, each of which looks the name up, holds the block, and reads
the array straight from the pool's mapping: numpy.frombuffer when numpy
is installed, else a memoryview cast to doubles.  No copy is made, so the
array is in memory once however many workers read it.  Worker 1 crashes
while it reads, once; the parent starts it again, and the new one finds
the same array by the same name.

Under the pool's user quota the array is charged once, to the uid that
loaded it, as a persistent block is; the workers' holds on it cost
nothing while the name keeps it.  Once it is no longer named (replaced
by a new version, or unpublished), workers still holding it charge it
to their uid once, however many of them hold it, until the last lets it
go (see docs/python.md, "One array, many workers").
"""
import errno
import os
import signal
import subprocess
import sys
from array import array

import poolclient

NAME = "model/weights"
PATTERN = 1 << 16       # the array is 0.0, 1.0, ... 65535.0, again and again


def say(line):
    """line on stdout in one write: the workers share the parent's
    stdout, and a line written in pieces could be cut by another's."""
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def expected_sum(n):
    """The sum of the first n doubles of the array."""
    whole, rest = divmod(n, PATTERN)
    return whole * (PATTERN - 1) * PATTERN // 2 + (rest - 1) * rest // 2


def doubles(buf):
    """The bytes of buf as float64, in place."""
    try:
        import numpy
    except ImportError:
        return buf.cast("d")
    return numpy.frombuffer(buf, numpy.float64)


def total(a):
    """The sum of a's doubles (exact: whole numbers, far below 2**53)."""
    return int(a.sum()) if hasattr(a, "sum") else int(sum(a))


def load(pool, mib):
    """The array's offset: found by its name, else loaded and published."""
    try:
        found = pool.lookup(NAME)
        if found.usable_size >= mib << 20:
            say("parent: found %d MiB at %#x" % (mib, found.offset))
            return found.offset
    except poolclient.PoolError as e:
        if e.errno != errno.ENOENT:
            raise
    # persist: the block is the pool's from the start; the name below
    # takes that reference, and this handle holds none to let go.
    off = pool.alloc(mib << 20, persist=True)
    chunk = array("d", range(PATTERN)).tobytes()
    buf = pool.buffer(off, mib << 20)
    for at in range(0, mib << 20, len(chunk)):
        buf[at:at + len(chunk)] = chunk[:len(buf) - at]
    del buf                         # a live view keeps the pool open
    pool.publish(NAME, off, replace=True)
    say("parent: loaded %d MiB at %#x" % (mib, off))
    return off


def worker(pool_name, index, mib, crash):
    """Read the whole array; crash halfway through it if asked."""
    with poolclient.connect() as conn, \
            conn.open(pool_name, read_only=True) as pool:
        # retain: the block is this process's too while it reads, even
        # if the parent replaces or removes the name meanwhile; the
        # daemon drops the hold when the process ends, however it ends.
        found = pool.lookup(NAME, retain=True)
        a = doubles(pool.buffer(found.offset, mib << 20))
        half = len(a) // 2
        got = total(a[:half])
        if crash:
            say("worker %d: crashing halfway" % index)
            os.kill(os.getpid(), signal.SIGKILL)
        got += total(a[half:])
        ok = got == expected_sum(len(a))
        say("worker %d: %d doubles at %#x, sum %s" %
            (index, len(a), found.offset, "right" if ok else "WRONG"))
        del a
        pool.free(found.offset)
    return 0 if ok else 1


def start(pool_name, index, mib, crash):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__),
                             "--worker", pool_name, str(index), str(mib),
                             "crash" if crash else "read"])


def parent(pool_name, workers, mib):
    with poolclient.connect() as conn, conn.open(pool_name) as pool:
        load(pool, mib)
        running = {i: start(pool_name, i, mib, i == 1)
                   for i in range(1, workers + 1)}
        started_again = set()
        failed = 0
        while running:
            pid, status = os.wait()
            i = next(i for i, p in running.items() if p.pid == pid)
            running.pop(i).returncode = status
            if status == 0:
                continue
            if i in started_again:
                failed += 1
                continue
            say("parent: worker %d died (%s); starting it again" %
                (i, "signal %d" % os.WTERMSIG(status)
                 if os.WIFSIGNALED(status) else
                 "exit %d" % os.WEXITSTATUS(status)))
            started_again.add(i)
            running[i] = start(pool_name, i, mib, False)
        for u in conn.users(pool_name):
            if u.uid == os.getuid():
                say("parent: uid %d holds %d MiB, persists %d MiB, "
                    "user quota %d MiB" %
                    (u.uid, u.held_bytes >> 20, u.persisted_bytes >> 20,
                     u.quota >> 20))
        return 1 if failed else 0


def main(argv):
    if len(argv) == 6 and argv[1] == "--worker":
        return worker(argv[2], int(argv[3]), int(argv[4]),
                      argv[5] == "crash")
    if not 2 <= len(argv) <= 4:
        print("usage: workers.py POOL [WORKERS [MIB]]", file=sys.stderr)
        return 2
    return parent(argv[1], int(argv[2]) if len(argv) > 2 else 3,
                  int(argv[3]) if len(argv) > 3 else 200)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
