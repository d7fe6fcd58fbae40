"collab_nbdev.interpret on the synthetic data: recommendations, similar movies, the cold start, and saving and loading without pickle"
import hashlib, json, pickle, re, shutil
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.collab import CollabDataLoaders, EmbeddingDotBias
from fastai.learner import Learner
from fastai.losses import MSELossFlat
from fastai.tabular.model import get_emb_sz
from fastai.torch_core import set_seed
from safetensors.torch import load_file, save_file
from collab_nbdev.data import load_titled_ratings
from collab_nbdev.fast import FastCollabDataLoaders
from collab_nbdev.models import DotProduct, DotProductBias, DotProductBiasParams
from collab_nbdev.deep import CollabNN
from collab_nbdev.interpret import (collab_tables, rated_pairs, similar_movies, recommend, model_spec, build_model, save_collab,
                                    load_collab, LoadedCollab, WEIGHTS, INFO, RATED)


@pytest.fixture(scope='module')
def ratings(synthetic_path):
    return load_titled_ratings(synthetic_path)


@pytest.fixture(scope='module')
def learn(ratings):
    dls = FastCollabDataLoaders.from_df(ratings, item_name='title', bs=1024, seed=0)
    set_seed(0)
    learn = Learner(dls, DotProductBias(len(dls.classes['user']), len(dls.classes['title']), 10), loss_func=MSELossFlat())
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(2, 1e-2, wd=0.1)
    return learn


@pytest.fixture(scope='module')
def saved(learn, synthetic_path, tmp_path_factory):
    return save_collab(learn, tmp_path_factory.mktemp('saved')/'model', data=synthetic_path, training={'epochs': 2})


def all_x(learn):
    return torch.cat([learn.dls.train.dataset.tensors[0], learn.dls.valid.dataset.tensors[0]])


def test_round_trip_predicts_identically(learn, saved):
    loaded = load_collab(saved)
    assert isinstance(loaded, LoadedCollab) and loaded.classes['title'] == list(learn.dls.classes['title'])
    with torch.no_grad(): assert torch.equal(learn.model.eval()(all_x(learn)), loaded.model(all_x(learn)))
    pd.testing.assert_frame_equal(recommend(loaded, 1), recommend(learn, 1))
    title = learn.dls.classes['title'][5]
    pd.testing.assert_frame_equal(similar_movies(loaded, title, min_ratings=20), similar_movies(learn, title, min_ratings=20))


def test_save_records_kind_vocab_and_checksum(learn, saved, synthetic_path):
    info = json.loads((saved/INFO).read_text())
    assert info['kind'] == 'DotProductBias' and info['args'] == {'n_users': 944, 'n_movies': len(learn.dls.classes['title']),
                                                                 'n_factors': 10, 'y_range': [0.0, 5.5]}
    assert info['classes']['user'][:3] == ['#na#', 1, 2] and all(type(u) is int for u in info['classes']['user'][1:])
    assert info['data']['md5'] == hashlib.md5((synthetic_path/'u.data').read_bytes()).hexdigest()
    assert info['training'] == {'epochs': 2}
    assert sorted(load_file(saved/WEIGHTS)) == sorted(learn.model.state_dict())


@pytest.mark.parametrize('kind', ['DotProduct', 'DotProductBias', 'DotProductBiasParams', 'CollabNN', 'EmbeddingDotBias'])
def test_round_trip_every_kind(kind, learn, tmp_path):
    n_users, n_movies = len(learn.dls.classes['user']), len(learn.dls.classes['title'])
    set_seed(1)
    model = {'DotProduct': lambda: DotProduct(n_users, n_movies, 6), 'DotProductBias': lambda: DotProductBias(n_users, n_movies, 6),
             'DotProductBiasParams': lambda: DotProductBiasParams(n_users, n_movies, 6, y_range=(1, 5)),
             'CollabNN': lambda: CollabNN(*get_emb_sz(learn.dls), n_act=20),
             'EmbeddingDotBias': lambda: EmbeddingDotBias(6, n_users, n_movies, y_range=(0, 5.5))}[kind]()
    loaded = load_collab(save_collab(Learner(learn.dls, model, loss_func=MSELossFlat()), tmp_path/kind))
    assert type(loaded.model) is type(model) and model_spec(loaded.model) == model_spec(model)
    with torch.no_grad(): assert torch.equal(model.eval()(all_x(learn)), loaded.model(all_x(learn)))
    assert len(recommend(loaded, 3, n=4)) == 4


def test_rated_pairs_are_the_ratings(learn, ratings):
    users, titles = learn.dls.classes['user'], learn.dls.classes['title']
    decoded = {(int(users[u]), titles[i]) for u, i in rated_pairs(learn).tolist() if i}
    in_vocab = ratings[ratings.title.isin(set(titles[1:]))]
    assert len(rated_pairs(learn)) == len(ratings) and decoded == set(zip(in_vocab.user, in_vocab.title))


def test_rated_pairs_with_fastai_collab_dataloaders(ratings, tmp_path):
    dls = CollabDataLoaders.from_df(ratings, item_name='title', bs=1024, seed=0)
    pairs = rated_pairs(Learner(dls, EmbeddingDotBias(4, len(dls.classes['user']), len(dls.classes['title'])), loss_func=MSELossFlat()))
    decoded = {(int(dls.classes['user'][u]), dls.classes['title'][i]) for u, i in pairs.tolist() if i}
    in_vocab = ratings[ratings.title.isin(set(dls.classes['title'][1:]))]
    assert len(pairs) == len(ratings) and decoded == set(zip(in_vocab.user, in_vocab.title))


@pytest.mark.parametrize('loaded', [False, True])
def test_recommend_never_returns_a_rated_movie(loaded, learn, saved, ratings):
    model = load_collab(saved) if loaded else learn
    rated = ratings.groupby('user').title.agg(set)
    for user in rated.index[::4]:   # a quarter of the users, to keep the suite quick
        recs = recommend(model, user, n=20)
        assert len(recs) == 20 and not set(recs.title) & rated[user], user
        assert recs.predicted_rating.is_monotonic_decreasing


def test_recommend_is_the_best_unrated_prediction(learn, ratings):
    titles = list(learn.dls.classes['title'])
    x = torch.tensor([[7, i] for i in range(1, len(titles))])
    with torch.no_grad(): preds = pd.Series(learn.model.eval()(x).numpy(), index=titles[1:])
    best = preds.drop(list(set(ratings.title[ratings.user == 7]) & set(titles))).sort_values(ascending=False)
    recs = recommend(learn, 7, n=5)
    assert recs.title.tolist() == best.index[:5].tolist()
    np.testing.assert_allclose(recs.predicted_rating, best.to_numpy()[:5], rtol=1e-6)


def test_recommend_leaves_out_extra_ratings(learn):
    first = recommend(learn, 1, n=3).title.tolist()
    extra = pd.DataFrame({'user': [1], 'title': [first[0]]})
    assert first[0] not in recommend(learn, 1, n=3, ratings=extra).title.values
    with pytest.raises(ValueError, match="ratings has no column 'title'"): recommend(learn, 1, ratings=extra[['user']])


def test_unknown_user_and_cold_start(learn):
    with pytest.raises(KeyError, match='user 99999 is not in the training data.*cold_start=True'): recommend(learn, 99999)
    with pytest.raises(KeyError, match='its user ids are int, not str'): recommend(learn, '1')
    row0 = learn.model.user_factors.weight[0].detach().clone()
    cold = recommend(learn, 99999, n=5, cold_start=True)
    assert torch.equal(learn.model.user_factors.weight[0], row0)   # done on a copy of the model
    t = collab_tables(learn.model)
    score = t['movie_factors'] @ t['user_factors'][1:].mean(0) + t['user_bias'][1:].mean() + t['movie_bias']
    score[0] = -np.inf
    assert cold.title.tolist() == [learn.dls.classes['title'][i] for i in score.topk(5).indices]
    assert recommend(learn, 1, n=5, cold_start=True).equals(recommend(learn, 1, n=5))   # a known user is unaffected


def test_similar_movies_never_returns_the_query(learn):
    titles = list(learn.dls.classes['title'])
    for title in titles[1::40]:
        for min_ratings in (0, 30):
            sims = similar_movies(learn, title, n=15, min_ratings=min_ratings)
            assert title not in sims.title.values and '#na#' not in sims.title.values and len(sims) == 15
            assert sims.similarity.is_monotonic_decreasing


def test_similar_movies_min_ratings(learn):
    counts = torch.bincount(rated_pairs(learn)[:, 1], minlength=len(learn.dls.classes['title']))
    o2i = {t: i for i, t in enumerate(learn.dls.classes['title'])}
    sims = similar_movies(learn, learn.dls.classes['title'][10], n=50, min_ratings=40)
    assert all(counts[o2i[t]] >= 40 for t in sims.title)
    with pytest.raises(ValueError, match='min_ratings must be a whole number'): similar_movies(learn, learn.dls.classes['title'][10], min_ratings=-1)


def test_unknown_title_lists_close_matches(learn):
    title = learn.dls.classes['title'][100]
    with pytest.raises(KeyError, match=re.escape(f"the closest are {title!r}")):
        similar_movies(learn, title.lower().replace(' (', ' ').rstrip(')'))
    with pytest.raises(KeyError, match='no title is close to it'): similar_movies(learn, 'zzzz qqqq')
    with pytest.raises(ValueError, match='n must be a whole number, at least 1, got 0'): similar_movies(learn, title, n=0)


def test_save_refuses_an_unknown_model(learn, tmp_path):
    with pytest.raises(TypeError, match='cannot describe a Linear'): save_collab(Learner(learn.dls, torch.nn.Linear(2, 1), loss_func=MSELossFlat()), tmp_path)


def damage(saved, tmp_path, change):
    folder = tmp_path/'model'
    shutil.copytree(saved, folder)
    change(folder)
    return folder


def edit_weights(edit):
    def change(folder):
        w = load_file(folder/WEIGHTS); edit(w); save_file(w, folder/WEIGHTS)
    return change


def edit_json(edit):
    def change(folder):
        info = json.loads((folder/INFO).read_text()); edit(info); (folder/INFO).write_text(json.dumps(info))
    return change


CORRUPTIONS = {
    'missing key': (edit_weights(lambda w: w.pop('user_bias.weight')), 'missing user_bias.weight'),
    'extra key': (edit_weights(lambda w: w.update(extra=torch.zeros(2))), 'unexpected extra'),
    'wrong shape': (edit_weights(lambda w: w.update({'movie_factors.weight': w['movie_factors.weight'][:-1].contiguous()})),
                    'movie_factors.weight has shape'),
    'wrong dtype': (edit_weights(lambda w: w.update({'user_bias.weight': w['user_bias.weight'].double()})), 'is torch.float64, the model needs torch.float32'),
    'truncated weights': (lambda f: (f/WEIGHTS).write_bytes((f/WEIGHTS).read_bytes()[:-100]), 'not a complete safetensors file'),
    'empty weights': (lambda f: (f/WEIGHTS).write_bytes(b''), 'not a complete safetensors file'),
    'json of another size': (edit_json(lambda i: i['args'].update(n_factors=12)), 'the model needs (944, 12)'),
    'json of another kind': (edit_json(lambda i: i.update(kind='DotProduct')), 'unexpected movie_bias.weight'),
    'json vocab too short': (edit_json(lambda i: i['classes']['title'].pop()), 'do not match the vocabularies'),
    'json huge table': (edit_json(lambda i: i['args'].update(n_users=10**9)), 'n_users=1000000000 do not match the vocabularies (944 users'),
    'json list in vocab': (edit_json(lambda i: i['classes']['user'].__setitem__(3, [1])), 'the user vocabulary holds something other than ids'),
    'json other format': (edit_json(lambda i: i.update(format='pickle')), "this collab_nbdev reads format 'collab_nbdev' version 1"),
    'json vocab repeated': (edit_json(lambda i: i['classes']['user'].__setitem__(2, 1)), 'the user vocabulary has repeated entries'),
    'json missing kind': (edit_json(lambda i: i.pop('kind')), "no 'kind' field"),
    'json unknown kind': (edit_json(lambda i: i.update(kind='SVD')), "unknown model kind 'SVD'"),
    'json bad args': (edit_json(lambda i: i['args'].update(y_range=[5, 1])), 'y_range must be (low, high) with low < high'),
    'json not json': (lambda f: (f/INFO).write_text('{"kind": '), 'not valid JSON'),
    'json a list': (lambda f: (f/INFO).write_text('[]'), 'expected a JSON object'),
    'rated out of range': (lambda f: save_file({'rated': torch.tensor([[1, 99999]], dtype=torch.int32)}, f/RATED), 'an index lies outside'),
    'rated floats': (lambda f: save_file({'rated': torch.zeros(3, 2)}, f/RATED), "expected a 'rated' tensor"),
}


@pytest.mark.parametrize('name', list(CORRUPTIONS))
def test_load_refuses_a_damaged_folder(name, saved, tmp_path):
    change, message = CORRUPTIONS[name]
    folder = damage(saved, tmp_path, change)
    with pytest.raises(ValueError) as e: load_collab(folder)
    assert message in str(e.value) and str(folder) in str(e.value), str(e.value)


@pytest.mark.parametrize('missing', [WEIGHTS, INFO, RATED])
def test_load_names_a_missing_file(missing, saved, tmp_path):
    folder = damage(saved, tmp_path, lambda f: (f/missing).unlink())
    with pytest.raises(FileNotFoundError, match=f'{missing} does not exist'): load_collab(folder)


def test_load_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a folder'): load_collab(tmp_path/'nothing')


class Payload:
    def __init__(self, path): self.path = path
    def __reduce__(self): return (Path.touch, (self.path,))


def test_load_never_unpickles(saved, tmp_path):
    marker = tmp_path/'payload_ran'
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()   # the payload works when unpickled...
    marker.unlink()
    for name in (WEIGHTS, RATED):
        folder = damage(saved, tmp_path/name, lambda f: (f/name).write_bytes(pickle.dumps(Payload(marker))))
        with pytest.raises(ValueError, match='not a complete safetensors file'): load_collab(folder)
    torch.save({'x': Payload(marker)}, tmp_path/'torch.pt')   # a torch.save file in place of the weights
    folder = damage(saved, tmp_path/'torch', lambda f: shutil.copy(tmp_path/'torch.pt', f/WEIGHTS))
    with pytest.raises(ValueError): load_collab(folder)
    assert not marker.exists()   # ...and load_collab never ran it


def test_recommend_refuses_unknown_titles_in_ratings(learn):
    typo = pd.DataFrame({'user': [5000], 'title': ['Not A Real Title (1931)'], 'rating': [5]})
    with pytest.raises(KeyError, match="'Not A Real Title \\(1931\\)' in ratings is not in the model's vocabulary"):
        recommend(learn, 5000, ratings=typo, cold_start=True)
