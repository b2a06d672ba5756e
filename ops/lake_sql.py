"""`make lake-sql`: ad hoc Spark SQL over the lake, silver's Delta tables and bronze, by name.

What Athena is on AWS: the curated lake queried in place, without loading it anywhere. The
session comes from the project's one factory (spark_jobs/session.py), so it reads LocalStack's
or AWS's S3 exactly as the jobs do. Registered names: every silver table (`sales_lines`,
`deliveries`, `stock_counts`, `stores`, `products`, ... and `quarantine`), `bronze_log` and
`quality_results` (silver's own records), and `bronze`, one row per bronze line with its raw
payload and Kinesis metadata. A table not created yet is left out and said so.

    python -m ops.lake_sql                          # a prompt; end each statement with ;
    python -m ops.lake_sql -e "select count(*) from sales_lines"
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from ingestion.bronze_format import stream_prefix
from lakehouse.config import Settings, load_settings
from spark_jobs.session import s3a_uri, spark_session
from spark_jobs.silver.bronze_log import BRONZE_LOG
from spark_jobs.silver.quality import QUALITY_RESULTS
from spark_jobs.silver.schemas import BRONZE_LINE
from spark_jobs.silver.tables import EVENT_TABLES, QUARANTINE, table_path

ROWS_SHOWN = 50


def silver_tables() -> dict[str, str]:
    """Name -> path under the silver root of every table the prompt registers."""
    tables = {spec.name: spec.name for spec in EVENT_TABLES}
    tables[QUARANTINE] = QUARANTINE
    tables["bronze_log"] = BRONZE_LOG
    tables["quality_results"] = QUALITY_RESULTS
    return tables


def register(spark: SparkSession, settings: Settings) -> dict[str, str]:
    """Register the lake's tables as temporary views; returns name -> location, or why it is missing."""
    registered = {}
    silver_root = s3a_uri(settings.silver_bucket)
    for name, relative in silver_tables().items():
        path = table_path(silver_root, relative)
        try:
            spark.read.format("delta").load(path).createOrReplaceTempView(name)
            registered[name] = path
        except PySparkException:
            registered[name] = f"not there yet ({path}): run bronze_to_silver first"
    bronze = f"{s3a_uri(settings.bronze_bucket)}/{stream_prefix(settings.kinesis_stream)}"
    try:
        reader = spark.read.schema(BRONZE_LINE).option("recursiveFileLookup", "true")
        reader.json(bronze).createOrReplaceTempView("bronze")
        registered["bronze"] = bronze
    except PySparkException:
        registered["bronze"] = f"not there yet ({bronze}): run kinesis_to_bronze first"
    return registered


def statements(lines: Iterator[str]) -> Iterator[str]:
    """SQL statements from lines of input, each ended by `;` (the last one may omit it)."""
    pending: list[str] = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith("--"):
            continue
        pending.append(text)
        if text.endswith(";"):
            yield " ".join(pending).rstrip(";").strip()
            pending = []
    if pending:
        yield " ".join(pending).rstrip(";").strip()


def run_statement(spark: SparkSession, statement: str) -> bool:
    """Run one statement and print its first rows; an SQL error is printed, not raised."""
    try:
        spark.sql(statement).show(ROWS_SHOWN, truncate=False)
    except PySparkException as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return False
    return True


def _prompt() -> Iterator[str]:
    while True:
        try:
            yield input("lake> ")
        except EOFError:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.lake_sql", description=__doc__.splitlines()[0])
    parser.add_argument("-e", "--execute", help="run these statements and exit")
    arguments = parser.parse_args(argv)
    settings = load_settings()
    spark = spark_session("lake-sql", settings)
    for name, location in register(spark, settings).items():
        print(f"  {name:<16} {location}")
    lines = iter(arguments.execute.splitlines()) if arguments.execute else _prompt()
    results = [run_statement(spark, statement) for statement in statements(lines)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
