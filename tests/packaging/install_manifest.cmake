# packaging.install_manifest: `cmake --install` into a scratch DESTDIR, then the installed files
# (regular files and links, relative to DESTDIR) must be exactly those in install_manifest.txt.
# A file the rules forget, or one they install that nobody listed, fails the test.
#
#   cmake -DBUILD_DIR=<build> -DMANIFEST=<install_manifest.txt> -DSTAGE=<scratch dir>
#         [-DUPDATE=1] -P install_manifest.cmake
#
# With -DUPDATE=1 the manifest is rewritten from what was installed (review the diff).
foreach(var BUILD_DIR MANIFEST STAGE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_manifest.cmake: -D${var}= is required")
  endif()
endforeach()

# DESTDIR must be absolute (cmake --install would take a relative one from the build directory).
get_filename_component(STAGE ${STAGE} ABSOLUTE)
get_filename_component(MANIFEST ${MANIFEST} ABSOLUTE)
file(REMOVE_RECURSE ${STAGE})
file(MAKE_DIRECTORY ${STAGE})
# The prefix a distribution uses; the manifest is written for it.
execute_process(COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${STAGE}
                        ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix /usr
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}${err}")
endif()

file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE ${STAGE} ${STAGE}/*)
list(SORT installed)
list(JOIN installed "\n" installed_text)

if(UPDATE)
  # The comment lines at the top of the manifest are kept.
  set(header "")
  if(EXISTS ${MANIFEST})
    file(STRINGS ${MANIFEST} old_lines)
    foreach(line IN LISTS old_lines)
      if(NOT line MATCHES "^#")
        break()
      endif()
      string(APPEND header "${line}\n")
    endforeach()
  endif()
  file(WRITE ${MANIFEST} "${header}${installed_text}\n")
  message(STATUS "wrote ${MANIFEST}")
  return()
endif()

file(STRINGS ${MANIFEST} expected)
list(FILTER expected EXCLUDE REGEX "^(#.*)?$")
list(SORT expected)

set(missing ${expected})
list(REMOVE_ITEM missing ${installed})
set(extra ${installed})
list(REMOVE_ITEM extra ${expected})
if(missing OR extra)
  list(JOIN missing "\n  " missing_text)
  list(JOIN extra "\n  " extra_text)
  message(FATAL_ERROR "installed files differ from ${MANIFEST}\n"
                      "listed but not installed:\n  ${missing_text}\n"
                      "installed but not listed:\n  ${extra_text}\n"
                      "(rerun with -DUPDATE=1 to rewrite the manifest, then review it)")
endif()
list(LENGTH installed n)
message(STATUS "cmake --install: ${n} files, as ${MANIFEST} lists")
