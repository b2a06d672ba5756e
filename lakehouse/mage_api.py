"""Mage's REST API as the project's owner account: sign in, read runs, start a run.

A client, like the boto3 and PostgreSQL ones beside it: the stack manager, the demo, `make
status`, the tests and the dashboard's pipeline-health page all talk to Mage through it. Mage
asks for a login (REQUIRE_USER_AUTHENTICATION), so every call carries the owner's session token;
a Mage started before logins were on answers without one.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from lakehouse.config import Settings

# The OAuth client id of Mage's own web frontend: the same in every copy of Mage and sent by the
# UI with each call, so it names the client and grants nothing; the session token authenticates.
MAGE_FRONTEND_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
# The API trigger `MageApi.trigger` creates once per pipeline and then reuses.
API_TRIGGER_NAME = "ops_api"


class MageApiError(RuntimeError):
    """Mage refused or failed a call; Mage reports most errors inside a 200, read from the body."""


class MageApi:
    """Mage's REST API as the owner: `get`, `post`, the runs of a pipeline, and a run started now."""

    def __init__(self, settings: Settings, timeout: float = 15) -> None:
        self.settings = settings
        self.timeout = timeout
        self._token: str | None = None

    def _call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        headers = {"X-API-KEY": MAGE_FRONTEND_API_KEY, "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.settings.mage_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise MageApiError(f"{method} {path}: HTTP {error.code} {error.read()[:300]!r}") from None
        if "error" in answer:
            raise MageApiError(f"{method} {path}: {answer['error'].get('message') or answer['error']}")
        return answer

    def requires_login(self) -> bool:
        """What the server says (a Mage started before logins were on answers False)."""
        status = self._call("GET", "/api/status")["statuses"][0]
        return bool(status.get("require_user_authentication"))

    def token(self) -> str | None:
        """The owner's session token: a login with MAGE_OWNER_EMAIL and MAGE_OWNER_PASSWORD."""
        if self._token is None:
            if not self.requires_login():
                return None
            if not self.settings.mage_owner_password:
                raise MageApiError("MAGE_OWNER_PASSWORD is empty: run `make setup` (it writes it to .env)")
            credentials = {
                "email": self.settings.mage_owner_email,
                "password": self.settings.mage_owner_password,
            }
            session = self._call("POST", "/api/sessions", {"session": credentials})["session"]
            # The session is a JWT for the UI's cookie; the Authorization header takes the token in it.
            payload = session["token"].split(".")[1]
            self._token = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["token"]
        return self._token

    def get(self, path: str, **parameters: object) -> dict:
        query = f"?{urllib.parse.urlencode(parameters, doseq=True)}" if parameters else ""
        return self._call("GET", path + query, token=self.token())

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body, token=self.token())

    def pipeline_runs(self, pipeline: str, limit: int = 20) -> list[dict]:
        """The newest runs of `pipeline` first."""
        answer = self.get(
            "/api/pipeline_runs", pipeline_uuid=pipeline, _limit=limit, **{"_order_by[]": "-id"}
        )
        return answer["pipeline_runs"]

    def trigger(self, pipeline: str, variables: dict[str, object] | None = None) -> dict:
        """Start a run of `pipeline` now through its API trigger (created on first use); the run."""
        path = f"/api/pipelines/{pipeline}/pipeline_schedules"
        schedules = [s for s in self.get(path)["pipeline_schedules"] if s["name"] == API_TRIGGER_NAME]
        if not schedules:
            schedule = {"name": API_TRIGGER_NAME, "schedule_type": "api", "status": "active"}
            schedules = [self.post(path, {"pipeline_schedule": schedule})["pipeline_schedule"]]
        run = {"pipeline_run": {"variables": variables or {}}}
        return self.post(f"/api/pipeline_schedules/{schedules[0]['id']}/pipeline_runs", run)["pipeline_run"]
