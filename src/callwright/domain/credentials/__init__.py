"""Organization-level provider credentials (OpenAI, Deepgram, Twilio, ...), stored
encrypted; an assistant's own keys take precedence over them."""
