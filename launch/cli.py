"""How every program of this repository starts.

absl flags (as t5x's own entry points): each program defines its flags in a
`define_flags()` and starts with `cli.run(main, program, define_flags)`. One
wrapper: bad input, a missing package or a failed run ends the program with
one line that names the fix, not a traceback.
"""

import contextlib
import sys
from typing import Callable, Optional, Sequence

from absl import app

ERRORS = (ImportError, ValueError, RuntimeError)


@contextlib.contextmanager
def _one_line_errors(program: str):
  """Ends the program with `<program>: <message>` on one of ERRORS."""
  try:
    yield
  except ERRORS as e:
    sys.exit(f'{program}: {e}')


def run(main: Callable[..., Optional[int]], program: str,
        define_flags: Optional[Callable[[], None]] = None,
        argv: Optional[Sequence[str]] = None,
        gin_overrides: bool = False) -> None:
  """Defines the flags, then runs `main` under absl as `program`.

  Args:
    main: `main(argv)`, or `main(argv, overrides)` with `gin_overrides`; its
      return value is the exit status (None: 0).
    program: the name error messages start with, e.g. 'launch.local'.
    define_flags: defines the program's absl flags.
    argv: the command line (default: sys.argv).
    gin_overrides: split `--gin.NAME=VALUE` arguments off the command line
      before absl parses it, and pass them to `main` as (('NAME', 'VALUE'),
      ...) (see compose.split_gin_overrides).
  """
  if define_flags:
    define_flags()
  argv = list(sys.argv if argv is None else argv)
  extra = ()
  if gin_overrides:
    from launch import compose  # pylint: disable=g-import-not-at-top
    with _one_line_errors(program):
      argv, overrides = compose.split_gin_overrides(argv)
    extra = (overrides,)

  def checked(args):
    with _one_line_errors(program):
      return main(args, *extra)
  app.run(checked, argv=argv)
