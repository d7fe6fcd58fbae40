"""Serving speed: `collab_serve` under 8 concurrent clients on loopback, for a known user's list and for a new user's ratings.

For each model it starts `collab_serve --model DIR --port 0` in its own process, sends 100 requests of a kind to warm it up, then
`--requests` more from `--clients` threads, each with its own keep-alive connection, and reports requests per second, the 50th and 99th
percentile and the largest latency, the requests that failed (an HTTP status other than 200, or no answer), and the server's resident memory
(RSS) when the measured requests start, when they end, and the largest seen (sampled every 100 requests), to show whether it stays flat.

- `known`: `GET /api/recommend?user=ID&n=10`, the user drawn at random from the model's users;
- `new`: `POST /api/recommend` with 10 ratings from 1 to 5, of items drawn from the 500 most rated, folded in without retraining.

The models:
- `100k`: the chapter's DotProductBias trained on the real MovieLens 100K by `collab_train` (the book's recipe), into --work-dir, or the
  folder --model-100k names;
- `25m`: a DotProductBias with MovieLens 25M's table sizes (162,541 users, 59,047 items, 50 factors) and 25,000,095 rated pairs, drawn at
  random (each user at least 20, items by a long-tailed popularity), saved with `save_collab`. It is NOT trained: its weights are random.
  That does not change the cost of a request, which is the same arithmetic on tables of the same size;
- `small`: the same, at 2,000 users, 1,000 items and 50,000 pairs, to check in seconds that the script works.

The clients run in this process, on the same 2 cores as the server, so the figures include their cost. It is a measurement: nothing here
asserts a time. Check `uptime` first: another process on the machine slows both.

Run: python bench/serve_speed.py [--sizes 100k 25m] [--requests 2000] [--clients 8] [--work-dir /tmp/collab_serve_bench]
"""
import argparse, http.client, json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path
import numpy as np
import psutil

SIZES = {'small': (2_000, 1_000, 50_000), '25m': (162_541, 59_047, 25_000_095)}   # users, items, rated pairs (ML-25M's)
SERVE = [sys.executable, '-c', 'from collab_nbdev.serve import collab_serve; collab_serve()']   # what the console script runs


def synthetic_model(path:Path, n_users:int, n_items:int, n_pairs:int, seed:int=0) -> Path:
    "An untrained DotProductBias of this size with random rated pairs, saved by `save_collab` into `path` (once)"
    if (path/'collab.json').is_file(): return path
    import torch
    from collab_nbdev.models import DotProductBias
    from collab_nbdev.persist import LoadedCollab, save_collab
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    model = DotProductBias(n_users + 1, n_items + 1, 50)
    with torch.no_grad():
        for table, std in ((model.user_factors, 0.1), (model.movie_factors, 0.1), (model.user_bias, 0.3), (model.movie_bias, 0.3)):
            table.weight.normal_(0, std, generator=gen)
    per_user = 20 + rng.exponential(1.0, n_users)   # at least 20 ratings each, as in MovieLens, and a long tail
    per_user = (20 + (per_user - 20) * (n_pairs - 20 * n_users) / (per_user - 20).sum()).astype(np.int64)
    per_user[:n_pairs - per_user.sum()] += 1   # exactly n_pairs
    popularity = torch.tensor(1 / (np.arange(n_items) + 10.0))   # a long tail: the 10th item twice as rated as the 30th
    items = torch.multinomial(popularity, n_pairs, replacement=True, generator=gen) + 1
    users = torch.repeat_interleave(torch.arange(1, n_users + 1), torch.tensor(per_user))
    classes = {'user': ['#na#', *range(1, n_users + 1)], 'title': ['#na#', *(f'Synthetic Item {i:05d} (2000)' for i in range(1, n_items + 1))]}
    save_collab(LoadedCollab(model.eval(), classes, torch.stack([users, items], 1), {}, path), path,
                training=dict(note='not trained: random weights, for timing'))
    return path


def trained_100k(path:Path) -> Path:
    "The chapter's model trained on the real ML-100K by `collab_train`, into `path` (once)"
    if not (path/'collab.json').is_file():
        subprocess.run([sys.executable, '-c', 'from collab_nbdev.cli import collab_train; collab_train()', '--lists', 'none', '--out', str(path)],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def start(model:Path, log:Path, threads:int=None):
    "`collab_serve` on a free port of 127.0.0.1: its process and its port, once it answers `/health`"
    env = os.environ if threads is None else {**os.environ, 'OMP_NUM_THREADS': str(threads)}
    proc = subprocess.Popen([*SERVE, '--model', str(model), '--port', '0'], stdout=log.open('w'), stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        line = next((l for l in log.read_text().splitlines() if l.startswith('serving on ')), None)
        if line:
            port = int(line.split()[2].rstrip('/').rsplit(':', 1)[1])
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
            conn.request('GET', '/health')
            if conn.getresponse().status == 200: return proc, port
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f'collab_serve did not start:\n{log.read_text()}')


def requests_for(kind:str, info:dict, count:int, seed:int) -> list:
    "`count` requests of `kind`, as (method, path, body), drawn at random from the model's users and most rated items"
    rng = np.random.default_rng(seed)
    (user_name, users), (item_name, items) = info['classes'].items()
    if kind == 'known': return [('GET', f'/api/recommend?user={users[i]}&n=10', None) for i in rng.integers(1, len(users), count)]
    top = info['popular']
    return [('POST', '/api/recommend', json.dumps({'rated': {items[j]: int(r) for j, r in zip(rng.choice(top, 10, replace=False),
                                                                                       rng.integers(1, 6, 10))}, 'n': 10}))
            for _ in range(count)]


def load(port:int, pid:int, todo:list, clients:int, limit_s:float=600) -> dict:
    "Send `todo` from `clients` threads, each with its own keep-alive connection; latencies, failures and the server's RSS"
    server, lock, next_one, times, failures, rss = psutil.Process(pid), threading.Lock(), iter(range(len(todo))), [], [], []
    rss.append(server.memory_info().rss)
    deadline = time.perf_counter() + limit_s   # bounded in time as well as in count: it stops by itself

    def client():
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
        while time.perf_counter() < deadline:
            with lock: i = next(next_one, None)
            if i is None: break
            method, path, body = todo[i]
            start = time.perf_counter()
            try:
                conn.request(method, path, body, {'Content-Type': 'application/json'} if body else {})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException) as e:
                ok, conn = False, http.client.HTTPConnection('127.0.0.1', port, timeout=60)
            with lock:
                times.append(time.perf_counter() - start)
                if not ok: failures.append(i)
                if len(times) % 100 == 0: rss.append(server.memory_info().rss)
        conn.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - start
    rss.append(server.memory_info().rss)
    ms = np.array(times) * 1000
    return dict(requests=len(times), per_s=len(times) / wall, p50=np.percentile(ms, 50), p99=np.percentile(ms, 99), max=ms.max(),
                errors=len(failures) + len(todo) - len(times), rss=rss)


def measure(name:str, model:Path, requests:int, clients:int, work:Path) -> list:
    "Both kinds of request on one model, in one server process: a row of figures each"
    info = json.loads((model/'collab.json').read_text())
    import safetensors.numpy
    rated = safetensors.numpy.load_file(model/'rated.safetensors')['rated']
    info['popular'] = np.argsort(-np.bincount(rated[:, 1], minlength=len(list(info['classes'].values())[1])))[:500]
    proc, port = start(model, work/f'serve_{name}.log')
    rows = []
    try:
        for seed, kind in enumerate(('known', 'new')):
            warm = load(port, proc.pid, requests_for(kind, info, 100, seed + 100), clients)   # first calls, the allocator's first pools
            if warm['errors']: print(f"{name}, {kind}: {warm['errors']} of the 100 warm-up requests failed", flush=True)
            figures = load(port, proc.pid, requests_for(kind, info, requests, seed), clients)
            rows.append(dict(model=name, users=len(info['classes']['user']) - 1, items=len(list(info['classes'].values())[1]) - 1,
                             pairs=len(rated), request='known user' if kind == 'known' else 'new user, 10 ratings', **figures))
    finally:
        proc.terminate()
        proc.wait(30)
    return rows


def table(rows:list) -> str:
    "The figures, one line per model and kind of request"
    head = (f"{'model':<22}{'users':>9}{'items':>8}{'rated pairs':>13}  {'request':<22}{'requests':>9}{'req/s':>7}"
            f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'errors':>8}  RSS MB: start -> end (max)")
    lines = [head]
    for r in rows:
        start, end, peak = (v / 2**20 for v in (r['rss'][0], r['rss'][-1], max(r['rss'])))
        lines.append(f"{r['model']:<22}{r['users']:>9,}{r['items']:>8,}{r['pairs']:>13,}  {r['request']:<22}{r['requests']:>9,}"
                     f"{r['per_s']:>7.0f}{r['p50']:>8.1f}{r['p99']:>8.1f}{r['max']:>8.1f}{r['errors']:>8}  "
                     f"{start:.0f} -> {end:.0f} ({peak:.0f})")
    return '\n'.join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', nargs='+', default=['100k', '25m'], choices=['100k', '25m', 'small'])
    p.add_argument('--requests', type=int, default=2000)
    p.add_argument('--clients', type=int, default=8)
    p.add_argument('--work-dir', default=None, help='where the models and logs go (kept, and reused); a temporary folder by default')
    p.add_argument('--model-100k', default=None, help='a model folder to use for 100k instead of training one')
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        threads = os.environ.get('OMP_NUM_THREADS', "torch's default")
        print(f"{os.cpu_count()} CPU cores; the server's torch threads: {threads} (OMP_NUM_THREADS); "
              f"{args.clients} clients on loopback; load average before: {os.getloadavg()[0]:.2f}", flush=True)
        rows = []
        for size in args.sizes:
            if size == '100k': name, model = 'ML-100K (trained)', Path(args.model_100k) if args.model_100k else trained_100k(work/'ml-100k')
            else: name, model = f"{size.upper()}-size (untrained)" if size == '25m' else 'small (untrained)', synthetic_model(work/size, *SIZES[size])
            rows += measure(name, model, args.requests, args.clients, work)
        print(table(rows))
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == '__main__': main()
