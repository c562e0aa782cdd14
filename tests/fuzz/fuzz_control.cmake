# fuzz_control: the control request parser and reply builder (protocol/control.hpp).
chat_fuzzer(fuzz_control fuzz_control.cpp)
target_include_directories(fuzz_control SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIRS})
