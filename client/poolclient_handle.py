"""poolclient_handle - how poolclient shares a connection or pool handle
among threads, closes it while calls run, and survives signals,
finalizers and fork.  Private to poolclient, which imports it.

A call.  Every call of the binding on a handle runs inside `with handle
as ptr:`.  __enter__ takes the handle's lock for a moment: it refuses a
handle that is closed or that a close waits on (the EBADF error the
handle was made with), records the calling frame and thread and returns
the C pointer.  The C call runs without the lock (and, through ctypes, without
the GIL): calls of many threads on one connection are not held back by
it.  __exit__ takes the lock again to let go of the frame, and wakes a
close that waits.  A pool's handle shares its connection's lock and
condition, so that one close can wait for the calls on the connection
and on all its pools at once.

A close (_take_all; _Handle.take for a pool alone) marks its handles
closing, so that new calls are EBADF and a wait in parts ends with EBADF
at the end of its part, and waits on the condition until no call of
another thread on them still runs (a connection's close:
the connection's calls first, then those of its pools, which a call of
the connection may have opened meanwhile).  Then, with no call under
way, refuse() may forbid the close (a pool's buffer still in use:
BufferError, the handles stay open); else the close takes the pointers,
which no call can reach any more, for poolclient to free.  Each taken
pointer that its close must free is kept in the handle's _pending until
finish() hands it to the C library's close, in one step with its taking
off: a signal handler's exception between the take and the C close
leaves it there for the close run again (or the collector's), instead of
open for good behind an object that reads closed.

Signals.  A call is known by its frame, not counted: a signal handler's
exception (Ctrl-C) can come as __exit__ is entered, before it runs a
line, and a count left up would hold every later close back for ever.
Such a broken call has left its frame (the exception went up through
it), and a frame that has ended is told from one still running by
frame.clear(), which refuses (RuntimeError) a frame that is executing:
a close does not wait for a call whose frame has ended, looks at the
calls again every _RECHECK_S (the broken call sent no wakeup), and a
handle's calls let go of such frames once _PRUNE_MIN or more pile up.
No thread ever walks another thread's stack (sys._current_frames and
f_back): in CPython 3.11 making the frame object of another thread's
frame can run the collector, whose finalizers let that thread run on
and pop the frame being made, and the walker then read freed memory
(SIGSEGV).  A close begun by a signal handler in a thread inside its
own call on the connection cannot wait for that call, which goes on
only once the handler returns: it waits for the other threads' calls,
leaves the handles closing, and the end of that thread's call runs the
close again (_deferred_of_this_thread).

Finalizers.  The collector may run a finalizer (a dropped Pool's or
Connection's, or that of any object in a garbage cycle that closes one)
at any Python call of any thread, one that holds the lock too: the lock
is reentrant, and a close inside the thread's own call is deferred as a
signal handler's is.  _Closing closes its object at the end of a with
block and when it is collected.  A deferred close is held weakly: left
to a call that never ends where it could run, it still happens when the
object is collected.  _Views holds a pool's buffers weakly: a buffer
the program dropped forbids no close, and the pool can go once no buffer
holds it.

Fork.  In a forked child the calls other threads of the parent were
making never end, and one of them may have held a lock: _after_fork
(os.register_at_fork) forgets every handle's calls and closes, and gives
each connection and its pools a new lock, and marks each handle forked.
The C library answers ECHILD for the handles the child inherited, and
closing them frees only the child's memory; a buffer, which pool_ptr
would make without a request, is refused by the binding on the mark.
"""

import collections
import functools
import itertools
import os
import sys
import threading
import weakref


# Every handle, so that a forked child can reset them (_after_fork).
_handles = weakref.WeakSet()


def _running(frame):
    """Whether frame is still executing (on some thread's stack): only
    frame.clear() says so without reaching into another thread's stack.
    A frame that has ended is cleared by it: the frame of a call an
    exception broke, whose locals nothing needs any more."""
    try:
        frame.clear()
    except RuntimeError:
        return True
    return False


# How often a close that waits looks at the stacks again unwoken: a call
# that an exception broke as it ended (before its __exit__ ran a line)
# leaves its thread without a wakeup for the close.
_RECHECK_S = 0.1

# As many calls under way on a handle as make its next call look for
# frames of broken calls to let go of (then twice as many as are left).
_PRUNE_MIN = 64


class _Handle:
    """A C pointer that calls may use from many threads while one close
    waits for them: no call runs on a freed pointer.  A call on it once
    closed, or while a close waits, raises closed_error(what).  A pool's
    handle shares its connection's lock and condition (conn), so that
    the connection's close can wait for the calls on all of them at once
    and decide, with none under way, whether a buffer forbids it.

    A call is known by its frame, not counted: a signal handler's
    exception (Ctrl-C) can come as __exit__ is entered, before it runs a
    line, and a count left up would hold a close back for ever.  A close
    waits for the calls of other threads whose frames still run."""

    def __init__(self, ptr, what, closed_error, conn=None):
        self._ptr, self._what = ptr, what
        # The binding's own error (closed_error(what)): a call on a
        # closed handle fails as the C library's calls do, with EBADF.
        self._closed_error = closed_error
        self._calls = []	# (frame, thread) of each call under way
        self._prune_at = _PRUNE_MIN
        self._closing = 0	# closes waiting for the calls to end
        # {"ptr": pointer} once a close took it, until finish() frees it.
        self._pending = {}
        self._conn = conn
        # Inherited across fork(): set in the child (_after_fork).
        self.forked = False
        if conn is None:
            # Closes that a thread began inside its own calls on the
            # connection or its pools: (thread, close, handles).
            self._deferred = []
        self._new_lock()
        _handles.add(self)

    def _new_lock(self):
        """lock, the lock this handle's records are guarded by, and
        cond, the condition on it that a close waits on: a new pair for
        a connection, its connection's for a pool (plain attributes, not
        properties: every call takes the lock twice)."""
        if self._conn is not None:
            self.lock, self.cond = self._conn.lock, self._conn.cond
            return
        # Reentrant: the collector may run a finalizer, which closes a
        # dropped pool of the same connection, in a thread that holds
        # it.  Taken with `with` directly, never through the condition,
        # whose __exit__ is Python's and so may not run (see above).
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)

    def __enter__(self):
        call = (sys._getframe(1), threading.get_ident())
        with self.lock:
            if self._ptr is None or self._closing:
                raise self._closed_error(self._what)
            if len(self._calls) >= self._prune_at:
                self._prune()
            self._calls.append(call)
            return self._ptr

    def __exit__(self, *exc):
        call = (sys._getframe(1), threading.get_ident())
        with self.lock:
            try:
                self._calls.remove(call)
            except ValueError:	# one a close or a fork let go of
                pass
            # Only a close waits for the calls to end: no wakeup else.
            # (Not only at the last: frames of broken calls may stay.)
            if not self._closing:
                return
            self.cond.notify_all()
            again = _deferred_of_this_thread(self.root)
        for close in again:
            close()

    def _prune(self):
        """Let go of the frames of calls an exception broke as they
        ended: they and what they hold would pile up until a close that
        a long-lived handle may never see."""
        self.drop_ended()
        self._prune_at = max(_PRUNE_MIN, 2 * len(self._calls))

    def drop_ended(self):
        """Forget the calls whose frames have ended (broken calls).
        Clearing such a frame may run finalizers, which may make calls
        on this handle: the list is changed only by removals."""
        for call in [c for c in self._calls if not _running(c[0])]:
            try:
                self._calls.remove(call)
            except ValueError:
                pass

    @property
    def root(self):
        """The connection's handle (this one for a connection)."""
        return self if self._conn is None else self._conn

    def in_use_by_others(self, me):
        """Whether a thread other than me has a call under way."""
        return any(t != me and _running(f) for f, t in list(self._calls))

    @property
    def closed(self):
        return self._ptr is None

    @property
    def unfinished(self):
        """Whether a close has something left to do: the handle is open,
        or a close took its pointer and has not freed it."""
        return self._ptr is not None or bool(self._pending)

    def finish(self, close):
        """close(pointer) for the pointer a close took (see _take_all),
        if it is still pending, once, even with threads at it at once.
        It comes off _pending and goes to close inside one C call
        (deque's, which runs the map): Python runs a signal handler only
        between the bytecodes of a frame, so an exception comes before
        the pointer is taken off (and the next close frees it) or after
        close has run (and nothing is left), never between the two."""
        take = functools.partial(self._pending.pop, "ptr", None)
        collections.deque(map(close, iter(take, None)), 0)

    def forget(self):
        """Drop the pending pointer unfreed: another close (the
        connection's) freed it."""
        self._pending.pop("ptr", None)

    def refuse_if_closing(self):
        """EBADF once a close waits for the calls under way: for a call
        that waits in parts, which would hold the close back as long."""
        if self._closing:
            raise self._closed_error(self._what)

    def take(self, refuse=None, again=None):
        """The pointer, once no call uses it and refuse() (if given) has
        not raised, which it is called to do with no call under way;
        None if closed before, or if the close waits for calls of this
        thread (see _take_all; again() closes then).  Calls meanwhile
        are EBADF; a refusal leaves the handle open.  The pointer taken
        is pending (finish() frees it)."""
        return _take_all([self], lambda: refuse and refuse(), again=again)[0]


def _deferred_of_this_thread(root):
    """The closes this thread deferred on root's connection, taken off
    its list, with their handles' closing counts given back (the close
    run again counts anew), for the caller to run without the lock.
    Each runs where a BufferError could only end a call that did not
    ask for a close: a buffer made since leaves the object open."""
    me = threading.get_ident()
    mine = [d for d in root._deferred if d[0] == me]
    if not mine:
        return []
    root._deferred = [d for d in root._deferred if d[0] != me]
    for _, _, hs in mine:
        for h in filter(None, (ref() for ref in hs)):
            h._closing -= 1

    def close(again):
        def run():
            method = again()
            try:
                if method is not None:
                    method()
            except BufferError:
                pass
        return run
    return [close(again) for _, again, _ in mine]


def _take_all(handles, refuse, first=(), again=None):
    """The pointers of handles (of one connection: one lock), once no
    call uses any of them and refuse() has not raised, which it is
    called to do then: first the pointers of handles in first, waited
    for before the others are listed (a connection's, before its pools',
    which its calls may open), then those of handles() if it is a
    function.  None for each closed before.

    A close that a signal handler, a finalizer or a callback begins in
    a thread inside its own call on one of the handles cannot wait for
    that call, which goes on only once the close has returned: it waits
    for the other threads' calls, refuses or not, and then leaves the
    handles closing (calls EBADF, waits ended at a part's end) and
    returns None for each; the end of that thread's last such call runs
    again() (the close anew), which takes them.

    The pointers of first (of handles if first is empty), which the
    caller's close frees, are left pending in their handles, taken off
    them in the same step (no call between, where a signal handler's
    exception could come): the caller's finish() frees them.  Those of
    the others (a connection's pools) are freed with the first ones."""
    h0 = (first or handles)[0]
    lock, cond = h0.lock, h0.cond
    me = threading.get_ident()
    waiting = []

    def wait_for(hs):
        for h in hs:
            h._closing += 1
            waiting.append(h)

        while any(h.in_use_by_others(me) for h in hs):
            cond.wait(_RECHECK_S)
        for h in hs:
            # Of the other threads' calls, those left are ones an
            # exception broke out of as they ended: gone, and what they
            # held with them.  This thread's that still run are calls
            # under way below this close.
            h._calls = [c for c in h._calls if c[1] == me]
            h.drop_ended()

    with lock:
        deferred = False
        try:
            wait_for(first)
            hs = list(handles() if callable(handles) else handles)
            wait_for(hs)
            refuse()
            if again is not None and any(h._calls for h in waiting):
                # Weakly: should that call never end where it can run
                # it (an exception as its __exit__ came), the object
                # still closes when collected (the handles hold the
                # frame of that call, which holds the object).
                h0.root._deferred.append(
                    (threading.get_ident(), weakref.WeakMethod(again),
                     [weakref.ref(h) for h in waiting]))
                deferred = True
                return [None] * len(list(first) + hs)
        finally:
            if not deferred:
                for h in waiting:
                    h._closing -= 1
            # A close that refused may have held back another's wakeup.
            cond.notify_all()
        taken = [h._ptr for h in list(first) + hs]
        # The others first (a connection's pools, freed with it): an
        # exception between leaves the first ones open, for the close
        # run again.  Then each of the first ones, pending in one step.
        for h in hs if first else ():
            h._ptr = None
        for h in first or hs:
            if h._ptr is not None:
                h._pending["ptr"], h._ptr = h._ptr, None
        return taken


def _after_fork():
    """In a forked child: the calls other threads of the parent were
    making never end here, and the lock may have been held by one of
    them; a close must not wait for them (the C library answers ECHILD
    for the handles, and closing them frees only the child's memory)."""
    handles = list(_handles)
    for h in handles:
        h._calls, h._closing = [], 0
        h.forked = True
        if h._conn is None:
            h._new_lock()
            h._deferred = []
    for h in handles:	# a pool's, once its connection's is new
        if h._conn is not None:
            h._new_lock()


os.register_at_fork(after_in_child=_after_fork)


class _Views:
    """The buffers of a pool still in use, as weak references (a ctypes
    array is not hashable, so no WeakSet): the callbacks hold only the
    dict, not the pool, which can then go once no buffer holds it."""

    def __init__(self):
        self._refs = {}
        self._seq = itertools.count()	# next() is atomic: threads add

    def add(self, obj):
        refs, key = self._refs, next(self._seq)
        refs[key] = weakref.ref(obj, lambda r, k=key: refs.pop(k, None))

    def __len__(self):
        # A reference the collector cleared (a buffer in a garbage cycle
        # with its pool) is no buffer in use: no code can reach it but
        # the finalizers of that garbage.
        return sum(r() is not None for r in list(self._refs.values()))


class _Closing:
    """A context manager that closes its object, and closes it when it
    is collected: a Connection with a buffer of one of its pools still in
    use cannot close (BufferError), and at exit the module's globals may
    be gone; the process's end closes and unmaps everything then."""

    def __enter__(self):
        return self

    def __reduce_ex__(self, protocol):
        # Nor copy: a copy would share the handle, and its collection
        # close it under the original.  Each process connects on its own.
        raise TypeError("cannot pickle or copy a %s: open another (a "
                        "process connects on its own)" % type(self).__name__)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
            return
        # The block's own error is what the caller must see: a buffer
        # its frame still holds (as a failed block's frame does) keeps
        # the object open, and it closes once collected, after them.
        try:
            self.close()
        except BufferError:
            pass

    def __del__(self):
        # A close that an exception broke may have left a pointer pending.
        if getattr(self, "_h", None) is not None and self._h.unfinished:
            try:
                self.close()
            except (BufferError, AttributeError, TypeError):
                pass
