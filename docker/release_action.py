"""Write the release action.yml: the same inputs and outputs, the image pulled by digest instead of built.

Usage: python docker/release_action.py IMAGE@sha256:DIGEST [ACTION_YML]

The release workflow runs this after it has pushed the image for every platform and merged them
into one index, so the digest names exactly what was built and tested; it then commits the file
on a release commit and tags that. A digest, unlike a tag, cannot be moved to other content.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

IMAGE = re.compile(r"(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9._/-]+@sha256:[0-9a-f]{64}")
RUNS = "runs:\n  using: docker\n  image: Dockerfile\n"


def release_text(source: str, image: str) -> str:
    """``source`` (the repository's action.yml) with ``runs.image`` set to ``docker://IMAGE``."""
    if not IMAGE.fullmatch(image):
        raise ValueError(f"{image!r} is not an image reference pinned by digest (NAME@sha256:<64 hex>)")
    if not source.endswith(RUNS):
        raise ValueError("action.yml does not end with the runs block this script expects (image: Dockerfile)")
    return source[: -len(RUNS)] + f"runs:\n  using: docker\n  image: docker://{image}\n"


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1] if len(argv) == 2 else "action.yml")
    try:
        path.write_text(release_text(path.read_text(encoding="utf-8"), argv[0]), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"release_action: error: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: runs.image = docker://{argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
