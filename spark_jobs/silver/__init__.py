"""Silver: bronze NDJSON lines to typed, validated, deduplicated Delta tables, with a quarantine.

`job.run_bronze_to_silver()` is the entry point. Modules, in the order a line meets them:
`bronze_log` (which objects are new), `held` (objects a failed gate holds back, and their
replay), `dead_letter` (objects that do not decompress), `parse` (bronze text to typed events,
by the explicit schemas of `schemas`), `validate` (rules, references, duplicates; reason codes
in `reasons`), `quality` (Great Expectations gate), `tables` (Delta tables and MERGE),
`maintenance` (OPTIMIZE and VACUUM).
"""
