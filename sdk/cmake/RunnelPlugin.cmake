# runnel_add_plugin(<target> SOURCES <files...> [LIBRARIES <libs...>]
#                   [OUTPUT_DIRECTORY <dir>])
#
# Builds a runnel plugin: a MODULE library named lib<target>.so, compiled
# against the SDK headers, linked with the SDK helper library and nothing
# from the engine (-z defs makes a stray engine symbol a link error), with
# every symbol hidden except the entry function.
function(runnel_add_plugin target)
  cmake_parse_arguments(RP "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT RP_SOURCES)
    message(FATAL_ERROR "runnel_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${RP_SOURCES})
  target_link_libraries(${target} PRIVATE runnel::sdk ${RP_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  if(RP_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${RP_OUTPUT_DIRECTORY})
  endif()
  target_link_options(${target} PRIVATE "LINKER:-z,defs")
endfunction()
