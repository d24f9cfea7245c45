"""Local tooling: the emulated AWS stack (moto) built from template.yaml, the local fleet, helpers."""
