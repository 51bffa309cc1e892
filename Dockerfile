# One image for every service; the Deployment picks the service with SERVICES.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
ENV NODE_ENV=production MIGRATE_ON_START=true
CMD ["npm", "start"]
