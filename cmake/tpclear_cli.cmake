# cmake/tpclear_cli.cmake - the command-line client's build pieces (included by the top
# CMakeLists.txt after the tpclear target): JSON through jansson, the version it prints
# (project() and the git revision), and its man page tpclear(1), generated from the same table
# as `tpclear help` (engine/cli/help.c) and installed to share/man/man1.
include(GNUInstallDirs)

# JSON output (engine/cli/json.c): Debian's libjansson-dev (deploy/deps.sh)
pkg_check_modules(TPC_CLI_JANSSON REQUIRED IMPORTED_TARGET jansson)
target_link_libraries(tpclear PRIVATE PkgConfig::TPC_CLI_JANSSON)

# `tpclear --version`: the git revision is read at build time, not configure time, so a
# rebuild after a commit says the new one; the header is rewritten only when it changes.
set(TPC_CLI_GEN ${CMAKE_BINARY_DIR}/cli-gen)
file(MAKE_DIRECTORY ${TPC_CLI_GEN})
add_custom_target(tpclear_git_rev
  COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR} -DOUT=${TPC_CLI_GEN}/cli_version.h
          -P ${CMAKE_SOURCE_DIR}/cmake/tpclear_git_rev.cmake
  BYPRODUCTS ${TPC_CLI_GEN}/cli_version.h
  COMMENT "tpclear: git revision"
  VERBATIM)
add_dependencies(tpclear tpclear_git_rev)
target_include_directories(tpclear PRIVATE ${TPC_CLI_GEN})

# tpclear(1): `tpclear help --man`, run on the binary just built
set(TPC_CLI_MAN ${CMAKE_BINARY_DIR}/man/tpclear.1)
add_custom_command(
  OUTPUT ${TPC_CLI_MAN}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
  COMMAND $<TARGET_FILE:tpclear> help --man > ${TPC_CLI_MAN}
  DEPENDS tpclear
  COMMENT "tpclear(1) from tpclear help --man"
  VERBATIM)
add_custom_target(tpclear_man ALL DEPENDS ${TPC_CLI_MAN})
install(FILES ${TPC_CLI_MAN} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
