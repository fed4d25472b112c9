# Run at install time (CMakeLists.txt): turn the installed static library
# into one relocatable object whose internal symbols are local, so that an
# application with a function of its own named like one of libvault's
# internals (store_open, af_leaf_hash, ...) still links against libvault.a.
# The library is compiled with hidden visibility; VAULT_API names are the
# default-visibility ones and stay global.
# Variables: ARCHIVE (the installed libvault.a), AR, LD, OBJCOPY.
if(NOT EXISTS "${ARCHIVE}")
  message(FATAL_ERROR "localize: ${ARCHIVE} is missing")
endif()
get_filename_component(dir "${ARCHIVE}" DIRECTORY)
set(work "${dir}/.libvault-localize")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")
execute_process(COMMAND "${AR}" x "${ARCHIVE}" WORKING_DIRECTORY "${work}" RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${AR} x failed (${r})")
endif()
file(GLOB objects "${work}/*.o")
execute_process(COMMAND "${LD}" -r -o "${work}/libvault.o" ${objects} RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${LD} -r failed (${r})")
endif()
execute_process(COMMAND "${OBJCOPY}" --localize-hidden "${work}/libvault.o" RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${OBJCOPY} --localize-hidden failed (${r})")
endif()
file(REMOVE "${ARCHIVE}")
execute_process(COMMAND "${AR}" rcs "${ARCHIVE}" "${work}/libvault.o" RESULT_VARIABLE r)
file(REMOVE_RECURSE "${work}")
if(NOT r EQUAL 0)
  message(FATAL_ERROR "localize: ${AR} rcs failed (${r})")
endif()
