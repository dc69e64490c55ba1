"""Parsing untrusted input: catalog YAML."""
