"""Owner-only files and directories: what a seed is written with and a recovery directory
is made into. They hold IINs, phones and IBANs, and loading them runs what they hold."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "make_private", "private_dir", "write_private"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename), mode 0600."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), FILE_MODE)  # a temporary file left by a crash keeps its old mode
        fh.write(data)
    os.replace(tmp, path)


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if needed, and make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)  # mkdir's mode passes the umask, and an existing directory keeps its own


def make_private(directory: Path) -> None:
    """Make ``directory`` 0700 and the regular files directly in it 0600 (a recovery directory).

    What this process does not own is left as it is (``chmod`` would fail) and logged. Files
    created there later (SQLite's journals) get the creator's umask, but nobody else can open
    them: the directory's 0700 stops every other user at the path.
    """
    me = os.geteuid()
    st = os.stat(directory)
    if st.st_uid == me:
        os.chmod(directory, DIR_MODE)
    elif stat.S_IMODE(st.st_mode) & 0o077:
        log.warning("%s is owned by uid %d, not this user: its mode %o stays", directory, st.st_uid,
                    stat.S_IMODE(st.st_mode))
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            est = entry.stat(follow_symlinks=False)
            if est.st_uid == me:
                os.chmod(entry.path, FILE_MODE)
            elif stat.S_IMODE(est.st_mode) & 0o077:
                log.warning("%s is owned by uid %d, not this user: its mode %o stays", entry.path, est.st_uid,
                            stat.S_IMODE(est.st_mode))
