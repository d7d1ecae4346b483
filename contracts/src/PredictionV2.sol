// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PredictionCore} from "./PredictionCore.sol";
import {SafeTransfer} from "./lib/SafeTransfer.sol";

/// @title PredictionV2
/// @notice Our V2-dialect market: bets in the native coin (msg.value), prices from a Chainlink-style oracle.
/// External interface identical to abis/PancakePredictionV2.json. Rounds are run by the operator.
/// @dev Empty winning side: the pot goes to the treasury (see PredictionCore and contracts/README.md).
contract PredictionV2 is PredictionCore {
    constructor(
        address _oracleAddress,
        address _adminAddress,
        address _operatorAddress,
        uint256 _intervalSeconds,
        uint256 _bufferSeconds,
        uint256 _minBetAmount,
        uint256 _oracleUpdateAllowance,
        uint256 _treasuryFee
    )
        PredictionCore(
            _oracleAddress,
            _adminAddress,
            _operatorAddress,
            _intervalSeconds,
            _bufferSeconds,
            _minBetAmount,
            _oracleUpdateAllowance,
            _treasuryFee
        )
    {}

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
