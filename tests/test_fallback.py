"""How the data is found: an explicit folder, COLLAB_NBDEV_DATA, fastai's cache (built here, whatever this machine has), and the offline
fallback to synthetic data, in the library and from a shell, where nothing stray may reach a terminal or a pipe"""
import os, pty, shutil, subprocess
from urllib.error import URLError
import pytest
from fastai.data.external import fastai_cfg
import collab_nbdev.ratings as ratings
from collab_nbdev.files import movielens_path, load_titled_ratings


def no_network(url, *args, **kwargs): raise URLError('[Errno -3] Temporary failure in name resolution')


@pytest.fixture
def fastai_home(monkeypatch, tmp_path):
    "An empty fastai home of this test's own, read afresh as a new process would (fastai caches its config once per process)"
    home = tmp_path/'fastai_home'
    monkeypatch.setenv('FASTAI_HOME', str(home))
    fastai_cfg.cache_clear()
    yield home
    fastai_cfg.cache_clear()


@pytest.fixture
def offline(monkeypatch, fastai_home):
    "No COLLAB_NBDEV_DATA, an empty fastai cache, and a download that fails as it does without a network"
    monkeypatch.delenv('COLLAB_NBDEV_DATA', raising=False)
    monkeypatch.setattr(ratings, 'untar_data', no_network)
    return fastai_home


def test_offline_falls_back_to_synthetic(offline):
    with pytest.warns(UserWarning, match='SYNTHETIC') as w: path = movielens_path()
    message = next(str(x.message) for x in w if 'SYNTHETIC' in str(x.message))
    assert 'COLLAB_NBDEV_DATA' in message and 'Temporary failure' in message
    assert ratings.is_synthetic(path) and path.is_relative_to(offline)
    first = (path/'u.data').read_bytes()
    with pytest.warns(UserWarning, match='SYNTHETIC'): assert movielens_path() == path  # reused, warned again
    assert (path/'u.data').read_bytes() == first


def test_offline_strict_raises(offline):
    with pytest.raises(FileNotFoundError, match='MovieLens ml-100k not found: no path given, COLLAB_NBDEV_DATA unset, and untar_data.*Temporary failure'):
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


def cache(home, folder, name='ml-100k'):
    "Put `folder` in the fastai home `home` as fastai's download of release `name`, as `untar_data` leaves one"
    (home/'data').mkdir(parents=True, exist_ok=True)
    (home/'data'/name).symlink_to(folder)
    return home/'data'/name


def test_fastai_cache(monkeypatch, fastai_home, real_path):
    "untar_data finds ML-100K in fastai's data folder without downloading; that holds whether this machine gives the data through the cache or not"
    monkeypatch.delenv('COLLAB_NBDEV_DATA', raising=False)
    cached = cache(fastai_home, real_path)
    assert movielens_path() == cached
    assert len(load_titled_ratings()) == 100_000   # and its counts are checked: it is fastai's download


def test_a_damaged_download_is_refused(monkeypatch, fastai_home, real_copy):
    "fastai's download of a release is checked against its published counts; the same files given by their path are read as they are"
    monkeypatch.delenv('COLLAB_NBDEV_DATA', raising=False)
    lines = (real_copy/'u.data').read_bytes().splitlines(keepends=True)
    (real_copy/'u.data').write_bytes(b''.join(lines[:-1]))
    cached = cache(fastai_home, real_copy)
    with pytest.raises(ValueError, match=f'{cached} holds 99,999 ratings, but the published ml-100k has 100,000: a truncated or altered copy; '
                                         f'delete {cached} and ask for ml-100k again'):
        load_titled_ratings()
    by_path = ratings.load_movielens(real_copy)
    assert ratings.describe_movielens(real_copy, by_path) == 'ML-100K format, 99,999 ratings: not the published release'


def test_release_offline_falls_back_to_synthetic(offline):
    with pytest.warns(UserWarning, match='SYNTHETIC stand-in for MovieLens ml-latest-small') as w: path = ratings.movielens_release('ml-latest-small')
    fallback = [str(x.message) for x in w if x.category is UserWarning]   # fastai's config writer can add a ResourceWarning beside it
    assert len(fallback) == 1 and 'ml-latest-small.zip' in fallback[0] and path.is_relative_to(offline)
    assert ratings.find_release(path) == 'ml-latest-small' and len(ratings.load_movielens(path)) == 100_836
    with pytest.raises(FileNotFoundError, match='MovieLens ml-1m not found: untar_data'): ratings.movielens_release('ml-1m', strict=True)


def test_release_from_fastai_cache(fastai_home):
    "untar_data finds a release already in fastai's data folder without downloading, as it does ML-100K"
    ratings.synthetic_release(fastai_home/'data'/'ml-1m', like='ml-1m', n_ratings=30_000)
    assert ratings.movielens_release('ml-1m') == fastai_home/'data'/'ml-1m'


@pytest.fixture
def cut_off(tmp_path):
    "The environment of a shell with no data and no network: an empty fastai home, and every download sent to a closed port"
    env = {k: v for k, v in os.environ.items() if k not in ('COLLAB_NBDEV_DATA', 'NO_PROXY', 'no_proxy')}
    proxy = 'http://127.0.0.1:9'   # the discard port: nothing listens, so the connection is refused at once, online or not
    return {**env, 'FASTAI_HOME': str(tmp_path/'home'), 'HTTP_PROXY': proxy, 'HTTPS_PROXY': proxy, 'http_proxy': proxy, 'https_proxy': proxy}


def test_fallback_in_a_pipe_is_clean(cut_off, tmp_path):
    "fastprogress prints its bar's '█' and a carriage return as soon as a download starts; in a pipe or a log nothing of it may show"
    r = subprocess.run(['collab_data'], capture_output=True, text=True, env=cut_off, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('data: ') and 'synthetic stand-in, NOT the real data' in r.stdout
    assert r.stderr.startswith('warning: Using a SYNTHETIC stand-in for MovieLens ml-100k') and len(r.stderr.splitlines()) == 1
    for stray in ('█', '\r', '\x1b'): assert stray not in r.stdout + r.stderr, repr(r.stdout + r.stderr)


def on_screen(raw:str) -> list:
    "The lines a terminal shows for `raw`: a carriage return goes back to the start of the line, and what follows overwrites it"
    lines = []
    for line in raw.split('\n'):
        shown = []
        for part in line.split('\r'): shown[:len(part)] = part
        lines.append(''.join(shown).rstrip())
    return lines


def test_on_screen():
    assert on_screen('█\rdata: x\r\nwarning\n') == ['data: x', 'warning', '']
    assert on_screen(' |███---| 40%\r') == [' |███---| 40%']


def test_fallback_in_a_terminal_is_clean(cut_off, tmp_path):
    "In a terminal the bar may show while it downloads, but a failed download leaves nothing of it on the screen"
    main, child = pty.openpty()
    p = subprocess.Popen(['collab_data'], stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=cut_off, cwd=tmp_path)
    os.close(child)
    raw = b''
    while True:
        try: chunk = os.read(main, 4096)
        except OSError: break   # the terminal closes when the command ends
        if not chunk: break
        raw += chunk
    assert p.wait(timeout=300) == 0, raw
    os.close(main)
    screen = [l for l in on_screen(raw.decode()) if l]
    assert not any('█' in l for l in screen), screen
    assert screen[0].startswith('warning: Using a SYNTHETIC') or screen[0].startswith('data: '), screen
