"""``python -m processor`` is the ``lineage-processor`` command."""

from processor.cli import main

raise SystemExit(main())
