// centricctl: the terminal client of the Centric services. See commands.h.
#include "services/centricctl/commands.h"

int main(int argc, char** argv) { return centric::ctl::Run(argc, argv); }
