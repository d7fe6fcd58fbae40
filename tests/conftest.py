import shutil
from pathlib import Path
import pytest
from collab_nbdev.files import movielens_path, synthetic_movielens
from collab_nbdev.ratings import is_synthetic


@pytest.fixture(scope='session')
def real_path():
    "The real ML-100K folder, found as the library finds it (COLLAB_NBDEV_DATA or fastai's cache); tests that need it are skipped where it cannot be had"
    try: path = movielens_path(strict=True)
    except FileNotFoundError as e: pytest.skip(f"real ML-100K not available: {e}")
    if is_synthetic(path): pytest.skip("COLLAB_NBDEV_DATA points at synthetic data")
    return path


@pytest.fixture
def real_copy(real_path, tmp_path):
    "A writable copy of the real ML-100K folder, to alter"
    dest = tmp_path/'ml-100k'
    shutil.copytree(real_path, dest)
    return dest


@pytest.fixture(scope='session')
def synthetic_path(tmp_path_factory):
    return synthetic_movielens(tmp_path_factory.mktemp('syn')/'ml-100k-synthetic')


# The flags that let Chromium start as root on these machines, with no attempt to reach the network
CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync']


@pytest.fixture(scope='module')
def browser():
    "Headless Debian Chromium, driven by Playwright, which downloads no browser of its own; the browser tests are skipped, saying why, where it or Playwright is missing"
    chromium = shutil.which('chromium')
    if chromium is None: pytest.skip('Chromium is not installed: apt-get install -y chromium')
    sync_api = pytest.importorskip('playwright.sync_api', reason='Playwright is not installed: pip install playwright')
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
