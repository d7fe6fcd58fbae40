"""collab_train and collab_recommend, run as a user runs them, in a subprocess, on the synthetic data set: what only a real process shows
(the console scripts, exit status and stderr, no progress bar off a terminal, the folders written). What the commands answer, and each
refusal, is tested once, in-process, in nbs/library/08_cli.ipynb."""
import inspect, json, os, re, shutil, subprocess
import pytest
from collab_nbdev.files import load_titled_ratings


@pytest.fixture(scope='module')
def env(synthetic_path, tmp_path_factory):
    "A FASTAI_HOME whose data folder already holds the synthetic set, so `--data synthetic` finds it and writes nothing elsewhere"
    home = tmp_path_factory.mktemp('fastai_home')
    (home/'data').mkdir()
    (home/'data'/'ml-100k-synthetic').symlink_to(synthetic_path)
    return {**os.environ, 'FASTAI_HOME': str(home), 'OMP_NUM_THREADS': '1'}


def run(env, *args):
    "Run a command with `env`, in the temporary FASTAI_HOME, so that nothing can land in the working tree"
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=env['FASTAI_HOME'], timeout=600)


def one_line_error(r, prog):
    "The run failed as a usage error: status 2, one line on stderr, no traceback; returns that line"
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith(f'{prog}: ')
    return r.stderr.strip()


@pytest.fixture(scope='module')
def model_dir(env, tmp_path_factory):
    "Train once with the default rating model and EASE for the lists (the blend is trained in the CLI notebook), for every test of collab_recommend"
    out = tmp_path_factory.mktemp('trained')/'model'
    r = run(env, 'collab_train', '--data', 'synthetic', '--epochs', '2', '--bs', '256', '--lists', 'ease', '--out', out)
    assert r.returncode == 0, r.stderr
    return out, r


@pytest.fixture(scope='module')
def ratings(synthetic_path):
    return load_titled_ratings(synthetic_path)


def test_train(model_dir, synthetic_path):
    out, r = model_dir
    assert r.stderr == ''
    lines = r.stdout.splitlines()
    assert lines[0].startswith('data: ') and lines[0].endswith('data/ml-100k-synthetic (synthetic stand-in, NOT the real data)')
    assert lines[2].startswith('model: DotProductBias(n_users=944, ') and 'n_factors=50' in lines[2]
    epochs = [l for l in lines if re.fullmatch(r' +\d+ +\d\.\d{4} +\d\.\d{4} +\d\d:\d\d', l)]
    assert len(epochs) == 2 and lines[4].split() == ['epoch', 'train', 'MSE', 'valid', 'MSE', 'time']
    assert lines[7:10] == ['training the list model (ease)', lines[8], lines[9]] and lines[8].startswith('list model: EASE (lam ')
    assert len(lines) == 11 and lines[-1].startswith(f'saved to {out}: the list model, ')
    assert '\r' not in r.stdout and '█' not in r.stdout   # no progress bar
    assert sorted(p.name for p in out.iterdir()) == ['collab.json', 'model.safetensors', 'rated.safetensors', 'rating']
    assert sorted(p.name for p in (out/'rating').iterdir()) == ['collab.json', 'model.safetensors', 'rated.safetensors']
    info = json.loads((out/'rating'/'collab.json').read_text())
    assert info['training']['epochs'] == 2 and info['data']['file'] == 'u.data'
    assert json.loads((out/'collab.json').read_text())['training']['lists'] == 'ease'


def test_recommend(env, model_dir, ratings):
    out, _ = model_dir
    r = run(env, 'collab_recommend', '--model', out, '--user', '1', '-n', '5')
    assert r.returncode == 0 and r.stderr == '', r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith('user 1 rated ') and len(lines) == 1 + 2 + 5
    r = run(env, 'collab_recommend', '--model', out, '--user', '1', '-n', '5', '--json')
    answer = json.loads(r.stdout)
    titles = [rec['title'] for rec in answer['recommendations']]
    assert answer['user'] == 1 and answer['cold_start'] is False and len(titles) == 5
    assert all(title in r_line for title, r_line in zip(titles, lines[3:]))   # the table and the JSON agree
    assert not set(titles) & set(ratings.title[ratings.user == 1])


def test_click_log(env, tmp_path):
    "A two-column click log, as a shop exports it, trains the list model with the defaults and recommends from the shell"
    import numpy as np, pandas as pd
    rng = np.random.default_rng(2)
    pd.DataFrame({'visitor': [f'v{i}' for i in rng.integers(0, 300, 5000)], 'product': [f'p{i}' for i in rng.zipf(1.3, 5000) % 400]}) \
      .drop_duplicates().to_csv(tmp_path/'clicks.csv', index=False)
    r = run(env, 'collab_train', '--data', tmp_path/'clicks.csv', '--out', tmp_path/'model')
    assert r.returncode == 0 and r.stderr == '', r.stderr
    assert 'no rating column: each row one interaction' in r.stdout and 'no rating model: every rating is 1' in r.stdout
    assert 'list model: RankBlend (lam ' in r.stdout and 'train MSE' not in r.stdout   # no epoch table: no rating model
    r = run(env, 'collab_recommend', '--model', tmp_path/'model', '--user', 'v7', '-n', '3', '--json')
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)['recommendations']
    assert len(recs) == 3 and all(list(rec) == ['item', 'score'] and rec['item'].startswith('p') for rec in recs)


def test_bad_options(env, tmp_path):
    "argparse's own errors and the commands' checks alike: one line, status 2, before any training starts"
    for args in (('collab_train', '--epochs', '-3', '--data', 'synthetic'), ('collab_recommend', '--user', '1', '-n', 'ten')):
        r = run(env, *args)
        one_line_error(r, args[0])
        assert r.stdout == ''   # failed before printing anything


def test_train_on_a_generic_csv_and_recommend_ids(env, tmp_path):
    "A ratings file with its own column names and no titles: recommendations are item ids"
    import numpy as np, pandas as pd
    rng = np.random.default_rng(1)
    pd.DataFrame({'member': rng.integers(1, 200, 8000), 'book': rng.integers(1, 300, 8000), 'score': rng.integers(1, 11, 8000)}) \
      .drop_duplicates(['member', 'book']).to_csv(tmp_path/'books.csv', index=False)
    r = run(env, 'collab_train', '--data', tmp_path/'books.csv', '--user-col', 'member', '--item-col', 'book', '--rating-col', 'score',
            '--epochs', '1', '--bs', '512', '--lists', 'none', '--out', tmp_path/'model')
    assert r.returncode == 0, r.stderr
    assert 'ratings 1 to 10' in r.stdout and 'y_range=[-1.25, 11.125]' in r.stdout
    r = run(env, 'collab_recommend', '--model', tmp_path/'model', '--rated', '5=9', '--rated', '7=2', '-n', '2', '--json')
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer['rated'] == {'5': 9.0, '7': 2.0} and all(isinstance(rec['item'], int) for rec in answer['recommendations'])


def test_a_release_asked_for_by_name_is_checked(env, tmp_path):
    "`--data ml-1m` means the published release: fastai's copy of it that is not is refused, with the way to download it again"
    from collab_nbdev.ratings import synthetic_release
    home = tmp_path/'home'
    data = synthetic_release(home/'data'/'ml-1m', like='ml-1m', n_ratings=30_000)
    (data/'planted.npz').unlink()
    line = one_line_error(run({**env, 'FASTAI_HOME': str(home)}, 'collab_train', '--data', 'ml-1m'), 'collab_train')
    assert f'{data} holds 30,000 ratings, but the published ml-1m has 1,000,209: a truncated or altered copy; delete {data}' in line
