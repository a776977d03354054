# ctest driver: builds TARGET in BUILD_DIR and checks the outcome.
#   EXPECT=ok       the build must succeed
#   EXPECT=refused  the build must fail because the header is not found (not for another reason)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EXPECT STREQUAL "ok")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TARGET} should build:\n${out}\n${err}")
  endif()
elseif(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} built: an upward include was not refused")
elseif(NOT "${out}${err}" MATCHES "client/remote_connection.h: No such file or directory")
  message(FATAL_ERROR "${TARGET} failed for another reason:\n${out}\n${err}")
endif()
