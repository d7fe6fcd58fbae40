"Bad input to the loaders: a clear ValueError or FileNotFoundError naming the file, the line and the problem"
from pathlib import Path
import pytest
from collab_nbdev.data import load_ratings, load_movies, load_users

GOOD = '1\t10\t3\t881250949\n2\t20\t5\t881250950\n'


def write(tmp_path, name, content):
    f = tmp_path/name
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    return f


@pytest.mark.parametrize('content, message', [
    ('', 'is empty'),
    ('\n\n', 'is empty'),
    ('1\t10\t3\n', 'line 1: expected 4'),
    (GOOD + '3\t30\t4\t1\t9\n', 'line 3: expected 4'),
    (GOOD + '\n3\t30\t4\t1\n', 'line 3: expected 4'),  # a blank line in the middle is not skipped
    ('1\tabc\t3\t881250949\n', "line 1: non-integer value 'abc' in column 'movie'"),
    (GOOD + '2.5\t30\t4\t1\n', "line 3: non-integer value '2.5' in column 'user'"),
    (GOOD + '3\t30\t4.5\t1\n', "line 3: non-integer value '4.5' in column 'rating'"),
    (GOOD + '3\t30\t6\t1\n', 'line 3: rating 6 is outside 1..5'),
    (GOOD + '3\t30\t0\t1\n', 'line 3: rating 0 is outside 1..5'),
    (GOOD + '3\t\t4\t1\n', "line 3: missing value in column 'movie'"),
    (GOOD + '3\t30\t\t1\n', "line 3: missing value in column 'rating'"),
    (GOOD + '0\t30\t4\t1\n', 'line 3: user id 0 is not positive'),
    (GOOD + '1\t10\t4\t1\n', 'lines 1 and 3: user 1 rated movie 10 twice'),
    ('user_id\titem_id\trating\ttimestamp\n' + GOOD, 'line 1 looks like a header'),
    (b'1\t10\t3\t88\xe9\n', 'line 1: byte 0xe9 is not ascii'),
])
def test_bad_ratings(tmp_path, content, message):
    f = write(tmp_path, 'u.data', content)
    with pytest.raises(ValueError) as e: load_ratings(f)
    assert message in str(e.value) and str(f) in str(e.value)


def test_good_ratings(tmp_path):
    df = load_ratings(write(tmp_path, 'u1.base', GOOD))
    assert df.to_dict('list') == {'user': [1, 2], 'movie': [10, 20], 'rating': [3, 5], 'timestamp': [881250949, 881250950]}
    assert list(df.dtypes) == ['int64'] * 4


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'): load_ratings(tmp_path/'u9.base')


def test_folder_without_u_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=f'no u.data in folder {tmp_path}'): load_ratings(tmp_path)
    with pytest.raises(FileNotFoundError, match='u.item does not exist'): load_movies(tmp_path)


ITEM = '1|Toy Story (1995)|01-Jan-1995||http://x|' + '|'.join('0' * 19) + '\n'


def test_good_movies(tmp_path):
    f = write(tmp_path, 'u.item', (ITEM + ITEM.replace('1|Toy Story (1995)', '2|Misérables, Les (1995)')).encode('latin-1'))
    df = load_movies(f)
    assert df.title.tolist() == ['Toy Story (1995)', 'Misérables, Les (1995)']
    assert df.release_date.dt.year.tolist() == [1995, 1995] and df.Action.dtype == bool


def test_latin1_control_character_in_title(tmp_path):
    "Byte 0x85 is a control character in latin-1 that str.splitlines would treat as a line break"
    f = write(tmp_path, 'u.item', ITEM.replace('Toy Story', 'Toy Story\x85').encode('latin-1'))
    df = load_movies(f)
    assert len(df) == 1 and df.title[0] == 'Toy Story\x85 (1995)'


@pytest.mark.parametrize('content, message', [
    (ITEM.replace('Toy Story', 'Misérables').encode('utf-8'), 'line 1: the file is UTF-8 encoded'),
    (ITEM.replace('Toy Story (1995)', ''), "line 1: missing value in column 'title'"),
    (ITEM.replace('01-Jan-1995', '1995-01-01'), "line 1: release date '1995-01-01' is not like 01-Jan-1995"),
    (ITEM + ITEM, 'line 2: movie id 1 appears twice'),
    (ITEM.replace('|0\n', '|2\n'), 'line 1: a genre flag is not 0 or 1'),
    (ITEM.replace('|0\n', '\n'), 'line 1: expected 24'),
    (ITEM.replace('1|', 'x|', 1), "line 1: non-integer value 'x' in column 'movie'"),
])
def test_bad_movies(tmp_path, content, message):
    f = write(tmp_path, 'u.item', content)
    with pytest.raises(ValueError) as e: load_movies(f)
    assert message in str(e.value) and str(f) in str(e.value)


@pytest.mark.parametrize('content, message', [
    ('1|24|M|technician\n', 'line 1: expected 5'),
    ('1|24|X|technician|85711\n', "line 1: unexpected gender 'X'"),
    ('1|24|M|astronaut|85711\n', "line 1: unexpected occupation 'astronaut'"),
    ('1||M|technician|85711\n', "line 1: missing value in column 'age'"),
])
def test_bad_users(tmp_path, content, message):
    f = write(tmp_path, 'u.user', content)
    with pytest.raises(ValueError) as e: load_users(f)
    assert message in str(e.value) and str(f) in str(e.value)


def test_users_keep_zip_as_text(tmp_path):
    df = load_users(write(tmp_path, 'u.user', '1|24|M|technician|T8H1N\n2|53|F|other|01234\n'))
    assert df.zip.tolist() == ['T8H1N', '01234'] and df.age.dtype == 'int64'


def test_real_files(real_path):
    assert load_ratings(real_path).shape == (100_000, 4)
    assert len(load_movies(real_path)) == 1682 and len(load_users(real_path)) == 943
    assert load_ratings(real_path/'ua.test').groupby('user').size().eq(10).all()
