"""``python -m statuspage`` is the ``statuspage`` command."""

import sys

from statuspage.cli import main

sys.exit(main())
