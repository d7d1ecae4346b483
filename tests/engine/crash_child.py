"""Child process for crash tests: place one bet; its 9th argument names the step at which it kills itself.

The crash point is injected here, in the test's own process (``BetExecutor.crash_hook``): the product has no
environment variable or other switch that kills the bet path.
"""

import os
import sys
import time

from bot.domain import Position
from bot.engine.executor import BetRequest
from tests.engine.helpers import build_live

url, address, dialect, key, db_url, epoch, lock_ts, amount, crash_at = sys.argv[1:10]
executor, market, _, _ = build_live(url, address, dialect, key, db_url)
executor.crash_hook = lambda step: os._exit(137) if step == crash_at else None
req = BetRequest(market=market, epoch=int(epoch), position=Position.BULL, amount=int(amount), lock_ts=int(lock_ts),
                 fired_at=time.perf_counter())
result = executor.place(req)
print(result.state.value)
