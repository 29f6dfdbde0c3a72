import { create } from "@bufbuild/protobuf";
import { GetPlanResponseSchema, PlanSchema, UsageService } from "@onerouter/client/gen/onerouter/admin/v1/usage_pb";
import type { HandlerContext } from "@connectrpc/connect";
import { Environment } from "@onerouter/client/gen/onerouter/common/v1/common_pb";
import { describe, expect, it } from "vitest";
import { inProcessTenantClients } from "./in-process-calls";
import { createLogger } from "./logging";
import { requireCaller } from "./services";

describe("inProcessTenantClients", () => {
  it("calls the routes as the system acting for the tenant and environment asked for", async () => {
    const clientFor = inProcessTenantClients(
      UsageService,
      (router) =>
        router.service(UsageService, {
          getPlan(_req: unknown, ctx: HandlerContext) {
            const caller = requireCaller(ctx);
            return create(GetPlanResponseSchema, {
              plan: create(PlanSchema, { id: `${caller.tenantId}/${caller.environment}/${caller.actor}` }),
            });
          },
        } as never),
      createLogger("silent"),
      "system:test",
    );
    const { plan } = await clientFor("ten_a", Environment.LIVE).getPlan({});
    expect(plan?.id).toBe(`ten_a/${Environment.LIVE}/system:test`);
    const other = await clientFor("ten_b", Environment.TEST).getPlan({});
    expect(other.plan?.id).toBe(`ten_b/${Environment.TEST}/system:test`);
  });
});
