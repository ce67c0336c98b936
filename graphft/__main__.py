"""``python -m graphft`` runs the ``graphft`` command."""

import sys

from graphft.cli import main

sys.exit(main())
