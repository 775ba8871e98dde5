"""Knowledge bases: an assistant's documents, parsed and chunked, embedded, searched,
and retrieved into calls (``rag_settings``; decision 009)."""
