"""The README's per-model capability table is the catalog's, and the settings the reference
names are real."""

from __future__ import annotations

import re
from pathlib import Path

from openkling.config import Settings
from openkling.domain.catalog import capability_table, default_catalog

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference.md"


def test_capability_table_matches_the_catalog():
    text = README.read_text()
    found = re.search(r"<!-- capabilities:start -->\n(.*?)\n<!-- capabilities:end -->", text, re.S)
    assert found, "README lacks the capability table markers"
    assert found.group(1).strip() == capability_table(default_catalog())


def test_kling3_settings_in_the_reference_exist():
    text = REFERENCE.read_text()
    for name in ("watermark_text", "watermark_image", "watermark_corner"):
        assert f"`OPENKLING_{name.upper()}`" in text
        assert name in Settings.model_fields
