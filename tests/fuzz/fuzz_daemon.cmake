# fuzz_daemon: the composed daemon (Server, Hub, Sessions) driven by hostile sequences.
chat_fuzzer(fuzz_daemon fuzz_daemon.cpp)
target_link_libraries(fuzz_daemon PRIVATE chatdaemon)
