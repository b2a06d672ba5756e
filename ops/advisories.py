"""PyPI advisory data kept in the repository, for `make audit` where no advisory service answers.

The advisory data behind PyPI's own `vulnerabilities` field is the Python Packaging Authority's
advisory database (github.com/pypa/advisory-database, OSV format, CC-BY 4.0). OSV's API and
PyPI's per-version JSON both serve it online; neither is reachable from a machine that reaches
only the package index. So `requirements/advisories.json` holds the entries of that database for
every package named in the project's lock files, reduced to what a verdict needs (ids, aliases,
affected ranges, fixed versions, a one-line summary), with the commit and date it was taken
from. `python -m ops.advisories DIR` rebuilds it from a checkout of the database.

A version is affected as OSV defines it: it is listed in the entry's `versions`, or it falls in
an ECOSYSTEM range, at or after an `introduced` event and before the next `fixed` (or at or
before a `last_affected`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

from lakehouse.config import REPO_ROOT

SNAPSHOT = REPO_ROOT / "requirements" / "advisories.json"
LOCKS = REPO_ROOT / "requirements"
SOURCE = "https://github.com/pypa/advisory-database"
_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", re.MULTILINE)


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of `-`, `_`, `.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Advisory:
    """One advisory's verdict data for one package."""

    id: str
    package: str
    summary: str
    aliases: tuple[str, ...]
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    versions: frozenset[str]
    fixed: tuple[str, ...]

    def affects(self, version: str) -> bool:
        """True when `version` of the package is affected (OSV's ECOSYSTEM semantics)."""
        if version in self.versions:
            return True
        try:
            installed = Version(version)
        except InvalidVersion:
            return False
        return any(_in_range(installed, events) for events in self.ranges)


def _version(text: str) -> Version:
    return Version("0") if text == "0" else Version(text)


def _in_range(installed: Version, events: tuple[tuple[str, str], ...]) -> bool:
    """Walk the range's events in version order; the last one at or below `installed` decides."""
    ordered = sorted(events, key=lambda event: (_version(event[1]), event[0] != "introduced"))
    affected = False
    for kind, value in ordered:
        bound = _version(value)
        if kind == "introduced" and installed >= bound:
            affected = True
        elif (kind == "fixed" and installed >= bound) or (kind == "last_affected" and installed > bound):
            affected = False
    return affected


def locked_packages(locks: Path = LOCKS) -> set[str]:
    """Canonical names of every package pinned in requirements/*.lock."""
    names: set[str] = set()
    for lock in sorted(locks.glob("*.lock")):
        names.update(canonical(name) for name in _PINNED.findall(lock.read_text()))
    return names


def reduce_entry(entry: dict, packages: set[str]) -> list[dict]:
    """The parts of one OSV entry that concern `packages`, one dict per affected package."""
    reduced = []
    for affected in entry.get("affected", []):
        package = canonical(affected.get("package", {}).get("name", ""))
        if package not in packages or affected.get("package", {}).get("ecosystem") != "PyPI":
            continue
        ranges = [
            [[kind, value] for event in rng.get("events", []) for kind, value in event.items()]
            for rng in affected.get("ranges", [])
            if rng.get("type") == "ECOSYSTEM"
        ]
        fixed = sorted({event[1] for rng in ranges for event in rng if event[0] == "fixed"})
        details = " ".join(str(entry.get("summary") or entry.get("details") or "").split())
        reduced.append(
            {
                "id": entry["id"],
                "package": package,
                "summary": details[:200],
                "aliases": sorted(entry.get("aliases") or []),
                "ranges": ranges,
                # the explicit list only matters where no ECOSYSTEM range states the same
                "versions": [] if ranges else sorted(str(v) for v in affected.get("versions") or []),
                "fixed": fixed,
            }
        )
    return reduced


def build_snapshot(checkout: Path, packages: set[str]) -> dict:
    """Read every entry under `checkout`/vulns for `packages` into the snapshot's JSON form."""
    advisories: list[dict] = []
    for path in sorted((checkout / "vulns").glob("*/*.yaml")):
        if canonical(path.parent.name) in packages:
            advisories.extend(reduce_entry(yaml.safe_load(path.read_text()), packages))
    commit, date = _head(checkout)
    return {
        "source": SOURCE,
        "licence": "CC-BY-4.0 (Python Packaging Authority advisory database)",
        "commit": commit,
        "commit_date": date,
        "packages": sorted(packages),
        "advisories": sorted(advisories, key=lambda item: (item["package"], item["id"])),
    }


def _head(checkout: Path) -> tuple[str, str]:
    """Commit id and date of the checkout: the snapshot says how old its advisories are."""
    result = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%H %cs"],
        capture_output=True,
        text=True,
        check=True,
    )
    commit, date = result.stdout.split()
    return commit, date


@dataclass(frozen=True)
class Snapshot:
    """The advisories of requirements/advisories.json, by package."""

    commit: str
    commit_date: str
    packages: frozenset[str]
    by_package: dict[str, tuple[Advisory, ...]]

    def findings(self, package: str, version: str) -> list[Advisory]:
        return [item for item in self.by_package.get(canonical(package), ()) if item.affects(version)]


def load_snapshot(path: Path = SNAPSHOT) -> Snapshot:
    data = json.loads(path.read_text())
    by_package: dict[str, list[Advisory]] = {}
    for item in data["advisories"]:
        advisory = Advisory(
            id=item["id"],
            package=item["package"],
            summary=item["summary"],
            aliases=tuple(item["aliases"]),
            ranges=tuple(tuple((kind, value) for kind, value in rng) for rng in item["ranges"]),
            versions=frozenset(item["versions"]),
            fixed=tuple(item["fixed"]),
        )
        by_package.setdefault(advisory.package, []).append(advisory)
    return Snapshot(
        commit=data["commit"],
        commit_date=data["commit_date"],
        packages=frozenset(data["packages"]),
        by_package={name: tuple(items) for name, items in by_package.items()},
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m ops.advisories <checkout of github.com/pypa/advisory-database>")
        return 2
    checkout = Path(argv[0])
    if not (checkout / "vulns").is_dir():
        print(f"{checkout} holds no vulns/ folder: give a git checkout of {SOURCE}")
        return 2
    snapshot = build_snapshot(checkout, locked_packages())
    SNAPSHOT.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {SNAPSHOT.relative_to(REPO_ROOT)}: {len(snapshot['advisories'])} advisories for "
        f"{len(snapshot['packages'])} locked packages, from {SOURCE} {snapshot['commit'][:12]} "
        f"({snapshot['commit_date']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
