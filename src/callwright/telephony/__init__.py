"""Carriers: what callwright needs of Twilio beyond the media stream (request
signatures, the REST API for placing and controlling calls, TwiML)."""
