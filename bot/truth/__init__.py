"""Ground truth for Allora reputers, loss functions, and accuracy scoring.

- ``losses``: the loss methods reputers use (sqe/mse, abse/mae, huber, logcosh, bce, ztae, zptae, poisson), NaN-safe.
- ``blocktime``: Allora block height -> unix time through the SDK, cached (memory LRU + ``bot.store.truth_cache``).
- ``prices``: price at a time from ccxt candles (or any function).
- ``groundtruth``: (topic, BlockHeight) -> value, from an aligned prediction round or the exchange.
- ``service``: the HTTP service the allora-offchain-node calls (``GroundTruthEndpoint``, loss service); ``serve``.
- ``reputer``: callables for ``allora_sdk.make_reputer_function``.
- ``accuracy``: directional hit rate (per side, binomial p-value, Wilson CI) and loss of logged inferences.
"""
