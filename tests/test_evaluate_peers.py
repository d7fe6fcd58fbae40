"The other libraries of 07_evaluate (the optional `bench` extra): measured on u1 beside the chapter's recipe, and a clear error without them"
import importlib
import pytest
import collab_nbdev.evaluate as evaluate
from collab_nbdev.evaluate import evaluate_folds, peer_makers


def test_missing_extra_says_how_to_install(monkeypatch):
    real = importlib.import_module
    def no_surprise(name, *args):
        if name == 'surprise': raise ImportError("No module named 'surprise'")
        return real(name, *args)
    monkeypatch.setattr(evaluate.importlib, 'import_module', no_surprise)
    with pytest.raises(ImportError, match=r"surprise is missing: it comes from the 'scikit-surprise' package of collab_nbdev's optional `bench` extra; "
                                          r"install it with pip install -e \"\.\[bench\]\""):
        peer_makers()


def test_peers_on_u1(real_path):
    pytest.importorskip('surprise', reason="scikit-surprise is not installed: the peers come with the optional extra, pip install -e '.[bench]'")
    pytest.importorskip('cornac', reason="cornac is not installed: the peers come with the optional extra, pip install -e '.[bench]'")
    fast = {k: v for k, v in peer_makers().items() if k in ('Surprise BaselineOnly', 'Surprise SVD', 'cornac MF', 'cornac PMF')}
    res = evaluate_folds(fast, folds='u1', path=real_path).set_index('model')
    assert list(res.index) == list(fast)
    assert ((res.rmse > 0.9) & (res.rmse < 0.97)).all(), res.rmse  # the libraries' classic models at their defaults, on u1
    assert (res.unseen == 32).all() and (res.n_test == 20_000).all()
    assert (res.fit_s > 0).all() and (res.predict_s > 0).all()
    # cornac's own guess for the 32 unseen ratings is the training mean, not the shared one: the two RMSEs differ for cornac only
    assert (res.loc[['cornac MF', 'cornac PMF']].own_rmse != res.loc[['cornac MF', 'cornac PMF']].rmse).all()
