#!/usr/bin/env bash
# Every check CI makes, in the order it makes them. Run it from anywhere inside an installed checkout.
#  1. the library, README.md and the notebooks are in sync (nbdev_export, nbdev_clean and tools/make_readme.py change nothing);
#  2. the real MovieLens 100K can be found (the notebooks check claims about it), else stop with a line that says how to give it;
#  3. every notebook runs top to bottom (nbdev_test);
#  4. the pytest suite of the installed package, a test file per core at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
stage_start=$SECONDS
stage() { echo "[test.sh] $1: $((SECONDS - stage_start)) s" >&2; stage_start=$SECONDS; }   # each stage's time, on stderr

snapshot() { find collab_nbdev nbs README.md -type f -not -path '*/__pycache__/*' -not -path '*/.ipynb_checkpoints/*' | sort | xargs md5sum; }
before=$(snapshot)
nbdev_export
nbdev_clean
python tools/make_readme.py
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "Out of sync: nbdev_export, nbdev_clean or tools/make_readme.py changed these files:" >&2
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' >&2 || true
  echo "Run them, review the changes and commit them." >&2
  exit 1
fi
echo "library, README and notebooks are in sync"
stage "sync check"

# The notebooks check what they say against the real ML-100K, so without it they would fail one by one, with tracebacks.
if ! found=$(collab_data --strict 2>&1); then
  echo "$found" >&2
  echo "Stopped before the notebooks: they check claims about the real MovieLens 100K, which could not be found." >&2
  echo "Give it with COLLAB_NBDEV_DATA=/path/to/ml-100k (the extracted folder), or connect to the internet once so that fastai downloads it." >&2
  exit 1
fi
echo "${found%%$'\n'*}"
stage "data check"

# One torch thread per process: nbdev_test runs two notebooks at once on this 2-core machine, and batches of 64 ratings are far
# too small to gain from a second thread (measured in nbs/library/04_learner.ipynb, "One thread").
export OMP_NUM_THREADS=1
nbdev_test
stage "nbdev_test"
python -m pytest -q -n auto --dist loadfile tests   # a worker per core (pytest-xdist), each test file in one worker: most tests wait on
                                                  # the subprocesses they start, so two files at once use the cores better
stage "pytest"
echo "[test.sh] all stages: $SECONDS s" >&2
