"""Configuration: the typed policy (validated at load) and the typed spec of one run."""
