// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator
/// @notice A Chainlink-style price feed for devnets and tests. Anyone may push a price with `updateAnswer`:
/// each call opens a new round id and stamps it with the current block time. Never deploy to a real network.
contract MockAggregator is AggregatorV3Interface {
    struct Answer {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    uint8 public immutable decimals;
    uint256 public constant version = 4;
    string public description;
    uint80 public latestRound;

    mapping(uint80 => Answer) private _answers;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 _decimals, int256 _initialAnswer, string memory _description) {
        decimals = _decimals;
        description = _description;
        updateAnswer(_initialAnswer);
    }

    /// @notice Push a new price: round id + 1, updatedAt = block.timestamp.
    function updateAnswer(int256 _answer) public {
        uint80 id = latestRound + 1;
        latestRound = id;
        _answers[id] = Answer(_answer, block.timestamp, block.timestamp);
        emit AnswerUpdated(_answer, id, block.timestamp);
    }

    function getRoundData(uint80 _roundId)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Answer storage a = _answers[_roundId];
        require(a.updatedAt != 0, "No data present");
        return (_roundId, a.answer, a.startedAt, a.updatedAt, _roundId);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint80 id = latestRound;
        Answer storage a = _answers[id];
        return (id, a.answer, a.startedAt, a.updatedAt, id);
    }
}
