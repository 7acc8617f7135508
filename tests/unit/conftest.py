"""Make ``tests.events`` importable however pytest is started.

pytest's default (prepend) import mode puts only this directory on ``sys.path``;
the shared event helpers live in ``tests/events.py`` at the repository root.
No fixtures here: these tests need none.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
