"""A comment as a reviewer sees it on GitHub: Markdown → HTML (GitHub's cmark-gfm) → Mermaid drawn → a PNG screenshot.

    python benchmarks/render_comment.py [COMMENT.md] OUT.png

COMMENT.md defaults to tests/golden/pass_and_fake.md; `int8gate demo --markdown demo.md` gives a real one.
The HTML is what github.com renders before its sanitiser (``cmarkgfm``, raw HTML kept, GitHub's extensions);
each ```` ```mermaid ```` block (``<pre lang="mermaid">``) is drawn by the ``mermaid`` package from npm in
headless Chromium (Debian's ``chromium``), offline from ``file://``. The first run installs mermaid with
``npm install`` into ~/.cache/int8gate-mermaid (or $INT8GATE_MERMAID_DIR). Needs: chromium, npm, cmarkgfm.
The page's title turns to "rendered" once Mermaid has drawn every chart, or "error ..." if it failed; the
script checks it in Chromium's DOM dump before it takes the screenshot, and exits 1 on an error.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cmarkgfm  # type: ignore[import-untyped,unused-ignore]
from cmarkgfm.cmark import Options  # type: ignore[import-untyped,unused-ignore]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_COMMENT = REPO / "tests" / "golden" / "pass_and_fake.md"
MERMAID_VERSION = "11"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--virtual-time-budget=10000",
)  # fmt: skip
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>pending</title>
<style>body{{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;font-size:14px;max-width:860px;
margin:16px;color:#1f2328}} table{{border-collapse:collapse}} td,th{{border:1px solid #d0d7de;padding:6px 13px}}
code{{background:#eff1f3;padding:.2em .4em;border-radius:6px;font-size:85%}}</style>
<script src="mermaid.min.js"></script></head><body>{body}
<script>mermaid.initialize({{startOnLoad:false, securityLevel:"strict"}});
mermaid.run({{querySelector:".mermaid"}}).then(() => document.title = "rendered")
  .catch(e => document.title = "error " + e);</script></body></html>"""


def mermaid_js() -> Path:
    """The browser bundle of mermaid, installed from npm on first use."""
    folder = Path(os.environ.get("INT8GATE_MERMAID_DIR") or Path.home() / ".cache" / "int8gate-mermaid")
    bundle = folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if not bundle.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund",
                        f"mermaid@{MERMAID_VERSION}"], check=True)  # fmt: skip
    return bundle


def to_html(markdown: str) -> tuple[str, int]:
    """GitHub's HTML for ``markdown`` with each mermaid block turned into a ``<pre class="mermaid">`` to draw."""
    body = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return re.subn(r'<pre lang="mermaid"><code>(.*?)</code></pre>', r'<pre class="mermaid">\1</pre>', body, flags=re.S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", metavar="[COMMENT.md] OUT.png", help="the comment (optional) and the PNG")
    parser.add_argument("--height", type=int, default=2400, help="the page's height in pixels (default: 2400)")
    args = parser.parse_args()
    if len(args.paths) > 2:
        parser.error("give at most a comment and an output file")
    comment = Path(args.paths[0]) if len(args.paths) == 2 else DEFAULT_COMMENT
    out = Path(args.paths[-1])
    body, charts = to_html(comment.read_text(encoding="utf-8"))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    with tempfile.TemporaryDirectory(prefix="int8gate-shot-") as tmp:
        folder = Path(tmp)
        shutil.copy(mermaid_js(), folder / "mermaid.min.js")
        page = folder / "comment.html"
        page.write_text(PAGE.format(body=body), encoding="utf-8")
        flags = [chromium, *CHROMIUM_FLAGS, f"--window-size=900,{args.height}", f"--user-data-dir={folder / 'profile'}"]
        dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                             check=False).stdout  # fmt: skip
        found = re.search(r"<title>(.*?)</title>", dom)
        title = found.group(1) if found else "no title"
        drawn = dom.count('aria-roledescription="xychart"')
        subprocess.run([*flags, f"--screenshot={out.resolve()}", page.as_uri()], capture_output=True, timeout=120,
                       check=True)  # fmt: skip
    print(f"{comment.name}: mermaid blocks {charts}, xycharts drawn {drawn}, page title {title!r}; "
          f"{out} ({out.stat().st_size:,} bytes)")
    return 0 if title == "rendered" and drawn == charts else 1


if __name__ == "__main__":
    sys.exit(main())
