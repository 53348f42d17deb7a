"""openkling: a self-hosted text-to-video service that speaks the Kling video API."""

__version__ = "0.1.0"
