"""The dashboard is self-contained: every script, style sheet and link in index.html is a local file of
bot/api/static (no CDN, no build step), and no file reaches for another host."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "bot" / "api" / "static"


def test_every_reference_is_local_and_exists():
    html = (STATIC / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"app.js", "charts.js", "style.css"} <= set(refs)
    for ref in refs:
        if ref.startswith("data:"):
            continue
        assert "://" not in ref and not ref.startswith("//"), ref
        target = ref.split("?")[0]
        assert target.startswith(("api/", "metrics")) or (STATIC / target).is_file(), ref


def test_no_file_loads_anything_from_another_host():
    for file in STATIC.iterdir():
        text = file.read_text()
        urls = [u for u in re.findall(r"[a-z]+://[^\s\"'`)]+", text) if u != "http://www.w3.org/2000/svg"]
        assert not urls, (file.name, urls)
        assert "innerHTML" not in text, file.name  # API text is put in the page as text, never parsed as HTML
