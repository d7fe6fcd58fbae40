"""Training in two processes with fastai's distributed training (torch DDP over gloo), started by torchrun, as `collab_train --nproc 2` runs it,
and as two machines run it (two torchrun "nodes" on loopback).

Why the weights of a 2-process run must equal those of one process trained on the same global batches: every process draws process 0's
permutation, cuts it into batches of `bs * 2` and takes its own half of each, so step i of both processes covers global batch i, the batch that one
process with `bs * 2` sees at its step i (the same seed gives the same permutation). DDP starts both from process 0's weights and averages their
gradients; each is the gradient of the mean loss over its half, and when the halves are equal in size their average is the gradient of the mean
loss over the whole batch. The optimiser then takes the same step in both. Only the order of floating-point additions differs (gloo sums the two
gradients; one process sums over the whole batch), which leaves differences of the order of float32's rounding, about 1e-8 measured; the
tolerance below, 1e-5, is far below any real difference (one step of lr 1e-2 moves a weight by about 1e-2).
"""
import os, re, shutil, socket, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from safetensors.torch import load_file
from collab_nbdev.scale import torchrun

TIMEOUT = 300   # seconds for any one command: a hang fails the test instead of stalling CI


def train(*args, env=None):
    return subprocess.run(['collab_train', *args], capture_output=True, text=True, timeout=TIMEOUT, env=env)


@pytest.fixture(scope='module')
def ratings_file(tmp_path_factory):
    "3,000 ratings: 2,400 to train on, 37 batches of 64 and a last one of 32, so that each process's half of every batch is the same size"
    rng = np.random.default_rng(0)
    pairs = rng.choice(200 * 150, 3000, replace=False)
    df = pd.DataFrame({'user': pairs // 150 + 1, 'item': pairs % 150 + 1, 'rating': rng.integers(1, 6, 3000)})
    file = tmp_path_factory.mktemp('ratings')/'ratings.csv'
    df.to_csv(file, index=False)
    return file


@pytest.mark.parametrize('recipe', ['book'])   # the sparse path: two machines below, and the small run of bench/nproc_speed.py in 05_scale
def test_two_processes_match_one(ratings_file, tmp_path, recipe):
    common = ['--data', str(ratings_file), '--recipe', recipe, '--epochs', '2', '--lr', '0.01', '--seed', '1', '--lists', 'none']
    two = train(*common, '--lists', 'ranker', '--bs', '32', '--nproc', '2', '--out', str(tmp_path/'two'))   # the last --lists counts
    assert two.returncode == 0, two.stderr[-3000:]
    assert '2 processes (torch DDP through fastai\'s distrib_ctx, gloo)' in two.stdout
    # then process 0 trains the list model with fastai by itself, once, and saves it beside the rating model
    assert 'list model: DotProductRanker (32 factors; its defaults)' in two.stdout and two.stdout.count('list model:') == 1
    epochs = [l for l in two.stdout.splitlines() if re.fullmatch(r' +\d+ +\d\.\d{4} +\d\.\d{4} +\d\d:\d\d', l)]
    assert len(epochs) == 2, two.stdout   # one epoch table, from process 0 only
    one = train(*common, '--bs', '64', '--out', str(tmp_path/'one'))
    assert one.returncode == 0, one.stderr
    a, b = load_file(tmp_path/'two'/'rating'/'model.safetensors'), load_file(tmp_path/'one'/'model.safetensors')
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max().item() < 1e-5, k
    start = load_file(tmp_path/'one'/'model.safetensors')['user_factors.weight']
    assert start.abs().max() > 1e-2   # trained: the comparison is not between two untouched initialisations


def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_two_machines_match_one(ratings_file, tmp_path):
    "Two torchrun nodes on loopback, one process each, joined by a c10d rendezvous as two machines would be: the weights of one process"
    common = ['--data', str(ratings_file), '--recipe', 'sparse', '--epochs', '2', '--lr', '0.01', '--seed', '1', '--lists', 'none']
    port = free_port()
    def node(out): return subprocess.Popen(
        [sys.executable, '-m', 'torch.distributed.run', '--nnodes', '2', '--nproc-per-node', '1', '--rdzv-backend', 'c10d',
         '--rdzv-endpoint', f'127.0.0.1:{port}', '--rdzv-id', 'test', '--no-python', shutil.which('collab_train'), *common, '--bs', '32',
         '--out', str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    nodes = [node(tmp_path/f'node{i}') for i in range(2)]
    try: outputs = [p.communicate(timeout=TIMEOUT) for p in nodes]
    finally:
        for p in nodes: p.kill()
    assert [p.returncode for p in nodes] == [0, 0], [err[-2000:] for _, err in outputs]
    saved = [tmp_path/f'node{i}'/'model.safetensors' for i in range(2) if (tmp_path/f'node{i}'/'model.safetensors').exists()]
    assert len(saved) == 1   # process 0 saves, on its own machine
    assert sum('2 processes (torch DDP' in out for out, _ in outputs) == 1   # and only process 0 prints
    one = train(*common, '--bs', '64', '--out', str(tmp_path/'one'))
    assert one.returncode == 0, one.stderr
    a, b = load_file(saved[0]), load_file(tmp_path/'one'/'model.safetensors')
    for k in a: assert (a[k] - b[k]).abs().max().item() < 1e-5, k


def test_a_failing_process_ends_the_run(monkeypatch):
    "When one process fails, torchrun stops the other at once, and its error is what is reported, not torchrun's own report"
    monkeypatch.setenv('PYTHONPATH', str(Path(__file__).parent))
    start = time.monotonic()
    code, errors = torchrun('_distributed_targets:fail_on_rank', dict(rank=1, after_init=True), 2)
    assert code != 0
    assert time.monotonic() - start < 120   # not the 600 s the other process would wait for it
    assert any('ValueError: process 1 fails inside the group' in l for l in errors), errors
    assert not any('ChildFailedError' in l for l in errors)


def test_a_usage_error_in_the_processes(tmp_path):
    r = train('--data', str(tmp_path/'nowhere.csv'), '--nproc', '2', '--out', str(tmp_path/'m'))
    assert r.returncode == 2 and 'nowhere.csv: no such file or folder' in r.stderr and 'Traceback' not in r.stderr


def test_nproc_inside_torchrun(tmp_path):
    r = train('--nproc', '2', '--out', str(tmp_path/'m'), env={**os.environ, 'WORLD_SIZE': '2', 'RANK': '0'})
    assert r.returncode == 2
    assert r.stderr.strip() == 'collab_train: --nproc 2: this process is already one of 2 (started by torchrun?); leave --nproc out'
