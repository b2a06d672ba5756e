"""`python -m api`: serve the read API with uvicorn on API_HOST:API_PORT (loopback by default)."""

from __future__ import annotations

import uvicorn

from lakehouse.config import load_settings


def main() -> None:
    settings = load_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        proxy_headers=False,
        server_header=False,
        access_log=True,
    )


if __name__ == "__main__":
    main()
