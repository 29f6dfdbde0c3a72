export { devProfiles } from "./dev-profiles";
export { UnknownEmulatedObject, type DevEmulator, type DevProfile } from "./dev-profile";
