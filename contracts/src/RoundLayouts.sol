// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {PredictionCore} from "./PredictionCore.sol";

/// @title RoundLayoutV2
/// @notice The V2/V3 external layout of rounds and bets: `rounds(epoch)` is 14 words with the timestamps and oracle ids
/// as uint256 and `oracleCalled` last; a bet is (position, amount, claimed).
abstract contract RoundLayoutV2 is PredictionCore {
    mapping(uint256 => Round) public rounds;

    function _round(uint256 epoch) internal view override returns (Round storage) {
        return rounds[epoch];
    }

    function _roundChanged(uint256) internal override {}

    function _poolsChanged(uint256) internal override {}

    function ledger(uint256 epoch, address user) external view returns (Position position, uint256 amount, bool claimed) {
        BetInfo storage b = _ledger[epoch][user];
        return (b.position, b.amount, b.claimed);
    }

    /// @notice A page of the user's bets; reverts if `cursor` is beyond the user's bet count.
    function getUserRounds(address user, uint256 cursor, uint256 size)
        external
        view
        returns (uint256[] memory, BetInfo[] memory, uint256)
    {
        uint256[] memory epochs = _pageEpochs(user, cursor, size);
        BetInfo[] memory bets = new BetInfo[](epochs.length);
        for (uint256 i = 0; i < epochs.length; ++i) {
            bets[i] = _ledger[epochs[i]][user];
        }
        return (epochs, bets, cursor + epochs.length);
    }
}

/// @title RoundLayoutV21
/// @notice The BSC "V2.1" external layout (docs/prediction-contracts.md 2b): `rounds(epoch)` is 14 words — epoch, then
/// start/lock/close timestamps as uint64, lock/close prices (int256), lock/close oracle ids as uint80, then
/// `oracleCalled` at word 8, then the five amounts; a bet is (position, claimed, amount).
abstract contract RoundLayoutV21 is PredictionCore {
    struct BetInfoV21 {
        Position position;
        bool claimed;
        uint256 amount;
    }

    /// @dev The V2.1 view of each round, refreshed from `_store` whenever the round changes (a public mapping: its
    /// getter returns the 14 fields without the stack limits of a hand-written 14-value getter).
    struct RoundV21 {
        uint256 epoch;
        uint64 startTimestamp;
        uint64 lockTimestamp;
        uint64 closeTimestamp;
        int256 lockPrice;
        int256 closePrice;
        uint80 lockOracleId;
        uint80 closeOracleId;
        bool oracleCalled;
        uint256 totalAmount;
        uint256 bullAmount;
        uint256 bearAmount;
        uint256 rewardBaseCalAmount;
        uint256 rewardAmount;
    }

    mapping(uint256 => Round) private _store;
    mapping(uint256 => RoundV21) public rounds;

    function _round(uint256 epoch) internal view override returns (Round storage) {
        return _store[epoch];
    }

    function _poolsChanged(uint256 epoch) internal override {
        Round storage r = _store[epoch];
        RoundV21 storage v = rounds[epoch];
        v.totalAmount = r.totalAmount;
        v.bullAmount = r.bullAmount;
        v.bearAmount = r.bearAmount;
    }

    function _roundChanged(uint256 epoch) internal override {
        Round storage r = _store[epoch];
        RoundV21 storage v = rounds[epoch];
        v.epoch = r.epoch;
        v.startTimestamp = uint64(r.startTimestamp);
        v.lockTimestamp = uint64(r.lockTimestamp);
        v.closeTimestamp = uint64(r.closeTimestamp);
        v.lockPrice = r.lockPrice;
        v.closePrice = r.closePrice;
        v.lockOracleId = uint80(r.lockOracleId);
        v.closeOracleId = uint80(r.closeOracleId);
        v.oracleCalled = r.oracleCalled;
        v.totalAmount = r.totalAmount;
        v.bullAmount = r.bullAmount;
        v.bearAmount = r.bearAmount;
        v.rewardBaseCalAmount = r.rewardBaseCalAmount;
        v.rewardAmount = r.rewardAmount;
    }

    function ledger(uint256 epoch, address user) external view returns (Position position, bool claimed, uint256 amount) {
        BetInfo storage b = _ledger[epoch][user];
        return (b.position, b.claimed, b.amount);
    }

    /// @notice A page of the user's bets; reverts if `cursor` is beyond the user's bet count.
    function getUserRounds(address user, uint256 cursor, uint256 size)
        external
        view
        returns (uint256[] memory, BetInfoV21[] memory, uint256)
    {
        uint256[] memory epochs = _pageEpochs(user, cursor, size);
        BetInfoV21[] memory bets = new BetInfoV21[](epochs.length);
        for (uint256 i = 0; i < epochs.length; ++i) {
            BetInfo storage b = _ledger[epochs[i]][user];
            bets[i] = BetInfoV21(b.position, b.claimed, b.amount);
        }
        return (epochs, bets, cursor + epochs.length);
    }
}
