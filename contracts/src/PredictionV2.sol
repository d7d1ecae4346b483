// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {NativeBets} from "./NativeBets.sol";
import {PredictionCore} from "./PredictionCore.sol";
import {RoundLayoutV2} from "./RoundLayouts.sol";

/// @title PredictionV2
/// @notice Our V2-dialect market: bets in the native coin (msg.value), prices from a Chainlink-style oracle.
/// External interface identical to abis/PancakePredictionV2.json. Rounds are run by the operator; plain wallets only.
/// @dev Empty winning side: the pot (less the fee) stays in the contract, as on the genuine V2 (see PredictionCore).
contract PredictionV2 is NativeBets, RoundLayoutV2 {
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
}
