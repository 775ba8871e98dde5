"""Organizations, users, API keys and dashboard sessions."""
