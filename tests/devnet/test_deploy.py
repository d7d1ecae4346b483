"""Deployments: constructor parameters, roles and bindings read back through abis/."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from web3 import Web3

from devkit.devnet.deploy import Deployment, Dialect, MarketConfig

pytestmark = pytest.mark.anvil


@pytest.mark.parametrize("dialect", ["v2", "v3", "ai"])
def test_deployed_parameters(
    w3: Web3, deploy_market: Callable[[Dialect, MarketConfig | None], Deployment], dialect: Dialect
) -> None:
    config = MarketConfig(interval_seconds=10, buffer_seconds=2, min_bet_amount=7, treasury_fee_bp=250)
    dep = deploy_market(dialect, config)
    fns = dep.market(w3).functions
    assert fns.intervalSeconds().call() == 10 and fns.bufferSeconds().call() == 2
    assert fns.minBetAmount().call() == 7 and fns.treasuryFee().call() == 250
    assert fns.MAX_TREASURY_FEE().call() == 1000
    assert fns.owner().call() == dep.roles.owner
    assert fns.adminAddress().call() == dep.roles.admin
    assert fns.operatorAddress().call() == dep.roles.operator
    assert fns.currentEpoch().call() == 0 and not fns.paused().call()
    if dialect == "ai":
        assert dep.oracle_address is None and dep.token_address is None
        return
    assert fns.oracle().call() == dep.oracle_address
    oracle = dep.oracle(w3).functions
    assert oracle.decimals().call() == 8 and oracle.description().call() == "BNB / USD"
    round_id, answer, _, updated_at, answered_in = oracle.latestRoundData().call()
    assert (round_id, answer, answered_in) == (1, config.initial_price, 1) and updated_at > 0
    assert oracle.getRoundData(1).call()[1] == config.initial_price
    if dialect == "v3":
        assert fns.token().call() == dep.token_address
        assert dep.token(w3).functions.decimals().call() == 18


def test_session_deployments(v2: Deployment, v3: Deployment, ai: Deployment, w3: Web3, bettors: list[str]) -> None:
    assert (v2.dialect, v3.dialect, ai.dialect) == ("v2", "v3", "ai")
    assert v2.public_abi_name == "PancakePredictionV2" and ai.public_abi_name == "PancakeAIPrediction"
    token = v3.token(w3).functions
    assert token.balanceOf(bettors[0]).call() == 1_000_000 * 10**18
    assert token.allowance(bettors[0], v3.market_address).call() == 2**256 - 1
