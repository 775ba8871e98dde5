"""Security helpers: secrets at rest, password hashes, API keys and session tokens, the
signature on outgoing requests, and the outbound-URL policy."""
