# Shared by scripts/dev and scripts/test (sourced, not run).
# shellcheck shell=bash

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "scripts: need python >= 3.11 (set PYTHON=/path/to/python3.x)" >&2
    return 1
}

# ensure_venv EXTRA: .venv with `pip install -e .[EXTRA]`, skipped while pyproject.toml
# is unchanged since the last install of that extra (a stamp file holds its hash).
ensure_venv() {
    local extra="$1" python stamp want covering
    if ! { [ -x .venv/bin/python ] &&
        .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }; then
        python="$(find_python)"
        echo "scripts: creating .venv with $python" >&2
        "$python" -m venv --clear .venv || {
            echo "scripts: '$python -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
            return 1
        }
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    fi
    want="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
    covering="$extra"
    [ "$extra" = embedded ] && covering="embedded dev"  # [dev] includes [embedded]
    for stamp in $covering; do
        stamp=".venv/.ymt-installed-$stamp"
        if [ -x .venv/bin/ymt-graph ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
            return 0
        fi
    done
    stamp=".venv/.ymt-installed-$extra"
    echo "scripts: installing ymt-graph[$extra] into .venv (pyproject.toml changed or first run)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extra]"
    echo "$want" >"$stamp"
}
