"""Speech-to-speech models (``protocol.RealtimeModel``), one module per vendor, each
listed once in ``providers.vendors`` under the kind ``"realtime"`` (decision 018)."""
