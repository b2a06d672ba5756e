"""The ground floor of stock-lakehouse: configuration, AWS and PostgreSQL clients, locks, jars,
cloud resources, and the wire contract between producer and pipeline (`lakehouse.contracts`).

Nothing here imports a stage; every stage imports from here.
"""
