"""Pause Python's cyclic garbage collector around a burst of allocations.

>>> import gc
>>> paused = pause_gc()
>>> gc.isenabled()
False
>>> resume_gc(paused)
>>> gc.isenabled()
True

An allocation run creates tens of thousands of short- and long-lived objects (offers,
sorter keys) and no reference cycles. Left on, the collector runs hundreds of young and
one or two full collections during a large run, and a full collection walks every live
object (agents, filters): that was a third of a 50,000-agent run. Paused, the same work
is done once, later, at whatever allocation comes next. Reference counting still frees
everything at once, so memory does not grow while paused.

Process-wide: the collector is re-enabled only if it was enabled on entry.
"""

from __future__ import annotations

import gc


def pause_gc(enabled: bool = True) -> bool:
    """Disable the cyclic GC; returns whether `resume_gc` must enable it again.

    A plain function, not a context manager: creating one would allocate an object,
    which alone can set off the collection this is meant to put off.
    """
    if enabled and gc.isenabled():
        gc.disable()
        return True
    return False


def resume_gc(paused: bool) -> None:
    if paused:
        gc.enable()
