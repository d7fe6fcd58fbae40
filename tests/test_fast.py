"FastCollabDataLoaders and permutation_sampling: every training rating once per epoch, drop-in for CollabDataLoaders"
import warnings
import numpy as np
import pandas as pd
import pytest
import torch
from fastai.collab import CollabDataLoaders, collab_learner, EmbeddingDotBias
from fastai.learner import Learner
from fastai.losses import MSELossFlat, BaseLoss
from fastai.torch_core import set_seed
from collab_nbdev.data import load_titled_ratings
from fastai.callback.core import Callback, CancelStepException
from fastai.collab import EmbeddingNN
from fastai.optimizer import Adam
from collab_nbdev.fast import FastCollabDataLoaders, permutation_sampling, FastLearner, FusedAdam, flat_mse


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
    (dict(val_bs=0), 'val_bs must be a positive integer, got 0'),
    (dict(val_bs=2.5), 'val_bs must be a positive integer, got 2.5'),
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


def test_val_bs_and_unknown_options(small):
    dls = FastCollabDataLoaders.from_df(small, bs=16, val_bs=100, seed=0)
    assert dls.train.bs == 16 and [len(x) for x, y in dls.valid] == [100, 20]
    assert FastCollabDataLoaders.from_df(small, bs=16).valid.bs == 16  # fastai's default: val_bs = bs
    with pytest.raises(TypeError, match="unexpected keyword argument 'shuffle'"):  # fastai's DataLoader would ignore it silently
        FastCollabDataLoaders.from_df(small, shuffle=False)


def test_flat_mse_is_mse_loss_flat():
    pred, targ = torch.randn(64), torch.randint(1, 6, (64, 1)).float()
    assert torch.equal(flat_mse(pred, targ), MSELossFlat()(pred, targ))
    assert torch.equal(flat_mse(pred[:, None], targ), MSELossFlat()(pred[:, None], targ))
    assert torch.equal(flat_mse(pred, targ.long()), MSELossFlat()(pred, targ.long()))
    with pytest.raises(ValueError, match='64 predictions but 32 targets'): flat_mse(pred, targ[:32])


class EventLog(Callback):
    "Append the events it handles, with its name, to a shared `log`"
    def __init__(self, name, order, log): self.name_, self.order, self.log = name, order, log
    def before_fit(self): self.log.append((self.name_, 'before_fit'))
    def after_loss(self): self.log.append((self.name_, 'after_loss', self.iter, self.training))
    def after_step(self): self.log.append((self.name_, 'after_step', self.iter))
    def after_fit(self): self.log.append((self.name_, 'after_fit'))


class SeesEverything(Callback):
    "Counts every event through its own `__call__`, as fastai's `VerboseCallback` does"
    def __init__(self): self.count = 0
    def __call__(self, event_name): self.count += 1


class OnlyFirstBatch(Callback):
    "Switches itself off after the first batch; `after_fit` must switch it back on though it has no `after_fit`"
    def __init__(self): self.batches = 0
    def before_batch(self): self.batches += 1; self.run = False


class SkipSomeSteps(Callback):
    def before_step(self):
        if self.iter % 3 == 0: raise CancelStepException


def two_group_splitter(m): return [list(m.embeds.parameters()), [p for n, p in m.named_parameters() if not n.startswith('embeds')]]


def book_learner(dls, model, **kwargs): return Learner(dls, model, loss_func=MSELossFlat(), opt_func=Adam, **kwargs)


def train(small, make_learner, seed, lr=5e-3, splitter=None):
    "What two seeded one-cycle fits of a small EmbeddingNN (BatchNorm, Linear biases) leave behind"
    dls = FastCollabDataLoaders.from_df(small, bs=32, seed=seed)
    set_seed(seed)
    model = EmbeddingNN([(len(v), 6) for v in dls.classes.values()], layers=[12], y_range=(0, 5.5))
    log, everything, first = [], SeesEverything(), OnlyFirstBatch()
    cbs = [EventLog('late', 20, log), EventLog('early', 5, log), everything, first, SkipSomeSteps()]
    learn = make_learner(dls, model, cbs=cbs, **({} if splitter is None else {'splitter': splitter}))
    values = []  # each epoch's train and valid loss, kept before `get_preds` resets the recorder
    with learn.no_bar(), learn.no_logging():
        for _ in range(2): learn.fit_one_cycle(2, lr, wd=0.1); values += learn.recorder.values
        losses = learn.get_preds(with_loss=True)[2]
    weights = [t.clone() for t in learn.model.state_dict().values()]
    return values, log, (everything.count, first.batches, first.run), weights, losses


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_fast_learner_changes_nothing(small, seed):
    "FastLearner as it comes against the chapter's Learner + MSELossFlat + Adam: the same events, losses and weights, bit for bit"
    values, log, counts, weights, losses = train(small, book_learner, seed)
    f_values, f_log, f_counts, f_weights, f_losses = train(small, FastLearner, seed)
    assert f_values == values and f_log == log and f_counts == counts and torch.equal(f_losses, losses)
    assert all(torch.equal(a, b) for a, b in zip(f_weights, weights))
    assert log[:2] == [('early', 'before_fit'), ('late', 'before_fit')] and log[-1] == ('late', 'after_fit')  # by `order`, not by adding
    assert counts[1:] == (3, True) and counts[0] > 500  # one batch per fit and one in get_preds; every event seen
    assert losses.shape == (120,) and len(values) == 4 and len(values[0]) == 2  # 2 fits of 2 epochs: train and valid loss each
    other = train(small, FastLearner, seed + 10)[3]
    assert not all(torch.equal(a, b) for a, b in zip(f_weights, other))  # the comparison can fail


def test_fused_adam_with_two_parameter_groups(small):
    "Discriminative learning rates: a slice gives each parameter group its own lr, which FusedAdam must read per group"
    _, _, _, weights, _ = train(small, book_learner, 0, lr=slice(1e-3, 1e-2), splitter=two_group_splitter)
    _, _, _, f_weights, _ = train(small, FastLearner, 0, lr=slice(1e-3, 1e-2), splitter=two_group_splitter)
    assert all(torch.equal(a, b) for a, b in zip(f_weights, weights))


def test_fast_learner_callbacks_come_and_go(small):
    dls = FastCollabDataLoaders.from_df(small, bs=32, seed=0)
    learn = FastLearner(dls, EmbeddingDotBias.from_classes(4, dls.classes, y_range=(0, 5.5)))
    assert learn.loss_func is flat_mse and learn.opt_func is FusedAdam
    with learn.no_bar(), learn.no_logging(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert 1e-7 < learn.lr_find(show_plot=False).valley < 10
        log = []; cb = EventLog('added', 5, log); learn.add_cb(cb); learn.fit(1, 1e-3)
        assert log[0] == ('added', 'before_fit') and log[-1] == ('added', 'after_fit')
        n_logged = len(log)
        learn.remove_cb(cb); learn.fit(1, 1e-3)
        assert len(log) == n_logged  # removed: sent nothing more
        preds, targs = learn.get_preds()
    assert preds.shape == (120,)
    assert learn._handlers is None or all(type(c).__name__ != 'GatherPredsCallback' for cbs in learn._handlers.values() for c in cbs)
    with pytest.raises(Exception, match='missing before_nothing'): learn('before_nothing')
    with pytest.raises(NotImplementedError, match='closure'): learn.opt.step(closure=lambda: 0)


def test_fast_learner_takes_other_loss_and_optimiser(small):
    dls = FastCollabDataLoaders.from_df(small, bs=32, seed=0)
    learn = FastLearner(dls, EmbeddingDotBias.from_classes(4, dls.classes), MSELossFlat(), Adam)
    assert isinstance(learn.loss_func, BaseLoss) and learn.opt_func is Adam
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert type(learn.opt).__name__ == 'Optimizer'
