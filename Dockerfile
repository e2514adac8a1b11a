# syntax=docker/dockerfile:1
# vault-relay: build with the dev toolchain, run the compiled dist/ with production dependencies only.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches this Node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:24-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="vault-relay" \
      org.opencontainers.image.description="Signed webhook relay that forwards rotated credentials to RWX vaults, durably and in order" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
# No config is built in: mount yours at RELAY_CONFIG (the shipped example's DEMO-ONLY secrets are refused).
ENV NODE_ENV=production \
    RELAY_CONFIG=/etc/vault-relay/relay.yaml \
    RELAY_STORE=sqlite:/var/lib/vault-relay/relay.db
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml relay.example.yaml ./
# The console's stylesheet (/ui/assets/console.css), read by dist/ui/assets.js.
COPY assets ./assets
RUN mkdir -p /var/lib/vault-relay && chown node:node /var/lib/vault-relay
USER node
VOLUME ["/var/lib/vault-relay"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM drains HTTP and finishes in-flight deliveries (server.shutdownGraceSeconds).
STOPSIGNAL SIGTERM
# A young generation of 4 MiB semi-spaces: ~20 MiB less peak RSS under load for ~5 % fewer req/s (bench/).
CMD ["node", "--max-semi-space-size=4", "dist/cli.js", "serve"]
