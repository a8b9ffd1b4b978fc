# syntax=docker/dockerfile:1
# The tokenledger collector images, built from the whole workspace. Two targets:
#   embedded (the default, last stage): the collector with the embedded ClickHouse engine (chdb),
#     data in /var/lib/tokenledger; it also runs against a server when CLICKHOUSE_URL is set.
#   server (`docker build --target server`): the same without chdb (~500 MB lighter), for
#     deployments on a ClickHouse server (CLICKHOUSE_URL required), as docker-compose.yml runs it.
# Each holds only what the collector needs at run time: its compiled code and migrations, the
# panel catalog, the instrumentation's shared types, the OTLP proto definitions, the report page
# and production dependencies.

FROM node:20.19-bookworm-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer is cached until they change. npm ci needs every
# workspace's package.json, including the test fixtures', to match the lockfile.
COPY package.json package-lock.json ./
COPY instrumentation/package.json instrumentation/
COPY collector/package.json collector/
COPY dashboards/package.json dashboards/
COPY test/fixtures/openai-v3/package.json test/fixtures/openai-v3/
COPY test/fixtures/openai-v4/package.json test/fixtures/openai-v4/
COPY test/fixtures/openai-v5/package.json test/fixtures/openai-v5/
COPY test/fixtures/openai-v6/package.json test/fixtures/openai-v6/
COPY test/fixtures/sdk-previous/package.json test/fixtures/sdk-previous/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY instrumentation/ instrumentation/
COPY dashboards/ dashboards/
COPY collector/ collector/
RUN npx tsc -b instrumentation dashboards collector

# Production dependencies, with and without the optional embedded engine.
FROM build AS deps-embedded
RUN npm prune --omit=dev --no-audit --no-fund
FROM build AS deps-server
RUN npm prune --omit=dev --omit=optional --no-audit --no-fund

FROM node:20.19-bookworm-slim AS runtime-base
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4318 \
    TOKENLEDGER_DATA_DIR=/var/lib/tokenledger
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/instrumentation/package.json instrumentation/
COPY --from=build /app/instrumentation/bin instrumentation/bin
COPY --from=build /app/instrumentation/dist instrumentation/dist
COPY --from=build /app/dashboards/package.json dashboards/
COPY --from=build /app/dashboards/dist dashboards/dist
COPY --from=build /app/collector/package.json collector/
COPY --from=build /app/collector/bin collector/bin
COPY --from=build /app/collector/dist collector/dist
COPY --from=build /app/collector/migrations collector/migrations
COPY --from=build /app/collector/proto collector/proto
COPY --from=build /app/collector/public collector/public
RUN mkdir -p /var/lib/tokenledger && chown node:node /var/lib/tokenledger
EXPOSE 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4318/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "collector/dist/cli/main.js", "collector"]

FROM runtime-base AS server
COPY --from=deps-server /app/node_modules node_modules
USER node

FROM runtime-base AS embedded
COPY --from=deps-embedded /app/node_modules node_modules
USER node
