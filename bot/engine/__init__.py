"""The engine: decision loop, risk limits, executors (live and paper), scheduler jobs."""
