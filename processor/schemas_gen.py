"""Generates ``schemas/*.schema.json`` from the pydantic models (``make schemas``).

``--check`` compares instead of writing and exits 1 when a file is stale, so
the published schemas cannot drift from the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from processor.core.control import DeleteMessage
from processor.core.dlq_headers import DlqHeaders
from processor.core.models import LineageProfile
from processor.core.snapshot import Snapshot

SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "lineage-profile.schema.json": (LineageProfile, "validation"),
    "dlq-headers.schema.json": (DlqHeaders, "serialization"),
    "snapshot.schema.json": (Snapshot, "serialization"),
    "control-delete.schema.json": (DeleteMessage, "validation"),
}


def render(model: type[BaseModel], mode: str) -> str:
    schema: dict[str, Any] = model.model_json_schema(mode=mode, by_alias=True)  # type: ignore[arg-type]
    if model is LineageProfile:
        # The message is the event itself, not a wrapper object.
        defs = schema.pop("$defs")
        schema = {
            "title": schema["title"],
            "description": (LineageProfile.__doc__ or "").split("\n")[0],
            "anyOf": schema["properties"]["event"]["anyOf"],
            "$defs": defs,
        }
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, (model, mode) in SCHEMAS.items():
        path = args.directory / name
        text = render(model, mode)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            args.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(
            f"stale schemas: {', '.join(stale)}; run `make schemas` and commit them",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
