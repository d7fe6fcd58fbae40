"""Build the docs site from `nbs/` into `_docs/`, from the outputs stored in the notebooks: `python tools/build_docs.py`.

`nbdev_docs` needs Quarto, which cannot be installed here, so this renders the same notebooks with Sphinx and myst-nb
(configuration: tools/docs/conf.py). Nothing is executed and nothing is downloaded. nbs/_quarto.yml and nbs/nbdev.yml
are left alone, so `nbdev_docs` still builds the Quarto site where Quarto is installed.

Why Sphinx with myst-nb rather than MkDocs with mkdocs-jupyter (both tried on these notebooks), judged by how well each
keeps nbdev's conventions:
- links between notebooks (`../library/03_loaders.ipynb`, `03_loaders.ipynb#some-heading`) are resolved by MyST to the
  built pages, and one that resolves to nothing (a missing notebook or heading) fails the build, naming the cell;
  mkdocs-jupyter hands notebooks to nbconvert, which leaves `href="03_loaders.ipynb"` as it is, a file the site lacks;
- nbdev's `#| hide`, `#| echo: false` and `#| output: false` map onto myst-nb's own cell handling (the cell dropped,
  tagged `remove-input`, tagged `remove-output`), and the `#|` lines are stripped, as nbdev does;
- `show_doc`-style markdown (the API page, and `show_doc` outputs in notebooks) is parsed as MyST, so its code blocks,
  tables and links render; HTML outputs (pandas and fastprogress tables) are kept as HTML; PNG plots become image files;
- the sidebar comes from glob toctrees, one captioned section per track (`SECTIONS`), so a new notebook takes its place
  in file-name order with no change here (MkDocs' `nav` lists every page by hand); each page is titled by its first `# `
  heading; the search index is built in; Furo's "view this page" button links each page to its notebook on GitHub;
- Sphinx and myst-nb are released regularly; MkDocs' last release is 1.6.1 (2024), and Material for MkDocs announces,
  at every build, its end of life on 5 May 2027.

The staged notebooks, Sphinx's caches and the half-built site live in `_proc/` (git-ignored; nbdev's own folder for
processed notebooks). The output folder is replaced only when the build succeeds. Warnings (a broken link, an unknown
lexer) fail the build, so CI catches them.
"""
import argparse, ast, importlib, inspect, re, shutil, sys, time
from pathlib import Path
import nbformat
from fastcore.docments import MarkdownRenderer, docments, empty
from nbdev.config import get_config
from nbdev.process import extract_directives, first_code_ln, nb_lang
from sphinx.cmd.build import build_main

cfg = get_config(path=Path(__file__).parent)
ROOT, CONF, WORK = cfg.config_path, Path(__file__).parent/'docs', cfg.config_path/'_proc'
# nbs/ folder -> sidebar caption, in reading order; a notebook elsewhere fails the build ("not included in any toctree")
SECTIONS = {'chapter': 'The chapter', 'library': 'Beyond the book'}
API_PAGE = 'api'


# ## Notebooks, as nbdev's docs show them

def _is_false(dirs, key): return dirs.get(f'{key}:', [''])[0].lower() == 'false'  # Quarto's options come as `key:`
_RULE = re.compile(r'\A\s*---[ \t]*\n')  # the rule that nbdev's show_doc markdown opens with


def nbdev_cell(cell):
    "`cell` as nbdev's docs show it, tagged for myst-nb; None for a cell they leave out"
    if cell.cell_type != 'code': return cell
    dirs = extract_directives(cell, remove=False)
    if 'hide' in dirs or 'default_exp' in dirs or _is_false(dirs, 'include'): return None
    lines = cell.source.splitlines(True)
    start = first_code_ln(lines)  # the first line that is not a directive (nor a cell magic, which nbdev also hides)
    cell.source = '' if start is None else ''.join(lines[start:])
    if not cell.source.strip() and not cell.outputs: return None
    tags = cell.metadata.setdefault('tags', [])
    if _is_false(dirs, 'echo'): tags.append('remove-input')
    if _is_false(dirs, 'output'): tags.append('remove-output')
    for out in cell.outputs:  # docutils allows a `---` rule only between sections, so show_doc's becomes HTML's
        data = out.get('data', {})
        if 'text/markdown' in data: data['text/markdown'] = _RULE.sub('<hr>\n\n', data['text/markdown'])
    return cell


def sidebar_cell():
    "Hidden toctrees for the index: Sphinx builds the sidebar from them, one section per track, in file-name order"
    tree = "```{{toctree}}\n:caption: {}\n:hidden:\n{}\n{}\n```"
    trees = [tree.format(caption, ':glob:\n', f'{folder}/*') for folder, caption in SECTIONS.items()]
    return nbformat.v4.new_markdown_cell('\n\n'.join(trees + [tree.format('Reference', '', API_PAGE)]))


def title_first(cells:list) -> list:
    "The title cell (`# Title`, `> summary`) moved above the imports, as nbdev makes it the page's header"
    i = next((i for i, c in enumerate(cells) if c.cell_type == 'markdown' and c.source.startswith('# ')), 0)
    return cells[i:i+1] + cells[:i] + cells[i+1:]


def stage_notebooks(src:Path, dest:Path):
    "Copy `src` (nbs/) to `dest`, each notebook cut as nbdev's docs cut it; the index gets the sidebar"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    for path in dest.rglob('*.ipynb'):
        nb = nbformat.read(path, as_version=4)
        nb.cells = title_first([c for c in map(nbdev_cell, nb.cells) if c is not None])
        # myst-nb highlights code by the notebook's language_info, which nbdev_clean drops; nbdev reads the kernelspec,
        # else takes Python (IPython's lexer, so that `%` and `!` lines highlight too)
        lang = nb_lang(nb)
        lexer = 'ipython3' if lang == 'python' else lang
        nb.metadata.setdefault('language_info', {'name': lang, 'pygments_lexer': lexer})
        if path == dest/'index.ipynb': nb.cells.append(sidebar_cell())
        nbformat.write(nb, path)


# ## The API page: every name in each module's `__all__`

def notebook(mod) -> str:
    "The notebook `mod` is exported from, as the header nbdev writes names it (`library/02_files.ipynb`); '' if none"
    found = re.search(rf'File to edit: \.\./{cfg.nbs_path.name}/(\S+\.ipynb)', inspect.getsource(mod))
    return found[1] if found else ''


def reading_order(mod):
    "Modules in the sidebar's order of their notebooks, the chapter's first"
    folder = notebook(mod).split('/')[0]
    return list(SECTIONS).index(folder) if folder in SECTIONS else len(SECTIONS), notebook(mod), mod.__name__


def modules():
    "The library's modules, found on disk, so that a new notebook's module is documented with no change here"
    mods = [importlib.import_module(f'{cfg.lib_name}.{p.stem}') for p in cfg.lib_path.glob('*.py')
            if not p.stem.startswith('_')]  # not `__init__` nor nbdev's `_modidx`
    return sorted(mods, key=reading_order)


def definitions(mod) -> dict:
    "The top-level statement that binds each name in `mod`'s own source; names it imports are not here"
    defs = {}
    for node in ast.parse(inspect.getsource(mod)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defs.update({n.id: node for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)})
    return defs


def _cell(s, code=True) -> str:
    "Text for a markdown table cell, on one line, with `|` escaped so it doesn't split the cell"
    s = ' '.join(str(s).split()).replace('|', r'\|')
    return f'`{s}`' if code and s else s

def _name(o, show=repr) -> str:
    "A class or function by its name (`FusedAdam`, not `<class ...>`), anything else by `show`"
    return o.__name__ if isinstance(o, type) or inspect.isfunction(o) else show(o)


def docments_table(obj) -> str:
    "Each parameter's type, default and comment, from fastcore's `docments`, as the table nbdev's `show_doc` shows"
    try: params = inspect.signature(obj).parameters
    except (TypeError, ValueError): return ''
    dm = docments(obj, full=True)
    stars = {inspect.Parameter.VAR_POSITIONAL: '*', inspect.Parameter.VAR_KEYWORD: '**'}
    def row(nm, d): return [nm, '' if d['anno'] is empty else _cell(_name(d['anno'], str)),
                            '' if d['default'] is empty else _cell(_name(d['default'])),
                            _cell(d['docment'] or '', code=False)]
    documented = [n for n in params if n != 'self' and n in dm]
    if not any(dm[n]['docment'] for n in documented): return ''  # as nbdev: no comments, no table (the signature says it)
    rows = [row(_cell(stars.get(params[n].kind, '') + n), dm[n]) for n in documented]
    ret = dm.get('return')
    if ret and (ret['anno'] is not empty or ret['docment']): rows.append(row('**Returns**', ret))
    return '\n'.join(['| Parameter | Type | Default | Details |', '| --- | --- | --- | --- |'] +
                     ['| ' + ' | '.join(r) + ' |' for r in rows])


def source_link(mod, line:int) -> str:
    return f'[source]({cfg.git_url}/blob/{cfg.branch}/{Path(mod.__file__).relative_to(ROOT).as_posix()}#L{line})'


def _heading(mod, name:str, line:int, level:int) -> str:
    "A heading with a stable anchor (`collab-nbdev-files-load-ratings`), and a link to the source"
    return f'({mod.__name__}.{name})=\n{"#"*level} {name}\n\n{source_link(mod, line)}'


def symbol_doc(mod, name:str, obj, line:int, level=3) -> str:
    "A function's or class's entry: show_doc's signature and docstring, then the docments table"
    md = MarkdownRenderer(obj)._repr_markdown_()  # what nbdev's show_doc renders, under its heading and source link
    if inspect.isclass(obj): md = md.replace('def ', 'class ', 1)  # fastcore writes `def` for a class's signature too
    return '\n\n'.join(p for p in [_heading(mod, name, line, level), md, docments_table(obj)] if p)


def constant_doc(mod, name:str, node) -> str:
    "A constant's entry: its definition as the source has it, the comment that says what it holds included"
    src = inspect.getsource(mod).splitlines()[node.lineno-1:node.end_lineno]
    return _heading(mod, name, node.lineno, 3) + '\n\n```python\n' + '\n'.join(src) + '\n```'


def methods(mod, cls):
    "Public methods that `mod` gives `cls` with a docstring, in the class body or with `@patch`"
    for name, attr in vars(cls).items():
        fn = inspect.unwrap(getattr(attr, 'fget', None) or getattr(attr, '__func__', attr))
        # An override with no docstring of its own (`forward`, `step`) keeps the meaning its parent class documents
        if not name.startswith('_') and inspect.isfunction(fn) and fn.__module__ == mod.__name__ and fn.__doc__:
            yield name, getattr(cls, name), inspect.getsourcelines(fn)[1]


def _origin(o) -> str:
    "Where a re-exported name comes from: `numpy`, `fastai.learner.Learner`, ..."
    if inspect.ismodule(o): return f'`{o.__name__}`'
    mod, qual = getattr(o, '__module__', None), getattr(o, '__qualname__', None)
    return f'`{mod}.{qual}`' if mod and qual else f'a `{type(o).__name__}`'


def module_doc(mod) -> str:
    "A module's section: its docstring, its notebook, an entry per name it defines, and the names it re-exports"
    defs, nb = definitions(mod), notebook(mod)
    parts = [f'## {mod.__name__}', (mod.__doc__ or '').strip(), f'From the notebook [{nb}]({nb}).' if nb else '']
    for name in (n for n in mod.__all__ if n in defs):
        obj, node = getattr(mod, name), defs[name]
        if not callable(obj): parts.append(constant_doc(mod, name, node)); continue
        parts.append(symbol_doc(mod, name, obj, node.lineno))
        if inspect.isclass(obj):
            parts += [symbol_doc(mod, f'{name}.{m}', meth, line, level=4) for m, meth, line in methods(mod, obj)]
    reexports = [n for n in mod.__all__ if n not in defs]
    if reexports:
        parts.append(f'Re-exported, so that the other modules import them from `{mod.__name__}`:\n\n' +
                     '\n'.join(f'- `{n}`: {_origin(getattr(mod, n))}' for n in reexports))
    return '\n\n'.join(p for p in parts if p)


def api_page() -> str:
    intro = ('Every name in each module\'s `__all__`: its signature, docstring and parameters, as nbdev\'s `show_doc` '
             'shows them. Each notebook page shows the same code beside its explanation and tests.')
    return '\n\n'.join(['# API reference', intro] + [module_doc(m) for m in modules()]) + '\n'


# ## The build

def build(out:Path) -> int:
    "Stage the notebooks and the API page in `_proc/`, run Sphinx there, and move the site to `out` if it succeeded"
    start = time.perf_counter()
    shutil.rmtree(WORK, ignore_errors=True)
    src, html = WORK/'nbs', WORK/'html'  # myst-nb writes image outputs beside the html folder, so it goes in _proc too
    stage_notebooks(cfg.nbs_path, src)
    (src/f'{API_PAGE}.md').write_text(api_page())
    rc = build_main(['-b', 'html', '-q', '-W', '-c', str(CONF), '-d', str(WORK/'doctrees'), str(src), str(html)])
    if rc: return rc
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(html, out)
    pages = sum(1 for _ in out.rglob('*.html'))
    print(f'Built {pages} pages in {time.perf_counter()-start:.1f} s: open {out/"index.html"}')
    return 0


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, default=cfg.doc_path, help='the site folder (default: %(default)s)')
    sys.exit(build(parser.parse_args().out.resolve()))
