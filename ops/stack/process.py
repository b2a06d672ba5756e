"""Background processes of the native stack: started detached, tracked by PID file, stopped by PID.

`make down` must stop exactly what `make up` started, and nothing else, so every process is
recorded in `<run dir>/pids/<name>.pid` together with its start time; a PID reused by an
unrelated process after a reboot is recognised as stale and left alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PidRecord:
    pid: int
    start_ticks: int


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces, so split after its ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def write_pid(pid_file: Path, pid: int) -> None:
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{pid} {_start_ticks(pid) or 0}\n")


def read_pid(pid_file: Path) -> PidRecord | None:
    """The recorded process if it is still the one we started, else None (stale files are removed)."""
    try:
        pid_text, ticks_text = pid_file.read_text().split()
        record = PidRecord(int(pid_text), int(ticks_text))
    except (OSError, ValueError):
        return None
    if _start_ticks(record.pid) != record.start_ticks:
        pid_file.unlink(missing_ok=True)
        return None
    return record


def spawn(command: list[str], log_file: Path, env: dict[str, str], cwd: Path) -> int:
    """Start `command` in its own session (so it survives the caller), output to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    return process.pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(pid: int) -> bool:
    return _start_ticks(pid) is not None and _state(pid) != "Z"


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def stop(pid_file: Path, stop_signal: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Stop the recorded process and its process group; SIGKILL after `timeout`. True if one ran."""
    record = read_pid(pid_file)
    if record is None:
        pid_file.unlink(missing_ok=True)
        return False
    pid = record.pid
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    # Only signal the whole group when the process leads it (we started it with a new session).
    target_group = pgid == pid
    _signal(pid, pgid, target_group, stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (_group_alive(pgid) if target_group else _alive(pid)):
            break
        time.sleep(0.2)
    else:
        _signal(pid, pgid, target_group, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _signal(pid: int, pgid: int, group: bool, sig: signal.Signals) -> None:
    try:
        if group:
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (LocalStack's kinesis-mock, Postgres backends)."""
    import psutil

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def tree_cpu_times(pid: int) -> dict[tuple[int, float], float]:
    """CPU seconds so far of a process and each living descendant, keyed by (pid, start time).

    Mage runs each scheduled pipeline in a child that exits when done, so a tree's use over a
    while is the sum, over every process seen in repeated readings, of its last reading minus
    its first (or minus zero for one that started in between): see `CpuMeter`.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    times = {}
    for member in members:
        try:
            with member.oneshot():
                used = member.cpu_times()
                times[(member.pid, member.create_time())] = used.user + used.system
        except psutil.NoSuchProcess:
            continue
    return times


class CpuMeter:
    """CPU seconds a set of process trees use between `start` and the last `sample`."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.first: dict[tuple[int, float], float] = {}
        self.last: dict[tuple[int, float], float] = {}

    def start(self) -> None:
        self.first = {key: value for pid in self.pids for key, value in tree_cpu_times(pid).items()}
        self.last = dict(self.first)

    def sample(self) -> None:
        for pid in self.pids:
            self.last.update(tree_cpu_times(pid))

    def seconds(self) -> float:
        return sum(value - self.first.get(key, 0.0) for key, value in self.last.items())
