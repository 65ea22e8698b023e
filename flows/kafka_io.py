"""Kafka input and output for the live flows: event-date-aligned reading, batched writing.

Bytewax's stock ``KafkaSource`` emits each Kafka partition as its own stream, so a backlog of
one topic can race ahead of another and a ``day`` tick could fire before that day's facts were
read. ``AlignedKafkaSource`` merges every input partition into one stream ordered by event
date instead (contract §1, ``day``). ``KafkaTopicSink`` replaces the stock sink, which flushes
after every batch and so caps output at a few hundred batches a second.

All consumers use manual ``assign()``: offsets live in Bytewax's recovery state, not in a
consumer group, and group joins are slow (seconds on Tansu) for no benefit here.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from flows import metrics
from flows.epochs import EpochGate
from flows.tick_clock import TickClock
from schemas.codec import FUTURE_HORIZON_DAYS, RawMessage

SEQ_KEY = "__seq__"  # resume-state entry holding the release counter, not a partition
DAY_KEY = "__day__"  # resume-state entry holding the last tick's day (flows.tick_clock), not a partition

__all__ = [
    "SEQ_KEY",
    "AlignedKafkaSource", "AlignedKafkaPartition", "KafkaTopicSink", "KafkaDeliveryError",
    "AlignedState", "ensure_topics", "read_topic", "produce_all", "sort_key", "topics_holding_records",
]

log = logging.getLogger(__name__)

AlignedState = dict[str, int]
"""Resume state of the aligned source: ``"topic:partition"`` -> next offset to read."""

UNDATED = -1
"""Sort key of a message without a usable date: released at once (the decoder dead-letters it)."""

FETCH_WAIT_MS = 10
"""``fetch.wait.max.ms`` of the aligned source's consumer (see ``AlignedKafkaSource``)."""
POLL_BACKOFF_MAX = 0.005
"""Longest pause (s) between two polls of an idle aligned source (see ``AlignedKafkaSource``)."""

COMMIT_EVERY_SECONDS = 1.0
"""At most this often the source commits its position to the consumer group (for lag tooling)."""

IDLE_BLOCK = 0.05
"""With ``epoch_interval = 0``: how long an idle aligned source waits in librdkafka (``poll``)."""

_PART_NAME = "aligned"
_BEYOND_END_GRACE = 2.0
_GROUP_ID = "familycard-aligned"

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


def _is_tick(key: int) -> bool:
    """Whether a sort key is a ``day`` tick's (rank 1)."""
    return key >= 0 and key & 1 == 1


def _base_client_config(bootstrap: str) -> dict[str, Any]:
    # librdkafka's own log lines go to Python logging, not straight to stderr.
    return {"bootstrap.servers": bootstrap, "logger": log}


def _raise_fatal(err: KafkaError) -> None:
    if err.fatal():
        raise KafkaException(err)


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int = 1, *,
                  replication_factor: int = -1, timeout: float = 30.0,
                  extra_config: Mapping[str, Any] | None = None) -> None:
    """Create the missing topics and wait until the broker lists them with leaders.

    Existing topics are left as they are (also their partition count): several processes may
    race to create the same topic, so "already exists" is success. ``replication_factor=-1``
    means the broker's default.
    """
    wanted = list(dict.fromkeys(topics))
    if not wanted:
        return
    admin = AdminClient({**_base_client_config(bootstrap), **(extra_config or {})})
    deadline = time.monotonic() + timeout
    present = admin.list_topics(timeout=timeout).topics
    missing = [t for t in wanted if t not in present]
    if missing:
        futures = admin.create_topics([NewTopic(t, partitions, replication_factor) for t in missing],
                                      operation_timeout=timeout, request_timeout=timeout)
        for topic, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
                log.debug("topic %s already exists", topic)
    while True:
        present = admin.list_topics(timeout=max(0.1, deadline - time.monotonic())).topics
        not_ready = [t for t in wanted if t not in present or present[t].error is not None
                     or not present[t].partitions
                     or any(p.leader < 0 for p in present[t].partitions.values())]
        if not not_ready:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"topics not ready after {timeout} s: {not_ready}")
        time.sleep(0.05)


class _Part:
    """One Kafka partition inside the aligned source: its buffer and how far it was read."""

    __slots__ = ("topic", "partition", "index", "tp", "keys", "buf", "idle", "paused", "start", "next_fetch",
                 "next_release", "last_date", "beyond_since")

    def __init__(self, topic: str, partition: int, index: int, start: int | None) -> None:
        self.topic = topic
        self.partition = partition
        self.index = index  # tie-breaker in the heap: equal dates release in a fixed order
        self.tp = TopicPartition(topic, partition)
        # Sort keys beside the messages rather than (key, message) pairs: one tracked object
        # less per buffered message keeps the cyclic GC cheaper on a large backlog.
        self.keys: deque[int] = deque()
        self.buf: deque[RawMessage] = deque()
        self.idle = False
        self.paused = False
        self.start = start  # resume offset, None = from the beginning
        self.beyond_since: float | None = None  # when the resume offset was first seen past the end
        self.next_fetch: int | None = start  # offset after the last message fetched
        self.next_release: int | None = start  # offset after the last message released
        self.last_date: int | None = None  # date of the last released dated message

    @property
    def name(self) -> str:
        return f"{self.topic}:{self.partition}"


class AlignedKafkaPartition(StatefulSourcePartition[RawMessage, AlignedState]):
    """The single partition of ``AlignedKafkaSource``; see its docstring for the ordering rule.

    Invariants: ``_heap`` holds ``(head key, index, part)`` for exactly the parts with a
    non-empty buffer; ``_blocking`` holds exactly the parts with an empty buffer that are not
    idle. Dated messages are released only while ``_blocking`` is empty.
    """

    def __init__(self, bootstrap: str, topics: Sequence[str], resume_state: AlignedState | None, *,
                 step_id: str = "aligned", batch_size: int = 1000, poll_timeout: float = POLL_BACKOFF_MAX,
                 stop_at_end: bool = False, max_buffered: int = 20_000,
                 extra_config: Mapping[str, Any] | None = None, metadata_timeout: float = 10.0,
                 epoch_seconds: float = 0.0, fetch_wait_ms: int = FETCH_WAIT_MS,
                 future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> None:
        self._epoch_seconds = epoch_seconds
        self._horizon = future_horizon_days
        self._batch_size = batch_size
        self._max_wait = poll_timeout
        self._stop_at_end = stop_at_end
        self._max_buffered = max_buffered
        self._fatal: KafkaError | None = None
        config: dict[str, Any] = {
            **_base_client_config(bootstrap),
            "client.id": f"familycard-{step_id}",
            "group.id": _GROUP_ID,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",  # a resume offset lost to retention: read what is left
            # EOF is only reported after an empty fetch, which the broker holds this long;
            # it bounds how long a partition that just caught up holds the others back
            # (and, on Tansu, how late a new message is seen; see AlignedKafkaSource).
            "fetch.wait.max.ms": fetch_wait_ms,
            "queued.max.messages.kbytes": 16384,
            "error_cb": self._on_client_error,
        }
        config.update(extra_config or {})
        self._consumer = Consumer(config)
        try:
            # Metadata first: assigning before the client knows the leaders costs a 0.5 s
            # offset-query back-off in librdkafka; after it, the first fetch starts at once.
            meta = self._consumer.list_topics(timeout=metadata_timeout)
            state = resume_state or {}
            # Position in the aligned release order: the family stage sorts by it (see Origin.seq).
            self._seq = int(state.get(SEQ_KEY, 0))
            day = state.get(DAY_KEY)
            self._clock = TickClock(None if day is None else int(day), future_horizon_days, metrics.TICKS_FILLED.inc)
            self._committed_at = float("-inf")
            self._last_state: AlignedState | None = None
            self._gate = EpochGate(self._epoch_seconds)
            self._gated_next = False
            self._parts: dict[tuple[str, int], _Part] = {}
            assignment: list[TopicPartition] = []
            for topic in dict.fromkeys(topics):
                tmeta = meta.topics.get(topic)
                if tmeta is None or tmeta.error is not None:
                    why = "does not exist" if tmeta is None else str(tmeta.error)
                    raise ValueError(f"input topic {topic!r} {why}; create it first (ensure_topics)")
                for pid in sorted(tmeta.partitions):
                    start = state.get(f"{topic}:{pid}")
                    part = _Part(topic, pid, len(self._parts), start)
                    self._parts[(topic, pid)] = part
                    assignment.append(TopicPartition(topic, pid, OFFSET_BEGINNING if start is None else start))
            self._heap: list[tuple[int, int, _Part]] = []
            self._blocking: set[_Part] = set(self._parts.values())
            self._max_date: int | None = None
            self._wait = 0.0
            self._awake: dt.datetime | None = None
            self._consumer.assign(assignment)
        except BaseException:
            self._consumer.close()
            raise

    # -- Kafka events -------------------------------------------------------------------

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        log.warning("kafka consumer: %s", err)

    def _on_message_error(self, msg: Any, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            part = self._parts.get((msg.topic(), msg.partition()))
            if part is not None and (part.next_fetch is None or msg.offset() >= part.next_fetch):
                part.idle = True
                self._blocking.discard(part)
            return
        _raise_fatal(err)
        log.warning("kafka consumer %s[%s]: %s", msg.topic(), msg.partition(), err)

    def _ingest(self, msgs: list[Message]) -> None:
        parts = self._parts
        heap = self._heap
        loads = orjson.loads
        last_topic, last_pid = "", -1
        part: _Part  # set on the first message (last_pid starts at -1)
        # Any: the stubs make every getter Optional; a fetched message always has them.
        for msg in cast(list[Any], msgs):
            err = msg.error()
            if err is not None:
                self._on_message_error(msg, err)
                continue
            topic = msg.topic()
            pid = msg.partition()
            offset = msg.offset()
            if pid != last_pid or topic != last_topic:  # fetches come in runs per partition
                part = parts[(topic, pid)]
                last_topic, last_pid = topic, pid
            if part.next_fetch is not None and offset < part.next_fetch:
                if part.next_release is None or offset >= part.next_release:
                    continue  # already buffered (librdkafka should never re-deliver; cheap to be sure)
                self._rewind(part, offset)
            part.next_fetch = offset + 1
            value = msg.value() or b""
            try:
                parsed = loads(value)
            except orjson.JSONDecodeError:
                parsed = None
            key = sort_key(parsed)
            ts_type, ts = msg.timestamp()
            raw = RawMessage(topic, value, msg.key(), pid, offset,
                             None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts, parsed)
            buf = part.buf
            if not buf:
                heapq.heappush(heap, (key, part.index, part))
                self._blocking.discard(part)
            part.idle = False
            part.keys.append(key)
            buf.append(raw)
            if len(buf) == 2 and self._out_of_line(part):
                self._heap[:] = [(e[2].keys[0], e[1], e[2]) for e in self._heap]
                heapq.heapify(self._heap)
            if len(buf) >= self._max_buffered and not part.paused:
                # Bound memory when one partition's dates run far ahead of another's.
                self._consumer.pause([part.tp])
                part.paused = True

    def _out_of_line(self, part: _Part) -> bool:
        """Whether the head of ``part`` is a mistyped future date (2062 for 2026): dated more than
        the horizon after the flow's open day *and* after the message behind it. Left in place it
        would hold its partition back until the calendar reached it; instead it is keyed
        ``UNDATED`` (released at once, for the decoder to quarantine as ``future_date``) and
        moves no watermark. Registries publish in recorded order, so a real record is never that
        far ahead of both the one before it and the one after it in its own partition (a record
        published late, behind newer ones, is older than both). Before the first tick, or before
        the partition released anything, nothing is judged here (the decoder still bounds)."""
        keys, horizon, opened, before = part.keys, self._horizon, self._clock.open_day, part.last_date
        if horizon is None or opened is None or before is None or len(keys) < 2 or keys[0] == UNDATED \
                or keys[1] == UNDATED:
            return False
        head = keys[0] >> 1
        if head <= opened + horizon or head - (keys[1] >> 1) <= horizon or head - before <= horizon:
            return False
        keys[0] = UNDATED
        return True

    def _recheck_heads(self) -> None:
        changed = False
        for part in self._parts.values():
            if part.keys and self._out_of_line(part):
                changed = True
        if changed:
            self._heap[:] = [(e[2].keys[0], e[1], e[2]) for e in self._heap]
            heapq.heapify(self._heap)

    def _rewind(self, part: _Part, offset: int) -> None:
        """The partition restarted below what was already released: a recreated topic, or an
        offset reset. Re-read from there (at-least-once) and drop the buffer, which follows."""
        log.warning("kafka %s went back from offset %s to %s (offset reset or recreated topic); "
                    "re-reading from there", part.name, part.next_release, offset)
        if part.keys:
            self._heap[:] = [e for e in self._heap if e[2] is not part]
            heapq.heapify(self._heap)
        part.keys.clear()
        part.buf.clear()
        part.next_fetch = None
        if part.paused:
            self._consumer.resume([part.tp])
            part.paused = False
        if not part.idle:
            self._blocking.add(part)

    # -- release --------------------------------------------------------------------------

    def _cached_high(self, part: _Part) -> int:
        """High watermark from the last fetch response of ``part`` (-1 if none yet)."""
        try:
            return int(self._consumer.get_watermark_offsets(part.tp, cached=True)[1])
        except KafkaException:
            return -1

    def _caught_up(self, part: _Part) -> bool:
        """Whether the last fetch already showed the end of ``part`` (EOF without the wait).

        librdkafka caches the high watermark of every fetch response; if it equals the next
        offset, that fetch reached the end, which is exactly what the later EOF will say.
        """
        if part.next_fetch is None:
            return False
        high = self._cached_high(part)
        return 0 <= high == part.next_fetch

    def _check_blocking(self) -> None:
        """Settle the partitions that hold release back, when nothing else happens.

        Caught up: idle (as ``_caught_up``). Resume offset beyond the end: a recreated topic,
        or Tansu restarted on memory storage. Kafka answers that with OFFSET_OUT_OF_RANGE and
        librdkafka applies ``auto.offset.reset``; Tansu 0.6 just returns empty fetches and no
        EOF, which would stall release forever. If it lasts ``_BEYOND_END_GRACE`` seconds (a
        new Kafka leader's high watermark can lag for a moment), read from the beginning.
        """
        for part in list(self._blocking):
            if part.next_fetch is None:
                continue
            high = self._cached_high(part)
            if high < 0:
                continue
            if part.next_fetch == high:
                part.idle = True
                self._blocking.discard(part)
            elif part.next_fetch > high and part.next_fetch == part.start:
                now = time.monotonic()
                if part.beyond_since is None:
                    part.beyond_since = now
                if now - part.beyond_since < _BEYOND_END_GRACE:
                    continue
                try:
                    self._consumer.seek(TopicPartition(part.topic, part.partition, OFFSET_BEGINNING))
                except KafkaException as exc:  # not seekable yet: try again on the next idle call
                    log.debug("kafka %s: seek failed: %s", part.name, exc)
                    continue
                log.warning("kafka %s: offset %s is beyond the end (%s); reading it again from the beginning",
                            part.name, part.next_fetch, high)
                part.next_fetch = None

    def _release(self, limit: int, out: list[RawMessage] | None = None,
                 tick_allowed: bool = True) -> list[RawMessage]:
        """Release up to ``limit`` messages in total into ``out`` (a batch being built).

        A ``day`` tick is released only alone, into an empty ``out``, and only if
        ``tick_allowed`` (the epoch gate is open).
        """
        out = [] if out is None else out
        if out and _is_tick(sort_key(out[-1].parsed)):
            return out  # a tick closes its batch
        heap = self._heap
        blocking = self._blocking
        tick_released = False
        while len(out) < limit and heap and not tick_released:
            key = heap[0][0]
            if blocking and key != UNDATED:
                break
            if _is_tick(key) and (out or not tick_allowed):
                break  # a tick travels alone in its batch, so it opens an epoch of its own
            part = heapq.heappop(heap)[2]
            # Drain this partition while it stays at or below every other head: one heap
            # operation per run instead of per message.
            bound = UNDATED if blocking else (heap[0][0] if heap else key + (1 << 62))
            keys, buf = part.keys, part.buf
            room = limit - len(out)
            last_dated = UNDATED
            opened = self._clock.open_day
            latest = UNDATED if opened is None or self._horizon is None else 2 * (opened + self._horizon) + 1
            while True:
                key = keys.popleft()
                out.append(buf.popleft())
                room -= 1
                if key != UNDATED and (latest == UNDATED or key <= latest):  # a future date moves nothing
                    last_dated = key
                if _is_tick(key):
                    tick_released = True
                    break
                if not keys or keys[0] > bound or not room or _is_tick(keys[0]):
                    break
            if last_dated != UNDATED:
                date = last_dated >> 1
                part.last_date = date
                if self._max_date is None or date > self._max_date:
                    self._max_date = date
            part.next_release = out[-1].offset + 1  # type: ignore[operator]
            if keys:
                self._out_of_line(part)
                heapq.heappush(heap, (keys[0], part.index, part))
            elif not part.idle:
                if self._caught_up(part):
                    part.idle = True
                else:
                    blocking.add(part)
            if part.paused and len(buf) <= self._max_buffered // 2:
                self._consumer.resume([part.tp])
                part.paused = False
        return out

    # -- Bytewax API ----------------------------------------------------------------------

    def next_batch(self) -> list[RawMessage]:
        if self._fatal is not None:
            raise KafkaException(self._fatal)
        if metrics.due("aligned_source"):  # lag per partition and the watermark, once a second
            metrics.set_kafka_lag((p.topic, p.partition, self._cached_high(p), p.next_release)
                                  for p in self._parts.values())
            metrics.advance_watermark(self.watermark_day)
        # Once per poll: the gate counts polls (flows/epochs.py). Open = what is emitted now
        # starts an epoch, so a tick may go; closed = wait for Bytewax to close this epoch.
        gate_open = self._gate.open()
        clock = self._clock
        if (clock.busy or self._gated_next or self._tick_next()) and not gate_open:
            self._awake = self._gate.awake_at()
            return []  # wait for an epoch boundary around a tick (see flows/epochs.py)
        if clock.busy:  # a tick's second phase, or a made-up tick for a skipped day (flows.tick_clock)
            tick = clock.next_tick()
            assert tick is not None
            self._gated_next = tick.phase == 2 and not clock.busy
            self._gate.emitted()
            if tick.phase == 2:
                self._recheck_heads()  # the open day moved: a far-future head may now be known as such
            return [tick]
        self._gated_next = False
        out = self._release(self._batch_size, None, gate_open)
        fetched = False
        if len(out) < self._batch_size:
            msgs = self._consumer.consume(self._batch_size, 0)
            if not msgs and not out and self._wait > 0 and self._epoch_seconds <= 0:
                # Idle twice in a row, and every poll is an epoch: Bytewax polls a source only
                # once every earlier epoch has gone through the whole dataflow, on every
                # worker, so nothing waits for this thread. Wait in librdkafka for the first
                # message (or a partition's end), then take what else is there: an idle flow
                # makes ~20 epochs a second instead of one per 5 ms poll. (``poll``, not
                # ``consume``: a batch consume waits for the whole batch or the timeout.)
                self._check_blocking()
                self._release(self._batch_size, out, gate_open)
                if not out:
                    if self._stop_at_end and self.at_end:
                        raise StopIteration
                    first = self._consumer.poll(IDLE_BLOCK)
                    if first is not None:
                        more = self._consumer.consume(self._batch_size - 1, 0) if self._batch_size > 1 else []
                        msgs = [first, *more]
            if msgs:
                fetched = True
                self._ingest(msgs)
                # A tick the fetch brought to the head goes only through an open gate.
                self._release(self._batch_size, out, gate_open)
        seq = self._seq
        opened = clock.open_day
        for message in out:
            seq += 1
            message.seq = seq
            message.open_day = opened
        self._seq = seq
        if len(out) == 1 and _is_tick(sort_key(out[0].parsed)):
            clock.ticks(out[0])  # made-up ticks for skipped days first, then this one
            out = [cast(RawMessage, clock.next_tick())]
        if out:
            self._gate.emitted()
        if out or fetched:
            self._wait = 0.0
            self._awake = None
        else:
            self._check_blocking()
            if self._stop_at_end and self.at_end:
                raise StopIteration
            # Nothing to do: back off 1 ms, 2 ms, ... up to poll_timeout (5 ms), so an idle
            # source does not spin, yet a message that arrives waits at most that long here.
            self._wait = min(self._max_wait, max(0.001, self._wait * 2))
            self._awake = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._wait)
        return out

    def next_awake(self) -> dt.datetime | None:
        return self._awake

    def _tick_next(self) -> bool:
        """Whether the next message to release is a ``day`` tick."""
        return bool(self._heap) and _is_tick(self._heap[0][0])

    def snapshot(self) -> AlignedState:
        """Next offset to read per partition: after the last RELEASED message.

        Buffered but unreleased messages are simply read again after a resume. Bytewax calls
        this exactly when it closes the source's epoch, which opens the tick gate.
        """
        self._gate.boundary()
        state = {p.name: p.next_release for p in self._parts.values() if p.next_release is not None}
        state[SEQ_KEY] = self._seq
        tick = self._clock.reading
        if tick is not None:  # between a tick's two phases, or before it: read it again after a resume
            state[f"{tick.topic}:{tick.partition}"] = int(tick.offset or 0)
            state[SEQ_KEY] = tick.seq - 1
        if self._clock.done is not None:
            state[DAY_KEY] = self._clock.done
        self._commit(state)
        return state

    def _commit(self, state: AlignedState, *, final: bool = False) -> None:
        """Tell the consumer group how far the flow has read (what recovery resumes from), so
        standard lag tooling (``kafka-consumer-groups``, Burrow, exporters) sees the flow. The
        flow itself resumes from its recovery state, never from these."""
        self._last_state = state
        now = time.monotonic()
        if not final and now - self._committed_at < COMMIT_EVERY_SECONDS:
            return  # an epoch can be a few milliseconds: the group needs no commit per batch
        offsets = [TopicPartition(p.topic, p.partition, state[p.name]) for p in self._parts.values()
                   if p.name in state]
        if not offsets:
            return
        self._committed_at = now
        try:
            self._consumer.commit(offsets=offsets, asynchronous=not final)
        except KafkaException as exc:  # a broker without group support, or a rebalance: lag tooling only
            log.debug("kafka: committing offsets for lag tooling failed: %s", exc)

    def close(self) -> None:
        if self._last_state is not None:
            self._commit(self._last_state, final=True)  # the last snapshot's position, whatever the rate limit
        self._consumer.close()

    # -- observability --------------------------------------------------------------------

    @property
    def at_end(self) -> bool:
        """Every partition read to its end and every buffer released."""
        return not self._heap and all(p.idle for p in self._parts.values())

    @property
    def buffered(self) -> int:
        """Messages fetched but not yet released (waiting for a slower partition)."""
        return sum(len(p.buf) for p in self._parts.values())

    @property
    def watermark_day(self) -> int | None:
        """Low watermark (a ``Day`` ordinal): every message dated before it has been released.

        Each partition that is not idle contributes the date of its buffered head, or, when
        its buffer is empty, the date it last released (``None`` = unknown yet, so no
        watermark). Idle partitions do not hold it back; if all are idle it is the latest
        released date. Assumes each partition is in date order, as the release order does.
        """
        frontier: int | None = None
        for part in self._parts.values():
            if part.keys and part.keys[0] != UNDATED:
                date: int | None = part.keys[0] >> 1
            elif part.idle and not part.buf:
                continue
            else:
                date = part.last_date
            if date is None:
                return None
            if frontier is None or date < frontier:
                frontier = date
        return self._max_date if frontier is None else frontier


class AlignedKafkaSource(FixedPartitionedSource[RawMessage, AlignedState]):
    """All partitions of ``topics`` as one stream in event-date order (contract §1, ``day``).

    Every message has a sort key ``(date, rank)``: the date of ``occurred_on`` (of
    ``received_at`` for ``sms_reply``), rank 1 for a ``day`` tick and 0 otherwise, so a tick
    comes after the events of its own date. Messages without JSON or a usable date are
    released at once (the decoder dead-letters them).

    Messages are buffered per Kafka partition, never reordered within one. The head with the
    smallest key across partitions is released, but only while every partition either has a
    buffered message or is **idle**.

    Idle rule: a partition is idle once the consumer has read it to its end (librdkafka's
    partition EOF, or the cached high watermark of the last fetch equalling the next offset);
    its next message makes it busy again. A caught-up partition does not hold the watermark
    back, so in live mode a quiet partition (say ``registry.disability`` on a Sunday) never
    stalls the ticks, while in a backlog every partition holds release back until it has been
    read up to the date. Hence a ``day`` tick D is released only after every partition has
    passed D, and a backlog gives the order of a file replay up to ties within one date. The
    price in live mode: a partition that just delivered a message holds the others back until
    the next fetch shows its end (at most ``fetch.wait.max.ms``).

    Latency (live mode): ``fetch.wait.max.ms`` is ``fetch_wait_ms`` (10 ms by default). On
    Kafka a fetch returns as soon as data arrives, so this only sets how often an idle
    consumer asks; Tansu (the test broker) instead re-polls its storage after sleeping half
    the remaining wait, so a message arriving just after a poll waits up to half of it. An
    idle source polls again after 1, 2, 4 ms, then every ``poll_timeout`` (5 ms); with
    ``epoch_interval = 0`` (where each poll is an epoch, and a poll means the whole dataflow
    is idle) it instead waits in librdkafka's ``poll`` for up to ``IDLE_BLOCK`` (50 ms),
    which returns as soon as a message arrives.

    One partition named ``"aligned"``: global ordering needs one reader, so downstream
    parallelism comes from keyed steps after it. The resume state maps ``"topic:partition"``
    to the offset after the last released message. A partition whose buffer reaches
    ``max_buffered`` is paused until it drains to half, bounding memory when one partition's
    dates run far ahead of another's. Partitions are discovered when the flow starts; ones
    added later are read after a restart.
    """

    def __init__(self, bootstrap: str, topics: Sequence[str], *, batch_size: int = 1000,
                 poll_timeout: float = POLL_BACKOFF_MAX, stop_at_end: bool = False, max_buffered: int = 20_000,
                 extra_config: Mapping[str, Any] | None = None, epoch_seconds: float = 0.0,
                 fetch_wait_ms: int = FETCH_WAIT_MS, future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> None:
        if not topics:
            raise ValueError("AlignedKafkaSource needs at least one topic")
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.stop_at_end = stop_at_end
        self.max_buffered = max_buffered
        self.extra_config = dict(extra_config or {})
        self.epoch_seconds = epoch_seconds
        self.fetch_wait_ms = fetch_wait_ms
        self.future_horizon_days = future_horizon_days

    def list_parts(self) -> list[str]:
        return [_PART_NAME]

    def build_part(self, step_id: str, for_part: str,
                   resume_state: AlignedState | None) -> AlignedKafkaPartition:
        assert for_part == _PART_NAME, for_part
        return AlignedKafkaPartition(self.bootstrap, self.topics, resume_state, step_id=step_id,
                                     batch_size=self.batch_size, poll_timeout=self.poll_timeout,
                                     stop_at_end=self.stop_at_end, max_buffered=self.max_buffered,
                                     extra_config=self.extra_config, epoch_seconds=self.epoch_seconds,
                                     fetch_wait_ms=self.fetch_wait_ms,
                                     future_horizon_days=self.future_horizon_days)


class KafkaDeliveryError(RuntimeError):
    """The broker refused (or never acknowledged) produced messages; ``errors`` has the reasons."""

    def __init__(self, message: str, errors: Sequence[KafkaError] = ()) -> None:
        super().__init__(message)
        self.errors = list(errors)


def _producer_config(bootstrap: str, client_id: str, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        **_base_client_config(bootstrap),
        "client.id": client_id,
        "linger.ms": 10,
        "compression.type": "lz4",
        # Retries keep per-partition order and add no duplicates.
        "enable.idempotence": True,
        # Same key -> partition mapping as Java producers, so other tools agree on it.
        "partitioner": "murmur2_random",
    }
    config.update(extra or {})
    return config


def _new_producer(config: dict[str, Any]) -> Producer:
    try:
        return Producer(config)
    except KafkaException:
        if config.get("compression.type") != "lz4":
            raise
        log.info("librdkafka without lz4: producing uncompressed")
        return Producer({**config, "compression.type": "none"})


class _TopicSinkPartition(StatelessSinkPartition[tuple[bytes | str | None, bytes]]):
    def __init__(self, topic: str, config: dict[str, Any], flush_interval: float) -> None:
        self._topic = topic
        self._errors: list[KafkaError] = []
        self._flush_interval = flush_interval
        self._producer = _new_producer({**config, "delivery.report.only.error": True,
                                        "on_delivery": self._on_delivery})
        self._last_flush = time.monotonic()

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._errors.append(err)

    def _raise_errors(self) -> None:
        if self._errors:
            errors, self._errors = self._errors, []
            raise KafkaDeliveryError(f"{len(errors)} message(s) to {self._topic!r} failed; first: {errors[0]}",
                                     errors)

    def write_batch(self, items: list[tuple[bytes | str | None, bytes]]) -> None:
        self._raise_errors()
        producer = self._producer
        topic = self._topic
        for key, value in items:
            while True:
                try:
                    producer.produce(topic, value, key)
                    break
                except BufferError:  # local queue full: let librdkafka send some first
                    producer.poll(0.05)
        producer.poll(0)
        if time.monotonic() - self._last_flush >= self._flush_interval:
            self._flush(10.0)
        self._raise_errors()

    def _flush(self, timeout: float) -> int:
        left = self._producer.flush(timeout)
        self._last_flush = time.monotonic()
        if left:
            log.warning("kafka sink %s: %d message(s) still unacknowledged after %.1f s", self._topic, left, timeout)
        return left

    def close(self) -> None:
        left = self._flush(60.0)
        self._raise_errors()
        if left:
            raise KafkaDeliveryError(f"{left} message(s) to {self._topic!r} not acknowledged on close")


class KafkaTopicSink(DynamicSink[tuple[bytes | str | None, bytes]]):
    """Writes ``(key, value)`` pairs to one topic, one asynchronous producer per worker.

    Messages are produced asynchronously (``linger.ms`` 10, lz4) and flushed every
    ``flush_interval`` seconds and on close, instead of after every batch as the stock
    ``KafkaSink`` does. A failed delivery raises ``KafkaDeliveryError`` on the next write (or
    on close), never silently.

    Delivery is at-least-once: a resumed flow replays from its last snapshot, so outputs of
    the replayed inputs are written again; consumers de-duplicate by the records' stable ids
    (``notification_id``). The one hole: messages still queued in the producer when the
    process dies hard, after a snapshot already covered their inputs (at most about one
    ``flush_interval`` of output). Closing it (flush before snapshot, or transactions for
    exactly-once) is a later step.
    """

    def __init__(self, bootstrap: str, topic: str, *, extra_config: Mapping[str, Any] | None = None,
                 flush_interval: float = 0.5) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.extra_config = dict(extra_config or {})
        self.flush_interval = flush_interval

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TopicSinkPartition:
        config = _producer_config(self.bootstrap, f"familycard-{step_id}-{worker_index}", self.extra_config)
        return _TopicSinkPartition(self.topic, config, self.flush_interval)


def topics_holding_records(bootstrap: str, topics: Sequence[str], *, timeout: float = 10.0,
                           extra_config: Mapping[str, Any] | None = None) -> list[str]:
    """Those of ``topics`` that hold at least one record (a partition whose high watermark is
    above its low one); a topic that does not exist holds none."""
    consumer = Consumer({**_base_client_config(bootstrap), **(extra_config or {}), "group.id": _GROUP_ID + "-probe",
                         "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(timeout=timeout).topics
        full = []
        for topic in topics:
            tmeta = meta.get(topic)
            if tmeta is None or tmeta.error is not None:
                continue
            for pid in tmeta.partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, pid), timeout=timeout)
                if high > max(low, 0):
                    full.append(topic)
                    break
        return full
    finally:
        consumer.close()


def read_topic(bootstrap: str, topic: str, *, timeout: float = 10.0,
               start: Mapping[int, int] | None = None,
               extra_config: Mapping[str, Any] | None = None) -> list[tuple[bytes | None, bytes]]:
    """Every ``(key, value)`` of ``topic`` from the beginning to its end now, by partition then offset.

    ``start`` gives, per partition, the first offset to read instead of the beginning.

    The end is where the consumer reports partition EOF, not ListOffsets: Tansu 0.6 answers
    ListOffsets(latest) with the last record batch's base offset + 1, not the log end.
    """
    deadline = time.monotonic() + timeout
    consumer = Consumer({**_base_client_config(bootstrap), **(extra_config or {}), "group.id": _GROUP_ID + "-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True, "fetch.wait.max.ms": 20})
    try:
        tmeta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if tmeta is None or tmeta.error is not None:
            raise ValueError(f"topic {topic!r} is not readable: {None if tmeta is None else tmeta.error}")
        got: dict[int, list[tuple[bytes | None, bytes]]] = {pid: [] for pid in tmeta.partitions}
        pending = set(got)
        first = start or {}
        consumer.assign([TopicPartition(topic, pid, first.get(pid, OFFSET_BEGINNING)) for pid in sorted(got)])
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"read_topic({topic!r}): partitions {sorted(pending)} not read to their end")
            msg: Any
            for msg in consumer.consume(1000, min(left, 0.1)):
                err = msg.error()
                if err is None:
                    got[msg.partition()].append((msg.key(), msg.value() or b""))
                elif err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                else:
                    _raise_fatal(err)
                    log.warning("read_topic %s: %s", topic, err)
        return [kv for pid in sorted(got) for kv in got[pid]]
    finally:
        consumer.close()


def produce_all(bootstrap: str, messages: Iterable[tuple[str, bytes | str | None, bytes]], *,
                timeout: float = 30.0) -> int:
    """Produce ``(topic, key, value)`` in order and wait for all of them; returns the count."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    producer = _new_producer({**_producer_config(bootstrap, "familycard-produce-all", None),
                              "linger.ms": 5, "delivery.report.only.error": True, "on_delivery": on_delivery})
    n = 0
    for topic, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(timeout)
    if errors:
        raise KafkaDeliveryError(f"{len(errors)} message(s) failed; first: {errors[0]}", errors)
    if left:
        raise KafkaDeliveryError(f"{left} message(s) not acknowledged within {timeout} s")
    return n
