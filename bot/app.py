"""Composition root: build the bot's parts from ``Settings`` (used by the CLI, the daemon and the demo).

Everything with I/O is created here and passed down explicitly — no globals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from bot.chain.clock import ChainClock, fast_block_time
from bot.chain.connection import connect
from bot.chain.gas import GasPolicy
from bot.chain.keys import load_account
from bot.chain.policy import SigningPolicy, rule_for
from bot.chain.sender import TxSender
from bot.config import MarketConfig, Settings
from bot.engine.account_lock import AccountLock, Holder
from bot.engine.executor import LiveExecutor, PaperExecutor, SpendingCaps, require_live_ok
from bot.errors import OperationalError, TemporaryError
from bot.markets.base import PredictionMarket, open_market
from bot.markets.proof import check_token
from bot.store.db import make_engine, session_factory

log = logging.getLogger(__name__)

PAPER_ACCOUNT = "0x000000000000000000000000000000000000dEaD"


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    chains: dict[str, Web3] = field(default_factory=dict)
    markets: dict[str, PredictionMarket] = field(default_factory=dict)
    account: LocalAccount | None = None
    _senders: dict[str, TxSender] = field(default_factory=dict, repr=False)
    _locks: dict[int, AccountLock] = field(default_factory=dict, repr=False)

    @property
    def live(self) -> bool:
        return self.settings.mode == "live"

    def market(self, name: str) -> PredictionMarket:
        if name not in self.markets:
            self.settings.market(name)  # raises a ConfigError naming the configured ones
            raise OperationalError(f"market {name!r} is disabled in the config")
        return self.markets[name]

    def w3_for(self, market: str) -> Web3:
        return self.chains[self.settings.market(market).chain]

    def account_address(self) -> str:
        return str(self.account.address) if self.account is not None else PAPER_ACCOUNT

    def clock(self, market: str) -> ChainClock:
        clock = ChainClock(self.w3_for(market))
        clock.sync()
        return clock

    def sender(self, market: str) -> TxSender:
        """The one transaction sender of our account on this market's chain (one nonce counter per account)."""
        if self.account is None:
            raise OperationalError("no signing key loaded: live mode needs a keystore or a key in the environment")
        cfg = self.settings.market(market)
        if cfg.chain in self._senders:
            return self._senders[cfg.chain]
        chain = self.settings.chains[cfg.chain]
        sender = TxSender(
            self.chains[cfg.chain], self.account, self.sessions, GasPolicy(self.settings.execution.gas),
            self.signing_policy(cfg.chain), chain.chain_id, self.settings.risk.max_gas_per_day_wei,
            gas_limit=self.settings.execution.gas.gas_limit,
        )
        sender.budget.spend()  # today's gas spend read once at start (folds the day's attempts), not on the first bet
        self._senders[cfg.chain] = sender
        return sender

    def signing_policy(self, chain: str) -> SigningPolicy:
        """What the signer of ``chain`` may sign: its enabled markets (``self.markets`` holds only those), each ERC-20
        market's pinned stake token proven against the chain's ``token()`` (else refused: ``OperationalError``)."""
        rules = []
        for m in self.settings.markets:
            if m.chain == chain and m.name in self.markets:
                market = self.markets[m.name]
                token = check_token(market) if market.spec.currency == "erc20" else None
                rules.append(rule_for(market, token))
        return SigningPolicy(self.settings.chains[chain].chain_id, rules, self.settings.risk.max_stake_per_bet_wei)

    def lock_account(self, role: str, market: str) -> Holder:
        """Become the one live sender of our account on ``market``'s chain (``AccountBusy``, exit 4, when another
        process is: a second daemon, or a CLI trade in flight). Held until ``release_locks`` or the process ends."""
        if self.account is None:
            raise OperationalError("no signing key loaded: live mode needs a keystore or a key in the environment")
        chain_id = self.settings.chains[self.settings.market(market).chain].chain_id
        lock = self._locks.get(chain_id)
        if lock is None:
            lock = AccountLock(self.settings.database_url, chain_id, str(self.account.address), role)
            lock.acquire()
            self._locks[chain_id] = lock
        return lock.holder

    def release_locks(self) -> None:
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    def caps(self) -> SpendingCaps:
        return SpendingCaps(self.settings.risk.max_stake_per_bet_wei, self.settings.risk.max_stake_per_day_wei)

    def executor(self, market: str) -> Any:
        if not self.live:
            return PaperExecutor(self.sessions, self.account_address(), self.caps())
        sender = self.sender(market)
        clock = self.clock(market)

        def chain_now() -> float:
            return max(float(fast_block_time(sender.w3)), clock.now())

        holder = self.lock_account("live", market)  # the executor owns the account's intents: only the lock holder
        return LiveExecutor(sender, self.sessions, chain_now, self.caps(), owner=holder.token)


def build_app(settings: Settings, *, live: bool | None = None, connect_chains: bool = True, need_key: bool | None = None) -> App:
    """Open the database, connect every chain that has an enabled market, open the market adapters.

    ``live`` overrides ``settings.mode``. Live mode loads the key (keystore or environment) and refuses mainnet without
    ``risk.confirm_mainnet``.
    """
    if live is not None:
        settings = settings.model_copy(update={"mode": "live" if live else "paper"})
    enabled: list[MarketConfig] = [m for m in settings.markets if m.enabled]
    # everything that can refuse runs before anything is written (no database file for a refused command)
    if settings.mode == "live":
        for m in enabled:
            require_live_ok("live", settings.chains[m.chain].mainnet, settings.risk.confirm_mainnet)
    account: LocalAccount | None = None
    if settings.mode == "live":
        from bot.hardening import harden_live_process

        harden_live_process(settings)  # core dumps off, not dumpable, owner-only files: before the key is read
    if need_key or (need_key is None and settings.mode == "live"):
        account = load_account(settings.wallet)
    elif settings.wallet.keystore is None:
        try:
            account = load_account(settings.wallet)
        except OperationalError:
            account = None
    chains: dict[str, Web3] = {}
    if connect_chains:
        for m in enabled:
            if m.chain not in chains:
                chains[m.chain] = connect(settings.chains[m.chain])
    engine = make_engine(settings.database_url)
    app = App(settings=settings, engine=engine, sessions=session_factory(engine), chains=chains, account=account)
    if connect_chains:
        for m in enabled:
            app.markets[m.name] = open_market(app.chains[m.chain], m)
    return app


def startup_checks(settings: Settings, app: App | None = None) -> dict[str, Any]:
    """Chain ids match, each configured address holds code and speaks its dialect (``bot.markets.proof``: recent
    rounds and our latest bets decode consistently), our account may bet there (no code unless the dialect allows
    smart wallets), funds, clock skew."""
    import time

    from bot.markets.proof import check_dialect, check_wallet, describe

    results: dict[str, Any] = {}
    app = app or build_app(settings, live=False)
    for name, market in app.markets.items():
        entry: dict[str, Any] = {}
        code = market.w3.eth.get_code(market.address)  # type: ignore[arg-type]
        if not code or bytes(code) == b"":
            raise OperationalError(f"market {name}: no contract at {market.address}")
        try:
            params = market.params(refresh=True)
            epoch = market.current_epoch()
        except TemporaryError as exc:
            raise exc
        except Exception as exc:  # noqa: BLE001 — any decoding failure means the wrong contract
            raise OperationalError(
                f"market {name}: {market.address} does not answer the {market.spec.name} dialect's getters "
                f"({type(exc).__name__}): wrong contract or wrong dialect"
            ) from None
        account = app.account.address if app.account is not None else None
        entry["dialect"] = describe(check_dialect(market, account))
        if market.spec.currency == "erc20":
            entry["token"] = check_token(market) if market.pinned_token is not None or app.live else (
                f"{market.token_address()} (not pinned: live trading refused)")
        if account is not None:
            check_wallet(market, account)
        block_ts = market.chain_time()
        skew = time.time() - block_ts
        if abs(skew) > settings.execution.max_clock_skew_seconds:
            raise OperationalError(
                f"market {name}: local clock is {skew:+.0f} s off the chain's latest block (tolerance "
                f"{settings.execution.max_clock_skew_seconds} s): fix the system clock (NTP) before betting"
            )
        entry.update(epoch=epoch, paused=params.paused, interval=params.interval_seconds,
                     min_bet_wei=params.min_bet_amount, fee_bp=params.treasury_fee_bp,
                     clock_skew_s=round(time.time() - block_ts, 3))
        if app.account is not None:
            balance = int(market.w3.eth.get_balance(app.account.address))
            gas = settings.execution.gas
            need = gas.gas_limit * int(gas.ceiling_gwei * 10**9)
            if market.spec.currency == "native":
                need += max(settings.risk.max_stake_per_bet_wei, params.min_bet_amount)
            entry["balance_wei"] = balance
            if app.live and balance < need:
                raise OperationalError(
                    f"account {app.account.address} holds {balance} wei on {name}'s chain; a bet needs up to {need} "
                    "wei (stake + gas at the ceiling)"
                )
        results[name] = entry
    return results
