"""Shared platform of stock-lakehouse: configuration, AWS clients and the native service stack."""
