# A dropped Result<T> must be a compiler warning (issue 12): Result is a [[nodiscard]] class in
# include/vsecret/error.h because libstdc++ 12's std::expected is not marked. Checked here rather
# than in a test because the property is "this does not compile".
function(vsecret_check_nodiscard)
  set(probe ${CMAKE_SOURCE_DIR}/cmake/nodiscard_probe.cc)
  set(flags "-DINCLUDE_DIRECTORIES=${CMAKE_SOURCE_DIR}/include")
  try_compile(kept_builds ${CMAKE_BINARY_DIR}/nodiscard_probe/kept SOURCES ${probe}
              CMAKE_FLAGS ${flags} COMPILE_DEFINITIONS -Werror=unused-result
              CXX_STANDARD 23 CXX_STANDARD_REQUIRED ON OUTPUT_VARIABLE kept_log)
  if(NOT kept_builds)
    message(FATAL_ERROR "nodiscard probe does not build even without a dropped Result:\n${kept_log}")
  endif()
  try_compile(dropped_builds ${CMAKE_BINARY_DIR}/nodiscard_probe/dropped SOURCES ${probe}
              CMAKE_FLAGS ${flags} COMPILE_DEFINITIONS -Werror=unused-result -DVSECRET_PROBE_DISCARD
              CXX_STANDARD 23 CXX_STANDARD_REQUIRED ON OUTPUT_VARIABLE dropped_log)
  if(dropped_builds)
    message(FATAL_ERROR "a discarded vsecret::Result compiles without a warning: Result lost [[nodiscard]]")
  endif()
  message(STATUS "Discarded vsecret::Result warns (unused-result)")
endfunction()
