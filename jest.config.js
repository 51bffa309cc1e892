/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.(t|j)s$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } } }] },
  testMatch: ["<rootDir>/test/**/*.spec.ts"],
  testTimeout: 60000,
  // integration tests share real PostgreSQL/NATS/Redis; run them serially (npm test uses --runInBand)
};
