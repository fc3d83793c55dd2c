# cmake -DBUILD_DIR=... -DTARGET=... -DSOURCE=... -DCOMPILER_ID=... -P check.cmake
# Builds TARGET, which must fail, and compares the lines of SOURCE the
# compiler flagged for an ignored [[nodiscard]] result with the lines marked
# in SOURCE: "never awaited" for every compiler, "result dropped" for clang.
file(STRINGS ${SOURCE} lines)
set(expected)
set(number 0)
foreach(line IN LISTS lines)
  math(EXPR number "${number} + 1")
  if(line MATCHES "// never awaited$" OR (COMPILER_ID STREQUAL "Clang" AND line MATCHES "// result dropped$"))
    list(APPEND expected ${number})
  endif()
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
  OUTPUT_VARIABLE output ERROR_VARIABLE output RESULT_VARIABLE failed)
get_filename_component(name ${SOURCE} NAME)
string(REGEX MATCHALL "${name}:[0-9]+:[0-9]+: error: ignoring return value" diagnostics "${output}")
set(flagged)
foreach(diagnostic IN LISTS diagnostics)
  string(REGEX REPLACE "^${name}:([0-9]+):.*" "\\1" at "${diagnostic}")
  list(APPEND flagged ${at})
endforeach()
list(REMOVE_DUPLICATES flagged)
list(SORT flagged COMPARE NATURAL)

if(NOT failed OR NOT flagged STREQUAL expected)
  message(FATAL_ERROR "expected a dropped-result error on lines '${expected}' of ${name}, "
                      "got one on '${flagged}'; the build said:\n${output}")
endif()
message(STATUS "dropped results flagged on lines ${flagged} of ${name}")
