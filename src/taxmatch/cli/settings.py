"""Settings from the environment, read only at the edges (CLI, API) and injected below."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAXMATCH_", extra="ignore")

    store: Path = Path("taxmatch-data")
    database_url: str | None = None
    debug: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
