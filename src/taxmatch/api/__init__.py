"""taxmatch's HTTP API for requesting agencies (FastAPI). The only package that imports
FastAPI; it calls the same pipeline functions as the CLI."""

from taxmatch.api.app import create_app
from taxmatch.api.settings import ApiSettings


def serve_app(settings: ApiSettings, *, host: str, port: int) -> None:
    """Run the app under uvicorn until interrupted (``taxmatch serve``)."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)


__all__ = ["ApiSettings", "create_app", "serve_app"]
