"""Reconciliation: event scanning, round outcomes, exact settlement (live and paper), claim sweeps, reconciled PnL."""

from bot.reconcile.claims import ClaimReport, ClaimSweeper
from bot.reconcile.pnl import AccountPnl, StakeFlows
from bot.reconcile.reconciler import Reconciler, ReconcileReport, ReconcileSettings
from bot.reconcile.scanner import ChunkPolicy, LogScanner, MarketEventScanner

__all__ = [
    "AccountPnl",
    "ChunkPolicy",
    "ClaimReport",
    "ClaimSweeper",
    "LogScanner",
    "MarketEventScanner",
    "ReconcileReport",
    "ReconcileSettings",
    "Reconciler",
    "StakeFlows",
]
