"""An error that needs a human on the bet path pauses the daemon instead of being counted and ignored: with a daily
gas cap no transaction fits, the signer refuses the first bet (``NeedsHuman``); the daemon pauses betting with that
reason (seen through the API and /metrics), opens no new bet over the next rounds, and the pause outlives a restart of
the control state's reader (it is in the journal database)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.engine.control import Control, DaemonState
from tests.api.conftest import start_bot, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_a_signer_refusal_pauses_the_daemon_and_says_so(tmp_path) -> None:
    with ExitStack() as stack:
        bot = start_bot(stack, tmp_path, risk={"max_gas_per_day_wei": 1})
        status = wait_for(lambda: (s := bot.get("/api/status"))["state"] == "paused" and s, 120, "the pause")
        assert status["by"] == "daemon" and "gas" in status["reason"]
        [(epoch, state, origin)] = bot.intents()
        assert (state, origin) == ("failed", "daemon")
        bot.wait_lock_passed(bot.epoch() + 1)
        assert bot.intents() == [(epoch, state, origin)]  # nothing new while paused
        text = bot.get_text("/metrics")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples[("allora_bot_needs_human_total", ())] == 1
        assert samples[("allora_bot_daemon_state", (("state", "paused"),))] == 1
        assert samples[("allora_bot_bets_total", (("market", "btc-api"), ("outcome", "failed")))] == 1
        assert bot.runtime.daemon.stats.errors == 0  # not counted and ignored
        # another process reading the journal sees the same pause (and a restarted daemon would)
        other = Control(bot.app.engine)
        assert other.read().state is DaemonState.PAUSED
