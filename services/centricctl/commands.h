// centricctl's commands: each parses its own words and flags, calls one service with the
// generated stub and prints a table (or, with --json, each response message as one JSON
// object per line).
#ifndef CENTRIC_SERVICES_CENTRICCTL_COMMANDS_H_
#define CENTRIC_SERVICES_CENTRICCTL_COMMANDS_H_

namespace centric::ctl {

// Runs the command in argv; returns the process exit code (errors.h). Output on stdout,
// errors on stderr prefixed "centricctl: ".
int Run(int argc, const char* const argv[]);

}  // namespace centric::ctl

#endif  // CENTRIC_SERVICES_CENTRICCTL_COMMANDS_H_
