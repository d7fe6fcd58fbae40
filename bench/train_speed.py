"""Training speed on this machine: the book's loaders, the fast loaders, `FastLearner` and a plain PyTorch loop, side by side.

Same data (ML-100K, titles, the seed-42 20% split), same model (the chapter's DotProductBias: fastai's EmbeddingDotBias, 50 factors,
y_range (0, 5.5)), same recipe (5 epochs of one-cycle at lr 5e-3, wd 0.1, bs 64). Every setup validates the 20,000 held-out ratings in
one batch, as the plain loop does. Each setup runs with 3 seeds (initial weights and batch order; the split stays the same); the table
shows the median seconds, the ratio to the plain loop, and the valid MSE of each seed. It is a measurement, not a test: nothing here
asserts a time.

The plain loop builds its optimiser and scheduler before the clock starts and records no training loss; the Learners create their
optimiser inside `fit` and record a smoothed training loss every batch. Torch runs on one thread (`--threads`), the fastest for these
tiny batches on a small CPU.

Run: python bench/train_speed.py [--seeds 42 43 44] [--threads 1]
"""
import argparse, math, os, platform, statistics, time, warnings
warnings.filterwarnings('ignore', message='.*torch.jit.script.*')
warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
import torch
import torch.nn.functional as F
from fastai.collab import CollabDataLoaders, collab_learner, EmbeddingDotBias
from fastai.data.transforms import RandomSplitter
from fastai.optimizer import Adam
from fastai.torch_core import set_seed
from collab_nbdev.files import movielens_path, load_titled_ratings
from collab_nbdev.loaders import FastCollabDataLoaders, permutation_sampling
from collab_nbdev.learner import FastLearner

EPOCHS, LR, WD, BS, N_FACTORS, Y_RANGE = 5, 5e-3, 0.1, 64, 50, (0, 5.5)


def timed_fit(learn, epochs=EPOCHS, lr=LR):
    "Seconds of `fit_one_cycle` and the final valid MSE"
    with learn.no_bar(), learn.no_logging():
        start = time.perf_counter()
        learn.fit_one_cycle(epochs, lr, wd=WD)
        seconds = time.perf_counter() - start
        return seconds, learn.validate()[0]


def model(dls, seed):
    set_seed(seed)  # after the loaders are built: `RandomSplitter` reseeds torch
    return EmbeddingDotBias.from_classes(N_FACTORS, dls.classes, y_range=Y_RANGE)


def plain_run(dls, seed, epochs=EPOCHS, lr=LR, bs=BS):
    "Seconds and valid MSE of the same model and schedule in a plain PyTorch loop over the same tensors"
    m = model(dls, seed)
    x, y = dls.train.dataset.tensors
    n_batches = math.ceil(len(x) / bs)
    opt = torch.optim.AdamW(m.parameters(), lr=lr, betas=(0.95, 0.99), eps=1e-5, weight_decay=WD, foreach=True)
    # fastai's one-cycle: lr/25 -> lr (cosine, first 25%) -> lr/1e5; torch's final_div_factor is relative to lr/25
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * n_batches, pct_start=0.25, div_factor=25,
                                                final_div_factor=1e5 / 25, base_momentum=0.85, max_momentum=0.95)
    vx, vy = dls.valid.dataset.tensors
    start = time.perf_counter()
    for _ in range(epochs):
        m.train()
        order = torch.randperm(len(x))
        for i in range(n_batches):
            idx = order[i * bs:(i + 1) * bs]
            loss = F.mse_loss(m(x[idx]), y[idx, 0])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        m.eval()
        with torch.no_grad(): valid_mse = F.mse_loss(m(vx), vy[:, 0]).item()  # each epoch, as the Learner reports it
    return time.perf_counter() - start, valid_mse


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[42, 43, 44])
    p.add_argument('--threads', type=int, default=1, help="torch threads; one is fastest for batches this small on a small CPU")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the first torch optimiser imports torch._dynamo (about a second): pay it before timing
    ratings = load_titled_ratings(movielens_path())
    train_idx, valid_idx = RandomSplitter(seed=42)(range(len(ratings)))
    val_bs = len(valid_idx)

    def book(seed):
        set_seed(seed)  # the order of its batches comes from numpy's global generator
        return CollabDataLoaders.from_df(ratings, item_name='title', bs=BS, val_bs=val_bs, seed=42)
    def fast(seed): return FastCollabDataLoaders.from_dfs(ratings.iloc[train_idx], ratings.iloc[valid_idx], item_name='title',
                                                          bs=BS, val_bs=val_bs, seed=seed, duplicates='keep')
    setups = {
        '(a) CollabDataLoaders + collab_learner': lambda s: timed_fit(collab_from(book(s), s)),
        "(a') (a) with permutation_sampling": lambda s: timed_fit(collab_from(permutation_sampling(book(s)), s)),
        '(b0) FastCollabDataLoaders + collab_learner': lambda s: timed_fit(collab_from(fast(s), s)),
        '(b1) FastCollabDataLoaders + FastLearner, Adam': lambda s: (lambda d: timed_fit(FastLearner(d, model(d, s), opt_func=Adam)))(fast(s)),
        '(b) FastCollabDataLoaders + FastLearner': lambda s: (lambda d: timed_fit(FastLearner(d, model(d, s))))(fast(s)),
        '(c) plain PyTorch loop': lambda s: plain_run(fast(s), s)}
    results = {name: [] for name in setups}
    for s in args.seeds:  # setups interleaved, so that a change in the machine's load during the run falls on all of them alike
        for name, run in setups.items(): results[name].append(run(s))

    ref = statistics.median(s for s, _ in results['(c) plain PyTorch loop'])
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} thread(s), no GPU used")
    print(f"recipe: ML-100K titles, seed-42 20% split, DotProductBias {N_FACTORS} factors, fit_one_cycle({EPOCHS}, {LR}, wd={WD}), bs={BS}, "
          f"validation in one batch; seeds {' '.join(map(str, args.seeds))}\n")
    print(f"{'setup':48} {'median s':>8} {'vs (c)':>7}   valid MSE per seed   mean")
    for name, rs in results.items():
        secs, mses = statistics.median(s for s, _ in rs), [m for _, m in rs]
        print(f"{name:48} {secs:8.1f} {secs/ref:6.2f}x   {' '.join(f'{m:.3f}' for m in mses)}   {statistics.mean(mses):.4f}")

    print("\nBest valid MSE within 2 s of training (FastCollabDataLoaders + FastLearner; larger batches, lr and epochs picked on the")
    print("validation set itself, so this number is optimistic and only says what is reachable quickly):")
    best = None
    for bs, lr, epochs in [(128, 5e-3, 3), (256, 1e-2, 4), (256, 1e-2, 5), (512, 1e-2, 6), (512, 2e-2, 8), (1024, 2e-2, 10)]:
        d = FastCollabDataLoaders.from_dfs(ratings.iloc[train_idx], ratings.iloc[valid_idx], item_name='title', bs=bs, val_bs=val_bs, seed=42, duplicates='keep')
        secs, mse = timed_fit(FastLearner(d, model(d, 42)), epochs=epochs, lr=lr)
        fits = secs <= 2.0
        print(f"  bs {bs:5}, lr {lr:g}, {epochs:2} epochs: {secs:4.1f}s, valid MSE {mse:.3f}{'' if fits else '  (over 2 s)'}")
        if fits and (best is None or mse < best[0]): best = (mse, bs, lr, epochs, secs)
    if best: print(f"best within 2 s: valid MSE {best[0]:.3f} (bs {best[1]}, lr {best[2]:g}, {best[3]} epochs, {best[4]:.1f}s)")
    else: print("no setting trained within 2 s on this machine")


def collab_from(dls, seed):
    "`collab_learner` as the book calls it, its weights seeded after the loaders are built"
    set_seed(seed)  # after the loaders are built: `RandomSplitter` reseeds torch
    return collab_learner(dls, n_factors=N_FACTORS, y_range=Y_RANGE)


if __name__ == '__main__': main()
