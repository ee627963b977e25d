"""`python -m photostyle.server.cli`: the same as the `photostyle` console script."""

import sys

from .entry import main

sys.exit(main())
