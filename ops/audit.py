"""`make audit`: known vulnerabilities in every virtualenv of the project.

pip-audit (pinned in requirements/tools.lock, its own .venv-tools) asks an advisory service
about every installed version: OSV (api.osv.dev) when it answers, else PyPI's JSON API
(`/pypi/<name>/<version>/json`). Where neither answers (machines that reach only the package
index), pip-audit would skip every package and still print "No known vulnerabilities found";
this script then checks every installed version against the PyPI advisory database kept in
requirements/advisories.json (ops/advisories.py), and says how old that copy is. It also lists
the advisories recorded by hand in requirements/advisories.txt (packages pinned by mage-ai that
cannot move) against what is installed.

Exit status: 0 nothing found, 1 vulnerabilities found, 2 a virtualenv or the advisory data is missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from lakehouse.config import REPO_ROOT
from ops.advisories import SNAPSHOT, Snapshot, canonical, load_snapshot

PIP_AUDIT = REPO_ROOT / ".venv-tools" / "bin" / "pip-audit"
ENVIRONMENTS = {
    "main (.venv)": REPO_ROOT / ".venv",
    "LocalStack (.venv-localstack)": REPO_ROOT / ".venv-localstack",
    "dashboard (.venv-dashboard)": REPO_ROOT / ".venv-dashboard",
    "read API (.venv-api)": REPO_ROOT / ".venv-api",
    "MLflow (.venv-mlflow)": REPO_ROOT / ".venv-mlflow",
    "tools (.venv-tools)": REPO_ROOT / ".venv-tools",
    "compose (.venv-compose)": REPO_ROOT / ".venv-compose",
}
# Installed by `make standins` and `make audit` themselves, not by `make setup`.
OPTIONAL = {REPO_ROOT / ".venv-compose": "make standins", REPO_ROOT / ".venv-tools": "make audit"}
RECORDED = REPO_ROOT / "requirements" / "advisories.txt"
PROBES = {"osv": "https://api.osv.dev/v1/query", "pypi": "https://pypi.org/pypi/pip/23.2.1/json"}


def reachable(url: str) -> bool:
    """True when the URL answers 2xx (OSV answers a POST; the PyPI probe a GET)."""
    data = b'{"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "23.2.1"}' if "osv" in url else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data), timeout=10):
            return True
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


def frozen(venv: Path) -> str:
    """`pip freeze` of an environment, without the editable project itself."""
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze", "--exclude-editable", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return "\n".join(line for line in result.stdout.splitlines() if "==" in line) + "\n"


def audit(venv: Path, service: str) -> list[dict]:
    """pip-audit's verdict on every package of `venv`: name, version, vulns, skip_reason."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        requirements.write(frozen(venv))
        requirements.flush()
        command = [str(PIP_AUDIT), "-r", requirements.name, "--no-deps", "--disable-pip", "-s", service]
        command += ["-f", "json", "--progress-spinner", "off", "--timeout", "20"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if not result.stdout.strip():
        raise RuntimeError(f"pip-audit failed on {venv}:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)["dependencies"]


def recorded_advisories() -> list[tuple[str, str, str]]:
    """(package, version, note) lines of requirements/advisories.txt."""
    rows = []
    for line in RECORDED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            package, version, note = (part.strip() for part in line.split("|", 2))
            rows.append((package, version, note))
    return rows


def with_service(venv: Path, service: str) -> list[dict]:
    """pip-audit's findings for `venv`, as (package, version, id, fixed) dicts; skipped ones apart."""
    findings = []
    for item in audit(venv, service):
        if item.get("skip_reason"):
            findings.append({"package": item["name"], "version": item.get("version"), "skipped": True})
        for vuln in item.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix"
            findings.append(
                {"package": item["name"], "version": item["version"], "id": vuln["id"], "fixed": fixes}
            )
    return findings


def with_snapshot(venv: Path, snapshot: Snapshot) -> list[dict]:
    """Findings for `venv` from the kept advisory database; packages it does not cover are skipped."""
    findings = []
    for line in frozen(venv).split():
        package, version = line.split("==", 1)
        if canonical(package) not in snapshot.packages:
            findings.append({"package": package, "version": version, "skipped": True})
        for advisory in snapshot.findings(package, version):
            ids = ", ".join([advisory.id, *advisory.aliases])
            fixes = ", ".join(advisory.fixed) or "no fix"
            findings.append({"package": package, "version": version, "id": ids, "fixed": fixes})
    return findings


def main() -> int:
    service = next((name for name, url in PROBES.items() if reachable(url)), None)
    if service and not PIP_AUDIT.exists():
        print("pip-audit is not installed: run `make audit` (it installs requirements/tools.lock)")
        return 2
    if service:
        print(f"advisory data: the {service} service, through pip-audit")
    else:
        snapshot = load_snapshot()
        print(
            f"advisory data: no service reachable ({PROBES['osv']}, {PROBES['pypi']}); using "
            f"{SNAPSHOT.relative_to(REPO_ROOT)}, the PyPI advisory database as of {snapshot.commit_date} "
            f"(commit {snapshot.commit[:12]}): advisories published after that date are not in it. "
            "Refresh it with `python -m ops.advisories <checkout of github.com/pypa/advisory-database>`."
        )
    found = missing = 0
    for label, venv in ENVIRONMENTS.items():
        if not (venv / "bin" / "pip").exists():
            print(f"\n{label}: not installed (`{OPTIONAL.get(venv, 'make setup')}` installs it)")
            missing += venv not in OPTIONAL
            continue
        findings = with_service(venv, service) if service else with_snapshot(venv, snapshot)
        skipped = {item["package"] for item in findings if item.get("skipped")}
        print(f"\n{label}: {len(frozen(venv).split())} packages, {len(skipped)} not covered")
        for item in findings:
            if not item.get("skipped"):
                print(f"  {item['package']} {item['version']}  {item['id']}  fixed in: {item['fixed']}")
                found += 1
    print("\nrecorded by hand (requirements/advisories.txt; pinned by mage-ai 0.9.80, cannot move):")
    installed = dict(line.lower().split("==", 1) for line in frozen(REPO_ROOT / ".venv").split())
    for package, version, note in recorded_advisories():
        now = installed.get(package.lower(), "not installed")
        state = "still installed" if now == version else f"now {now}"
        print(f"  {package} {version} ({state}): {note}")
    if found:
        print(f"\n{found} known vulnerabilities found")
        return 1
    if missing:
        print(f"\n{missing} virtualenvs missing: run `make setup`")
        return 2
    print("\nno known vulnerabilities in the advisory data above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
