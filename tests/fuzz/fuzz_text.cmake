# fuzz_text: the text-safety module (common/text_safety.hpp) and chatctl's tables on it.
if(TARGET chatctl_lib)
  chat_fuzzer(fuzz_text fuzz_text.cpp)
  target_link_libraries(fuzz_text PRIVATE chattext chatctl_lib)
endif()
