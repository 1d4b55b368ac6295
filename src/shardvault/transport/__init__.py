"""shardvault.transport"""
