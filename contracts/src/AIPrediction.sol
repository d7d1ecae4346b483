// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "./interfaces/IERC20.sol";
import {GuardsV5} from "./lib/GuardsV5.sol";
import {SafeTransfer} from "./lib/SafeTransfer.sol";

/// @title AIPrediction
/// @notice Our AI-dialect market (interface identical to abis/PancakeAIPrediction.json). There is no on-chain
/// oracle: the operator passes the current price and, for each new round, the AI's predicted price (18 decimals).
/// Positions mean: Bull = "the AI is right" (follow), Bear = "the AI is wrong" (against). The AI is right when its
/// price and the close price are on the same side of the lock price, or all three are equal.
/// @dev When nobody bet on the winning side the house (treasury) takes the whole pot: rewardBaseCalAmount = 0,
/// rewardAmount = 0. Reverts for pause/owner/reentrancy use custom errors (EnforcedPause, ...), like the original.
contract AIPrediction is GuardsV5 {
    enum Position {
        Bull, // the AI is right
        Bear // the AI is wrong
    }

    struct Round {
        uint32 startTimestamp;
        uint32 lockTimestamp;
        uint32 closeTimestamp;
        uint128 AIPrice;
        uint128 lockPrice;
        uint128 closePrice;
        uint128 totalAmount;
        uint128 bullAmount;
        uint128 bearAmount;
        uint128 rewardBaseCalAmount;
        uint128 rewardAmount;
        bool oracleCalled;
    }

    struct BetInfo {
        Position position;
        uint128 amount;
        bool claimed;
    }

    uint256 public constant MAX_TREASURY_FEE = 1000; // 10 %

    address public adminAddress;
    address public operatorAddress;
    uint256 public intervalSeconds;
    uint256 public bufferSeconds;
    uint256 public minBetAmount;
    uint256 public treasuryFee; // basis points
    uint256 public treasuryAmount;
    uint256 public currentEpoch;
    bool public genesisStartOnce;
    bool public genesisLockOnce;

    mapping(uint256 => Round) public rounds;
    mapping(uint256 => mapping(address => BetInfo)) public ledger;
    mapping(address => uint256[]) public userRounds;

    error SafeERC20FailedOperation(address token);

    event BetBull(address indexed sender, uint256 indexed epoch, uint128 amount);
    event BetBear(address indexed sender, uint256 indexed epoch, uint128 amount);
    event Claim(address indexed sender, uint256 indexed epoch, uint256 amount);
    event StartRound(uint256 indexed epoch, uint128 AIPrice);
    event LockRound(uint256 indexed epoch, uint128 price);
    event EndRound(uint256 indexed epoch, uint128 price);
    event RewardsCalculated(
        uint256 indexed epoch, uint256 rewardBaseCalAmount, uint256 rewardAmount, uint256 treasuryAmount
    );
    event Pause(uint256 indexed epoch);
    event Unpause(uint256 indexed epoch);
    event NewAdminAddress(address indexed admin);
    event NewOperatorAddress(address indexed operator);
    event NewBufferAndIntervalSeconds(uint256 bufferSeconds, uint256 intervalSeconds);
    event NewMinBetAmount(uint256 indexed epoch, uint256 minBetAmount);
    event NewTreasuryFee(uint256 indexed epoch, uint256 treasuryFee);
    event TreasuryClaim(uint256 amount);
    event TokenRecovery(address indexed token, uint256 amount);

    modifier onlyAdmin() {
        require(msg.sender == adminAddress, "Not admin");
        _;
    }

    modifier onlyOperator() {
        require(msg.sender == operatorAddress, "Not operator");
        _;
    }

    modifier onlyAdminOrOperator() {
        require(msg.sender == adminAddress || msg.sender == operatorAddress, "Not admin/operator");
        _;
    }

    modifier notContract() {
        require(msg.sender.code.length == 0, "Contract not allowed");
        require(msg.sender == tx.origin, "Proxy contract not allowed");
        _;
    }

    constructor(
        address _adminAddress,
        address _operatorAddress,
        uint256 _intervalSeconds,
        uint256 _bufferSeconds,
        uint256 _minBetAmount,
        uint256 _treasuryFee
    ) {
        require(_treasuryFee <= MAX_TREASURY_FEE, "Treasury fee too high");
        require(_bufferSeconds < _intervalSeconds, "bufferSeconds must be inferior to intervalSeconds");
        adminAddress = _adminAddress;
        operatorAddress = _operatorAddress;
        intervalSeconds = _intervalSeconds;
        bufferSeconds = _bufferSeconds;
        minBetAmount = _minBetAmount;
        treasuryFee = _treasuryFee;
    }

    // ------------------------------------------------------------------ rounds

    function genesisStartRound(uint128 AIPrice) external whenNotPaused onlyOperator {
        require(!genesisStartOnce, "Can only run genesisStartRound once");
        currentEpoch += 1;
        _openRound(currentEpoch, AIPrice);
        genesisStartOnce = true;
    }

    function genesisLockRound(uint128 currentPrice, uint128 AIPrice) external whenNotPaused onlyOperator {
        require(genesisStartOnce, "Can only run after genesisStartRound is triggered");
        require(!genesisLockOnce, "Can only run genesisLockRound once");
        _lockRound(currentEpoch, currentPrice);
        currentEpoch += 1;
        _openRound(currentEpoch, AIPrice);
        genesisLockOnce = true;
    }

    /// @notice Lock round n and close round n-1 at `currentPrice`, start round n+1 with the AI's `AIPrice`.
    function executeRound(uint128 currentPrice, uint128 AIPrice) external whenNotPaused onlyOperator {
        require(
            genesisStartOnce && genesisLockOnce,
            "Can only run after genesisStartRound and genesisLockRound is triggered"
        );
        uint256 epoch = currentEpoch;
        _lockRound(epoch, currentPrice);
        _closeRound(epoch - 1, currentPrice);
        _computeRewards(epoch - 1);

        uint256 next = epoch + 1;
        currentEpoch = next;
        uint32 previousClose = rounds[next - 2].closeTimestamp;
        require(previousClose != 0, "Can only start round after round n-2 has ended");
        require(block.timestamp >= previousClose, "Can only start new round after round n-2 closeTimestamp");
        _openRound(next, AIPrice);
    }

    // ------------------------------------------------------------------ users

    /// @notice Bet that the AI is right ("follow"); stake = msg.value.
    function betBull(uint256 epoch) external payable whenNotPaused nonReentrant notContract {
        _placeBet(epoch, Position.Bull);
    }

    /// @notice Bet that the AI is wrong ("against"); stake = msg.value.
    function betBear(uint256 epoch) external payable whenNotPaused nonReentrant notContract {
        _placeBet(epoch, Position.Bear);
    }

    /// @notice Pay out winnings and refunds for `epochs` in one transfer; reverts whole if any epoch is ineligible.
    function claim(uint256[] calldata epochs) external nonReentrant notContract {
        uint256 total;
        for (uint256 i = 0; i < epochs.length; ++i) {
            total += _claimOne(epochs[i]);
        }
        if (total > 0) SafeTransfer.native(msg.sender, total);
    }

    function claimable(uint256 epoch, address user) public view returns (bool) {
        Round storage r = rounds[epoch];
        BetInfo storage bet = ledger[epoch][user];
        if (!r.oracleCalled || bet.amount == 0 || bet.claimed) return false;
        return bet.position == _winner(r);
    }

    function refundable(uint256 epoch, address user) public view returns (bool) {
        Round storage r = rounds[epoch];
        BetInfo storage bet = ledger[epoch][user];
        return !r.oracleCalled && !bet.claimed && bet.amount != 0
            && block.timestamp > uint256(r.closeTimestamp) + bufferSeconds;
    }

    function getUserRounds(address user, uint256 cursor, uint256 size)
        external
        view
        returns (uint256[] memory, BetInfo[] memory, uint256)
    {
        uint256[] storage all = userRounds[user];
        uint256 remaining = all.length - cursor;
        uint256 n = size < remaining ? size : remaining;
        uint256[] memory epochs = new uint256[](n);
        BetInfo[] memory bets = new BetInfo[](n);
        for (uint256 i = 0; i < n; ++i) {
            epochs[i] = all[cursor + i];
            bets[i] = ledger[epochs[i]][user];
        }
        return (epochs, bets, cursor + n);
    }

    function getUserRoundsLength(address user) external view returns (uint256) {
        return userRounds[user].length;
    }

    // ------------------------------------------------------------------ admin

    function pause() external whenNotPaused onlyAdminOrOperator {
        _pause();
        emit Pause(currentEpoch);
    }

    /// @notice Unpause; the genesis flags are reset, so rounds must be kick-started again.
    function unpause() external whenPaused onlyAdminOrOperator {
        genesisStartOnce = false;
        genesisLockOnce = false;
        _unpause();
        emit Unpause(currentEpoch);
    }

    function claimTreasury() external nonReentrant onlyAdmin {
        uint256 amount = treasuryAmount;
        treasuryAmount = 0;
        SafeTransfer.native(adminAddress, amount);
        emit TreasuryClaim(amount);
    }

    function setBufferAndIntervalSeconds(uint256 _bufferSeconds, uint256 _intervalSeconds)
        external
        whenPaused
        onlyAdmin
    {
        require(_bufferSeconds < _intervalSeconds, "bufferSeconds must be inferior to intervalSeconds");
        bufferSeconds = _bufferSeconds;
        intervalSeconds = _intervalSeconds;
        emit NewBufferAndIntervalSeconds(_bufferSeconds, _intervalSeconds);
    }

    function setMinBetAmount(uint256 _minBetAmount) external whenPaused onlyAdmin {
        require(_minBetAmount != 0, "Must be superior to 0");
        minBetAmount = _minBetAmount;
        emit NewMinBetAmount(currentEpoch, _minBetAmount);
    }

    function setTreasuryFee(uint256 _treasuryFee) external whenPaused onlyAdmin {
        require(_treasuryFee <= MAX_TREASURY_FEE, "Treasury fee too high");
        treasuryFee = _treasuryFee;
        emit NewTreasuryFee(currentEpoch, _treasuryFee);
    }

    function setOperator(address _operatorAddress) external onlyAdmin {
        require(_operatorAddress != address(0), "Cannot be zero address");
        operatorAddress = _operatorAddress;
        emit NewOperatorAddress(_operatorAddress);
    }

    function setAdmin(address _adminAddress) external onlyOwner {
        require(_adminAddress != address(0), "Cannot be zero address");
        adminAddress = _adminAddress;
        emit NewAdminAddress(_adminAddress);
    }

    function recoverToken(address _token, uint256 _amount) external onlyOwner {
        if (!SafeTransfer.tryToken(IERC20(_token), msg.sender, _amount)) revert SafeERC20FailedOperation(_token);
        emit TokenRecovery(_token, _amount);
    }

    // ------------------------------------------------------------------ internals

    function _placeBet(uint256 epoch, Position position) private {
        require(epoch == currentEpoch, "Bet is too early/late");
        Round storage r = rounds[epoch];
        require(
            r.startTimestamp != 0 && r.startTimestamp < block.timestamp && block.timestamp < r.lockTimestamp,
            "Round not bettable"
        );
        require(msg.value >= minBetAmount, "Bet amount must be greater than minBetAmount");
        require(msg.value <= type(uint128).max, "Bet amount too large");
        BetInfo storage bet = ledger[epoch][msg.sender];
        require(bet.amount == 0, "Can only bet once per round");

        uint128 amount = uint128(msg.value);
        r.totalAmount += amount;
        bet.position = position;
        bet.amount = amount;
        userRounds[msg.sender].push(epoch);
        if (position == Position.Bull) {
            r.bullAmount += amount;
            emit BetBull(msg.sender, epoch, amount);
        } else {
            r.bearAmount += amount;
            emit BetBear(msg.sender, epoch, amount);
        }
    }

    function _claimOne(uint256 epoch) private returns (uint256 amount) {
        Round storage r = rounds[epoch];
        require(r.startTimestamp != 0, "Round has not started");
        require(block.timestamp > r.closeTimestamp, "Round has not ended");
        BetInfo storage bet = ledger[epoch][msg.sender];
        if (r.oracleCalled) {
            require(claimable(epoch, msg.sender), "Not eligible for claim");
            amount = (uint256(bet.amount) * r.rewardAmount) / r.rewardBaseCalAmount;
        } else {
            require(refundable(epoch, msg.sender), "Not eligible for refund");
            amount = bet.amount;
        }
        bet.claimed = true;
        emit Claim(msg.sender, epoch, amount);
    }

    /// @dev Bull when the AI price and the close price sit on the same side of the lock price (or all are equal).
    function _winner(Round storage r) private view returns (Position) {
        return _side(r.AIPrice, r.lockPrice) == _side(r.closePrice, r.lockPrice) ? Position.Bull : Position.Bear;
    }

    function _side(uint128 price, uint128 ref) private pure returns (int8) {
        if (price > ref) return 1;
        if (price < ref) return -1;
        return 0;
    }

    function _openRound(uint256 epoch, uint128 aiPrice) private {
        Round storage r = rounds[epoch];
        r.startTimestamp = uint32(block.timestamp);
        r.lockTimestamp = uint32(block.timestamp + intervalSeconds);
        r.closeTimestamp = uint32(block.timestamp + 2 * intervalSeconds);
        r.AIPrice = aiPrice;
        emit StartRound(epoch, aiPrice);
    }

    function _lockRound(uint256 epoch, uint128 price) private {
        Round storage r = rounds[epoch];
        require(r.startTimestamp != 0, "Can only lock round after round has started");
        require(block.timestamp >= r.lockTimestamp, "Can only lock round after lockTimestamp");
        require(block.timestamp <= uint256(r.lockTimestamp) + bufferSeconds, "Can only lock round within bufferSeconds");
        r.closeTimestamp = uint32(block.timestamp + intervalSeconds);
        r.lockPrice = price;
        emit LockRound(epoch, price);
    }

    function _closeRound(uint256 epoch, uint128 price) private {
        Round storage r = rounds[epoch];
        require(r.lockTimestamp != 0, "Can only end round after round has locked");
        require(block.timestamp >= r.closeTimestamp, "Can only end round after closeTimestamp");
        require(block.timestamp <= uint256(r.closeTimestamp) + bufferSeconds, "Can only end round within bufferSeconds");
        r.closePrice = price;
        r.oracleCalled = true;
        emit EndRound(epoch, price);
    }

    /// @dev The winning side's pool is the base; when it is empty the house takes the pot (base = reward = 0).
    function _computeRewards(uint256 epoch) private {
        Round storage r = rounds[epoch];
        uint256 total = r.totalAmount;
        uint256 base = _winner(r) == Position.Bull ? r.bullAmount : r.bearAmount;
        uint256 fee = base == 0 ? total : (total * treasuryFee) / 10000;
        uint256 reward = total - fee;
        r.rewardBaseCalAmount = uint128(base);
        r.rewardAmount = uint128(reward);
        treasuryAmount += fee;
        emit RewardsCalculated(epoch, base, reward, fee);
    }
}
