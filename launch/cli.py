"""How every program under launch/ and benchmarks/ starts.

absl flags (as t5x's own entry points), and one wrapper: bad input, a missing
package or a failed run ends the program with one line that names the fix,
not a traceback.
"""

import sys
from typing import Callable, Optional, Sequence

from absl import app

ERRORS = (ImportError, ValueError, RuntimeError)


def run(main: Callable[[Sequence[str]], None], program: str,
        define_flags: Optional[Callable[[], None]] = None,
        argv: Optional[Sequence[str]] = None) -> None:
  """Defines the flags, then runs `main` under absl as `program`."""
  if define_flags:
    define_flags()

  def checked(args):
    try:
      main(args)
    except ERRORS as e:
      sys.exit(f'{program}: {e}')
  app.run(checked, argv=argv)
