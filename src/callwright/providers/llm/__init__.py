"""Chat models implementing ``callwright.providers.protocols.LLM``.

One module per vendor or engine; import the one you use
(``callwright.providers.llm.local`` for GGUF models run in-process by llama.cpp), since
each needs its own optional packages. Importing a module never fails for a missing
extra: constructing its provider does, with a ``ProviderError`` naming the extra.
"""
