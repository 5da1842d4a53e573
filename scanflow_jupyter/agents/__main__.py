"""``python -m scanflow_jupyter.agents``: see :mod:`scanflow_jupyter.agents.service`."""

from __future__ import annotations

import sys

from .service import main

sys.exit(main())
