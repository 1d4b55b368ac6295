"""``python -m shardvault.cli``: the ``shardvault`` command."""

from shardvault.cli import app

app()
