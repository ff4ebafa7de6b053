"""Persistence verbs. Each takes a SQLAlchemy ``Session`` first; the caller owns the transaction.

Modules: ``components`` (config sync, measured status), and one module per domain added beside it.
"""
