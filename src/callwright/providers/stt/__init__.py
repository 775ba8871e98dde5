"""Transcribers implementing ``callwright.providers.protocols.STT``.

One module per vendor or engine; import the one you use
(``callwright.providers.stt.whisper_local``), since each needs its own optional
packages.
"""
