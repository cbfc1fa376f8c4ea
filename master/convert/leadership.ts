// Leadership (GetSchedulerInfo.leadership) as the API shows it.
import { MasterRole, type Leadership } from "../../src/gen/taskgrid/v1/admin_service.js";
import type { Office } from "../leadership/office.js";

export function leadershipToProto(office: Office, masterId: string, masterAddress: string): Leadership {
  const view = office.view();
  const { won, lost } = office.terms();
  const common = { masterId, masterAddress, termsWon: won, termsLost: lost };
  if (view.role === "leader") {
    return {
      ...common,
      role: MasterRole.MASTER_ROLE_LEADER,
      epoch: view.epoch,
      leaderAddress: view.address,
      leaderId: view.holder,
      leaderSince: new Date(view.sinceMs),
    };
  }
  const known = view.leader;
  return {
    ...common,
    role: MasterRole.MASTER_ROLE_STANDBY,
    epoch: known?.epoch ?? 0,
    leaderAddress: office.leaderAddress(),
    leaderId: known && office.leaderAddress() ? known.holder : "",
    leaderSince: known && office.leaderAddress() ? new Date(known.acquiredAtMs) : undefined,
  };
}
