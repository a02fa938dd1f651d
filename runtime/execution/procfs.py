"""What /proc/PID/stat says of a process, read the one way that survives its command name.

The name sits in parentheses and may hold spaces or parentheses itself, so the
fields are what follows its last `)`: the state first (field 3 in proc(5)),
then the parent's pid, ..., the start time at index 19.
"""

from __future__ import annotations


def stat_fields(raw: bytes) -> list[bytes]:
    """The fields of a /proc/PID/stat line after the command name ([] for a line that is not one)."""
    _, paren, rest = raw.rpartition(b")")
    return rest.split() if paren else []


def stat_of(pid: int) -> list[bytes]:
    """`stat_fields` of process `pid` now ([] once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat_fields(stat.read())
    except OSError:
        return []
