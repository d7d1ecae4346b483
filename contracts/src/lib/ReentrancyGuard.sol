// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice One-slot reentrancy lock (V2/V3 dialect).
abstract contract ReentrancyGuard {
    uint256 private _lock = 1;

    modifier nonReentrant() {
        require(_lock == 1, "ReentrancyGuard: reentrant call");
        _lock = 2;
        _;
        _lock = 1;
    }
}
