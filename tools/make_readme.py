"""Write README.md from nbs/index.ipynb with nbconvert's markdown exporter.

nbdev_readme would do this, but it needs Quarto, which cannot be installed here. Like nbdev, this leaves out
cells marked `#| hide`, the source of cells marked `#| echo: false`, and the `#|` directive lines of the cells it keeps. Outputs are kept as plain text,
which reads well on GitHub and in a terminal (a DataFrame's HTML would bring its <style> block along)."""
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter
from traitlets.config import Config

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
nb.cells = [c for c in nb.cells if not c.source.lstrip().startswith('#| hide')]
for c in nb.cells:
    if c.cell_type != 'code': continue
    if any(l.replace(' ', '') == '#|echo:false' for l in c.source.splitlines()):  # nbdev's way to show only the output
        c.metadata['tags'] = ['remove_input']
    c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|')).strip()
    for o in c.outputs:
        if 'text/plain' in o.get('data', {}): o.data = {'text/plain': o.data['text/plain']}
config = Config({'TagRemovePreprocessor': {'enabled': True, 'remove_input_tags': ['remove_input']},
                 'CoalesceStreamsPreprocessor': {'enabled': True}})  # lines printed one at a time (an epoch table) read as one block
body, _ = MarkdownExporter(config=config).from_notebook_node(nb)
(root/'README.md').write_text(body.strip() + '\n')
