"""The service stack: docker compose where a Docker engine answers, host processes elsewhere."""
