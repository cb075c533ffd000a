"""``python -m wgflow.studies`` is the ``wgflow`` command line."""

import sys

from .cli import main

sys.exit(main())
