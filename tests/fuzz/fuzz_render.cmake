# fuzz_render: text shown to people - the text-safety module (common/text_safety.hpp), the
# client's packet-to-screen renderer (client/render.hpp) and chatctl's tables (ctl/render.hpp).
if(TARGET chatclient_core AND TARGET chatctl_lib)
  chat_fuzzer(fuzz_render fuzz_render.cpp)
  target_link_libraries(fuzz_render PRIVATE chatclient_core chattext chatctl_lib)
endif()
