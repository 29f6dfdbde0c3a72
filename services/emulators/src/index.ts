export { devProfiles } from "./dev-profiles";
export type { DevEmulator, DevProfile } from "./dev-profile";
