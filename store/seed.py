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
also hold IINs, phones and IBANs; ``store.private``); the reader refuses a seed that is group-
or world-writable or owned by another user, a data file whose SHA-256 is not the manifest's,
and unpickles with ``store.safe_load.safe_loads``, which resolves only this project's state
classes and a few plain builtins: a crafted pickle raises ``pickle.UnpicklingError`` before
anything is called.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.private import private_dir, write_private
from store.safe_load import safe_loads

__all__ = ["SeedError", "SeedWriter", "SeedReader", "FORMAT", "STAGES", "MANIFEST"]

FORMAT = 2  # 2: the manifest holds a SHA-256 per data file ("files")
STAGES = ("person", "family", "calendar")
MANIFEST = "seed.json"
_DIGEST = ".sha256"  # beside a shard file until ``finish`` moves the digests into the manifest


class SeedError(ValueError):
    """A seed directory that cannot be used (missing, another format or shard count, altered,
    or writable by someone else)."""


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
        private_dir(self.root)
        for stage in STAGES:
            private_dir(self.root / stage)

    def write_shard(self, stage: str, shard: int, slots: Mapping[str, bytes]) -> int:
        """Write one shard's ``{key: pickled slot}``; returns the bytes written."""
        if stage not in STAGES or not 0 <= shard < self.shards:
            raise ValueError(f"no shard {shard} of stage {stage!r} in a {self.shards}-shard seed")
        path = self.root / stage / f"{shard}.pkl"
        data = pickle.dumps(dict(slots), pickle.HIGHEST_PROTOCOL)
        write_private(path.with_name(path.name + _DIGEST), hashlib.sha256(data).hexdigest().encode())
        write_private(path, data)
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
        write_private(self.root / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
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
