// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IERC20} from "./interfaces/IERC20.sol";
import {Ownable} from "./lib/Ownable.sol";
import {Pausable} from "./lib/Pausable.sol";
import {ReentrancyGuard} from "./lib/ReentrancyGuard.sol";
import {SafeTransfer} from "./lib/SafeTransfer.sol";

/// @title PredictionCore
/// @notice The engine shared by our V2-dialect (native coin) and V3-dialect (ERC-20) parimutuel markets.
/// Rounds follow one another every `intervalSeconds`; each `executeRound` reads the oracle once and uses that
/// price to lock round n and close round n-1, then starts round n+1.
/// @dev Behaves like the genuine PancakePredictionV2 where the bot can see it (docs/prediction-contracts.md 1b):
/// - When nobody bet on the winning side, the fee goes to the treasury and rewardAmount = total - fee stays in the
///   contract (rewardBaseCalAmount = 0: nobody can claim it). A draw sends the whole pot to the treasury.
/// - The oracle answer is accepted when its round id increased; its timestamp is only bounded against the block time
///   from above (`updatedAt <= block.timestamp + oracleUpdateAllowance`), so a stale answer is accepted.
/// - Only the admin may unpause; the operator (or the dialect's round runner) may pause.
/// - The constructor checks only the fee cap (bufferSeconds == intervalSeconds is accepted).
/// The external views of rounds, ledger entries and bet pages are the dialect's layout (RoundLayouts.sol); who may
/// bet or claim is the dialect's `_checkBettor`.
/// Payout math matches bot/payout.py to the wei: treasury = total * fee / 10000, payout = amount * reward / base.
abstract contract PredictionCore is Ownable, Pausable, ReentrancyGuard {
    enum Position {
        Bull,
        Bear
    }

    struct Round {
        uint256 epoch;
        uint256 startTimestamp;
        uint256 lockTimestamp;
        uint256 closeTimestamp;
        int256 lockPrice;
        int256 closePrice;
        uint256 lockOracleId;
        uint256 closeOracleId;
        uint256 totalAmount;
        uint256 bullAmount;
        uint256 bearAmount;
        uint256 rewardBaseCalAmount;
        uint256 rewardAmount;
        bool oracleCalled;
    }

    struct BetInfo {
        Position position;
        uint256 amount;
        bool claimed;
    }

    uint256 public constant MAX_TREASURY_FEE = 1000; // 10 %
    uint256 private constant _BP = 10000;

    AggregatorV3Interface public oracle;
    address public adminAddress;
    address public operatorAddress;

    uint256 public intervalSeconds;
    uint256 public bufferSeconds;
    uint256 public minBetAmount;
    uint256 public treasuryFee; // basis points
    uint256 public treasuryAmount; // fees and house pots not yet claimed by the admin
    uint256 public currentEpoch;
    uint256 public oracleLatestRoundId;
    uint256 public oracleUpdateAllowance; // seconds a price may age before executeRound refuses it

    bool public genesisStartOnce;
    bool public genesisLockOnce;

    mapping(uint256 => mapping(address => BetInfo)) internal _ledger;
    mapping(address => uint256[]) public userRounds;

    event BetBull(address indexed sender, uint256 indexed epoch, uint256 amount);
    event BetBear(address indexed sender, uint256 indexed epoch, uint256 amount);
    event Claim(address indexed sender, uint256 indexed epoch, uint256 amount);
    event StartRound(uint256 indexed epoch);
    event LockRound(uint256 indexed epoch, uint256 indexed roundId, int256 price);
    event EndRound(uint256 indexed epoch, uint256 indexed roundId, int256 price);
    event RewardsCalculated(
        uint256 indexed epoch, uint256 rewardBaseCalAmount, uint256 rewardAmount, uint256 treasuryAmount
    );
    event Pause(uint256 indexed epoch);
    event Unpause(uint256 indexed epoch);
    event NewAdminAddress(address admin);
    event NewOperatorAddress(address operator);
    event NewBufferAndIntervalSeconds(uint256 bufferSeconds, uint256 intervalSeconds);
    event NewMinBetAmount(uint256 indexed epoch, uint256 minBetAmount);
    event NewTreasuryFee(uint256 indexed epoch, uint256 treasuryFee);
    event NewOracle(address oracle);
    event NewOracleUpdateAllowance(uint256 oracleUpdateAllowance);
    event TreasuryClaim(uint256 amount);
    event TokenRecovery(address indexed token, uint256 amount);

    modifier onlyAdmin() {
        require(msg.sender == adminAddress, "Not admin");
        _;
    }

    /// @dev Who may run rounds (genesis, execute) and pause: decided by the dialect.
    modifier onlyRoundRunner() {
        _checkRoundRunner();
        _;
    }

    modifier onlyAdminOrRoundRunner() {
        if (msg.sender != adminAddress) _checkPauser();
        _;
    }

    /// @dev Who may bet or claim: decided by the dialect (`_checkBettor`).
    modifier notContract() {
        _checkBettor();
        _;
    }

    constructor(
        address oracle_,
        address admin_,
        address operator_,
        uint256 interval_,
        uint256 buffer_,
        uint256 minBet_,
        uint256 oracleAllowance_,
        uint256 fee_
    ) {
        require(fee_ <= MAX_TREASURY_FEE, "Treasury fee too high");
        oracle = AggregatorV3Interface(oracle_);
        adminAddress = admin_;
        operatorAddress = operator_;
        intervalSeconds = interval_;
        bufferSeconds = buffer_;
        minBetAmount = minBet_;
        oracleUpdateAllowance = oracleAllowance_;
        treasuryFee = fee_;
    }

    // ------------------------------------------------------------------ rounds

    /// @notice Start the first round (after deployment or after unpause).
    function genesisStartRound() external whenNotPaused onlyRoundRunner {
        require(!genesisStartOnce, "Can only run genesisStartRound once");
        currentEpoch += 1;
        _openRound(currentEpoch);
        genesisStartOnce = true;
    }

    /// @notice Lock the genesis round with the oracle price and start the next one.
    function genesisLockRound() external whenNotPaused onlyRoundRunner {
        require(genesisStartOnce, "Can only run after genesisStartRound is triggered");
        require(!genesisLockOnce, "Can only run genesisLockRound once");
        (uint256 oracleId, int256 price) = _freshOraclePrice();
        _lockRound(currentEpoch, oracleId, price);
        currentEpoch += 1;
        _openRound(currentEpoch);
        genesisLockOnce = true;
    }

    /// @notice Lock round n, close round n-1 and compute its rewards, start round n+1 — with one oracle price.
    function executeRound() external whenNotPaused onlyRoundRunner {
        require(
            genesisStartOnce && genesisLockOnce,
            "Can only run after genesisStartRound and genesisLockRound is triggered"
        );
        (uint256 oracleId, int256 price) = _freshOraclePrice();
        uint256 epoch = currentEpoch;
        _lockRound(epoch, oracleId, price);
        _closeRound(epoch - 1, oracleId, price);
        _computeRewards(epoch - 1);

        uint256 next = epoch + 1;
        currentEpoch = next;
        uint256 previousClose = _round(next - 2).closeTimestamp;
        require(previousClose != 0, "Can only start round after round n-2 has ended");
        require(block.timestamp >= previousClose, "Can only start new round after round n-2 closeTimestamp");
        _openRound(next);
    }

    // ------------------------------------------------------------------ users

    /// @notice Pay out winnings and refunds for `epochs` in one transfer; reverts whole if any epoch is ineligible.
    function claim(uint256[] calldata epochs) external nonReentrant notContract {
        uint256 total;
        for (uint256 i = 0; i < epochs.length; ++i) {
            total += _claimOne(epochs[i]);
        }
        if (total > 0) _pay(msg.sender, total);
    }

    function claimable(uint256 epoch, address user) public view returns (bool) {
        Round storage r = _round(epoch);
        BetInfo storage bet = _ledger[epoch][user];
        if (!r.oracleCalled || bet.amount == 0 || bet.claimed || r.closePrice == r.lockPrice) return false;
        Position winner = r.closePrice > r.lockPrice ? Position.Bull : Position.Bear;
        return bet.position == winner;
    }

    function refundable(uint256 epoch, address user) public view returns (bool) {
        Round storage r = _round(epoch);
        BetInfo storage bet = _ledger[epoch][user];
        return !r.oracleCalled && !bet.claimed && bet.amount != 0 && block.timestamp > r.closeTimestamp + bufferSeconds;
    }

    /// @dev The epochs of a page of `getUserRounds`; reverts (underflow) if `cursor` is beyond the user's bet count.
    function _pageEpochs(address user, uint256 cursor, uint256 size) internal view returns (uint256[] memory epochs) {
        uint256[] storage all = userRounds[user];
        uint256 remaining = all.length - cursor;
        uint256 n = size < remaining ? size : remaining;
        epochs = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            epochs[i] = all[cursor + i];
        }
    }

    function getUserRoundsLength(address user) external view returns (uint256) {
        return userRounds[user].length;
    }

    // ------------------------------------------------------------------ admin

    function pause() external whenNotPaused onlyAdminOrRoundRunner {
        _pause();
        emit Pause(currentEpoch);
    }

    /// @notice Unpause (admin only); the genesis flags are reset, so rounds must be kick-started again.
    function unpause() external whenPaused onlyAdmin {
        genesisStartOnce = false;
        genesisLockOnce = false;
        _unpause();
        emit Unpause(currentEpoch);
    }

    function claimTreasury() external nonReentrant onlyAdmin {
        uint256 amount = treasuryAmount;
        treasuryAmount = 0;
        _pay(adminAddress, amount);
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

    function setOracle(address _oracle) external whenPaused onlyAdmin {
        require(_oracle != address(0), "Cannot be zero address");
        oracleLatestRoundId = 0;
        oracle = AggregatorV3Interface(_oracle);
        oracle.latestRoundData(); // must answer
        emit NewOracle(_oracle);
    }

    function setOracleUpdateAllowance(uint256 _oracleUpdateAllowance) external whenPaused onlyAdmin {
        oracleUpdateAllowance = _oracleUpdateAllowance;
        emit NewOracleUpdateAllowance(_oracleUpdateAllowance);
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

    /// @notice Return tokens sent here by mistake to the owner.
    function recoverToken(address _token, uint256 _amount) external onlyOwner {
        _checkRecoverable(_token);
        SafeTransfer.token(IERC20(_token), msg.sender, _amount);
        emit TokenRecovery(_token, _amount);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Records a bet after the dialect has checked the caller; the dialect collects the stake.
    function _placeBet(uint256 epoch, Position position, uint256 amount) internal {
        require(epoch == currentEpoch, "Bet is too early/late");
        Round storage r = _round(epoch);
        require(_bettable(r), "Round not bettable");
        require(amount >= minBetAmount, "Bet amount must be greater than minBetAmount");
        BetInfo storage bet = _ledger[epoch][msg.sender];
        require(bet.amount == 0, "Can only bet once per round");

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
        _poolsChanged(epoch);
    }

    /// @dev The stored round `epoch` (its storage is the layout's, RoundLayouts.sol).
    function _round(uint256 epoch) internal view virtual returns (Round storage);

    /// @dev Called after round `epoch` changed (a layout keeping its own view of rounds refreshes it).
    function _roundChanged(uint256 epoch) internal virtual;

    /// @dev Called after a bet changed round `epoch`'s pools (total, bull, bear) and nothing else.
    function _poolsChanged(uint256 epoch) internal virtual;

    /// @dev Sends `amount` of the market's currency.
    function _pay(address to, uint256 amount) internal virtual;

    /// @dev Reverts unless msg.sender may run rounds.
    function _checkRoundRunner() internal view virtual;

    /// @dev Reverts unless msg.sender (not the admin) may pause.
    function _checkPauser() internal view virtual;

    /// @dev Reverts unless msg.sender may bet or claim. Default: plain wallets only — no code at the sender (an
    /// EIP-7702-delegated account has code) and no relaying contract in between.
    function _checkBettor() internal view virtual {
        require(msg.sender.code.length == 0, "Contract not allowed");
        require(msg.sender == tx.origin, "Proxy contract not allowed");
    }

    /// @dev Reverts if `token` may not be recovered (e.g. the market's own stake token).
    function _checkRecoverable(address token) internal view virtual {}

    function _bettable(Round storage r) private view returns (bool) {
        return r.startTimestamp != 0 && r.startTimestamp < block.timestamp && block.timestamp < r.lockTimestamp;
    }

    function _claimOne(uint256 epoch) private returns (uint256 amount) {
        Round storage r = _round(epoch);
        require(r.startTimestamp != 0, "Round has not started");
        require(block.timestamp > r.closeTimestamp, "Round has not ended");
        BetInfo storage bet = _ledger[epoch][msg.sender];
        if (r.oracleCalled) {
            require(claimable(epoch, msg.sender), "Not eligible for claim");
            amount = (bet.amount * r.rewardAmount) / r.rewardBaseCalAmount;
        } else {
            require(refundable(epoch, msg.sender), "Not eligible for refund");
            amount = bet.amount;
        }
        bet.claimed = true;
        emit Claim(msg.sender, epoch, amount);
    }

    function _freshOraclePrice() private returns (uint256 oracleId, int256 price) {
        (uint80 roundId, int256 answer,, uint256 updatedAt,) = oracle.latestRoundData();
        require(updatedAt <= block.timestamp + oracleUpdateAllowance, "Oracle update exceeded max timestamp allowance");
        require(roundId > oracleLatestRoundId, "Oracle update roundId must be larger than oracleLatestRoundId");
        oracleLatestRoundId = roundId;
        return (roundId, answer);
    }

    function _openRound(uint256 epoch) private {
        Round storage r = _round(epoch);
        r.epoch = epoch;
        r.startTimestamp = block.timestamp;
        r.lockTimestamp = block.timestamp + intervalSeconds;
        r.closeTimestamp = block.timestamp + 2 * intervalSeconds;
        emit StartRound(epoch);
        _roundChanged(epoch);
    }

    function _lockRound(uint256 epoch, uint256 oracleId, int256 price) private {
        Round storage r = _round(epoch);
        require(r.startTimestamp != 0, "Can only lock round after round has started");
        require(block.timestamp >= r.lockTimestamp, "Can only lock round after lockTimestamp");
        require(block.timestamp <= r.lockTimestamp + bufferSeconds, "Can only lock round within bufferSeconds");
        r.closeTimestamp = block.timestamp + intervalSeconds;
        r.lockPrice = price;
        r.lockOracleId = oracleId;
        emit LockRound(epoch, oracleId, price);
        _roundChanged(epoch);
    }

    function _closeRound(uint256 epoch, uint256 oracleId, int256 price) private {
        Round storage r = _round(epoch);
        require(r.lockTimestamp != 0, "Can only end round after round has locked");
        require(block.timestamp >= r.closeTimestamp, "Can only end round after closeTimestamp");
        require(block.timestamp <= r.closeTimestamp + bufferSeconds, "Can only end round within bufferSeconds");
        r.closePrice = price;
        r.closeOracleId = oracleId;
        r.oracleCalled = true;
        emit EndRound(epoch, oracleId, price);
        _roundChanged(epoch);
    }

    /// @dev Winner's pool is the base. A draw: the treasury takes the whole pot (base = reward = 0). Nobody on the
    /// winning side: base = 0, the fee goes to the treasury and reward = total - fee stays in the contract.
    function _computeRewards(uint256 epoch) private {
        Round storage r = _round(epoch);
        uint256 base;
        uint256 fee;
        uint256 reward;
        if (r.closePrice == r.lockPrice) {
            fee = r.totalAmount;
        } else {
            base = r.closePrice > r.lockPrice ? r.bullAmount : r.bearAmount;
            fee = (r.totalAmount * treasuryFee) / _BP;
            reward = r.totalAmount - fee;
        }
        r.rewardBaseCalAmount = base;
        r.rewardAmount = reward;
        treasuryAmount += fee;
        emit RewardsCalculated(epoch, base, reward, fee);
        _roundChanged(epoch);
    }
}
