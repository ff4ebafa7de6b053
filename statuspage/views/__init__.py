"""Thin request handlers, one module per audience; each exposes ``routes()``."""
