"""Laptop tooling above the product: the `scribefleet` CLI, status view, demo, load test, sample audio, fleet simulator.

It may import the product core (`scribefleet`), the worker (`gpu_worker`) and the local stack (`sam`); nothing in
those imports it back.
"""
