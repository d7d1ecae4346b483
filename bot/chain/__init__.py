"""Chain layer: web3 connection with RPC failover, chain-id guard, block time, nonce/gas policy, transaction sender."""
