# Manual pages and shell completion (issue 16).
#
# The pages are written in reStructuredText (docs/man/<name>.rst, the section given in
# VSECRET_MAN_PAGES and in the page's ":Manual section:" field) and turned into roff by docutils' rst2man, as Debian's
# python3-docutils installs it. Without rst2man the pages are skipped with a warning, so that a
# bare build still works; VSECRET_REQUIRE_MAN=ON (CI, packaging) makes it an error.
option(VSECRET_REQUIRE_MAN "Fail the configure step when rst2man is missing" OFF)
find_program(VSECRET_RST2MAN NAMES rst2man rst2man.py PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT VSECRET_RST2MAN)
  find_program(VSECRET_RST2MAN NAMES rst2man rst2man.py)
endif()

# name;section pairs; the source is docs/man/<name>.rst, the page build/man/<name>.<section>.
set(VSECRET_MAN_PAGES vsecret:1 vsecretd:8 vsecret-admin:8 vsecretd.conf:5 secret.conf:5)
set(VSECRET_MAN_DIR ${CMAKE_BINARY_DIR}/man)

if(VSECRET_RST2MAN)
  set(outputs "")
  foreach(page ${VSECRET_MAN_PAGES})
    string(REPLACE ":" ";" parts ${page})
    list(GET parts 0 name)
    list(GET parts 1 section)
    set(src ${CMAKE_SOURCE_DIR}/docs/man/${name}.rst)
    set(out ${VSECRET_MAN_DIR}/${name}.${section})
    # --halt=warning: a page docutils warns about fails the build instead of rendering badly.
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${VSECRET_MAN_DIR}
      COMMAND ${VSECRET_RST2MAN} --halt=warning --no-generator --no-datestamp ${src} ${out}
      DEPENDS ${src}
      COMMENT "Generating manual page ${name}(${section})"
      VERBATIM)
    list(APPEND outputs ${out})
    install(FILES ${out} DESTINATION share/man/man${section})
  endforeach()
  add_custom_target(vsecret_man ALL DEPENDS ${outputs})
elseif(VSECRET_REQUIRE_MAN)
  message(FATAL_ERROR "rst2man not found: install python3-docutils (scripts/install-deps.sh)")
else()
  message(WARNING "rst2man not found (python3-docutils): the manual pages are not built")
endif()

# bash-completion's directory for completions loaded on demand, named after the command.
foreach(tool vsecret vsecretd vsecret-admin)
  install(FILES ${CMAKE_SOURCE_DIR}/completion/${tool}.bash DESTINATION share/bash-completion/completions
          RENAME ${tool})
endforeach()

# tests/docs: the pages and completion scripts against what the programs accept.
if(VSECRET_BUILD_TESTS)
  file(GLOB VSECRET_DOCS_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/docs/*_test.py)
  foreach(script ${VSECRET_DOCS_TESTS})
    get_filename_component(name ${script} NAME_WE)
    add_test(NAME docs.${name} COMMAND /usr/bin/python3 ${script})
    set_tests_properties(docs.${name} PROPERTIES LABELS docs TIMEOUT 300
      ENVIRONMENT "VSECRET_BIN=${CMAKE_BINARY_DIR}/bin;VSECRET_SOURCE_DIR=${CMAKE_SOURCE_DIR};VSECRET_MAN_DIR=${VSECRET_MAN_DIR};PYTHONPATH=${CMAKE_SOURCE_DIR}/tests")
  endforeach()
endif()
