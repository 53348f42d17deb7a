"""The studio: a web page to make videos, shipped as static files inside the package."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
