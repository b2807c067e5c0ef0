"""``python -m flows.cli ...`` is the ``touchpoint`` command."""

import sys

from flows.cli.main import main

sys.exit(main())
