"""Sphinx configuration for the docs site; `tools/build_docs.py` stages the notebooks and runs Sphinx with it.

Everything the site says about the project (title, repository, branch) is read from settings.ini, its one home."""
from pathlib import Path
from nbdev.config import get_config

cfg = get_config(path=Path(__file__).parent)
project, author, copyright = cfg.title, cfg.author, cfg.copyright
html_title = cfg.title

extensions = ['myst_nb']
nb_execution_mode = 'off'                  # the site shows the outputs stored in the notebooks; nothing is run
myst_heading_anchors = 4                   # GitHub-style anchors, so links such as `03_loaders.ipynb#some-heading` resolve
myst_enable_extensions = ['attrs_inline']  # the {target="_blank"} that nbdev's show_doc puts after its source link
nb_render_markdown_format = 'myst'         # markdown outputs (show_doc's) are read as the cells are, extensions included

html_theme = 'furo'
html_static_path, html_css_files = ['static'], ['site.css']
html_favicon = 'favicon.svg'  # else browsers ask for /favicon.ico, and log its 404 as an error
html_theme_options = {
    # Furo's "view this page" button: each page links to its notebook on GitHub, which renders notebooks.
    'source_view_link': f'{cfg.git_url}/blob/{cfg.branch}/{cfg.nbs_path.name}/{{filename}}',
    'top_of_page_buttons': ['view'],
}
# The staged notebooks have nbdev's directives stripped; the link above points at the real source instead.
html_copy_source = html_show_sourcelink = False


def no_view_link(app, pagename, templatename, context, doctree):
    "Pages the build generates (the API reference) have no file in nbs/ to link to"
    source = cfg.nbs_path/f"{pagename}{context.get('page_source_suffix')}"
    if not source.exists(): context['page_source_suffix'] = None  # Furo shows the button only with a suffix


def setup(app): app.connect('html-page-context', no_view_link)
