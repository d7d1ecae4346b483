// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {NativeBets} from "./NativeBets.sol";
import {PredictionCore} from "./PredictionCore.sol";
import {RoundLayoutV21} from "./RoundLayouts.sol";

/// @title PredictionV21
/// @notice Our market in the BSC "V2.1" layout (BTC/USD, ETH/USD markets; bets in the native coin): the V2 functions
/// and selectors, with the V2.1 struct layouts of `rounds`, `ledger` and `getUserRounds` (RoundLayoutV21). Written from
/// that interface (abis/PancakePredictionV2_1.json), for tests; the real contract's events and revert strings are not
/// published, so the bot's V2.1 ABI lists no events (this contract still emits the V2 ones).
/// @dev Smart wallets may bet and claim (the V2.1 frontend says so): no code / tx.origin check.
contract PredictionV21 is NativeBets, RoundLayoutV21 {
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

    function _checkBettor() internal view override {}
}
