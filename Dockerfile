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
# MALLOC_ARENA_MAX: glibc gives each thread that allocates (libuv's pool, V8's
# GC and compiler helpers) an arena of its own, and an arena keeps its
# high-water mark after the memory is freed. Two arenas hold the RSS down;
# contention is slight, since JavaScript and its buffers allocate on one thread.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    ONEROUTER_DATA_DIR=/var/lib/onerouter \
    MALLOC_ARENA_MAX=2
WORKDIR /app
RUN groupadd --system --gid 10001 onerouter \
 && useradd --system --uid 10001 --gid onerouter --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin onerouter \
 && mkdir -p /var/lib/onerouter \
 && chown onerouter:onerouter /var/lib/onerouter
# Root owns the code: the process can read it, never change it.
COPY --from=source /app ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=console /app/services/console/dist ./services/console/dist
USER 10001:10001
EXPOSE 8080
VOLUME ["/var/lib/onerouter"]
ENTRYPOINT ["node", "services/server/bin/onerouter.js"]
CMD ["start"]
