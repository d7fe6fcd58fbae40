"""Training at MovieLens-25M's size on this machine: the sparse path (sparse embeddings, `LazyAdam`, `LARGE_RECIPE`) at 1M, 5M and 25M ratings.

Each size runs in a fresh process, so that its peak memory (the process's maximum resident set size, reading included, and the ~0.5 GB of
importing torch and fastai) is its own. The data is `synthetic_release(like='ml-25m', n_ratings=N)`: ML-25M's exact files, with planted
factors and biases, written once into --data-dir and reused. Each run reads the ratings with `load_movielens`, splits them 80/20 with seed 42,
trains the chapter's DotProductBias (50 factors) for the recipe's epochs of `fit_one_cycle`, and reports per epoch the seconds and the training
ratings per second, then the valid MSE and how well the planted biases were recovered: the Pearson correlation of the learned and planted
biases over the users and items with at least 10 training ratings. The planted ratings carry noise, so a valid MSE near the noise's variance is
the floor. It is a measurement, not a test: nothing here asserts a time.

Run: python bench/scale_speed.py [--sizes 1000000 5000000 25000095] [--data-dir /tmp/collab_read_bench] [--threads 1] [--device cpu]
"""
import argparse, json, os, platform, resource, subprocess, sys, time, warnings
from pathlib import Path


def one(folder, threads, device, epochs=None):
    "Train on one folder, in this process; print one JSON line of figures"
    import numpy as np, torch
    from collab_nbdev.core import set_seed, Callback
    from collab_nbdev.ratings import load_movielens
    from collab_nbdev.loaders import FastCollabDataLoaders
    from collab_nbdev.registry import DotProductBias
    from collab_nbdev.scale import LARGE_RECIPE, sparse_learner, planted_recovery
    torch.set_num_threads(threads)
    start = time.perf_counter()
    ratings = load_movielens(folder)
    read_s = time.perf_counter() - start
    recipe = {**LARGE_RECIPE, **({} if epochs is None else dict(epochs=epochs))}
    start = time.perf_counter()
    dls = FastCollabDataLoaders.from_df(ratings[['user', 'item', 'rating']], seed=42, bs=recipe['bs'], val_bs=65536, device=device)
    n_ratings = len(ratings)
    del ratings   # the tensors hold what training needs
    loaders_s = time.perf_counter() - start
    set_seed(42)
    learn = sparse_learner(dls, DotProductBias.from_classes(50, dls.classes))

    class EpochTimes(Callback):
        def before_fit(self): self.times = []
        def before_epoch(self): self.start = time.perf_counter()
        def after_train(self): self.times.append(time.perf_counter() - self.start)   # the training part of the epoch, without validation
    timer = EpochTimes()
    with learn.no_bar(), learn.no_logging():
        start = time.perf_counter()
        learn.fit_one_cycle(recipe['epochs'], recipe['lr'], wd=recipe['wd'], cbs=timer)
        fit_s = time.perf_counter() - start
    planted = dict(np.load(Path(folder)/'planted.npz'))
    n_train = len(dls.train.dataset)
    print(json.dumps(dict(n_ratings=n_ratings, n_users=len(dls.classes['user']) - 1, n_items=len(dls.classes['item']) - 1, n_train=n_train,
                          read_s=read_s, loaders_s=loaders_s, epoch_s=timer.times, fit_s=fit_s, valid_mse=float(learn.recorder.values[-1][1]),
                          peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, recipe=recipe,
                          **planted_recovery(learn.model, dls, planted))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[1_000_000, 5_000_000, 25_000_095])
    p.add_argument('--data-dir', default='/tmp/collab_read_bench', help="where the synthetic folders are (written there when missing)")
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--device', default='cpu')
    p.add_argument('--epochs', type=int, default=None, help="by default the recipe's")
    p.add_argument('--one', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one: return one(args.one, args.threads, args.device, args.epochs)
    import torch
    from collab_nbdev.ratings import synthetic_release
    from collab_nbdev.scale import LARGE_RECIPE
    gpu = torch.cuda.get_device_name(0) if args.device.startswith('cuda') else 'no GPU used'
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {args.threads} thread(s), device {args.device} ({gpu})")
    recipe = {**LARGE_RECIPE, **({} if args.epochs is None else dict(epochs=args.epochs))}
    print(f"recipe: DotProductBias 50 factors, sparse embeddings + LazyAdam, fit_one_cycle({recipe['epochs']}, {recipe['lr']}, wd={recipe['wd']}), "
          f"bs {recipe['bs']}; 80/20 split, seed 42; synthetic ML-25M-format data with planted factors\n")
    print(f"{'ratings':>11} {'users':>8} {'items':>7} {'read s':>6} {'split s':>7} {'s/epoch':>8} {'ratings/s':>10} {'train s':>7} "
          f"{'valid MSE':>9} {'peak RSS':>8} {'user r':>6} {'item r':>6}")
    for n in args.sizes:
        folder = Path(args.data_dir)/f'ml-25m-{n}'
        if not (folder/'planted.npz').is_file(): synthetic_release(folder, like='ml-25m', n_ratings=n)
        cmd = [sys.executable, __file__, '--one', str(folder), '--threads', str(args.threads), '--device', args.device]
        if args.epochs: cmd += ['--epochs', str(args.epochs)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode: sys.exit(f"the run on {folder} failed:\n{out.stderr}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        epoch = sum(r['epoch_s']) / len(r['epoch_s'])
        print(f"{r['n_ratings']:>11,} {r['n_users']:>8,} {r['n_items']:>7,} {r['read_s']:>6.1f} {r['loaders_s']:>7.1f} {epoch:>8.1f} "
              f"{r['n_train'] / epoch:>10,.0f} {sum(r['epoch_s']):>7.0f} {r['valid_mse']:>9.4f} {r['peak_rss_gb']:>6.2f}GB "
              f"{r['user bias r']:>6.3f} {r['item bias r']:>6.3f}", flush=True)
    print("\ns/epoch and ratings/s: the training part of each epoch (not validation), mean over epochs; train s: all epochs' training;"
          "\npeak RSS: the process's maximum resident memory, reading included; user r, item r: Pearson correlation of learned and planted"
          "\nbiases over users and items with at least 10 training ratings")


if __name__ == '__main__':
    warnings.filterwarnings('ignore')
    main()
