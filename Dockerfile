# syntax=docker/dockerfile:1
# Ratchet's images: `docker build -t ratchet .` (the server) and
# `docker build --target agent -t ratchet-agent .` (an edge agent that runs PostgreSQL
# and pgbench on its machine). Nothing secret is baked in: tokens and passwords come from
# the environment at run time (see compose.yaml and deploy/ratchet.env.example).

# --- the dashboard -------------------------------------------------------------------------
FROM node:22-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- the binaries (the dashboard is embedded into `ratchet` at compile time) ---------------
FROM rust:1.90-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=web /src/web/dist web/dist
RUN cargo build --release --locked --bins \
 && strip target/release/ratchet target/release/ratchet-agent

# --- what both runtime images share ----------------------------------------------------------
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/ratchet ratchet
COPY --from=build /src/target/release/ratchet /src/target/release/ratchet-agent /usr/local/bin/

# --- an edge agent: PostgreSQL, its client tools and pgbench on the machine it benchmarks ---
FROM runtime AS agent
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql postgresql-contrib \
 && rm -rf /var/lib/apt/lists/*
USER ratchet
ENV RATCHET_AGENT_WORK_DIR=/var/lib/ratchet/agent
ENTRYPOINT ["tini", "--", "ratchet-agent"]

# --- the server (the default target) --------------------------------------------------------
FROM runtime AS server
# The PostgreSQL client tools (psql, pg_dump) for operators' and the agent binary's needs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
USER ratchet
ENV RATCHET_LISTEN=0.0.0.0:8080 \
    RATCHET_DATA_DIR=/var/lib/ratchet \
    RATCHET_LOG_FORMAT=json
VOLUME /var/lib/ratchet
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["tini", "--", "ratchet"]
CMD ["serve"]
