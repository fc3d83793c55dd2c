# Usage: cmake -DSCGI_BUILD_DIR=... -DCONSUMER_SOURCE=... -DWORK_DIR=...
#              -DCXX_COMPILER=... -DGENERATOR=... [-DSANITIZE=...] [-DTOOLS=a;b] -P run.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "command failed (${result}): ${ARGN}\n${output}")
  endif()
  set(last_output "${output}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${SCGI_BUILD_DIR} --prefix ${prefix})
# The library directory is lib or lib/<multiarch> depending on the prefix.
file(GLOB_RECURSE config_files RELATIVE ${prefix} ${prefix}/*/scgiConfig*.cmake)
list(LENGTH config_files config_count)
foreach(file include/scgi/scgi.hpp include/scgi/detail/find_nul.hpp)
  if(NOT EXISTS ${prefix}/${file} OR NOT config_count EQUAL 2)
    file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
    message(FATAL_ERROR "not installed: ${file} or the package config\ninstalled: ${installed}")
  endif()
endforeach()

# The tools, installed and runnable from the prefix.
foreach(tool IN LISTS TOOLS)
  if(NOT EXISTS ${prefix}/bin/${tool})
    message(FATAL_ERROR "not installed: bin/${tool}")
  endif()
  run(${prefix}/bin/${tool} --help)
  if(NOT last_output MATCHES "Usage: ${tool}")
    message(FATAL_ERROR "bin/${tool} --help printed no usage: ${last_output}")
  endif()
endforeach()

# Sanitized builds need the consumer compiled and linked the same way.
set(flags "")
if(SANITIZE)
  set(flags "-fsanitize=${SANITIZE}")
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix}
    "-DCMAKE_CXX_FLAGS=${flags}" "-DCMAKE_EXE_LINKER_FLAGS=${flags}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT last_output MATCHES "consumer: 4 headers, body 'hi'")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
message(STATUS "${last_output}")
run(${WORK_DIR}/build/asio_consumer ${WORK_DIR}/consumer.sock)
if(NOT last_output MATCHES "asio_consumer: 200 got 'hi' at /x")
  message(FATAL_ERROR "unexpected asio_consumer output: ${last_output}")
endif()
message(STATUS "${last_output}")
