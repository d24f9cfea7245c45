"""`python -m gpu_worker --self-test` (AMI build check) and `python -m gpu_worker run` (the job loop)."""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace

from gpu_worker.config import WorkerConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu_worker", description="scribefleet GPU worker")
    parser.add_argument("--self-test", action="store_true", help="load the models, transcribe the bundled clip, check it; exit 0/1")
    parser.add_argument("--model-dir", help="override SCRIBEFLEET_MODEL_DIR")
    parser.add_argument("--diarizer", help="override SCRIBEFLEET_DIARIZER (default | pyannote)")
    commands = parser.add_subparsers(dest="command")
    # ---- `run`: the SQS / Step Functions job loop, written in gpu_worker/agent.py (imported lazily) ----
    commands.add_parser("run", help="claim and process jobs until idle retirement or SIGTERM")
    args = parser.parse_args(argv)

    config = WorkerConfig.from_env()
    overrides = {k: v for k, v in (("model_dir", args.model_dir), ("diarizer", args.diarizer)) if v}
    config = replace(config, **overrides)
    config.validate()
    if args.self_test:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        from gpu_worker.selftest import main as selftest

        return selftest(config)
    if args.command == "run":
        from gpu_worker.agent import main as run_agent  # heavy imports only when running jobs

        return run_agent(config) or 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
