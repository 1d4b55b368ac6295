"""shardvault: self-hosted threshold-signing key vault."""

__version__ = "0.1.0"
