// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "./interfaces/IERC20.sol";
import {PredictionCore} from "./PredictionCore.sol";
import {RoundLayoutV2} from "./RoundLayouts.sol";
import {SafeTransfer} from "./lib/SafeTransfer.sol";

/// @title PredictionV3
/// @notice Our V3-dialect market: bets in an ERC-20 token pulled with transferFrom (approve first), claims paid in
/// the token. External interface identical to abis/PancakePredictionV3.json. Rounds are run by the operator or
/// the keeper (set by the admin).
/// @dev Empty winning side: the pot (less the fee) stays in the contract, as on the genuine V2 (see PredictionCore).
contract PredictionV3 is RoundLayoutV2 {
    IERC20 public immutable token;
    address public keeperAddress;

    event NewKeeperAddress(address keeper);

    constructor(
        IERC20 _token,
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
    {
        token = _token;
    }

    /// @notice Bet bull with `_amount` tokens (the market must be approved for them).
    function betBull(uint256 epoch, uint256 _amount) external whenNotPaused nonReentrant notContract {
        _placeBet(epoch, Position.Bull, _amount);
        SafeTransfer.tokenFrom(token, msg.sender, address(this), _amount);
    }

    /// @notice Bet bear with `_amount` tokens (the market must be approved for them).
    function betBear(uint256 epoch, uint256 _amount) external whenNotPaused nonReentrant notContract {
        _placeBet(epoch, Position.Bear, _amount);
        SafeTransfer.tokenFrom(token, msg.sender, address(this), _amount);
    }

    function setKeeper(address _keeperAddress) external onlyAdmin {
        require(_keeperAddress != address(0), "Cannot be zero address");
        keeperAddress = _keeperAddress;
        emit NewKeeperAddress(_keeperAddress);
    }

    function _pay(address to, uint256 amount) internal override {
        SafeTransfer.token(token, to, amount);
    }

    function _checkRoundRunner() internal view override {
        require(msg.sender == operatorAddress || msg.sender == keeperAddress, "Not keeper/operator");
    }

    function _checkPauser() internal view override {
        require(msg.sender == operatorAddress || msg.sender == keeperAddress, "Not operator/admin/keeper");
    }

    function _checkRecoverable(address _token) internal view override {
        require(_token != address(token), "Cannot be prediction token address");
    }
}
