"""``rounds export``: paged, resumable after an interruption, readable by the backtest loader."""

from __future__ import annotations

import pytest

from bot.markets import PredictionMarket, dialect_for
from bot.markets.export import export_rounds
from devkit.devnet.keeper import Keeper

pytestmark = pytest.mark.anvil
P = 600 * 10**8


class Interrupt(Exception):
    pass


def test_export_pages_resumes_and_loads(w3, v2, tmp_path):
    keeper = Keeper(w3, v2)
    keeper.run([P + (i % 5) * 10**6 for i in range(14)], misses={7})
    market = PredictionMarket(w3, v2.market_address, dialect_for("v2"), name="m")
    straight = tmp_path / "straight.csv"
    full = export_rounds(market, straight, page=100)
    assert full.written >= 10

    out = tmp_path / "resumed.csv"

    def stop_after_first_page(done: int, total: int) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        export_rounds(market, out, page=4, progress=stop_after_first_page)
    with out.open("a") as fh:
        fh.write("99,1,2")  # a torn last line from a crash mid-write
    resumed = export_rounds(market, out, page=4)
    assert resumed.resumed_from == 4
    assert out.read_text() == straight.read_text()

    from bot.backtest.rounds import load_rounds_export

    frame = load_rounds_export(out)
    assert len(frame) == full.written
    assert list(frame["epoch"]) == sorted(frame["epoch"])
