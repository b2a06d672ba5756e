"""The stand-in images' pure parts: where debootstrap fetches from, and which variables they set."""

from pathlib import Path

import pytest

from lakehouse.config import read_settings
from ops.stack.standins import StandinError, debian_mirror, image_environment

pytestmark = pytest.mark.unit


def test_the_mirror_comes_from_a_deb822_sources_file(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_the_mirror_comes_from_a_one_line_sources_list(tmp_path: Path):
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [signed-by=/usr/share/keyrings/k.gpg] http://other.example/debian bookworm main\n"
    )
    assert debian_mirror(tmp_path) == "http://other.example/debian"


def test_no_mirror_says_how_to_give_one(tmp_path: Path):
    with pytest.raises(StandinError, match="--mirror"):
        debian_mirror(tmp_path)


def test_the_stand_ins_set_exactly_the_image_variables_the_settings_read():
    defaults = read_settings(env_file=None, environ={}).containers.image_environment()
    standins = image_environment()
    assert set(standins) == set(defaults)
    assert all(standins[name] != defaults[name] for name in defaults)
