"""Polling for an eventually-true condition (executions, job items and worker processes change asynchronously)."""
import time


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Return condition()'s first truthy value; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout} s")
