"""Registered in the vitdense scope (see vitdense/registry.py)."""
