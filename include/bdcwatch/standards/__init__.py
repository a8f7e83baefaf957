"""National formats and contract rules on values: normalisation (§5), identifiers, masking (§6)."""
