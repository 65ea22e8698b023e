"""One configuration object per command, and its one way to a cluster's processes (issue 16, item 4).

The round trips below build their configurations from the dataclasses' own fields, every field
set to a value of its own (no defaults), so a field added to ``flows.config`` or
``familycard.whatif.WhatifConfig`` is checked without touching this file: what a cluster member
reads back from the argv its parent gave it equals the parent's configuration, field for field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from familycard import cli
from familycard.whatif import WhatifConfig
from flows.config import ClusterConfig, FileConfig, KafkaSettings, RunConfig, StateConfig, flag, to_argv
from flows.runner import LIVE_RECOVERY_EPOCH_SECONDS
from flows.shards import DEFAULT_SHARDS


def _value(tp: Any, name: str, n: int, flag: bool) -> Any:
    """A value of type ``tp`` unique to the field ``name`` (``flag``: what every bool is)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # Optional: a value, not None (None is what a lost field gives)
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _value(inner, name, n, flag)
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return tuple(_value(item, f"{name}{i}", n + i, flag) for i in range(3))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _filled(tp, flag, salt=n * 100)
    if origin is typing.Literal:  # a choice of the command line: one of them, by the field's number
        choices = typing.get_args(tp)
        return choices[n % len(choices)]
    if tp is bool:
        return flag
    if tp is int:
        return 1000 + n
    if tp is float:
        return n + 0.625
    if tp is str:
        return f"{name}-value"
    if tp is Path:
        return Path(f"/tmp/fc-config/{name}")
    raise AssertionError(f"no test value for {name}: {tp} (teach _value the new type)")


def _filled(cls: type, flag: bool, salt: int = 0, **given: Any) -> Any:
    """``cls`` with every field set from its type hint (``given`` overrides some)."""
    hints = typing.get_type_hints(cls)
    values = {f.name: given[f.name] if f.name in given else _value(hints[f.name], f"{cls.__name__}.{f.name}",
                                                                     salt + i, flag)
              for i, f in enumerate(dataclasses.fields(cls))}
    return cls(**values)


def _configs() -> list[Any]:
    return [c for flag in (True, False) for c in (
        _filled(RunConfig, flag, kafka=None),   # a file replay
        _filled(RunConfig, flag, file=None),    # live mode on Kafka
        _filled(WhatifConfig, flag),
    )]


def _names(config: Any) -> str:
    return f"{type(config).__name__}({'file' if getattr(config, 'file', None) else 'kafka'})"


@pytest.mark.parametrize("config", _configs(), ids=_names)
def test_a_cluster_member_reads_back_every_field_of_its_parents_config(config: Any) -> None:
    argv = config.child_argv()
    # the program's flags (how it logs), then the command and its own flags
    assert argv[:5] == ["--log-level", config.logs.level, "--log-format", config.logs.format,
                        "whatif" if isinstance(config, WhatifConfig) else "run"]
    assert cli.config_of(argv) == config
    # what flows.runner.run_cluster appends: the member's place in the cluster, the rest unchanged
    member = cli.config_of([*argv, "--process-id", "1", "--addresses", "127.0.0.1:1;127.0.0.1:2"])
    assert member == config.member(1, ("127.0.0.1:1", "127.0.0.1:2"))
    assert member.cluster.process_id == 1 and member.cluster.addresses == ("127.0.0.1:1", "127.0.0.1:2")
    assert dataclasses.replace(member, cluster=config.cluster) == config


def test_a_field_without_its_flag_cannot_reach_a_cluster_member() -> None:
    """``to_argv`` refuses a field it cannot write back, rather than leave it to the member's default."""
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Forgotten:
        shards: int = dataclasses.field(metadata=flag("--shards"))
        new_setting: int = 3

    with pytest.raises(TypeError, match="new_setting has no flag"):
        to_argv(Forgotten(8))


def test_a_members_command_line_reads_as_flags(tmp_path: Path) -> None:
    """What ``ps`` and ``pgrep`` show of a member: the flags an operator would type by hand."""
    parent = cli.config_of(["run", "--kafka", "broker:9092", "--input-prefix", "p.", "--workers", "2",
                            "--shards", "16", "--recovery", str(tmp_path / "rec")])
    line = " ".join([*parent.child_argv(), "--process-id", "0", "--addresses", "a:1;b:2"])
    assert line.startswith("--log-level info --log-format text run ") and "--kafka broker:9092" in line and "--input-prefix p. " in line
    assert f"--shards 16 --state live --recovery {tmp_path / 'rec'}" in line


def test_run_flags_resolve_every_default_once(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    embedded = cli.config_of(["run", "--output", str(tmp_path / "out")])
    assert isinstance(embedded, RunConfig)
    assert embedded.file == FileConfig(tmp_path / "out" / "events.jsonl", tmp_path / "out")
    assert embedded.simulate_citizens and embedded.epoch_seconds == 0.0
    assert embedded.state == StateConfig(DEFAULT_SHARDS, False, None, None)
    assert embedded.cluster == ClusterConfig(1)
    replay = cli.config_of(["run", "--input", str(events), "--state", "packed", "--shards", "8"])
    assert isinstance(replay, RunConfig)
    assert not replay.simulate_citizens and replay.state.shards == 8 and replay.state.packed
    live = cli.config_of(["run", "--kafka", "broker:9092", "--recovery", str(tmp_path / "rec"), "--workers", "3",
                          "--input-prefix", "a.", "--stop-at-end"])
    assert isinstance(live, RunConfig) and live.file is None
    assert live.kafka == KafkaSettings("broker:9092", None, "a.", "", True, False)
    assert live.epoch_seconds == LIVE_RECOVERY_EPOCH_SECONDS and not live.simulate_citizens
    assert live.cluster.launches and not live.cluster.is_member


def test_flags_and_their_child_argv_give_the_same_config(tmp_path: Path) -> None:
    """From real flags: the configuration a member runs with is the one its parent parsed."""
    events, seed = tmp_path / "events.jsonl", tmp_path / "seed"
    parents = [
        ["run", "--input", str(events), "--output", str(tmp_path / "out"), "--workers", "2", "--shards", "16",
         "--state", "packed", "--recovery", str(tmp_path / "rec"), "--initial-state", str(seed),
         "--epoch-seconds", "0.5", "--future-horizon-days", "7", "--simulate-citizens", "--metrics-port", "9100",
         "--metrics-address", "0.0.0.0"],
        ["run", "--kafka", "broker:9092", "--kafka-config", str(tmp_path / "kafka.toml"), "--workers", "2",
         "--input-prefix", "in.", "--output-prefix", "out.", "--stop-at-end", "--from-beginning",
         "--metrics-port", "9200", "--recovery", str(tmp_path / "rec")],
        ["whatif", "--input", str(events), "--output", str(tmp_path / "wif"), "--reform", str(tmp_path / "a.json"),
         "--reform", str(tmp_path / "b.json"), "--workers", "2", "--shards", "16", "--initial-state", str(seed),
         "--no-simulate-citizens", "--future-horizon-days", "9"],
    ]
    for argv in parents:
        parent = cli.config_of(argv)
        assert cli.config_of([*parent.child_argv(), "--process-id", "0", "--addresses", "h:1;h:2"]) == \
            parent.member(0, ("h:1", "h:2"))


class _Launched(Exception):
    pass


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], int]]:
    """``flows.runner.run_cluster`` replaced: records the member argv, starts nothing."""
    import flows.runner

    seen: list[tuple[list[str], int]] = []

    def fake(argv: list[str], processes: int) -> bool:
        seen.append((list(argv), processes))
        raise _Launched

    monkeypatch.setattr(flows.runner, "run_cluster", fake)
    return seen


def test_every_cluster_launch_hands_its_members_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File replay, Kafka and what-if start their members with ``config.child_argv()``: the
    members get the parent's configuration whole (no argv rebuilt by hand per command)."""
    import flows.kafka.flow

    seen = _capture(monkeypatch)
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "day", "occurred_on": "2026-01-01"}\n')
    reform = tmp_path / "r.json"
    reform.write_text('{"label": "r", "dated": {"mci": {"values": {"2026-01-01": 5000}}}}')
    monkeypatch.setattr(flows.kafka.flow, "_unreachable", lambda *_a, **_k: None)
    monkeypatch.setattr(flows.kafka.flow, "_safe_start", lambda *_a, **_k: True)
    monkeypatch.setattr(flows.kafka.flow, "ensure_topics", lambda *_a, **_k: None)
    commands = [
        ["run", "--input", str(events), "--output", str(tmp_path / "out"), "--workers", "2", "--shards", "8",
         "--metrics-port", "9300"],
        ["run", "--kafka", "127.0.0.1:1", "--workers", "3", "--output-prefix", "o.", "--metrics-port", "9400"],
        ["whatif", "--input", str(events), "--output", str(tmp_path / "wif"), "--reform", str(reform),
         "--workers", "2", "--shards", "8"],
    ]
    for argv in commands:
        with pytest.raises(_Launched):
            cli.main(argv)
        member_argv, processes = seen[-1]
        parent = cli.config_of(argv)
        assert processes == parent.cluster.workers
        assert cli.config_of(member_argv) == parent
    assert len(seen) == len(commands)


def _config_flags(cls: type) -> set[str]:
    """Every flag the fields of ``cls`` (and of the configs inside it) are written back as."""
    hints = typing.get_type_hints(cls)
    found: set[str] = set()
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        if isinstance(inner[0], type) and dataclasses.is_dataclass(inner[0]):
            found |= _config_flags(inner[0])
        else:
            found |= {f.metadata["flag"], *([f.metadata["off"]] if f.metadata.get("off") else [])}
    return found


POPULATION_FLAGS = {"--families", "--start", "--days", "--seed", "--bad-fraction"}
"""``run``'s flags that only its parent reads: the embedded default generates the input, and
its members replay the file (``--input``)."""


@pytest.mark.parametrize(("command", "cls", "parent_only"), [("run", RunConfig, POPULATION_FLAGS),
                                                             ("whatif", WhatifConfig, set())])
def test_every_flag_of_the_command_is_in_its_config(command: str, cls: type, parent_only: set[str]) -> None:
    """A flag added to the command line but not to the configuration would not reach a cluster's
    members; a config field whose flag the command line lost could not be read back."""
    import argparse

    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    flags = {s for p in (parser, sub.choices[command]) for a in p._actions for s in a.option_strings} - {"-h", "--help"}
    assert flags - parent_only == _config_flags(cls)


def test_the_log_choices_are_the_loggers() -> None:
    """``LogConfig``'s choices (``flows`` may not import ``familycard``) are ``familycard.logs``'."""
    from familycard.logs import FORMATS, LEVELS
    from flows.config import LogConfig

    hints = typing.get_type_hints(LogConfig)
    assert typing.get_args(hints["level"]) == LEVELS and typing.get_args(hints["format"]) == FORMATS


def test_a_members_logs_are_configured_as_its_parents() -> None:
    """``familycard --log-format json run ... --workers N``: the members log as JSON too (their
    flags before the command, where the program reads them)."""
    parent = cli.config_of(["--log-level", "warning", "--log-format", "json", "run", "--input", "/tmp/x.jsonl",
                            "--workers", "2"])
    argv = parent.child_argv()
    assert argv[:5] == ["--log-level", "warning", "--log-format", "json", "run"]
    assert cli.config_of(argv).logs == parent.logs
