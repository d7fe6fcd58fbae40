"""One process against two on this machine: `collab_train` on the sparse path, with the same global batches, side by side in one run.

Three ways to spend a 2-core CPU on the same training: one process with one torch thread (the default), one process with two threads, and two
processes of one thread each (`--nproc 2`: fastai's distributed training, torch DDP over gloo). The two-process run takes half the batch size
per process, so that every run steps through the same global batches of `--bs` ratings and trains the same model, up to the order of
floating-point additions. The data is `synthetic_release(like='ml-25m', n_ratings=N)`, written once into --data-dir and reused. Each run is a
fresh `collab_train` command; the figures are the seconds of each epoch (training and validation), timed as the epoch table's lines arrive, the
wall time of the whole command (starting Python, reading, training, saving) and the final valid MSE. It is a measurement: nothing here
asserts a time.

Run: python bench/nproc_speed.py [--size 5000000] [--epochs 3] [--bs 4096] [--data-dir /tmp/collab_read_bench]
"""
import argparse, os, platform, re, subprocess, sys, tempfile, time
import numpy as np
from pathlib import Path

EPOCH_LINE = re.compile(r' +(\d+) +(\d+\.\d{4}) +(\d+\.\d{4}) +(\d\d):(\d\d)')   # `EpochTable`: epoch, train MSE, valid MSE, mm:ss


def run(folder, epochs, bs, nproc, threads, out):
    "Train with `collab_train` once; its wall seconds, the seconds of each epoch and the final valid MSE"
    cmd = ['collab_train', '--data', str(folder), '--recipe', 'sparse', '--epochs', str(epochs), '--bs', str(bs // nproc),
           '--nproc', str(nproc), '--threads', str(threads), '--lists', 'none', '--out', str(out)]   # the rating model's training alone
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True) as proc:
        # the table's own times are whole seconds: time each line as it arrives instead ('training on ...' is printed just before `fit`)
        lines = [(time.perf_counter(), line.rstrip('\n')) for line in proc.stdout]
        if proc.wait():
            err.seek(0)
            sys.exit(f"{' '.join(cmd)} failed:\n{err.read().decode(errors='replace')}")
    wall = time.perf_counter() - start
    fit_start = next(t for t, line in lines if line.startswith('training on'))
    rows = [(t, m.groups()) for t, m in ((t, EPOCH_LINE.fullmatch(line)) for t, line in lines) if m]
    if len(rows) != epochs: sys.exit(f"expected {epochs} lines in the epoch table of {' '.join(cmd)}, found {len(rows)}")
    times = [t for t, _ in rows]
    return wall, np.diff([fit_start, *times]).tolist(), float(rows[-1][1][2])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=5_000_000, help="ratings in the synthetic data set")
    p.add_argument('--epochs', type=int, default=3)
    p.add_argument('--bs', type=int, default=4096, help="the global batch size: per process, bs / processes")
    p.add_argument('--data-dir', default='/tmp/collab_read_bench', help="where the synthetic folders are (written there when missing)")
    args = p.parse_args()
    from collab_nbdev.ratings import synthetic_release
    folder = Path(args.data_dir)/f'ml-25m-{args.size}'
    if not (folder/'planted.npz').is_file(): synthetic_release(folder, like='ml-25m', n_ratings=args.size)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; collab_train --recipe sparse on {args.size:,} synthetic ratings, "
          f"{args.epochs} epochs, global batches of {args.bs:,}\n")
    print(f"{'setting':<34} {'s/epoch':>8} {'vs one':>6} {'wall s':>7} {'valid MSE':>9}")
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for name, nproc, threads in [('1 process, 1 thread (the default)', 1, 1), ('1 process, 2 threads', 1, 2),
                                     ('2 processes, 1 thread each (DDP)', 2, 1)]:
            wall, epochs, mse = run(folder, args.epochs, args.bs, nproc, threads, Path(tmp)/name.replace(' ', '_'))
            per_epoch = sum(epochs) / len(epochs)
            first = first or per_epoch
            print(f"{name:<34} {per_epoch:>8.2f} {per_epoch / first:>6.2f} {wall:>7.1f} {mse:>9.4f}", flush=True)
    print("\ns/epoch: mean over epochs of the time from one line of the epoch table to the next (training and validation);"
          "\nvs one: against the first row; wall s: the whole command, starting Python and reading the ratings included")


if __name__ == '__main__':
    main()
