"""Mage as `make up` starts it refuses what a stranger sends: no login, a foreign site, a foreign Host.

A private Mage (web server only, no scheduler, its own database and port) is started from the
same component as `make up`, so the shared one keeps running whatever its configuration.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from lakehouse.config import Settings
from lakehouse.mage_api import MAGE_FRONTEND_API_KEY, MageApi, MageApiError
from ops.stack.cli import wait_healthy
from ops.stack.components import MageServer
from ops.stack.private_files import new_password

pytestmark = pytest.mark.integration

PORT_OFFSET = 23


def _started(settings: Settings) -> MageServer:
    mage = MageServer(settings)
    previous = os.environ.get("INSTANCE_TYPE")
    os.environ["INSTANCE_TYPE"] = "web_server"  # no schedules: nothing runs in the background
    try:
        mage.start()
    finally:
        os.environ.pop("INSTANCE_TYPE") if previous is None else os.environ.update(INSTANCE_TYPE=previous)
    wait_healthy(mage, 180)
    return mage


@pytest.fixture(scope="module")
def private_mage(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    run_dir = tmp_path_factory.mktemp("mage-security")
    private = dataclasses.replace(
        settings,
        stack_run_dir=run_dir,
        mage_port=settings.mage_port + PORT_OFFSET,
        mage_data_dir=run_dir / "mage_data",
        mage_owner_password=new_password(),
    )
    mage = _started(private)
    try:
        yield private
    finally:
        mage.stop()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _refused(status: int, body: bytes) -> bool:
    """Mage answers most refusals with an error object inside a 200 or with a 4xx."""
    return status >= 400 or b'"error"' in body


def test_an_api_call_without_a_login_is_refused(private_mage: Settings):
    url = f"{private_mage.mage_url}/api/pipelines"
    status, _, body = _get(url)
    assert _refused(status, body), body[:300]
    # The API key is Mage's public frontend id: alone it grants nothing.
    status, _, body = _get(url, {"X-API-KEY": MAGE_FRONTEND_API_KEY})
    assert _refused(status, body) and b"stack_smoke" not in body, body[:300]


def test_a_wrong_password_gets_no_session(private_mage: Settings):
    wrong = dataclasses.replace(private_mage, mage_owner_password="not-the-password")
    with pytest.raises(MageApiError):
        MageApi(wrong).token()


def test_the_owner_lists_pipelines_and_triggers_a_run_with_a_token(private_mage: Settings):
    api = MageApi(private_mage)
    assert api.requires_login()
    pipelines = {pipeline["uuid"] for pipeline in api.get("/api/pipelines")["pipelines"]}
    assert "stack_smoke" in pipelines
    run = api.trigger("stack_smoke", {"source": "test"})
    assert run["id"] in {item["id"] for item in api.pipeline_runs("stack_smoke")}


def test_no_response_grants_cross_origin_access(private_mage: Settings):
    for path in ("/api/status", "/pipelines"):
        status, headers, _ = _get(f"{private_mage.mage_url}{path}")
        assert status == 200
        assert not any(name.lower().startswith("access-control-allow") for name in headers), headers


def test_a_foreign_origin_or_host_is_refused(private_mage: Settings):
    url = f"{private_mage.mage_url}/api/status"
    status, headers, _ = _get(url, {"Origin": "http://evil.example"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, _, _ = _get(url, {"Host": f"evil.example:{private_mage.mage_port}"})
    assert status == 403  # DNS rebinding: a foreign name resolved to 127.0.0.1
    status, _, _ = _get(url, {"Origin": f"http://127.0.0.1:{private_mage.mage_port}"})
    assert status == 200


def test_a_rotated_password_takes_effect_at_the_next_start(private_mage: Settings):
    MageServer(private_mage).stop()
    rotated = dataclasses.replace(private_mage, mage_owner_password=new_password())
    _started(rotated)
    assert MageApi(rotated).token()
    with pytest.raises(MageApiError):
        MageApi(private_mage).token()
