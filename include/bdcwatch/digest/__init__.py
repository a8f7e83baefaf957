"""Digests: a pure render (findings → subject, HTML, attachments) and the outbox compose."""
