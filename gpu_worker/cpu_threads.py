"""One setting for every thread pool the models use on CPU: `WorkerConfig.cpu_threads` (SCRIBEFLEET_CPU_THREADS).

torch (the diarizer's embeddings and segmentation), OpenMP and the BLAS libraries under numpy, and CTranslate2
(faster-whisper; given the same number as its `cpu_threads`, i.e. intra_threads) each size their pools to every
core by default. Several workers on one machine (the local fleet) then run cores x workers threads that preempt
each other; measured in docs/benchmarks.md ("Local fleet threads"). The local fleet gives each worker its share.
"""
from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_environment(threads: int) -> dict[str, str]:
    """Variables for a process about to start: OpenMP and BLAS read them when they load, before any code runs."""
    return {name: str(threads) for name in THREAD_VARIABLES} if threads > 0 else {}


def limit_cpu_threads(threads: int) -> None:
    """Size this process's pools to `threads` (0: leave the libraries' defaults). Call before loading models."""
    if threads <= 0:
        return
    os.environ.update(thread_environment(threads))  # libraries loaded later in this process, and its children
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # settable once, before any inter-op work; a second Pipeline in one process keeps the first
        pass
