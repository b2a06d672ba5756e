"""pos_live's one setting: the wait after a pass that found nothing new."""

from __future__ import annotations

import pytest

from lakehouse.config import ENV_EXAMPLE_FILE, ConfigError, read_env_file
from spark_jobs.live import poll_seconds

pytestmark = pytest.mark.unit


def test_the_default_comes_from_env_example():
    assert poll_seconds(read_env_file(ENV_EXAMPLE_FILE)) == 5.0


def test_a_value_that_is_not_a_number_names_the_variable():
    assert poll_seconds({"LIVE_POLL_SECONDS": "2.5"}) == 2.5
    with pytest.raises(ConfigError, match="LIVE_POLL_SECONDS='soon' is not a number"):
        poll_seconds({"LIVE_POLL_SECONDS": "soon"})
