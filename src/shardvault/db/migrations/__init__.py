"""Alembic migrations of the API database (``upgrade_database`` runs them)."""
