// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Owner, pause and reentrancy guards that revert with custom errors, as the AI dialect does
/// (its errors: OwnableUnauthorizedAccount, OwnableInvalidOwner, EnforcedPause, ExpectedPause,
/// ReentrancyGuardReentrantCall). The reentrancy lock lives in transient storage (EIP-1153, Cancun).
abstract contract GuardsV5 {
    address private _owner;
    bool private _paused;
    bool private transient _entered;

    error OwnableUnauthorizedAccount(address account);
    error OwnableInvalidOwner(address owner);
    error EnforcedPause();
    error ExpectedPause();
    error ReentrancyGuardReentrantCall();

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Paused(address account);
    event Unpaused(address account);

    constructor() {
        _setOwner(msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != _owner) revert OwnableUnauthorizedAccount(msg.sender);
        _;
    }

    modifier whenNotPaused() {
        if (_paused) revert EnforcedPause();
        _;
    }

    modifier whenPaused() {
        if (!_paused) revert ExpectedPause();
        _;
    }

    modifier nonReentrant() {
        if (_entered) revert ReentrancyGuardReentrantCall();
        _entered = true;
        _;
        _entered = false;
    }

    function owner() public view returns (address) {
        return _owner;
    }

    function paused() public view returns (bool) {
        return _paused;
    }

    function renounceOwnership() external onlyOwner {
        _setOwner(address(0));
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert OwnableInvalidOwner(address(0));
        _setOwner(newOwner);
    }

    function _pause() internal {
        _paused = true;
        emit Paused(msg.sender);
    }

    function _unpause() internal {
        _paused = false;
        emit Unpaused(msg.sender);
    }

    function _setOwner(address next) private {
        emit OwnershipTransferred(_owner, next);
        _owner = next;
    }
}
