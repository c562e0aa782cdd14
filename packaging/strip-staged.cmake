# CPack pre-build script: strip the staged ELF files the way dh_strip does.
# CPACK_STRIP_FILES alone keeps the .comment section (compiler version
# strings), which lintian reports as binary-has-unneeded-section.
file(GLOB_RECURSE chat_staged LIST_DIRECTORIES false "${CPACK_TEMPORARY_DIRECTORY}/*")
foreach(f IN LISTS chat_staged)
  if(IS_SYMLINK "${f}")
    continue()
  endif()
  file(READ "${f}" magic LIMIT 4 HEX)
  if(magic STREQUAL "7f454c46")
    execute_process(
      COMMAND "${CPACK_CHAT_STRIP}" --remove-section=.comment --remove-section=.note
              --strip-unneeded "${f}"
      RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "strip failed on ${f}")
    endif()
  endif()
endforeach()

# Reproducible packages: every staged file and directory carries
# SOURCE_DATE_EPOCH as its time, not the time of this build.
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  file(GLOB_RECURSE chat_staged_all LIST_DIRECTORIES true "${CPACK_TEMPORARY_DIRECTORY}/*")
  execute_process(COMMAND touch -h -d "@$ENV{SOURCE_DATE_EPOCH}" ${chat_staged_all}
    "${CPACK_TEMPORARY_DIRECTORY}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "touch failed on the staged files")
  endif()
endif()
