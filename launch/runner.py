"""Runs a composed T5X command as a subprocess with visible progress."""

import contextlib
import os
import re
import socket
import subprocess
import sys
from typing import Optional

from launch import compose
from launch import preflight

# T5X's metric lines: "[<step>] collection=<name> key=value, ..."
_REPORT = re.compile(r'\[(\d+)\] collection=(\S+) (.*)')
_SHOWN = ('loss', 'cross_ent_loss_per_all_target_tokens', 'accuracy',
          'timing/steps_per_second', 'sequence_accuracy')


def progress_line(line: str) -> Optional[str]:
  """A short progress line for a T5X metrics report, else None."""
  match = _REPORT.search(line)
  if not match:
    return None
  step, collection, rest = match.groups()
  values = dict(kv.split('=', 1) for kv in rest.split(', ') if '=' in kv)
  shown = ', '.join(f'{k}={float(values[k]):.4g}' for k in _SHOWN
                    if k in values and _is_number(values[k]))
  return f'  step {step:>6} {collection}: {shown}' if shown else None


def _is_number(text: str) -> bool:
  try:
    float(text)
    return True
  except ValueError:
    return False


LOCK_FILE = 'RUNNING'  # '<host> <pid>' of the process training a model dir


class Busy(RuntimeError):
  """Another live process on this host is running the same model dir."""


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


@contextlib.contextmanager
def model_dir_lock(model_dir: str):
  """Holds <model_dir>/RUNNING while a job runs there.

  Two T5X processes writing one model dir corrupt each other's checkpoints
  (e.g. two sweeps started on one root). A lock left by a killed process
  (its pid is gone) is taken over; one held on another host is trusted.

  Raises:
    Busy: a live process holds the lock.
  """
  os.makedirs(model_dir, exist_ok=True)
  path = os.path.join(model_dir, LOCK_FILE)
  me = f'{socket.gethostname()} {os.getpid()}'
  for _ in range(2):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
      with open(path) as f:
        host, _, pid = f.read().strip().partition(' ')
      if host == socket.gethostname() and pid.isdigit() and not _alive(
          int(pid)):
        os.remove(path)  # stale: its process was killed
        continue
      raise Busy(f'{model_dir} is being trained by process {pid} on {host} '
                 f'({path}); wait for it, or stop it and delete {path}.')
    with os.fdopen(fd, 'w') as f:
      f.write(me + '\n')
    break
  try:
    yield
  finally:
    os.remove(path)


def run(exp: compose.Experiment, log_path: Optional[str] = None,
        echo=print) -> None:
  """Runs T5X for `exp`, echoing progress; raises RuntimeError on failure
  (Busy if another live process is running the same model dir), ImportError
  naming the install command without t5x, and ValueError naming the fix for
  a model dir, checkpoint or task data that cannot work (launch.preflight),
  both before anything is written."""
  from altup_flaxformer import deps  # pylint: disable=g-import-not-at-top
  deps.require('t5x')
  deps.require('flaxformer')
  preflight.check(exp)
  exp = preflight.resume_as_started(exp, echo)
  with model_dir_lock(exp.model_dir):
    preflight.record(exp)
    _run(exp, log_path, echo)


def _run(exp: compose.Experiment, log_path: Optional[str], echo) -> None:
  cmd = compose.t5x_command(exp, python=sys.executable)
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (compose.REPO, env.get('PYTHONPATH')) if p)
  env.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  log_path = log_path or os.path.join(exp.model_dir, f't5x_{exp.run}.log')
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  echo(f'[{exp.variant} K={exp.altup_k} {exp.run}] log: {log_path}')
  with open(log_path, 'a') as log, subprocess.Popen(
      cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True, cwd=compose.REPO) as proc:
    tail = []
    for line in proc.stdout:
      log.write(line)
      tail = (tail + [line])[-40:]
      shown = progress_line(line)
      if shown:
        echo(shown)
  if proc.returncode:
    raise RuntimeError(
        f't5x.{compose.RUNS[exp.run][0]} failed (exit {proc.returncode}); '
        f'full log: {log_path}\n' + ''.join(tail))
