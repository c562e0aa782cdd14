# chatd's control socket server, journald sink and log-field helpers, as a library
# that daemon/CMakeLists.txt include()s and links into chatd (the ctl tests use it too).
add_library(chatcontrol STATIC
  ${CMAKE_CURRENT_LIST_DIR}/control.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_handlers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/journal_sink.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log_fields.cpp)
target_include_directories(chatcontrol PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
target_link_libraries(chatcontrol
  PUBLIC chatproto chatcommon spdlog::spdlog PkgConfig::SYSTEMD
  PRIVATE chat_build_flags)
