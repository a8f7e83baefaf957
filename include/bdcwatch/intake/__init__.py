"""Intake: what people send back into the engine (CONTRACT §8) — reviewers' filled-in
checklists (``checklist``) and complaint exports of 12345 / 好差评 / 信访 (``complaints``),
read from files (``files``: encodings, tables, archiving) and recorded in the ledger."""
