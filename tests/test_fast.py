"FastCollabDataLoaders and permutation_sampling: every training rating once per epoch, drop-in for CollabDataLoaders"
import warnings
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.collab import CollabDataLoaders, collab_learner, EmbeddingDotBias
from fastai.learner import Learner
from fastai.losses import MSELossFlat
from fastai.torch_core import set_seed
from collab_nbdev.data import load_titled_ratings
from collab_nbdev.fast import FastCollabDataLoaders, permutation_sampling


@pytest.fixture(scope='module')
def ratings(synthetic_path):
    return load_titled_ratings(synthetic_path)


@pytest.fixture(scope='module')
def small():
    "600 ratings of 30 users and 40 movies"
    rng = np.random.default_rng(0)
    pairs = rng.choice(30 * 40, 600, replace=False)
    return pd.DataFrame({'user': pairs // 40 + 1, 'movie': pairs % 40 + 1, 'rating': rng.integers(1, 6, 600)})


def epoch_rows(dl):
    "Every (user, item) pair of one epoch of `dl`, as tuples"
    return [tuple(r) for x, *_ in dl for r in x.tolist()]


def test_fast_epoch_covers_every_row_once(small):
    dls = FastCollabDataLoaders.from_df(small, bs=64, seed=1)
    rows = epoch_rows(dls.train)
    assert len(rows) == len(dls.train.dataset) == 480 and len(set(rows)) == 480  # 480 is no multiple of 64: the last batch is kept
    assert sorted(rows) == sorted(map(tuple, dls.train.dataset.tensors[0].tolist()))
    assert rows != epoch_rows(dls.train)  # a new order each epoch


def test_fastai_default_samples_with_replacement(small):
    "Documents fastai 2.8.7: if this fails, a newer fastai has fixed it, and the notebooks' explanation needs updating"
    dls = CollabDataLoaders.from_df(small, bs=64, seed=1)
    idxs = np.array(dls.train.get_idxs())
    assert len(idxs) == 480 and len(np.unique(idxs)) < 0.75 * 480


def test_permutation_sampling(small):
    dls = permutation_sampling(CollabDataLoaders.from_df(small, bs=64, seed=1))
    idxs = dls.train.get_idxs()
    assert sorted(idxs) == list(range(480))
    n_rows = sum(len(x) for x, y in dls.train)
    assert n_rows == 448  # fastai drops the last incomplete batch (480 = 7*64 + 32), in a new random order each epoch
    assert list(dls.valid.get_idxs()) == list(range(120))  # the validation loader is untouched


def test_same_split_and_vocab_as_fastai(ratings):
    fast = FastCollabDataLoaders.from_df(ratings, item_name='title', seed=42)
    book = CollabDataLoaders.from_df(ratings, item_name='title', seed=42)
    for k in ('user', 'title'): assert list(fast.classes[k]) == list(book.classes[k])
    assert fast.classes['title'][0] == '#na#'
    fx, fy = fast.valid.one_batch()
    bx, by = book.valid.one_batch()
    assert torch.equal(fx, bx) and torch.equal(fy, by.float())


def test_seeded_shuffle(small):
    a, b = (FastCollabDataLoaders.from_df(small, seed=3) for _ in range(2))
    assert epoch_rows(a.train) == epoch_rows(b.train)


def test_learner_lr_find_fit_and_test_dl(ratings):
    dls = FastCollabDataLoaders.from_df(ratings, item_name='title', bs=512, seed=42)
    set_seed(42)
    learn = collab_learner(dls, n_factors=10, y_range=(0, 5.5))
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        lr = learn.lr_find(show_plot=False).valley
        learn.fit_one_cycle(2, 1e-2, wd=0.1)
        valid_mse = learn.validate()[0]
        preds, targs = learn.get_preds(dl=dls.test_dl(ratings.iloc[:100]))
    assert 1e-7 < lr < 10
    baseline = ((dls.valid.dataset.tensors[1] - dls.train.dataset.tensors[1].mean()) ** 2).mean().item()
    assert valid_mse < 0.9 * baseline, (valid_mse, baseline)
    assert preds.shape == (100,) and torch.equal(targs[:, 0], torch.tensor(ratings.rating.iloc[:100].to_numpy(np.float32)))


def test_plain_learner_and_device(small):
    dls = FastCollabDataLoaders.from_df(small, bs=32, seed=0, device='cpu')
    dls.to(torch.device('cpu'))

    learn = Learner(dls, EmbeddingDotBias.from_classes(5, dls.classes), loss_func=MSELossFlat())
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    x, y = dls.one_batch()
    assert x.device.type == 'cpu' and x.dtype == torch.long and y.shape == (32, 1)


def test_test_dl_unknown(ratings):
    dls = FastCollabDataLoaders.from_df(ratings, item_name='title', seed=42)
    with pytest.raises(KeyError, match="user 9999 not in the training data"):
        dls.test_dl(pd.DataFrame({'user': [9999], 'title': [ratings.title.iloc[0]]}))
    with pytest.raises(ValueError, match="test_items has no column 'title'"):
        dls.test_dl(pd.DataFrame({'user': [1]}))


@pytest.mark.parametrize('kwargs, message', [
    (dict(item_name='film'), "ratings has no column 'film'"),
    (dict(valid_pct=0), 'valid_pct must be between 0 and 1'),
    (dict(valid_pct=1.5), 'valid_pct must be between 0 and 1'),
    (dict(bs=0), 'bs must be a positive integer, got 0'),
    (dict(bs=2.5), 'bs must be a positive integer, got 2.5'),
    (dict(bs=True), 'bs must be a positive integer, got True'),
])
def test_bad_arguments(small, kwargs, message):
    with pytest.raises(ValueError, match=message): FastCollabDataLoaders.from_df(small, **kwargs)


def test_bad_frames(small):
    with pytest.raises(ValueError, match='ratings is empty'): FastCollabDataLoaders.from_df(small.iloc[:0])
    with pytest.raises(ValueError, match="'rating' must be numeric"):
        FastCollabDataLoaders.from_df(small.assign(rating=small.rating.astype(str)))
    with pytest.raises(ValueError, match="'movie' has a missing value"):
        FastCollabDataLoaders.from_df(small.assign(movie=small.movie.where(small.index != 5)))
    with pytest.raises(ValueError, match='must be a pandas DataFrame'): FastCollabDataLoaders.from_df([[1, 2, 3]])


def test_permutation_sampling_keeps_real_weights(small):
    weighted = CollabDataLoaders.from_df(small, bs=64, seed=1, wgts=np.arange(1, 481))
    with pytest.raises(ValueError, match='non-uniform weights'): permutation_sampling(weighted)


def test_from_dfs_id_types_must_match(small):
    with pytest.raises(ValueError, match="column 'user' holds int64 in train but str in valid"):
        FastCollabDataLoaders.from_dfs(small, small.astype({'user': str}))
