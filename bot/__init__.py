"""Allora prediction bot: Allora inferences -> bets on PancakeSwap-style prediction markets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("allora-prediction-bot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from bot.wire import restore_recursion_limit

restore_recursion_limit()  # eth-account's py_ecc raises it to 100000 at import: deep JSON would then crash the process
