"""Voice activity detectors implementing ``callwright.providers.protocols.VAD``.

One module per detector; import the one you use (``callwright.providers.vad.silero``),
since each needs its own optional packages.
"""
