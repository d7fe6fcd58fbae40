"check_movielens tells the original ML-100K from altered or truncated copies"
import pytest
from collab_nbdev.files import check_movielens, describe_data, ML100K_FILES
from collab_nbdev.evaluate import load_fold


def test_original_passes(real_path):
    assert check_movielens(real_path) == list(ML100K_FILES)


def test_changed_rating(real_copy):
    f = real_copy/'u.data'
    data = f.read_bytes()
    i = data.index(b'\t3\t')  # the first rating of 3 becomes a 4: same size, same line count
    f.write_bytes(data[:i] + b'\t4\t' + data[i+3:])
    with pytest.raises(ValueError, match=r'u\.data: md5 .* differs from the original') as e: check_movielens(real_copy)
    assert 'lines' not in str(e.value)


def test_truncated_and_header(real_copy):
    lines = (real_copy/'u.item').read_bytes().splitlines(keepends=True)
    (real_copy/'u.item').write_bytes(b''.join(lines[:1000]))
    (real_copy/'u1.test').write_bytes(b'user\titem\trating\ttimestamp\n' + (real_copy/'u1.test').read_bytes())
    with pytest.raises(ValueError) as e: check_movielens(real_copy)
    assert 'u.item' in str(e.value) and '1,000 lines, the original has 1,682' in str(e.value)
    assert 'u1.test' in str(e.value) and '20,001 lines' in str(e.value)


def test_missing_core_file(real_copy):
    (real_copy/'u.user').unlink()
    with pytest.raises(FileNotFoundError, match='lacks u.user'): check_movielens(real_copy)


def test_synthetic_is_not_original(synthetic_path):
    with pytest.raises(ValueError, match='u.data: md5'): check_movielens(synthetic_path)


def test_missing_split_file_is_reported(real_copy):
    (real_copy/'u3.test').unlink()
    assert 'u3.test' not in check_movielens(real_copy)
    assert 'ML-100K, md5 verified: 22 files; missing u3.test' in describe_data(real_copy)


def test_missing_split_file(real_copy):
    (real_copy/'u4.test').unlink()
    with pytest.raises(FileNotFoundError, match=r'u4\.test is missing'): load_fold('u4', real_copy)
