"""Gold: the PostgreSQL star schema, the stock model and the stock alerts, built from silver.

`migrate` applies `sql/gold/migrations/`, `silver_contract` names the silver columns the job
reads, `stock_model` holds the formulas (plain Python references and their Spark versions),
`load` moves DataFrames into PostgreSQL in one transaction, `alerts` keeps the alert lifecycle
and publishes to SNS, and `job.run_silver_to_gold` ties them together.
"""
