# syntax=docker/dockerfile:1
# One image with every Centric binary: centricd, centric-profiles, centric-segmentation,
# centric-feedback, centric-reporting.
#   docker build -t centric/centric:dev .
# Kubernetes picks the binary with the container's args (k8s/base/*/deployment.yaml), so
# the image sets CMD, not ENTRYPOINT.

# --- build: exactly the README's steps on Debian bookworm --------------------------------
FROM debian:bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not reinstall them.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN ./scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
ARG CENTRIC_JOBS=2
RUN --mount=type=cache,target=/root/.cache/ccache \
    CENTRIC_JOBS=${CENTRIC_JOBS} ./scripts/build.sh \
      --target centricd centric-profiles centric-segmentation centric-feedback \
               centric-reporting

# --- runtime: the shared libraries the binaries load, and the binaries -------------------
FROM debian:bookworm-slim AS runtime
# From `ldd build/bin/centric-*` mapped to packages with `dpkg -S`; their dependencies come
# along. ca-certificates for PostgreSQL over TLS (sslmode=verify-full). libcpp-httplib0.11
# serves /metrics (every binary, libs/app) and Reporting's dashboard; libssl3 is also
# loaded directly for libcrypto's SHA-256 (experiment assignment, libs/stats).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libgrpc++1.51 \
      libgrpc29 \
      libprotobuf32 \
      libhiredis0.14 \
      libpq5 \
      libsqlite3-0 \
      libre2-9 \
      libroaring0 \
      libcpp-httplib0.11 \
      libssl3 \
      libstdc++6 \
      libgcc-s1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/centricd /src/build/bin/centric-profiles \
     /src/build/bin/centric-segmentation /src/build/bin/centric-feedback \
     /src/build/bin/centric-reporting /usr/local/bin/
# Fail the build if a shared library is missing.
RUN ! ldd /usr/local/bin/centricd /usr/local/bin/centric-profiles \
        /usr/local/bin/centric-segmentation /usr/local/bin/centric-feedback \
        /usr/local/bin/centric-reporting | grep 'not found'
# centricd's default SQLite store is relative to the working directory.
RUN install -d -o 65532 -g 65532 /var/lib/centric
WORKDIR /var/lib/centric
USER 65532:65532
EXPOSE 50051
CMD ["/usr/local/bin/centricd", "--listen=0.0.0.0:50051"]
