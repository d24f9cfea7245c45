"""Powertools Logger / Metrics / Tracer built one way for every Lambda, so every log line carries the process id."""
from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

NAMESPACE = "Scribefleet"
PROCESS_ID_KEY = "process_id"


def tag_process(logger: Logger, process_id: str) -> None:
    """Every later line of this invocation carries the process id, as its own field and as the correlation id."""
    logger.append_keys(**{PROCESS_ID_KEY: process_id})
    logger.set_correlation_id(process_id)


def lambda_tools(service: str) -> tuple[Logger, Metrics, Tracer]:
    return Logger(service=service), Metrics(namespace=NAMESPACE, service=service), Tracer(service=service)
