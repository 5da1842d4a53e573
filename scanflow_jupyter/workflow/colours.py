"""The colours of node states and run statuses, read from ``states.json``: the one source the DOT output, the
notebook's run tables and the labextension (``labextension/src/graph/dot.ts``) all read.

Example
-------
>>> STATE_COLOURS["succeeded"]
'#b6e3a8'
"""

from __future__ import annotations

import json
from pathlib import Path

_DATA = json.loads((Path(__file__).with_name("states.json")).read_text(encoding="utf-8"))

STATE_COLOURS: dict[str, str] = dict(_DATA["fill"])
"""Fill colours by node state (the engine's NodeState values)."""
BORDER_COLOURS: dict[str, str] = dict(_DATA["border"])
"""Border colours of a nested workflow by its rolled-up state; others are grey."""
STATUS_COLOURS: dict[str, str] = dict(_DATA["text"])
"""Text colours of a run's status and its steps' states in tables."""
DEFAULT_BORDER = "#999999"
