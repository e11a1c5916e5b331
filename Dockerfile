# callrec: a multi-stage image on node:20-slim. The build stage compiles TypeScript to dist/ (npm run build);
# the runtime stage has only production dependencies (npm ci --omit=dev), dist/, bin/ and db/ — no tsx, no
# TypeScript, no sources — and runs as the unprivileged `node` user. test/deploy/build.test.ts assembles the same
# runtime layout from the same files and starts it; keep the two in step.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY src src
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist dist
COPY bin bin
COPY db db
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# node:20-slim ships no HTTP client binary: ask /health with node itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# HOST=0.0.0.0: without AUTH_JWT_SECRET/AUTH_JWKS_URL and VAPI_WEBHOOK_SECRET/VAPI_WEBHOOK_HMAC_SECRET the
# container stops at start-up naming them (secure by default). `docker run … node bin/callrec.js doctor` checks a setup.
CMD ["node", "dist/main.js"]
