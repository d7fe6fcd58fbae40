"movielens_path: explicit folder, COLLAB_NBDEV_DATA, fastai's cache, and the offline fallback to synthetic data"
from urllib.error import URLError
import pytest
from fastai.data.external import fastai_cfg
import collab_nbdev.files as files
from collab_nbdev.files import movielens_path, is_synthetic


@pytest.fixture
def offline(monkeypatch, tmp_path):
    "No COLLAB_NBDEV_DATA, an empty fastai cache, and a download that fails as it does without a network"
    monkeypatch.delenv('COLLAB_NBDEV_DATA', raising=False)
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'fastai_home'))
    def no_network(url, *args, **kwargs): raise URLError('[Errno -3] Temporary failure in name resolution')
    monkeypatch.setattr(files, 'untar_data', no_network)
    fastai_cfg.cache_clear()  # fastai reads FASTAI_HOME once per process and caches it; start afresh, as a new process would
    yield tmp_path/'fastai_home'
    fastai_cfg.cache_clear()


def test_offline_falls_back_to_synthetic(offline):
    with pytest.warns(UserWarning, match='SYNTHETIC') as w: path = movielens_path()
    message = next(str(x.message) for x in w if 'SYNTHETIC' in str(x.message))
    assert 'COLLAB_NBDEV_DATA' in message and 'Temporary failure' in message
    assert is_synthetic(path) and path.is_relative_to(offline)
    first = (path/'u.data').read_bytes()
    with pytest.warns(UserWarning, match='SYNTHETIC'): assert movielens_path() == path  # reused, warned again
    assert (path/'u.data').read_bytes() == first


def test_offline_strict_raises(offline):
    with pytest.raises(FileNotFoundError, match='MovieLens 100K not found.*untar_data.*Temporary failure'):
        movielens_path(strict=True)
    assert not (offline/'data'/'ml-100k-synthetic').exists()


def test_env_var(monkeypatch, synthetic_path, tmp_path):
    monkeypatch.setenv('COLLAB_NBDEV_DATA', str(synthetic_path))
    assert movielens_path() == synthetic_path
    monkeypatch.setenv('COLLAB_NBDEV_DATA', str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f'COLLAB_NBDEV_DATA: no u.data in {tmp_path}'): movielens_path()


def test_explicit_path_wins(monkeypatch, synthetic_path, tmp_path):
    monkeypatch.setenv('COLLAB_NBDEV_DATA', str(tmp_path))
    assert movielens_path(synthetic_path) == synthetic_path
    with pytest.raises(FileNotFoundError, match='is not a folder'): movielens_path(tmp_path/'missing')


def test_fastai_cache(monkeypatch, real_path):
    monkeypatch.delenv('COLLAB_NBDEV_DATA', raising=False)
    assert movielens_path() == real_path


def test_release_offline_falls_back_to_synthetic(offline, monkeypatch):
    import collab_nbdev.ratings as ratings
    def no_network(url, *args, **kwargs): raise URLError('[Errno -3] Temporary failure in name resolution')
    monkeypatch.setattr(ratings, 'untar_data', no_network)
    with pytest.warns(UserWarning, match='SYNTHETIC stand-in for MovieLens ml-latest-small') as w: path = ratings.movielens_release('ml-latest-small')
    fallback = [str(x.message) for x in w if x.category is UserWarning]   # fastai's config writer can add a ResourceWarning beside it
    assert len(fallback) == 1 and 'ml-latest-small.zip' in fallback[0] and path.is_relative_to(offline)
    assert ratings.find_release(path) == 'ml-latest-small' and len(ratings.load_movielens(path)) == 100_836
    with pytest.raises(FileNotFoundError, match='MovieLens ml-1m not found: untar_data'): ratings.movielens_release('ml-1m', strict=True)


def test_release_from_fastai_cache(monkeypatch, tmp_path):
    "untar_data finds a release already in fastai's data folder without downloading, as it does ML-100K"
    import collab_nbdev.ratings as ratings
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path))
    fastai_cfg.cache_clear()
    try:
        ratings.synthetic_release(tmp_path/'data'/'ml-1m', like='ml-1m', n_ratings=30_000)
        assert ratings.movielens_release('ml-1m') == tmp_path/'data'/'ml-1m'
    finally: fastai_cfg.cache_clear()
