// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PredictionCore} from "./PredictionCore.sol";
import {SafeTransfer} from "./lib/SafeTransfer.sol";

/// @title NativeBets
/// @notice Bets in the native coin (stake = msg.value), claims paid in the native coin; the operator runs rounds and
/// may pause (the admin too), only the admin unpauses. Shared by the V2 and V2.1 dialects.
abstract contract NativeBets is PredictionCore {
    /// @notice Bet that the close price will be above the lock price; stake = msg.value.
    function betBull(uint256 epoch) external payable whenNotPaused nonReentrant notContract {
        _placeBet(epoch, Position.Bull, msg.value);
    }

    /// @notice Bet that the close price will be below the lock price; stake = msg.value.
    function betBear(uint256 epoch) external payable whenNotPaused nonReentrant notContract {
        _placeBet(epoch, Position.Bear, msg.value);
    }

    function _pay(address to, uint256 amount) internal override {
        SafeTransfer.native(to, amount);
    }

    function _checkRoundRunner() internal view override {
        require(msg.sender == operatorAddress, "Not operator");
    }

    function _checkPauser() internal view override {
        require(msg.sender == operatorAddress, "Not operator/admin");
    }
}
