"The synthetic stand-in: ML-100K's shape and histogram, planted values, the same bytes for the same seed"
import numpy as np
from collab_nbdev.data import (synthetic_movielens, load_ratings, load_movies, load_users, load_planted, is_synthetic,
                               REAL_STAR_SHARES)


def test_shape_and_histogram(synthetic_path):
    r = load_ratings(synthetic_path)
    assert r.shape == (100_000, 4)
    assert (r.user.nunique(), r.movie.nunique()) == (943, 1682)
    assert not r.duplicated(['user', 'movie']).any()
    shares = r.rating.value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, REAL_STAR_SHARES, atol=1e-4)
    per_user, per_movie = r.user.value_counts(), r.movie.value_counts()
    assert per_user.min() >= 20 and 50 <= per_user.median() <= 80 and per_user.max() <= 740
    assert 15 <= per_movie.median() <= 40 and 250 <= (per_movie < 5).sum() <= 420  # a long tail like ML-100K's
    assert len(load_movies(synthetic_path)) == 1682 and len(load_users(synthetic_path)) == 943


def test_planted(synthetic_path):
    p = load_planted(synthetic_path)
    assert p['user_factors'].shape == (943, 5) and p['movie_factors'].shape == (1682, 5)
    assert p['user_bias'].shape == (943,) and p['movie_bias'].shape == (1682,)
    r = load_ratings(synthetic_path)
    counts, means = r.movie.value_counts(), r.groupby('movie').rating.mean()
    busy = means.index[counts.reindex(means.index) >= 10]
    assert np.corrcoef(p['movie_bias'][busy - 1], means[busy])[0, 1] > 0.8  # ratings follow the planted biases


def test_deterministic(synthetic_path, tmp_path):
    again, other = synthetic_movielens(tmp_path/'again'), synthetic_movielens(tmp_path/'other', seed=7)
    for f in ('u.data', 'u.item', 'u.user'): assert (again/f).read_bytes() == (synthetic_path/f).read_bytes()
    assert (other/'u.data').read_bytes() != (synthetic_path/'u.data').read_bytes()
    assert is_synthetic(again)
