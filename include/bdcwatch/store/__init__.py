"""supervision_db: its tables, Alembic migrations and the SQL dialect helpers."""
