# Run at install time (CMakeLists.txt): turn the installed static library
# into one relocatable object whose internal symbols are local, so that an
# application with a function of its own named like one of libvault's
# internals (store_open, af_leaf_hash, ...) still links against libvault.a.
# The library is compiled with hidden visibility; VAULT_API names are the
# default-visibility ones and stay global.
# EMBED names Debian's libsqlcipher.a: its objects go into the same
# object and every sqlite3_* / sqlcipher_* name in it becomes local, so an
# application that also links the system's libsqlite3 gets two SQLite
# libraries that don't see each other (docs/packaging.md).
# Variables: ARCHIVE (the installed libvault.a), AR, LD, OBJCOPY, EMBED.
if(NOT EXISTS "${ARCHIVE}")
  message(FATAL_ERROR "localize: ${ARCHIVE} is missing")
endif()
if(NOT EXISTS "${EMBED}")
  message(FATAL_ERROR "localize: ${EMBED} (SQLCipher's static library) is missing")
endif()
get_filename_component(dir "${ARCHIVE}" DIRECTORY)
set(work "${dir}/.libvault-localize")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}/embed")
execute_process(COMMAND "${AR}" x "${ARCHIVE}" WORKING_DIRECTORY "${work}" RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${AR} x failed (${r})")
endif()
execute_process(COMMAND "${AR}" x "${EMBED}" WORKING_DIRECTORY "${work}/embed" RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${AR} x ${EMBED} failed (${r})")
endif()
file(GLOB objects "${work}/*.o")
file(GLOB embedded "${work}/embed/*.o")
execute_process(COMMAND "${LD}" -r -o "${work}/libvault.o" ${objects} ${embedded} RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${LD} -r failed (${r})")
endif()
execute_process(COMMAND "${OBJCOPY}" --localize-hidden --wildcard
  "--localize-symbol=sqlite3*" "--localize-symbol=sqlcipher*" "${work}/libvault.o" RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${OBJCOPY} --localize-hidden failed (${r})")
endif()
file(REMOVE "${ARCHIVE}")
execute_process(COMMAND "${AR}" rcs "${ARCHIVE}" "${work}/libvault.o" RESULT_VARIABLE r)
file(REMOVE_RECURSE "${work}")
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${AR} rcs failed (${r})")
endif()
