"""Wiring for real calls: providers picked from settings, sessions run on transports."""
