"""The events collector (ASGI, served by uvicorn): see app.py for endpoints and answers."""

from ingestion.events.collector.app import create_app
from ingestion.events.collector.config import CollectorConfig
from ingestion.events.collector.server import running_collector, serve

__all__ = ["CollectorConfig", "create_app", "running_collector", "serve"]
