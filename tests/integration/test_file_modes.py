"""What the stack keeps on disk (`.env`, STACK_RUN_DIR) is not readable by group or others."""

from __future__ import annotations

import pytest

from lakehouse.config import ENV_FILE, Settings
from ops.stack.private_files import readable_by_others

pytestmark = pytest.mark.integration


def test_env_and_run_dir_are_private(postgres: Settings, localstack: Settings):
    paths = [postgres.stack_run_dir] + ([ENV_FILE] if ENV_FILE.exists() else [])
    assert readable_by_others(paths) == []
