"""An object store on disk: the object tree and attributes in SQLite, each user object's data in a file.

The layout under the store's directory: ``objects.sqlite`` (tables ``objects`` and ``attrs``, WAL
journal) and ``data/<partition>/<object>`` (hex ids), one sparse file per user object whose size is
the object's logical length. Every change of the tree or of attributes is one SQLite transaction, so
a multi-attribute update lands whole or not at all; :meth:`ObjectStore.flush` checkpoints the journal
and synchronises the data files, and everything survives a restart.

Identifiers are unsigned 64-bit; SQLite's integers are signed, so they are stored shifted by 2**63,
which keeps their order. Partition 0 object 0 is the root; object 0 of a partition is the partition.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum
from pathlib import Path

_SHIFT = 1 << 63
DB_FILE = "objects.sqlite"
DATA_DIR = "data"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS objects (pid INTEGER, oid INTEGER, kind INTEGER NOT NULL, "
    "created INTEGER NOT NULL, PRIMARY KEY (pid, oid))",
    "CREATE TABLE IF NOT EXISTS attrs (pid INTEGER, oid INTEGER, page INTEGER, num INTEGER, "
    "value BLOB NOT NULL, PRIMARY KEY (pid, oid, page, num))",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class Kind(IntEnum):
    """Object types, numbered as a capability's OBJECT TYPE field (OSD-2 4.11.2.2)."""

    ROOT = 0x01
    PARTITION = 0x02
    COLLECTION = 0x40
    USER = 0x80


class StoreError(Exception):
    """A request the store cannot carry out (an id in use, a missing object ...)."""


def _i(value: int) -> int:
    return value - _SHIFT


def _u(value: int) -> int:
    return value + _SHIFT


class ObjectStore:
    """Objects, partitions and attributes under ``path`` (created if need be). Thread-safe: one lock
    serialises the store's calls (the SQLite connection is shared by the threads that run commands)."""

    def __init__(self, path: str | Path, capacity: int = 0) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / DATA_DIR).mkdir(exist_ok=True)
        self.lock = threading.RLock()
        self._after_commit: list[Callable[[], None]] = []  # file removals waiting for the commit
        self.db = sqlite3.connect(self.path / DB_FILE, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            self.db.execute(statement)
        if self.kind(0, 0) is None:
            self.format(capacity)

    # -- transactions ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: committed when the block ends, rolled back if it raises. Inside another
        transaction it is a savepoint: rolled back alone, committed with the outer one. Files to remove
        go once the outermost transaction commits (a rolled back REMOVE keeps its object's data)."""
        with self.lock:
            nested = self.db.in_transaction
            pending = len(self._after_commit)
            self.db.execute("SAVEPOINT inner" if nested else "BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK TO inner" if nested else "ROLLBACK")
                if nested:
                    self.db.execute("RELEASE inner")
                del self._after_commit[pending:]
                raise
            self.db.execute("RELEASE inner" if nested else "COMMIT")
            if not nested:
                done, self._after_commit = self._after_commit, []
                for work in done:
                    work()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- the tree --------------------------------------------------------------------------------------
    def format(self, capacity: int = 0) -> None:
        """Remove every partition and object and start again with the root alone (FORMAT OSD)."""
        with self.transaction() as db:
            db.execute("DELETE FROM objects")
            db.execute("DELETE FROM attrs")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('capacity', ?)", (capacity,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (time.time_ns(),))
            self._insert(db, 0, 0, Kind.ROOT)
            self._after_commit.append(self._empty_data_dir)

    def _empty_data_dir(self) -> None:
        shutil.rmtree(self.path / DATA_DIR, ignore_errors=True)
        (self.path / DATA_DIR).mkdir()

    def meta(self, key: str) -> int:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _insert(self, db: sqlite3.Connection, pid: int, oid: int, kind: Kind) -> None:
        db.execute("INSERT INTO objects VALUES (?, ?, ?, ?)", (_i(pid), _i(oid), int(kind), time.time_ns()))

    def kind(self, pid: int, oid: int) -> Kind | None:
        """The object's type, or None when it does not exist."""
        with self.lock:
            row = self.db.execute("SELECT kind FROM objects WHERE pid = ? AND oid = ?",
                                  (_i(pid), _i(oid))).fetchone()
        return None if row is None else Kind(row[0])

    def created(self, pid: int, oid: int) -> int:
        """When the object was created, in nanoseconds since the epoch (0 if it does not exist)."""
        with self.lock:
            row = self.db.execute("SELECT created FROM objects WHERE pid = ? AND oid = ?",
                                  (_i(pid), _i(oid))).fetchone()
        return 0 if row is None else int(row[0])

    def create(self, pid: int, oid: int, kind: Kind) -> None:
        """Create a partition (``oid`` 0, ``kind`` PARTITION), a user object or a collection."""
        with self.transaction() as db:
            if pid and oid and self.kind(pid, 0) is None:
                raise StoreError(f"partition {pid:#x} does not exist")
            if self.kind(pid, oid) is not None:
                raise StoreError(f"object {pid:#x}/{oid:#x} exists")
            self._insert(db, pid, oid, kind)
            if kind == Kind.USER:  # empty, even if a CREATE rolled back left a file behind
                self._data(pid, oid).parent.mkdir(parents=True, exist_ok=True)
                self._data(pid, oid).write_bytes(b"")

    def remove(self, pid: int, oid: int) -> None:
        """Remove an object and its attributes (and its data); a partition must be empty first."""
        with self.transaction() as db:
            db.execute("DELETE FROM objects WHERE pid = ? AND oid = ?", (_i(pid), _i(oid)))
            db.execute("DELETE FROM attrs WHERE pid = ? AND oid = ?", (_i(pid), _i(oid)))
            path = self._data(pid, oid)
            if oid:
                self._after_commit.append(lambda: path.unlink(missing_ok=True))
            else:
                self._after_commit.append(lambda: shutil.rmtree(path.parent, ignore_errors=True))

    def ids(self, pid: int, start: int = 0, kinds: Iterable[Kind] = (Kind.USER, Kind.COLLECTION),
            limit: int = 1 << 62) -> list[int]:
        """Object ids of partition ``pid`` from ``start`` up, in order (for ``pid`` 0: partition ids)."""
        marks = ",".join(str(int(k)) for k in kinds)
        with self.lock:
            if pid == 0:
                rows = self.db.execute("SELECT pid FROM objects WHERE oid = ? AND pid > ? AND pid >= ? "
                                       "ORDER BY pid LIMIT ?", (_i(0), _i(0), _i(start), limit))
            else:
                rows = self.db.execute(f"SELECT oid FROM objects WHERE pid = ? AND oid > ? AND oid >= ? "
                                       f"AND kind IN ({marks}) ORDER BY oid LIMIT ?",
                                       (_i(pid), _i(0), _i(start), limit))
            return [_u(r[0]) for r in rows.fetchall()]

    def count(self, pid: int) -> int:
        """Objects in partition ``pid`` (partitions when ``pid`` is 0)."""
        with self.lock:
            if pid == 0:
                row = self.db.execute("SELECT COUNT(*) FROM objects WHERE oid = ? AND pid > ?",
                                      (_i(0), _i(0))).fetchone()
            else:
                row = self.db.execute("SELECT COUNT(*) FROM objects WHERE pid = ? AND oid > ?",
                                      (_i(pid), _i(0))).fetchone()
        return int(row[0])

    def next_id(self, pid: int, first: int) -> int:
        """An unused id in ``pid`` at or above ``first`` (one past the largest in use)."""
        with self.lock:
            column, where, arg = ("pid", "oid = ?", _i(0)) if pid == 0 else ("oid", "pid = ?", _i(pid))
            row = self.db.execute(f"SELECT MAX({column}) FROM objects WHERE {where}", (arg,)).fetchone()
        top = _u(row[0]) if row and row[0] is not None else 0
        return max(first, top + 1)

    # -- attributes ------------------------------------------------------------------------------------
    def attr(self, pid: int, oid: int, page: int, num: int) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM attrs WHERE pid = ? AND oid = ? AND page = ? "
                                  "AND num = ?", (_i(pid), _i(oid), page, num)).fetchone()
        return None if row is None else bytes(row[0])

    def page(self, pid: int, oid: int, page: int) -> list[tuple[int, bytes]]:
        """(attribute number, value) of every attribute set in one page, in number order."""
        with self.lock:
            rows = self.db.execute("SELECT num, value FROM attrs WHERE pid = ? AND oid = ? AND page = ? "
                                   "ORDER BY num", (_i(pid), _i(oid), page)).fetchall()
        return [(int(n), bytes(v)) for n, v in rows]

    def pages(self, pid: int, oid: int) -> list[int]:
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT page FROM attrs WHERE pid = ? AND oid = ? ORDER BY page",
                                   (_i(pid), _i(oid))).fetchall()
        return [int(r[0]) for r in rows]

    def set_attrs(self, db: sqlite3.Connection, pid: int, oid: int,
                  values: Iterable[tuple[int, int, bytes | None]]) -> None:
        """Set (or, for None, delete) attributes inside a :meth:`transaction`."""
        for page, num, value in values:
            if value is None:
                db.execute("DELETE FROM attrs WHERE pid = ? AND oid = ? AND page = ? AND num = ?",
                           (_i(pid), _i(oid), page, num))
            else:
                db.execute("INSERT OR REPLACE INTO attrs VALUES (?, ?, ?, ?, ?)",
                           (_i(pid), _i(oid), page, num, value))

    def holders(self, pid: int, page: int, value: bytes) -> list[int]:
        """User objects of ``pid`` with an attribute in ``page`` whose value is ``value`` (membership)."""
        with self.lock:
            rows = self.db.execute("SELECT DISTINCT oid FROM attrs WHERE pid = ? AND page = ? AND value = ? "
                                   "ORDER BY oid", (_i(pid), page, value)).fetchall()
        return [_u(r[0]) for r in rows]

    # -- data ------------------------------------------------------------------------------------------
    def _data(self, pid: int, oid: int) -> Path:
        return self.path / DATA_DIR / f"{pid:016x}" / f"{oid:016x}"

    def length(self, pid: int, oid: int) -> int:
        """The user object's logical length."""
        try:
            return self._data(pid, oid).stat().st_size
        except FileNotFoundError:
            return 0

    def used(self, pid: int, oid: int) -> int:
        """Bytes the user object's data takes on disk."""
        try:
            return self._data(pid, oid).stat().st_blocks * 512
        except FileNotFoundError:
            return 0

    def write(self, pid: int, oid: int, offset: int, data: bytes | memoryview) -> None:
        fd = os.open(self._data(pid, oid), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while len(view):
                n = os.pwrite(fd, view, offset)
                view, offset = view[n:], offset + n
        finally:
            os.close(fd)

    def append(self, pid: int, oid: int, data: bytes | memoryview) -> int:
        """Write ``data`` at the end of the object; the offset it went to."""
        with self.lock:
            offset = self.length(pid, oid)
            self.write(pid, oid, offset, data)
        return offset

    def read_into(self, pid: int, oid: int, offset: int, buf: memoryview) -> int:
        """Read up to ``len(buf)`` bytes at ``offset``; how many there were (short at the end)."""
        fd = os.open(self._data(pid, oid), os.O_RDONLY)
        try:
            got = 0
            while got < len(buf):
                n = os.preadv(fd, [buf[got:]], offset + got)
                if n <= 0:
                    break
                got += n
            return got
        finally:
            os.close(fd)

    def truncate(self, pid: int, oid: int, length: int) -> None:
        os.truncate(self._data(pid, oid), length)

    # -- durability ------------------------------------------------------------------------------------
    def flush(self, pid: int | None = None, oid: int | None = None) -> None:
        """Make the tree, the attributes and the data of one object (or one partition, or everything)
        durable: the journal is checkpointed and the data files synchronised."""
        with self.lock:
            self.db.execute("PRAGMA wal_checkpoint(FULL)")
            if pid is not None and oid:
                files = [self._data(pid, oid)]
            elif pid:
                files = sorted(self._data(pid, 0).parent.glob("*"))
            else:
                files = sorted((self.path / DATA_DIR).glob("*/*"))
            for path in files:
                with contextlib.suppress(FileNotFoundError):
                    fd = os.open(path, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
