"""Markdown and CSV tables: the one writer of launch.report and the benchmarks.

A table is a header (column names) and rows (sequences of cells). A cell that
is a string is written as it is; None is a gap (blank, never 0); other values
go through `format_cell` in Markdown and `str` in CSV.
"""

import csv
import json
import os
from typing import Any, Callable, Dict, Optional, Sequence

# Markdown column alignments (the separator row's cells).
LEFT, RIGHT = '---', '---:'


def format_cell(value, digits: int = 4) -> str:
  """'' for None (a gap, never 0), ints with thousands separators."""
  if value is None:
    return ''
  if isinstance(value, int) and not isinstance(value, bool):
    return f'{value:,}'
  return f'{value:.{digits}g}'


def markdown_table(header: Sequence[str], rows: Sequence[Sequence],
                   align: Optional[Sequence[str]] = None) -> str:
  """The table in Markdown, without a final newline.

  Args:
    header: the column names.
    rows: the cells, one sequence per row, len(header) each.
    align: LEFT or RIGHT per column (default: every column LEFT).
  """
  align = align or [LEFT] * len(header)
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join(align) + '|']
  for row in rows:
    lines.append('| ' + ' | '.join(
        c if isinstance(c, str) else format_cell(c) for c in row) + ' |')
  return '\n'.join(lines)


def write_csv(path: str, header: Sequence[str], rows: Sequence[Sequence]
              ) -> None:
  """Writes the table as CSV (None as an empty cell)."""
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)


def write_table(path_prefix: str, header: Sequence[str],
                rows: Sequence[Sequence]) -> str:
  """Writes <prefix>.md and <prefix>.csv; returns the Markdown."""
  md = markdown_table(header, rows)
  with open(path_prefix + '.md', 'w') as f:
    f.write(md + '\n')
  write_csv(path_prefix + '.csv', header, rows)
  return md


def write_result(output_dir: str, stem: str, result: Dict[str, Any],
                 markdown: str,
                 plot: Optional[Callable[[str], None]] = None
                 ) -> Dict[str, str]:
  """Writes a benchmark's <stem>.md (`markdown`), .csv (result['rows'], the
  first row's keys as columns), .json (all of `result`) and, with `plot`,
  .png (`plot(path)`); returns their paths by extension."""
  os.makedirs(output_dir, exist_ok=True)
  exts = ('md', 'csv', 'json') + (('png',) if plot else ())
  paths = {ext: os.path.join(output_dir, f'{stem}.{ext}') for ext in exts}
  with open(paths['md'], 'w') as f:
    f.write(markdown)
  rows = result['rows']
  header = list(rows[0])
  write_csv(paths['csv'], header, [[r.get(k) for k in header] for r in rows])
  with open(paths['json'], 'w') as f:
    json.dump(result, f, indent=2, default=str)
  if plot:
    plot(paths['png'])
  return paths
