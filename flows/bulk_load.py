"""``familycard load``: the population load as a batch job that writes a seed for the stream.

The registries' backlog (every ``person_registered``, then what they knew as late records)
is ~6 messages a person: 120 million at national scale, hours through the stream, where each
one crosses every stage. None of them may fire a rule (rules.md §5), so the family stage only
folds cards then, and the whole load reduces to: each person's slot after their events, each
family's replica of its members' cards, and the calendar's registrations. This job computes
exactly that with the same domain code (``PersonSlot.on_event``, ``flows.routing.Router``,
``state.calendar``, ``state.family_build``) and no engine in between, then writes
a seed (``store.seed``) that ``familycard run --initial-state`` starts from.

Work is split by person shard over worker processes, in two phases:

1. **people**: every worker reads the whole input, keeps the lines whose subject (or a parent
   of a newborn) is in one of its shards, decodes and applies them in file order, and spills,
   per person visit, the net effect on each family (``VisitLog``) to one file per family group.
   Its people's slots are written as seed shards at the end.
2. **families**: every worker replays the spilled records of its family groups, in the order
   they were made, into family cards (``FamilyAssembler``) and writes them as seed shards.

The calendar's registrations (8 bytes a person) come back to the parent, which merges and writes
them. Decode failures and person-stage rejections are written as dead letters, as the stream
would; facts still held for an unregistered person when the input ends are dead-lettered as
``unknown_person``, as the stream does at the end of a replay. A message that would fire a
rule, or that is no life event (a ``day`` tick, an SMS reply), stops the load: it belongs to
the stream (``LoadRefused``).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import time
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, cast

import orjson

from flows.routing import CALENDAR, PERSON, Router
from flows.shards import shard_number
from flows.topics import topic_of
from rules import Params, load_params
from rules.family_fold import fires
from schemas.codec import DeadLetter, RawMessage, dead_letter_record, decode
from state import dates
from state.calendar import BirthSlot, DueSlot, Timer
from state.events import Event, Origin
from state.family import MemberUpdate
from state.family_build import FamilyAssembler, Record, VisitLog, order_of
from state.person_slot import PersonOutput, PersonSettings, PersonSlot, Rejection
from store.seed import SeedWriter

__all__ = ["bulk_load", "LoadRefused", "LoadReport"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_NOT_LOAD = ("day", "sms_reply")


class LoadRefused(ValueError):
    """The input holds a message a bulk load must not take (it would fire a rule, or is no life event)."""


@dataclass
class LoadReport:
    messages: int = 0
    people: int = 0
    families: int = 0
    calendar_keys: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    last_recorded: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    seed_bytes: dict[str, int] = field(default_factory=dict)
    peak_rss: dict[str, int] = field(default_factory=dict)  # per phase: the largest worker's VmHWM


@dataclass(frozen=True)
class _Job:
    inputs: tuple[str, ...]
    seed: str
    spill: str
    workers: int
    shards: int
    groups: int
    params: Params


def _hwm() -> int:
    """This process's peak RSS in bytes (VmHWM)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


# --- phase 1: people ----------------------------------------------------------------------

def _quick_subject(value: bytes) -> str | None:
    """The subject's IIN read from the raw line when that is certain, so that a worker can skip
    another worker's lines without parsing them; None when a parse must decide.

    Certain means: no ``\\u`` escape anywhere (a key could hide behind one), the key ``"iin"``
    exactly once and followed by ``:"``, a value without escapes, and no parent IIN (a parent
    may be this worker's). Then that key is the envelope's and its value the subject's IIN.
    """
    if b"\\u" in value or b'_iin"' in value:
        return None
    i = value.find(b'"iin"')
    if i < 0 or value.find(b'"iin"', i + 5) >= 0 or value[i + 5:i + 7] != b':"':
        return None
    j = value.find(b'"', i + 7)
    if j < 0:
        return None
    raw = value[i + 7:j]
    if b"\\" in raw:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


class _People:
    """One worker's people: packed slots, the recently visited people as live slots (a family's
    registrations touch each parent several times), and the spill files."""

    CACHE = 256

    def __init__(self, job: _Job, worker: int) -> None:
        self.job = job
        self.worker = worker
        self.settings = PersonSettings(job.params.scalar_int("late_record_days"),
                                       job.params.scalar_int("adult_age_years"))
        self.slots: dict[str, bytes] = {}
        self.live: OrderedDict[str, tuple[PersonSlot, VisitLog]] = OrderedDict()
        self.holding: set[str] = set()
        self.spills = [open(Path(job.spill) / f"fam-{worker}-{g}.pkl", "wb", buffering=1 << 20)
                       for g in range(job.groups)]
        self.dead: list[tuple[int, bytes]] = []  # (seq, dead-letter record)
        self.dead_codes: dict[str, int] = {}

    def visit(self, key: str) -> tuple[PersonSlot, VisitLog]:
        got = self.live.get(key)
        if got is not None:
            self.live.move_to_end(key)
            return got
        if len(self.live) >= self.CACHE:
            self.leave(*self.live.popitem(last=False))
        blob = self.slots.get(key)
        got = self.live[key] = (PersonSlot.empty(key) if blob is None else pickle.loads(blob), VisitLog(key))
        return got

    def leave(self, key: str, visited: tuple[PersonSlot, VisitLog]) -> None:
        """Pack a visited person and spill what the visit did to families."""
        slot, log = visited
        self.slots[key] = pickle.dumps(slot, _PROTOCOL)
        by_group: dict[int, list[Record]] = {}
        for record in log.records():
            g = shard_number(record[0], self.job.shards) % self.job.groups
            by_group.setdefault(g, []).append(record)
        for g, records in by_group.items():
            self.spills[g].write(pickle.dumps(records, _PROTOCOL))

    def apply(self, key: str, value: tuple[Any, str], seq: int, where: str) -> None:
        event, role = value
        slot, log = self.visit(key)
        self._take(slot.on_event(event, role, self.settings), log, seq, where)
        if slot.held:
            self.holding.add(key)
        else:
            self.holding.discard(key)

    def _take(self, outs: list[PersonOutput], log: VisitLog, seq: int, where: str) -> None:
        """What a person slot said: updates for the families (refused if one would fire a rule),
        rejections as dead letters."""
        for out in outs:
            if isinstance(out, MemberUpdate):
                if fires(out, self.job.params):
                    event = cast(Event, out.event)  # an update that fires carries its event
                    raise LoadRefused(
                        f"{where}: {event.type} {event.event_id!r} would fire rules (as {out.role}); a bulk "
                        f"load takes only facts that fire nothing: registrations and late records "
                        f"(rules.md §5). Send it through the stream after the load.")
                log.add(out, order_of(seq, out.role))
            else:
                self.reject(out, seq)

    def reject(self, r: Rejection, seq: int) -> None:
        assert r.event.origin is not None
        self.dead_letter(seq, r.event.origin, r.code, r.message, r.path)

    def dead_letter(self, seq: int, origin: Origin, code: str, message: str, path: str) -> None:
        self.dead.append((seq, orjson.dumps(dead_letter_record(origin, code, message, path))))
        self.dead_codes[code] = self.dead_codes.get(code, 0) + 1

    def finish(self, end_seq: int) -> None:
        """The input ended: dead-letter what is still held, as the stream's end of input does."""
        for key in sorted(self.holding):
            # a child's birth held for a mother nobody registered goes to the family now, as at
            # the stream's end of input; the rest is dead-lettered
            slot, log = self.visit(key)
            self._take(slot.held_rejections(), log, end_seq, "end of input")
        while self.live:
            self.leave(*self.live.popitem(last=False))
        for fh in self.spills:
            fh.close()


def _people(job: _Job, worker: int) -> dict[str, Any]:
    """Phase 1 in one worker process (see the module doc)."""
    t0 = time.perf_counter()
    W, shards = job.workers, job.shards

    def owner(iin: str) -> int:
        return shard_number(iin, shards) % W

    router = Router(job.params, shards)
    people = _People(job, worker)
    births: dict[str, tuple[array, array]] = {}   # b: key -> (seqs, iins as int64)
    timers: dict[str, list[tuple[int, Timer]]] = {}
    messages = 0
    last_recorded = 0
    base = 0
    for path in job.inputs:
        n = 0
        with open(path, "rb") as fh:
            for line in fh:
                n += 1
                value = line.rstrip(b"\r\n")
                if not value.strip():
                    continue
                messages += 1
                seq = base + n
                quick = _quick_subject(value)
                if quick is not None and owner(quick) != worker:
                    continue  # another worker's person, and no parent in it: not even parsed
                try:
                    parsed = orjson.loads(value)
                except orjson.JSONDecodeError:
                    parsed = None
                if quick is not None:  # one owner per line, decided the same way in every worker
                    mine = True
                else:
                    subject = parsed.get("iin") if type(parsed) is dict else None
                    mine = (owner(subject) if type(subject) is str else 0) == worker
                parents: list[str] = []
                if type(parsed) is dict and parsed.get("type") in ("birth", "person_registered"):
                    data = parsed.get("data")
                    if type(data) is dict:
                        parents = [p for f in ("mother_iin", "father_iin")
                                   if type(p := data.get(f)) is str and owner(p) == worker]
                if not mine and not parents:
                    continue
                event = decode(RawMessage(topic_of(parsed), value, None, None, n, None, parsed, seq))
                if isinstance(event, DeadLetter):
                    if mine:
                        people.dead_letter(seq, event.origin, event.code, event.message, event.path)
                    continue
                where = f"{path}:{n}"
                if event.type in _NOT_LOAD:
                    raise LoadRefused(f"{where}: a {event.type!r} message is no part of a population load; "
                                      f"send it through the stream after the load")
                if mine:
                    last_recorded = max(last_recorded, event.recorded_on)
                for dest, key, val in router.route(event):
                    if dest == PERSON:
                        if owner(key) == worker:
                            people.apply(key, val, seq, where)
                    elif dest == CALENDAR and mine:
                        if isinstance(val, Timer):
                            timers.setdefault(key, []).append((seq, val))
                        else:  # a BirthReg
                            got = births.get(key)
                            if got is None:
                                got = births[key] = (array("q"), array("q"))
                            got[0].append(seq)
                            got[1].append(int(val.iin))
        base += n
    people.finish(base + 1)
    seed = SeedWriter(Path(job.seed), shards)
    by_shard: dict[int, dict[str, bytes]] = {}
    for key, blob in people.slots.items():
        by_shard.setdefault(shard_number(key, shards), {})[key] = blob
    written = sum(seed.write_shard("person", s, slots) for s, slots in by_shard.items())
    with open(Path(job.spill) / f"calendar-{worker}.pkl", "wb") as out:
        pickle.dump((births, timers), out, _PROTOCOL)
    return {"messages": messages, "people": len(people.slots), "dead": people.dead,
            "dead_codes": people.dead_codes, "last_recorded": last_recorded, "bytes": written,
            "seconds": time.perf_counter() - t0, "hwm": _hwm()}


# --- phase 2: families --------------------------------------------------------------------

def _families(job: _Job, worker: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    seed = SeedWriter(Path(job.seed), job.shards)
    families = 0
    written = 0
    for g in range(worker, job.groups, job.workers):
        assembler = FamilyAssembler()
        for w in range(job.workers):
            with open(Path(job.spill) / f"fam-{w}-{g}.pkl", "rb") as fh:
                while True:
                    try:
                        records: list[Record] = pickle.load(fh)
                    except EOFError:
                        break
                    for record in records:
                        assembler.add(record)
        by_shard: dict[int, dict[str, bytes]] = {}
        for fid, card in assembler.families().items():
            by_shard.setdefault(shard_number(fid, job.shards), {})[fid] = pickle.dumps(card, _PROTOCOL)
        del assembler
        for s, slots in by_shard.items():
            written += seed.write_shard("family", s, slots)
            families += len(slots)
    return {"families": families, "bytes": written, "seconds": time.perf_counter() - t0, "hwm": _hwm()}


# --- the calendar (in the parent) ---------------------------------------------------------

def _calendar(job: _Job) -> tuple[int, int]:
    births: dict[str, list[tuple[array, array]]] = {}
    timers: dict[str, list[tuple[int, Timer]]] = {}
    for w in range(job.workers):
        with open(Path(job.spill) / f"calendar-{w}.pkl", "rb") as fh:
            b, t = pickle.load(fh)
        for key, pair in b.items():
            births.setdefault(key, []).append(pair)
        for key, items in t.items():
            timers.setdefault(key, []).extend(items)
    by_shard: dict[int, dict[str, bytes]] = {}
    for key, pairs in births.items():
        regs = sorted((s, i) for seqs, iins in pairs for s, i in zip(seqs, iins))
        slot = BirthSlot()
        seen: set[int] = set()
        for _, iin in regs:  # BirthSlot.register, without its linear membership test
            if iin not in seen:
                seen.add(iin)
                slot.iins.append(iin)
        by_shard.setdefault(shard_number(key, job.shards), {})[key] = pickle.dumps(slot, _PROTOCOL)
    for key, items in timers.items():
        items.sort(key=lambda st: st[0])
        dslot = DueSlot()
        for _, timer in items:
            fired = dslot.register(timer)
            assert not fired  # nothing was ticked during a load
        by_shard.setdefault(shard_number(key, job.shards), {})[key] = pickle.dumps(dslot, _PROTOCOL)
    seed = SeedWriter(Path(job.seed), job.shards)
    written = sum(seed.write_shard("calendar", s, slots) for s, slots in by_shard.items())
    return len(births) + len(timers), written


# --- the job ------------------------------------------------------------------------------

def _run(fn: Any, job: _Job) -> list[dict[str, Any]]:
    if job.workers == 1:
        return [fn(job, 0)]
    with ProcessPoolExecutor(job.workers, mp_context=get_context("fork")) as pool:
        return list(pool.map(fn, [job] * job.workers, range(job.workers)))


def bulk_load(inputs: Sequence[Path], seed_dir: Path, *, dead_letters: Path | None = None, workers: int = 1,
              shards: int, params: Params | None = None, groups: int = 256) -> LoadReport:
    """Build the seed ``seed_dir`` from the load messages in ``inputs`` (JSON lines, in order).

    ``dead_letters``: where the dead-letter records go (JSON lines, input order); required
    when there are any. Raises ``LoadRefused`` if a message must go through the stream.
    """
    if seed_dir.exists() and any(seed_dir.iterdir()):
        raise FileExistsError(f"{seed_dir} is not empty; a seed is built into a new directory")
    t0 = time.perf_counter()
    seed_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private from the start (SeedWriter makes sure)
    spill = Path(tempfile.mkdtemp(prefix="spill-", dir=seed_dir))
    job = _Job(tuple(str(p) for p in inputs), str(seed_dir), str(spill), workers, shards,
               min(groups, shards), params or load_params())
    report = LoadReport()
    try:
        people = _run(_people, job)
        report.seconds["people"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        fams = _run(_families, job)
        report.seconds["families"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        report.calendar_keys, report.seed_bytes["calendar"] = _calendar(job)
        report.seconds["calendar"] = time.perf_counter() - t2
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    report.messages = people[0]["messages"]
    report.people = sum(p["people"] for p in people)
    report.families = sum(f["families"] for f in fams)
    report.seed_bytes["person"] = sum(p["bytes"] for p in people)
    report.seed_bytes["family"] = sum(f["bytes"] for f in fams)
    report.peak_rss = {"people": max(p["hwm"] for p in people), "families": max(f["hwm"] for f in fams)}
    dead = sorted((d for p in people for d in p["dead"]), key=lambda d: d[0])
    for p in people:
        for code, n in p["dead_codes"].items():
            report.dead_letters[code] = report.dead_letters.get(code, 0) + n
    if dead:
        if dead_letters is None:
            raise ValueError(f"{len(dead)} dead letters and nowhere to write them")
        dead_letters.parent.mkdir(parents=True, exist_ok=True)
        with open(dead_letters, "wb") as fh:
            fh.write(b"".join(record + b"\n" for _, record in dead))
    last = max(p["last_recorded"] for p in people)
    report.last_recorded = dates.iso(last) if last else None
    report.seconds["total"] = time.perf_counter() - t0
    SeedWriter(seed_dir, shards).finish({
        "inputs": [{"path": os.path.abspath(p), "bytes": os.path.getsize(p)} for p in inputs],
        "messages": report.messages, "people": report.people, "families": report.families,
        "calendar_keys": report.calendar_keys, "dead_letters": report.dead_letters,
        "last_recorded": report.last_recorded, "workers": workers,
    })
    return report
