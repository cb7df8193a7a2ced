// tools/yolite/command.hpp -- how a subcommand plugs into the `yolite` program.
//
// Each tools/yolite/cmd_<name>.cpp defines `int run(int argc, char** argv)` (argv[0] is the
// subcommand name) and registers it:
//
//   YOLITE_COMMAND(split, "split images+labels into train/val/test", run_split);
//
// The subcommand parses its own flags (CLI11), prints one-line errors naming the file and the
// problem, and returns the exit code. main.cpp turns yolite::Error into "yolite NAME: message"
// and exit code 1.
#pragma once
#include <functional>
#include <map>
#include <string>

namespace yolite::cli {

struct Command {
  std::string help;
  std::function<int(int, char**)> run;
  bool ranked = false;  // shares its work over MPI ranks (mpirun -np N yolite NAME)
};

// The table of subcommands of this program (filled by static registrars before main()).
inline std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> table;
  return table;
}

struct Registrar {
  Registrar(const char* name, const char* help, int (*fn)(int, char**), bool ranked = false) {
    commands()[name] = Command{help, fn, ranked};
  }
};

}  // namespace yolite::cli

#define YOLITE_COMMAND(name, help, fn) \
  static ::yolite::cli::Registrar yolite_cmd_registrar_##name(#name, help, fn)
// A command that shares its work when started as several MPI ranks (tools/yolite/ranks.hpp).
#define YOLITE_RANKED_COMMAND(name, help, fn) \
  static ::yolite::cli::Registrar yolite_cmd_registrar_##name(#name, help, fn, true)
