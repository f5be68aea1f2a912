"""Speech to text: the AsrBackend interface, its pocketsphinx and faster-whisper adapters."""
