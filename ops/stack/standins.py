"""Stand-in images for docker-compose.yml on a machine with Podman but no Docker Hub.

A laptop pulls `python`, `localstack/localstack` and `postgres` from Docker Hub. Machines that reach
only package registries cannot, so this builds local images that keep the same contracts from
Debian's and PyPI's packages, and prints the variables (PYTHON_IMAGE, LOCALSTACK_IMAGE,
POSTGRES_IMAGE) that point docker-compose.yml at them:

1. a Debian bookworm base: `debootstrap --variant=minbase` from the host's own Debian mirror,
   trusting the host's extra CA certificates (these machines reach registries through a TLS proxy),
   imported with `podman import`;
2. Python, LocalStack and PostgreSQL on that base (ops/stack/standins/*.Containerfile);
3. the project's own images from their Dockerfiles on the Python stand-in (`compose build`).

Cached: the base is made once (about two minutes); the rest are `podman build`s whose layers are
reused, so a second run takes seconds. Podman needs `--runtime runc --cgroup-manager cgroupfs` and
no default ulimits here (crun refuses the hybrid cgroup setup): `podman_environment()` gives the
CONTAINERS_CONF that says so to every podman started with it, podman-compose's included.

`python -m ops.stack.standins` builds them (as root: debootstrap and rootful podman).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from lakehouse.config import REPO_ROOT

CACHE_DIR = REPO_ROOT / ".cache" / "standins"
CONTAINERFILES = Path(__file__).with_name("standins")
CONTAINERS_CONF = CACHE_DIR / "containers.conf"
COMPOSE_VENV = REPO_ROOT / ".venv-compose"
PODMAN_COMPOSE = COMPOSE_VENV / "bin" / "podman-compose"
# Debian packages the stand-ins need on the host, installed when missing.
HOST_PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")

PREFIX = "localhost/stock-lakehouse-standin"
BASE_IMAGE = f"{PREFIX}/debian:bookworm"
# The Python stand-in is this interpreter's CPython (see stage_host_python), tagged with its version.
PYTHON_IMAGE = f"{PREFIX}/python:{platform.python_version()}-bookworm"
LOCALSTACK_IMAGE = f"{PREFIX}/localstack:4.9.2"
POSTGRES_IMAGE = f"{PREFIX}/postgres:15-bookworm"


class StandinError(RuntimeError):
    """A stand-in could not be built; the message says which step and what to do."""


def image_environment() -> dict[str, str]:
    """The compose variables that name the stand-ins instead of Docker Hub's images."""
    return {
        "PYTHON_IMAGE": PYTHON_IMAGE,
        "LOCALSTACK_IMAGE": LOCALSTACK_IMAGE,
        "POSTGRES_IMAGE": POSTGRES_IMAGE,
    }


def podman_environment() -> dict[str, str]:
    """Podman settings for this machine, for podman and for podman-compose's podman calls."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    CONTAINERS_CONF.write_text(
        "[containers]\n"
        "# The default ulimits are not permitted inside this machine's sandbox.\n"
        "default_ulimits = []\n"
        "[engine]\n"
        "# crun fails on the hybrid cgroup setup ('cgroups in hybrid mode not supported').\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
    )
    return {"CONTAINERS_CONF": str(CONTAINERS_CONF)}


def _run(command: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **podman_environment(), **kwargs.pop("env", {})}
    result = subprocess.run(command, env=env, check=False, **kwargs)
    if result.returncode != 0:
        raise StandinError(f"{what} failed (exit {result.returncode}): {' '.join(command)}")
    return result


def ensure_host_packages(log=print) -> None:
    """podman, runc and debootstrap from Debian when missing; podman-compose pinned in .venv-compose."""
    missing = [package for command, package in HOST_PACKAGES.items() if shutil.which(command) is None]
    if missing:
        if os.geteuid() != 0:
            raise StandinError(
                f"missing {', '.join(missing)}: run as root or `apt-get install {' '.join(missing)}`"
            )
        log(f"installing Debian packages: {' '.join(missing)}")
        _run(["apt-get", "update", "-qq"], "apt-get update")
        _run(
            ["apt-get", "install", "-y", "-qq", *missing],
            "apt-get install",
            env={"DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
        )
    _run(["make", "--silent", "-C", str(REPO_ROOT), ".venv-compose/.installed"], "installing podman-compose")


def image_exists(name: str) -> bool:
    result = subprocess.run(
        ["podman", "image", "exists", name],
        env={**os.environ, **podman_environment()},
        check=False,
    )
    return result.returncode == 0


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The host's own Debian mirror (first `deb` URI in its apt sources): the one it can reach."""
    files = [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text()
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.MULTILINE) or re.search(
            r"^deb\s+(?:\[[^]]*\]\s+)?(\S+/debian)\s+", text, re.MULTILINE
        )
        if match:
            return match.group(1)
    raise StandinError(f"no Debian mirror found in {sources_dir}/sources.list*: give one with --mirror")


def build_base(mirror: str, log=print) -> None:
    """debootstrap a minimal bookworm with the host's extra CA certificates, then `podman import`."""
    with tempfile.TemporaryDirectory(prefix="standin-rootfs-", dir=CACHE_DIR) as folder:
        root = Path(folder)
        log(f"debootstrap --variant=minbase bookworm from {mirror} (about two minutes)")
        _run(
            ["debootstrap", "--variant=minbase", "--include=ca-certificates", "bookworm", str(root), mirror],
            "debootstrap",
            stdout=subprocess.DEVNULL,
        )
        extra = sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []
        for certificate in extra:
            shutil.copy(certificate, root / "usr/local/share/ca-certificates" / certificate.name)
        if extra:
            _run(
                ["chroot", str(root), "update-ca-certificates"],
                "update-ca-certificates",
                stdout=subprocess.DEVNULL,
            )
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        archive = root.with_suffix(".tar")
        with tarfile.open(archive, "w") as tar:
            for item in sorted(root.iterdir()):
                tar.add(item, arcname=item.name)
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        # pip and Node carry CA lists of their own: point them at the system's, which has the host's.
        changes = [f"ENV=PIP_CERT={bundle}", f"ENV=NODE_EXTRA_CA_CERTS={bundle}", "ENV=LANG=C.UTF-8"]
        change_flags = [flag for change in changes for flag in ("--change", change)]
        _run(
            ["podman", "import", *change_flags, str(archive), BASE_IMAGE],
            "podman import",
            stdout=subprocess.DEVNULL,
        )
        archive.unlink()


def build(containerfile: str, tag: str, arguments: dict[str, str], context: Path = REPO_ROOT) -> None:
    """`podman build` with the repository as context by default (layers cached between runs)."""
    build_args = [flag for name, value in arguments.items() for flag in ("--build-arg", f"{name}={value}")]
    _run(
        [
            "podman",
            "build",
            "--quiet",
            "--file",
            str(CONTAINERFILES / containerfile),
            "--tag",
            tag,
            *build_args,
            str(context),
        ],
        f"building {tag}",
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
    )


def stage_host_python() -> Path:
    """The build context of the Python stand-in: this interpreter's CPython (the locks' 3.11),
    without its site-packages, laid out as /usr/local. Staged once; kept in the cache."""
    context = CACHE_DIR / f"python-{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    if (context / "usr-local" / "bin").is_dir():
        return context
    prefix = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    staging = context.with_suffix(".partial")
    shutil.rmtree(staging, ignore_errors=True)
    target = staging / "usr-local"
    (target / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / version, target / "bin" / version)
    shutil.copytree(prefix / "include", target / "include", symlinks=True)
    (target / "lib").mkdir()
    for library in (prefix / "lib").glob(f"lib{version}.so*"):
        shutil.copy2(library, target / "lib" / library.name, follow_symlinks=False)
    skipped = shutil.ignore_patterns(
        "site-packages", "test", "__pycache__", "idlelib", "tkinter", "turtledemo"
    )
    shutil.copytree(prefix / "lib" / version, target / "lib" / version, symlinks=True, ignore=skipped)
    (target / "lib" / version / "site-packages").mkdir()
    shutil.rmtree(context, ignore_errors=True)
    staging.rename(context)
    return context


def build_all(mirror: str | None = None, log=print) -> dict[str, float]:
    """Every stand-in and the project's own images; returns seconds per step."""
    ensure_host_packages(log)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    began = time.monotonic()
    if image_exists(BASE_IMAGE):
        log(f"{BASE_IMAGE}: cached")
    else:
        build_base(mirror or debian_mirror(), log)
    seconds["base"] = time.monotonic() - began
    for step, containerfile, tag, arguments, context in (
        ("python", "python.Containerfile", PYTHON_IMAGE, {"BASE_IMAGE": BASE_IMAGE}, stage_host_python()),
        (
            "localstack",
            "localstack.Containerfile",
            LOCALSTACK_IMAGE,
            {"PYTHON_IMAGE": PYTHON_IMAGE},
            REPO_ROOT,
        ),
        ("postgres", "postgres.Containerfile", POSTGRES_IMAGE, {"BASE_IMAGE": BASE_IMAGE}, REPO_ROOT),
    ):
        began = time.monotonic()
        log(f"building {tag}")
        build(containerfile, tag, arguments, context)
        seconds[step] = time.monotonic() - began
    began = time.monotonic()
    log("building the project's images (compose build on the stand-ins)")
    _run(
        [str(PODMAN_COMPOSE), "build"],
        "compose build",
        cwd=REPO_ROOT,
        env=image_environment(),
        stdout=subprocess.DEVNULL,
    )
    seconds["project"] = time.monotonic() - began
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.stack.standins", description=__doc__)
    parser.add_argument("--mirror", help="Debian mirror for debootstrap (default: the host's apt sources)")
    arguments = parser.parse_args(argv)
    try:
        seconds = build_all(arguments.mirror)
    except StandinError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("stand-ins built: " + ", ".join(f"{step} {value:.0f} s" for step, value in seconds.items()))
    for name, value in image_environment().items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
