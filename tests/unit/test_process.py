import signal
import sys
import time
from pathlib import Path

import pytest

from ops.stack import process

pytestmark = pytest.mark.unit


def _spawn_sleeper(tmp_path: Path, script: str = "import time; time.sleep(60)") -> Path:
    pid_file = tmp_path / "pids" / "sleeper.pid"
    pid = process.spawn([sys.executable, "-c", script], tmp_path / "sleeper.log", env={}, cwd=tmp_path)
    process.write_pid(pid_file, pid)
    return pid_file


def test_stop_ends_the_recorded_process_and_removes_the_pid_file(tmp_path: Path):
    pid_file = _spawn_sleeper(tmp_path)
    record = process.read_pid(pid_file)
    assert record is not None
    assert process.stop(pid_file, timeout=10)
    assert not pid_file.exists()
    assert process.read_pid(pid_file) is None


def test_stop_escalates_to_sigkill_when_the_signal_is_ignored(tmp_path: Path):
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    pid_file = _spawn_sleeper(tmp_path, script)
    deadline = time.monotonic() + 10
    while "ready" not in (tmp_path / "sleeper.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.monotonic()
    assert process.stop(pid_file, signal.SIGTERM, timeout=1)
    assert time.monotonic() - began < 10


def test_a_reused_pid_is_not_ours(tmp_path: Path):
    pid_file = _spawn_sleeper(tmp_path)
    record = process.read_pid(pid_file)
    pid_file.write_text(f"{record.pid} {record.start_ticks + 1}\n")
    assert process.read_pid(pid_file) is None, "a different start time means another process"
    assert not process.stop(pid_file)
    pid_file.write_text(f"{record.pid} {record.start_ticks}\n")
    assert process.stop(pid_file, timeout=10)


def test_stop_without_pid_file_is_a_no_op(tmp_path: Path):
    assert process.stop(tmp_path / "nothing.pid") is False
