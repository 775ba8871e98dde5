"""Cryptography helpers: secrets at rest, password hashes, API keys and session tokens."""
