"""shardvault.api"""
