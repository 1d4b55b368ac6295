"""shardvault.db"""
