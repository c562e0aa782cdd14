# fuzz_render: the client's packet-to-screen renderer (client/render.hpp), when the client is built.
if(TARGET chatclient_core)
  chat_fuzzer(fuzz_render fuzz_render.cpp)
  target_link_libraries(fuzz_render PRIVATE chatclient_core)
endif()
