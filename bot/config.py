"""Typed settings: a YAML file plus ``ALLORA_BOT__SECTION__KEY`` environment overrides.

Every model forbids unknown keys, so a typo names the offending field path. Secrets never live here: the config names
the environment variable or keystore file that holds them.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_PREFIX = "ALLORA_BOT"
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
PRIVATE_KEY_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class ConfigError(ValueError):
    """A configuration problem, with the field path in the message."""


class Model(BaseModel):
    # allow_inf_nan=False: a safety limit can never be switched off with .inf or made meaningless with .nan
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True, allow_inf_nan=False)


def _check_address(value: str | None) -> str | None:
    """0x + 40 hex digits; a mixed-case address must carry a valid EIP-55 checksum (all-lower/all-upper have none)."""
    if value is None:
        return value
    if not ADDRESS_RE.match(value):
        raise ValueError(f"not an address: {value!r} (expected 0x followed by 40 hex digits)")
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper():
        from eth_utils import is_checksum_address

        if not is_checksum_address(value):
            raise ValueError(f"{value} fails its EIP-55 checksum (a mistyped character?): check the address, or "
                             "write it all in lower case to skip the check")
    return value


def _check_env_name(value: str) -> str:
    """The *name* of an environment variable. A value that looks like a key is refused without being echoed."""
    if PRIVATE_KEY_RE.match(value.strip()) or len(value) > 128:
        raise ValueError("looks like a secret (a private key?), not the name of an environment variable: put the "
                         "secret in the environment and its variable name here (value not shown)")
    if not ENV_NAME_RE.match(value):
        raise ValueError("not an environment variable name (letters, digits and _; value not shown)")
    return value


class ChainConfig(Model):
    chain_id: int = Field(gt=0)
    rpc_urls: list[str] = Field(min_length=1)
    poa: bool = False  # inject the extra-data middleware (BSC and other PoA chains)
    mainnet: bool = False  # live trading here needs risk.confirm_mainnet
    request_timeout: float = Field(default=10.0, gt=0)
    native_symbol: str = "ETH"
    # seconds between blocks (BSC: 0.45): the bet path sends until the next block could be stamped at lock or later
    block_seconds: float = Field(default=1.0, gt=0, le=60)
    # endpoints that must return the same answer for the reads a bet depends on (round state and pools, our ledger
    # entry, the receipt); 1 = no cross-check. Every endpoint's chain id is verified whatever the quorum.
    quorum: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _quorum(self) -> ChainConfig:
        if self.quorum > len(self.rpc_urls):
            raise ValueError(f"quorum {self.quorum} needs at least {self.quorum} rpc_urls (have {len(self.rpc_urls)})")
        return self


class MarketConfig(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    chain: str
    dialect: str  # a name in bot.markets.dialects.DIALECTS: v2, v2.1, v3, ai
    address: str
    abi: str | None = None  # path to an ABI file overriding the dialect's default
    topic: str | None = None  # name of an allora topic in allora.topics
    price_decimals: int = Field(default=8, ge=0, le=36)
    enabled: bool = True
    # ERC-20 (v3) markets: the stake token, pinned. Live trading needs it and the chain's token() must agree at start.
    token: str | None = None
    # how the stake token's amounts are shown (ERC-20 markets; the native coin is the chain's native_symbol, 18 decimals)
    token_symbol: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.$_-]{1,16}$")
    token_decimals: int | None = Field(default=None, ge=0, le=36)

    _addr = field_validator("address", "token")(_check_address)

    @field_validator("dialect")
    @classmethod
    def _dialect(cls, value: str) -> str:
        from bot.markets.dialects import DIALECTS

        if value not in DIALECTS:
            raise ValueError(f"unknown dialect {value!r} (known: {', '.join(DIALECTS)})")
        return value

    @model_validator(mode="after")
    def _token(self) -> MarketConfig:
        from bot.markets.dialects import DIALECTS

        if self.token is not None and DIALECTS[self.dialect].currency != "erc20":
            raise ValueError(f"token: the {self.dialect} dialect stakes the native coin; only ERC-20 markets take a token")
        return self


class TopicConfig(Model):
    name: str
    topic_id: int = Field(ge=0)
    kind: Literal["log-return", "price", "classification"] = "log-return"
    horizon_seconds: int = Field(default=300, gt=0)
    asset: str = "BTC"
    poll_seconds: float = Field(default=30.0, gt=0)
    labels: list[str] = Field(default_factory=lambda: ["up", "down"])
    volatility: float = Field(default=0.0015, gt=0)  # per-horizon sigma of the log-return, when no intervals are served
    # How an API inference earns trust (bot.allora.trust): "signature" (a trusted signer signed it), "chain" (it agrees
    # with the network inference read from the Allora chain), "api-key-tls" (explicit opt-in: labelled unverified).
    trust: Literal["signature", "chain", "api-key-tls"] = "signature"
    token_decimals: int = Field(default=18, ge=0, le=60)  # scale of the API's integers: not signed, so never read
    epoch_seconds: int | None = Field(default=None, gt=0)  # the topic's epoch (default horizon): the replay window
    chain_tolerance: float = Field(default=1e-6, ge=0, le=0.1)  # "chain" trust: |api - chain| <= tol * max(|chain|, vol)


class SignatureConfig(Model):
    required: bool = True
    trusted_signers: list[str] = Field(default_factory=list)
    consumer_address: str = "0x8E45fbef38DaC54e32AfB27AC8cBab30E6818ce6"
    consumer_chain_id: int = 11155111

    @field_validator("trusted_signers")
    @classmethod
    def _signers(cls, value: list[str]) -> list[str]:
        for item in value:
            _check_address(item)
        return value


class AlloraConfig(Model):
    source: Literal["api", "rpc", "replay"] = "api"
    api_url: str = "https://api.allora.network/v2"
    api_key_env: str = "ALLORA_API_KEY"
    chain_slug: str = "ethereum-11155111"
    network: str = "allora-testnet-1"
    rpc_url: str | None = None  # rest+http(s)://... or grpc+https://...
    emissions_version: Literal["v9", "v10"] = "v10"
    max_age_seconds: int = Field(default=600, gt=0)  # replay window cap; per topic it is also <= one epoch
    max_future_seconds: int = Field(default=5, ge=0, le=60)  # clock skew tolerated for a future-dated inference
    max_jump: float = Field(default=0.2, gt=0)  # largest |predicted return| accepted (cap; per topic jump_sigmas)
    jump_sigmas: float = Field(default=8.0, gt=0, le=100)  # per topic: |predicted log-return| <= jump_sigmas * volatility
    request_timeout: float = Field(default=10.0, gt=0)
    backoff_cap_seconds: float = Field(default=300.0, gt=0)
    backoff_jitter: float = Field(default=0.1, ge=0, le=1)
    replay_source: Literal["api", "rpc"] | None = None
    signature: SignatureConfig = Field(default_factory=SignatureConfig)
    topics: list[TopicConfig] = Field(default_factory=list)

    _env = field_validator("api_key_env")(_check_env_name)


class StrategyConfig(Model):
    name: str = "edge"
    file: str | None = None  # a user strategy: path to a .py file defining `class_name`
    class_name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class RiskConfig(Model):
    max_stake_per_bet_wei: int = Field(default=10**17, gt=0)
    max_stake_per_day_wei: int = Field(default=10**18, gt=0)
    max_daily_loss_wei: int = Field(default=5 * 10**17, gt=0)
    # gas paid today (mined attempts) + worst case of those in flight; the signer refuses what would go above it
    max_gas_per_day_wei: int = Field(default=2 * 10**17, gt=0)
    pause_after_losses: int = Field(default=6, ge=0)
    min_pool_wei: int = Field(default=0, ge=0)
    bankroll_fraction: float = Field(default=0.1, gt=0, le=1)
    kill_switch_file: str = "data/KILL"
    confirm_mainnet: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> RiskConfig:
        if self.max_stake_per_bet_wei > self.max_stake_per_day_wei:
            raise ValueError(f"max_stake_per_bet_wei ({self.max_stake_per_bet_wei}) is above max_stake_per_day_wei "
                             f"({self.max_stake_per_day_wei}): no bet could use it")
        return self


class GasConfig(Model):
    mode: Literal["legacy", "eip1559"] = "eip1559"
    floor_gwei: Decimal = Field(default=Decimal("0.05"), ge=0)
    ceiling_gwei: Decimal = Field(default=Decimal("50"), gt=0, le=1_000_000)
    priority_gwei: Decimal = Field(default=Decimal("0.1"), ge=0)
    bump_percent: int = Field(default=15, ge=10, le=1000)
    gas_limit: int = Field(default=250_000, gt=21_000, le=30_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> GasConfig:
        if self.floor_gwei > self.ceiling_gwei:
            raise ValueError(f"floor_gwei ({self.floor_gwei}) is above ceiling_gwei ({self.ceiling_gwei})")
        if self.priority_gwei > self.ceiling_gwei:
            raise ValueError(f"priority_gwei ({self.priority_gwei}) is above ceiling_gwei ({self.ceiling_gwei})")
        return self


class ExecutionConfig(Model):
    lead_seconds: float = Field(default=4.0, gt=0)
    confirmations: int = Field(default=1, ge=0)
    claim_interval_seconds: float = Field(default=60.0, gt=0)
    claim_batch_size: int = Field(default=20, gt=0)
    paper_bankroll_wei: int = Field(default=10 * 10**18, gt=0)  # bankroll the strategy sizes from in paper mode
    max_clock_skew_seconds: float = Field(default=30.0, gt=0)  # startup check: local clock vs chain time
    gas: GasConfig = Field(default_factory=GasConfig)


class WalletConfig(Model):
    keystore: str | None = None  # eth-account v3 keyfile
    password_env: str = "ALLORA_BOT_KEYSTORE_PASSWORD"  # noqa: S105 — the variable name, not a password
    private_key_env: str = "ALLORA_BOT_PRIVATE_KEY"

    _env = field_validator("password_env", "private_key_env")(_check_env_name)


class TruthConfig(Model):
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    exchange: str = "binance"
    symbol: str = "BTC/USDT"
    tolerance_seconds: int = Field(default=15, ge=0)
    round_grace_seconds: int = Field(default=600, ge=0)
    finality_lag_seconds: int = Field(default=5, ge=0)
    timeframe: str = "1m"


class NotifyEvents(Model):
    """Per-event switches of ``notify``: which events are sent (to every enabled channel)."""

    start_stop: bool = True
    state_change: bool = True  # pause / resume / stop-entry
    needs_human: bool = True
    risk_halt: bool = True
    bet_placed: bool = True
    bet_landed: bool = False
    bet_failed: bool = True
    round_settled: bool = True
    claim: bool = True
    daily_summary: bool = True


class TelegramConfig(Model):
    enabled: bool = False
    token_env: str = "ALLORA_BOT_TELEGRAM_TOKEN"  # noqa: S105 — the variable's name; the token lives in the environment
    chat_id: int | None = None  # the one chat we send to and take commands from
    api_base: str = "https://api.telegram.org"
    commands: bool = True  # answer /status /pnl /pause /resume /stopentry /claim from chat_id
    poll_timeout_seconds: float = Field(default=20.0, ge=0, le=50)

    _env = field_validator("token_env")(_check_env_name)

    @model_validator(mode="after")
    def _chat(self) -> TelegramConfig:
        if self.enabled and self.chat_id is None:
            raise ValueError("notify.telegram.chat_id is required when telegram is enabled")
        return self


class WebhookConfig(Model):
    enabled: bool = False
    url_env: str = "ALLORA_BOT_WEBHOOK_URL"  # Discord/Slack webhook URLs carry a secret: read from the environment

    _env = field_validator("url_env")(_check_env_name)


class NotifyConfig(Model):
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    events: NotifyEvents = Field(default_factory=NotifyEvents)
    max_per_minute: float = Field(default=20.0, gt=0)  # per channel; more is dropped (counted, one warning)
    burst: int = Field(default=5, ge=1)  # messages sent back to back before the rate applies
    queue_size: int = Field(default=200, ge=1)  # waiting messages per channel; a full queue drops (counted)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    daily_summary_hour_utc: int = Field(default=0, ge=0, le=23)


class ApiConfig(Model):
    """The daemon's REST API, dashboard and ``/metrics`` (one HTTP server). Bound to loopback unless told otherwise;
    every state-changing route needs ``Authorization: Bearer <token>`` with the token read from ``token_env``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)  # 0: a free port (the URL is logged and exposed)
    token_env: str = "ALLORA_BOT_API_TOKEN"  # noqa: S105 — the variable's name; the token lives in the environment
    log_lines: int = Field(default=500, ge=10, le=100_000)  # recent log lines kept for /api/logs

    _env = field_validator("token_env")(_check_env_name)


class Settings(Model):
    mode: Literal["paper", "live"] = "paper"
    database_url: str = "sqlite:///data/bot.db"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    chains: dict[str, ChainConfig] = Field(default_factory=dict)
    markets: list[MarketConfig] = Field(default_factory=list)
    allora: AlloraConfig = Field(default_factory=AlloraConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    wallet: WalletConfig = Field(default_factory=WalletConfig)
    truth: TruthConfig = Field(default_factory=TruthConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)

    @model_validator(mode="after")
    def _cross_refs(self) -> Settings:
        topics = {t.name for t in self.allora.topics}
        names: set[str] = set()
        addresses: dict[tuple[str, str], str] = {}
        for i, market in enumerate(self.markets):
            if market.chain not in self.chains:
                raise ValueError(f"markets.{i}.chain: unknown chain {market.chain!r} (known: {sorted(self.chains)})")
            if market.topic is not None and market.topic not in topics:
                raise ValueError(f"markets.{i}.topic: unknown topic {market.topic!r} (known: {sorted(topics)})")
            if market.name in names:
                raise ValueError(f"markets.{i}.name: duplicate market name {market.name!r}")
            names.add(market.name)
            where = (market.chain, market.address.lower())
            if where in addresses:
                raise ValueError(f"markets.{i}.address: {market.address} on chain {market.chain!r} is already market "
                                 f"{addresses[where]!r} (one contract, one market)")
            addresses[where] = market.name
        return self

    def market(self, name: str) -> MarketConfig:
        for market in self.markets:
            if market.name == name:
                return market
        raise ConfigError(f"unknown market {name!r} (configured: {', '.join(m.name for m in self.markets) or 'none'})")

    def topic(self, name: str) -> TopicConfig:
        for topic in self.allora.topics:
            if topic.name == name:
                return topic
        raise ConfigError(f"unknown topic {name!r}")


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node: Any = tree
    for key in path[:-1]:
        if isinstance(node, list):
            node = node[int(key)]
            continue
        if key not in node or not isinstance(node[key], dict | list):
            node[key] = {}
        node = node[key]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


_NOT_DECIMAL = re.compile(r"^[+-]?0([xXoObB]|[0-9])")


def apply_env_overrides(tree: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``ALLORA_BOT__EXECUTION__LEAD_SECONDS=3`` sets ``execution.lead_seconds``; values are parsed as YAML scalars."""
    env = os.environ if environ is None else environ
    prefix = ENV_PREFIX + "__"
    for key, raw in sorted(env.items()):
        if not key.startswith(prefix):
            continue
        path = [part.lower() for part in key[len(prefix) :].split("__") if part]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, int | float) and not isinstance(value, bool) and _NOT_DECIMAL.match(raw.strip()):
            value = raw.strip()  # 0x… (an address), 0o… or 017: YAML 1.1 reads them as numbers; keep the text
        try:
            _set_path(tree, path, value)
        except (IndexError, ValueError, TypeError) as exc:
            raise ConfigError(f"{key}: cannot apply override ({exc})") from None
    return tree


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: {msg}")
    return "invalid config: " + "; ".join(lines)


def parse_settings(tree: dict[str, Any]) -> Settings:
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load the YAML file (``config/devnet.yaml`` when not given), apply env overrides, validate."""
    tree: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file not found: {file}")
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: top level must be a mapping")
        tree = loaded
    return parse_settings(apply_env_overrides(tree, environ))


SECRET_KEYS = ("key", "password", "secret", "token")


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective config as a plain dict, with anything that looks secret masked (``config show``)."""
    data = settings.model_dump(mode="json")

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if key == "token" and isinstance(node, str) and ADDRESS_RE.match(node):
            return node  # a market's stake token address, public
        if isinstance(node, str) and any(s in key.lower() for s in SECRET_KEYS) and not key.endswith("_env"):
            return "***"
        if isinstance(node, str) and "://" in node:  # credentials in a URL: user:pass@, key in the path or query
            from bot.redact import redact_url

            return redact_url(node)
        return node

    result = walk(data)
    assert isinstance(result, dict)
    return result
