"""Where a worker lives: an EC2 instance in the GPU Auto Scaling group, or a local process standing in for one."""
from __future__ import annotations

import os
import threading
import urllib.request
from typing import Protocol


class Fleet(Protocol):
    instance_id: str

    def retire(self) -> None:
        """Leave the fleet for good: terminate this instance and lower desired capacity by one."""

    def await_termination(self, stopping: threading.Event) -> bool:
        """After retire(): return when this process should end (True: the stop came, False: it did not in time)."""


class AutoScalingFleet:
    """Self-retirement on EC2. Instances are launched scale-in protected, so lowering desired capacity can only
    ever remove *this* instance (the seed's "wrong machine shut down" bug cannot happen)."""

    IMDS = "http://169.254.169.254/latest"

    def __init__(self, autoscaling, instance_id: str | None = None, termination_wait: float = 600.0):
        self.autoscaling = autoscaling
        self.instance_id = instance_id or self._instance_id_from_imds()
        self.termination_wait = termination_wait

    def _instance_id_from_imds(self) -> str:
        token_request = urllib.request.Request(
            f"{self.IMDS}/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
        )
        token = urllib.request.urlopen(token_request, timeout=2).read().decode()  # IMDSv2 only
        request = urllib.request.Request(f"{self.IMDS}/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token})
        return urllib.request.urlopen(request, timeout=2).read().decode()

    def retire(self) -> None:
        self.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=self.instance_id, ShouldDecrementDesiredCapacity=True
        )

    def await_termination(self, stopping: threading.Event) -> bool:
        """Wait for the shutdown's SIGTERM. TerminateInstanceInAutoScalingGroup only makes a termination request ("The
        instance is not terminated immediately", API reference: TerminateInstanceInAutoScalingGroup). A worker that
        exited now would be started again by systemd (Restart=always) on the doomed instance, and could claim a job
        that the shutdown then cuts short. False when no stop came within `termination_wait` (the worker then exits
        and systemd starts it again: a machine that stays should work, not idle)."""
        return stopping.wait(self.termination_wait)


class ProcessFleet:
    """A worker with no instance to terminate (a developer's laptop): retiring just ends the process."""

    def __init__(self, instance_id: str | None = None):
        self.instance_id = instance_id or f"local-{os.getpid()}"

    def retire(self) -> None:
        return None

    def await_termination(self, stopping: threading.Event) -> bool:
        return True  # nothing to wait for: the process ending is the retirement
