"""Runtime configuration: where the data lives and which PostgreSQL/NATS to use.

Precedence: explicit arguments (CLI flags, traitlets) > environment > defaults. A ``None``
database or NATS URL means "embedded": started on demand under the data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_DATABASE_URL = "DURAGRAPH_DATABASE_URL"
ENV_NATS_URL = "DURAGRAPH_NATS_URL"
ENV_DATA_DIR = "DURAGRAPH_DATA_DIR"
ENV_SUBJECT_PREFIX = "DURAGRAPH_SUBJECT_PREFIX"
ENV_STARTED_AT = "DURAGRAPH_STARTED_AT"  # set by the CLI for the extension's start-up figure
# The langgraph.json a server serves (set by `dev`/`serve` from ./langgraph.json or --config).
ENV_LANGGRAPH_CONFIG = "DURAGRAPH_LANGGRAPH_CONFIG"
DEFAULT_DATA_DIR = ".duragraph"
DEFAULT_SUBJECT_PREFIX = "duragraph"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str | None = None
    nats_url: str | None = None
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        nats_url: str | None = None,
        subject_prefix: str | None = None,
    ) -> Settings:
        raw_dir = data_dir or _env(ENV_DATA_DIR) or DEFAULT_DATA_DIR
        return cls(
            data_dir=Path(raw_dir).expanduser().absolute(),
            database_url=database_url or _env(ENV_DATABASE_URL),
            nats_url=nats_url or _env(ENV_NATS_URL),
            subject_prefix=subject_prefix or _env(ENV_SUBJECT_PREFIX) or DEFAULT_SUBJECT_PREFIX,
        )

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_nats(self) -> bool:
        return self.nats_url is None
