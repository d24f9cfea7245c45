"""`scribefleet selfcheck`: the reliability report, one line a category, printed at the end of a pytest run.

Tests say what they prove with a marker (`@pytest.mark.fault`, `@pytest.mark.bad_input`, `@pytest.mark.security`),
in whichever tier they live; this module counts markers and knows no test by name. Tests that audit a stack report
the jobs they checked to the `job_ledger` fixture, so the line also says how many jobs were lost and how many
outputs were written twice. The ledger travels in the test's report (`user_properties`), so the line is the same
when pytest-xdist runs the tests in worker processes and only the controller prints:

    faults survived 14/14, bad inputs handled 17/17, security checks passed 9/9, jobs lost 0/52, duplicate outputs 0

Registered for the whole suite by tests/conftest.py (`pytest_plugins`); `python -m scribefleet_tools.selfcheck` runs the
marked tests only.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pytest

CATEGORIES = {"fault": "faults survived", "bad_input": "bad inputs handled", "security": "security checks passed"}


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def text(self, label: str) -> str:
        line = f"{label} {self.passed}/{self.passed + self.failed}"
        return line + (f" ({self.skipped} skipped)" if self.skipped else "")


@dataclass
class JobLedger:
    """Jobs audited at the end of reliability tests: every upload must end in exactly one terminal state."""

    checked: int = 0
    lost: int = 0  # not COMPLETED/FAILED at the end, or COMPLETED without its result.json
    duplicates: int = 0  # result.json written more than once for one job
    problems: list[str] = field(default_factory=list)

    def record(self, checked: int, lost: list[str], duplicates: list[str]) -> None:
        self.checked += checked
        self.lost += len(lost)
        self.duplicates += len(duplicates)
        self.problems += [f"lost: {p}" for p in lost] + [f"duplicate: {p}" for p in duplicates]

    def add(self, other: dict) -> None:
        self.checked += other["checked"]
        self.lost += other["lost"]
        self.duplicates += other["duplicates"]
        self.problems += other["problems"]


@dataclass
class Report:
    tallies: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CATEGORIES})
    jobs: JobLedger = field(default_factory=JobLedger)
    _seen: dict[str, str] = field(default_factory=dict)  # node id → outcome so far

    def add(self, category: str, nodeid: str, outcome: str) -> None:
        previous = self._seen.get(nodeid)
        if previous == "failed" or (previous == outcome):
            return
        tally = self.tallies[category]
        if previous is not None:  # a later phase changed the verdict (e.g. teardown failed after a pass)
            setattr(tally, previous, getattr(tally, previous) - 1)
        setattr(tally, outcome, getattr(tally, outcome) + 1)
        self._seen[nodeid] = outcome

    def line(self) -> str:
        parts = [self.tallies[c].text(label) for c, label in CATEGORIES.items() if self._counted(c)]
        if self.jobs.checked:
            parts += [f"jobs lost {self.jobs.lost}/{self.jobs.checked}", f"duplicate outputs {self.jobs.duplicates}"]
        return ", ".join(parts)

    def _counted(self, category: str) -> bool:
        t = self.tallies[category]
        return bool(t.passed + t.failed + t.skipped)


_REPORT = pytest.StashKey[Report]()


def category_of(item_or_report) -> str | None:
    keywords = item_or_report.keywords
    return next((c for c in CATEGORIES if c in keywords), None)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REPORT] = Report()
    for name in CATEGORIES:  # also declared in pyproject.toml; repeated so the plugin works on its own
        config.addinivalue_line("markers", f"{name}: counted in the selfcheck line as '{CATEGORIES[name]}'")


_LEDGER_PROPERTY = "scribefleet_job_ledger"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":  # every test has one teardown report, and it carries all the test's properties
        for name, value in report.user_properties:
            if name == _LEDGER_PROPERTY:
                _config_report().jobs.add(value)
    category = category_of(report)
    if category is None:
        return
    if report.failed:
        outcome = "failed"
    elif report.skipped:
        outcome = "skipped"
    elif report.when == "call":
        outcome = "passed"
    else:
        return
    _config_report().add(category, report.nodeid, outcome)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is None or not report.line():
        return
    terminalreporter.section("scribefleet selfcheck")
    for problem in report.jobs.problems[:20]:
        terminalreporter.write_line(problem)
    terminalreporter.write_line(report.line())


@pytest.fixture
def job_ledger(request) -> Iterator[JobLedger]:
    """This test's jobs, handed to the report (and from an xdist worker to the controller) when the test ends."""
    ledger = JobLedger()
    yield ledger
    request.node.user_properties.append((_LEDGER_PROPERTY, asdict(ledger)))


_active: list[pytest.Config] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _active.append(session.config)


def _config_report() -> Report:
    return _active[-1].stash[_REPORT]


def main(argv: list[str] | None = None) -> int:
    """Run every test marked with a category (from the project's configured test paths) and print the line."""
    return int(pytest.main(["-q", "-m", " or ".join(CATEGORIES), *(argv or [])]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
