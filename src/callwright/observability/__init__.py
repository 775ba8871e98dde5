"""What a running callwright tells its operators: Prometheus metrics (``metrics``),
event-loop lag (``eventloop``), the HTTP middleware that counts requests
(``middleware``) and structured JSON logs with the call's context (``logging``)."""
