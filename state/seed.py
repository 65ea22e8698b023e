"""A seed: the state a bulk load built, which a flow starts from instead of an empty state.

Loading 20 million people through the stream costs hours (every load message crosses every
stage); ``familycard load`` builds the same state in a batch job and writes it here, and
``familycard run --initial-state DIR`` starts from it. Engine-free: plain files.

Layout of a seed directory::

    seed.json              manifest: format, shard count, counts, the inputs it was built from
    <stage>/<shard>.pkl    pickle of {key: pickled slot} for one shard of one sharded stage

Each shard file is exactly the slot dict a sharded stage holds (``flows.shards.ShardLogic``
in packed mode), so a shard starts from its file with one ``pickle.load``. A seed is tied to
its shard count like a recovery directory: a flow with another ``--shards`` refuses it.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SeedError", "SeedWriter", "SeedReader", "FORMAT", "STAGES"]

FORMAT = 1
STAGES = ("person", "family", "calendar")
MANIFEST = "seed.json"


class SeedError(ValueError):
    """A seed directory that cannot be used (missing, another format or shard count)."""


@dataclass
class SeedWriter:
    """Writes shard files as they are finished, then the manifest (last, so a seed whose
    manifest exists is complete)."""

    root: Path
    shards: int
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stage in STAGES:
            (self.root / stage).mkdir(parents=True, exist_ok=True)

    def write_shard(self, stage: str, shard: int, slots: Mapping[str, bytes]) -> int:
        """Write one shard's ``{key: pickled slot}``; returns the bytes written."""
        if stage not in STAGES or not 0 <= shard < self.shards:
            raise ValueError(f"no shard {shard} of stage {stage!r} in a {self.shards}-shard seed")
        path = self.root / stage / f"{shard}.pkl"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(dict(slots), fh, pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        return path.stat().st_size

    def finish(self, info: Mapping[str, Any]) -> None:
        manifest = {"format": FORMAT, "shards": self.shards, **info}
        tmp = self.root / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.root / MANIFEST)


class SeedReader:
    """Reads a finished seed; ``shard`` is called once per shard, when a flow first touches it."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        try:
            self.manifest: dict[str, Any] = json.loads((self.root / MANIFEST).read_text())
        except FileNotFoundError:
            raise SeedError(f"{self.root} is not a finished seed (no {MANIFEST}); run `familycard load` first") from None
        if self.manifest.get("format") != FORMAT:
            raise SeedError(f"{self.root}: seed format {self.manifest.get('format')!r}, this build reads {FORMAT}")
        self.shards = int(self.manifest["shards"])

    def check_shards(self, shards: int) -> None:
        if shards != self.shards:
            raise SeedError(f"the seed {self.root} was built with {self.shards} shards, this flow has {shards}; "
                            f"run with --shards {self.shards} or build the seed again")

    def shard(self, stage: str, shard: int) -> dict[str, bytes]:
        path = self.root / stage / f"{shard}.pkl"
        try:
            with open(path, "rb") as fh:
                slots: dict[str, bytes] = pickle.load(fh)
        except FileNotFoundError:
            return {}  # a shard the load left empty
        return slots
