"""Text embedders implementing ``callwright.providers.protocols.Embeddings``.

One module per model or vendor; import the one you use
(``callwright.providers.embeddings.minilm``), since each needs its own optional
packages.
"""
