"""shardvault.signer"""
