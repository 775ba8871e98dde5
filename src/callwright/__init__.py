"""callwright: a self-hostable voice AI assistant platform."""

__all__ = ["__version__"]

__version__ = "0.1.0"
