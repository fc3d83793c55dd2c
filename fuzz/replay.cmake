# Runs one fuzz target once over its seed corpus and saved regression inputs,
# without fuzzing: cmake -DFUZZER=<binary> -DCORPUS=<dir> -DREGRESSIONS=<dir> -P replay.cmake
# Missing directories are skipped (git keeps no empty ones). Fails if any
# input crashes.
set(inputs)
foreach(dir IN ITEMS "${CORPUS}" "${REGRESSIONS}")
  if(IS_DIRECTORY "${dir}")
    file(GLOB files LIST_DIRECTORIES false "${dir}/*")
    list(SORT files)
    list(APPEND inputs ${files})
  endif()
endforeach()
if(NOT inputs)
  message(STATUS "no inputs for ${FUZZER}")
  return()
endif()
list(LENGTH inputs count)
# Given files (not directories), libFuzzer runs each one once and exits.
execute_process(COMMAND "${FUZZER}" ${inputs}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message("${out}")
  message(FATAL_ERROR "${FUZZER} crashed on one of ${count} inputs (exit ${rc})")
endif()
message(STATUS "${count} inputs replayed without a crash")
