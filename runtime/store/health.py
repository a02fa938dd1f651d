"""Whether the store's `-shm` file can be used without the process dying of SIGBUS.

SQLite maps the WAL index (`lambdatop.db-shm`) into memory and writes to it on
every transaction, readers included. When that file has become immutable or
append-only (`chattr +i`/`+a`) or been truncated under the mapping, the next
write to the mapping is a SIGBUS, which no Python code can catch: the whole
supervisor dies. So every transaction first asks here; a store with a hazard
fails that write (or read) with what to do, the fleet keeps serving, and writes
resume by themselves once the file is usable again. Disk full is not such a
hazard: SQLite allocates the -shm's pages before it maps them, and reports
SQLITE_FULL instead.

The check itself must never open the -shm: POSIX record locks belong to the
process and the file, so closing any descriptor of the -shm drops the locks
SQLite holds on it through its own. Another process (a `lambdatop logs`, the
dashboard's reader) then takes the "first connection" lock, truncates the -shm
to set it up afresh, and the next write here is the very SIGBUS this guards
against. So the file is read by path only: `lstat` for its size and `statx`
for its inode attributes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

_STATX_ATTR_IMMUTABLE = 0x10
_STATX_ATTR_APPEND = 0x20
_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_BASIC_STATS = 0x7FF
_STATX_BUFFER = 256  # sizeof(struct statx); stx_attributes is the u64 at offset 8, stx_attributes_mask at 56
_SHM_REGION = 32768  # SQLite maps the -shm in regions of this size: a mapped file is never shorter


def shm_hazard(store: Path, *, mapped: bool = True) -> str | None:
    """Why touching `store`'s -shm now would crash the process, or None when it is safe (or absent).

    `mapped`: this process has a connection open, so the file must be at least one region long
    (before the first connection, an empty -shm is one SQLite is about to set up).
    """
    shm = Path(f"{store}-shm")
    try:
        info = os.lstat(shm)
    except FileNotFoundError:
        return None  # no connection has it mapped (SQLite makes it at the first WAL access)
    except OSError as exc:
        return f"cannot read the store's {shm.name} ({exc.strerror}): check it (ls -l {shm})"
    if not stat.S_ISREG(info.st_mode):
        return f"the store's {shm.name} is not a regular file: check it (ls -l {shm}); lambdatop keeps serving"
    flags = _attributes(shm)
    if flags & (_STATX_ATTR_IMMUTABLE | _STATX_ATTR_APPEND):
        kind = "immutable" if flags & _STATX_ATTR_IMMUTABLE else "append-only"
        return (f"the store's {shm.name} has been made {kind} (lsattr {shm}); SQLite writes to it through a "
                f"memory map, which would crash lambdatop. History is not recorded until it is writable again "
                f"(chattr -i -a {shm}); lambdatop keeps serving")
    if mapped and info.st_size < _SHM_REGION:
        return (f"the store's {shm.name} was truncated under lambdatop ({info.st_size} bytes): history is not "
                f"recorded until the next start of lambdatop; it keeps serving")
    return None


def _load_statx() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.statx  # glibc 2.28 and later
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p)
    function.restype = ctypes.c_int
    return function


_statx = _load_statx()


def _attributes(path: Path) -> int:
    """The inode's attribute flags that this filesystem reports (0 where statx is missing or tells nothing)."""
    if _statx is None:
        return 0
    buffer = ctypes.create_string_buffer(_STATX_BUFFER)
    if _statx(_AT_FDCWD, os.fsencode(path), _AT_SYMLINK_NOFOLLOW, _STATX_BASIC_STATS, buffer) != 0:
        return 0
    attributes = int.from_bytes(buffer.raw[8:16], sys.byteorder)
    supported = int.from_bytes(buffer.raw[56:64], sys.byteorder)
    return attributes & supported
