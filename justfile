# Conveniences for developers; the README's two commands do not need `just`.

# Build everything and run the main job (server + dashboard on the embedded default).
demo *ARGS:
    bash scripts/demo {{ARGS}}

# Every check CI runs.
test:
    bash .ci/run

# Rust tests only (fast loop).
rust-test *ARGS:
    cargo nextest run --workspace {{ARGS}}

# Run the server from source against the web dev server (`npm --prefix web run dev`).
serve *ARGS:
    cargo run -j2 --bin ratchet -- serve {{ARGS}}

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets -- -D warnings

# The fault-injection suite, with more seeded server kills than CI's five per store.
faults SEEDS="20":
    RATCHET_FAULT_SEEDS={{SEEDS}} cargo nextest run -p ratchet-server --test faults

# The engine against graphile-worker, pg-boss and procrastinate on one PostgreSQL (bench/run).
bench:
    bench/run

# Many runs and suites on one server at once; prints RSS and API latency (bench/load).
load:
    bench/load

# The production shape without Docker: PostgreSQL, redis-server and two replicas (Ctrl-C stops).
dev-cluster:
    cargo build -j2 --bins
    scripts/dev-cluster

# Log lines from agents to SSE clients through two replicas and Valkey (bench/fanout).
fanout:
    cargo build -j2 --bins
    bench/fanout

# The images (needs a Docker engine): the server, and an agent with PostgreSQL and pgbench.
images:
    docker build -t ratchet:latest .
    docker build --target agent -t ratchet-agent:latest .

# PostgreSQL, Valkey, two replicas behind HAProxy on :8080 (needs Docker and a .env).
up:
    docker compose up -d --build
