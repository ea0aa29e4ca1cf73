# Aisle's everyday commands. `just --list` shows them.

# The dev stack: private Postgres, sandbox bank, API and workers.
run:
    cargo run --release

# Every test (starts its own Postgres unless DATABASE_URL is set).
test:
    cargo test

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The whole CI script.
ci:
    bash .ci/run

# Every benchmark against its anchor (BENCHMARKS.md). `just bench-short` is CI's quick form.
bench: wrk
    cargo bench --bench import_scenario
    cargo bench --bench results_and_polls
    cargo bench --bench queue
    cargo bench --bench workers

# Each benchmark in seconds (figures not meaningful; proves they run).
bench-short: wrk
    AISLE_BENCH_SHORT=1 cargo bench --bench import_scenario
    AISLE_BENCH_SHORT=1 cargo bench --bench results_and_polls
    AISLE_BENCH_SHORT=1 cargo bench --bench queue
    AISLE_BENCH_SHORT=1 cargo bench --bench workers

# The HTTP load generator of P3, from Debian when it is missing and we may install it. Without
# it the polls bench falls back to clients in its own process (and says so).
[private]
wrk:
    #!/usr/bin/env bash
    command -v wrk >/dev/null && exit 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -q wrk >/dev/null || echo "could not install wrk; polls are measured without it"
    else
        echo "wrk is not installed; polls are measured without it"
    fi

# The chaos suite in full (release build): 200 imports, 20 worker kills, a database restart and
# a 10 s outage, a bank failing 25% of calls, and every hostile persona. Prints its table.
chaos:
    AISLE_CHAOS=full cargo test --release --test chaos -- --nocapture

# Fuzz every connector's reading of bank replies (bytes and wire-shaped JSON) in release mode:
# `cases` per target, 26,000 by default, over a million in all. Prints each target's tally,
# then the total and the panics; a panic fails the run with its minimal input.
fuzz cases="26000":
    #!/usr/bin/env bash
    set -uo pipefail
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    started=$SECONDS
    AISLE_FUZZ_CASES={{cases}} cargo test --release \
        -p aisle-sdk -p aisle-berlin-group -p aisle-partner-account -p aisle-account-service \
        --test fuzz -- --nocapture 2>&1 | tee "$log" | grep -E '^(fuzz|test result|thread|minimal)'
    tested=${PIPESTATUS[0]}
    grep -oE 'fuzz .+: [0-9]+ cases, [0-9]+ panics' "$log" \
        | awk -v secs=$((SECONDS - started)) '{ cases += $(NF-3); panics += $(NF-1); targets++ }
            END { printf "fuzz total: %d cases in %d targets, %d panics, %d s\n", cases, targets, panics, secs }'
    exit "$tested"
