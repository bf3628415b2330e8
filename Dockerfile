# syntax=docker/dockerfile:1
# One image for every leasehold role: `docker run <image> <role>` (gateway, http, admin, sim, demo).
# Three stages so the runtime layer holds only production dependencies, the compiled JS, lua/ and
# the Litestream template; compilers and devDependencies stay behind.

ARG NODE_IMAGE=node:22-bookworm-slim

# --- build: compile TypeScript (devDependencies needed, native addons not) -----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` runs tsc before the sources are copied, and no
# native addon is needed to type-check and emit.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# tsconfig also includes test/ and bench/; they are not in the context, so only src/ is emitted.
RUN npx tsc -p tsconfig.json

# --- deps: production node_modules with better-sqlite3 built for this exact base image ------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Compilers only for node-gyp's fallback when no prebuilt better-sqlite3 binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts again (the root `prepare` needs tsc, which --omit=dev leaves out); better-sqlite3
# is the only production dependency with an install script, so it is rebuilt explicitly.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# PORT is fixed so probes and healthchecks know where to look; HOST is a wildcard, so every server
# role must be given ADVERTISE_ADDR (config.ts refuses to start without it, by design).
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json litestream.yml ./
COPY lua ./lua
COPY --from=build /app/dist/src ./dist/src
# Litestream v0.3.13 comes from the npm package the tests use, so dev, CI and production replicate
# in one storage format (the v0.5 line writes LTX and must never touch these replicas). The build
# fails here if the package ever ships another version.
RUN ln -s /app/node_modules/@flydotio/litestream-linux-x64/litestream /usr/local/bin/litestream \
 && litestream version | grep -qx 'v0.3.13' \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 && mkdir -p /data \
 && chown node:node /data
USER node
EXPOSE 8080
# Node's own fetch: the slim base has no curl. Liveness only; readiness is the orchestrator's job.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["gateway"]
