# cmake/package.cmake - install rules and the Debian package (issue 16; docs/operations.md,
# Install). `cmake --build build --target package` writes build/tpclear_VERSION_ARCH.deb:
#   /usr/bin/tpcleard, /usr/bin/tpclear
#   /etc/tpclear/tpcleard.ini              conffile: config/tpcleard.ini with the packaged
#                                           data_dir = /var/lib/tpclear
#   /lib/systemd/system/tpcleard.service   deploy/systemd/tpcleard.service
#   /usr/lib/sysusers.d/tpclear.conf       the tpclear user
#   /usr/lib/tmpfiles.d/tpclear.conf       /var/lib/tpclear
#   /usr/share/man/man8/tpcleard.8         docs/man/tpcleard.8 (tpclear.1: the CLI's own rule)
#   /usr/share/doc/tpclear/                README and docs/
# Its Depends are the Debian libraries the binaries link (dpkg-shlibdeps). Adapter plugins are
# not part of it: none is built here ([adapters] dir, adapters/registry.c, loads *.so a site
# installs itself). tests/package/ checks the package against tests/package/expected-contents.txt.
#
# Paths under /etc, /lib and /usr/lib are absolute on purpose: they are where systemd and dpkg
# look, whatever the install prefix (a plain `cmake --install` to /usr/local puts the binaries
# there and still installs the unit where systemd reads it).

set(TPC_PKG_SYSCONF /etc/tpclear)
set(TPC_PKG_DATA_DIR /var/lib/tpclear)

install(TARGETS tpcleard tpclear RUNTIME DESTINATION bin)

# The packaged configuration: the sample file with every default, but the data directory of an
# installed engine. Derived, not copied, so the key list cannot drift from config/tpcleard.ini,
# which tests/unit/core/test_config_doc.c checks against the code.
set(TPC_INI_SRC ${CMAKE_SOURCE_DIR}/config/tpcleard.ini)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${TPC_INI_SRC})
file(READ ${TPC_INI_SRC} TPC_INI)
string(REPLACE "data_dir = tpclear-data" "data_dir = ${TPC_PKG_DATA_DIR}" TPC_PKG_INI "${TPC_INI}")
if(TPC_PKG_INI STREQUAL TPC_INI)
  message(FATAL_ERROR "config/tpcleard.ini has no 'data_dir = tpclear-data' line to replace")
endif()
string(REGEX REPLACE "^; tpcleard configuration[^\n]*\n(;[^\n]*\n)*"
       "; /etc/tpclear/tpcleard.ini - tpcleard's configuration, read when no --config is given.\n\
; Every key is documented in docs/configuration.md (/usr/share/doc/tpclear) and `tpcleard --help`.\n\
; A conffile: an upgrade keeps your changes. SIGHUP reloads the senders registry only; any\n\
; other change takes a restart (systemctl restart tpcleard).\n"
       TPC_PKG_INI "${TPC_PKG_INI}")
file(WRITE ${CMAKE_BINARY_DIR}/package/tpcleard.ini "${TPC_PKG_INI}")
install(FILES ${CMAKE_BINARY_DIR}/package/tpcleard.ini DESTINATION ${TPC_PKG_SYSCONF})

install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/tpcleard.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/tpclear.sysusers DESTINATION /usr/lib/sysusers.d
        RENAME tpclear.conf)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/tpclear.tmpfiles DESTINATION /usr/lib/tmpfiles.d
        RENAME tpclear.conf)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/tpcleard.8 DESTINATION share/man/man8)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/tpclear)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/tpclear
        FILES_MATCHING PATTERN "*.md" PATTERN "*.xsd" PATTERN "man" EXCLUDE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tpclear)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "tpclear")
set(CPACK_PACKAGE_CONTACT "tpclear operations <ops@tpclear.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "clearing engine for Belgian third-party-payer health-care invoices")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps turns the libraries the binaries link into Depends (libzmq5, liblmdb0...);
# adduser is the postinst's fallback where systemd-sysusers is missing
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/deploy/debian/conffiles ${CMAKE_SOURCE_DIR}/deploy/debian/postinst
    ${CMAKE_SOURCE_DIR}/deploy/debian/prerm ${CMAKE_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR})
include(CPack)
