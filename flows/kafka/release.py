"""The aligned source's release order, without a broker: which buffered message goes next.

``flows.kafka.source.AlignedKafkaPartition`` reads every input partition and must hand Bytewax
one stream in event-date order (contract §1, ``day``; the rule is in ``AlignedKafkaSource``'s
docstring). The rule itself needs no Kafka: it is a merge of per-partition buffers. So it
lives here, in ``ReleaseBuffer``, which imports no client library and is unit-tested on its
own (tests/flows/kafka/test_release_buffer.py), and the consumer shell only feeds it what it fetched
(``ingest``), the ends it reached (``reached_end``), and carries out what the buffer asks of
the consumer through ``PartitionControl`` (pause, resume, the last fetch's high watermark).

What the buffer owns: one ``Lane`` per Kafka partition (its messages and their sort keys,
how far it was fetched and released, whether it is idle or paused), the heap of lane heads,
the set of *blocking* lanes (empty and not idle: release of dated messages waits for them),
far-future heads taken "out of line", the low watermark, and the bound on buffered messages.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from schemas.codec import FUTURE_HORIZON_DAYS, RawMessage
from state.dates import Day

__all__ = ["UNDATED", "Lane", "PartitionControl", "ReleaseBuffer", "is_tick_key", "sort_key"]

log = logging.getLogger(__name__)

UNDATED = -1
"""Sort key of a message without a usable date: released at once (the decoder dead-letters it)."""

_date_cache: dict[str, int] = {}


def _ordinal(text: str) -> int:
    """``date.toordinal()`` of the first 10 characters, cached: a backlog repeats few dates."""
    head = text[:10]
    d = _date_cache.get(head)
    if d is None:
        d = dt.date.fromisoformat(head).toordinal()
        if len(_date_cache) > 100_000:  # hostile input must not grow the cache without bound
            _date_cache.clear()
        _date_cache[head] = d
    return d


_FIVE_HOURS = dt.timedelta(hours=5)


def _kz_ordinal(text: str) -> int:
    """``date.toordinal()`` of an instant's Kazakhstan (UTC+5) date: the first 10 characters when
    it carries ``+05:00`` (nearly always), else converted (``state.dates.kz_day``)."""
    if len(text) > 19 and text.endswith("+05:00"):
        return _ordinal(text)
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("an instant needs an offset")
    return (when.astimezone(dt.UTC) + _FIVE_HOURS).date().toordinal()


def sort_key(parsed: Any) -> int:
    """Release order of one message: ``2 * day + rank``, or ``UNDATED``.

    ``day`` is the day the message became known: the Kazakhstan date of ``recorded_at`` for a
    life event, of ``received_at`` for an ``sms_reply``, a tick's own ``occurred_on`` (the
    ordering rule, docs/DESIGN.md "Live equals replay"); ``rank`` is 1 for a ``day`` tick so a
    tick sorts after everything known on its day. One int compares faster than a tuple.
    """
    if type(parsed) is not dict:
        return UNDATED
    etype = parsed.get("type")
    if etype == "day":
        text = parsed.get("occurred_on")
        if type(text) is not str:
            return UNDATED
        try:
            return 2 * _ordinal(text) + 1
        except ValueError:
            return UNDATED
    text = parsed.get("received_at") if etype == "sms_reply" else parsed.get("recorded_at")
    if type(text) is not str:
        return UNDATED
    try:
        return 2 * _kz_ordinal(text)
    except ValueError:
        return UNDATED


def is_tick_key(key: int) -> bool:
    """Whether a sort key is a ``day`` tick's (rank 1)."""
    return key >= 0 and key & 1 == 1


class Lane:
    """One Kafka partition inside the buffer: its messages and how far it was read."""

    __slots__ = ("topic", "partition", "index", "keys", "buf", "idle", "paused", "start", "next_fetch",
                 "next_release", "last_date")

    def __init__(self, topic: str, partition: int, index: int, start: int | None) -> None:
        self.topic = topic
        self.partition = partition
        self.index = index  # tie-breaker in the heap: equal dates release in a fixed order
        # Sort keys beside the messages rather than (key, message) pairs: one tracked object
        # less per buffered message keeps the cyclic GC cheaper on a large backlog.
        self.keys: deque[int] = deque()
        self.buf: deque[RawMessage] = deque()
        self.idle = False
        self.paused = False
        self.start = start  # resume offset, None = from the beginning
        self.next_fetch: int | None = start  # offset after the last message fetched
        self.next_release: int | None = start  # offset after the last message released
        self.last_date: int | None = None  # date of the last released dated message

    @property
    def name(self) -> str:
        return f"{self.topic}:{self.partition}"

    def __repr__(self) -> str:
        return f"Lane({self.name}, {len(self.buf)} buffered{', idle' if self.idle else ''})"


class PartitionControl(Protocol):
    """What the buffer asks of the consumer that feeds it."""

    def pause(self, lane: Lane) -> None:
        """Stop fetching ``lane`` (its buffer reached the bound)."""

    def resume(self, lane: Lane) -> None:
        """Fetch ``lane`` again (its buffer drained to half the bound, or it was rewound)."""

    def high_watermark(self, lane: Lane) -> int:
        """The high watermark of the last fetch response of ``lane``, -1 if none yet (no request)."""
        ...


class ReleaseBuffer:
    """Per-partition buffers merged into one release order (the rule: ``AlignedKafkaSource``).

    ``lanes`` are ``(topic, partition, resume offset or None)`` in the fixed order that breaks
    ties between equal keys. ``open_day`` is the flow's open day (``flows.tick_clock``); the
    shell reports each move with ``reopen``. A lane whose buffer reaches ``max_buffered`` is
    paused (``control.pause``) until it drains to half (``control.resume``).

    Invariants: ``_heap`` holds ``(head key, index, lane)`` for exactly the lanes with a
    non-empty buffer; ``_blocking`` holds exactly the lanes with an empty buffer that are not
    idle. Dated messages are released only while ``_blocking`` is empty.
    """

    def __init__(self, lanes: Iterable[tuple[str, int, int | None]], control: PartitionControl, *,
                 max_buffered: int = 20_000, horizon_days: int | None = FUTURE_HORIZON_DAYS,
                 open_day: Day | None = None) -> None:
        self._control = control
        self._max_buffered = max_buffered
        self._horizon = horizon_days
        self.open_day = open_day
        self._lanes: dict[tuple[str, int], Lane] = {}
        for topic, partition, start in lanes:
            self._lanes[(topic, partition)] = Lane(topic, partition, len(self._lanes), start)
        self._heap: list[tuple[int, int, Lane]] = []
        self._blocking: set[Lane] = set(self._lanes.values())
        self._max_date: int | None = None

    @property
    def lanes(self) -> Iterator[Lane]:
        """Every lane, in the fixed order."""
        return iter(self._lanes.values())

    def lane(self, topic: str, partition: int) -> Lane | None:
        return self._lanes.get((topic, partition))

    # -- what the consumer brings --------------------------------------------------------

    def ingest(self, msgs: Iterable[RawMessage]) -> None:
        """Buffer fetched messages (each with ``parsed`` set), in fetch order.

        A message below what its lane already fetched but not below what it released was
        buffered already and is dropped; one below what was released means the partition
        went back (``_rewind``).
        """
        lanes = self._lanes
        heap = self._heap
        blocking = self._blocking
        max_buffered = self._max_buffered
        last_topic, last_pid = "", -1
        lane: Lane  # set on the first message (last_pid starts at -1)
        for raw in msgs:
            topic = raw.topic
            pid: int = raw.partition  # type: ignore[assignment]  # a Kafka message has both
            offset: int = raw.offset  # type: ignore[assignment]
            if pid != last_pid or topic != last_topic:  # fetches come in runs per partition
                lane = lanes[(topic, pid)]
                last_topic, last_pid = topic, pid
            if lane.next_fetch is not None and offset < lane.next_fetch:
                if lane.next_release is None or offset >= lane.next_release:
                    continue  # already buffered (librdkafka should never re-deliver; cheap to be sure)
                self._rewind(lane, offset)
            lane.next_fetch = offset + 1
            key = sort_key(raw.parsed)
            buf = lane.buf
            if not buf:
                heapq.heappush(heap, (key, lane.index, lane))
                blocking.discard(lane)
            lane.idle = False
            lane.keys.append(key)
            buf.append(raw)
            if len(buf) == 2 and self._out_of_line(lane):
                self._rekey()
            if len(buf) >= max_buffered and not lane.paused:
                # Bound memory when one partition's dates run far ahead of another's.
                self._control.pause(lane)
                lane.paused = True

    def reached_end(self, topic: str, partition: int, offset: int) -> None:
        """The consumer reported the end of a partition (EOF) at ``offset``: idle, unless it
        already fetched past there (an EOF from before the last fetch)."""
        lane = self._lanes.get((topic, partition))
        if lane is not None and (lane.next_fetch is None or offset >= lane.next_fetch):
            lane.idle = True
            self._blocking.discard(lane)

    def settle(self) -> list[tuple[Lane, int]]:
        """Settle the lanes that hold release back, when nothing else happens.

        A lane whose last fetch showed its end (high watermark = next offset) is idle. Returns
        the lanes whose resume offset lies beyond the end (a recreated topic, or Tansu
        restarted on memory storage), each with the high watermark: the shell decides when to
        read them from the beginning (``reread``).
        """
        beyond: list[tuple[Lane, int]] = []
        for lane in list(self._blocking):
            if lane.next_fetch is None:
                continue
            high = self._control.high_watermark(lane)
            if high < 0:
                continue
            if lane.next_fetch == high:
                lane.idle = True
                self._blocking.discard(lane)
            elif lane.next_fetch > high and lane.next_fetch == lane.start:
                beyond.append((lane, high))
        return beyond

    def reread(self, lane: Lane) -> None:
        """The shell moved ``lane``'s consumer back to the beginning: take what comes as new."""
        lane.next_fetch = None

    def reopen(self, open_day: Day | None) -> None:
        """The flow's open day moved (a tick's second phase went): a far-future head may now be
        known as such."""
        self.open_day = open_day
        changed = False
        for lane in self._lanes.values():
            if lane.keys and self._out_of_line(lane):
                changed = True
        if changed:
            self._rekey()

    # -- far-future heads, rewinds -------------------------------------------------------

    def _out_of_line(self, lane: Lane) -> bool:
        """Whether the head of ``lane`` is a mistyped future date (2062 for 2026): dated more than
        the horizon after the flow's open day *and* after the message behind it. Left in place it
        would hold its partition back until the calendar reached it; instead it is keyed
        ``UNDATED`` (released at once, for the decoder to quarantine as ``future_date``) and
        moves no watermark. Registries publish in recorded order, so a real record is never that
        far ahead of both the one before it and the one after it in its own partition (a record
        published late, behind newer ones, is older than both). Before the first tick, or before
        the partition released anything, nothing is judged here (the decoder still bounds)."""
        keys, horizon, opened, before = lane.keys, self._horizon, self.open_day, lane.last_date
        if horizon is None or opened is None or before is None or len(keys) < 2 or keys[0] == UNDATED \
                or keys[1] == UNDATED:
            return False
        head = keys[0] >> 1
        if head <= opened + horizon or head - (keys[1] >> 1) <= horizon or head - before <= horizon:
            return False
        keys[0] = UNDATED
        return True

    def _rekey(self) -> None:
        """A head key changed in place: rebuild the heap from the lanes' heads."""
        self._heap[:] = [(e[2].keys[0], e[1], e[2]) for e in self._heap]
        heapq.heapify(self._heap)

    def _rewind(self, lane: Lane, offset: int) -> None:
        """The partition restarted below what was already released: a recreated topic, or an
        offset reset. Re-read from there (at-least-once) and drop the buffer, which follows."""
        log.warning("kafka %s went back from offset %s to %s (offset reset or recreated topic); "
                    "re-reading from there", lane.name, lane.next_release, offset)
        if lane.keys:
            self._heap[:] = [e for e in self._heap if e[2] is not lane]
            heapq.heapify(self._heap)
        lane.keys.clear()
        lane.buf.clear()
        lane.next_fetch = None
        if lane.paused:
            self._control.resume(lane)
            lane.paused = False
        if not lane.idle:
            self._blocking.add(lane)

    # -- release -------------------------------------------------------------------------

    def _caught_up(self, lane: Lane) -> bool:
        """Whether the last fetch already showed the end of ``lane`` (EOF without the wait).

        librdkafka caches the high watermark of every fetch response; if it equals the next
        offset, that fetch reached the end, which is exactly what the later EOF will say.
        """
        if lane.next_fetch is None:
            return False
        high = self._control.high_watermark(lane)
        return 0 <= high == lane.next_fetch

    @property
    def tick_next(self) -> bool:
        """Whether the next message to release is a ``day`` tick."""
        return bool(self._heap) and is_tick_key(self._heap[0][0])

    def release(self, limit: int, out: list[RawMessage] | None = None,
                tick_allowed: bool = True) -> list[RawMessage]:
        """Release up to ``limit`` messages in total into ``out`` (a batch being built).

        A ``day`` tick is released only alone, into an empty ``out``, and only if
        ``tick_allowed`` (the epoch gate is open).
        """
        out = [] if out is None else out
        if out and is_tick_key(sort_key(out[-1].parsed)):
            return out  # a tick closes its batch
        heap = self._heap
        blocking = self._blocking
        control = self._control
        tick_released = False
        while len(out) < limit and heap and not tick_released:
            key = heap[0][0]
            if blocking and key != UNDATED:
                break
            if is_tick_key(key) and (out or not tick_allowed):
                break  # a tick travels alone in its batch, so it opens an epoch of its own
            lane = heapq.heappop(heap)[2]
            # Drain this lane while it stays at or below every other head: one heap
            # operation per run instead of per message.
            bound = UNDATED if blocking else (heap[0][0] if heap else key + (1 << 62))
            keys, buf = lane.keys, lane.buf
            room = limit - len(out)
            last_dated = UNDATED
            opened = self.open_day
            latest = UNDATED if opened is None or self._horizon is None else 2 * (opened + self._horizon) + 1
            while True:
                key = keys.popleft()
                out.append(buf.popleft())
                room -= 1
                if key != UNDATED and (latest == UNDATED or key <= latest):  # a future date moves nothing
                    last_dated = key
                if is_tick_key(key):
                    tick_released = True
                    break
                if not keys or keys[0] > bound or not room or is_tick_key(keys[0]):
                    break
            if last_dated != UNDATED:
                date = last_dated >> 1
                lane.last_date = date
                if self._max_date is None or date > self._max_date:
                    self._max_date = date
            lane.next_release = out[-1].offset + 1  # type: ignore[operator]
            if keys:
                self._out_of_line(lane)
                heapq.heappush(heap, (keys[0], lane.index, lane))
            elif not lane.idle:
                if self._caught_up(lane):
                    lane.idle = True
                else:
                    blocking.add(lane)
            if lane.paused and len(buf) <= self._max_buffered // 2:
                control.resume(lane)
                lane.paused = False
        return out

    # -- observability -------------------------------------------------------------------

    @property
    def at_end(self) -> bool:
        """Every lane read to its end and every buffer released."""
        return not self._heap and all(lane.idle for lane in self._lanes.values())

    @property
    def buffered(self) -> int:
        """Messages fetched but not yet released (waiting for a slower partition)."""
        return sum(len(lane.buf) for lane in self._lanes.values())

    @property
    def watermark_day(self) -> int | None:
        """Low watermark (a ``Day`` ordinal): every message dated before it has been released.

        Each lane that is not idle contributes the date of its buffered head, or, when its
        buffer is empty, the date it last released (``None`` = unknown yet, so no watermark).
        Idle lanes do not hold it back; if all are idle it is the latest released date.
        Assumes each partition is in date order, as the release order does.
        """
        frontier: int | None = None
        for lane in self._lanes.values():
            if lane.keys and lane.keys[0] != UNDATED:
                date: int | None = lane.keys[0] >> 1
            elif lane.idle and not lane.buf:
                continue
            else:
                date = lane.last_date
            if date is None:
                return None
            if frontier is None or date < frontier:
                frontier = date
        return self._max_date if frontier is None else frontier
