"""The scribefleet GPU worker: claims jobs from SQS, supervises them with Step Functions heartbeats,
diarizes (pyannote or the offline default) and transcribes (faster-whisper), writes transcripts."""
