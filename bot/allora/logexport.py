"""The inference log as data: when an inference became usable, where it came from, and the backtest's input format.

One rule, used by ``inferences export``, the backtest's inference loader and ``report accuracy``:

- **usable at** ``available_at_ms = max(network timestamp, fetched_at_ms)``: the bot could not act on an inference
  before it fetched it, and the network had not produced it before its own timestamp. A dump aligned on the network
  timestamp alone lets content fetched after the decision leak into it (a fetch 50 s late scored 100 %);
- **accepted rows only**: a rejected row (bad signature, stale, future, NaN) was never acted on and never counts.

Provenance labels (``SIGNAL_*``), said wherever a signal is reported:

- ``allora (logged live)``: the bot's own log of Allora's API/chain, exported by ``inferences export``;
- ``emulated (not Allora)``: the bot's log of the local Allora emulator (a loopback URL or its development signer) — a
  test double that scores ~48.5 % on recent BTC 5-minute data, never evidence about Allora;
- ``offline:<name> (not Allora)``: an offline forecaster over the price history;
- ``user file (unverified)``: any other file: nothing says who made it or when it was known.

The export format (CSV): ``topic_id, topic_name, kind, timestamp`` (network, unix s), ``fetched_at_ms``,
``available_at_ms``, ``accepted``, ``value`` (the network's decimal text), ``predicted_return`` and ``p_up`` (the live
conversion ``bot.allora.normalise.to_signal``, so backtests read the number the daemon would have used), ``source``
(api/rpc), ``signer``, ``provenance`` (``allora`` or ``emulated``). The labels are what the exporter knew; a file can be
edited by hand, so a loader that finds no export columns says ``user file (unverified)``.
"""

from __future__ import annotations

import csv
import ipaddress
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SIGNAL_ALLORA = "allora (logged live)"
SIGNAL_EMULATED = "emulated (not Allora)"
SIGNAL_USER_FILE = "user file (unverified)"
EXPORT_COLUMNS: tuple[str, ...] = (
    "topic_id",
    "topic_name",
    "kind",
    "timestamp",
    "fetched_at_ms",
    "available_at_ms",
    "accepted",
    "value",
    "predicted_return",
    "p_up",
    "source",
    "signer",
    "provenance",
)
EXPORT_MARKERS = frozenset({"fetched_at_ms", "available_at_ms", "accepted", "provenance"})


def offline_label(name: str) -> str:
    return f"offline:{name} (not Allora)"


def available_at_ms(network_ts_s: int | float | None, fetched_at_ms: int) -> int:
    """When an inference became usable: the later of its network timestamp and our fetch (unix ms)."""
    if network_ts_s is None or not math.isfinite(float(network_ts_s)):
        return int(fetched_at_ms)
    return max(int(round(float(network_ts_s) * 1000)), int(fetched_at_ms))


def is_loopback_url(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url if "://" in url else f"//{url}").hostname or ""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The local Allora emulator (devkit.alloraservice) signs with keys derived from these public seeds (keccak of the
# text): whatever they sign is emulated, never real network data. The seeds live here so the product needs no devkit.
EMULATOR_SIGNER_SEED = "allora-prediction-bot local allora service signer"
EMULATOR_OTHER_SIGNER_SEED = "allora-prediction-bot someone else"


def emulator_signers() -> frozenset[str]:
    """Addresses the local Allora emulator signs with (lower case)."""
    from eth_account import Account
    from eth_utils import keccak

    seeds = (EMULATOR_SIGNER_SEED, EMULATOR_OTHER_SIGNER_SEED)
    return frozenset(str(Account.from_key(keccak(text=s)).address).lower() for s in seeds)


def provenance_of(source_url: str | None, signer: str | None, emulators: frozenset[str]) -> str:
    """``emulated`` when the log came from a loopback service or an emulator signer, else ``allora``."""
    if is_loopback_url(source_url) or (signer or "").lower() in emulators:
        return "emulated"
    return "allora"


def source_url(settings: Any) -> str | None:
    """The Allora URL the bot's log came from (RPC or consumer API, as configured)."""
    allora = settings.allora
    return allora.rpc_url if allora.source == "rpc" else allora.api_url


def label_of(provenance_values: Iterable[str]) -> str:
    """The report label for a file's ``provenance`` column: allora only when every row says so."""
    values = {str(v).strip().lower() for v in provenance_values}
    if not values:
        return SIGNAL_USER_FILE
    if values == {"allora"}:
        return SIGNAL_ALLORA
    if values <= {"allora", "emulated"}:
        return SIGNAL_EMULATED
    return SIGNAL_USER_FILE


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    written: int
    rejected_skipped: int
    unconvertible: int
    provenance: str


def _reference_at(closes: list[tuple[int, Decimal]], at_ms: int) -> Decimal | None:
    """The last round close known at ``at_ms`` (``closes``: (close_ts s, price) sorted)."""
    ref = None
    for ts, price in closes:
        if ts * 1000 > at_ms:
            break
        ref = price
    return ref


def export_rows(session: Any, settings: Any, *, topic_ids: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of the export format for every logged fetch (accepted or not: ``accepted`` says), in fetch order."""
    from bot.allora.journal import reparse
    from bot.allora.kinds import kind_of
    from bot.allora.model import Rejection
    from bot.allora.normalise import to_signal
    from bot.store.inferences import iter_for_replay

    topics = {t.topic_id: t for t in settings.allora.topics}
    emulators = emulator_signers()
    url = source_url(settings)
    closes = _round_closes(session)
    for row in iter_for_replay(session):
        topic = topics.get(row.topic_id)
        if topic is None or (topic_ids and row.topic_id not in topic_ids) or row.timestamp is None:
            continue
        avail = available_at_ms(row.timestamp, row.fetched_at_ms)
        pred = p_up = math.nan
        if row.accepted:
            parsed = reparse(row, topic)
            if not isinstance(parsed, Rejection):
                ref = _reference_at(closes, avail) if kind_of(topic.kind).prices else Decimal(1)
                if ref is not None and ref > 0:
                    try:
                        sig = to_signal(parsed, topic, ref, avail / 1000)
                        pred, p_up = float(sig.predicted_return), float(sig.p_up)
                    except ValueError:
                        pass
        yield {
            "topic_id": row.topic_id,
            "topic_name": topic.name,
            "kind": topic.kind,
            "timestamp": row.timestamp,
            "fetched_at_ms": row.fetched_at_ms,
            "available_at_ms": avail,
            "accepted": bool(row.accepted),
            "value": row.value or "",
            "predicted_return": pred,
            "p_up": p_up,
            "source": row.source,
            "signer": row.signer or "",
            "provenance": provenance_of(url, row.signer, emulators),
        }


def _round_closes(session: Any) -> list[tuple[int, Decimal]]:
    from sqlalchemy import select

    from bot.store.outcomes import RoundOutcome

    rows = session.scalars(select(RoundOutcome).where(RoundOutcome.final.is_(True)).order_by(RoundOutcome.close_ts))
    return [(int(r.close_ts), Decimal(int(r.close_price)).scaleb(-int(r.price_decimals))) for r in rows]


def write_export(rows: Iterable[dict[str, Any]], path: str | Path) -> ExportSummary:
    """Write ``rows`` as the export CSV; counts rejected rows and accepted rows without a convertible signal."""
    file = Path(path)
    written = rejected = unconvertible = 0
    labels: set[str] = set()
    with file.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
            written += 1
            labels.add(str(row["provenance"]))
            if not row["accepted"]:
                rejected += 1
            elif isinstance(row["p_up"], float) and math.isnan(row["p_up"]):
                unconvertible += 1
    return ExportSummary(file, written, rejected, unconvertible, label_of(labels) if labels else SIGNAL_USER_FILE)
