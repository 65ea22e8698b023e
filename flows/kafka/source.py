"""Event-date-aligned reading of the input topics: ``AlignedKafkaSource``.

Bytewax's stock ``KafkaSource`` emits each Kafka partition as its own stream, so a backlog of
one topic can race ahead of another and a ``day`` tick could fire before that day's facts were
read. ``AlignedKafkaSource`` merges every input partition into one stream ordered by event
date instead (contract §1, ``day``).

Three parts, each in its own place: ``AlignedKafkaPartition`` here is the consumer shell (it
fetches, reports ends, pauses, resumes and seeks, snapshots and commits); which buffered
message goes next is ``flows.kafka.release.ReleaseBuffer``'s, which needs no broker; how a
tick goes through (alone, through the epoch gate, then its second phase, made-up days first)
is ``flows.tick_barrier.TickBarrier``'s, shared with the file source.

All consumers use manual ``assign()``: offsets live in Bytewax's recovery state, not in a
consumer group, and group joins are slow (seconds on Tansu) for no benefit here.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from flows import metrics
from flows.kafka.clients import GROUP_ID, base_client_config, raise_fatal
from flows.kafka.release import Lane, ReleaseBuffer, is_tick_key, sort_key
from flows.tick_barrier import TickBarrier
from schemas.codec import FUTURE_HORIZON_DAYS, RawMessage

SEQ_KEY = "__seq__"  # resume-state entry holding the release counter, not a partition
DAY_KEY = "__day__"  # resume-state entry holding the last tick's day (flows.tick_clock), not a partition

__all__ = ["DAY_KEY", "SEQ_KEY", "AlignedKafkaPartition", "AlignedKafkaSource", "AlignedState"]

log = logging.getLogger(__name__)

AlignedState = dict[str, int]
"""Resume state of the aligned source: ``"topic:partition"`` -> next offset to read."""

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


class _ConsumerControl:
    """What the release buffer asks of the consumer (``flows.kafka.release.PartitionControl``)."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer
        self.tps: list[TopicPartition] = []  # by lane index

    def pause(self, lane: Lane) -> None:
        self._consumer.pause([self.tps[lane.index]])

    def resume(self, lane: Lane) -> None:
        self._consumer.resume([self.tps[lane.index]])

    def high_watermark(self, lane: Lane) -> int:
        """High watermark from the last fetch response of ``lane`` (-1 if none yet)."""
        try:
            return int(self._consumer.get_watermark_offsets(self.tps[lane.index], cached=True)[1])
        except KafkaException:
            return -1


class AlignedKafkaPartition(StatefulSourcePartition[RawMessage, AlignedState]):
    """The single partition of ``AlignedKafkaSource``; see its docstring for the ordering rule.

    The consumer shell: it feeds the release buffer what it fetches and the ends it reaches,
    settles the partitions that hold release back when idle, and asks the tick barrier when a
    tick may go.
    """

    def __init__(self, bootstrap: str, topics: Sequence[str], resume_state: AlignedState | None, *,
                 step_id: str = "aligned", batch_size: int = 1000, poll_timeout: float = POLL_BACKOFF_MAX,
                 stop_at_end: bool = False, max_buffered: int = 20_000,
                 extra_config: Mapping[str, Any] | None = None, metadata_timeout: float = 10.0,
                 epoch_seconds: float = 0.0, fetch_wait_ms: int = FETCH_WAIT_MS,
                 future_horizon_days: int | None = FUTURE_HORIZON_DAYS) -> None:
        self._epoch_seconds = epoch_seconds
        self._batch_size = batch_size
        self._max_wait = poll_timeout
        self._stop_at_end = stop_at_end
        self._fatal: KafkaError | None = None
        config: dict[str, Any] = {
            **base_client_config(bootstrap),
            "client.id": f"familycard-{step_id}",
            "group.id": GROUP_ID,
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
            self._barrier = TickBarrier(None if day is None else int(day), future_horizon_days, epoch_seconds,
                                        metrics.TICKS_FILLED.inc)
            self._committed_at = float("-inf")
            self._last_state: AlignedState | None = None
            self._control = _ConsumerControl(self._consumer)
            lanes: list[tuple[str, int, int | None]] = []
            for topic in dict.fromkeys(topics):
                tmeta = meta.topics.get(topic)
                if tmeta is None or tmeta.error is not None:
                    why = "does not exist" if tmeta is None else str(tmeta.error)
                    raise ValueError(f"input topic {topic!r} {why}; create it first (ensure_topics)")
                for pid in sorted(tmeta.partitions):
                    start = state.get(f"{topic}:{pid}")
                    lanes.append((topic, pid, start))
                    self._control.tps.append(TopicPartition(topic, pid))
            self._buffer = ReleaseBuffer(lanes, self._control, max_buffered=max_buffered,
                                         horizon_days=future_horizon_days, open_day=self._barrier.open_day)
            self._beyond_since: dict[int, float] = {}  # lane index -> when its resume offset was first seen past the end
            self._wait = 0.0
            self._awake: dt.datetime | None = None
            self._consumer.assign([TopicPartition(topic, pid, OFFSET_BEGINNING if start is None else start)
                                   for topic, pid, start in lanes])
        except BaseException:
            self._consumer.close()
            raise

    # -- Kafka events -------------------------------------------------------------------

    def _on_client_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        log.warning("kafka consumer: %s", err)

    def _ingest(self, msgs: list[Message]) -> None:
        """Fetched messages and partition ends into the release buffer, in fetch order."""
        buffer = self._buffer
        loads = orjson.loads
        raws: list[RawMessage] = []
        # Any: the stubs make every getter Optional; a fetched message always has them.
        for msg in cast(list[Any], msgs):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    if raws:  # the end comes after the messages before it
                        buffer.ingest(raws)
                        raws = []
                    buffer.reached_end(msg.topic(), msg.partition(), msg.offset())
                    continue
                raise_fatal(err)
                log.warning("kafka consumer %s[%s]: %s", msg.topic(), msg.partition(), err)
                continue
            value = msg.value() or b""
            try:
                parsed = loads(value)
            except orjson.JSONDecodeError:
                parsed = None
            ts_type, ts = msg.timestamp()
            raws.append(RawMessage(msg.topic(), value, msg.key(), msg.partition(), msg.offset(),
                                   None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts, parsed))
        if raws:
            buffer.ingest(raws)

    def _check_blocking(self) -> None:
        """Settle the partitions that hold release back, when nothing else happens.

        Caught up: idle (``ReleaseBuffer.settle``). Resume offset beyond the end: a recreated
        topic, or Tansu restarted on memory storage. Kafka answers that with OFFSET_OUT_OF_RANGE
        and librdkafka applies ``auto.offset.reset``; Tansu 0.6 just returns empty fetches and no
        EOF, which would stall release forever. If it lasts ``_BEYOND_END_GRACE`` seconds (a
        new Kafka leader's high watermark can lag for a moment), read from the beginning.
        """
        for lane, high in self._buffer.settle():
            now = time.monotonic()
            since = self._beyond_since.setdefault(lane.index, now)
            if now - since < _BEYOND_END_GRACE:
                continue
            try:
                self._consumer.seek(TopicPartition(lane.topic, lane.partition, OFFSET_BEGINNING))
            except KafkaException as exc:  # not seekable yet: try again on the next idle call
                log.debug("kafka %s: seek failed: %s", lane.name, exc)
                continue
            log.warning("kafka %s: offset %s is beyond the end (%s); reading it again from the beginning",
                        lane.name, lane.next_fetch, high)
            self._buffer.reread(lane)

    # -- Bytewax API ----------------------------------------------------------------------

    def next_batch(self) -> list[RawMessage]:
        if self._fatal is not None:
            raise KafkaException(self._fatal)
        buffer = self._buffer
        if metrics.due("aligned_source"):  # lag per partition and the watermark, once a second
            high = self._control.high_watermark
            metrics.set_kafka_lag((lane.topic, lane.partition, high(lane), lane.next_release)
                                  for lane in buffer.lanes)
            metrics.advance_watermark(buffer.watermark_day)
        # Once per poll: the gate counts polls (flows/epochs.py). A tick at the head waits for
        # an open gate; a second phase or a made-up tick comes from the barrier itself.
        barrier = self._barrier
        held = barrier.poll(buffer.tick_next)
        if held is not None:
            if not held:
                self._awake = barrier.awake_at()
            elif held[0].phase == 2:
                buffer.reopen(barrier.open_day)  # the open day moved: a far-future head may now be known as such
            return barrier.sent(held)
        tick_allowed = barrier.tick_allowed
        out = buffer.release(self._batch_size, None, tick_allowed)
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
                buffer.release(self._batch_size, out, tick_allowed)
                if not out:
                    if self._stop_at_end and buffer.at_end:
                        raise StopIteration
                    first = self._consumer.poll(IDLE_BLOCK)
                    if first is not None:
                        more = self._consumer.consume(self._batch_size - 1, 0) if self._batch_size > 1 else []
                        msgs = [first, *more]
            if msgs:
                fetched = True
                self._ingest(msgs)
                # A tick the fetch brought to the head goes only through an open gate.
                buffer.release(self._batch_size, out, tick_allowed)
        seq = self._seq
        opened = barrier.open_day
        for message in out:
            seq += 1
            message.seq = seq
            message.open_day = opened
        self._seq = seq
        if len(out) == 1 and is_tick_key(sort_key(out[0].parsed)):
            out = barrier.tick(out[0])  # made-up ticks for skipped days first, then this one
        barrier.sent(out)
        if out or fetched:
            self._wait = 0.0
            self._awake = None
        else:
            self._check_blocking()
            if self._stop_at_end and buffer.at_end:
                raise StopIteration
            # Nothing to do: back off 1 ms, 2 ms, ... up to poll_timeout (5 ms), so an idle
            # source does not spin, yet a message that arrives waits at most that long here.
            self._wait = min(self._max_wait, max(0.001, self._wait * 2))
            self._awake = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self._wait)
        return out

    def next_awake(self) -> dt.datetime | None:
        return self._awake

    def snapshot(self) -> AlignedState:
        """Next offset to read per partition: after the last RELEASED message.

        Buffered but unreleased messages are simply read again after a resume. Bytewax calls
        this exactly when it closes the source's epoch, which opens the tick gate.
        """
        self._barrier.boundary()
        state = {lane.name: lane.next_release for lane in self._buffer.lanes if lane.next_release is not None}
        state[SEQ_KEY] = self._seq
        clock = self._barrier.clock
        tick = clock.reading
        if tick is not None:  # between a tick's two phases, or before it: read it again after a resume
            state[f"{tick.topic}:{tick.partition}"] = int(tick.offset or 0)
            state[SEQ_KEY] = tick.seq - 1
        if clock.done is not None:
            state[DAY_KEY] = clock.done
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
        offsets = [TopicPartition(lane.topic, lane.partition, state[lane.name]) for lane in self._buffer.lanes
                   if lane.name in state]
        if not offsets:
            return
        self._committed_at = now
        try:
            if final:  # the last position, before the consumer closes: wait for it
                self._consumer.commit(offsets=offsets, asynchronous=False)
            else:
                self._consumer.commit(offsets=offsets, asynchronous=True)
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
        return self._buffer.at_end

    @property
    def buffered(self) -> int:
        """Messages fetched but not yet released (waiting for a slower partition)."""
        return self._buffer.buffered

    @property
    def watermark_day(self) -> int | None:
        """Low watermark (a ``Day`` ordinal): every message dated before it has been released
        (``ReleaseBuffer.watermark_day``)."""
        return self._buffer.watermark_day


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
