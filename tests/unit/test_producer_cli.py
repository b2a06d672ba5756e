"""`python -m producer`: reproducible dry runs, argument errors, clean exit on SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lakehouse.config import REPO_ROOT
from producer.cli import main

pytestmark = pytest.mark.unit

SMALL = ["--stores", "3", "--products", "60", "--quiet"]


def test_dry_run_backfill_is_byte_identical_for_the_same_seed(tmp_path):
    outputs = []
    for run in ("a", "b"):
        out, truth = tmp_path / f"{run}.ndjson", tmp_path / f"{run}.json"
        args = [*SMALL, "--days", "1", "--bad-rate", "0.05", "--dry-run", "--output", str(out)]
        assert main([*args, "--truth-file", str(truth)]) == 0
        outputs.append((out.read_bytes(), truth.read_bytes()))
    assert outputs[0] == outputs[1]
    lines = outputs[0][0].split(b"\n")
    assert lines[-1] == b""
    truth = json.loads(outputs[0][1])
    assert truth["summary"]["events_emitted"] == len(lines) - 1
    for entry in truth["bad_events"]:
        assert entry["event_id"].encode() in lines[entry["seq"]] or entry["class"] == "malformed_json"


def test_summary_json_reports_what_was_written(tmp_path):
    summary = tmp_path / "summary.json"
    out = tmp_path / "out.ndjson"
    assert (
        main([*SMALL, "--days", "0.2", "--dry-run", "--output", str(out), "--summary-json", str(summary)])
        == 0
    )
    report = json.loads(summary.read_text())
    assert report["events_sent"] == report["events_in"] == len(out.read_bytes().splitlines())
    assert report["records_failed"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["--days", "1", "--rate", "5"],
        ["--bad-rate", "2", "--dry-run"],
        ["--bad-classes", "nonsense", "--dry-run"],
        ["--days", "1", "--max-record-kib", "4096"],
    ],
)
def test_contradictory_or_out_of_range_arguments_exit_2(args, capsys):
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert "error" in capsys.readouterr().err


def test_help_documents_the_clocks_and_delivery_options(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--days",
        "--rate",
        "--seed",
        "--bad-rate",
        "--truth-file",
        "--dry-run",
        "--quiet",
        "--no-aggregate",
    ):
        assert option in text


def test_sigint_in_live_mode_flushes_and_exits_cleanly(tmp_path: Path):
    out, truth = tmp_path / "live.ndjson", tmp_path / "truth.json"
    command = [sys.executable, "-m", "producer", *SMALL, "--rate", "200", "--seed", "3", "--bad-rate", "0.1"]
    command += ["--dry-run", "--output", str(out), "--truth-file", str(truth)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while (not out.exists() or out.stat().st_size < 50_000) and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    lines = out.read_bytes().splitlines()
    report = json.loads(truth.read_text())
    assert report["summary"]["events_emitted"] == len(lines) > 0
    assert report["config"]["mode"] == "live"
    sale_lines = [line for line in lines if b'"event_type":"sale"' in line]
    assert sale_lines, "live mode produced sales before the signal"
