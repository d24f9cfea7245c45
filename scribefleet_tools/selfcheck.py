"""`scribefleet selfcheck`: the reliability report, one line a category, printed at the end of a pytest run.

Tests say what they prove with a marker (`@pytest.mark.fault`, `@pytest.mark.bad_input`, `@pytest.mark.security`);
tests elsewhere that already prove one of these (the workflow tier, the probe and decoder tests) are counted through
KNOWN instead of being written twice. Tests that audit a stack report the jobs they checked to the `job_ledger`
fixture, so the line also says how many jobs were lost and how many outputs were written twice:

    faults survived 14/14, bad inputs handled 17/17, security checks passed 9/9, jobs lost 0/52, duplicate outputs 0

Registered for the whole suite by tests/conftest.py (`pytest_plugins`); `python -m scribefleet_tools.selfcheck` runs the
tiers that feed it.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pytest

CATEGORIES = {"fault": "faults survived", "bad_input": "bad inputs handled", "security": "security checks passed"}

# Tests of other tiers that prove a case of a category (node id prefix → category), so they count once, where they are.
KNOWN = {
    "tests/workflow/test_workflow.py::test_worker_that_stops_heartbeating_is_replaced": "fault",
    "tests/workflow/test_workflow.py::test_three_dead_workers_fail_the_job": "fault",
    "tests/workflow/test_workflow.py::test_same_event_twice_gives_one_job": "fault",
    "tests/workflow/test_workflow.py::test_reupload_to_same_transcript_id_records_no_second_job": "fault",
    "tests/workflow/test_workflow.py::test_job_waiting_longer_than_heartbeat_interval": "fault",
    "tests/workflow/test_worker_protocol.py::test_sigterm_mid_job": "fault",
    "tests/workflow/test_worker_protocol.py::test_worker_whose_token_timed_out": "fault",
    "tests/workflow/test_worker_protocol.py::test_same_message_delivered_to_two_workers": "fault",
    "tests/workflow/test_workflow.py::test_rejected_uploads_fail_with_reason": "bad_input",
    "tests/workflow/test_workflow.py::test_bad_input_reported_by_worker": "bad_input",
    "tests/unit/test_probe.py::test_rejections_name_the_problem": "bad_input",
    "tests/unit/test_probe.py::test_video_without_audio_track_is_no_audio": "bad_input",
    "tests/unit/test_probe.py::test_limits_on_size_and_duration": "bad_input",
    "tests/unit/test_probe.py::test_deleted_object_is_input_changed": "bad_input",
    "tests/worker/test_media.py::test_hostile_inputs_fail_with_code_and_reason": "bad_input",
    "tests/worker/test_media.py::test_length_is_bounded_while_decoding": "bad_input",
    "tests/worker/test_media.py::test_decode_time_is_bounded": "bad_input",
    "tests/worker/test_media.py::test_decoder_memory_is_bounded": "bad_input",
    "tests/worker/test_media.py::test_a_crashing_decoder_is_a_bad_input": "bad_input",
    "tests/e2e/test_local_stack_e2e.py::test_worker_killed_mid_job_is_replaced": "fault",
    "tests/e2e/test_local_stack_e2e.py::test_bad_file_fails_with_its_reason": "bad_input",
    "tests/infra/test_template_properties.py::test_no_wildcard_actions_in_any_allow": "security",
    "tests/infra/test_template_properties.py::test_resource_star_only_where": "security",
    "tests/infra/test_template_properties.py::test_worker_role_is_least_privilege": "security",
    "tests/infra/test_template_properties.py::test_scaler_may_only_set_capacity": "security",
    "tests/infra/test_template_properties.py::test_state_machine_permissions_are_exact": "security",
    "tests/infra/test_template_properties.py::test_buckets_block_public_access_encrypt_and_require_tls": "security",
    "tests/infra/test_template_properties.py::test_launch_template_imdsv2": "security",
    "tests/infra/test_template_properties.py::test_no_ingress_anywhere": "security",
}


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if category_of(item) is None:
            for prefix, category in KNOWN.items():
                if item.nodeid.startswith(prefix):
                    item.add_marker(getattr(pytest.mark, category))
                    break


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
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
def job_ledger(request) -> JobLedger:
    return request.config.stash[_REPORT].jobs


_active: list[pytest.Config] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    _active.append(session.config)


def _config_report() -> Report:
    return _active[-1].stash[_REPORT]


# The tiers whose tests carry (or are counted into) a category.
SELFCHECK_PATHS = ["tests/reliability", "tests/workflow", "tests/unit/test_probe.py", "tests/worker/test_media.py",
                   "tests/infra/test_template_properties.py"]


def main(argv: list[str] | None = None) -> int:
    """Run the reliability, workflow, probe, decoder and template tiers and print the selfcheck line."""
    return int(pytest.main(["-q", *SELFCHECK_PATHS, *(argv or [])]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
