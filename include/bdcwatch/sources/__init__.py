"""Source systems: connection URLs, the reference schema, extraction into staging, the GX gate."""
