"""``comment``: post a saved comment (``--markdown``) or a fork run's artifact (``--report``) as the sticky comment.

Its settings are its own: the arguments, then ``GITHUB_TOKEN`` and the runner's ``GITHUB_*``
(``github.comment.CommentSettings.for_command``), so a plain ``run:`` step works.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from int8gate.github.comment import CommentSettings, default_client, post_from_artifact, post_saved, read_event
from int8gate.github.publish import add_mask
from int8gate.judge.verdict import Verdict


def run_comment(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    """Post and log each step's outcome; publishing problems are logged, the exit code stays 0."""
    settings = CommentSettings.for_command(env, scope=args.scope, mode=args.mode, fork_folder=args.fork_artifact_folder)
    if settings.token:
        print(add_mask(settings.token), file=out, flush=True)
    event = read_event(settings)
    if args.report:
        return post_from_artifact(settings, event, default_client, out=out, err=err, path=Path(args.report))
    verdict = Verdict(args.verdict)
    return post_saved(settings, event, Path(args.markdown), verdict, client_factory=default_client, out=out, err=err)
