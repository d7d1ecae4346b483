"""Child process for the race tests: one process runs every trial of a scenario, each trial at its own wall-clock
instant (``start + i * spacing``), so two such processes race trial by trial without paying the start-up each time.
Prints one line per trial.

- ``lock DB_URL CHAIN_ID ACCOUNT START SPACING TRIALS MARKS``: try the account lock; ``held`` (kept until both
  processes have tried: a mark file each in the folder MARKS, then released) or ``busy <holder json>``;
- ``intent DB_URL_TEMPLATE MARKET START SPACING TRIALS``: journal a 0.06-coin intent of account ``0xA<i>`` against a
  0.1/day cap in the database ``DB_URL_TEMPLATE.format(i=<trial>)`` for a market of its own (``MARKET-<pid>``);
  ``accepted`` or ``denied``;
- ``bet PLAN_JSON HOST``: for each trial of the plan (url, market, key, lock_ts, amount, side per host, start), build
  a live executor on this host's own database and lock, place one bet at the trial's instant; the result's state.
"""

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from bot.domain import Position
from bot.engine.account_lock import AccountBusy, AccountLock


def wait_until(at: float) -> None:
    while time.time() < at:
        time.sleep(0.0005)


def lock_trials(db_url: str, chain_id: int, account: str, start: float, spacing: float, trials: int,
                marks: str) -> None:
    """Each trial: try the lock at the trial's instant, then leave a mark; a holder keeps the lock until both
    processes have marked the trial (so the other's try always falls inside the hold: held + held is two holders)."""
    for i in range(trials):
        lock = AccountLock(db_url, chain_id, account, role="daemon")
        # a trial starts only when both processes are done with the last one (its holder released): on a loaded
        # machine a holder lagging by more than the spacing would otherwise still hold trial i-1's lock in trial i
        deadline = time.time() + 60
        while i and len(list(Path(marks).glob(f"{i - 1}.*.done"))) < 2 and time.time() < deadline:
            time.sleep(0.002)
        wait_until(start + i * spacing)
        try:
            lock.acquire()
        except AccountBusy as busy:
            Path(marks, f"{i}.{os.getpid()}").touch()
            print("busy " + json.dumps(busy.holder), flush=True)
        else:
            Path(marks, f"{i}.{os.getpid()}").touch()
            deadline = time.time() + 60
            while len(list(Path(marks).glob(f"{i}.[0-9]*[0-9]"))) < 2 and time.time() < deadline:
                time.sleep(0.005)
            print("held", flush=True)
            lock.release()
        Path(marks, f"{i}.{os.getpid()}.done").touch()


def intent_trials(template: str, market: str, start: float, spacing: float, trials: int) -> None:
    from bot.engine.executor import BetRequest, SpendingCaps, hand_over
    from bot.store.db import make_engine

    caps = SpendingCaps(max_per_bet=10**18, max_per_day=100 * 10**15)
    for i in range(trials):
        engine = make_engine(template.format(i=i), create=False)  # migrated by the test
        req = BetRequest(market=SimpleNamespace(name=f"{market}-{os.getpid()}"), epoch=5, position=Position.BULL,  # type: ignore[arg-type]
                         amount=60 * 10**15, lock_ts=1)
        wait_until(start + i * spacing)
        opened = hand_over(engine, req, f"0xA{i}", caps)
        print("duplicate" if not opened.created else "accepted" if opened.denied is None else "denied", flush=True)
        engine.dispose()


def bet_trials(plan_path: str, host: int) -> None:
    from bot.engine.executor import BetRequest
    from tests.engine.helpers import build_live

    with open(plan_path) as fh:
        plan = json.load(fh)
    for trial in plan["trials"]:
        db_url = trial["db_urls"][host]
        executor, market, _, _ = build_live(plan["url"], plan["market"], "v2", trial["key"], db_url)
        lock = AccountLock(db_url, 31337, executor.account, role="bet")
        lock.acquire()  # its own database, its own lock: two hosts share nothing but the chain
        market.params()
        executor.sender.warm()
        req = BetRequest(market=market, epoch=plan["epoch"], position=Position.parse(trial["sides"][host]),
                         amount=plan["amount"], lock_ts=plan["lock_ts"])
        wait_until(trial["start"])
        req.fired_at = time.perf_counter()
        print(executor.place(req).state.value, flush=True)
        lock.release()


mode = sys.argv[1]
if mode == "lock":
    lock_trials(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]),
                sys.argv[8])
elif mode == "intent":
    intent_trials(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
elif mode == "bet":
    bet_trials(sys.argv[2], int(sys.argv[3]))
