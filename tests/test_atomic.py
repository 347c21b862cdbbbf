"""atomic_write: whole files only, no litter after a kill, errors that name the user's path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dynapse2.atomic import atomic_write
from dynapse2.hardware.config import Configuration

ROOT = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    """The id of a process that has exited."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporary_files_of_dead_savers_are_removed(tmp_path):
    target = tmp_path / "cfg.json"
    stale = tmp_path / f".cfg.json.{_dead_pid()}.abc.tmp"
    live = tmp_path / f".cfg.json.{os.getppid()}.def.tmp"  # a concurrent saver: running
    other = tmp_path / f".other.json.{_dead_pid()}.ghi.tmp"  # another target's: not ours
    for f in (stale, live, other):
        f.write_text("partial")
    atomic_write(target, lambda f: f.write("new"))
    assert target.read_text() == "new"
    assert not stale.exists() and live.exists() and other.exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "c.bin"
    target.write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, fail, binary=True)
    assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["c.bin"]


def test_a_missing_directory_is_named_with_the_users_path(tmp_path):
    path = tmp_path / "nowhere" / "cfg.json"
    with pytest.raises(FileNotFoundError, match=rf"{path}: not written: the directory"):
        Configuration().save(str(path))


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {root!r}]
    import jax, numpy as np
    from hw_factories import random_configuration
    from dynapse2.nn import DynapSim, Linear, Sequential
    from dynapse2.train import checkpoint, History
    cfg = random_configuration(3, density=0.2)
    net = Sequential(Linear((4, 8), key=jax.random.PRNGKey(0)), DynapSim(8))
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        cfg.meta["i"] = i
        cfg.save({cfg_path!r})
        checkpoint.save({ck_path!r}, net, None, History(), epoch=i)
    """
)


def test_a_saver_killed_at_random_moments(tmp_path):
    """A process saving a configuration and a checkpoint in a loop is killed (SIGKILL) at
    random moments: each time, both files load, and the next save leaves only them. (In a
    trial run 3 of the 4 kills left a temporary file behind, removed by the next save.)"""
    import jax

    from dynapse2.nn import DynapSim, Linear, Sequential
    from dynapse2.train import History, checkpoint

    cfg_path, ck_path = tmp_path / "net.json", tmp_path / "run.npz"
    net = Sequential(Linear((4, 8), key=jax.random.PRNGKey(0)), DynapSim(8))
    Configuration().save(cfg_path)
    checkpoint.save(ck_path, net, None, History(), epoch=0)
    code = _WRITER.format(
        tests=str(ROOT / "tests" / "hardware"),
        root=str(ROOT),
        cfg_path=str(cfg_path),
        ck_path=str(ck_path),
    )
    rng = np.random.default_rng(0)
    for _ in range(4):
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        Configuration.load(cfg_path)  # whole files only
        assert checkpoint.load(ck_path, like=net).epoch >= 0
    Configuration().save(cfg_path)
    checkpoint.save(ck_path, net, None, History(), epoch=99)
    assert sorted(os.listdir(tmp_path)) == ["net.json", "run.npz"]
