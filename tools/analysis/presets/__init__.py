"""Benchmark presets, one module per family, each defining ``PRESETS = {name: {'ours': spec,
peer: spec, ...}}`` (see tools/analysis/benchmark.py for the spec format)."""
