"""shardvault.sdk"""
