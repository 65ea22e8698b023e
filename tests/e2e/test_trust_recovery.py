"""Issue 14, item 7: a recovery directory holds personal data and is unpickled on resume, so it
is owner-only: ``init_recovery`` and ``ensure_recovery`` make the directory 0700 and the SQLite
files Bytewax creates 0600, whatever the umask, and a directory others can write is refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from familycard.cli import main
from flows.runner import ensure_recovery, init_recovery


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: without the chmods every directory would be 0777 and every file 0666."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _assert_private(d: Path, files: int) -> None:
    assert _mode(d) == 0o700
    dbs = sorted(d.glob("*.sqlite3"))
    assert len(dbs) == files
    for p in d.iterdir():
        assert _mode(p) == 0o600, p


def test_init_recovery_is_owner_only(tmp_path: Path, open_umask: None) -> None:
    init_recovery(tmp_path / "a" / "rec", 2)
    _assert_private(tmp_path / "a" / "rec", 2)


def test_ensure_recovery_makes_a_new_or_empty_directory_owner_only(tmp_path: Path, open_umask: None) -> None:
    ensure_recovery(tmp_path / "new", 3)
    _assert_private(tmp_path / "new", 3)
    (tmp_path / "empty").mkdir(mode=0o777)
    ensure_recovery(tmp_path / "empty")
    _assert_private(tmp_path / "empty", 1)


def test_ensure_recovery_makes_an_existing_directory_owner_only(tmp_path: Path) -> None:
    """A directory made before this change (0755, files 0644) is tightened on the next start."""
    rec = tmp_path / "rec"
    init_recovery(rec, 2)
    os.chmod(rec, 0o755)
    for p in rec.iterdir():
        os.chmod(p, 0o644)
    ensure_recovery(rec, 2)
    _assert_private(rec, 2)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_recovery_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    init_recovery(rec, 1)
    os.chown(rec, 12345, 12345)  # not ours: it is left as it is, and cannot be trusted
    os.chmod(rec, 0o777)
    with pytest.raises(ValueError, match=f"the recovery directory {rec} is writable by other users .*run code"):
        ensure_recovery(rec)


def test_a_run_with_recovery_leaves_it_owner_only(tmp_path: Path, open_umask: None) -> None:
    """Through the CLI, with the files SQLite makes while it runs: the directory stays 0700, so
    nobody else reaches them whatever their mode."""
    rec = tmp_path / "rec"
    assert main(["run", "--families", "5", "--days", "20", "--output", str(tmp_path / "out"), "--shards", "4",
                 "--recovery", str(rec)]) == 0
    assert _mode(rec) == 0o700
    for db in rec.glob("*.sqlite3"):
        assert _mode(db) == 0o600, db
