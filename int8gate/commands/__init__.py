"""Every command composed in one place: each module builds the real collaborators for its commands.

``check`` (check, demo, and the gate the Action runs), ``models`` (inspect, bench), ``env``,
``schema``, ``fleet`` (merge), ``comment`` (comment). ``cli`` parses the arguments, imports only the
module of the command it runs (so ``schema`` and ``--help`` start fast) and maps errors to exit codes.
"""
