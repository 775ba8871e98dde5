"""Campaigns: batches of outbound calls, their recipients, and the scheduler that dials them."""
