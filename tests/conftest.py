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
