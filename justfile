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

# The import benchmark: two years at a bank that takes 100 ms a call, against the critical path.
bench:
    cargo bench --bench import_scenario

# The chaos suite in full (release build): 200 imports, 20 worker kills, a database restart and
# a 10 s outage, a bank failing 25% of calls, and every hostile persona. Prints its table.
chaos:
    AISLE_CHAOS=full cargo test --release --test chaos -- --nocapture
