// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface INativeMarket {
    function betBull(uint256 epoch) external payable;
}

/// @title BetProxy
/// @notice Test helper: a contract that tries to bet. Markets must refuse it with "Contract not allowed".
contract BetProxy {
    function betBull(address market, uint256 epoch) external payable {
        INativeMarket(market).betBull{value: msg.value}(epoch);
    }
}

/// @title ConstructorBettor
/// @notice Test helper: bets from its constructor, when its code is still empty, so only the
/// msg.sender == tx.origin check can stop it: "Proxy contract not allowed".
contract ConstructorBettor {
    constructor(address market, uint256 epoch) payable {
        INativeMarket(market).betBull{value: msg.value}(epoch);
    }
}
