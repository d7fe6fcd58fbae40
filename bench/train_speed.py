"""Training speed on this machine: the book's loaders, the fast loaders and a plain PyTorch loop, side by side.

Same data (ML-100K, titles, seeded 20% split), same model (the chapter's DotProductBias: fastai's EmbeddingDotBias, 50 factors,
y_range (0, 5.5)), same recipe (5 epochs of one-cycle at lr 5e-3, wd 0.1, bs 64). Each is run 3 times; the table shows the median
seconds, the ratio to the plain loop, and the valid MSE of each run. It is a measurement, not a test: nothing here asserts a time.

Run: python bench/train_speed.py [--runs 3]
"""
import argparse, math, os, platform, statistics, time, warnings
from functools import partial
warnings.filterwarnings('ignore', message='.*torch.jit.script.*')
warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
import torch
import torch.nn.functional as F
from fastai.collab import CollabDataLoaders, collab_learner, EmbeddingDotBias
from fastai.torch_core import set_seed
from collab_nbdev.data import movielens_path, load_titled_ratings
from fastai.optimizer import OptimWrapper
from collab_nbdev.fast import FastCollabDataLoaders

EPOCHS, LR, WD, BS, N_FACTORS, Y_RANGE = 5, 5e-3, 0.1, 64, 50, (0, 5.5)


def fused_adamw(params, lr=1e-3, mom=0.9, sqr_mom=0.99, eps=1e-5, wd=0.01):
    "fastai's Adam arithmetic (decoupled wd, eps 1e-5, beta2 0.99) as PyTorch's fused AdamW, for (b2)"
    return OptimWrapper(params, partial(torch.optim.AdamW, foreach=True), lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd)


def learner_run(dls, epochs=EPOCHS, lr=LR, **kwargs):
    "Seconds and valid MSE of `fit_one_cycle` through a fastai `Learner` on `dls`"
    set_seed(42)
    learn = collab_learner(dls, n_factors=N_FACTORS, y_range=Y_RANGE, **kwargs)
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, lr, wd=WD)
        seconds = time.perf_counter() - start
        return seconds, learn.validate()[0]


def plain_run(dls, epochs=EPOCHS, lr=LR, bs=BS):
    "Seconds and valid MSE of the same model and schedule in a plain PyTorch loop over the same tensors"
    set_seed(42)
    model = EmbeddingDotBias.from_classes(N_FACTORS, dls.classes, y_range=Y_RANGE)
    x, y = dls.train.dataset.tensors
    n_batches = math.ceil(len(x) / bs)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.95, 0.99), eps=1e-5, weight_decay=WD, foreach=True)
    # fastai's one-cycle: lr/25 -> lr (cosine, first 25%) -> lr/1e5; torch's final_div_factor is relative to lr/25
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * n_batches, pct_start=0.25, div_factor=25,
                                                final_div_factor=1e5 / 25, base_momentum=0.85, max_momentum=0.95)
    vx, vy = dls.valid.dataset.tensors
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for i in range(n_batches):
            idx = order[i * bs:(i + 1) * bs]
            loss = F.mse_loss(model(x[idx]), y[idx, 0])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        model.eval()
        with torch.no_grad(): valid_mse = F.mse_loss(model(vx), vy[:, 0]).item()  # each epoch, as the Learner reports it
    return time.perf_counter() - start, valid_mse


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=3)
    args = p.parse_args()
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the first torch optimiser imports torch._dynamo (about a second): pay it before timing
    ratings = load_titled_ratings(movielens_path())
    book = lambda: CollabDataLoaders.from_df(ratings, item_name='title', bs=BS, seed=42)
    fast = lambda: FastCollabDataLoaders.from_df(ratings, item_name='title', bs=BS, seed=42)
    setups = {'(a) CollabDataLoaders + Learner': lambda: learner_run(book()),
              '(b) FastCollabDataLoaders + Learner': lambda: learner_run(fast()),
              '(b2) (b) with fused AdamW': lambda: learner_run(fast(), opt_func=fused_adamw),
              '(c) plain PyTorch loop': lambda: plain_run(fast())}
    results = {}
    for name, run in setups.items():  # interleave nothing: each setup's runs back to back, all in this one process
        results[name] = [run() for _ in range(args.runs)]
    ref = statistics.median(s for s, _ in results['(c) plain PyTorch loop'])
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads, no GPU used")
    print(f"recipe: ML-100K titles, seed-42 20% split, DotProductBias 50 factors, fit_one_cycle({EPOCHS}, {LR}, wd={WD}), bs={BS}; median of {args.runs} runs\n")
    print(f"{'setup':50} {'seconds':>8} {'vs (c)':>7}   valid MSE per run")
    for name, rs in results.items():
        secs = statistics.median(s for s, _ in rs)
        print(f"{name:50} {secs:8.1f} {secs/ref:6.2f}x   " + ' '.join(f"{m:.3f}" for _, m in rs))

    print("\nBest valid MSE within 2 s of training (fast loaders + Learner; larger batches, lr and epochs picked on the")
    print("validation set itself, so this number is optimistic and only says what is reachable quickly):")
    best = None
    for bs, lr, epochs in [(128, 5e-3, 2), (256, 1e-2, 3), (256, 1e-2, 4), (512, 1e-2, 6), (512, 2e-2, 8), (1024, 2e-2, 10)]:
        d = FastCollabDataLoaders.from_df(ratings, item_name='title', bs=bs, seed=42)
        secs, mse = learner_run(d, epochs=epochs, lr=lr)
        fits = secs <= 2.0
        print(f"  bs {bs:5}, lr {lr:g}, {epochs} epochs: {secs:4.1f}s, valid MSE {mse:.3f}{'' if fits else '  (over 2 s)'}")
        if fits and (best is None or mse < best[0]): best = (mse, bs, lr, epochs, secs)
    if best: print(f"best within 2 s: valid MSE {best[0]:.3f} (bs {best[1]}, lr {best[2]:g}, {best[3]} epochs, {best[4]:.1f}s)")
    else: print("no setting trained within 2 s on this machine")


if __name__ == '__main__': main()
