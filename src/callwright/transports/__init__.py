"""Transports: a carrier's or a browser's wire protocol as typed events."""
