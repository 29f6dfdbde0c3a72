import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{clients,services,test,bench}/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start real servers on loopback; two cores keep this modest.
    maxWorkers: 2,
  },
});
