"""The problem ledger (问题台账): findings, lifecycle, audit chain, cycles, look-back, escalation."""
