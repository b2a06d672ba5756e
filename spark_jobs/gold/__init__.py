"""Gold: the PostgreSQL star schema, the stock model and the stock alerts, built from silver.

`migrate` applies `sql/gold/migrations/` and re-creates `sql/gold/views/`, `silver_contract`
names the silver columns the job reads, `stock_model` holds the formulas as plain-Python
references and `stock_frames` their Spark versions, `staging` lists the columns of each staging
table, `load` moves DataFrames into PostgreSQL in one transaction with the statements of
`sql/gold/load/` (read by `sql_files`), `alerts` keeps the alert lifecycle (`sql/gold/alerts/`)
and publishes to SNS, and `job.run_silver_to_gold` ties them together.
"""
