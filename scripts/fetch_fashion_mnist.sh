#!/usr/bin/env bash
# Make the four Fashion-MNIST IDX files available, cheapest source first:
#   1. already there: Debian's package folder or the trajreg cache ($TRAJREG_CACHE, ~/.cache/trajreg);
#   2. Debian's package dataset-fashion-mnist, when apt-get exists and we are root or sudo works;
#   3. trajreg's own download from the official release, checked against sha256 sums.
# Usage: scripts/fetch_fashion_mnist.sh [PYTHON]   (PYTHON: the venv's python, default .venv/bin/python)
set -euo pipefail

python=${1:-.venv/bin/python}
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
       t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
system_dir=/usr/share/datasets/fashion-mnist
cache_dir=${TRAJREG_CACHE:-$HOME/.cache/trajreg}/fashion-mnist

have_all() {
    local f
    for f in "${files[@]}"; do [[ -f "$1/$f" ]] || return 1; done
}

if have_all "$system_dir" || have_all "$cache_dir"; then
    exit 0
fi

# Prints the command prefix that runs apt-get as root ("" or "sudo -n"); fails if we cannot.
root_prefix() {
    command -v apt-get >/dev/null || return 1
    if [[ $(id -u) -eq 0 ]]; then
        echo ""
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        echo "sudo -n"
    else
        return 1
    fi
}

if SUDO=$(root_prefix); then
    echo "Fashion-MNIST: installing the Debian package dataset-fashion-mnist" >&2
    if $SUDO apt-get update -qq \
        && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist \
        && have_all "$system_dir"; then
        exit 0
    fi
    echo "Fashion-MNIST: the Debian package is not available here; downloading instead" >&2
fi

echo "Fashion-MNIST: downloading into $cache_dir (sha256-checked)" >&2
"$python" -c '
from trajreg.data import FMNIST_FILES, fmnist_file
for name in FMNIST_FILES:
    print(fmnist_file(name))
'
