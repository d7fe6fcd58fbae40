"CollabNN: shapes, bad input, and that it learns on the planted synthetic data"
import numpy as np
import pytest
import torch
from fastai.learner import Learner
import fastai.callback.all  # gives Learner fit_one_cycle, no_bar, lr_find
from fastai.losses import MSELossFlat
from fastai.tabular.model import get_emb_sz
from fastai.torch_core import set_seed
from collab_nbdev.data import load_ratings
from collab_nbdev.deep import CollabNN
from collab_nbdev.fast import FastCollabDataLoaders


def test_shapes_and_range():
    model = CollabNN((10, 4), (20, 6), y_range=(1, 5), n_act=8)
    preds = model(torch.tensor([[0, 0], [9, 19], [3, 7]]))
    assert preds.shape == (3,) and ((preds > 1) & (preds < 5)).all()
    assert model.layers[0].in_features == 10  # 4 user + 6 movie factors, concatenated


@pytest.mark.parametrize('args, kwargs, exc, message', [
    (((10, 0), (20, 6)), {}, ValueError, r'user_sz must be \(rows, factors\), both at least 1, got \(10, 0\)'),
    (((10, 4), 20), {}, ValueError, r'item_sz must be \(rows, factors\), got 20'),
    (((10, 4), (20, 6)), {'y_range': (5, 1)}, ValueError, 'low < high'),
    (((10, 4), (20, 6)), {'n_act': 0}, ValueError, 'n_act must be a positive integer'),
    (((10, 4.5), (20, 6)), {}, TypeError, r'user_sz\[1\] must be a whole number'),
])
def test_bad_arguments(args, kwargs, exc, message):
    with pytest.raises(exc, match=message): CollabNN(*args, **kwargs)


def test_bad_indices():
    model = CollabNN((10, 4), (20, 6))
    with pytest.raises(IndexError, match='movie index 20, but movie_factors has 20 rows'): model(torch.tensor([[1, 20]]))
    with pytest.raises(IndexError, match='user index -1'): model(torch.tensor([[-1, 2]]))


def test_learns_synthetic(synthetic_path):
    ratings = load_ratings(synthetic_path)
    dls = FastCollabDataLoaders.from_df(ratings, bs=1024, seed=42)
    set_seed(42)
    learn = Learner(dls, CollabNN(*get_emb_sz(dls)), loss_func=MSELossFlat())
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 1e-2, wd=0.1)
    valid_mse = learn.recorder.values[-1][1]
    y_train, y_valid = dls.train.dataset.tensors[1], dls.valid.dataset.tensors[1]
    baseline = ((y_valid - y_train.mean()) ** 2).mean().item()
    assert valid_mse < 0.8 * baseline, (valid_mse, baseline)
