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
"""

from __future__ import annotations

import array
import fcntl
import os
import sys
from pathlib import Path

_FS_IOC_GETFLAGS = 0x80086601  # _IOR('f', 1, long) on 64-bit Linux
_FS_IMMUTABLE_FL = 0x10
_FS_APPEND_FL = 0x20
_SHM_REGION = 32768  # SQLite maps the -shm in regions of this size: a mapped file is never shorter


def shm_hazard(store: Path, *, mapped: bool = True) -> str | None:
    """Why touching `store`'s -shm now would crash the process, or None when it is safe (or absent).

    `mapped`: this process has a connection open, so the file must be at least one region long
    (before the first connection, an empty -shm is one SQLite is about to set up).
    """
    shm = Path(f"{store}-shm")
    try:
        fd = os.open(shm, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # no connection has it mapped (SQLite makes it at the first WAL access)
    except OSError as exc:
        return f"cannot read the store's {shm.name} ({exc.strerror}): check it (ls -l {shm})"
    try:
        flags = _inode_flags(fd)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
        kind = "immutable" if flags & _FS_IMMUTABLE_FL else "append-only"
        return (f"the store's {shm.name} has been made {kind} (lsattr {shm}); SQLite writes to it through a "
                f"memory map, which would crash lambdatop. History is not recorded until it is writable again "
                f"(chattr -i -a {shm}); lambdatop keeps serving")
    if mapped and size < _SHM_REGION:
        return (f"the store's {shm.name} was truncated under lambdatop ({size} bytes): history is not recorded "
                f"until the next start of lambdatop; it keeps serving")
    return None


def _inode_flags(fd: int) -> int:
    if not sys.platform.startswith("linux"):
        return 0
    buffer = array.array("l", [0])
    try:
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buffer, True)
    except OSError:  # a filesystem without inode flags (ENOTTY, EOPNOTSUPP): none can be set on it
        return 0
    return buffer[0]
