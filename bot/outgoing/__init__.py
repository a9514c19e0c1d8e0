"""What the bot tells other systems about cases: webhook events and e-mails, through the outbox port.

`events` decides what a change of a case sends out and builds the JSON; `mail` writes the e-mail;
`retry` is the backoff schedule; `runner` delivers what is due through the senders the composition
root registers (HTTP and SMTP live in `adapters/outgoing/`).
"""
