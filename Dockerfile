# pool-boy's image, for a scheduled Concourse task and as a Concourse resource type
# (/opt/resource/{check,in,out}; see docs/image.md and docs/resource.md):
#
#   docker build -t pool-boy .
#
# Without a registry, contributors build it FROM a local stand-in of the base image with
# scripts/image/build.sh; this file builds the same way on both.

# The official Node 24 image on Debian 12. scripts/image/build-base.sh makes a stand-in with
# the same layout (node and npm in /usr/local; no git, no CA certificates).
ARG BASE_IMAGE=node:24-bookworm-slim

# ---- build: compile the TypeScript; the dev dependencies stay in this stage ----
FROM ${BASE_IMAGE} AS build
# Behind a TLS-intercepting proxy: a CA bundle for npm to trust, as a path inside the build
# (scripts/image/build.sh mounts the host's there). A build argument, not ENV: it reaches no
# layer of the final image.
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` runs tsc, and the sources are not here yet.
RUN npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# ---- deps: production dependencies only; built from the lock file alone, so its layer
# stays cached while the sources change ----
FROM ${BASE_IMAGE} AS deps
ARG NODE_EXTRA_CA_CERTS=
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier

# ---- the image ----
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="pool-boy" \
      org.opencontainers.image.description="Releases Concourse pool-resource locks whose owner build is gone" \
      org.opencontainers.image.licenses="Apache-2.0"

# git and ssh to clone and push the pool repository; CA certificates for HTTPS (git and the
# Concourse API). Installed here in either base: neither the slim image nor the stand-in has them.
RUN apt-get -o Acquire::Retries=3 update \
 && apt-get -o Acquire::Retries=3 install -y --no-install-recommends git openssh-client ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric non-root user, so that runAsNonRoot-style checks can see it from the image
# config alone. Its home holds ssh's known_hosts and git's config when needed.
RUN useradd --uid 10001 --user-group --create-home pool-boy \
 && printf '#!/bin/sh\nexec node /app/bin/pool-boy.js "$@"\n' >/usr/local/bin/pool-boy \
 && chmod 755 /usr/local/bin/pool-boy

# The resource type's scripts: the same code, a JSON request on stdin, JSON on stdout.
RUN mkdir -p /opt/resource \
 && for op in check in out; do \
      printf '#!/bin/sh\nexec node /app/bin/pool-boy-resource.js %s "$@"\n' "$op" >/opt/resource/$op \
      && chmod 755 /opt/resource/$op; \
    done

ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /src/dist/src ./dist/src

# The code belongs to root and is read-only for the user running it.
USER 10001:10001
WORKDIR /home/pool-boy
# `docker run IMAGE clean`; a Concourse task ignores the entrypoint and runs
# `run: {path: pool-boy, args: [clean]}` (the wrapper above, on PATH).
ENTRYPOINT ["node", "/app/bin/pool-boy.js"]
