"""Test-wide settings: fake AWS identity for moto (never real credentials), offline models, no telemetry."""
import os

pytest_plugins = ["scribefleet_tools.selfcheck"]  # the reliability report line at the end of every run

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="Scribefleet",
    POWERTOOLS_SERVICE_NAME="scribefleet",
    PYANNOTE_METRICS_ENABLED="0",
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
)
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)

import logging

# moto's ASL interpreter logs every caught state error with its whole parse tree: failure paths are expected here.
logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
