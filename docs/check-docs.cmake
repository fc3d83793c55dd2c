# The `docs` target: runs Doxygen with DOCS_DIR/Doxyfile and fails if
# anything public lacks a doc comment or a doc comment is malformed.
#
#   cmake -DDOXYGEN=/usr/bin/doxygen -DDOCS_DIR=<build>/docs -P check-docs.cmake
#
# Doxygen's warnings (Doxyfile.in: WARN_AS_ERROR) cover classes, structs,
# functions, variables, typedefs and enums. Doxygen 1.9.4 (Debian 12) stays
# silent about three kinds of undocumented entity, which are looked for here in
# its XML output (which lists every member, documented or not):
# - enumerators (WARN_IF_UNDOC_ENUM_VAL came with Doxygen 1.9.8);
# - destructors;
# - constructors without parameters.
# Deleted functions need no comment. Each header needs a `/// @file` comment
# (what it is for, shown in the file list), also checked here.
cmake_minimum_required(VERSION 3.25)

# Start afresh: pages of entities that no longer exist must not linger.
file(REMOVE_RECURSE ${DOCS_DIR}/html ${DOCS_DIR}/xml)
file(REMOVE ${DOCS_DIR}/warnings.log)
execute_process(COMMAND ${DOXYGEN} ${DOCS_DIR}/Doxyfile WORKING_DIRECTORY ${DOCS_DIR}
                RESULT_VARIABLE status)

set(problems "")
if(EXISTS ${DOCS_DIR}/warnings.log)
  file(READ ${DOCS_DIR}/warnings.log warnings)
  string(STRIP "${warnings}" warnings)
  if(warnings)
    string(APPEND problems "${warnings}\n")
  endif()
endif()
if(NOT status EQUAL 0 AND NOT problems)
  string(APPEND problems "doxygen exited with ${status}\n")
endif()

# In the XML, a member is a <memberdef kind=".." prot=".."> holding its <name>,
# <qualifiedname>, (for a function) <argsstring>, its descriptions and a
# <location>; an enum's holds one <enumvalue prot=".."> per enumerator, with
# <name>, maybe <initializer>, and descriptions. "Undocumented" is an empty
# brief and an empty detailed description.
set(space "[ \t\r\n]*")
set(no_description
    "<briefdescription>${space}</briefdescription>${space}<detaileddescription>${space}</detaileddescription>")
set(public_member "<memberdef kind=\"([a-z]+)\"[^>]* prot=\"(public|protected)\"")
set(undocumented_enumerator
    "<enumvalue [^>]*>${space}<name>[^<]*</name>${space}(<initializer>[^<]*</initializer>${space})?${no_description}")

file(GLOB compounds ${DOCS_DIR}/xml/*.xml)
list(FILTER compounds EXCLUDE REGEX "/(index|Doxyfile)\\.xml$")
foreach(compound IN LISTS compounds)
  file(READ ${compound} xml)
  # Entities end in ';', on which CMake lists split: drop them, then cut the
  # file into a list of members.
  string(REPLACE ";" "" xml "${xml}")
  string(REGEX MATCH "<compoundname>([^<]*)</compoundname>" _ "${xml}")
  string(REGEX REPLACE ".*::" "" class_name "${CMAKE_MATCH_1}")
  if(xml MATCHES "<compounddef [^>]*kind=\"file\" language=\"C\\+\\+\"")
    # The file's own descriptions come last, after its members'.
    string(REGEX REPLACE ".*(<briefdescription>)" "\\1" own "${xml}")
    string(REGEX MATCH "<location file=\"([^\"]*)\"" _ "${own}")
    set(header "include/${CMAKE_MATCH_1}")
    if(own MATCHES "^${no_description}")
      string(APPEND problems "${header}:1: error: no `/// @file` comment.\n")
    endif()
    continue()
  endif()
  string(REPLACE "</memberdef>" ";" members "${xml}")
  foreach(member IN LISTS members)
    if(NOT member MATCHES "${public_member}")
      continue()
    endif()
    set(kind ${CMAKE_MATCH_1})
    string(REGEX REPLACE ".*<memberdef " "<memberdef " member "${member}")
    string(REGEX MATCH "<location file=\"([^\"]*)\" line=\"([0-9]*)\"" _ "${member}")
    set(where "include/${CMAKE_MATCH_1}:${CMAKE_MATCH_2}")  # Doxyfile.in strips include/
    string(REGEX MATCH "<qualifiedname>([^<]*)</qualifiedname>" _ "${member}")
    set(qualified_name "${CMAKE_MATCH_1}")
    if(kind STREQUAL "enum")
      string(REGEX MATCHALL "${undocumented_enumerator}" enumerators "${member}")
      foreach(enumerator IN LISTS enumerators)
        string(REGEX MATCH "<name>([^<]*)</name>" _ "${enumerator}")
        string(APPEND problems
               "${where}: error: enumerator ${CMAKE_MATCH_1} of ${qualified_name} is not documented.\n")
      endforeach()
    elseif(kind STREQUAL "function")
      string(REGEX MATCH "<name>([^<]*)</name>" _ "${member}")
      set(name "${CMAKE_MATCH_1}")
      string(REGEX MATCH "<argsstring>([^<]*)</argsstring>" _ "${member}")
      set(args "${CMAKE_MATCH_1}")
      if((name MATCHES "^~" OR (name STREQUAL class_name AND args MATCHES "^\\(\\)"))
         AND NOT args MATCHES "=delete$" AND member MATCHES "${no_description}")
        string(APPEND problems "${where}: error: ${qualified_name}${args} is not documented.\n")
      endif()
    endif()
  endforeach()
endforeach()

if(problems)
  # Plain lines, one per problem, so that editors can jump to each.
  message(NOTICE "${problems}")
  message(FATAL_ERROR "docs: undocumented public API or malformed doc comments (above; "
                      "Doxygen's log: ${DOCS_DIR}/warnings.log)")
endif()
