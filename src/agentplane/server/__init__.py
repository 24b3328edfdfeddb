"""The experience layer's server: REST + SSE API, console and metrics over one control plane."""

from .app import create_app
from .plane import Plane

__all__ = ["Plane", "create_app"]
