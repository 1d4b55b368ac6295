"""CPU scheduling for the heavy big-integer work (CGGMP24) in a threaded server.

* gmpy2 keeps the GIL during an operation unless its (per-thread) context allows
  releasing it; with ``allow_release_gil`` the 3072-bit modular exponentiations of
  several signers run on several cores, and the event loop stays responsive.
* Background work (prime search, aux info, presignature refills) runs in threads
  with a raised nice value, so requests in flight get the CPU first. Linux applies
  nice per thread; elsewhere this is a no-op.
"""

from __future__ import annotations

import os
import threading

import gmpy2

__all__ = ["BACKGROUND_NICE", "background_thread", "release_gil_for_bigints"]

#: Nice increment for background CGGMP24 work.
BACKGROUND_NICE = 10


def release_gil_for_bigints() -> None:
    """Let gmpy2 release the GIL in this thread (its context is per thread)."""
    gmpy2.get_context().allow_release_gil = True


def background_thread() -> None:
    """Mark the calling thread as background: lower priority, GIL released in gmpy2.
    Call once at the start of a thread used only for background work."""
    release_gil_for_bigints()
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(
                os.PRIO_PROCESS, threading.get_native_id(), min(19, current + BACKGROUND_NICE)
            )
        except OSError:  # not permitted: run at normal priority
            pass
