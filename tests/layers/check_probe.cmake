# ctest helper: builds one layer probe and checks the outcome.
#   -DBUILD_DIR=... -DPROBE=<target> -DEXPECT=fail|compile -DHEADER=<the probe's include>
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${PROBE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(EXPECT STREQUAL "fail")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${PROBE}: the upward #include \"${HEADER}\" compiled; the layer's include path reaches "
                        "a higher layer (cmake/Layers.cmake)")
  endif()
  string(FIND "${all}" "${HEADER}: No such file or directory" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${PROBE}: failed, but not because \"${HEADER}\" was out of reach:\n${all}")
  endif()
  message(STATUS "${PROBE}: \"${HEADER}\" is out of reach, as it must be")
else()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROBE}: the downward #include \"${HEADER}\" did not compile:\n${all}")
  endif()
  message(STATUS "${PROBE}: \"${HEADER}\" compiles")
endif()
