"evaluate_folds on the canonical folds: scores checked against a direct computation, and its bad input"
import numpy as np
import pytest
from fastai.learner import Learner
from collab_nbdev.data import load_ratings
from collab_nbdev.evaluate import evaluate_folds, load_fold, global_mean_learner, damped_biases_learner


def test_global_mean_scores_match_pandas(real_path):
    res = evaluate_folds({'global mean': global_mean_learner, 'damped biases': damped_biases_learner}, folds=('ua',), path=real_path)
    base, test = load_ratings(real_path/'ua.base'), load_ratings(real_path/'ua.test')
    err = test.rating - base.rating.mean()
    row = res.set_index('model').loc['global mean']
    assert row.rmse == pytest.approx(np.sqrt((err ** 2).mean()), rel=1e-5)
    assert row.mae == pytest.approx(err.abs().mean(), rel=1e-5)
    assert row.n_test == 9430 and row.unseen == 2
    assert res.set_index('model').loc['damped biases'].rmse < row.rmse - 0.1  # biases explain much of the spread


def test_unknown_fold():
    with pytest.raises(ValueError, match="unknown fold 'u9': the canonical ML-100K folds are u1, u2, u3, u4, u5, ua, ub"):
        evaluate_folds(global_mean_learner, folds=('u9',))
    with pytest.raises(ValueError, match="unknown fold 'train'"): load_fold('train')


def test_missing_split_files(synthetic_path):
    "The synthetic stand-in has no canonical splits: the error says so, and a single fold name is accepted"
    with pytest.raises(FileNotFoundError, match='synthetic stand-in, which has no canonical folds'):
        evaluate_folds(global_mean_learner, folds='u2', path=synthetic_path)


def test_missing_split_file(real_copy):
    (real_copy/'u4.test').unlink()
    with pytest.raises(FileNotFoundError, match=r'u4\.test is missing'): load_fold('u4', real_copy)


def test_not_a_learner(real_path):
    with pytest.raises(TypeError, match="make_learner for 'model' returned a dict, not a fastai Learner"):
        evaluate_folds({'model': lambda dls: {}}, folds=('ub',), path=real_path)


def test_baselines_need_fast_loaders(synthetic_path):
    from fastai.collab import CollabDataLoaders
    dls = CollabDataLoaders.from_df(load_ratings(synthetic_path).iloc[:2000], seed=0)
    with pytest.raises(TypeError, match='the baselines need FastCollabDataLoaders, not '): damped_biases_learner(dls)
