"""Child process for crash tests: place one bet; ALLORA_BOT_CRASH_AT kills it at a chosen step."""

import sys
import time

from bot.domain import Position
from bot.engine.executor import BetRequest
from tests.engine.helpers import build_live

url, address, dialect, key, db_url, epoch, lock_ts, amount = sys.argv[1:9]
executor, market, _, _ = build_live(url, address, dialect, key, db_url)
req = BetRequest(market=market, epoch=int(epoch), position=Position.BULL, amount=int(amount), lock_ts=int(lock_ts),
                 fired_at=time.perf_counter())
result = executor.place(req)
print(result.state.value)
