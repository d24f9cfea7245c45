"""Test speech lives in scribefleet.samples (the demo and the load test use it too); re-exported for the tests."""
from scribefleet.samples import *  # noqa: F401,F403
from scribefleet.samples import DISTINCT_VOICES, READING_VOICES, SAMPLE_RATE, SENTENCES, SIMILAR_VOICES, Dialog, Turn  # noqa: F401
