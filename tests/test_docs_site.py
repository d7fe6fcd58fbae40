"""The docs site, built by `python tools/build_docs.py` and checked in a real browser: headless Chromium (Debian's
`chromium` package), driven by Playwright's Python package with `executable_path`, so Playwright downloads no browser
of its own. The site is served over HTTP on 127.0.0.1, because file:// URLs hide some errors (a failed fetch, a wrong
MIME type). Skipped, saying why, where Chromium or Playwright is not installed; CI installs both."""
import ast, functools, http.server, importlib.util, re, subprocess, sys, threading, time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse
import pytest

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*\w')  # an nbdev directive line, as `#| export` or `#| hide`


def load_build_docs():
    "tools/build_docs.py, as a module (tools/ is not a package)"
    spec = importlib.util.spec_from_file_location('build_docs', ROOT/'tools'/'build_docs.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cells_as_nbdev_shows_them():
    "What the build makes of nbdev's directives, checked without a browser"
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
    nbdev_cell, out = load_build_docs().nbdev_cell, [new_output('stream', text='1')]
    for src in ['#| hide\nx = 1', '#|hide\nx = 1', '#| default_exp files', '#| include: false\nx = 1']:
        assert nbdev_cell(new_code_cell(src, outputs=out)) is None, src
    shown = nbdev_cell(new_code_cell('#| export\ndef f(): pass'))
    assert (shown.source, shown.metadata.tags) == ('def f(): pass', [])
    shown = nbdev_cell(new_code_cell('#| echo: false\nprint(1)', outputs=out))
    assert (shown.source, shown.metadata.tags) == ('print(1)', ['remove-input'])
    shown = nbdev_cell(new_code_cell('#| export\n#| output: false\nx = 1', outputs=out))
    assert (shown.source, shown.metadata.tags) == ('x = 1', ['remove-output'])
    assert nbdev_cell(new_markdown_cell('#| not a directive here')).source == '#| not a directive here'
    doc = new_output('display_data', data={'text/markdown': '---\n\n### f\n\n---\n'})
    shown = nbdev_cell(new_code_cell('show_doc(f)', outputs=[doc]))  # show_doc's opening rule, which docutils refuses
    assert shown.outputs[0].data['text/markdown'] == '<hr>\n\n\n### f\n\n---\n'


@pytest.fixture(scope='module')
def site(browser, tmp_path_factory):
    "A fresh build, made with the command the README gives, into its own folder (after `browser` of conftest.py, so a skip is quick)"
    out = tmp_path_factory.mktemp('docs')/'site'
    start = time.perf_counter()
    res = subprocess.run([sys.executable, 'tools/build_docs.py', '--out', str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, f'the docs build failed:\n{res.stdout}\n{res.stderr}'
    print(f'docs built in {time.perf_counter()-start:.1f} s into {out}')
    return out


@pytest.fixture(scope='module')
def base_url(site):
    "The site, served on a free port of 127.0.0.1"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}/'
    server.shutdown()


def visit(browser, url) -> dict:
    "Open `url`; what went wrong while it loaded, and what the page holds"
    page = browser.new_page()
    errors = []
    page.on('console', lambda m: m.type == 'error' and errors.append(f'console: {m.text}'))
    page.on('pageerror', lambda e: errors.append(f'script: {e}'))
    page.on('requestfailed', lambda r: errors.append(f'failed: {r.url} ({r.failure})'))
    page.on('response', lambda r: r.status >= 400 and errors.append(f'HTTP {r.status}: {r.url}'))
    page.goto(url, wait_until='networkidle')
    # Images load lazily only when scrolled to; ask for all of them, then see which failed
    broken = page.evaluate('''async () => {
        const imgs = [...document.images];
        imgs.forEach(i => i.loading = 'eager');
        await Promise.all(imgs.map(i => i.decode().catch(() => null)));
        return imgs.filter(i => i.naturalWidth === 0).map(i => i.src); }''')
    info = page.evaluate('''() => ({
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.name),
        text: document.body.innerText, title: document.title})''')
    return dict(page=page, errors=errors, broken_images=broken, **info)


@pytest.fixture(scope='module')
def pages(site, base_url, browser):
    "Every page of the site, visited once: {path: what `visit` found}"
    found = {p.relative_to(site).as_posix(): visit(browser, base_url + p.relative_to(site).as_posix())
             for p in sorted(site.rglob('*.html'))}
    yield found
    for v in found.values(): v['page'].close()


def test_pages_load_cleanly(pages):
    "No console error, script error, failed request or HTTP error on any page, and every image loaded"
    bad = {path: v['errors'] + [f'image not loaded: {s}' for s in v['broken_images']] for path, v in pages.items()}
    assert not {k: v for k, v in bad.items() if v}


def test_internal_links_resolve(site, pages, base_url):
    "Every link into the site reaches a page or file of it, and its #anchor, if any, is on that page"
    bad = []
    for path, v in pages.items():
        for link in v['links']:
            if not link.startswith(base_url): continue
            target, anchor = urldefrag(link)
            rel = unquote(urlparse(target).path).lstrip('/')
            if rel == '' or rel.endswith('/'): rel += 'index.html'
            if rel in pages:
                if anchor and anchor not in pages[rel]['ids']: bad.append(f'{path}: {link} (no such anchor)')
            elif not (site/rel).is_file(): bad.append(f'{path}: {link}')
    assert not bad


def test_no_directive_shown(pages):
    "nbdev's `#|` lines are stripped, and `#| hide` cells dropped, as nbdev's own docs do"
    shown = {path: [l for l in v['text'].splitlines() if DIRECTIVE.match(l)] for path, v in pages.items()}
    assert not {k: v for k, v in shown.items() if v}


def _all(py:Path) -> list:
    "A module's `__all__`, read from its source"
    node = next(n for n in ast.parse(py.read_text()).body if isinstance(n, ast.Assign) and
                any(getattr(t, 'id', None) == '__all__' for t in n.targets))
    return ast.literal_eval(node.value)


def test_api_page_lists_every_exported_name(pages):
    "Each module in collab_nbdev/ has a section on the API page naming every entry of its `__all__`"
    page = pages['api.html']['page']
    mods = [p for p in sorted((ROOT/'collab_nbdev').glob('*.py')) if not p.stem.startswith('_')]
    assert mods
    for py in mods:
        names = page.evaluate('''id => { const s = document.getElementById(id); if (!s) return null;
            const text = e => [...e.childNodes].filter(n => !(n.classList && n.classList.contains('headerlink')))
                                               .map(n => n.textContent).join('').trim();
            return [...s.querySelectorAll('h3'), ...s.querySelectorAll('li > p > code:first-child')].map(text); }''',
            f"collab-nbdev-{py.stem.replace('_', '-')}")  # the section's id, as docutils writes `## collab_nbdev.files`
        assert names is not None, f'no section for collab_nbdev.{py.stem}'
        assert set(_all(py)) <= set(names), f'collab_nbdev.{py.stem}: {set(_all(py)) - set(names)} missing'
    assert page.locator('table').count() > 0  # the docments tables


def _title(nb:Path) -> str:
    "A notebook's title: its first `# ` heading"
    import nbformat
    lines = [l for c in nbformat.read(nb, as_version=4).cells if c.cell_type == 'markdown' for l in c.source.splitlines()]
    return next(l[2:].strip() for l in lines if l.startswith('# '))


def test_sidebar_follows_reading_order(pages):
    "The sidebar holds one section per track, each notebook in file-name order, under its title, linked to its source"
    from nbdev.config import get_config
    cfg, page = get_config(path=ROOT), pages['index.html']['page']
    for folder in ('chapter', 'library'):
        nbs = sorted((ROOT/'nbs'/folder).glob('*.ipynb'))
        hrefs = [f'{folder}/{nb.stem}.html' for nb in nbs]
        nav = page.evaluate('''() => [...document.querySelectorAll('.sidebar-tree a.reference')]
            .map(a => [a.getAttribute('href'), a.textContent.trim()])''')
        in_nav = [(h, t.replace('\u2019', "'")) for h, t in nav if h in hrefs]   # Sphinx's smart quotes turn ' into ’
        assert in_nav == [(h, _title(nb)) for h, nb in zip(hrefs, nbs)]
        for h, nb in zip(hrefs, nbs):
            assert pages[h]['title'].replace('\u2019', "'").startswith(_title(nb))
            source = f'{cfg.git_url}/blob/{cfg.branch}/nbs/{folder}/{nb.name}'
            assert source in pages[h]['links'], f'{h} has no link to {source}'


def test_search_finds(base_url, browser):
    page = browser.new_page()
    page.goto(base_url + 'search.html?q=embedding')
    page.wait_for_selector('#search-results li', timeout=15_000)
    assert page.locator('#search-results li').count() > 0
    page.close()


def test_screenshots(site, base_url, browser, request):
    "Screenshots of the index and a chapter page for a person to look at, kept in pytest's cache folder between runs"
    shots = request.config.cache.mkdir('docs-screenshots')
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    chapter = sorted((site/'chapter').glob('*.html'))[0].relative_to(site).as_posix()
    for name, path in [('index', 'index.html'), ('chapter', chapter)]:
        page.goto(base_url + path, wait_until='networkidle')
        page.screenshot(path=shots/f'{name}.png', full_page=True)
    page.close()
    print(f'screenshots in {shots}')
    assert (shots/'index.png').stat().st_size > 0
