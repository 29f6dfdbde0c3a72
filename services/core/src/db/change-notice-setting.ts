// A session whose change notices no one can hear sets this to "off", and the
// change-notice triggers that check it (in their WHEN condition) neither run
// nor load PL/pgSQL for it. That is a CLI command on an embedded data folder: it
// holds the folder alone, PGlite delivers a notice only within its own
// process, and nothing in that process listens. Every other session leaves
// it unset.
export const changeNoticeSetting = "onerouter.change_notices";
