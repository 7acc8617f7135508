"""Settings from the environment for every command: the only reader of settings."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from processor.errors import ConfigurationError
from processor.settings import Settings


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with ``overrides``; one-line errors."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        # Only the message: pydantic's full text would echo the value, a secret maybe.
        first = exc.errors(include_url=False)[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if not first["loc"]:  # a combination of settings; the message names them
            raise ConfigurationError(message) from None
        name = "LINEAGE_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigurationError(f"{name}: {message}") from None
    settings.rule()  # validates the globs
    from processor.adapters.connections import check_tls_files

    check_tls_files(settings)
    return settings
