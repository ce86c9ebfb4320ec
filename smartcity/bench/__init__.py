"""The benchmarks (`smartcity bench ingest|rules|notify`, `smartcity simulate bench`) and what
they run.

A wing of its own, so that a reader of the front door sees the product, not its measurements.
"""
