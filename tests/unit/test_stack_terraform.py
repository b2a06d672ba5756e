"""Which Terraform `make up` runs and where its provider comes from: the mirror when built, the
registry when it answers, else the boto3 fallback with the reason."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.stack import terraform

pytestmark = pytest.mark.unit


@pytest.fixture
def registry() -> Iterator[str]:
    """A loopback stand-in for the registry's discovery URL: answers 200 to any GET."""

    class Discovery(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"providers.v1": "/v1/providers/"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/terraform.json"
    server.shutdown()


@pytest.fixture
def built_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No terraform or tofu on PATH; the only CLI is the one `make terraform-offline` would build."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    built = tmp_path / "bin" / "tofu"
    built.parent.mkdir()
    built.write_text("")
    return built


def _closed_port_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/terraform.json"


def _mirror_with_provider(tmp_path: Path) -> Path:
    mirror = tmp_path / "providers"
    binary = mirror / "registry.terraform.io/hashicorp/aws/6.47.1/linux_amd64/terraform-provider-aws_v6.47.1"
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    return mirror


def test_the_mirror_wins_when_built_even_if_the_registry_answers(
    tmp_path: Path, built_cli: Path, registry: str
):
    setup = terraform.detect(mirror=_mirror_with_provider(tmp_path), built=built_cli, registry_url=registry)
    assert setup.usable and setup.source == "mirror" and setup.cli == str(built_cli)


def test_without_a_mirror_the_registry_is_used_when_it_answers(
    tmp_path: Path, built_cli: Path, registry: str
):
    setup = terraform.detect(mirror=tmp_path / "no-mirror", built=built_cli, registry_url=registry)
    assert setup.usable and setup.source == "registry"


def test_neither_mirror_nor_registry_gives_the_reason_for_the_boto3_fallback(tmp_path: Path, built_cli: Path):
    setup = terraform.detect(mirror=tmp_path / "no-mirror", built=built_cli, registry_url=_closed_port_url())
    assert not setup.usable
    assert "unreachable" in setup.reason and "make terraform-offline" in setup.reason


def test_no_cli_at_all_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: str):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    setup = terraform.detect(
        mirror=_mirror_with_provider(tmp_path), built=tmp_path / "none", registry_url=registry
    )
    assert not setup.usable and setup.cli is None and "no terraform or tofu" in setup.reason


def test_the_mirror_configuration_names_only_the_mirror(tmp_path: Path):
    text = terraform.cli_config("mirror", mirror=tmp_path / "providers", plugin_cache=tmp_path / "cache")
    assert f'path    = "{tmp_path / "providers"}"' in text
    assert "filesystem_mirror" in text and "direct" not in text and "plugin_cache_dir" not in text
    assert "disable_checkpoint = true" in text


def test_the_registry_configuration_installs_directly_into_a_plugin_cache(tmp_path: Path):
    text = terraform.cli_config("registry", mirror=tmp_path / "providers", plugin_cache=tmp_path / "cache")
    assert "direct {}" in text and f'plugin_cache_dir = "{tmp_path / "cache"}"' in text
    assert "filesystem_mirror" not in text and "disable_checkpoint = true" in text


@pytest.mark.parametrize("source", ["mirror", "registry"])
def test_terraform_itself_reads_each_configuration_without_complaint(tmp_path: Path, source: str):
    cli = terraform.find_cli()
    if cli is None:
        pytest.skip("no terraform or tofu on this machine to read the configuration")
    (tmp_path / "cache").mkdir()
    config = tmp_path / "terraformrc"
    config.write_text(
        terraform.cli_config(source, mirror=tmp_path / "providers", plugin_cache=tmp_path / "cache")
    )
    result = subprocess.run(
        [cli, "version"],
        env={**os.environ, "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "problems with the CLI configuration" not in result.stdout + result.stderr
