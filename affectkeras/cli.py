"""The `affectkeras` command.

Subcommands are thin wrappers over the library; each registers itself in `build_parser`.
Errors the user can fix (a wrong argument, a missing or malformed file) print one line and
exit with code 2 instead of a traceback.
"""

import argparse
import os
import sys

from affectkeras._version import __version__
from affectkeras.errors import AffectKerasError


def build_parser():
    """Returns the argument parser of the `affectkeras` command."""
    parser = argparse.ArgumentParser(
        prog="affectkeras",
        description="Audio-visual multi-task affect recognition in the wild (Keras 3).",
    )
    parser.add_argument("--version", action="version", version=f"affectkeras {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from affectkeras.data import preprocess  # light: TensorFlow loads only when a job runs

    preprocess.register(subparsers)
    return parser


def main(argv=None):
    """Runs the command line `argv` (default: `sys.argv[1:]`) and returns the exit code."""
    # TensorFlow's C++ start-up chatter would bury the command's own one-line messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args) or 0
    except (AffectKerasError, FileNotFoundError) as error:
        print(f"affectkeras {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
