"""Checking the store's -shm must not drop the locks SQLite holds on it.

POSIX record locks belong to a process and a file: closing any descriptor of
the -shm releases the ones SQLite took through its own. The health check once
opened and closed the file before every transaction; a reader in another
process (the test's own `sqlite3.connect`, a `lambdatop logs`) then took the
"first connection" lock, truncated the -shm, and the restarted serve died of
SIGBUS (test_async_durability's SIGKILL test, about one run in two).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from lambdatop.runtime.store import health

# SQLite's unix VFS: the "dead man switch" byte each connection holds a shared lock on while it has the -shm
# mapped; a connection that can take it exclusively believes it is alone and sets the file up afresh.
_DMS_OFFSET = 128

_TAKE_DMS = f"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, {_DMS_OFFSET})
except OSError:
    print("held")
else:
    print("free")
"""


def _dms_seen_from_another_process(shm: Path) -> str:
    return subprocess.run([sys.executable, "-c", _TAKE_DMS, str(shm)], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def test_the_health_check_leaves_sqlites_locks_on_the_shm_in_place(tmp_path: Path) -> None:
    db = tmp_path / "lambdatop.db"
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        shm = Path(f"{db}-shm")
        assert _dms_seen_from_another_process(shm) == "held"  # SQLite's own lock, as it should be
        for _ in range(3):
            assert health.shm_hazard(db) is None
        assert _dms_seen_from_another_process(shm) == "held", "the check released SQLite's lock on the -shm"
        conn.execute("INSERT INTO t VALUES (2)")  # and the mapping is still good to write
    finally:
        conn.close()


def test_a_shm_that_is_not_a_regular_file_is_a_hazard_named_as_such(tmp_path: Path) -> None:
    db = tmp_path / "lambdatop.db"
    Path(f"{db}-shm").symlink_to("/dev/zero")
    hazard = health.shm_hazard(db)
    assert hazard is not None and "lambdatop.db-shm is not a regular file" in hazard
