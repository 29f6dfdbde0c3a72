# syntax=docker/dockerfile:1
# One image for every OneRouter process: `start` (embedded, the default) or,
# in the mesh, `serve <service>` and `migrate` (see k8s/README.md). `npm ci`
# builds the CLI's JavaScript (the root package's prepare script); the
# console's static bundle is built in a stage of its own.

ARG NODE_IMAGE=node:20.19-bookworm-slim

# The repository's sources, without what .dockerignore leaves out.
FROM ${NODE_IMAGE} AS source
WORKDIR /app
COPY . .

# The console's bundle, built with the dev dependencies (Vite) it needs.
FROM source AS console
RUN npm ci --no-audit --no-fund \
 && npm run build --workspace services/console

# What runs: production dependencies only, the console's files, a non-root user.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    ONEROUTER_DATA_DIR=/var/lib/onerouter
WORKDIR /app
# jemalloc instead of glibc's malloc (LD_PRELOAD, below). V8's compilers take
# short-lived memory for every function they compile, the embedded
# database's WebAssembly included, between allocations that live on; glibc
# keeps the pages of the holes they leave. In bench/payments the embedded
# server's RSS was 285-288 MiB with jemalloc against 293-311 MiB with glibc
# (two arenas), four runs each, its throughput within the runs' spread.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 onerouter \
 && useradd --system --uid 10001 --gid onerouter --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin onerouter \
 && mkdir -p /var/lib/onerouter \
 && chown onerouter:onerouter /var/lib/onerouter
# Root owns the code: the process can read it, never change it.
COPY --from=source /app ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=console /app/services/console/dist ./services/console/dist
# By name, so the loader finds it in the architecture's library folder.
ENV LD_PRELOAD=libjemalloc.so.2
USER 10001:10001
EXPOSE 8080
VOLUME ["/var/lib/onerouter"]
ENTRYPOINT ["node", "services/server/bin/onerouter.js"]
CMD ["start"]
