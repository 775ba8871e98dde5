"""Provider adapters (LLM, STT, TTS, VAD, embeddings) behind small protocols."""
