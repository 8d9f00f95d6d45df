"""``python -m carelake``: the command line, the same as the ``carelake`` command."""

import sys

from carelake.cli import main

if __name__ == "__main__":
    sys.exit(main())
