"""`make audit`: known vulnerabilities in the main and LocalStack virtualenvs, with pip-audit.

pip-audit (pinned in requirements/tools.lock, its own .venv-tools) asks an advisory service
about every installed version: OSV (api.osv.dev) when it answers, else PyPI's JSON API
(`/pypi/<name>/<version>/json`). Where neither answers, pip-audit skips every package and still
prints "No known vulnerabilities found"; this script says instead that nothing was checked,
and lists the advisories recorded by hand in requirements/advisories.txt (packages pinned by
mage-ai that cannot move) against what is installed.

Exit status: 0 nothing found, 1 vulnerabilities found, 2 the advisory data could not be reached.
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

PIP_AUDIT = REPO_ROOT / ".venv-tools" / "bin" / "pip-audit"
ENVIRONMENTS = {
    "main (.venv)": REPO_ROOT / ".venv",
    "LocalStack (.venv-localstack)": REPO_ROOT / ".venv-localstack",
}
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


def main() -> int:
    if not PIP_AUDIT.exists():
        print("pip-audit is not installed: run `make audit` (it installs requirements/tools.lock)")
        return 2
    service = next((name for name, url in PROBES.items() if reachable(url)), None)
    print(f"advisory service: {service or 'none reachable'} (osv: {PROBES['osv']}, pypi: {PROBES['pypi']})")
    found = unchecked = 0
    for label, venv in ENVIRONMENTS.items():
        dependencies = audit(venv, service or "pypi")
        skipped = [item for item in dependencies if item.get("skip_reason")]
        print(f"\n{label}: {len(dependencies)} packages, {len(skipped)} not checked")
        for item in dependencies:
            for vuln in item.get("vulns", []):
                fixes = ", ".join(vuln.get("fix_versions", [])) or "no fix"
                print(f"  {item['name']} {item.get('version')}  {vuln['id']}  fixed in: {fixes}")
                found += 1
        unchecked += len(skipped)
        if dependencies and len(skipped) == len(dependencies):
            print("  NOTHING WAS CHECKED: the advisory service answered for no package (see above)")
    print("\nrecorded by hand (requirements/advisories.txt; pinned by mage-ai 0.9.80, cannot move):")
    installed = dict(line.lower().split("==", 1) for line in frozen(REPO_ROOT / ".venv").split())
    for package, version, note in recorded_advisories():
        now = installed.get(package.lower(), "not installed")
        state = "still installed" if now == version else f"now {now}"
        print(f"  {package} {version} ({state}): {note}")
    if found:
        print(f"\n{found} known vulnerabilities found")
        return 1
    if unchecked:
        print(f"\n{unchecked} packages could not be checked: no advisory data reachable from here")
        return 2
    print("\nno known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
