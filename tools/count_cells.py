"""Count the code cells a reader of the chapter notebooks sees, beside the book's code cells for the same section.

  python tools/count_cells.py            print the table
  python tools/count_cells.py --check    also exit 1 when a limit below is passed

A cell counts when a reader sees its code: not one marked `#| hide` (or `#| include: false`), and not one that holds only
`#|` directives (such as `#| default_exp models`). An `#| export` cell counts: its code is on the page.
The limits: no notebook over twice the book's count for its section, or over 10 where the book has no code; 01-06 together
at most 1.5 times the book's 48; at most 8 `#| export` cells in the whole chapter track."""
import argparse, math, sys
from fractions import Fraction
from pathlib import Path
import nbformat

CHAPTER = Path(__file__).resolve().parent.parent/'nbs'/'chapter'
# The book's code cells in each section of chapter 8 (fastbook's 08_collab.ipynb), by the notebook that follows it
BOOK = {'01_data': 7, '02_latent_factors': 8, '03_from_scratch': 22, '04_fastai_collab': 5, '05_bootstrapping': 0, '06_deep': 6}

def directives(src:str) -> list:
    "The cell's `#|` directive lines, without spaces: '#|hide', '#|export', ..."
    return [l.replace(' ', '') for l in src.splitlines() if l.startswith('#|')]

def visible(cell) -> bool:
    "Whether a reader sees the code of `cell`"
    if cell.cell_type != 'code': return False
    d = directives(cell.source)
    if '#|hide' in d or '#|include:false' in d: return False
    return any(l.strip() and not l.startswith('#|') for l in cell.source.splitlines())

def exported(cell) -> bool: return cell.cell_type == 'code' and any(d.startswith('#|export') for d in directives(cell.source))

def ratio(a:int, b:int) -> str: return str(math.floor(Fraction(a, b) * 10 + Fraction(1, 2)) / 10)  # half up: 26/8 is 3.3

def counts(path:Path) -> tuple:
    "Visible code cells and `#| export` cells of the notebook at `path`"
    cells = nbformat.read(path, as_version=4).cells
    return sum(map(visible, cells)), sum(map(exported, cells))

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--check', action='store_true', help='exit 1 when a limit is passed')
    args = p.parse_args()
    rows, problems, total_seen, total_book = [], [], 0, 0
    for name, book in BOOK.items():
        seen, _ = counts(CHAPTER/f'{name}.ipynb')
        total_seen, total_book = total_seen + seen, total_book + book
        limit = 2 * book if book else 10
        if seen > limit: problems.append(f"{name}: {seen} visible code cells, over {limit}")
        rows.append((name, seen, book, ratio(seen, book) if book else '-'))
    rows.append(('01-06', total_seen, total_book, ratio(total_seen, total_book)))
    if total_seen > 1.5 * total_book: problems.append(f"01-06: {total_seen} visible code cells, over {1.5 * total_book:.0f}")
    n_export = sum(counts(nb)[1] for nb in sorted(CHAPTER.glob('*.ipynb')))
    if n_export > 8: problems.append(f"chapter track: {n_export} export cells, over 8")
    print('| notebook | visible code cells | the book\'s section | ratio |\n|---|---|---|---|')
    for r in rows: print('| ' + ' | '.join(map(str, r)) + ' |')
    print(f"\n#| export cells in the chapter track: {n_export}")
    for line in problems: print(f"over a limit: {line}", file=sys.stderr)
    if args.check and problems: sys.exit(1)

if __name__ == '__main__': main()
