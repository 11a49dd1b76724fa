"""Specs from what a user already has: an OpenAPI contract, an existing database."""
