"""Text about hostile input, bounded: what the runtime logs and puts in dead-letter
reasons must never grow with the input (a 10 MB id must not make a 20 MB log line).

>>> bounded("x" * 1000, 20)
'xxxxxxx…(1000 chars)'
>>> describe(ValueError("bad " + "9" * 5000))[:30]
'ValueError: bad 99999999999999'
>>> len(describe(ValueError("bad " + "9" * 5000))) <= MAX_REASON
True
"""

from __future__ import annotations

import reprlib

MAX_LOGGED = 300  # characters of one piece of input in a log line
MAX_REASON = 2000  # characters of a dead letter's reason

_repr = reprlib.Repr()
_repr.maxstring = MAX_LOGGED
_repr.maxother = MAX_LOGGED
_repr.maxlevel = 3


def bounded(text: object, limit: int = MAX_LOGGED) -> str:
    """`text` (anything: it is made a string without recursing deeply), cut to about
    `limit` characters, saying how long it was."""
    if not isinstance(text, str):
        text = _repr.repr(text)
    if len(text) <= limit:
        return text
    tail = f"…({len(text)} chars)"
    return text[: max(limit - len(tail), 0)] + tail


def describe(err: BaseException, limit: int = MAX_REASON) -> str:
    """`Type: message` of an exception, bounded; never raises (a RecursionError's or a
    broken __str__'s message is replaced)."""
    try:
        message = str(err)
    except Exception:  # noqa: BLE001  a hostile value's __str__ may fail
        message = "(no message)"
    return bounded(f"{type(err).__name__}: {message}", limit)
