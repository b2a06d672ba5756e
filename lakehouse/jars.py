"""JVM jars that Spark needs beside pyspark, fetched once from Maven Central and checksum-verified.

`delta-spark` on PyPI ships no jars, and `s3a://` needs `hadoop-aws` built for the Hadoop inside
pyspark (3.3.4 for Spark 3.5) with the AWS SDK bundle it was built against. They are fetched
with Maven (which the project's machines reach) into `SPARK_JARS_DIR`, verified against the
SHA-256 sums below, and every Spark session loads them from there (`spark.jars`), so no run
depends on Spark's own resolver reaching the network.

The stack's S3 server (S3PROXY) is fetched and verified the same way, into the same folder.

Run `python -m lakehouse.jars` (part of `make setup`); it does nothing when all jars are present.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lakehouse.config import Settings, load_settings


@dataclass(frozen=True)
class Jar:
    group: str
    artifact: str
    version: str
    sha256: str
    classifier: str = ""

    @property
    def coordinate(self) -> str:
        if self.classifier:
            return f"{self.group}:{self.artifact}:{self.version}:jar:{self.classifier}"
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def filename(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.jar"


JARS: tuple[Jar, ...] = (
    Jar(
        "io.delta",
        "delta-spark_2.12",
        "3.3.3",
        "4912bf902a1c453aba3bd838ff212dedd357155212f9bb37a6b47d97f2827ebc",
    ),
    Jar(
        "io.delta",
        "delta-storage",
        "3.3.3",
        "45ad193053fd30cebe6d9ab1889873cde39b223a0f210e00ebee8b6642476901",
    ),
    Jar(
        "org.apache.hadoop",
        "hadoop-aws",
        "3.3.4",
        "53f9ae03c681a30a50aa17524bd9790ab596b28481858e54efd989a826ed3a4a",
    ),
    Jar(
        "com.amazonaws",
        "aws-java-sdk-bundle",
        "1.12.262",
        "873fe7cf495126619997bec21c44de5d992544aea7e632fdc77adb1a0915bae5",
    ),
    Jar(
        "org.postgresql",
        "postgresql",
        "42.7.4",
        "188976721ead8e8627eb6d8389d500dccc0c9bebd885268a3047180274a6031e",
    ),
)


# The stack's disk-backed S3 server (ops/stack/components.py), a program of its own and not on
# Spark's classpath: S3Proxy (Apache-2.0) with its dependencies in one jar, run by Java 17.
S3PROXY = Jar(
    "org.gaul",
    "s3proxy",
    "4.1.0",
    "a4d025969aaf796616ed4b1e2491d87d455ce84bb28cb9db086b2e6aaa68b48d",
    classifier="jar-with-dependencies",
)


class JarError(RuntimeError):
    """A jar is missing, could not be fetched, or does not match its checksum."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def jar_paths(settings: Settings | None = None) -> list[Path]:
    """Paths of every jar, raising a JarError that says how to fetch them if any is missing."""
    settings = settings or load_settings()
    paths = [settings.spark_jars_dir / jar.filename for jar in JARS]
    missing = [path.name for path in paths if not path.exists()]
    if missing:
        raise JarError(
            f"Spark jars missing from {settings.spark_jars_dir}: {', '.join(missing)}. "
            "Run `make setup` (or `python -m lakehouse.jars`) to fetch them from Maven Central."
        )
    return paths


def s3proxy_jar(settings: Settings | None = None) -> Path:
    """Path of the S3 server's jar, raising a JarError that says how to fetch it if missing."""
    settings = settings or load_settings()
    path = settings.spark_jars_dir / S3PROXY.filename
    if not path.exists():
        raise JarError(f"{path} is missing. Run `make setup` (or `python -m lakehouse.jars`) to fetch it.")
    return path


def fetch(jar: Jar, target_dir: Path) -> Path:
    """Copy one jar from Maven Central (through the local Maven repository) into target_dir."""
    if shutil.which("mvn") is None:
        raise JarError("Maven (mvn) is not installed: install it (`apt-get install maven`) and rerun.")
    command = [
        "mvn",
        "--batch-mode",
        "--quiet",
        "--strict-checksums",
        "dependency:copy",
        f"-Dartifact={jar.coordinate}",
        f"-DoutputDirectory={target_dir}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    path = target_dir / jar.filename
    if result.returncode != 0 or not path.exists():
        raise JarError(f"mvn could not fetch {jar.coordinate}:\n{result.stdout}{result.stderr}")
    return path


def ensure_jars(settings: Settings | None = None, log=print) -> list[Path]:
    """Fetch the jars that are missing or corrupt; verify every checksum. Idempotent."""
    settings = settings or load_settings()
    target_dir = settings.spark_jars_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for jar in (*JARS, S3PROXY):
        path = target_dir / jar.filename
        if path.exists() and sha256_of(path) == jar.sha256:
            paths.append(path)
            continue
        log(f"fetching {jar.coordinate} from Maven Central")
        path.unlink(missing_ok=True)
        fetch(jar, target_dir)
        actual = sha256_of(path)
        if actual != jar.sha256:
            path.unlink()
            raise JarError(f"{jar.filename}: SHA-256 {actual} does not match the pinned {jar.sha256}")
        paths.append(path)
    return paths


def main() -> int:
    try:
        paths = ensure_jars()
    except JarError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(paths)} jars (Spark's and the S3 server's) verified in {paths[0].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
