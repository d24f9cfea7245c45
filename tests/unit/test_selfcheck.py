"""The selfcheck line counts the same in one process and across pytest-xdist processes (where only the controller
prints, so the job ledger has to travel in each test's report)."""
import pytest

pytest_plugins = ["pytester"]

SUITE = '''
import pytest

@pytest.mark.fault
@pytest.mark.parametrize("n", range(4))
def test_fault(n, job_ledger):
    job_ledger.record(checked=3, lost=["u-t1"] if n == 0 else [], duplicates=[])

@pytest.mark.bad_input
def test_bad_input_fails(job_ledger):
    job_ledger.record(checked=1, lost=[], duplicates=["u-t2"])
    assert False

@pytest.mark.security
def test_security():
    pass

def test_unmarked():
    pass
'''
LINE = ("faults survived 4/4, bad inputs handled 0/1, security checks passed 1/1, jobs lost 1/13, "
        "duplicate outputs 1")


@pytest.mark.parametrize("processes", [[], ["-n", "2"]], ids=["one process", "two xdist processes"])
def test_the_line_is_the_same_in_one_and_in_several_processes(pytester, processes):
    pytester.makepyfile(test_marked=SUITE)
    result = pytester.runpytest_subprocess("-p", "scribefleet_tools.selfcheck", "-p", "no:cacheprovider", *processes)
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(["lost: u-t1", "duplicate: u-t2", LINE])
