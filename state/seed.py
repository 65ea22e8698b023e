"""A seed: the state a bulk load built, which a flow starts from instead of an empty state.

Loading 20 million people through the stream costs hours (every load message crosses every
stage); ``familycard load`` builds the same state in a batch job and writes it here, and
``familycard run --initial-state DIR`` starts from it. Engine-free: plain files.

Layout of a seed directory::

    seed.json              manifest: format, shard count, counts, the inputs it was built from,
                           and the SHA-256 of every data file ("files")
    <stage>/<shard>.pkl    pickle of {key: pickled slot} for one shard of one sharded stage

Each shard file is exactly the slot dict a sharded stage holds (``flows.shards.ShardLogic``
in packed mode), so a shard starts from its file with one unpickling. A seed is tied to
its shard count like a recovery directory: a flow with another ``--shards`` refuses it.

**A seed is code-equivalent.** Loading a pickle can call any importable function, so a seed
someone else could write is a way to run code as the flow's user (docs/DESIGN.md, "Trust
boundaries and data at rest"). Hence: the writer makes directories 0700 and files 0600 (they
also hold IINs, phones and IBANs); the reader refuses a seed that is group- or world-writable
or owned by another user, a data file whose SHA-256 is not the manifest's, and unpickles
with ``safe_loads``, which resolves only this project's state classes and a few plain
builtins: a crafted pickle raises ``pickle.UnpicklingError`` before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import hashlib
import importlib
import io
import json
import logging
import os
import pickle
import stat
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SeedError", "SeedWriter", "SeedReader", "FORMAT", "STAGES", "safe_loads", "SlotUnpickler",
           "make_private", "DIR_MODE", "FILE_MODE"]

log = logging.getLogger(__name__)

FORMAT = 2  # 2: the manifest holds a SHA-256 per data file ("files")
STAGES = ("person", "family", "calendar")
MANIFEST = "seed.json"
DIR_MODE = 0o700
FILE_MODE = 0o600
_DIGEST = ".sha256"  # beside a shard file until ``finish`` moves the digests into the manifest


class SeedError(ValueError):
    """A seed directory that cannot be used (missing, another format or shard count, altered,
    or writable by someone else)."""


# --- loading state without running code -----------------------------------------------------

# Plain values a slot may hold besides this project's classes. Sets, frozensets, lists, dicts,
# tuples, bytes and str have opcodes of their own (no lookup); these are here for older
# protocols and for the classes that reduce to them.
_SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"), ("builtins", "dict"),
    ("builtins", "tuple"), ("builtins", "bytearray"),
    ("array", "array"), ("array", "_array_reconstructor"),
    ("decimal", "Decimal"), ("datetime", "date"), ("collections", "deque"),
})
# Modules whose own classes (and their pickle rebuild functions ``_<Class>``) a slot may name:
# every ``state`` module but these two (no pickled classes; they import os, sys, copyreg),
# the routing items (copyreg codes 252-255) and the rules' decisions (in the rights ledger).
_STATE_PACKAGE = "state."
_NOT_STATE = frozenset({"state.seed", "state.compact"})
_PROJECT_MODULES = frozenset({"flows.routing", "rules.decisions"})


def _allowed_module(module: str) -> bool:
    if module in _PROJECT_MODULES:
        return True
    return module.startswith(_STATE_PACKAGE) and module not in _NOT_STATE and module.count(".") == 1


def _resolve(module: str, name: str) -> Any:
    """The object a pickle names, if a slot may name it; raises UnpicklingError otherwise."""
    where = f"{module}.{name}"
    if (module, name) in _SAFE_GLOBALS:
        return getattr(importlib.import_module(module), name)
    if not _allowed_module(module) or not name.isidentifier() or name.startswith("__"):
        raise pickle.UnpicklingError(f"refusing to load {where}: not a state class (a seed or snapshot "
                                     f"may name only this project's state classes)")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise pickle.UnpicklingError(f"refusing to load {where}: no such state module") from None
    obj = getattr(mod, name, None)
    if isinstance(obj, type) and obj.__module__ == module and obj.__qualname__ == name:
        return obj  # a class defined there (not one it imports)
    if isinstance(obj, types.FunctionType) and obj.__module__ == module and name.startswith("_"):
        cls = getattr(mod, name[1:], None)  # the rebuild function of a class defined there
        if isinstance(cls, type) and cls.__module__ == module:
            return obj
    raise pickle.UnpicklingError(f"refusing to load {where}: not a state class or its rebuild function")


_resolved: dict[tuple[str, str], Any] = {}


class SlotUnpickler(pickle.Unpickler):
    """An unpickler that resolves only state classes, their rebuild functions and plain builtins.

    Every global a pickle names goes through ``find_class`` (``GLOBAL``, ``STACK_GLOBAL``,
    ``INST``, ``OBJ``), so anything else (``os.system``, ``subprocess.Popen``, ``builtins.eval``,
    ``state.seed.os``...) raises ``pickle.UnpicklingError`` before it could be called.
    The copyreg extension codes of ``state.compact`` (``EXT1``) name their functions through
    copyreg's registry: on a cache miss the unpickler still asks ``find_class`` (which allows
    them: they are state rebuild functions), and a code nobody registered is a ``ValueError``;
    only code already running in this process can register a code.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # protocol 0-2 names (``__builtin__.set``)
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        obj = _resolved.get(key)
        if obj is None:
            obj = _resolved[key] = _resolve(module, name)
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("refusing to load a persistent id")


def safe_loads(data: bytes) -> Any:
    """``pickle.loads`` for state (seed files, pickled slots) that cannot run code: see ``SlotUnpickler``."""
    return SlotUnpickler(io.BytesIO(data)).load()


# --- private files ---------------------------------------------------------------------------

def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), FILE_MODE)  # a temporary file left by a crash keeps its old mode
        fh.write(data)
    os.replace(tmp, path)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)  # mkdir's mode passes the umask, and an existing directory keeps its own


def make_private(directory: Path) -> None:
    """Make ``directory`` 0700 and the regular files directly in it 0600 (a recovery directory).

    What this process does not own is left as it is (``chmod`` would fail) and logged. Files
    created there later (SQLite's journals) get the creator's umask, but nobody else can open
    them: the directory's 0700 stops every other user at the path.
    """
    me = os.geteuid()
    st = os.stat(directory)
    if st.st_uid == me:
        os.chmod(directory, DIR_MODE)
    elif stat.S_IMODE(st.st_mode) & 0o077:
        log.warning("%s is owned by uid %d, not this user: its mode %o stays", directory, st.st_uid,
                    stat.S_IMODE(st.st_mode))
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            est = entry.stat(follow_symlinks=False)
            if est.st_uid == me:
                os.chmod(entry.path, FILE_MODE)
            elif stat.S_IMODE(est.st_mode) & 0o077:
                log.warning("%s is owned by uid %d, not this user: its mode %o stays", entry.path, est.st_uid,
                            stat.S_IMODE(est.st_mode))


def _check_private(path: Path, st: os.stat_result) -> None:
    """Refuse a seed path that someone other than this user (or root) could replace or change."""
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise SeedError(f"{path} is writable by {'its group' if mode & 0o020 else 'other users'} (mode {mode:o}): "
                        f"another local user could change the seed, and loading a seed runs what it holds. "
                        f"Make it private (chmod go-w; `familycard load` writes directories 0700, files 0600)")
    if st.st_uid not in (os.geteuid(), 0):
        raise SeedError(f"{path} is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()}) or root: "
                        f"its owner could change the seed, and loading a seed runs what it holds. "
                        f"Use a seed this user built (or chown it)")


# --- writing ---------------------------------------------------------------------------------

@dataclass
class SeedWriter:
    """Writes shard files as they are finished, then the manifest (last, so a seed whose
    manifest exists is complete). Several writers (processes) may write one seed's shards;
    each shard's SHA-256 waits beside it until ``finish`` puts them all in the manifest."""

    root: Path
    shards: int
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _private_dir(self.root)
        for stage in STAGES:
            _private_dir(self.root / stage)

    def write_shard(self, stage: str, shard: int, slots: Mapping[str, bytes]) -> int:
        """Write one shard's ``{key: pickled slot}``; returns the bytes written."""
        if stage not in STAGES or not 0 <= shard < self.shards:
            raise ValueError(f"no shard {shard} of stage {stage!r} in a {self.shards}-shard seed")
        path = self.root / stage / f"{shard}.pkl"
        data = pickle.dumps(dict(slots), pickle.HIGHEST_PROTOCOL)
        _write_private(path.with_name(path.name + _DIGEST), hashlib.sha256(data).hexdigest().encode())
        _write_private(path, data)
        return len(data)

    def finish(self, info: Mapping[str, Any]) -> None:
        files: dict[str, str] = {}
        digests: list[Path] = []
        for stage in STAGES:
            for path in sorted((self.root / stage).glob("*.pkl")):
                name = f"{stage}/{path.name}"
                digest = path.with_name(path.name + _DIGEST)
                try:
                    files[name] = digest.read_text().strip()
                except FileNotFoundError:
                    raise SeedError(f"seed file {self.root / name} was not written by this seed's writers "
                                    f"(no digest beside it); build the seed into a new directory") from None
                digests.append(digest)
        manifest = {"format": FORMAT, "shards": self.shards, **info, "files": files}
        _write_private(self.root / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        for digest in digests:
            digest.unlink()


# --- reading ---------------------------------------------------------------------------------

def _is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class SeedReader:
    """Reads a finished seed; ``shard`` is called once per shard, when a flow first touches it.

    Refused (``SeedError``): a seed directory, stage directory, manifest or data file that is
    group/world-writable or owned by another user, a data file whose SHA-256 differs from the
    manifest's (checked before it is unpickled), a data file the manifest does not list, and
    a pickle that names anything but state classes.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        try:
            root_st = os.stat(self.root)
        except FileNotFoundError:
            raise SeedError(f"{self.root} is not a finished seed (no {MANIFEST}); run `familycard load` first") from None
        _check_private(self.root, root_st)
        try:
            with open(self.root / MANIFEST, "rb") as fh:
                _check_private(self.root / MANIFEST, os.fstat(fh.fileno()))
                self.manifest: dict[str, Any] = json.loads(fh.read())
        except FileNotFoundError:
            raise SeedError(f"{self.root} is not a finished seed (no {MANIFEST}); run `familycard load` first") from None
        except ValueError as exc:
            if isinstance(exc, SeedError):
                raise
            raise SeedError(f"{self.root / MANIFEST} is not a seed manifest ({exc}); rebuild the seed") from None
        fmt = self.manifest.get("format") if isinstance(self.manifest, dict) else None
        if fmt == 1:
            raise SeedError(f"{self.root}: seed format 1 was written before seeds carried checksums; "
                            f"rebuild it with `familycard load` (this build reads format {FORMAT})")
        if fmt != FORMAT:
            raise SeedError(f"{self.root}: seed format {fmt!r}, this build reads {FORMAT}")
        self.shards = int(self.manifest["shards"])
        files = self.manifest.get("files")
        if not isinstance(files, dict) or not all(_is_digest(d) for d in files.values()):
            raise SeedError(f"{self.root / MANIFEST}: no valid \"files\" checksums; rebuild the seed")
        self.files: dict[str, str] = files
        for stage in STAGES:
            try:
                _check_private(self.root / stage, os.stat(self.root / stage))
            except FileNotFoundError:
                continue

    def check_shards(self, shards: int) -> None:
        if shards != self.shards:
            raise SeedError(f"the seed {self.root} was built with {self.shards} shards, this flow has {shards}; "
                            f"run with --shards {self.shards} or build the seed again")

    def shard(self, stage: str, shard: int) -> dict[str, bytes]:
        if stage not in STAGES or not 0 <= shard < self.shards:
            raise ValueError(f"no shard {shard} of stage {stage!r} in a {self.shards}-shard seed")
        name = f"{stage}/{shard}.pkl"
        path = self.root / name
        expected = self.files.get(name)
        if expected is None:
            if os.path.lexists(path):
                raise SeedError(f"seed file {path} is not in its manifest: it was added after `familycard load` "
                                f"wrote the seed; rebuild the seed")
            return {}  # a shard the load left empty
        try:
            with open(path, "rb") as fh:
                _check_private(path, os.fstat(fh.fileno()))
                data = fh.read()
        except FileNotFoundError:
            raise SeedError(f"seed file {path} is missing: its manifest lists it; rebuild the seed") from None
        if hashlib.sha256(data).hexdigest() != expected:
            raise SeedError(f"seed file {path} does not match its manifest checksum: it was changed after "
                            f"`familycard load` wrote it; rebuild the seed")
        try:
            slots = safe_loads(data)
        except pickle.UnpicklingError as exc:
            raise SeedError(f"seed file {path}: {exc}; rebuild the seed") from None
        if not isinstance(slots, dict) or not all(type(k) is str and type(v) is bytes for k, v in slots.items()):
            raise SeedError(f"seed file {path} is not a shard's slot map; rebuild the seed")
        return slots
