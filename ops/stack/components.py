"""The native stack's services: the S3 server, LocalStack, PostgreSQL and Mage as host processes.

Each component knows how to start itself from Settings, how to tell whether it is healthy,
and which signal stops it cleanly. Everything listens on 127.0.0.1 only and keeps its PID,
log and data under STACK_RUN_DIR.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, fields
from pathlib import Path

import psycopg2
from botocore.exceptions import BotoCoreError, ClientError

from lakehouse.config import REPO_ROOT, Settings
from lakehouse.db import connect
from lakehouse.jars import JarError, s3proxy_jar
from ops.stack import process
from ops.stack.database import bootstrap

LOCALSTACK_VENV = REPO_ROOT / ".venv-localstack"
MAIN_VENV = REPO_ROOT / ".venv"
LOOPBACK_PRELOAD = Path(__file__).with_name("loopback.cjs")
# S3 is served by the disk-backed S3Server below; LocalStack serves it only when
# AWS_ENDPOINT_URL_S3 is empty (and then forgets the lake on every restart).
LOCALSTACK_SERVICES = "kinesis,sns,sqs,iam,sts"
# The S3 server writes each object to `<key>-<uuid>` and renames it into place once complete;
# a kill in between leaves that temporary file, which a listing would show as an object.
_INTERRUPTED_UPLOAD = re.compile(r"-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class StackError(RuntimeError):
    """A service could not be started or checked; the message says which and what to do."""


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_json(url: str, timeout: float = 3.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


class Component:
    name: str
    stop_signal: signal.Signals = signal.SIGTERM

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.run_dir = settings.stack_run_dir

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    def health(self) -> Health:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def is_ours(self) -> bool:
        """True when a process recorded by our PID file is running."""
        return process.read_pid(self.pid_file) is not None

    def stop(self) -> bool:
        return process.stop(self.pid_file, self.stop_signal)

    def _require(self, path: Path, what: str) -> None:
        if not path.exists():
            raise StackError(f"{self.name}: {what} not found at {path}. Run `make setup` first.")


class LocalStack(Component):
    """LocalStack as a plain process in its own virtualenv (`localstack-core`, no Docker)."""

    name = "localstack"

    @property
    def url(self) -> str:
        return f"http://{self.settings.localstack_host}:{self.settings.localstack_port}"

    def services(self) -> list[str]:
        extra = [] if self.settings.aws_endpoint_url_s3 else ["s3"]
        return [*extra, *LOCALSTACK_SERVICES.split(",")]

    def health(self) -> Health:
        try:
            services = _http_json(f"{self.url}/_localstack/health").get("services", {})
        except (OSError, ValueError) as error:
            return Health(False, f"no answer at {self.url} ({error})")
        wanted = self.services()
        down = [name for name in wanted if services.get(name) not in {"running", "available"}]
        if down:
            return Health(False, f"services not ready: {', '.join(down)}")
        return Health(True, f"{self.url} ({', '.join(wanted)})")

    def environment(self) -> dict[str, str]:
        # Tools such as kinesis-mock are installed under FILESYSTEM_ROOT on first use, so it
        # lives in the cache (kept by `make clean`); PERSISTENCE=0 keeps no state there.
        root = REPO_ROOT / ".cache" / "localstack"
        preload = f"--require {LOOPBACK_PRELOAD}"
        node_options = os.environ.get("NODE_OPTIONS", "")
        return {
            **os.environ,
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(root),
            "XDG_CACHE_HOME": str(root / "xdg"),
            "GATEWAY_LISTEN": f"{self.settings.localstack_host}:{self.settings.localstack_port}",
            # The default Twisted gateway binds every interface whatever GATEWAY_LISTEN says.
            "GATEWAY_SERVER": "hypercorn",
            "SERVICES": ",".join(self.services()),
            "EAGER_SERVICE_LOADING": "1",
            "PERSISTENCE": "0",
            "KINESIS_PERSISTENCE": "0",
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "LOCALSTACK_TELEMETRY_DISABLED": "1",
            "DISABLE_EVENTS": "1",
            # kinesis-mock is a Node program that binds 0.0.0.0; the preload keeps it on loopback.
            "NODE_OPTIONS": f"{node_options} {preload}".strip(),
        }

    def start(self) -> None:
        python = LOCALSTACK_VENV / "bin" / "python"
        self._require(python, "LocalStack's virtualenv")
        if port_open(self.settings.localstack_host, self.settings.localstack_port):
            raise StackError(
                f"port {self.settings.localstack_port} is taken by another program: stop it or set "
                "LOCALSTACK_PORT and AWS_ENDPOINT_URL in .env"
            )
        env = self.environment()
        Path(env["FILESYSTEM_ROOT"]).mkdir(parents=True, exist_ok=True)
        pid = process.spawn(
            [str(python), "-m", "localstack.runtime.main"],
            self.log_file,
            env,
            cwd=Path(env["FILESYSTEM_ROOT"]),
        )
        process.write_pid(self.pid_file, pid)


class S3Server(Component):
    """The lake's S3 API: S3Proxy with its filesystem backend, one file per object in STACK_RUN_DIR/s3.

    LocalStack's free edition keeps S3 in memory, so bronze and silver were gone after every
    restart. S3Proxy answers a PutObject only after the object's file is complete and renamed
    into place, so what it acknowledged survives a kill -9 of the server; `stop` also flushes
    the files to disk (os.sync) for a reboot right after `make down`.
    """

    name = "s3"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "s3" / "data"

    @property
    def url(self) -> str:
        return f"http://{self.settings.s3_host}:{self.settings.s3_port}"

    def health(self) -> Health:
        import boto3
        from botocore.config import Config

        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=self.settings.aws_region,
            aws_access_key_id=self._identity()[0],
            aws_secret_access_key=self._identity()[1],
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
        )
        try:
            buckets = s3.list_buckets()["Buckets"]
        except (BotoCoreError, ClientError) as error:
            return Health(False, f"no S3 answer at {self.url} ({error})")
        return Health(True, f"{self.url} (S3, {len(buckets)} buckets in {_display(self.data_dir)})")

    def _identity(self) -> tuple[str, str]:
        """The one access key the server accepts: the project's, or LocalStack's `test` when empty."""
        return (self.settings.aws_access_key_id or "test", self.settings.aws_secret_access_key or "test")

    def properties(self) -> str:
        identity, credential = self._identity()
        return "\n".join(
            [
                f"s3proxy.endpoint={self.url}",
                "s3proxy.authorization=aws-v2-or-v4",
                f"s3proxy.identity={identity}",
                f"s3proxy.credential={credential}",
                "jclouds.provider=filesystem-nio2",
                f"jclouds.identity={identity}",
                f"jclouds.credential={credential}",
                f"jclouds.filesystem.basedir={self.data_dir}",
                "",
            ]
        )

    def sweep_interrupted_uploads(self) -> list[Path]:
        """Delete the temporary files of uploads a kill cut short: never acknowledged, not objects.

        Runs only while the server is stopped, so no upload is in flight.
        """
        swept = []
        if not self.data_dir.exists():
            return swept
        for path in self.data_dir.rglob("*"):
            if path.is_file() and _INTERRUPTED_UPLOAD.search(path.name):
                path.unlink()
                swept.append(path)
        return swept

    def start(self) -> None:
        java = shutil.which("java")
        if java is None:
            raise StackError("s3: java not found; install Java 17 (apt-get install openjdk-17-jre-headless)")
        try:
            jar = s3proxy_jar(self.settings)
        except JarError as error:
            raise StackError(f"s3: {error}") from None
        if port_open(self.settings.s3_host, self.settings.s3_port):
            raise StackError(
                f"port {self.settings.s3_port} is taken by another program: stop it or set "
                "S3_PORT and AWS_ENDPOINT_URL_S3 in .env"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        swept = self.sweep_interrupted_uploads()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a") as log:
            log.write(f"stack: starting S3Proxy on {self.url}; swept {len(swept)} interrupted uploads\n")
        config = self.run_dir / "s3" / "s3proxy.properties"
        config.write_text(self.properties())
        config.chmod(0o600)
        command = [
            java,
            # A small heap and the serial collector: objects are streamed, not held in memory.
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-jar",
            str(jar),
            "--properties",
            str(config),
        ]
        pid = process.spawn(command, self.log_file, dict(os.environ), cwd=self.run_dir / "s3")
        process.write_pid(self.pid_file, pid)

    def stop(self) -> bool:
        stopped = super().stop()
        os.sync()  # the page cache to disk: a reboot right after `make down` keeps every object
        return stopped


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


class Postgres(Component):
    """A private PostgreSQL cluster (Debian's server binaries) in STACK_RUN_DIR/postgres."""

    name = "postgres"
    # SIGINT is PostgreSQL's fast shutdown: roll back open transactions, close, exit.
    stop_signal = signal.SIGINT

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "postgres" / "data"

    def health(self) -> Health:
        try:
            with connect(self.settings, connect_timeout=3) as connection, connection.cursor() as cursor:
                cursor.execute("select current_setting('server_version')")
                (version,) = cursor.fetchone()
        except psycopg2.Error as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return Health(False, f"cannot connect to {self._where()}: {first_line}")
        return Health(True, f"PostgreSQL {version} at {self._where()}/{self.settings.postgres_db}")

    def _where(self) -> str:
        return f"{self.settings.postgres_host}:{self.settings.postgres_port}"

    @staticmethod
    def bin_dir() -> Path:
        """Debian keeps initdb and pg_ctl out of PATH, in /usr/lib/postgresql/<major>/bin."""
        found = shutil.which("pg_ctl")
        if found:
            return Path(found).resolve().parent
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
        if not versions:
            raise StackError(
                "PostgreSQL server binaries not found: run `make setup` (installs Debian's postgresql)."
            )
        return versions[-1].parent

    def _as_owner(self, command: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: run its tools as the `postgres` system user then."""
        if os.geteuid() != 0:
            return command
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise StackError(
                "running as root but there is no `postgres` user: install Debian's postgresql"
            ) from None
        return ["runuser", "-u", "postgres", "--", *command]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for item in [path, *path.rglob("*")]:
                os.chown(item, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        base = self.data_dir.parent
        base.mkdir(parents=True, exist_ok=True)
        password_file = base / "pwfile"
        owner, owner_password = self.settings.postgres_owner  # the superuser (ops/stack/database.py)
        password_file.write_text(owner_password + "\n")
        password_file.chmod(0o600)
        self._chown(base)
        command = [
            str(self.bin_dir() / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            owner,
            "--pwfile",
            str(password_file),
            "--auth-host",
            "scram-sha-256",
            "--auth-local",
            "peer",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
        ]
        try:
            result = subprocess.run(self._as_owner(command), capture_output=True, text=True, check=False)
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(f"initdb failed in {self.data_dir}:\n{result.stdout}{result.stderr}")

    def start(self) -> None:
        # A server we started earlier may be up without the database (first start interrupted).
        if not self.is_ours():
            self._start_server()
        bootstrap(self.settings, log=lambda message: None)

    def _start_server(self) -> None:
        if port_open(self.settings.postgres_host, self.settings.postgres_port):
            raise StackError(
                f"port {self.settings.postgres_port} is taken by another program: stop it or set "
                "POSTGRES_PORT in .env"
            )
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._chown(self.log_file)
        options = (
            f"-c listen_addresses={self.settings.postgres_host} -c port={self.settings.postgres_port} "
            "-c unix_socket_directories='' -c max_connections=100 -c shared_buffers=256MB"
        )
        if (self.data_dir / "server.crt").exists() and (self.data_dir / "server.key").exists():
            options += " -c ssl=on"  # TLS when given a certificate (README, Security)
        command = [
            str(self.bin_dir() / "pg_ctl"),
            "start",
            "--pgdata",
            str(self.data_dir),
            "--log",
            str(self.log_file),
            "--options",
            options,
            "--wait",
            "--timeout",
            "60",
        ]
        result = subprocess.run(self._as_owner(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(
                f"pg_ctl could not start PostgreSQL (log: {self.log_file}):\n{result.stdout}{result.stderr}"
            )
        pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        process.write_pid(self.pid_file, pid)


class MageServer(Component):
    """Mage's web server and scheduler on 127.0.0.1, serving mage_project/."""

    name = "mage"

    def health(self) -> Health:
        url = f"{self.settings.mage_url}/api/status"
        try:
            _http_json(url)
        except (OSError, ValueError, urllib.error.HTTPError) as error:
            return Health(False, f"no answer at {url} ({error})")
        return Health(True, self.settings.mage_url)

    def start(self) -> None:
        python = MAIN_VENV / "bin" / "python"
        self._require(python, "the main virtualenv")
        if not self.settings.mage_owner_password:
            raise StackError("mage: MAGE_OWNER_PASSWORD is empty: `make setup` generates it into .env")
        if port_open(self.settings.mage_host, self.settings.mage_port):
            raise StackError(
                f"port {self.settings.mage_port} is taken by another program: set MAGE_PORT in .env"
            )
        # Mage's own CLI, behind a guard against foreign Host/Origin and CORS grants (mage_guard.py).
        command = [
            str(python),
            "-m",
            "ops.stack.mage_guard",
            "start",
            str(REPO_ROOT / "mage_project"),
            "--host",
            self.settings.mage_host,
            "--port",
            str(self.settings.mage_port),
        ]
        pid = process.spawn(command, self.log_file, mage_environment(self.settings), cwd=REPO_ROOT)
        process.write_pid(self.pid_file, pid)


def mage_environment(settings: Settings) -> dict[str, str]:
    """Environment for `mage start` and `mage run`: the project's settings plus Mage's switches."""
    settings.mage_data_dir.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **settings_environment(settings),
        "MAGE_DATA_DIR": str(settings.mage_data_dir),
        # Mage's pipelines connect as the loader; they are not handed the owner's password.
        "POSTGRES_OWNER_PASSWORD": "",
        # A login for the UI and the API (ops/mage.py logs in with the owner's password).
        "REQUIRE_USER_AUTHENTICATION": "1",
        "DEFAULT_OWNER_EMAIL": settings.mage_owner_email,
        "DEFAULT_OWNER_USERNAME": "owner",
        "DEFAULT_OWNER_PASSWORD": settings.mage_owner_password,
        "DISABLE_AUTO_BROWSER_OPEN": "1",
        "SPARK_LOCAL_IP": settings.spark_local_ip,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }


def settings_environment(settings: Settings) -> dict[str, str]:
    """Settings as environment variables, so child processes see exactly what this one loaded."""
    values = {}
    for field in fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, bool):
            value = str(value).lower()
        values[field.name.upper()] = "" if value is None else str(value)
    return values


DASHBOARD_VENV = REPO_ROOT / ".venv-dashboard"


def dashboard_command(host: str, port: int) -> list[str]:
    """Streamlit serving dashboard/app.py on host:port: headless, no usage statistics, no file watcher."""
    return [
        str(DASHBOARD_VENV / "bin" / "python"),
        "-m",
        "streamlit",
        "run",
        str(REPO_ROOT / "dashboard" / "app.py"),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def dashboard_environment(settings: Settings) -> dict[str, str]:
    """The dashboard's environment: the project's settings, and the repository on its import path."""
    return {
        **os.environ,
        **settings_environment(settings),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }


class Dashboard(Component):
    """The Streamlit dashboard (dashboard/) in its own virtualenv; viewers sign in with their own
    PostgreSQL login, so it holds no database credentials of its own."""

    name = "dashboard"

    def health(self) -> Health:
        url = f"{self.settings.dashboard.url}/_stcore/health"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                answer = response.read().decode().strip()
        except OSError as error:
            return Health(False, f"no answer at {url} ({error})")
        if answer != "ok":
            return Health(False, f"{url} answered {answer!r}")
        return Health(True, self.settings.dashboard.url)

    def start(self) -> None:
        self._require(DASHBOARD_VENV / "bin" / "streamlit", "the dashboard's virtualenv")
        host, port = self.settings.dashboard.host, self.settings.dashboard.port
        if port_open(host, port):
            raise StackError(f"port {port} is taken by another program: set DASHBOARD_PORT in .env")
        command = dashboard_command(host, port)
        pid = process.spawn(command, self.log_file, dashboard_environment(self.settings), cwd=REPO_ROOT)
        process.write_pid(self.pid_file, pid)


API_VENV = REPO_ROOT / ".venv-api"


def api_command() -> list[str]:
    """The read API (api/) under uvicorn; it listens where API_HOST and API_PORT say."""
    return [str(API_VENV / "bin" / "python"), "-m", "api"]


def api_environment(settings: Settings) -> dict[str, str]:
    """The dashboard's environment without the loader's or the owner's password: the API connects
    only as its callers."""
    return {**dashboard_environment(settings), "POSTGRES_PASSWORD": "", "POSTGRES_OWNER_PASSWORD": ""}


class ReadApi(Component):
    """The read API (api/, FastAPI) in its own virtualenv; callers sign in with their own
    PostgreSQL login, so it holds no database credentials of its own."""

    name = "api"

    def health(self) -> Health:
        url = f"{self.settings.api.url}/health"
        try:
            answer = _http_json(url)
        except (OSError, ValueError) as error:
            return Health(False, f"no answer at {url} ({error})")
        if answer.get("status") != "ok":
            return Health(False, f"{url} answered {answer!r}")
        return Health(True, f"{self.settings.api.url}/docs")

    def start(self) -> None:
        self._require(API_VENV / "bin" / "python", "the read API's virtualenv")
        host, port = self.settings.api.host, self.settings.api.port
        if port_open(host, port):
            raise StackError(f"port {port} is taken by another program: set API_PORT in .env")
        pid = process.spawn(api_command(), self.log_file, api_environment(self.settings), cwd=REPO_ROOT)
        process.write_pid(self.pid_file, pid)


def components(settings: Settings) -> list[Component]:
    """The native stack in start order (Mage after the others: its blocks talk to them; the
    dashboard and the read API last: they only read gold)."""
    return [
        S3Server(settings),
        LocalStack(settings),
        Postgres(settings),
        MageServer(settings),
        Dashboard(settings),
        ReadApi(settings),
    ]
