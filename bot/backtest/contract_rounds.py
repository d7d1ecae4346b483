"""Real rounds in the contract's own field names, checked before a backtest trusts them.

``rounds(epoch)`` on PancakePredictionV2 returns ``epoch, startTimestamp, lockTimestamp, closeTimestamp, lockPrice,
closePrice, lockOracleId, closeOracleId, totalAmount, bullAmount, bearAmount, rewardBaseCalAmount, rewardAmount,
oracleCalled``. A file of those (ndjson/JSON lines or CSV; numbers as JSON integers or decimal strings, any size) loads
with ``load_contract_rounds`` into the rounds frame of ``bot.backtest.rounds``: real timestamps, exact wei (Python ints
past int64), and ``oracleCalled == false`` kept as a round that was never executed — every stake refunded, never a
bear win or a draw.

``contract_problems`` checks each round against the contract's own bookkeeping (V2 ``_calculateRewards``) and names
the bad epochs:

- ``bullAmount + bearAmount == totalAmount``;
- executed rounds: the winner by the prices must be the side ``rewardBaseCalAmount`` was set to (bull up, bear down,
  0 on a draw: the house takes it) — a mismatch means the prices lost precision (a rounded price turns a winner into
  a draw) or the fields were mixed up;
- ``rewardAmount == totalAmount - floor(totalAmount * fee_bp / 10000)`` when someone won (0 on a draw), with the
  backtest's ``fee_bp``; the fee the file implies is in the message;
- never-executed rounds carry no reward;
- amounts are whole numbers (a float that went through ``1e18`` scaling is refused: it is not exact).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.backtest.exact import as_wei_array
from bot.markets.dialects import V2
from bot.payout import BP_DENOMINATOR

# the V2 getter's names (bot.markets.dialects), oracle ids aside: a backtest has no use for them
CONTRACT_FIELDS: tuple[str, ...] = tuple(f for f in V2.round_fields if not f.endswith("OracleId"))
MAX_NAMED = 5


def is_contract_record(keys: Sequence[str]) -> bool:
    return "lockTimestamp" in keys and "bullAmount" in keys


def _int(value: Any, field: str) -> int:
    """An exact integer from a JSON int or decimal text; floats and exponents are refused (not exact)."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: not an integer ({value!r})")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii():
            return int(text)
    raise ValueError(f"{field}: not a whole number ({value!r}; floats are not exact wei)")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"oracleCalled: not a boolean ({value!r})")


def read_records(path: Path, text: str) -> list[dict[str, Any]]:
    """Records of an ndjson/JSON-lines or CSV file (JSON integers parsed exactly)."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return list(csv.DictReader(io.StringIO(text)))
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {lineno}: not JSON ({exc.msg})") from None
    return out


def parse_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Typed rows (ints, bool) from raw records; ``ValueError`` naming the epoch/line of the first bad value."""
    rows = []
    for i, rec in enumerate(records):
        missing = [f for f in CONTRACT_FIELDS if f not in rec]
        if missing:
            raise ValueError(f"record {i + 1}: missing field(s) {', '.join(missing)}")
        try:
            row = {f: (_bool(rec[f]) if f == "oracleCalled" else _int(rec[f], f)) for f in CONTRACT_FIELDS}
        except ValueError as exc:
            raise ValueError(f"record {i + 1} (epoch {rec.get('epoch')}): {exc}") from None
        rows.append(row)
    return rows


def _winner(row: Mapping[str, int]) -> str:
    if row["closePrice"] > row["lockPrice"]:
        return "bull"
    if row["closePrice"] < row["lockPrice"]:
        return "bear"
    return "draw"


def contract_problems(rows: Sequence[Mapping[str, Any]], fee_bp: int) -> list[str]:
    """One message per kind of inconsistency, each naming (up to ``MAX_NAMED``) epochs; empty when all is well."""
    found: dict[str, list[int]] = {}
    implied: set[int] = set()

    def bad(kind: str, epoch: int) -> None:
        found.setdefault(kind, []).append(epoch)

    seen: set[int] = set()
    for row in rows:
        epoch = int(row["epoch"])
        if epoch in seen:
            bad("duplicate epoch", epoch)
        seen.add(epoch)
        total, bull, bear = row["totalAmount"], row["bullAmount"], row["bearAmount"]
        if min(total, bull, bear, row["rewardAmount"], row["rewardBaseCalAmount"]) < 0:
            bad("negative amount", epoch)
        if bull + bear != total:
            bad("bullAmount + bearAmount != totalAmount", epoch)
        if not row["oracleCalled"]:
            if row["rewardAmount"] or row["rewardBaseCalAmount"]:
                bad("reward on a round never executed (oracleCalled false)", epoch)
            continue
        if not row["lockTimestamp"] < row["closeTimestamp"]:
            bad("closeTimestamp not after lockTimestamp", epoch)
        winner = _winner(row)
        base = row["rewardBaseCalAmount"]
        expected_base = {"bull": bull, "bear": bear, "draw": 0}[winner]
        if base != expected_base:
            if winner == "draw":
                bad("prices say draw but rewardBaseCalAmount names a winner (price precision lost?)", epoch)
            else:
                bad(f"prices say {winner} won but rewardBaseCalAmount does not match that side", epoch)
            continue
        expected_reward = 0 if winner == "draw" else total - total * fee_bp // BP_DENOMINATOR
        if row["rewardAmount"] != expected_reward:
            bad(f"rewardAmount != totalAmount minus the {fee_bp} bp fee", epoch)
            if winner != "draw" and total:
                implied.add(round((total - row["rewardAmount"]) * BP_DENOMINATOR / total))
    messages = []
    for kind, epochs in found.items():
        named = ", ".join(str(e) for e in epochs[:MAX_NAMED])
        more = f" and {len(epochs) - MAX_NAMED} more" if len(epochs) > MAX_NAMED else ""
        hint = f" (the file implies fee_bp {sorted(implied)[:3]})" if "fee" in kind and implied else ""
        messages.append(f"{kind}{hint}: epoch {named}{more}")
    return messages


def contract_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The rounds frame (``bot.backtest.rounds`` columns) of parsed contract rows, sorted by epoch."""
    ordered = sorted(rows, key=lambda r: int(r["epoch"]))

    def col(name: str) -> list[int]:
        return [int(r[name]) for r in ordered]

    return pd.DataFrame(
        {
            "epoch": np.array(col("epoch"), dtype=np.int64),
            "start_ts": np.array(col("startTimestamp"), dtype=np.int64),
            "lock_ts": np.array(col("lockTimestamp"), dtype=np.int64),
            "close_ts": np.array(col("closeTimestamp"), dtype=np.int64),
            "lock_price": as_wei_array(col("lockPrice")),
            "close_price": as_wei_array(col("closePrice")),
            "bull_wei": as_wei_array(col("bullAmount")),
            "bear_wei": as_wei_array(col("bearAmount")),
            "oracle_called": np.array([bool(r["oracleCalled"]) for r in ordered], dtype=bool),
        }
    )
