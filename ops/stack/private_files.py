"""The stack's private files: `.env` with generated secrets, and STACK_RUN_DIR, readable by the owner only.

`.env` holds passwords and `.run/` holds the database files, Mage's database and every log, so
both are created with umask 077 (files 0600, folders 0700). Two folders keep the execute bit
for others and nothing else (0711): the run folder itself and its `logs/`, because PostgreSQL
runs as the `postgres` system user when the stack runs as root, and must reach its data folder
and its log file through them; it cannot list them.

`python -m ops.stack.private_files` (run by `make setup`) creates `.env` from `.env.example`
when missing, sets it to 0600 and fills every empty secret with a generated password.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

from lakehouse.config import ENV_EXAMPLE_FILE, ENV_FILE, read_env_file

UMASK = 0o077
# Variables `make setup` fills with a generated password when they are empty in .env.
GENERATED_SECRETS = ("MAGE_OWNER_PASSWORD", "POSTGRES_PASSWORD", "POSTGRES_OWNER_PASSWORD")
# The owner's password is generated only together with the loader's: an .env whose POSTGRES_PASSWORD
# is already set comes from before the owner/loader split, and its cluster has no owner role yet.
GENERATED_WITH = {"POSTGRES_OWNER_PASSWORD": "POSTGRES_PASSWORD"}
# Folders of the run dir others may pass through (not list): see the module docstring.
TRAVERSABLE = ("", "logs")
GROUP_OTHER_READ = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def private_umask() -> None:
    """Every file this process and its children create from now on is the owner's alone."""
    os.umask(UMASK)


def new_password() -> str:
    """32 URL-safe characters: fits a PostgreSQL URL and a shell line without quoting."""
    return secrets.token_urlsafe(24)


def set_variable(path: Path, name: str, value: str) -> None:
    """Set `name=value` in a dotenv file: replace its line, or append one."""
    text = path.read_text()
    line = re.compile(rf"^{re.escape(name)}=.*$", re.MULTILINE)
    text = (
        line.sub(f"{name}={value}", text, count=1)
        if line.search(text)
        else f"{text.rstrip()}\n{name}={value}\n"
    )
    path.write_text(text)


def ensure_env_file(env_file: Path = ENV_FILE, example: Path = ENV_EXAMPLE_FILE) -> list[str]:
    """`.env` exists, is 0600 and has every generated secret; the names of the secrets it filled."""
    private_umask()
    if not env_file.exists():
        env_file.write_text(example.read_text())
        print(f"wrote {env_file.name} from {example.name}")
    env_file.chmod(0o600)
    values = read_env_file(env_file)
    filled = [name for name in GENERATED_SECRETS if not values.get(name)]
    filled = [name for name in filled if name not in GENERATED_WITH or GENERATED_WITH[name] in filled]
    for name in filled:
        set_variable(env_file, name, new_password())
    if filled:
        print(f"generated {', '.join(filled)} into {env_file.name} (mode 0600)")
    return filled


def secure_run_dir(run_dir: Path) -> None:
    """Create the run folder (0711) and take group and other access off what is already in it."""
    private_umask()
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in TRAVERSABLE:
        (run_dir / name).mkdir(exist_ok=True)
        (run_dir / name).chmod(0o711)
    for root, folders, files in os.walk(run_dir):
        for name in folders + files:
            # A running service (PostgreSQL's temporary files, a Spark spill) may remove what the
            # walk just listed: then nothing is left to protect.
            with contextlib.suppress(FileNotFoundError):
                _take_group_and_other_access(Path(root, name), run_dir)


def _take_group_and_other_access(path: Path, run_dir: Path) -> None:
    if path.is_symlink() or (path.is_dir() and path.relative_to(run_dir).as_posix() in TRAVERSABLE):
        return
    mode = path.lstat().st_mode
    if mode & (GROUP_OTHER_READ | stat.S_IXGRP | stat.S_IXOTH):
        path.chmod(stat.S_IMODE(mode) & 0o700)


def readable_by_others(paths: list[Path]) -> list[str]:
    """Those of `paths` (files and folders, recursively) that group or others may read or write."""
    found = []
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if not path.is_symlink() and path.lstat().st_mode & GROUP_OTHER_READ:
                found.append(f"{stat.filemode(path.lstat().st_mode)} {path}")
    return found


if __name__ == "__main__":
    ensure_env_file()
