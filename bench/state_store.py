"""State-store options for the sharded stages (issue 17, part 2), measured side by side in one run.

Today a ``ShardLogic`` (``flows/shards.py``) holds a dict key -> packed slot per shard, and
Bytewax's recovery writes the *whole* shard whenever the shard was touched in an epoch: the
cost of an epoch follows the population, not the change. This benchmark measures that scheme
against two embedded stores written once per epoch with only the keys that changed, on the
same synthetic workload (same keys, same values, same updates, epoch by epoch):

- ``reference``: the scheme of today. ``--shards`` dicts of packed slots; at each epoch every
  touched shard's ``(shard count, dict, eof keys)`` is pickled and inserted into a SQLite
  table laid out as Bytewax's ``snaps`` (WAL, ``synchronous=FULL``, one transaction per epoch,
  superseded rows garbage-collected at each commit, as with Bytewax's default ``backup_interval``
  0). A resume reads, per shard, the newest row at or before the resume epoch, and must read
  every shard before the first item: what Bytewax does.
- ``rocksdb`` (``rocksdict``, LZ4): one synchronous ``WriteBatch`` per epoch holding the touched
  keys' new values, one *undo record* per touched key (its previous value, or "absent") under
  ``u`` + epoch + key, the store's epoch under ``m``, and a range delete of undo records older
  than the window. A rewind to epoch ``r`` applies the undo records of the newer epochs, newest
  first, one batch per epoch.
- ``rocksdb-shards``: the layout ``docs/DESIGN.md`` chose, as a ``ShardLogic`` would use it: keys
  shard first, one unsynced batch per touched shard (its ``snapshot()``) with undo records
  under (shard, the shard's version, key), one ``flush_wal(sync=True)`` per epoch; a rewind
  takes each shard back to its token (its version at the target epoch), as a resume would;
- ``lmdb``: the same records as ``rocksdb`` in one write transaction per epoch (``sync=True``).

Values are real pickles (``store.compact``) of ``PersonSlot`` and ``FamilyCard`` objects made by
the generator and the person stage (as ``bench/state_size.py`` does), drawn from a pool so that
neighbouring keys hold different slots; 23.7 % of keys are families (6.2 M of 26.2 M). An epoch
touches ``K`` keys drawn from 101 % of the key range: 1 % of the touched keys are deleted (a
discarded slot), the keys beyond the initial range are inserts (a new person).

Each store runs in its own forked process (its RSS is its own). For each store: load ``--keys``
keys (the seed), run ``--epochs`` epochs at each ``--touched`` K, then a restart (close, reopen,
read the first key; the reference must read every shard back, as a Bytewax resume does), then
for the embedded stores a ``kill -9`` of a child process in the middle of an epoch, a reopen,
and two rewinds (to the epoch before the killed child started, then ``--rewind`` epochs
further back), each checked against the reference's content at that epoch by a digest of
every (key, value). Bytes written are counted twice: what the store is handed per epoch
(payload: keys + values + undo records) and what the process wrote to files (``wchar`` of
``/proc/self/io``, background threads included; RocksDB's memtable flush is forced at the end
of each K phase so its deferred write is counted in the phase, and its load is compacted
before the epochs so the load's debt is not; compaction beyond that is reported from
RocksDB's statistics). Restart times are with a warm page cache.

Run: ``python -m bench.state_store [--keys 2000000] [--epochs 5] [--touched 100,1000,10000]``;
``--json PATH`` also writes the figures for ``tests/bench/test_bench_state_store.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import pickle
import platform
import random
import re
import resource
import shutil
import signal
import sqlite3
import struct
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import store  # noqa: F401 - registers the compact reductions the slots are pickled with
from flows.shards import DEFAULT_SHARDS, shard_number

__all__ = ["Workload", "ReferenceStore", "RocksStore", "RocksShardStore", "LmdbStore", "main"]

PROTOCOL = pickle.HIGHEST_PROTOCOL
NATION_PEOPLE = 20_000_000
NATION_FAMILIES = 6_200_000
NATION_KEYS = NATION_PEOPLE + NATION_FAMILIES
FAMILY_PER_MILLE = round(1000 * NATION_FAMILIES / NATION_KEYS)  # 237: keys that are family cards
WINDOW = 8  # epochs of undo records the embedded stores keep (how far back a resume may rewind them)
ABSENT, PRESENT = b"\x00", b"\x01"
DATA, UNDO, META = b"d", b"u", b"m"


# --- the workload: the same for every store ---------------------------------------------------


def real_pickles(families: int, days: int) -> tuple[list[bytes], list[bytes]]:
    """Pickled PersonSlot and FamilyCard objects after feeding the generator's messages through
    decode, route, the person stage and ``apply_update`` (``bench.state_size.population_state``)."""
    from bench.state_size import population_state

    slots, fams = population_state(families, days)
    people = [pickle.dumps(s, PROTOCOL) for s in slots.values() if s.card.registered]
    cards = [pickle.dumps(f, PROTOCOL) for f in fams.values() if f.members]
    return people, cards


@dataclass
class Workload:
    """Keys ``000000000000``…, their initial values, and each epoch's changes, from a seed."""

    keys: int
    people: list[bytes]
    families: list[bytes]
    plan: list[int]  # K of each epoch, epoch 1 first
    seed: int = 17

    @staticmethod
    def key(i: int) -> bytes:
        return b"%012d" % i

    def _pool(self, i: int) -> list[bytes]:
        return self.families if (i * 7919) % 1000 < FAMILY_PER_MILLE else self.people

    def initial(self, i: int) -> bytes:
        pool = self._pool(i)
        return pool[(i * 2654435761) % len(pool)]

    def ops(self, epoch: int) -> list[tuple[bytes, bytes | None]]:
        """The epoch's changes, each key once: a new value, or None (the slot is discarded)."""
        rng = random.Random(self.seed * 1_000_003 + epoch)
        k = self.plan[min(epoch, len(self.plan)) - 1]  # the kill test's epochs run past the plan at its last K
        touched = rng.sample(range(self.keys + self.keys // 100), k)
        out: list[tuple[bytes, bytes | None]] = []
        for i in touched:
            if rng.random() < 0.01:
                out.append((self.key(i), None))
            else:
                pool = self._pool(i)
                out.append((self.key(i), pool[rng.randrange(len(pool))]))
        return out


def digest(items: Iterable[tuple[bytes, bytes]]) -> str:
    """Of every (key, value) in key order: equal digests, equal content."""
    h = hashlib.blake2b(digest_size=16)
    n = 0
    for k, v in items:
        h.update(struct.pack(">II", len(k), len(v)))
        h.update(k)
        h.update(v)
        n += 1
    return f"{n}:{h.hexdigest()}"


# --- the process: memory and IO -----------------------------------------------------------------


def proc_io() -> dict[str, int]:
    try:
        return {k: int(v) for k, v in (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())}
    except OSError:
        return {"wchar": 0, "write_bytes": 0}


def rss() -> dict[str, int]:
    out = {"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            out[name] = int(value.split()[0]) * 1024
    return out


def du(path: Path) -> int:
    return sum(os.stat(os.path.join(d, f)).st_blocks * 512 for d, _, fs in os.walk(path) for f in fs)


# --- the stores ------------------------------------------------------------------------------


class ReferenceStore:
    """Today's scheme: a dict of packed slots per shard, a touched shard snapshotted whole into a
    table laid out as Bytewax's recovery ``snaps`` (what Bytewax writes for a ``ShardLogic``)."""

    name = "reference"

    def __init__(self, path: Path, shards: int) -> None:
        self.path, self.shards = path, shards
        self.slots: list[dict[str, bytes]] = [{} for _ in range(shards)]
        self.db = self._connect()
        self.db.execute("CREATE TABLE IF NOT EXISTS snaps (step_id TEXT NOT NULL, state_key TEXT NOT NULL, "
                        "snap_epoch INTEGER NOT NULL, ser_change BLOB, PRIMARY KEY (step_id, state_key, snap_epoch))")
        self.epoch = 0

    def _connect(self) -> sqlite3.Connection:
        self.path.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path / "part-0.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        # Bytewax links its own SQLite (3.44, rusqlite's bundled build: secure_delete off); the
        # interpreter's may zero every deleted page (Python's here does), doubling what is written
        db.execute("PRAGMA secure_delete=OFF")
        return db

    def _snap(self, s: int) -> bytes:
        # ShardLogic.snapshot returns (shard count, dict(packed), eof keys); Bytewax pickles it
        return pickle.dumps((self.shards, dict(self.slots[s]), frozenset()), PROTOCOL)

    def _write(self, epoch: int, shards: Iterable[int]) -> int:
        written = 0
        self.db.execute("BEGIN")
        for s in shards:
            blob = self._snap(s)
            written += len(blob)
            self.db.execute("INSERT OR REPLACE INTO snaps VALUES ('person_shards', ?, ?, ?)", (str(s), epoch, blob))
        # Bytewax's commit: drop the snapshots superseded by one at or before the committed epoch
        # (``RecoveryConfig``'s ``backup_interval`` is 0 by default, and familycard keeps it)
        self.db.execute("DELETE FROM snaps WHERE snap_epoch < (SELECT MAX(s2.snap_epoch) FROM snaps s2 "
                        "WHERE s2.step_id = snaps.step_id AND s2.state_key = snaps.state_key AND s2.snap_epoch <= ?)",
                        (epoch,))
        self.db.execute("COMMIT")
        self.epoch = epoch
        return written

    def load(self, w: Workload) -> int:
        for i in range(w.keys):
            k = w.key(i)
            v = w.initial(i)
            self.slots[shard_number(k.decode(), self.shards)][k.decode()] = v[:1] + v[1:]  # a slot of its own
        return self._write(0, range(self.shards))

    def apply(self, epoch: int, ops: list[tuple[bytes, bytes | None]]) -> int:
        touched: set[int] = set()
        for k, v in ops:
            key = k.decode()
            s = shard_number(key, self.shards)
            shard = self.slots[s]
            old = shard.get(key)  # what a ShardLogic unpacks for the key's logic
            if v is None:
                if old is not None:
                    del shard[key]
            else:
                shard[key] = v
            touched.add(s)
        return self._write(epoch, sorted(touched))

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted((k.encode(), v) for shard in self.slots for k, v in shard.items()))

    def stored_items(self, epoch: int) -> Iterator[tuple[bytes, bytes]]:
        """The content a Bytewax resume after ``epoch`` hands the shards (newest row per shard at or before it)."""
        rows = self.db.execute("SELECT ser_change FROM snaps s WHERE snap_epoch = (SELECT MAX(snap_epoch) FROM snaps s2 "
                               "WHERE s2.step_id = s.step_id AND s2.state_key = s.state_key AND s2.snap_epoch <= ?)",
                               (epoch,))
        out: list[tuple[bytes, bytes]] = []
        for (blob,) in rows:
            _count, slots, _eof = pickle.loads(blob)
            out.extend((k.encode(), v) for k, v in slots.items())
        return iter(sorted(out))

    def flush(self) -> None:
        pass

    def compaction_written(self) -> int:
        return 0

    def close(self) -> None:
        self.db.close()
        self.slots = []

    def reopen_first(self, first: bytes) -> bytes | None:
        """A resume: every shard's newest snapshot read and unpickled before the first item."""
        self.db = self._connect()
        self.slots = [{} for _ in range(self.shards)]
        rows = self.db.execute("SELECT state_key, ser_change FROM snaps s WHERE snap_epoch = (SELECT MAX(snap_epoch) "
                               "FROM snaps s2 WHERE s2.step_id = s.step_id AND s2.state_key = s.state_key)")
        for key, blob in rows:
            self.slots[int(key)] = pickle.loads(blob)[1]
        k = first.decode()
        return self.slots[shard_number(k, self.shards)].get(k)


def _undo_key(epoch: int, key: bytes = b"") -> bytes:
    return UNDO + struct.pack(">Q", epoch) + key


class RocksStore:
    """RocksDB through rocksdict: one synchronous write batch per epoch, undo records for a rewind."""

    name = "rocksdb"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.epoch = 0
        self._open()

    def _open(self) -> None:
        from rocksdict import DBCompressionType, Options, Rdict, WriteOptions

        opt = Options(raw_mode=True)
        opt.create_if_missing(True)
        opt.set_compression_type(DBCompressionType.lz4())
        opt.increase_parallelism(2)
        opt.set_keep_log_file_num(2)
        self.db: Any = Rdict(str(self.path), options=opt)  # raw mode: bytes in, bytes out
        self.sync = WriteOptions()
        self.sync.sync = True
        found = self.db.get(META)
        self.epoch = 0 if found is None else struct.unpack(">Q", found)[0]

    def _settle(self) -> None:
        """Compact the loaded keys now: a seed would arrive as sorted files, and the load's
        compaction debt must not be paid inside the measured epochs."""
        self.db.compact_range(None, None)

    def _batch(self) -> Any:
        from rocksdict import WriteBatch

        return WriteBatch(raw_mode=True)

    def load(self, w: Workload) -> int:
        written = 0
        for start in range(0, w.keys, 100_000):
            wb = self._batch()
            for i in range(start, min(w.keys, start + 100_000)):
                wb.put(DATA + w.key(i), w.initial(i))
            written += wb.size_in_bytes()
            self.db.write(wb)
        self.db.put(META, struct.pack(">Q", 0), self.sync)
        self.db.flush()
        self._settle()
        return written

    def apply(self, epoch: int, ops: list[tuple[bytes, bytes | None]]) -> int:
        keys = [DATA + k for k, _ in ops]
        olds = self.db.get(keys)  # the slots the logics unpack, and the undo records' content
        wb = self._batch()
        for (k, v), dk, old in zip(ops, keys, olds):
            wb.put(_undo_key(epoch, k), ABSENT if old is None else PRESENT + old)
            if v is None:
                wb.delete(dk)
            else:
                wb.put(dk, v)
        wb.put(META, struct.pack(">Q", epoch))
        if epoch > WINDOW:
            wb.delete_range(_undo_key(0), _undo_key(epoch - WINDOW + 1))
        written = wb.size_in_bytes()
        self.db.write(wb, self.sync)
        self.epoch = epoch
        return written

    def _prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for k, v in self.db.items(from_key=prefix):
            if not k.startswith(prefix):
                return
            yield k, v

    def rewind(self, target: int) -> None:
        for epoch in range(self.epoch, target, -1):
            wb = self._batch()
            prefix = _undo_key(epoch)
            for k, v in self._prefix(prefix):
                dk = DATA + k[len(prefix):]
                if v == ABSENT:
                    wb.delete(dk)
                else:
                    wb.put(dk, v[1:])
                wb.delete(k)
            wb.put(META, struct.pack(">Q", epoch - 1))
            self.db.write(wb, self.sync)
        self.epoch = target

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return ((k[1:], v) for k, v in self._prefix(DATA))

    def flush(self) -> None:
        self.db.flush()

    def compaction_written(self) -> int:
        """Bytes RocksDB's compactions wrote (its statistics), beyond flushes."""
        stats = self.db.property_value("rocksdb.stats") or ""
        m = re.search(r"Cumulative compaction: ([\d.]+) GB write", stats)
        return int(float(m.group(1)) * 2**30) if m else 0

    def close(self) -> None:
        self.db.close()

    def reopen_first(self, first: bytes) -> bytes | None:
        self._open()
        return self.db.get(DATA + first)  # type: ignore[no-any-return]


class RocksShardStore(RocksStore):
    """The RocksDB layout ``docs/DESIGN.md`` proposes: what a ``ShardLogic`` would do with it.

    Keys are laid out shard first (a shard's keys are one range); each touched shard's
    ``snapshot()`` writes its own batch, unsynced — its new values, undo records under
    (shard, the shard's version, key), the shard's version — and the epoch ends with one
    ``flush_wal(sync=True)``. The token Bytewax would store for a shard is its version
    (``tokens``: every shard's version after each epoch); a rewind takes each shard back to its
    token by its own undo records.
    """

    name = "rocksdb-shards"

    def __init__(self, path: Path, shards: int) -> None:
        self.shards = shards
        self.versions: dict[int, int] = {}
        self.tokens: dict[int, dict[int, int]] = {}
        super().__init__(path)

    def _open(self) -> None:
        super()._open()
        self.versions = {struct.unpack(">H", k[1:])[0]: struct.unpack(">Q", v)[0]
                         for k, v in self._prefix(META) if k != META}

    def _dk(self, k: bytes) -> bytes:
        return DATA + struct.pack(">H", shard_number(k.decode(), self.shards)) + k

    @staticmethod
    def _uk(shard: int, version: int, key: bytes = b"") -> bytes:
        return UNDO + struct.pack(">HQ", shard, version) + key

    def load(self, w: Workload) -> int:
        written = 0
        for start in range(0, w.keys, 100_000):
            wb = self._batch()
            for i in range(start, min(w.keys, start + 100_000)):
                k = w.key(i)
                wb.put(self._dk(k), w.initial(i))
            written += wb.size_in_bytes()
            self.db.write(wb)
        self.db.put(META, struct.pack(">Q", 0), self.sync)
        self.db.flush()
        self._settle()
        return written

    def apply(self, epoch: int, ops: list[tuple[bytes, bytes | None]]) -> int:
        by_shard: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for k, v in ops:
            by_shard.setdefault(shard_number(k.decode(), self.shards), []).append((k, v))
        written = 0
        for shard, shard_ops in sorted(by_shard.items()):  # one ShardLogic.snapshot() each
            version = self.versions.get(shard, 0) + 1
            sh = struct.pack(">H", shard)
            keys = [DATA + sh + k for k, _ in shard_ops]
            olds = self.db.get(keys)
            wb = self._batch()
            for (k, v), dk, old in zip(shard_ops, keys, olds):
                wb.put(self._uk(shard, version, k), ABSENT if old is None else PRESENT + old)
                if v is None:
                    wb.delete(dk)
                else:
                    wb.put(dk, v)
            wb.put(META + sh, struct.pack(">Q", version))
            if version > WINDOW:
                wb.delete_range(self._uk(shard, 0), self._uk(shard, version - WINDOW + 1))
            written += wb.size_in_bytes()
            self.db.write(wb)  # unsynced: in the operating system once write() returns
            self.versions[shard] = version
        self.db.put(META, struct.pack(">Q", epoch))
        self.db.flush_wal(True)  # the epoch's one fsync, before Bytewax would commit it
        self.epoch = epoch
        self.tokens[epoch] = dict(self.versions)
        return written

    def rewind(self, target: int) -> None:
        tokens = self.tokens[target]
        for shard, version in sorted(self.versions.items()):
            sh = struct.pack(">H", shard)
            for v in range(version, tokens.get(shard, 0), -1):
                prefix = self._uk(shard, v)
                wb = self._batch()
                for k, old in self._prefix(prefix):
                    dk = DATA + sh + k[len(prefix):]
                    if old == ABSENT:
                        wb.delete(dk)
                    else:
                        wb.put(dk, old[1:])
                    wb.delete(k)
                wb.put(META + sh, struct.pack(">Q", v - 1))
                self.db.write(wb)
            self.versions[shard] = tokens.get(shard, 0)
        self.db.put(META, struct.pack(">Q", target))
        self.db.flush_wal(True)
        self.epoch = target

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted((k[3:], v) for k, v in self._prefix(DATA)))

    def reopen_first(self, first: bytes) -> bytes | None:
        self._open()
        return self.db.get(self._dk(first))  # type: ignore[no-any-return]


class LmdbStore:
    """LMDB: one write transaction per epoch (fsync at commit), the same undo records."""

    name = "lmdb"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.epoch = 0
        self._open()

    def _open(self) -> None:
        import lmdb

        self.env = lmdb.open(str(self.path), map_size=256 << 30, sync=True, metasync=True, readahead=False,
                             max_readers=8)
        with self.env.begin() as txn:
            found = txn.get(META)
        self.epoch = 0 if found is None else struct.unpack(">Q", found)[0]

    def load(self, w: Workload) -> int:
        written = 0
        for start in range(0, w.keys, 200_000):
            items = [(DATA + w.key(i), w.initial(i)) for i in range(start, min(w.keys, start + 200_000))]
            written += sum(len(k) + len(v) for k, v in items)
            with self.env.begin(write=True) as txn:
                txn.cursor().putmulti(items, append=True)
        with self.env.begin(write=True) as txn:
            txn.put(META, struct.pack(">Q", 0))
        return written

    def apply(self, epoch: int, ops: list[tuple[bytes, bytes | None]]) -> int:
        written = 0
        with self.env.begin(write=True) as txn:
            for k, v in ops:
                dk = DATA + k
                old = txn.get(dk)
                undo = ABSENT if old is None else PRESENT + old
                uk = _undo_key(epoch, k)
                txn.put(uk, undo)
                written += len(uk) + len(undo)
                if v is None:
                    if old is not None:
                        txn.delete(dk)
                else:
                    txn.put(dk, v)
                    written += len(dk) + len(v)
            txn.put(META, struct.pack(">Q", epoch))
            if epoch > WINDOW:
                cur = txn.cursor()
                end = _undo_key(epoch - WINDOW + 1)
                if cur.set_range(_undo_key(0)):
                    while cur.key() < end and cur.key().startswith(UNDO):
                        if not cur.delete():
                            break
        self.epoch = epoch
        return written

    def rewind(self, target: int) -> None:
        for epoch in range(self.epoch, target, -1):
            prefix = _undo_key(epoch)
            with self.env.begin(write=True) as txn:
                cur = txn.cursor()
                records = []
                if cur.set_range(prefix):
                    for k, v in cur:
                        if not k.startswith(prefix):
                            break
                        records.append((k, v))
                for k, v in records:
                    dk = DATA + k[len(prefix):]
                    if v == ABSENT:
                        txn.delete(dk)
                    else:
                        txn.put(dk, v[1:])
                    txn.delete(k)
                txn.put(META, struct.pack(">Q", epoch - 1))
        self.epoch = target

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        with self.env.begin() as txn:
            cur = txn.cursor()
            if cur.set_range(DATA):
                for k, v in cur:
                    if not k.startswith(DATA):
                        break
                    yield k[1:], bytes(v)

    def flush(self) -> None:
        pass

    def compaction_written(self) -> int:
        return 0

    def close(self) -> None:
        self.env.close()

    def reopen_first(self, first: bytes) -> bytes | None:
        self._open()
        with self.env.begin() as txn:
            return txn.get(DATA + first)  # type: ignore[no-any-return]


# --- one store's run, in its own process --------------------------------------------------------


@dataclass
class Phase:
    touched: int
    epochs: int
    payload: int = 0   # bytes handed to the store
    wchar: int = 0     # bytes the process wrote to files
    seconds: float = 0.0


@dataclass
class StoreResult:
    name: str
    load_s: float = 0.0
    load_payload: int = 0
    phases: list[Phase] = field(default_factory=list)
    rss_base: dict[str, int] = field(default_factory=dict)  # before the load: the interpreter and the pool
    rss_loaded: dict[str, int] = field(default_factory=dict)
    rss_end: dict[str, int] = field(default_factory=dict)
    disk: int = 0
    compaction: int = 0
    restart_s: float = 0.0
    digests: dict[str, str] = field(default_factory=dict)  # "epoch N" -> digest of the content
    kill: str = ""
    kill_restart_s: float = 0.0
    rewind_s: float = 0.0


def _make(name: str, path: Path, shards: int) -> Any:
    if name == "reference":
        return ReferenceStore(path, shards)
    if name == "rocksdb-shards":
        return RocksShardStore(path, shards)
    return RocksStore(path) if name == "rocksdb" else LmdbStore(path)


def _kill_child(name: str, path: Path, shards: int, w: Workload, start: int, log: str) -> None:
    """Runs epochs after ``start`` (at most WINDOW - 3, so a rewind can reach back) until killed."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    s = _make(name, path, shards)
    for epoch in range(start + 1, start + WINDOW - 2):
        os.write(fd, b"begin %d\n" % epoch)
        s.apply(epoch, w.ops(epoch))
        os.write(fd, b"end %d\n" % epoch)
    time.sleep(3600)


def run_store(name: str, w: Workload, work: Path, shards: int, rewind: int, out: Any) -> None:
    path = work / name
    r = StoreResult(name)
    r.rss_base = rss()
    s = _make(name, path, shards)
    t = time.perf_counter()
    r.load_payload = s.load(w)
    r.load_s = time.perf_counter() - t
    r.rss_loaded = rss()
    compacted = s.compaction_written()  # the load's own compactions are not the epochs'
    last = len(w.plan)
    epoch = 0
    for k in dict.fromkeys(w.plan):
        phase = Phase(k, w.plan.count(k))
        io0, t = proc_io()["wchar"], time.perf_counter()
        for _ in range(phase.epochs):
            epoch += 1
            ops = w.ops(epoch)
            phase.payload += s.apply(epoch, ops)
            if name == "reference" and epoch in (last - rewind, last):
                t_digest = time.perf_counter()
                r.digests[f"epoch {epoch}"] = digest(s.items())
                t += time.perf_counter() - t_digest  # the check is not the epoch's cost
        s.flush()  # RocksDB: the memtable's deferred write, counted in the phase that caused it
        phase.seconds = time.perf_counter() - t
        phase.wchar = proc_io()["wchar"] - io0
        r.phases.append(phase)
    r.rss_end = rss()
    r.compaction = s.compaction_written() - compacted
    if name == "reference":
        r.digests[f"stored epoch {last}"] = digest(s.stored_items(last))
    s.close()
    t = time.perf_counter()
    first = s.reopen_first(w.key(0))
    r.restart_s = time.perf_counter() - t
    assert first is not None
    r.disk = du(path)
    if name != "reference":
        s.close()
        log = str(work / f"{name}.kill.log")
        child = mp.get_context("fork").Process(target=_kill_child, args=(name, path, shards, w, last, log))
        per_epoch = r.phases[-1].seconds / r.phases[-1].epochs
        child.start()
        while True:  # kill in the middle of the second epoch the child runs
            time.sleep(0.002)
            lines = Path(log).read_text().split("\n") if os.path.exists(log) else []
            if f"begin {last + 2}" in lines or not child.is_alive():
                break
        time.sleep(random.Random(1).uniform(0.2, 0.6) * per_epoch)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        lines = [ln for ln in Path(log).read_text().split("\n") if ln]
        mid = lines[-1].startswith("begin")
        t = time.perf_counter()
        first = s.reopen_first(w.key(0))
        r.kill_restart_s = time.perf_counter() - t
        r.kill = (f"{name}: child killed {'mid-epoch ' if mid else 'after epoch '}{lines[-1].split()[1]}; "
                  f"store reopened at epoch {s.epoch}")
        if isinstance(s, RocksShardStore):
            ahead = sum(v > s.tokens[last].get(shard, 0) for shard, v in s.versions.items())
            r.kill += f", {ahead} shards past their epoch-{last} token"
        s.rewind(last)
        r.digests[f"epoch {last}"] = digest(s.items())
        t = time.perf_counter()
        s.rewind(last - rewind)
        r.rewind_s = time.perf_counter() - t
        r.digests[f"epoch {last - rewind}"] = digest(s.items())
        s.close()
    else:
        s.close()
    out.send(r)
    out.close()


def run_all(w: Workload, work: Path, shards: int, rewind: int, stores: list[str],
            log: Any = print) -> list[StoreResult]:
    results = []
    ctx = mp.get_context("fork")
    for name in stores:
        t = time.perf_counter()
        recv, send = ctx.Pipe(duplex=False)
        p = ctx.Process(target=run_store, args=(name, w, work, shards, rewind, send))
        p.start()
        send.close()
        try:
            results.append(recv.recv())
        except EOFError:
            pass  # the child failed: its exit code says so below
        p.join()
        if p.exitcode:
            raise SystemExit(f"{name}: exit {p.exitcode}")
        shutil.rmtree(work / name, ignore_errors=True)
        log(f"{name}: {time.perf_counter() - t:.0f} s")
    return results


# --- reporting ---------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 1e6:,.2f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"


def checks(results: list[StoreResult], last: int, rewind: int) -> dict[str, bool]:
    ref = results[0].digests
    out = {f"reference: its stored snapshots at epoch {last} == its content then":
           ref[f"stored epoch {last}"] == ref[f"epoch {last}"]}
    for r in results[1:]:
        out[f"{r.name}: after kill -9, rewound to epoch {last} == reference"] = r.digests[f"epoch {last}"] == ref[f"epoch {last}"]
        out[f"{r.name}: rewound to epoch {last - rewind} == reference"] = (r.digests[f"epoch {last - rewind}"]
                                                                          == ref[f"epoch {last - rewind}"])
    return out


def report(w: Workload, shards: int, results: list[StoreResult], rewind: int) -> str:
    n = w.keys
    lines = [f"{n:,} keys ({_mb(results[0].load_payload)} of slots: avg person slot "
             f"{sum(map(len, w.people)) / len(w.people):.0f} B, family card {sum(map(len, w.families)) / len(w.families):.0f} B, "
             f"{FAMILY_PER_MILLE / 10:.1f} % families), {shards} shards for the reference, undo window {WINDOW} epochs", ""]
    lines += ["| store | K touched | payload / epoch | written to files / epoch (wchar) | s / epoch |",
              "|---|---:|---:|---:|---:|"]
    for r in results:
        for p in r.phases:
            lines.append(f"| {r.name} | {p.touched:,} | {_mb(p.payload / p.epochs)} | {_mb(p.wchar / p.epochs)} | "
                         f"{p.seconds / p.epochs:.3f} |")
    lines += ["", "| store | load s | RSS loaded (anon) | RSS end (anon) | peak RSS | on disk | compaction by the epochs | "
              "restart to first key | after kill -9 | rewind {rewind} epochs |".replace("{rewind}", str(rewind)),
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.name} | {r.load_s:.1f} | {_gib(r.rss_loaded['VmRSS'])} ({_gib(r.rss_loaded['RssAnon'])}) | "
                     f"{_gib(r.rss_end['VmRSS'])} ({_gib(r.rss_end['RssAnon'])}) | {_gib(r.rss_end['peak'])} | "
                     f"{_gib(r.disk)} | {_mb(r.compaction)} | {r.restart_s:.2f} s | "
                     f"{f'{r.kill_restart_s:.2f} s' if r.kill else '—'} | {f'{r.rewind_s:.2f} s' if r.kill else '—'} |")
    lines += [""] + [r.kill for r in results if r.kill]
    last = len(w.plan)
    lines += [""] + [f"- {'OK ' if ok else 'FAIL'} {what}" for what, ok in checks(results, last, rewind).items()]
    lines += ["", f"Extrapolated to {NATION_PEOPLE / 1e6:.0f} M people + {NATION_FAMILIES / 1e6:.1f} M families "
              f"({NATION_KEYS / 1e6:.1f} M keys, {DEFAULT_SHARDS} shards): the reference's snapshot of a touched shard "
              "and its restart grow with keys per shard; the embedded stores' writes follow K (measured), their RSS is "
              "their caches (measured), their disk grows with the keys; RSS is the process's anonymous memory, the "
              "interpreter's included", "",
              "| store | K touched | payload / epoch | to files / epoch | s / epoch | RSS (anon) | on disk | restart |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    scale = NATION_KEYS / n
    for r in results:
        for p in r.phases:
            if r.name == "reference":
                frac = 1 - (1 - 1 / DEFAULT_SHARDS) ** p.touched
                shard_b = results[0].load_payload / shards * scale * shards / DEFAULT_SHARDS
                wr = frac * DEFAULT_SHARDS * shard_b
                grow = wr / max(1, p.payload / p.epochs)  # cost follows the bytes of the shards touched
                files, sec = p.wchar / p.epochs * grow, p.seconds / p.epochs * grow
                mem = r.rss_base["RssAnon"] + (r.rss_end["RssAnon"] - r.rss_base["RssAnon"]) * scale
                disk, restart = r.disk * scale, r.restart_s * scale
            else:
                wr, files, sec = p.payload / p.epochs, p.wchar / p.epochs, p.seconds / p.epochs
                mem, disk, restart = r.rss_end["RssAnon"], r.disk * scale, r.kill_restart_s
            lines.append(f"| {r.name} | {p.touched:,} | {_mb(wr)} | {_mb(files)} | {sec:.2f} | {_gib(mem)} | {_gib(disk)} | "
                         f"{restart:.2f} s |")
    return "\n".join(lines)


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(int(ln.split()[1]) * 1024 for ln in Path("/proc/meminfo").read_text().splitlines()
               if ln.startswith("MemTotal:"))
    from importlib.metadata import version

    return (f"{cpu}, {os.cpu_count()} cores, {mem / 2**30:.1f} GiB; Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}, rocksdict {version('rocksdict')}, lmdb {version('lmdb')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.state_store", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=2_000_000, help="keys loaded (people and families)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs at each K")
    ap.add_argument("--touched", default="100,1000,10000", help="K: keys touched per epoch, comma-separated")
    ap.add_argument("--shards", type=int, default=DEFAULT_SHARDS, help="the reference's shards")
    ap.add_argument("--rewind", type=int, default=3, help="epochs to rewind (below the undo window)")
    ap.add_argument("--pool-families", type=int, default=300, help="families generated for the pool of real slots")
    ap.add_argument("--work", type=Path, help="scratch directory (default: a temporary one, removed after)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    if not 0 < args.rewind < WINDOW - 3:
        ap.error(f"--rewind must be between 1 and {WINDOW - 4}")
    ks = [int(x) for x in args.touched.split(",")]
    plan = [k for k in ks for _ in range(args.epochs)]
    if len(plan) <= args.rewind:
        ap.error("--rewind must be fewer epochs than the run has")
    t = time.perf_counter()
    people, families = real_pickles(args.pool_families, 365)
    w = Workload(args.keys, people, families, plan)
    print(machine())
    print(f"pool: {len(people)} person slots, {len(families)} family cards ({time.perf_counter() - t:.0f} s)")
    work = args.work or Path(tempfile.mkdtemp(prefix="state-store-"))
    try:
        results = run_all(w, work, args.shards, args.rewind, ["reference", "rocksdb", "rocksdb-shards", "lmdb"])
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"python -m bench.state_store {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(report(w, args.shards, results, args.rewind))
    ok = checks(results, len(plan), args.rewind)
    if args.json:
        args.json.write_bytes(orjson.dumps({"keys": args.keys, "checks": ok, "results": [
            {"name": r.name, "phases": [p.__dict__ for p in r.phases], "load_payload": r.load_payload,
             "disk": r.disk, "restart_s": r.restart_s, "kill": r.kill} for r in results]}, option=orjson.OPT_INDENT_2))
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
