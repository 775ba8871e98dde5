"""The ``callwright`` command line."""
