"""MkDocs hook: after Markdown has run, puts each generated page's HTML fragments (rendered
and escaped by Jinja2, site/pages.py) in place of their placeholders, so Markdown never
parses the large tables and charts of a page."""

import json
import re
from pathlib import Path
from typing import Any

FRAGMENTS = ".fragments"  # under docs_dir; MkDocs skips dot-folders
PLACEHOLDER = re.compile(r"<!-- enginebench-fragment (\d+) -->")


def sidecar(docs: Path, src_uri: str) -> Path:
    return docs / FRAGMENTS / f"{src_uri}.json"


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    path = sidecar(Path(config["docs_dir"]), page.file.src_uri)
    if not path.is_file():
        return html
    fragments = json.loads(path.read_text())
    return PLACEHOLDER.sub(lambda m: fragments[int(m.group(1))], html)
