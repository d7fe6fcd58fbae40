"""Reading speed and memory at MovieLens-25M size, on this machine: a synthetic release in ML-25M's files, read by `load_movielens`.

For each size (1M, 5M and 25M ratings) a synthetic stand-in in ML-25M's exact format (`ratings.csv` with a header, half stars, `movies.csv`
with quoted UTF-8 titles) is written once into `--dir`, then read in a fresh process, so that each reading's peak memory is its own. The reading
is the whole of `load_movielens`: parsing, every check (missing values, the star scale, repeated pairs) and the titles' merge.
It prints seconds, ratings per second and the process's peak resident memory (`VmHWM`). It is a measurement: nothing here asserts a time.

Run: python bench/read_speed.py [--sizes 1000000 5000000 25000095] [--dir /tmp/collab_read_bench]
"""
import argparse, os, platform, subprocess, sys, time
from pathlib import Path

CHILD = r'''
import sys, time
from pathlib import Path
from collab_nbdev.ratings import load_movielens
start = time.perf_counter()
df = load_movielens(Path(sys.argv[1]))
seconds = time.perf_counter() - start
peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))  # kB
print(len(df), seconds, peak / 1024**2)
'''

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[1_000_000, 5_000_000, 25_000_095])
    p.add_argument('--dir', default='/tmp/collab_read_bench')
    args = p.parse_args()
    from collab_nbdev.ratings import synthetic_release
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; ML-25M's format (ratings.csv, movies.csv), read by load_movielens")
    print(f"{'ratings':>12} {'users':>8} {'movies':>7} {'file MB':>8} {'write s':>8} {'read s':>7} {'ratings/s':>12} {'peak RSS GB':>12}")
    for n in args.sizes:
        dest = Path(args.dir)/f'ml-25m-{n}'
        start = time.perf_counter()
        if not (dest/'planted.npz').is_file(): synthetic_release(dest, like='ml-25m', n_ratings=n)
        written = time.perf_counter() - start
        out = subprocess.run([sys.executable, '-c', CHILD, str(dest)], capture_output=True, text=True, check=True).stdout.split()
        rows, seconds, peak = int(out[0]), float(out[1]), float(out[2])
        import numpy as np
        with np.load(dest/'planted.npz') as f: n_users, n_movies = len(f['user_bias']), len(f['movie_bias'])
        size = (dest/'ratings.csv').stat().st_size / 1e6
        print(f"{rows:>12,} {n_users:>8,} {n_movies:>7,} {size:>8.0f} {written:>8.1f} {seconds:>7.1f} {rows/seconds:>12,.0f} {peak:>12.2f}", flush=True)

if __name__ == '__main__': main()
