# syntax=docker/dockerfile:1
# The Latch server image: built from this repository by scripts/release-build (the same release
# binary and flags as a build outside Docker), run as a non-root user on a distroless base (no
# shell, no package manager; libc and CA certificates only).
#
#   docker build -t latch .
#   docker run --rm latch --version
#   docker compose up            # PostgreSQL and two servers: docker-compose.yml
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/release-build /out/latch

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/latch /usr/local/bin/latch
# The configuration is mounted at /etc/latch; a SQLite database (one server only) would live in
# /var/lib/latch, owned by the image's non-root user.
WORKDIR /var/lib/latch
USER nonroot:nonroot
# The API (and Slack / Teams endpoints, the console), and Prometheus metrics.
EXPOSE 8080 9090
# Alive: the process answers and its store does. `latch health URL/readyz` for readiness.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/latch", "health", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve", "--config", "/etc/latch/latch.toml"]
