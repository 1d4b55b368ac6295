"""shardvault.coordinator"""
