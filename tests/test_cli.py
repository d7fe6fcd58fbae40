"The command-line tools, run as a user runs them: in a subprocess"
import subprocess
from pathlib import Path


def run(*args):
    return subprocess.run(['collab_data', *args], capture_output=True, text=True, timeout=120)


def test_collab_data_real(real_path):
    r = run('--path', str(real_path))
    assert r.returncode == 0, r.stderr
    assert 'ML-100K, md5 verified' in r.stdout and '943 users, 1,682 items, 100,000 ratings, 6.3% dense' in r.stdout


def test_collab_data_bad_folder(tmp_path):
    r = run('--path', str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == f'collab_data: path: no u.data in {tmp_path}; point it at the extracted ml-100k folder'
    assert 'Traceback' not in r.stderr


def test_readme_test_command_is_what_ci_runs():
    root = Path(__file__).resolve().parent.parent
    readme, ci = (root/'README.md').read_text(), (root/'.ci'/'run').read_text()
    commands = readme.split('```sh\n')[1].split('```')[0].strip().splitlines()
    assert len(commands) == 2 and commands[1].endswith('bash tools/test.sh')
    assert commands[1] in ci.splitlines()
