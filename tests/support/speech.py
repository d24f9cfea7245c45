"""Test speech lives in scribefleet_tools.samples (the demo and the load test use it too); re-exported for the tests."""
from scribefleet_tools.samples import *  # noqa: F401,F403
from scribefleet_tools.samples import DISTINCT_VOICES, READING_VOICES, SAMPLE_RATE, SENTENCES, SIMILAR_VOICES, Dialog, Turn  # noqa: F401
