"""``python -m stamping ...`` runs the CLI."""

import sys

from stamping.cli import main

sys.exit(main())
