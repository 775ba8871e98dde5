"""Webhooks: Vapi-shaped server messages (``messages``), written to a durable outbox in
the same transaction as the change they report (``outbox``), delivered signed with
retries by the ``dispatcher``, and a delivery log readable through the API (``service``)."""
