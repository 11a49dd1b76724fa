"""Importers: specs written from what exists already (a database, an API description)."""
