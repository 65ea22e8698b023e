"""Live mode: the same dataflow between the contract's Kafka topics (``flows.dataflow``, with the
sources and sinks of this package)."""

from __future__ import annotations

import logging
import re
import sys
import time

from bytewax.dataflow import Dataflow

from flows.config import KafkaSettings, RunConfig
from flows.dataflow import Outputs, build_flow
from flows.kafka.admin import ensure_topics
from flows.kafka.config import ConfigError, KafkaConfig, load_kafka_config
from flows.kafka.exactly_once import IdempotentKafkaSink
from flows.kafka.source import AlignedKafkaSource
from flows.shards import StateSettings
from flows.topics import INPUT_TOPICS, OUTPUT_TOPICS
from schemas.codec import FUTURE_HORIZON_DAYS

__all__ = ["kafka_flow", "run_kafka"]


def kafka_flow(bootstrap: str, *, stop_at_end: bool = False, input_topics: tuple[str, ...] = INPUT_TOPICS,
               output_topics: dict[str, str] | None = None, epoch_seconds: float = 0.0,
               future_horizon_days: int | None = FUTURE_HORIZON_DAYS, config: KafkaConfig | None = None,
               state: StateSettings | None = None) -> Dataflow:
    """The flow between Kafka topics; ``config`` (``flows.kafka.config``) carries the cluster's
    client properties (TLS, SASL, ``client.id``, the consumer group) to every client."""
    outs = output_topics or OUTPUT_TOPICS
    consumer = config.for_consumer() if config is not None else {}
    producer = config.for_producer() if config is not None else {}
    reader = {k: v for k, v in consumer.items() if k != "group.id"}
    return build_flow(
        AlignedKafkaSource(bootstrap, list(input_topics), stop_at_end=stop_at_end, epoch_seconds=epoch_seconds,
                           future_horizon_days=future_horizon_days, extra_config=consumer),
        Outputs(*(IdempotentKafkaSink(bootstrap, outs[name], name, producer, reader)
                  for name in ("notifications", "assignments", "dead_letters", "outcomes"))),
        future_horizon_days=future_horizon_days, state=state,
    )


def kafka_config_of(settings: KafkaSettings) -> KafkaConfig:
    """The run's Kafka configuration: ``--kafka-config`` (or ``FAMILYCARD_KAFKA_CONFIG``, resolved
    into ``settings.config_file`` by the command line), the ``FAMILYCARD_KAFKA_*`` environment,
    then ``--kafka`` (``flows.kafka.config``). Each process loads it itself: client properties
    and secrets never travel on a cluster member's command line (``flows.config``)."""
    import os

    return load_kafka_config(settings.config_file, os.environ, settings.bootstrap)


def _safe_start(bootstrap: str, outputs: list[str], run: RunConfig, config: KafkaConfig) -> bool:
    """A start that never re-decides history (issue 14): without recovery state to resume from,
    reading the inputs from offset 0 decides them again, and over output topics that already hold
    a run's records (rejected replies, lapses, assignments) that can contradict them. Refuse,
    and say how to choose, unless ``--from-beginning`` asks for the replay deliberately."""
    import sys

    from flows.kafka.admin import topics_holding_records

    assert run.kafka is not None
    if run.kafka.from_beginning or run.state.recovery is not None:
        # A recovery directory names the run: with state it resumes; empty, the run never closed
        # an epoch, and replaying its first one rewrites the same records (the sinks are idempotent).
        return True
    reader = {k: v for k, v in config.for_consumer().items() if k != "group.id"}
    written = topics_holding_records(bootstrap, outputs, extra_config=reader)
    if not written:
        return True
    print(f"familycard run: the output topics {', '.join(written)} already hold records and there is no recovery "
          f"state to resume from (no --recovery): reading the inputs from "
          f"offset 0 would decide that history again and could contradict what was written. Resume with "
          f"--recovery DIR (the directory of the run that wrote them), write a deliberate replay to new topics "
          f"(--output-prefix), or pass --from-beginning to replay into these topics anyway.", file=sys.stderr)
    return False


def run_kafka(run: RunConfig, state: StateSettings) -> int:
    """Live mode, as ``run`` (``flows.config.RunConfig``, with ``kafka`` set) says: in this
    process, as one member of a cluster, or as the parent that starts the cluster's members.
    ``state``: the sharded stages' settings, built by the caller from ``run.state`` (it opens the
    seed); required, so the flow never falls back to a shard count the configuration did not say."""
    from flows.runner import run_local

    assert run.kafka is not None
    settings, cluster = run.kafka, run.cluster
    try:
        config = kafka_config_of(settings)
    except ConfigError as exc:
        print(f"familycard run: {exc}", file=sys.stderr)
        return 2
    bootstrap = config.bootstrap
    inputs = tuple(config.topic(t, settings.input_prefix) for t in INPUT_TOPICS)
    outputs = {k: config.topic(v, settings.output_prefix) for k, v in OUTPUT_TOPICS.items()}
    if not cluster.is_member:
        problem = _unreachable(bootstrap, config)
        if problem:
            print(f"familycard run: {problem}", file=sys.stderr)
            return 2
        if not _safe_start(bootstrap, list(outputs.values()), run, config):
            return 2
        _say_what_runs(run, inputs, outputs, config)
    ensure_topics(bootstrap, [*inputs, *outputs.values()], config.partitions,
                  replication_factor=config.replication_factor, extra_config=config.for_admin())
    if cluster.launches:
        from flows.runner import run_cluster

        run_cluster(run.child_argv(), cluster.workers)
        return 0
    t0 = time.perf_counter()
    stopped = run_local(kafka_flow(bootstrap, stop_at_end=settings.stop_at_end, epoch_seconds=run.epoch_seconds,
                                   input_topics=inputs, output_topics=outputs,
                                   future_horizon_days=run.future_horizon_days, config=config, state=state),
                        process_id=cluster.process_id,
                        addresses=list(cluster.addresses) if cluster.addresses else None,
                        recovery_dir=run.state.recovery, epoch_seconds=run.epoch_seconds)
    if not cluster.is_member:
        seconds = time.perf_counter() - t0
        logging.getLogger("familycard").info(f"kafka run {'stopped' if stopped else 'finished'} after {seconds:.1f} s",
                                             extra={"fields": {"event": "stop" if stopped else "end",
                                                               "seconds": round(seconds, 1)}})
    return 0


_HOST_PORT = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


def _unreachable(bootstrap: str, config: KafkaConfig | None = None, timeout: float = 10.0) -> str | None:
    """Why the broker at ``bootstrap`` cannot be used, in one line naming it; None if it answers."""
    from confluent_kafka.admin import AdminClient

    bad = [a for a in bootstrap.split(",") if not _HOST_PORT.match(a.strip())]
    if bad:
        return f"--kafka {bootstrap!r}: expected HOST:PORT[,HOST:PORT...], not {bad[0]!r}"
    try:
        admin = {**(config.for_admin() if config is not None else {}), "bootstrap.servers": bootstrap,
                 "logger": _quiet}
        AdminClient(admin).list_topics(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the operator
        return f"cannot reach the Kafka broker at {bootstrap} within {timeout:.0f} s ({exc}); check --kafka and the network"
    return None


class _Quiet:
    """librdkafka's own connection errors while probing: the one-line message says it all."""

    def log(self, *_args: object, **_kw: object) -> None:
        pass

    def __getattr__(self, _name: str) -> object:
        return self.log


_quiet = _Quiet()


def _say_what_runs(run: RunConfig, inputs: tuple[str, ...], outputs: dict[str, str],
                   config: KafkaConfig) -> None:
    """One line at start: what this run reads and writes, where its state is, where its metrics are."""
    from flows.metrics import BUILD_INFO
    from flows.runner import recovery_epoch

    version = next(iter(BUILD_INFO.collect())).samples[0].labels["version"]
    where = run.state.recovery
    if where is None:
        recovery = "none (a restart reads the inputs from the beginning)"
    else:
        epoch = recovery_epoch(where)
        recovery = f"{where} ({'new' if epoch is None else f'resuming after epoch {epoch}'})"
    port = run.metrics.port
    metrics = f"http://127.0.0.1:{port}/metrics" if port else "off (--metrics-port)"
    shown = config.redacted()
    props = {**shown["properties"], **shown["consumer"]}
    text = (f"familycard {version}: kafka {config.bootstrap} (group {config.group_id}, client {config.client_id}"
            f"{', ' + ', '.join(f'{k}={v}' for k, v in sorted(props.items())) if props else ''}); "
            f"inputs {', '.join(inputs)}; outputs {', '.join(outputs.values())}; {run.cluster.workers} process(es); "
            f"recovery {recovery}; metrics {metrics}")
    logging.getLogger("familycard").info(text, extra={"fields": {
        "event": "start", "version": version, "kafka": shown, "inputs": list(inputs),
        "outputs": list(outputs.values()), "workers": run.cluster.workers, "recovery": recovery, "metrics": metrics}})
