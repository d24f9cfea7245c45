"""CLI output read by another program: a reader that stops early (`| head`, a pager quit) ends the command quietly."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_output_piped_into_a_reader_that_stops_early_ends_without_a_traceback():
    # The simulator's trace is far more than a pipe holds (~64 KiB), so writing goes on after the reader has gone.
    command = [sys.executable, "-m", "scribefleet_tools.cli", "simulate", "--workload", "seed", "--trace",
               "--policy", "seed", "planned", "--order", "fifo", "longest", "aged"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does after its line
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert first.startswith(b"--- ")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "Exception ignored" not in stderr, stderr
    assert code == 141  # 128 + SIGPIPE, what a tool killed by the signal reports
