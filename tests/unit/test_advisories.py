"""The kept PyPI advisory database: OSV range verdicts, the reduction of entries, the snapshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from ops.advisories import Advisory, build_snapshot, canonical, load_snapshot, locked_packages, reduce_entry

pytestmark = pytest.mark.unit


def advisory(ranges=(), versions=()) -> Advisory:
    return Advisory(
        id="PYSEC-0000-1",
        package="example",
        summary="",
        aliases=(),
        ranges=tuple(tuple(events) for events in ranges),
        versions=frozenset(versions),
        fixed=(),
    )


def test_a_version_between_introduced_and_fixed_is_affected_and_the_fixed_one_is_not() -> None:
    item = advisory(ranges=[[("introduced", "2.3.0"), ("fixed", "2.31.0")]])
    assert item.affects("2.3.0")
    assert item.affects("2.30.0")
    assert not item.affects("2.31.0")
    assert not item.affects("2.2.9")
    # version order, not text order: 2.4 lies inside, 2.100 after the fix
    assert item.affects("2.4.0")
    assert not item.affects("2.100.0")


def test_introduced_zero_and_last_affected() -> None:
    item = advisory(ranges=[[("introduced", "0"), ("last_affected", "1.5")]])
    assert item.affects("0.1")
    assert item.affects("1.5")
    assert not item.affects("1.5.1")


def test_a_range_reopened_after_a_fix_and_the_explicit_version_list() -> None:
    item = advisory(
        ranges=[[("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.1")]]
    )
    assert [item.affects(v) for v in ("1.1", "1.3", "2.0.5", "2.1")] == [True, False, True, False]
    listed = advisory(versions=["0.9-weird", "1.0"])
    assert listed.affects("0.9-weird")
    assert not listed.affects("1.1")
    # a version packaging cannot parse is not guessed at
    assert not advisory(ranges=[[("introduced", "0")]]).affects("not a version")


ENTRY = {
    "id": "PYSEC-2023-74",
    "details": "Requests leaks\n Proxy-Authorization headers.",
    "aliases": ["GHSA-j8r2-6x86-q33q", "CVE-2023-32681"],
    "affected": [
        {
            "package": {"name": "Requests", "ecosystem": "PyPI"},
            "ranges": [
                {"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "74ea7cf"}]},
                {"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]},
            ],
            "versions": ["2.3.0", "2.30.0"],
        },
        {"package": {"name": "requests", "ecosystem": "npm"}, "ranges": [], "versions": ["1.0"]},
        {"package": {"name": "not-locked", "ecosystem": "PyPI"}, "ranges": [], "versions": ["1.0"]},
    ],
}


def test_an_entry_is_reduced_to_the_locked_pypi_packages_and_its_ecosystem_ranges() -> None:
    (reduced,) = reduce_entry(ENTRY, {"requests"})
    assert reduced == {
        "id": "PYSEC-2023-74",
        "package": "requests",
        "summary": "Requests leaks Proxy-Authorization headers.",
        "aliases": ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"],
        "ranges": [[["introduced", "2.3.0"], ["fixed", "2.31.0"]]],
        "versions": [],
        "fixed": ["2.31.0"],
    }


def test_a_snapshot_is_built_from_a_checkout_and_names_its_commit(tmp_path: Path) -> None:
    folder = tmp_path / "vulns" / "requests"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2023-74.yaml").write_text(yaml.safe_dump(ENTRY))
    (tmp_path / "vulns" / "other").mkdir()
    (tmp_path / "vulns" / "other" / "PYSEC-1.yaml").write_text("id: PYSEC-1\naffected: []\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "advisories"], check=True)

    snapshot = build_snapshot(tmp_path, {"requests"})

    assert [item["id"] for item in snapshot["advisories"]] == ["PYSEC-2023-74"]
    assert len(snapshot["commit"]) == 40
    assert snapshot["commit_date"].count("-") == 2


def test_the_kept_snapshot_knows_a_published_advisory() -> None:
    snapshot = load_snapshot()
    assert [item.id for item in snapshot.findings("Requests", "2.30.0")] == ["PYSEC-2023-74"]
    assert snapshot.findings("requests", "2.31.0") == []


def test_lock_names_are_read_in_their_canonical_form() -> None:
    assert canonical("Jinja2") == "jinja2"
    assert canonical("typing_extensions") == canonical("typing.extensions") == "typing-extensions"
    names = locked_packages()
    assert {"mage-ai", "requests", "pyspark"} <= names
    assert all(name == canonical(name) for name in names)
