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
bench:
    cargo bench --bench import_scenario
    cargo bench --bench results_and_polls

# Each benchmark in seconds (figures not meaningful; proves they run).
bench-short:
    AISLE_BENCH_SHORT=1 cargo bench --bench import_scenario
    AISLE_BENCH_SHORT=1 cargo bench --bench results_and_polls
