"""`collab_serve` as its users meet it: a model trained by `collab_train` from a user's own ratings file (one of whose titles is
`<script>alert(1)</script>`), served by `collab_serve` in its own process on a free port of 127.0.0.1; its JSON API over HTTP, every bad
request included; the page in headless Chromium (Debian's `chromium`, driven by Playwright: the `browser` fixture of conftest.py,
which the docs site's test uses too); and a bounded load from eight clients on loopback. The browser test is skipped, saying why, where Chromium or Playwright is
missing; CI installs both."""
import http.client, json, os, signal, subprocess, sys, threading, time
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVE = [sys.executable, '-c', 'from collab_nbdev.serve import collab_serve; collab_serve()']   # what the console script runs
HOSTILE = '<script>alert(1)</script>'
HOSTILE_IMG = '<img src=x onerror=alert(2)>'   # the kind that innerHTML would run
N_ITEMS = 60


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory):
    "A user's own ratings (300 users, 60 titles, two of them HTML that runs a script) trained by `collab_train` into a model folder"
    from collab_nbdev.cli import collab_train
    tmp, rng = tmp_path_factory.mktemp('own'), np.random.default_rng(0)
    users, items = rng.normal(size=(301, 3)), rng.normal(size=(N_ITEMS + 1, 3))
    rows = [(u, i, int(np.clip(np.rint(3 + users[u] @ items[i]), 1, 5))) for u in range(1, 301)
            for i in rng.choice(np.arange(1, N_ITEMS + 1), 30, replace=False)]
    pd.DataFrame(rows, columns=['user_id', 'item_id', 'stars']).to_csv(tmp/'ratings.csv', index=False)
    titles = [{7: HOSTILE, 8: HOSTILE_IMG}.get(i, f'Film {i:02d} ({1950 + i})') for i in range(1, N_ITEMS + 1)]
    pd.DataFrame({'item_id': range(1, N_ITEMS + 1), 'name': titles}).to_csv(tmp/'titles.csv', index=False)
    collab_train(['--data', str(tmp/'ratings.csv'), '--titles', str(tmp/'titles.csv'), '--epochs', '3', '--lists', 'none', '--out', str(tmp/'model')])
    return tmp/'model'


@pytest.fixture(scope='module')
def server(model_dir, tmp_path_factory):
    "`collab_serve --model DIR --port 0` in its own process, with no data set reachable and an empty folder as its working directory"
    tmp = tmp_path_factory.mktemp('serve')
    (tmp/'cwd').mkdir(); (tmp/'fastai').mkdir()
    env = {**os.environ, 'COLLAB_NBDEV_DATA': str(tmp/'no-data-here'), 'FASTAI_HOME': str(tmp/'fastai')}
    log = tmp/'log.txt'
    proc = subprocess.Popen([*SERVE, '--model', str(model_dir), '--port', '0'], cwd=tmp/'cwd', env=env, stdout=log.open('w'),
                            stderr=subprocess.STDOUT)
    deadline, url = time.time() + 120, None
    while url is None and time.time() < deadline and proc.poll() is None:
        url = next((l.split()[2] for l in log.read_text().splitlines() if l.startswith('serving on ')), None)
        time.sleep(0.1)
    assert url, f'collab_serve did not start:\n{log.read_text()}'
    yield dict(url=url, port=int(url.rstrip('/').rsplit(':', 1)[1]), proc=proc, log=log, tmp=tmp)
    proc.send_signal(signal.SIGINT)   # Ctrl+C
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()


def call(server, method, path, body=None, headers=None, conn=None):
    "Status and JSON answer of one request to `server` (a str or dict body is sent as JSON, bytes as they are)"
    conn = conn or http.client.HTTPConnection('127.0.0.1', server['port'], timeout=30)
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    conn.request(method, path, data, {'Content-Type': 'application/json', **(headers or {})} if data is not None else headers or {})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_a_list_model(model_dir, tmp_path):
    "A folder as `collab_train` writes it by default: its list model answers with a score, which the page draws where it draws a rating"
    from fastapi.testclient import TestClient
    from collab_nbdev.cli import collab_train
    from collab_nbdev.persist import load_collab
    from collab_nbdev.serve import serve_app, SCRIPT
    data = model_dir.parent
    collab_train(['--data', str(data/'ratings.csv'), '--titles', str(data/'titles.csv'), '--epochs', '1', '--lists', 'ease', '--out', str(tmp_path/'m')])
    client = TestClient(serve_app(load_collab(tmp_path/'m')), base_url='http://127.0.0.1')
    health = client.get('/health').json()
    assert health['model'] == 'EASE' and 'rating' not in health['answers'], health
    recs = client.get('/api/recommend?user=5&n=3').json()['recommendations']
    assert len(recs) == 3 and all(list(r) == ['title', 'score'] for r in recs), recs
    new = client.post('/api/recommend', json={'rated': {'Film 01 (1951)': 5}, 'n': 3}).json()
    assert len(new['recommendations']) == 3 and 'Film 01 (1951)' not in [r['title'] for r in new['recommendations']], new
    assert '(r[score] ?? r.score)' in SCRIPT


def test_console_script_runs_collab_serve():
    "The command a user types is the function these tests run"
    assert 'collab_serve=collab_nbdev.serve:collab_serve' in (ROOT/'settings.ini').read_text()


def test_answers(server, model_dir):
    "Each endpoint answers JSON: a known user's list without what they rated, a new user's, neighbours, a search"
    from collab_nbdev.persist import load_collab
    from collab_nbdev.recommend import rated_items, user_index
    learn = load_collab(model_dir)
    titles = learn.classes['title']
    status, info = call(server, 'GET', '/health')
    assert (status, info['model'], info['users'], info['items'], info['item_name']) == (200, 'DotProductBias', 300, N_ITEMS, 'title')
    assert (info['max_n'], info['max_body'], info['answers']) == (100, 65536, ['rating', 'top_n', 'fold_in', 'similar'])
    status, answer = call(server, 'GET', '/api/recommend?user=5&n=100')
    theirs = {titles[i] for i in rated_items(learn, user_index(learn.classes['user'], 5)).tolist()}
    got = [r['title'] for r in answer['recommendations']]
    assert status == 200 and answer['user'] == 5 and len(got) == N_ITEMS - len(theirs) and not set(got) & theirs
    scores = [r['predicted_rating'] for r in answer['recommendations']]
    assert scores == sorted(scores, reverse=True)
    rated = {'Film 01 (1951)': 5, 'Film 02 (1952)': 1, HOSTILE: 4}
    status, answer = call(server, 'POST', '/api/recommend', {'rated': rated, 'n': 5})
    assert status == 200 and answer['rated'] == rated and len(answer['recommendations']) == 5
    assert not set(rated) & {r['title'] for r in answer['recommendations']}
    status, answer = call(server, 'GET', '/api/similar?item=Film%2003%20(1953)&n=4')
    assert status == 200 and len(answer['similar']) == 4 and 'Film 03 (1953)' not in [r['title'] for r in answer['similar']]
    status, answer = call(server, 'GET', '/api/items?q=SCRIPT')
    assert status == 200 and answer['items'][0]['title'] == HOSTILE   # data, passed on as it is: JSON is not HTML
    status, answer = call(server, 'GET', '/api/items?q=film&n=100')
    assert len(answer['items']) == N_ITEMS - 2 and [r['ratings'] for r in answer['items']] == sorted([r['ratings'] for r in answer['items']], reverse=True)


BAD = [  # method, address, body, status, the start of the error
    ('GET', '/api/recommend?user=99999', None, 404, "user 99999 is not in the model's training data (300 users); POST their ratings"),
    ('GET', '/api/recommend?user=abc', None, 400, "user 'abc': this model's users are whole numbers"),
    ('GET', '/api/recommend', None, 400, 'give a user, as in /api/recommend?user=196'),
    ('GET', '/api/recommend?user=5&n=0', None, 400, "n must be a whole number from 1 to 100, got '0'"),
    ('GET', '/api/recommend?user=5&n=ten', None, 400, "n must be a whole number from 1 to 100, got 'ten'"),
    ('GET', '/api/recommend?user=5&n=101', None, 400, "n must be a whole number from 1 to 100, got '101'"),
    ('GET', '/api/recommend?user=5&n=-3', None, 400, "n must be a whole number from 1 to 100, got '-3'"),
    ('GET', '/api/similar?item=Film%2003', None, 404, "title 'Film 03' is not in the training data: the closest are 'Film 03 (1953)'"),
    ('GET', '/api/similar?item=Film%2003%20(1953)&n=0', None, 400, "n must be a whole number from 1 to 100"),
    ('GET', '/api/similar', None, 400, 'give the item to compare'),
    ('GET', '/api/items?q=' + 'x' * 201, None, 400, 'q is 201 characters long; the cap is 200'),
    ('GET', '/api/items?q=film&n=1000', None, 400, "n must be a whole number from 1 to 100, got '1000'"),
    ('POST', '/api/recommend', b'{"rated": {"Film 01 (1951)": 5', 400, 'the body is not valid JSON: Expecting'),
    ('POST', '/api/recommend', b'', 400, 'the body is not valid JSON'),
    ('POST', '/api/recommend', b'\xff\xfe', 400, 'the body is not valid JSON'),
    ('POST', '/api/recommend', [5], 400, 'the body must be a JSON object, as {"rated": '),
    ('POST', '/api/recommend', {'rated': {}}, 400, 'rated must be a non-empty object of title: rating'),
    ('POST', '/api/recommend', {'n': 5}, 400, 'rated must be a non-empty object of title: rating'),
    ('POST', '/api/recommend', {'rated': ['Film 01 (1951)']}, 400, 'rated must be a non-empty object of title: rating'),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': 5}, 'N': 3}, 400, "the body has 'N'; it takes 'rated' and 'n'"),
    ('POST', '/api/recommend', {'rated': {'Film 1': 5}}, 404, "title 'Film 1' is not in the training data: the closest are"),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': 9}}, 400, "the rating of 'Film 01 (1951)', 9, is outside the model's y_range"),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': 0}}, 400, "the rating of 'Film 01 (1951)', 0, is outside the model's y_range"),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': '5'}}, 400, "the rating of 'Film 01 (1951)' must be a number, got '5'"),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': None}}, 400, "the rating of 'Film 01 (1951)' must be a number, got None"),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': True}}, 400, "the rating of 'Film 01 (1951)' must be a number, got True"),
    ('POST', '/api/recommend', b'{"rated": {"Film 01 (1951)": NaN}}', 400, "the rating of 'Film 01 (1951)' must be a number, got nan"),
    ('POST', '/api/recommend', b'{"rated": {"Film 01 (1951)": 5, "Film 01 (1951)": 1}}', 400, "the body gives 'Film 01 (1951)' twice"),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': 5}, 'n': 101}, 400, 'n must be a whole number from 1 to 100, got 101'),
    ('POST', '/api/recommend', {'rated': {'Film 01 (1951)': 5}, 'n': 2.5}, 400, 'n must be a whole number from 1 to 100, got 2.5'),
    ('POST', '/api/recommend', b' ' * 65537, 413, 'the request body is over 65,536 bytes (65,537), the cap (collab_serve --max-body)'),
    ('GET', '/api/nowhere', None, 404, 'GET /api/nowhere: not found; the API is'),
    ('GET', '/../collab.json', None, 404, 'GET /../collab.json: not found'),   # nothing of the folder is served as a file
    ('PUT', '/api/recommend', None, 405, 'PUT /api/recommend: method not allowed'),
]


@pytest.mark.parametrize('method,path,body,status,error', BAD, ids=[f'{m} {p[:40]} {str(b)[:30]}' for m, p, b, *_ in BAD])
def test_bad_request(server, method, path, body, status, error):
    "A 4xx and one line that says what was wrong, as JSON; and the server answers the next request"
    got, answer = call(server, method, path, body)
    assert (got, list(answer)) == (status, ['error']) and answer['error'].startswith(error), answer
    assert '\n' not in answer['error']
    assert call(server, 'GET', '/health')[0] == 200


def test_body_in_chunks_is_capped(server):
    "A body sent in chunks, with no length given in advance, is counted as it arrives and refused past the cap"
    conn = http.client.HTTPConnection('127.0.0.1', server['port'], timeout=30)
    conn.request('POST', '/api/recommend', (b' ' * 4096 for _ in range(20)), {'Content-Type': 'application/json'}, encode_chunked=True)
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())) == (413, {'error': 'the request body is over 65,536 bytes, the cap (collab_serve --max-body)'})


def test_other_host_names_refused(server):
    "A request that names another host (a web page that renamed itself to 127.0.0.1) is refused; localhost is this machine"
    assert call(server, 'GET', '/health', headers={'Host': 'example.com'}) == (400, {'error': "Host 'example.com' is not this server's name; use 127.0.0.1"})
    assert call(server, 'GET', '/health', headers={'Host': f"localhost:{server['port']}"})[0] == 200


def test_reads_only_the_model_folder(server):
    "It serves with no data set reachable, and writes nothing where it runs"
    assert call(server, 'GET', '/api/recommend?user=5')[0] == 200
    assert list((server['tmp']/'cwd').iterdir()) == [] and list((server['tmp']/'fastai').iterdir()) == []


def test_load(server):
    "Eight clients on loopback, 50 mixed requests each, every one answered; it stops by itself, at the latest after 60 s"
    kinds = [('GET', '/api/recommend?user={u}&n=10', None), ('POST', '/api/recommend', 'new'), ('GET', '/api/similar?item=Film%20{i:02d}%20({y})', None),
             ('GET', '/api/items?q=film%20{i}', None)]
    statuses, lock, deadline = [], threading.Lock(), time.time() + 60

    def client(seed):
        rng, conn = np.random.default_rng(seed), http.client.HTTPConnection('127.0.0.1', server['port'], timeout=30)
        for k in range(50):
            if time.time() > deadline: break
            method, path, body = kinds[k % 4]
            u, i = int(rng.integers(1, 301)), int(rng.choice(range(9, N_ITEMS + 1)))
            if body: body = {'rated': {f'Film {j:02d} ({1950 + j})': int(rng.integers(1, 6)) for j in rng.choice(range(9, N_ITEMS + 1), 5, replace=False)}}
            try: status = call(server, method, path.format(u=u, i=i, y=1950 + i), body, conn=conn)[0]
            except (OSError, http.client.HTTPException) as e: status = repr(e)
            with lock: statuses.append(status)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert statuses == [200] * 400, {s: statuses.count(s) for s in set(statuses)}
    assert server['proc'].poll() is None


def test_page(server, browser, request):
    "Search, rate three films, see a list; click one, see its neighbours; ask for a known user; the hostile title stays text"
    from playwright.sync_api import expect   # waits by locator: the page's policy forbids the string evaluation `wait_for_function` uses
    page = browser.new_page(viewport={'width': 1100, 'height': 700})
    problems, dialogs = [], []
    page.on('console', lambda m: m.type == 'error' and problems.append(f'console: {m.text}'))
    page.on('pageerror', lambda e: problems.append(f'script: {e}'))
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server['url'], wait_until='networkidle')
    expect(page.locator('#model')).to_have_text('DotProductBias: 300 users, 60 titles')

    page.fill('#search', 'film 1')
    results = page.locator('#results li')
    expect(results).to_have_count(10)   # Film 10 to Film 19
    expect(results.first).to_contain_text('Film 1')
    chosen = [results.nth(k).locator('.name').text_content() for k in range(3)]
    for k, stars in enumerate((5, 4, 1)):
        results.nth(k).get_by_label(f'rate {stars} of 5').click()
    expect(page.locator('#recs-title')).to_have_text('Recommended for you, from your 3 ratings')
    expect(page.locator('#recs li')).to_have_count(10)
    expect(page.locator('#rated .name')).to_have_text(chosen)
    recommended = page.locator('#recs button.item').all_text_contents()
    assert not set(recommended) & set(chosen)

    page.locator('#recs button.item').first.click()
    expect(page.locator('#similar-title')).to_have_text(f'Closest to {recommended[0]}')
    expect(page.locator('#similar li')).to_have_count(10)
    assert recommended[0] not in page.locator('#similar .name').all_text_contents()

    page.fill('#search', '<script>')
    expect(page.locator('#results .name')).to_have_text([HOSTILE])   # shown as its characters...
    page.locator('#results li').first.get_by_label('rate 5 of 5').click()
    expect(page.locator('#recs-title')).to_have_text('Recommended for you, from your 4 ratings')
    expect(page.locator('#rated .name').last).to_have_text(HOSTILE)
    assert page.locator('script').count() == 1 and page.locator('#results script, #rated script').count() == 0   # ...never an element
    page.fill('#search', 'onerror')
    expect(page.locator('#results .name')).to_have_text([HOSTILE_IMG])
    page.locator('#results li').first.get_by_label('rate 4 of 5').click()
    expect(page.locator('#rated .name').last).to_have_text(HOSTILE_IMG)
    assert page.locator('img').count() == 0 and dialogs == []   # ...never run

    page.fill('#user', '5')
    page.click('#user-form button')
    expect(page.locator('#recs-title')).to_have_text('Top 10 for user 5')
    expect(page.locator('#recs li')).to_have_count(10)
    page.fill('#user', '99999')
    page.click('#user-form button')
    expect(page.locator('#error')).to_contain_text("user 99999 is not in the model's training data")

    shots = request.config.cache.mkdir('serve-screenshots')
    page.screenshot(path=shots/'page.png')
    print(f'screenshot in {shots}')
    page.close()
    assert problems == ['console: Failed to load resource: the server responded with a status of 404 (Not Found)']   # the unknown user's
