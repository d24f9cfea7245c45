"""One process id in every line of the worker's log: its own loggers' lines, and the warnings of the libraries under
it and of Python's `warnings`, which reach the root logger."""
import json
import logging
import warnings

from gpu_worker.agent import worker_logger


def test_every_worker_log_line_is_json_with_the_process_id(tmp_path):
    log_file = tmp_path / "worker.log"
    root, captured = logging.getLogger(), logging.getLogger("py.warnings")
    before, propagate = list(root.handlers), logging.getLogger("gpu_worker").propagate
    try:
        log = worker_logger(str(log_file), "INFO")
        log.append_keys(process_id="u1-t1")
        log.info("claimed")
        logging.getLogger("gpu_worker.pipeline").info("pipeline done")
        logging.getLogger("faster_whisper").warning("a library's warning")
        warnings.warn("a Python warning", UserWarning, stacklevel=1)
        logging.getLogger("faster_whisper").info("below WARNING: left out")
    finally:
        for handler in set(root.handlers) - set(before):
            root.removeHandler(handler)
            handler.close()
        logging.captureWarnings(False)
        logging.getLogger("gpu_worker").propagate = propagate
        captured.handlers.clear()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [line["message"] for line in lines][:3] == ["claimed", "pipeline done", "a library's warning"]
    assert any("a Python warning" in line["message"] for line in lines)
    assert len(lines) == 4 and all(line["process_id"] == "u1-t1" for line in lines)
