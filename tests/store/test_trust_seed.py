"""Issue 14, item 7: a seed is code-equivalent (it is unpickled), so it is private, checked, and
loaded without running code.

- ``familycard load`` writes the seed 0700/0600 whatever the umask, with a SHA-256 of every
  data file in the manifest;
- the reader refuses a changed, added or missing data file, a group/world-writable or foreign
  seed, and an old seed without checksums;
- ``safe_loads`` loads every slot a seed or a recovery snapshot holds (the classes were
  collected by recording every global those pickles name) and refuses anything else before
  it is called, also through copyreg's extension codes.
"""

from __future__ import annotations

import collections
import copyreg
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import pickle
import pickletools
import sqlite3
import stat
import subprocess
from array import array
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.common import load_split
from familycard.cli import main
from familycard.generator import generate
from flows.bulk_load import bulk_load
from store.safe_load import SlotUnpickler, safe_loads
from store.seed import MANIFEST, STAGES, SeedError, SeedReader

START = dt.date(2026, 1, 1)
SHARDS = 8


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trust")
    messages = list(generate(40, START, 150, 11))
    at = load_split(messages, START)
    paths = {"root": root, "load": root / "load.jsonl", "all": root / "all.jsonl"}
    paths["load"].write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages[:at]))
    paths["all"].write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))
    return paths


def _build(inputs: dict[str, Path], seed: Path, umask: int = 0o022) -> Path:
    old = os.umask(umask)
    try:
        bulk_load([inputs["load"]], seed, shards=SHARDS, dead_letters=seed.parent / (seed.name + "-dead.jsonl"))
    finally:
        os.umask(old)
    return seed


@pytest.fixture
def seed(inputs: dict[str, Path], tmp_path: Path) -> Path:
    return _build(inputs, tmp_path / "seed")


def _shard_files(seed: Path) -> list[Path]:
    return sorted(seed.glob("*/*.pkl"))


def _rewrite(path: Path, data: bytes) -> None:
    """Change a file in place, keeping its owner-only mode (what a careless or hostile edit does)."""
    path.write_bytes(data)
    os.chmod(path, 0o600)


# --- written private, with checksums --------------------------------------------------------

def test_the_seed_is_owner_only_whatever_the_umask(inputs: dict[str, Path], tmp_path: Path) -> None:
    seed = _build(inputs, tmp_path / "seed", umask=0)  # umask 0: everything would be 0777/0666
    assert _mode(seed) == 0o700
    for stage in STAGES:
        assert _mode(seed / stage) == 0o700
    files = [p for p in seed.rglob("*") if p.is_file()]
    assert seed / MANIFEST in files and len(files) > 3
    for p in files:
        assert _mode(p) == 0o600, p
    assert not list(seed.rglob("*.sha256")) and not list(seed.rglob("*.tmp"))  # the digests moved into the manifest


def test_the_manifest_holds_a_sha256_of_every_data_file(seed: Path) -> None:
    manifest = json.loads((seed / MANIFEST).read_text())
    assert manifest["format"] == 2
    on_disk = {str(p.relative_to(seed)): hashlib.sha256(p.read_bytes()).hexdigest() for p in _shard_files(seed)}
    assert on_disk and manifest["files"] == on_disk


def test_the_reader_gives_what_was_written(seed: Path) -> None:
    reader = SeedReader(seed)
    slots = 0
    for stage in STAGES:
        for shard in range(SHARDS):
            got = reader.shard(stage, shard)
            path = seed / stage / f"{shard}.pkl"
            assert got == (pickle.loads(path.read_bytes()) if path.exists() else {})
            for blob in got.values():
                assert safe_loads(blob) == pickle.loads(blob)
                slots += 1
    assert slots > 100


# --- refused --------------------------------------------------------------------------------

def test_a_changed_data_file_is_refused_naming_it(seed: Path) -> None:
    path = _shard_files(seed)[0]
    data = bytearray(path.read_bytes())
    data[-2] ^= 1
    _rewrite(path, bytes(data))
    reader = SeedReader(seed)  # the manifest itself is fine
    stage, shard = path.parent.name, int(path.stem)
    with pytest.raises(SeedError) as info:
        reader.shard(stage, shard)
    assert str(info.value) == (f"seed file {path} does not match its manifest checksum: it was changed after "
                               f"`familycard load` wrote it; rebuild the seed")


def test_a_slot_replaced_by_a_payload_is_caught_by_the_checksum_first(seed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))  # nothing could run even if it were called
    path = _shard_files(seed)[0]
    slots = pickle.loads(path.read_bytes())
    slots[next(iter(slots))] = b"cos\nsystem\n(S'echo pwned'\ntR."
    _rewrite(path, pickle.dumps(slots))
    with pytest.raises(SeedError, match="does not match its manifest checksum"):
        SeedReader(seed).shard(path.parent.name, int(path.stem))
    assert calls == []


def test_a_payload_with_a_forged_checksum_is_refused_before_it_runs(seed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever can rewrite the manifest too still cannot run code through the reader."""
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    path = _shard_files(seed)[0]
    payload = b"cos\nsystem\n(S'echo pwned'\ntR."
    _rewrite(path, payload)
    manifest = json.loads((seed / MANIFEST).read_text())
    manifest["files"][str(path.relative_to(seed))] = hashlib.sha256(payload).hexdigest()
    _rewrite(seed / MANIFEST, json.dumps(manifest).encode())
    with pytest.raises(SeedError, match=r"refusing to load os\.system"):
        SeedReader(seed).shard(path.parent.name, int(path.stem))
    assert calls == []


def test_a_data_file_the_manifest_does_not_list_is_refused(seed: Path) -> None:
    """A file beside the listed ones (here: one whose entry is gone) is not taken for an empty shard."""
    manifest = json.loads((seed / MANIFEST).read_text())
    del manifest["files"]["family/3.pkl"]
    _rewrite(seed / MANIFEST, json.dumps(manifest).encode())
    with pytest.raises(SeedError, match=f"seed file {seed / 'family' / '3.pkl'} is not in its manifest"):
        SeedReader(seed).shard("family", 3)


def test_a_missing_data_file_is_refused(seed: Path) -> None:
    path = _shard_files(seed)[0]
    path.unlink()
    with pytest.raises(SeedError, match="is missing"):
        SeedReader(seed).shard(path.parent.name, int(path.stem))


@pytest.mark.parametrize("what", ["root", "stage", "manifest", "data"])
@pytest.mark.parametrize("mode", [0o020, 0o002])
def test_a_seed_others_can_write_is_refused(seed: Path, what: str, mode: int) -> None:
    path = {"root": seed, "stage": seed / "person", "manifest": seed / MANIFEST, "data": _shard_files(seed)[0]}[what]
    os.chmod(path, _mode(path) | mode)
    with pytest.raises(SeedError, match=f"{path} is writable by (its group|other users)"):
        reader = SeedReader(seed)
        if what == "data":
            reader.shard(path.parent.name, int(path.stem))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_seed_owned_by_another_user_is_refused(seed: Path) -> None:
    path = _shard_files(seed)[0]
    os.chown(path, 12345, 12345)
    with pytest.raises(SeedError, match="owned by uid 12345"):
        SeedReader(seed).shard(path.parent.name, int(path.stem))
    os.chown(seed, 12345, 12345)
    with pytest.raises(SeedError, match=f"{seed} is owned by uid 12345"):
        SeedReader(seed)


def test_a_seed_without_checksums_is_refused(seed: Path) -> None:
    manifest = json.loads((seed / MANIFEST).read_text())
    manifest["format"] = 1
    del manifest["files"]
    _rewrite(seed / MANIFEST, json.dumps(manifest).encode())
    with pytest.raises(SeedError, match="before seeds carried checksums; rebuild it"):
        SeedReader(seed)


def test_the_cli_refuses_a_changed_seed_in_one_line(inputs: dict[str, Path], seed: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    os.chmod(seed / MANIFEST, 0o666)
    assert main(["run", "--input", str(inputs["all"]), "--output", str(tmp_path / "out"), "--shards", str(SHARDS),
                 "--initial-state", str(seed)]) == 2
    assert f"{seed / MANIFEST} is writable by" in capsys.readouterr().err


# --- the restricted unpickler ---------------------------------------------------------------

class _Recording(pickle.Unpickler):
    seen: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.seen.add((module, name))
        return super().find_class(module, name)


def _globals_of(blob: bytes) -> set[tuple[str, str]]:
    copyreg.clear_extension_cache()  # extension codes then go through find_class too
    _Recording.seen = set()
    _Recording(io.BytesIO(blob)).load()
    return _Recording.seen


def test_every_slot_a_seed_or_a_snapshot_holds_loads_safely(inputs: dict[str, Path], seed: Path, tmp_path: Path) -> None:
    """Collect the classes real seeds and recovery snapshots name, and load each slot with
    ``safe_loads``: equal to ``pickle.loads``, also with copyreg's cache cleared."""
    blobs: list[bytes] = []
    for path in _shard_files(seed):
        blobs.extend(safe_loads(path.read_bytes()).values())
    for state in ("live", "packed"):
        rec = tmp_path / f"rec-{state}"
        assert main(["run", "--input", str(inputs["all"]), "--output", str(tmp_path / f"out-{state}"),
                     "--shards", str(SHARDS), "--state", state, "--recovery", str(rec)]) == 0
        for db in rec.glob("*.sqlite3"):
            con = sqlite3.connect(db)
            try:
                rows = con.execute("SELECT step_id, ser_change FROM snaps WHERE ser_change IS NOT NULL").fetchall()
            finally:
                con.close()
            for step, change in rows:
                value = pickle.loads(change)
                if step.rsplit(".", 1)[-1].startswith(("person_shards", "family_shards", "calendar_shards",
                                                       "ledger_shards")) and value is not None:
                    blobs.extend(value[1].values())
    named: set[tuple[str, str]] = set()
    for blob in blobs:
        named |= _globals_of(blob)
        copyreg.clear_extension_cache()
        assert safe_loads(blob) == pickle.loads(blob)
    # seen when this was written: store.picklers (the extension codes: person slots, families,
    # cards), state.calendar, .rights, .seen, rules.decisions
    assert {("store.picklers", "_PersonSlot"), ("store.picklers", "_FamilyCard")} <= named, named
    assert "state.calendar" in {m for m, _ in named}, named


@pytest.mark.parametrize("value", [
    {1, 2}, frozenset({"a"}), [1, (2, 3)], {"k": b"v"}, bytearray(b"x"), array("q", [1, 2]), array("H", [7]),
    decimal.Decimal("1.10"), dt.date(2026, 3, 1), collections.deque([1, 2]),
])
@pytest.mark.parametrize("protocol", [4, 5])  # slots are pickled with HIGHEST_PROTOCOL (5)
def test_plain_values_load(value: Any, protocol: int) -> None:
    assert safe_loads(pickle.dumps(value, protocol)) == value


def _global(module: str, name: str) -> bytes:
    """A protocol-4 pickle of just ``module.name`` (STACK_GLOBAL), as a crafted file would hold."""
    def text(s: str) -> bytes:
        return b"\x8c" + bytes([len(s)]) + s.encode()
    return b"\x80\x04" + text(module) + text(name) + b"\x93."


class _Payload:
    """Pickles as a call of ``target(*args)``; nothing here calls it."""

    def __init__(self, target: Any, *args: Any) -> None:
        self.target, self.args = target, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.target, self.args


@pytest.mark.parametrize("blob, named", [
    (b"cos\nsystem\n(S'echo pwned'\ntR.", "os.system"),                                  # protocol 0, GLOBAL
    (pickle.dumps(_Payload(subprocess.Popen, ["true"]), 5), "subprocess.Popen"),        # STACK_GLOBAL
    (pickle.dumps(_Payload(eval, "1"), 2), "builtins.eval"),
    (pickle.dumps(_Payload(getattr, dt.date, "today"), 4), "builtins.getattr"),
    (_global("store.seed", "os"), "store.seed.os"),
    (_global("store.compact", "sys"), "store.compact.sys"),
    (_global("state.person_slot", "os.system"), "state.person_slot.os.system"),
    (_global("state.dates", "iso"), "state.dates.iso"),              # a function, not a rebuild
    (_global("state.person_slot", "field"), "state.person_slot.field"),  # imported, not defined
    (_global("state.nohere", "X"), "state.nohere.X"),
    (_global("copyreg", "_reconstructor"), "copyreg._reconstructor"),
    (_global("flows.shards", "ShardLogic"), "flows.shards.ShardLogic"),
    (_global("store.picklers", "_compact"), "store.picklers._compact"),          # a function, not a rebuild
    (_global("store.picklers", "_reduce_person_slot"), "store.picklers._reduce_person_slot"),
    (_global("store.picklers", "PersonSlot"), "store.picklers.PersonSlot"),      # imported, not defined
    (_global("store.picklers", "copyreg"), "store.picklers.copyreg"),
    (_global("store.compact", "register"), "store.compact.register"),
])
def test_anything_else_is_refused_before_it_is_called(blob: bytes, named: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append(a))
    pickletools.dis(blob, out=io.StringIO())  # a well-formed pickle: refused for what it names, not its form
    with pytest.raises(pickle.UnpicklingError) as info:
        safe_loads(blob)
    assert named in str(info.value)
    assert calls == []


def test_persistent_ids_are_refused() -> None:
    with pytest.raises(pickle.UnpicklingError, match="persistent id"):
        safe_loads(b"\x80\x04\x8c\x01xQ.")


def test_extension_codes_resolve_only_to_registered_state_functions() -> None:
    """``store.picklers``' copyreg codes (EXT1) load through ``find_class`` on a cache miss; every
    code registered in this process is one a slot may name, and an unregistered code fails."""
    import store  # noqa: F401 - registers the codes

    unpickler = SlotUnpickler(io.BytesIO(b""))
    registry = dict(copyreg._inverted_registry)  # type: ignore[attr-defined]
    assert registry and all(240 <= code <= 255 for code in registry)
    for module, name in registry.values():
        assert callable(unpickler.find_class(module, name))
    from state.person_slot import PersonSlot

    blob = pickle.dumps(PersonSlot.empty("900101300123"), pickle.HIGHEST_PROTOCOL)
    assert b"\x82\xf0" in blob  # EXT1 240: no module name in the pickle
    copyreg.clear_extension_cache()
    assert safe_loads(blob) == PersonSlot.empty("900101300123")
    with pytest.raises(ValueError, match="unregistered extension code"):
        safe_loads(b"\x80\x04\x82\xef)R.")  # EXT1 239, nobody's
