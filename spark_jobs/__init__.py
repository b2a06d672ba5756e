"""PySpark + Delta Lake jobs: bronze JSON on S3 to validated silver Delta tables, and the stock model.

Jobs receive a SparkSession from `spark_jobs.session.spark_session()`; transforms are pure
functions of DataFrames, with reading and writing kept at the edges.
"""
