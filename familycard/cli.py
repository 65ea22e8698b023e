"""``familycard`` command line (contract §3): ``run`` and ``generate``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from familycard.logs import FORMATS, LEVELS
from familycard.logs import setup as setup_logs

if TYPE_CHECKING:
    from familycard.whatif import WhatifConfig
    from flows.config import ClusterConfig, LogConfig, RunConfig

__all__ = ["main", "Population", "run_config", "whatif_config", "config_of"]

OUTPUT_FILES = ("notifications.jsonl", "assignments.jsonl", "dead-letters.jsonl", "outcomes.jsonl")
DEFAULT_FAMILIES = 10_000
DEFAULT_START = "2026-01-01"
DEFAULT_DAYS = 365


def _add_population_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--families", type=int, default=DEFAULT_FAMILIES, help="synthetic families")
    p.add_argument("--start", default=DEFAULT_START, help="first day of the period (YYYY-MM-DD)")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS, help="length of the period in days")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same population)")
    p.add_argument("--bad-fraction", type=float, default=0.0,
                   help="share of messages replaced by typical bad input (to exercise dead letters)")


class _Deprecated(argparse.Action):
    """``load --seed DIR``: the old name of ``--seed-dir`` (``--seed`` is a random number for
    ``run`` and ``generate``); still accepted, with a warning."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option: str | None = None) -> None:
        print(f"familycard load: {option} DIR is deprecated, use --seed-dir DIR", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="familycard", description=__doc__)
    parser.add_argument("--log-level", choices=LEVELS, default=os.environ.get("FAMILYCARD_LOG_LEVEL", "info"),
                        help="log level (info; also FAMILYCARD_LOG_LEVEL)")
    parser.add_argument("--log-format", choices=FORMATS, default=os.environ.get("FAMILYCARD_LOG_FORMAT", "text"),
                        help="text, or json: one JSON object a line for log collectors (also FAMILYCARD_LOG_FORMAT)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the flows: embedded default, a file replay, or live on Kafka")
    src = run.add_mutually_exclusive_group()
    src.add_argument("--input", type=Path, help="replay a JSON-lines file of messages of all topics")
    src.add_argument("--kafka", metavar="HOST:PORT", help="live mode on the contract's Kafka topics")
    run.add_argument("--output", type=Path, default=Path("out"), help="output directory (file modes)")
    run.add_argument("--workers", type=int, default=1, help="Bytewax worker processes")
    run.add_argument("--recovery", type=Path, help="Bytewax recovery directory")
    run.add_argument("--epoch-seconds", type=float, default=None,
                     help="Bytewax epoch interval; 0 makes every batch an epoch. Default: 0, except "
                          "live mode (--kafka) with --recovery: 0.25, so that snapshots are not written "
                          "per poll. Day ticks are barriers either way (see docs/DESIGN.md, 'Epochs and "
                          "latency')")
    run.add_argument("--state", choices=("live", "packed"), default="live",
                     help="how the person and family stages hold their slots: live objects (fast) or "
                          "pickled between uses (less than half the memory per person, ~65%% more CPU); "
                          "see docs/DESIGN.md, 'Sharded state'")
    run.add_argument("--shards", type=int,
                     help="Bytewax keys of the person and family stages (default 4096); a recovery "
                          "directory must always be used with the same number")
    run.add_argument("--initial-state", type=Path, metavar="SEED",
                     help="start from a seed built by `familycard load` (the population load as a batch "
                          "job) instead of an empty state; with --recovery, keys that have recovery state "
                          "keep it. Needs the seed's --shards")
    run.add_argument("--stop-at-end", action="store_true",
                     help="Kafka mode: stop once every input partition is read to its end")
    run.add_argument("--future-horizon-days", type=int, default=31, metavar="N",
                     help="a record dated more than N days past the flow's day (the last day tick) is quarantined "
                          "as a future_date dead letter, and a day tick further ahead is not believed (31)")
    run.add_argument("--kafka-config", type=Path, metavar="FILE",
                     help="Kafka mode: a TOML file of client properties (TLS, SASL, client.id, the consumer group), "
                          "topic names, partitions and replication (flows/kafka/config.py; also "
                          "FAMILYCARD_KAFKA_CONFIG and FAMILYCARD_KAFKA_* variables)")
    run.add_argument("--from-beginning", action="store_true",
                     help="Kafka mode: read the inputs from offset 0 even though the output topics already hold "
                          "records and there is no recovery state (a deliberate replay; see deploy/README.md)")
    run.add_argument("--input-prefix", default="", help="Kafka mode: prefix of the input topic names")
    run.add_argument("--output-prefix", default="", help="Kafka mode: prefix of the output topic names")
    run.add_argument("--simulate-citizens", action=argparse.BooleanOptionalAction, default=None,
                     help="simulated citizens answer the offers (default: on for the embedded run, "
                          "off for --input and --kafka, where replies come from the input)")
    run.add_argument("--metrics-address", default=os.environ.get("FAMILYCARD_METRICS_ADDRESS") or "127.0.0.1",
                     metavar="ADDR", help="address the metrics, /healthz and /readyz server binds (127.0.0.1; "
                                          "0.0.0.0 to be scraped from other hosts or containers)")
    run.add_argument("--metrics-port", type=int, default=int(os.environ.get("FAMILYCARD_METRICS_PORT") or 0),
                     help="serve Prometheus metrics (ours and Bytewax's) on this port; process I of a cluster "
                          "serves PORT+I; 0 = off (default; env FAMILYCARD_METRICS_PORT)")
    run.add_argument("--process-id", type=int,
                     help="this process's index in a cluster started by hand (one container per process); "
                          "with --addresses")
    run.add_argument("--addresses", help='every cluster process as host:port, ";"-separated, e.g. '
                                         '"flow-0:2101;flow-1:2101" (the same list, in the same order, everywhere)')
    _add_population_args(run)

    gen = sub.add_parser("generate", help="write a synthetic population and its life events as JSON lines")
    _add_population_args(gen)
    gen.add_argument("--output", type=Path, help="file to write (default: standard output)")
    gen.add_argument("--part", type=int, default=0,
                     help="generate only part K (0-based) of --parts: the families with global indices "
                          "K, K+P, K+2P, ... of --families in all, with ids, IINs, phones and event ids that "
                          "no other part uses (run the parts in parallel processes; memory ~ families/parts)")
    gen.add_argument("--parts", type=int, default=1, help="how many parts the population is split into (1)")
    gen.add_argument("--load-only", action="store_true",
                     help="write only the population load (registrations and late records), not the "
                          "period's events and day ticks; the period is not simulated")

    load = sub.add_parser("load", help="the population load as a batch job: build a seed that `run "
                                       "--initial-state` starts from (see docs/DESIGN.md, 'Bulk load')")
    load.add_argument("--input", type=Path, action="append", required=True,
                      help="JSON lines of load messages (registrations and late records); repeat for "
                           "several files, read in the order given")
    where = load.add_mutually_exclusive_group(required=True)
    where.add_argument("--seed-dir", dest="seed", type=Path, metavar="DIR",
                       help="directory to create the seed in (new or empty)")
    where.add_argument("--seed", dest="seed", type=Path, action=_Deprecated, help=argparse.SUPPRESS)
    load.add_argument("--dead-letters", type=Path, help="where dead letters go (default: SEED/dead-letters.jsonl)")
    load.add_argument("--workers", type=int, default=1, help="worker processes")
    load.add_argument("--shards", type=int, help="shards of the flow that will start from it (default 4096)")

    wif = sub.add_parser("whatif", help="replay a history under the baseline and under reforms of "
                                        "rules/parameters.json, and report who gains, who loses, and the cost "
                                        "(docs/WHATIF.md)")
    wif.add_argument("--input", type=Path, required=True, help="JSON lines of messages of all topics")
    wif.add_argument("--reform", type=Path, action="append", required=True,
                     help="a reform: JSON in the shape of rules/parameters.json (any subset, and a label); "
                          "repeat to compare several, each with the baseline")
    wif.add_argument("--output", type=Path, required=True, help="directory for summary.json, diff.jsonl, "
                                                                "report.html (one reform) or one per reform")
    wif.add_argument("--initial-state", type=Path, metavar="SEED", help="start from a seed (`familycard load`)")
    wif.add_argument("--workers", type=int, default=1, help="Bytewax worker processes")
    wif.add_argument("--shards", type=int, help="shards of the sharded stages (a seed's own count)")
    wif.add_argument("--simulate-citizens", action=argparse.BooleanOptionalAction, default=True,
                     help="answer each side's offers with the embedded citizen simulator (default: on)")
    wif.add_argument("--future-horizon-days", type=int, default=31, metavar="N", help="as for `run`")
    wif.add_argument("--process-id", type=int, help=argparse.SUPPRESS)
    wif.add_argument("--addresses", help=argparse.SUPPRESS)

    rec = sub.add_parser("recovery", help="manage Bytewax recovery partitions")
    rec_sub = rec.add_subparsers(dest="recovery_command", required=True)
    init = rec_sub.add_parser("init", help="create empty recovery partitions (once, before the first run)")
    init.add_argument("dir", type=Path)
    init.add_argument("--partitions", type=int, default=1,
                      help="number of partitions (at least the number of worker processes)")

    sim = sub.add_parser("simulate-citizens", help="Kafka mode: answer the offers in `notifications` "
                                                   "on `sms.replies`, as simulated citizens would")
    sim.add_argument("--kafka", metavar="HOST:PORT", required=True)
    sim.add_argument("--notifications-topic", default="notifications")
    sim.add_argument("--replies-topic", default="sms.replies")
    sim.add_argument("--stop-at-end", action="store_true", help="stop once caught up with the notifications")

    tick = sub.add_parser("tick", help="the calendar scheduler: produce one `day` message per day to Kafka "
                                       "(catching up from the last one on the topic)")
    tick.add_argument("--kafka", metavar="HOST:PORT", required=True)
    tick.add_argument("--topic", default="calendar")
    tick.add_argument("--start", type=dt.date.fromisoformat,
                      help="first day to tick when the topic holds none (default: yesterday)")
    tick.add_argument("--utc-offset", type=float, default=5.0, help="local time zone, hours from UTC (5)")
    tick.add_argument("--grace-minutes", type=float, default=10.0,
                      help="wait this long after local midnight before ticking the day that ended")
    tick.add_argument("--once", action="store_true", help="produce the ticks due now and exit")

    prod = sub.add_parser("produce", help="send a JSON-lines file of messages of all topics to Kafka, each to "
                                          "its contract topic by type (a demo load, a replay of dead letters)")
    prod.add_argument("--kafka", metavar="HOST:PORT", required=True)
    prod.add_argument("--input", type=Path, required=True)
    prod.add_argument("--topic-prefix", default="", help="prefix of the topic names")
    prod.add_argument("--unreadable-topic", default="registry.status",
                      help="topic for lines that are not JSON or have no known type (the flow dead-letters them)")
    return parser


@dataclass(frozen=True)
class Population:
    """What ``generate`` (and the embedded ``run``, before it replays) synthesizes: ``families``
    over ``days`` from ``start`` with ``seed``; part ``part`` of ``parts`` (``generate --part``);
    only the population load (``load_only``); ``bad_fraction`` of the messages replaced by bad input."""

    families: int
    start: dt.date
    days: int
    seed: int
    bad_fraction: float
    part: int = 0
    parts: int = 1
    load_only: bool = False


def _population(args: argparse.Namespace) -> Population:
    """``generate``'s population, or the embedded ``run``'s (the whole of it: no parts)."""
    parts = {"part": args.part, "parts": args.parts, "load_only": args.load_only} if args.command == "generate" else {}
    return Population(args.families, dt.date.fromisoformat(args.start), args.days, args.seed, args.bad_fraction,
                      **parts)


def _messages(pop: Population):  # type: ignore[no-untyped-def]
    from familycard.generator import generate, part_families
    from familycard.progress import Progress, counted

    # ~19.5 messages a family for the population load, ~0.023 a family and day after it, one tick a day
    families = part_families(pop.families, pop.part, pop.parts)
    estimate = (families * (19.5 + 0.023 * pop.days) + pop.days if not pop.load_only else families * 19.5) \
        * (1 + pop.bad_fraction / 5)
    progress = Progress("generate", estimate, approximate=True)
    return counted(generate(pop.families, pop.start, pop.days, pop.seed,
                            part=pop.part, parts=pop.parts, load_only=pop.load_only), progress)


def _write_events(pop: Population, out) -> int:  # type: ignore[no-untyped-def]
    from familycard.generator import corrupt, part_seed, write_jsonl

    if pop.bad_fraction > 0:
        n = 0
        seed = part_seed(pop.seed, pop.part, pop.parts)
        for line in corrupt(_messages(pop), pop.bad_fraction, seed):
            out.write(line + b"\n")
            n += 1
        return n
    return write_jsonl(_messages(pop), out)


def cmd_generate(args: argparse.Namespace) -> int:
    if args.parts < 1 or not 0 <= args.part < args.parts:
        print(f"familycard generate: --part must be in 0..--parts-1 (got --part {args.part} --parts {args.parts})",
              file=sys.stderr)
        return 2
    pop = _population(args)
    if args.output:
        with open(args.output, "wb") as fh:
            n = _write_events(pop, fh)
    else:
        n = _write_events(pop, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    print(f"generated {n} messages", file=sys.stderr)
    return 0


def _cluster(args: argparse.Namespace) -> ClusterConfig:
    from flows.config import ClusterConfig

    return ClusterConfig(args.workers, args.process_id, tuple(args.addresses.split(";")) if args.addresses else None)


def _logs(args: argparse.Namespace) -> LogConfig:
    from flows.config import LogConfig

    return LogConfig(args.log_level, args.log_format)


def run_config(args: argparse.Namespace) -> RunConfig:
    """``run``'s configuration from its parsed flags: every default resolved here, once. A
    cluster's members parse the flags their parent wrote back (``RunConfig.child_argv``), in
    which nothing is left to a default."""
    from flows.config import FileConfig, KafkaSettings, MetricsConfig, RunConfig, StateConfig
    from flows.runner import default_epoch_seconds
    from flows.shards import DEFAULT_SHARDS

    live = args.kafka is not None or args.kafka_config is not None
    epoch = args.epoch_seconds if args.epoch_seconds is not None else \
        default_epoch_seconds(live=live, recovery=args.recovery is not None)
    simulate = bool(args.simulate_citizens) if args.simulate_citizens is not None else args.input is None and not live
    kafka_file = args.kafka_config or os.environ.get("FAMILYCARD_KAFKA_CONFIG")
    return RunConfig(
        epoch_seconds=epoch, future_horizon_days=args.future_horizon_days, simulate_citizens=simulate,
        state=StateConfig(args.shards if args.shards is not None else DEFAULT_SHARDS, args.state == "packed",
                          args.initial_state, args.recovery),
        cluster=_cluster(args),
        metrics=MetricsConfig(args.metrics_port, args.metrics_address),
        logs=_logs(args),
        # the embedded default (no --input) replays what it generates into the output directory
        file=None if live else FileConfig(args.input if args.input is not None else args.output / "events.jsonl",
                                          args.output),
        kafka=KafkaSettings(args.kafka, Path(kafka_file) if kafka_file else None, args.input_prefix,
                            args.output_prefix, args.stop_at_end, args.from_beginning) if live else None,
    )


def config_of(argv: Sequence[str]) -> RunConfig | WhatifConfig:
    """The configuration ``familycard <argv>`` runs ``run`` or ``whatif`` with (what a cluster's
    member reads back from the argv its parent gave it)."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_config(args)
    if args.command == "whatif":
        return whatif_config(args)
    raise ValueError(f"{args.command} has no configuration object")


def whatif_config(args: argparse.Namespace) -> WhatifConfig:
    """``whatif``'s configuration from its parsed flags (as ``run_config``)."""
    from familycard.whatif import WhatifConfig
    from flows.shards import DEFAULT_SHARDS

    # no recovery: a what-if is a batch job, rerun from the start (no snapshots)
    return WhatifConfig(
        input=args.input, reforms=tuple(args.reform), output=args.output,
        simulate_citizens=bool(args.simulate_citizens), future_horizon_days=args.future_horizon_days,
        shards=args.shards or DEFAULT_SHARDS, initial_state=args.initial_state, cluster=_cluster(args),
        logs=_logs(args))


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def _start_metrics(config: RunConfig) -> None:
    """Serve metrics from each process that runs the dataflow (not from a cluster's launcher:
    its members serve them, told the port in their configuration)."""
    from flows import metrics

    if config.cluster.launches and config.metrics.port:
        return
    metrics.start(config.metrics.port, config.cluster.process_id, addr=config.metrics.address)


def _replay_progress(input_path: Path):  # type: ignore[no-untyped-def]
    """Progress of a file replay: decoded input messages against the file's line count."""
    from familycard.progress import Progress, watch
    from flows import metrics

    base = metrics.input_total()  # counters are per process, and a test may run several flows in one
    return watch(lambda: metrics.input_total() - base, Progress("replay", _count_lines(input_path)))


def cmd_run(args: argparse.Namespace) -> int:
    from familycard.summary import format_summary, summarize_files
    from flows.runner import ensure_recovery, run_cluster, run_local
    from flows.shards import StateSettings

    config = run_config(args)
    cluster = config.cluster
    if cluster.workers < 1:
        print(f"familycard run: --workers must be at least 1 (got {cluster.workers})", file=sys.stderr)
        return 2
    from store.seed import SeedError, SeedReader

    st = config.state
    try:  # how the sharded stages hold state: one object, passed down (built in each process from the config)
        state = StateSettings(st.shards, st.packed, SeedReader(st.initial_state) if st.initial_state else None,
                              snapshots=st.recovery is not None)
    except (SeedError, ValueError) as exc:
        print(f"familycard run: {exc}", file=sys.stderr)
        return 2
    _start_metrics(config)
    if config.kafka is not None:
        return _run_kafka(config, state)

    assert config.file is not None
    out, input_path = config.file.output, config.file.input
    embedded = args.input is None
    if not embedded and not input_path.is_file():
        print(f"familycard run: no such input file: {input_path}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    if embedded:  # the embedded default: generate, then replay like any file
        t0 = time.perf_counter()
        with open(input_path, "wb") as fh:
            n = _write_events(_population(args), fh)
        print(f"generated {n} messages for {args.families} families over {args.days} days "
              f"in {time.perf_counter() - t0:.1f} s -> {input_path}")

    if cluster.is_member:  # one member of a cluster started by run_cluster
        with _replay_progress(input_path):
            run_local(_file_flow(input_path, out, config.simulate_citizens, config.epoch_seconds,
                                 config.future_horizon_days, state),
                      process_id=cluster.process_id,
                      addresses=list(cluster.addresses or ()), recovery_dir=st.recovery,
                      epoch_seconds=config.epoch_seconds)
        return 0

    from familycard.summary import accounted_now

    before = accounted_now()
    t0 = time.perf_counter()
    if cluster.launches:
        if st.recovery is not None:
            ensure_recovery(st.recovery, cluster.workers)  # once, before the processes start
        run_cluster(config.child_argv(), cluster.workers)
    else:
        with _replay_progress(input_path):
            run_local(_file_flow(input_path, out, config.simulate_citizens, config.epoch_seconds,
                                 config.future_horizon_days, state),
                      recovery_dir=st.recovery,
                      epoch_seconds=config.epoch_seconds)
    summary = summarize_files(out)
    summary.seconds = time.perf_counter() - t0
    summary.input_messages = _count_lines(input_path)
    if cluster.workers == 1:  # the counters live in this process; a cluster's are in its members
        after = accounted_now()
        summary.accounted = {k: after[k] - before[k] for k in after}
    print(format_summary(summary))
    print(f"outputs in {out}/: {', '.join(OUTPUT_FILES)}")
    return 0


def _file_flow(input_path: Path, out: Path, simulate_citizens: bool = False,  # type: ignore[no-untyped-def]
               epoch_seconds: float = 0.0, future_horizon_days: int | None = 31, state=None):
    from flows.dataflow import Outputs, build_flow
    from flows.files import JsonLinesSink, JsonLinesSource

    return build_flow(
        JsonLinesSource(input_path, epoch_seconds=epoch_seconds, future_horizon_days=future_horizon_days),
        Outputs(*(JsonLinesSink(out / name) for name in OUTPUT_FILES)),
        simulate_citizens=simulate_citizens, future_horizon_days=future_horizon_days, state=state,
    )


def _run_kafka(config: RunConfig, state: Any) -> int:
    from flows.kafka.flow import run_kafka

    return run_kafka(config, state)


def cmd_simulate_citizens(args: argparse.Namespace) -> int:
    from flows.kafka.citizens import simulate_citizens

    n = simulate_citizens(args.kafka, args.notifications_topic, args.replies_topic, stop_at_end=args.stop_at_end)
    print(f"sent {n} simulated replies to {args.replies_topic}", file=sys.stderr)
    return 0


def cmd_tick(args: argparse.Namespace) -> int:

    from familycard.scheduler import run_scheduler

    tz = dt.timezone(dt.timedelta(hours=args.utc_offset))
    n = run_scheduler(args.kafka, args.topic, first=args.start, tz=tz,
                      grace=dt.timedelta(minutes=args.grace_minutes), once=args.once)
    print(f"sent {n} day tick(s) to {args.topic}", file=sys.stderr)
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    import orjson

    from familycard.progress import Progress, counted
    from flows.kafka.admin import ensure_topics, produce_all
    from flows.topics import INPUT_TOPICS, topic_of

    def messages():  # type: ignore[no-untyped-def]
        with open(args.input, "rb") as fh:
            for line in fh:
                value = line.rstrip(b"\r\n")
                if not value.strip():
                    continue
                try:
                    parsed = orjson.loads(value)
                except orjson.JSONDecodeError:
                    parsed = None
                key = None  # contract §1: the subject's IIN; a reply's phone; one key for all ticks
                if isinstance(parsed, dict):
                    etype = parsed.get("type")
                    k = {"sms_reply": parsed.get("phone"), "day": "day"}.get(etype, parsed.get("iin")) \
                        if isinstance(etype, str) else None
                    key = k.encode() if isinstance(k, str) else None
                yield args.topic_prefix + topic_of(parsed, default=args.unreadable_topic), key, value

    prefixed = [args.topic_prefix + t for t in (*INPUT_TOPICS, args.unreadable_topic)]
    ensure_topics(args.kafka, prefixed)
    n = produce_all(args.kafka, counted(messages(), Progress("produce", _count_lines(args.input))))
    print(f"produced {n} messages", file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from flows.bulk_load import LoadRefused, bulk_load
    from flows.shards import DEFAULT_SHARDS

    shards = args.shards or DEFAULT_SHARDS
    dead = args.dead_letters or args.seed / "dead-letters.jsonl"
    try:
        r = bulk_load(args.input, args.seed, dead_letters=dead, workers=args.workers, shards=shards)
    except (LoadRefused, FileExistsError) as exc:
        print(f"familycard load: {exc}", file=sys.stderr)
        return 2
    dl = sum(r.dead_letters.values())
    print(f"loaded {r.messages} messages in {r.seconds['total']:.1f} s ({r.messages / r.seconds['total']:,.0f}/s, "
          f"{args.workers} worker(s)): {r.people} person slots, {r.families} families, {r.calendar_keys} calendar "
          f"keys; {dl} dead letter(s)"
          + (f" ({', '.join(f'{c} {n}' for c, n in sorted(r.dead_letters.items()))}) -> {dead}" if dl else ""))
    print(f"seed {args.seed} ({shards} shards): " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in r.seed_bytes.items())
          + f"; last recorded {r.last_recorded}: start the stream after it with `run --initial-state {args.seed}`")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from flows.runner import ClusterFailed

    try:
        return _main(argv)
    except ClusterFailed as exc:  # one clear line, not a traceback: the processes said why above
        print(f"familycard: {exc}", file=sys.stderr)
        return 1


def _main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logs(args.log_level, args.log_format)
    if args.command == "generate":
        return cmd_generate(args)
    if args.command == "simulate-citizens":
        return cmd_simulate_citizens(args)
    if args.command == "tick":
        return cmd_tick(args)
    if args.command == "produce":
        return cmd_produce(args)
    if args.command == "load":
        return cmd_load(args)
    if args.command == "whatif":
        from familycard.whatif import main as whatif_main

        return whatif_main(whatif_config(args))
    if args.command == "recovery":
        from flows.runner import init_recovery

        init_recovery(args.dir, args.partitions)
        print(f"initialised {args.partitions} recovery partition(s) in {args.dir}", file=sys.stderr)
        return 0
    return cmd_run(args)
