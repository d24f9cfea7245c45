"""One process id in every line of the worker's log: its own loggers' lines, and the warnings of the libraries under
it and of Python's `warnings`, which reach the root logger. Run in a fresh interpreter, as the worker runs: logging is
process-wide state (Powertools keeps one configured logger per service name)."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import logging, sys, warnings
    from gpu_worker.agent import worker_logger
    log = worker_logger(sys.argv[1], "INFO")
    log.append_keys(process_id="u1-t1")
    log.info("claimed")
    logging.getLogger("gpu_worker.pipeline").info("pipeline done")
    logging.getLogger("faster_whisper").warning("a library's warning")
    warnings.warn("a Python warning", UserWarning, stacklevel=1)
    logging.getLogger("faster_whisper").info("below WARNING: left out")
""")


def test_every_worker_log_line_is_json_with_the_process_id(tmp_path):
    log_file = tmp_path / "worker.log"
    subprocess.run([sys.executable, "-c", SCRIPT, str(log_file)], cwd=ROOT, check=True, timeout=120)
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [line["message"] for line in lines][:3] == ["claimed", "pipeline done", "a library's warning"]
    assert "a Python warning" in lines[3]["message"]
    assert len(lines) == 4 and all(line["process_id"] == "u1-t1" for line in lines)  # each once, none left out
