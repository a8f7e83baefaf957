"""Mail: the outbox (exactly-once delivery) and the one yagmail sender."""
