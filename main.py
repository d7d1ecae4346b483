"""Entry point: ``python main.py --help`` (run it with the project's venv: ``.venv/bin/python main.py``)."""

import sys

try:
    from devkit.cli import main  # the product's CLI (bot.cli) with the devkit's demo commands
except ModuleNotFoundError as exc:  # run with a Python that lacks the dependencies (not the project's venv)
    missing = exc.name or "a dependency"
    sys.stderr.write(
        f"error: this Python ({sys.executable}) lacks {missing!r}: set up with 'make setup' and run "
        f"'.venv/bin/python main.py ...' (or activate .venv first)\n"
    )
    sys.exit(4)

if __name__ == "__main__":
    sys.exit(main())
