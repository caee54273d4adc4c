# Debian packages of AutoBuild, made by CPack's DEB generator (docs/packaging.md): one
# package per component. scripts/package builds the binaries and runs cpack into
# build/packages/; `cpack --config build/CPackConfig.cmake` does the same by hand.
#
#   autobuild-common      the service user, /etc/autobuild, the heartbeat secret (arch all)
#   autobuild-node        ab-node, its unit and sample configuration
#   autobuild-router      ab-router, its unit and sample configuration
#   autobuild-tools       abctl, ab-bmc and ab-bmcsim: an operator's machine, no service
#   autobuild-monitoring  the Grafana dashboard and the Prometheus rules and scrape sample (arch all)
#
# The web view is compiled into ab-node and ab-router (web/): no files of its own.

# cpack installs what the five binaries need only, without building every test first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(ab_deb_dir ${CMAKE_SOURCE_DIR}/deploy/debian)
set(ab_deb_gen ${CMAKE_BINARY_DIR}/debian)
set(ab_components common node router tools monitoring)
# The packages' version: the project's, Debian revision 1.
set(ab_deb_release 1)
set(ab_deb_version ${PROJECT_VERSION}-${ab_deb_release})

# Packaged binaries: relocation tables read-only and every symbol bound at start (lintian's
# hardening-no-relro / -bindnow); a link option, so only these five are linked again.
foreach(t ab-node ab-router abctl ab-bmc ab-bmcsim)
  target_link_options(${t} PRIVATE -Wl,-z,relro -Wl,-z,now)
endforeach()
install(TARGETS ab-node RUNTIME DESTINATION bin COMPONENT node)
install(TARGETS ab-router RUNTIME DESTINATION bin COMPONENT router)
install(TARGETS abctl ab-bmc ab-bmcsim RUNTIME DESTINATION bin COMPONENT tools)
# autobuild-common owns /etc/autobuild, where its postinst writes the heartbeat secret.
install(DIRECTORY DESTINATION /etc/autobuild COMPONENT common)

# Configuration under /etc/autobuild (conffiles), the units, the monitoring files.
install(FILES ${ab_deb_dir}/node.json DESTINATION /etc/autobuild COMPONENT node)
install(FILES ${ab_deb_dir}/router.json DESTINATION /etc/autobuild COMPONENT router)
install(FILES ${ab_deb_dir}/ab-node.service DESTINATION /lib/systemd/system COMPONENT node)
install(FILES ${ab_deb_dir}/ab-router.service DESTINATION /lib/systemd/system COMPONENT router)
install(FILES ${CMAKE_SOURCE_DIR}/config/node.sample.json
  ${CMAKE_SOURCE_DIR}/config/cluster-map.sample.json ${CMAKE_SOURCE_DIR}/config/policy.sample.json
  DESTINATION share/doc/autobuild-node/examples COMPONENT node)
install(FILES ${CMAKE_SOURCE_DIR}/docs/node.md ${CMAKE_SOURCE_DIR}/docs/cluster.md
  ${CMAKE_SOURCE_DIR}/docs/auth.md ${CMAKE_SOURCE_DIR}/docs/webview.md
  DESTINATION share/doc/autobuild-node COMPONENT node)
install(FILES ${CMAKE_SOURCE_DIR}/docs/router.md ${CMAKE_SOURCE_DIR}/docs/loadbalancer.md
  DESTINATION share/doc/autobuild-router COMPONENT router)
install(FILES ${CMAKE_SOURCE_DIR}/docs/packaging.md DESTINATION share/doc/autobuild-common
  COMPONENT common)
install(FILES ${CMAKE_SOURCE_DIR}/docs/abctl.md ${CMAKE_SOURCE_DIR}/docs/bmc.md
  ${CMAKE_SOURCE_DIR}/docs/bmcsim.md DESTINATION share/doc/autobuild-tools COMPONENT tools)
install(FILES ${CMAKE_SOURCE_DIR}/docs/metrics.md ${CMAKE_SOURCE_DIR}/docs/observability.md
  DESTINATION share/doc/autobuild-monitoring COMPONENT monitoring)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/grafana/autobuild.json
  DESTINATION share/autobuild/grafana COMPONENT monitoring)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/prometheus/alerts.yml
  ${CMAKE_SOURCE_DIR}/deploy/prometheus/alerts_test.yml
  ${CMAKE_SOURCE_DIR}/deploy/prometheus/prometheus.yml
  DESTINATION share/autobuild/prometheus COMPONENT monitoring)

# Per package: copyright, the Debian changelog (gzip -9n: reproducible), lintian's overrides,
# and the control files (maintainer scripts, conffiles).
find_program(AB_GZIP gzip REQUIRED)
# The changelog's date is the configure time, or SOURCE_DATE_EPOCH for a reproducible build.
string(TIMESTAMP ab_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(comp ${ab_components})
  set(pkg autobuild-${comp})
  set(gen ${ab_deb_gen}/${pkg})
  file(MAKE_DIRECTORY ${gen})
  configure_file(${ab_deb_dir}/changelog.in ${gen}/changelog @ONLY)
  execute_process(COMMAND ${AB_GZIP} -9nf ${gen}/changelog RESULT_VARIABLE gz)
  if(NOT gz EQUAL 0)
    message(FATAL_ERROR "gzip of ${gen}/changelog failed")
  endif()
  install(FILES ${gen}/changelog.gz DESTINATION share/doc/${pkg} RENAME changelog.Debian.gz
    COMPONENT ${comp})
  install(FILES ${ab_deb_dir}/copyright DESTINATION share/doc/${pkg} COMPONENT ${comp})
  if(EXISTS ${ab_deb_dir}/${pkg}/lintian-overrides)
    install(FILES ${ab_deb_dir}/${pkg}/lintian-overrides DESTINATION share/lintian/overrides
      RENAME ${pkg} COMPONENT ${comp})
  endif()
  set(control "")
  foreach(script postinst prerm postrm)
    if(EXISTS ${ab_deb_dir}/${pkg}/${script})
      list(APPEND control ${ab_deb_dir}/${pkg}/${script})
    endif()
  endforeach()
  string(TOUPPER ${comp} COMP)
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA ${control})
endforeach()
foreach(comp node router)
  set(conffiles ${ab_deb_gen}/autobuild-${comp}/conffiles)
  file(WRITE ${conffiles} "/etc/autobuild/${comp}.json\n")
  string(TOUPPER ${comp} COMP)
  list(APPEND CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA ${conffiles})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME autobuild)
set(CPACK_PACKAGE_VENDOR "AutoBuild")
set(CPACK_PACKAGE_CONTACT "AutoBuild maintainers <maintainers@autobuild.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/cpack)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${ab_components})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE ${ab_deb_release})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SOURCE autobuild)
# Dependencies on shared libraries come from dpkg-shlibdeps, as a debhelper build's would.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_COMMON_PACKAGE_NAME autobuild-common)
set(CPACK_DEBIAN_COMMON_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_COMMON_PACKAGE_DEPENDS "adduser")
set(CPACK_COMPONENT_COMMON_DESCRIPTION
"AutoBuild bare-metal lifecycle manager - common files
The system user autobuild that runs ab-node and ab-router, the configuration
directory /etc/autobuild and the deployment's heartbeat secret, generated at
installation when there is none.")

set(CPACK_DEBIAN_NODE_PACKAGE_NAME autobuild-node)
set(CPACK_DEBIAN_NODE_PACKAGE_DEPENDS "autobuild-common (= ${ab_deb_version})")
set(CPACK_DEBIAN_NODE_PACKAGE_RECOMMENDS "ipmitool")
set(CPACK_COMPONENT_NODE_DESCRIPTION
"AutoBuild bare-metal lifecycle manager - site node
ab-node serves the REST API of one site and runs its workers, which claim the
jobs of the site database's queue and drive the servers' BMCs (Redfish, IPMI
through ipmitool). The operator's web view is compiled in (/ui/). Comes with
the systemd unit ab-node.service and a configuration for a single node on an
embedded SQLite store.")

set(CPACK_DEBIAN_ROUTER_PACKAGE_NAME autobuild-router)
set(CPACK_DEBIAN_ROUTER_PACKAGE_DEPENDS "autobuild-common (= ${ab_deb_version})")
set(CPACK_COMPONENT_ROUTER_DESCRIPTION
"AutoBuild bare-metal lifecycle manager - router
ab-router learns the sites' nodes from their signed heartbeats and sends each
API call to a live node of the site its server is in. The operator's web view
is compiled in (/ui/). Comes with the systemd unit ab-router.service.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME autobuild-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SUGGESTS "ipmitool")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
"AutoBuild bare-metal lifecycle manager - operator's tools
abctl submits, watches and cancels requests and manages hosts through the
routers; ab-bmc talks to one BMC directly; ab-bmcsim simulates a fleet of
Redfish BMCs for tests and demonstrations.")

set(CPACK_DEBIAN_MONITORING_PACKAGE_NAME autobuild-monitoring)
set(CPACK_DEBIAN_MONITORING_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_MONITORING_PACKAGE_SUGGESTS "prometheus")
set(CPACK_COMPONENT_MONITORING_DESCRIPTION
"AutoBuild bare-metal lifecycle manager - dashboards and alerts
The Grafana dashboard, the Prometheus alerting rules with their unit tests and
a sample scrape configuration, under /usr/share/autobuild.")

include(CPack)
