# MySQL Connector/C++ 1.1 ships neither a CMake config nor a pkg-config file.
find_path(MYSQLCPPCONN_INCLUDE_DIR mysql_driver.h)
find_library(MYSQLCPPCONN_LIBRARY mysqlcppconn)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MySQLConnectorCpp REQUIRED_VARS MYSQLCPPCONN_INCLUDE_DIR MYSQLCPPCONN_LIBRARY)
if(MySQLConnectorCpp_FOUND AND NOT TARGET MySQL::connector_cpp)
  add_library(MySQL::connector_cpp UNKNOWN IMPORTED)
  set_target_properties(MySQL::connector_cpp PROPERTIES IMPORTED_LOCATION ${MYSQLCPPCONN_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${MYSQLCPPCONN_INCLUDE_DIR})
endif()
