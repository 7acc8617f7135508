"""The gateway's quick yes for the events that plainly fit the lineage profile.

Step 3 (``validate_event``) builds the pydantic models of ``core/models.py``
only to learn whether an event fits them: about a third of the gateway's CPU
for a batch event, and of no use after (the worker validates again). ``fits``
(``core/plain_event.py``, shared with the worker's classification, which reads
the same plain events without the models) says True only for a RunEvent that
``validate_event`` accepts; anything else is False, and the worker's
``validate_event`` then gives the verdict and its message, so a refusal reads
exactly as the worker's would.
"""

from __future__ import annotations

from processor.core.plain_event import fits

__all__ = ["fits"]
