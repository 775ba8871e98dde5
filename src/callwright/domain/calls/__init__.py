"""Calls: the record of every call, the tokens that open a call's media stream, and
the rules of placing, listing and controlling calls."""
