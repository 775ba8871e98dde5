"""Text-to-speech adapters, one module per engine (each implements ``TTS``)."""
