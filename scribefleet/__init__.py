"""scribefleet: the product core shipped in the Lambda layer: contract, options, probe, ingest, scaling, reconcile.

It imports nothing from `gpu_worker`, `sam` or `scribefleet_tools` (a test holds it to that).
"""
