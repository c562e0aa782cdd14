# Packaging: hardening flags, install rules for everything around the binaries, CPack DEB/RPM.
#
# The root CMakeLists.txt include()s this file last, so every program target
# (chatd, chatctl, chat_client) already exists and the rules can adapt to the
# ones that do. Package build: packaging/build-packages.sh.

set(CHAT_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})

# --- Hardening (release/package builds) --------------------------------------
# Debian's dpkg-buildflags set, so lintian's hardening checks pass and the
# binaries get the same protections as the archive's packages.
option(CHAT_HARDENING "Build with PIE, full RELRO, BIND_NOW, FORTIFY and stack protector" OFF)
if(CHAT_HARDENING)
  if(NOT CHAT_SANITIZE STREQUAL "")
    message(FATAL_ERROR "CHAT_HARDENING is for release builds; it does not mix with CHAT_SANITIZE")
  endif()
  if(CMAKE_BUILD_TYPE STREQUAL "Debug")
    message(WARNING "CHAT_HARDENING: _FORTIFY_SOURCE needs optimisation; Debug builds get none")
  endif()
  target_compile_options(chat_build_flags INTERFACE
    -fPIE -fstack-protector-strong -fstack-clash-protection -fcf-protection
    -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security)
  target_link_options(chat_build_flags INTERFACE
    -pie -Wl,-z,relro -Wl,-z,now -Wl,--as-needed)
endif()

# --- Install rules ------------------------------------------------------------
set(CHAT_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
  "Where the systemd units go, relative to the install prefix (/usr/lib/systemd/system)")
set(CHAT_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/chatd)

# Config file with every key commented out at its default. An absolute path,
# because chatd reads /etc/chatd/chatd.conf whatever the prefix.
install(FILES ${CHAT_PACKAGING_DIR}/chatd.conf DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/chatd)

install(FILES ${CHAT_PACKAGING_DIR}/copyright DESTINATION ${CHAT_DOC_DIR})
# The documents the man pages point to: the chat and control protocols, the
# operations guide and the cluster guide (packaging/lint.sh checks every path a man
# page names).
install(FILES ${PROJECT_SOURCE_DIR}/docs/PROTOCOL.md ${PROJECT_SOURCE_DIR}/docs/CONTROL.md
  ${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md ${PROJECT_SOURCE_DIR}/docs/CLUSTER.md
  DESTINATION ${CHAT_DOC_DIR})

# systemd units, sysusers.d and tmpfiles.d snippets: whatever systemd/ holds.
file(GLOB chat_units CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/systemd/*.service ${PROJECT_SOURCE_DIR}/systemd/*.socket)
if(chat_units)
  install(FILES ${chat_units} DESTINATION ${CHAT_SYSTEMD_UNIT_DIR})
endif()
foreach(kind sysusers tmpfiles)
  # systemd/chatd.sysusers or systemd/sysusers.d/chatd.conf -> lib/sysusers.d/chatd.conf
  file(GLOB chat_snippet CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/systemd/*.${kind} ${PROJECT_SOURCE_DIR}/systemd/${kind}.d/*.conf)
  foreach(f ${chat_snippet})
    get_filename_component(base ${f} NAME_WE)
    install(FILES ${f} DESTINATION lib/${kind}.d RENAME ${base}.conf)
  endforeach()
endforeach()

# Man pages, compressed at build time (CPack does not; lintian wants gzip -9n).
file(GLOB chat_man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.[1-8])
set(chat_man_outputs)
foreach(page ${chat_man_sources})
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\.([1-8])$" "\\1" section ${name})
  set(out ${PROJECT_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E copy ${page} ${PROJECT_BINARY_DIR}/man/${name}
    COMMAND gzip -9nf ${PROJECT_BINARY_DIR}/man/${name}
    DEPENDS ${page}
    COMMENT "Compressing man page ${name}"
    VERBATIM)
  list(APPEND chat_man_outputs ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
if(chat_man_outputs)
  add_custom_target(chat_man_pages ALL DEPENDS ${chat_man_outputs})
endif()

# bash completion, for the programs this tree builds. chatctl's is generated from the
# control command registry at build time (ctl/CMakeLists.txt).
if(TARGET chatctl)
  install(FILES ${CHATCTL_COMPLETION}
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()
if(TARGET chat_client)
  install(FILES ${CHAT_PACKAGING_DIR}/completions/chat_client
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
endif()

# Debian-only files go in their own component, which the RPM generator skips.
set(chat_changelog_gz ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
add_custom_command(OUTPUT ${chat_changelog_gz}
  COMMAND ${CMAKE_COMMAND} -E copy ${CHAT_PACKAGING_DIR}/changelog
    ${PROJECT_BINARY_DIR}/packaging/changelog.Debian
  COMMAND gzip -9nf ${PROJECT_BINARY_DIR}/packaging/changelog.Debian
  DEPENDS ${CHAT_PACKAGING_DIR}/changelog
  VERBATIM)
add_custom_target(chat_changelog ALL DEPENDS ${chat_changelog_gz})
install(FILES ${chat_changelog_gz} DESTINATION ${CHAT_DOC_DIR} COMPONENT deb_only
  EXCLUDE_FROM_ALL)
install(FILES ${CHAT_PACKAGING_DIR}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
  RENAME chatd COMPONENT deb_only EXCLUDE_FROM_ALL)

# --- CPack ----------------------------------------------------------------------
set(CHAT_PACKAGE_RELEASE 1 CACHE STRING "Package revision (the -N in 0.1.0-N)")
set(CHAT_PACKAGE_MAINTAINER "chatd maintainers <maintainers@users.noreply.r-seed-5fb7ef25.example>"
  CACHE STRING "Maintainer/Packager field of both packages")
set(CHAT_PACKAGE_HOMEPAGE "" CACHE STRING "Homepage/URL field of both packages (empty: none)")

# The changelog's newest entry must name the version being packaged.
file(STRINGS ${CHAT_PACKAGING_DIR}/changelog chat_changelog_top LIMIT_COUNT 1)
set(chat_pkg_version "${PROJECT_VERSION}-${CHAT_PACKAGE_RELEASE}")
if(NOT chat_changelog_top MATCHES "^chatd \\(${chat_pkg_version}\\) ")
  message(WARNING "packaging/changelog starts with '${chat_changelog_top}', "
    "but the package version is ${chat_pkg_version}: add a changelog entry")
endif()

set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_PACKAGE_NAME chatd)
set(CPACK_PACKAGE_VENDOR "chatd maintainers")
set(CPACK_PACKAGE_CONTACT "${CHAT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Small multi-user chat server with terminal client")
set(CPACK_PACKAGE_DESCRIPTION
  "chatd is a chat server for a small group: clients connect over TCP, pick a
nick and every line they type reaches everyone else. It speaks a simple
length-prefixed JSON protocol with optional extensions (rooms, direct
messages, history), is socket-activated by systemd and runs confined
under a dynamic user.

The package also contains chat_client, a terminal client, and chatctl,
which lists, kicks and messages users through chatd's control socket.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_CHAT_STRIP "${CMAKE_STRIP}")
set(CPACK_PRE_BUILD_SCRIPTS ${CHAT_PACKAGING_DIR}/strip-staged.cmake)
set(CPACK_VERBATIM_VARIABLES ON)

# DEB
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${CHAT_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CHAT_PACKAGING_DIR}/deb/conffiles ${CHAT_PACKAGING_DIR}/deb/postinst
  ${CHAT_PACKAGING_DIR}/deb/prerm ${CHAT_PACKAGING_DIR}/deb/postrm)
if(CHAT_PACKAGE_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${CHAT_PACKAGE_HOMEPAGE}")
  set(CPACK_RPM_PACKAGE_URL "${CHAT_PACKAGE_HOMEPAGE}")
endif()

# Run-time needs beyond the shared libraries: ExecReload=/bin/kill comes from
# procps, which minimal systems (containers, debootstrap minbase) lack.
set(chat_unit_kill FALSE)
foreach(unit ${chat_units})
  file(STRINGS ${unit} chat_kill_lines REGEX "^Exec[A-Za-z]*=.*/bin/kill")
  if(chat_kill_lines)
    set(chat_unit_kill TRUE)
  endif()
endforeach()
if(chat_unit_kill)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS procps)
  set(CPACK_RPM_PACKAGE_REQUIRES /usr/bin/kill)
endif()
# libsodium (Argon2id for registered nicks): shlibdeps finds it too; named here so
# the dependency is explicit on both package formats.
if(CPACK_DEBIAN_PACKAGE_DEPENDS)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libsodium23")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS libsodium23)
endif()
# hiredis for --engine redis (shlibdeps finds libhiredis0.14 too). redis-server
# itself is suggested, not required: it need not run on this host, and one serves
# many nodes (docs/CLUSTER.md).
string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libhiredis0.14")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS redis-server)
set(CPACK_RPM_PACKAGE_SUGGESTS redis)
# (rpmbuild finds libsodium.so.23 and libhiredis.so.0.14 itself; naming the
# package is rpmlint's explicit-lib-dependency error.)

# RPM
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
# Units and /etc paths are absolute; the package cannot move.
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_PACKAGE_RELEASE ${CHAT_PACKAGE_RELEASE})
set(CPACK_RPM_PACKAGE_LICENSE MIT)
set(CPACK_RPM_PACKAGE_GROUP "Applications/Internet")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_RPM_CHANGELOG_FILE ${CHAT_PACKAGING_DIR}/rpm/changelog)
set(CPACK_RPM_SPEC_MORE_DEFINE "%define packager ${CHAT_PACKAGE_MAINTAINER}")
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${CHAT_PACKAGING_DIR}/rpm/post)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${CHAT_PACKAGING_DIR}/rpm/preun)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${CHAT_PACKAGING_DIR}/rpm/postun)
set(CPACK_RPM_USER_FILELIST "%config(noreplace) /etc/chatd/chatd.conf")
# Directories the filesystem package owns; listing them would claim them.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /etc /usr/sbin /usr/share/man /usr/share/man/man1 /usr/share/man/man5 /usr/share/man/man8
  /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d /usr/lib/tmpfiles.d
  /usr/share/bash-completion /usr/share/bash-completion/completions /usr/share/doc)

# Per generator: the RPM gets every component but the Debian-only one.
get_cmake_property(chat_components COMPONENTS)
list(REMOVE_ITEM chat_components deb_only)
set(chat_rpm_projects "")
foreach(comp ${chat_components})
  list(APPEND chat_rpm_projects "${PROJECT_BINARY_DIR}" chatd ${comp} /)
endforeach()
set(chat_deb_projects ${chat_rpm_projects} "${PROJECT_BINARY_DIR}" chatd deb_only /)
configure_file(${CHAT_PACKAGING_DIR}/cpack-project.cmake.in
  ${PROJECT_BINARY_DIR}/packaging/cpack-project.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/packaging/cpack-project.cmake)

include(CPack)
