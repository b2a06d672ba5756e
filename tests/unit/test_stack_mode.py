import pytest

from lakehouse.config import load_settings
from ops.stack import cli
from ops.stack.components import StackError

pytestmark = pytest.mark.unit


def test_explicit_mode_wins():
    settings = load_settings(env_file=None, environ={"STACK_MODE": "native"})
    assert cli.choose_mode(settings) == ("native", "STACK_MODE=native in .env")


def test_auto_falls_back_to_native_and_says_why(monkeypatch):
    monkeypatch.setattr(cli, "docker_engine_answer", lambda: "`docker info` failed: no daemon")
    settings = load_settings(env_file=None, environ={"STACK_MODE": "auto"})
    mode, reason = cli.choose_mode(settings)
    assert mode == "native"
    assert "no daemon" in reason


def test_auto_uses_docker_when_an_engine_answers(monkeypatch):
    monkeypatch.setattr(cli, "docker_engine_answer", lambda: None)
    settings = load_settings(env_file=None, environ={"STACK_MODE": "auto"})
    assert cli.choose_mode(settings)[0] == "docker"


def test_unknown_mode_is_an_error():
    settings = load_settings(env_file=None, environ={"STACK_MODE": "kubernetes"})
    with pytest.raises(StackError, match="use auto, docker or native"):
        cli.choose_mode(settings)
