"""Entry point: ``python main.py --help``."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
