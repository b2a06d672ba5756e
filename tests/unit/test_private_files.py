"""`.env` and the run folder are the owner's alone; Mage's guard refuses foreign Hosts and Origins."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ops.stack.mage_guard import allowed_hosts, refusal
from ops.stack.private_files import ensure_env_file, readable_by_others, secure_run_dir

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_env_file_is_created_private_with_generated_passwords(tmp_path: Path):
    example = tmp_path / "example"
    example.write_text("A=1\nMAGE_OWNER_PASSWORD=\n")
    env = tmp_path / ".env"
    assert ensure_env_file(env, example) == [
        "MAGE_OWNER_PASSWORD",
        "POSTGRES_PASSWORD",
        "POSTGRES_OWNER_PASSWORD",
    ]
    assert _mode(env) == 0o600
    password = env.read_text().split("MAGE_OWNER_PASSWORD=")[1].strip()
    assert len(password) >= 32 and "A=1" in env.read_text()
    assert ensure_env_file(env, example) == []  # a password once set is kept
    assert password in env.read_text()


def test_an_existing_readable_env_file_is_made_private_and_completed(tmp_path: Path):
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=kept\n")
    env.chmod(0o644)
    ensure_env_file(env, tmp_path / "unused")
    assert _mode(env) == 0o600
    assert "POSTGRES_PASSWORD=kept" in env.read_text() and "MAGE_OWNER_PASSWORD=" in env.read_text()


def test_the_run_folder_keeps_nothing_readable_by_others(tmp_path: Path):
    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)
    old = run_dir / "logs" / "old.log"
    old.write_text("x")
    old.chmod(0o644)
    (run_dir / "data").mkdir(mode=0o755)
    secure_run_dir(run_dir)
    new = run_dir / "pids" / "new.pid"
    new.parent.mkdir()
    new.write_text("1")  # created under the umask secure_run_dir set
    assert readable_by_others([run_dir]) == []
    assert _mode(run_dir) == 0o711 and _mode(run_dir / "logs") == 0o711  # postgres passes through
    assert _mode(old) == 0o600 and _mode(new) == 0o600 and _mode(run_dir / "data") == 0o700


def test_mage_guard_lets_only_its_own_address_through():
    hosts = allowed_hosts("127.0.0.1", 6789)
    assert refusal("127.0.0.1:6789", None, hosts) is None
    assert refusal("localhost:6789", "http://localhost:6789", hosts) is None
    assert refusal("evil.example:6789", None, hosts)  # DNS rebinding
    assert refusal("127.0.0.1:6789", "http://evil.example", hosts)  # another site's page
    assert refusal("127.0.0.1:6789", "null", hosts)  # a sandboxed frame or a file
    assert refusal(None, None, hosts)


def test_the_owner_password_comes_only_with_the_loaders(tmp_path: Path):
    example = tmp_path / "example"
    example.write_text("POSTGRES_PASSWORD=\nPOSTGRES_OWNER_PASSWORD=\nMAGE_OWNER_PASSWORD=x\n")
    fresh = tmp_path / "fresh.env"
    assert ensure_env_file(fresh, example) == ["POSTGRES_PASSWORD", "POSTGRES_OWNER_PASSWORD"]
    # An .env from before the owner/loader split: its one POSTGRES_USER stays both.
    older = tmp_path / "older.env"
    older.write_text("POSTGRES_PASSWORD=kept\nMAGE_OWNER_PASSWORD=x\n")
    assert ensure_env_file(older, example) == []
    assert "POSTGRES_OWNER_PASSWORD" not in older.read_text()
