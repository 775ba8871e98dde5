"""Twilio, the one carrier: everything callwright speaks with it, in one package.

``media_stream`` (Media Streams ⇄ ``Transport``), ``rest`` (the REST API: proving
accounts and numbers, placing and updating calls), ``control`` (hang-up and transfer of
a live call), ``twiml`` (the TwiML documents we answer and send), ``signature``
(``X-Twilio-Signature``), ``accounts`` (which credentials serve an account) and
``callbacks`` (what the status and answering-machine callbacks say).

It imports only the bottom layers and the transport protocol: whoever needs an
account's credentials (the domain) finds them and passes them in."""
