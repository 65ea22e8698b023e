"""One configuration object per run, and the one way it reaches a cluster's processes.

The command line (``familycard.cli``) parses its flags once, resolves every default once
(epoch interval, shard count, whether citizens are simulated) and builds a ``RunConfig``;
``flows.kafka.flow.run_kafka`` and the file replay take that object, never the parsed flags.
A cluster's parent starts its processes with ``config.child_argv()``: the whole object written
back as the flags it was parsed from (``to_argv``), field by field from each field's ``flag``
metadata, to which ``flows.runner.run_cluster`` appends ``--process-id`` and ``--addresses``.
Each member parses them as any command line, into an equal object (``tests/flows/test_config.py``
proves it for every field, so a field added here without its flag fails there instead of
being silently lost in a cluster). The members' command lines stay readable (``ps``, ``pgrep``)
and are what an operator would type for a member started by hand.

No secret belongs here: the flags are on the processes' command lines, which every local user
can read. Kafka credentials stay in the ``--kafka-config`` file and the ``FAMILYCARD_KAFKA_*``
environment, which each process reads itself (``flows.kafka.config``).

Nothing here has a default for a setting the command line must decide: a config built
without, say, its shard count fails at construction instead of running with a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

__all__ = ["LogConfig", "ClusterConfig", "MetricsConfig", "StateConfig", "FileConfig", "KafkaSettings", "RunConfig", "flag",
           "to_argv"]


def flag(name: str, *, off: str | None = None, choices: tuple[str, str] | None = None,
         join: str | None = None) -> dict[str, Any]:
    """A config field's metadata: the command-line flag it is written back as (``to_argv``);
    ``shards: int = field(metadata=flag("--shards"))``.

    ``off``: a bool's flag when False (``--no-...``); without it a False bool is left out.
    ``choices``: a bool written as ``flag choices[value]`` (``--state live|packed``). ``join``: a
    tuple written once, joined (``--addresses a;b``); without it, the flag once per item.
    """
    return {"flag": name, "off": off, "choices": choices, "join": join}


@dataclass(frozen=True)
class LogConfig:
    """How every process of a run logs (``familycard --log-level L --log-format F <command>``:
    flags of the program, before the command, so ``child_argv`` writes them first).

    ``level``: the least severe record written. ``format``: ``text``, or ``json`` (one object a
    line, for log collectors). The choices are ``familycard.logs``' (a test holds them equal).
    """

    level: Literal["debug", "info", "warning", "error"] = field(metadata=flag("--log-level"))
    format: Literal["text", "json"] = field(metadata=flag("--log-format"))


@dataclass(frozen=True)
class ClusterConfig:
    """Which process of a cluster this is.

    ``workers``: processes in the cluster (``--workers``; 1 = run in this process).
    ``process_id`` and ``addresses``: set in a cluster's member (``--process-id``, ``--addresses``,
    appended by ``flows.runner.run_cluster`` or given by hand, one container per process); None in
    a single process and in the parent that starts the members.
    """

    workers: int = field(metadata=flag("--workers"))
    process_id: int | None = field(default=None, metadata=flag("--process-id"))
    addresses: tuple[str, ...] | None = field(default=None, metadata=flag("--addresses", join=";"))

    @property
    def is_member(self) -> bool:
        """This process runs the dataflow as one member of a cluster (not its launcher)."""
        return self.process_id is not None

    @property
    def launches(self) -> bool:
        """This process starts a cluster of ``workers`` members and waits for them."""
        return self.workers > 1 and self.process_id is None


@dataclass(frozen=True)
class MetricsConfig:
    """Where each process that runs the dataflow serves ``/metrics``, ``/healthz`` and ``/readyz``.

    ``port``: 0 = off; process I of a cluster serves ``port + I`` (``flows.metrics.start``).
    ``address``: the address bound (``--metrics-address``).
    """

    port: int = field(metadata=flag("--metrics-port"))
    address: str = field(metadata=flag("--metrics-address"))


@dataclass(frozen=True)
class StateConfig:
    """How the sharded stages keep state and where it is stored: what of
    ``flows.shards.StateSettings`` can travel on a command line (each process builds its
    ``StateSettings`` from it, opening the seed itself).

    ``shards``: Bytewax keys per sharded stage (a recovery directory or seed is tied to it).
    ``packed``: slots pickled between batches (``--state packed``) or live objects.
    ``initial_state``: the seed directory to start from (``familycard load``), or None.
    ``recovery``: the Bytewax recovery directory, or None (no snapshots are stored).
    """

    shards: int = field(metadata=flag("--shards"))
    packed: bool = field(metadata=flag("--state", choices=("live", "packed")))
    initial_state: Path | None = field(metadata=flag("--initial-state"))
    recovery: Path | None = field(metadata=flag("--recovery"))


@dataclass(frozen=True)
class FileConfig:
    """A file replay: the JSON-lines input (every topic in one file) and the output directory."""

    input: Path = field(metadata=flag("--input"))
    output: Path = field(metadata=flag("--output"))


@dataclass(frozen=True)
class KafkaSettings:
    """Live mode on Kafka: what the command line says about it.

    ``bootstrap``: ``--kafka`` (None: from the configuration file or environment).
    ``config_file``: ``--kafka-config`` or ``FAMILYCARD_KAFKA_CONFIG``, resolved once by the
    command line; each process loads it (with the ``FAMILYCARD_KAFKA_*`` environment) itself,
    so no client property or secret travels on a command line.
    ``input_prefix``/``output_prefix``: prefixes of the contract's topic names.
    ``stop_at_end``: stop once every input partition is read to its end.
    ``from_beginning``: a deliberate replay into output topics that already hold records.
    """

    bootstrap: str | None = field(metadata=flag("--kafka"))
    config_file: Path | None = field(metadata=flag("--kafka-config"))
    input_prefix: str = field(metadata=flag("--input-prefix"))
    output_prefix: str = field(metadata=flag("--output-prefix"))
    stop_at_end: bool = field(metadata=flag("--stop-at-end"))
    from_beginning: bool = field(metadata=flag("--from-beginning"))


@dataclass(frozen=True)
class RunConfig:
    """``familycard run``: everything a process running the flows needs, resolved.

    Exactly one of ``file`` (a replay) and ``kafka`` (live mode) is set. ``epoch_seconds``: the
    Bytewax epoch interval (``flows.runner.default_epoch_seconds`` when not given).
    ``future_horizon_days``: how far past the flow's day a record may be dated.
    ``simulate_citizens``: the embedded citizen simulator answers the offers (file replays; live
    mode reads the replies from ``sms.replies`` and ignores it, as it always has).
    """

    epoch_seconds: float = field(metadata=flag("--epoch-seconds"))
    future_horizon_days: int = field(metadata=flag("--future-horizon-days"))
    simulate_citizens: bool = field(metadata=flag("--simulate-citizens", off="--no-simulate-citizens"))
    state: StateConfig
    cluster: ClusterConfig
    metrics: MetricsConfig
    logs: LogConfig
    file: FileConfig | None = None
    kafka: KafkaSettings | None = None

    def __post_init__(self) -> None:
        if (self.file is None) == (self.kafka is None):
            raise ValueError("a run reads either a file or Kafka")

    def child_argv(self) -> list[str]:
        """The arguments of ``python -m familycard`` for each member of this run's cluster
        (``flows.runner.run_cluster`` appends ``--process-id I --addresses ...``)."""
        return [*to_argv(self.logs), "run", *to_argv(self, omit=("logs",))]

    def member(self, process_id: int, addresses: tuple[str, ...]) -> RunConfig:
        """This configuration as cluster member ``process_id`` of ``addresses`` has it."""
        return replace(self, cluster=replace(self.cluster, process_id=process_id, addresses=addresses))


# --- the command-line form, field by field --------------------------------------------------

def to_argv(config: Any, omit: tuple[str, ...] = ()) -> list[str]:
    """``config`` as the flags it was parsed from: each field by its ``flag`` metadata, nested
    configs in place, None and the fields named in ``omit`` left out (the program's own flags,
    which go before the command). A field without a flag raises: a cluster member would
    silently run without it."""
    argv: list[str] = []
    for f in fields(config):
        if f.name in omit:
            continue
        value = getattr(config, f.name)
        if value is None:
            continue
        if is_dataclass(value):
            argv += to_argv(value)
            continue
        name = f.metadata.get("flag")
        if name is None:
            raise TypeError(f"{type(config).__name__}.{f.name} has no flag (flows.config.flag): a cluster "
                            f"member would not get it")
        if isinstance(value, bool):
            if f.metadata["choices"] is not None:
                argv += [name, f.metadata["choices"][value]]
            elif value:
                argv.append(name)
            elif f.metadata["off"] is not None:
                argv.append(f.metadata["off"])
        elif isinstance(value, tuple):
            join = f.metadata["join"]
            argv += [name, join.join(map(str, value))] if join is not None else \
                [x for item in value for x in (name, str(item))]
        elif isinstance(value, (int, float, str, Path)):
            argv += [name, str(value)]  # str(float) is its repr: parsed back to the same float
        else:
            raise TypeError(f"{type(config).__name__}.{f.name}: no command-line form for {type(value).__name__}")
    return argv
