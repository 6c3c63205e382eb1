#!/usr/bin/env python3
"""bench_python.py - what the Python binding adds to a call: CPU time of
this process (getrusage, so the machine's load counts little) per 64-byte
alloc+free pair and per Pool.buffer, through the binding and through bare
ctypes calls of the same library functions, with the client cache on (no
round trip) and off (two round trips to a daemon of the build); then
the wall-clock rate of alloc+free pairs of THREADS threads on one
connection, each on a pool handle of its own, against one thread: what
the binding's locking lets threads do at once.

    POOLMGR_BUILD=build python3 tests/bench/bench_python.py

$POOLCLIENT_PY, a directory, takes poolclient.py from there instead of
client/: another version of the binding, against the same library.
"""
import ctypes
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("POOLMGR_BUILD") or
                        os.path.join(SRC, "build"))
os.environ["POOLCLIENT_LIB"] = os.path.join(BUILD, "libpoolclient.so.1")
sys.path.insert(0, os.environ.get("POOLCLIENT_PY") or
                os.path.join(SRC, "client"))
import poolclient  # noqa: E402 (after the library is chosen)

ROUNDS = 3
THREADS = 4
SECONDS = 2.0


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def per_call(fn, n):
    """CPU microseconds per fn() over n calls: the least of ROUNDS."""
    best = None
    for _ in range(ROUNDS):
        t = cpu()
        for _ in range(n):
            fn()
        us = (cpu() - t) / n * 1e6
        best = us if best is None else min(best, us)
    return best


def measure(p, n):
    """The pair's cost through the binding and bare, and buffer's."""
    lib, ptr = poolclient._lib, p._h._ptr
    out = ctypes.c_uint64()
    ref = ctypes.byref(out)

    def bare():
        lib.pool_alloc(ptr, 64, ref)
        lib.pool_free(ptr, out.value)

    def binding():
        p.free(p.alloc(64))

    off = p.alloc(4096)
    view = per_call(lambda: p.buffer(off, 4096).release(), n)
    p.free(off)
    return per_call(binding, n), per_call(bare, n), view


def pairs_per_second(pools):
    """Wall-clock alloc+free pairs a second of one thread per pool, all
    at once, over SECONDS, and the process's CPU microseconds a pair."""
    counts = [0] * len(pools)
    start = threading.Barrier(len(pools) + 1)
    stop = threading.Event()

    def work(i, p):
        start.wait()
        n = 0
        while not stop.is_set():
            for _ in range(100):
                p.free(p.alloc(64))
            n += 100
        counts[i] = n

    threads = [threading.Thread(target=work, args=(i, p))
               for i, p in enumerate(pools)]
    for t in threads:
        t.start()
    start.wait()
    t0, c0 = time.monotonic(), cpu()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()
    pairs = sum(counts)
    return pairs / (time.monotonic() - t0), (cpu() - c0) / pairs * 1e6


def threaded(c):
    """Pairs a second: one thread, then THREADS, each on its own handle,
    with the client cache on and off."""
    pools = [c.open("bench") for _ in range(THREADS)]
    try:
        for cache in ("on", "off"):
            if cache == "off":
                for p in pools:
                    p.set_cache(0)
            one, one_cpu = pairs_per_second(pools[:1])
            many, many_cpu = pairs_per_second(pools)
            print("%-12s %10.0f %10.0f %10.2f %10.2f" % (
                cache, one, many, one_cpu, many_cpu))
    finally:
        for p in pools:
            p.close()


def main():
    tmp = tempfile.mkdtemp(prefix="poolmgr-bench-py.")
    sock, conf = os.path.join(tmp, "s"), os.path.join(tmp, "conf")
    with open(conf, "w") as f:
        f.write("[pool bench]\nsize = 64M\n")
    daemon = subprocess.Popen([os.path.join(BUILD, "poolmgrd"), "--socket",
                               sock, "--config", conf],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        print("Python %s; CPU us per call, least of %d rounds; load %.1f"
              % (sys.version.split()[0], ROUNDS, os.getloadavg()[0]))
        print("%-12s %10s %10s %10s" % ("client cache", "binding",
                                        "bare ctypes", "buffer()"))
        with poolclient.connect(sock) as c, c.open("bench") as p:
            print("%-12s %10.2f %10.2f %10.2f" % (("on",) +
                                                  measure(p, 200000)))
            p.set_cache(0)
            print("%-12s %10.2f %10.2f %10.2f" % (("off",) +
                                                  measure(p, 20000)))
            print("pairs/s (wall) on one connection, a pool handle "
                  "each; CPU us a pair:")
            print("%-12s %10s %10s %10s %10s" % (
                "client cache", "1 thread", "%d threads" % THREADS,
                "CPU 1", "CPU %d" % THREADS))
            threaded(c)
    finally:
        daemon.terminate()
        daemon.wait()
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
