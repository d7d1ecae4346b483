"""Development kit: everything that exists to run, test and show the bot locally, and nothing the product needs.

- ``devkit.devnet``: anvil, contract deployment, the round keeper, the JSON-RPC fault proxy, a throwaway PostgreSQL.
- ``devkit.alloraservice``: a local Allora service speaking the real consumer-API and chain routes (the emulator).
- ``devkit.demo``: the end-to-end demo (``make run``); ``devkit.chaos``: the chaos runner (``make chaos``).
- ``devkit.devnet.supervisor`` / ``control``: the persistent devnet behind ``devnet up | down | status``.
- ``devkit.devnet.procs``: children stop with their parent (signal handlers, parent-death signal).
- ``devkit.cli``: the ``demo`` and ``devnet`` commands, added to the CLI by ``main.py``.

Rule: ``devkit`` may import ``bot``; ``bot`` never imports ``devkit`` (checked by tests/test_structure.py).
"""
