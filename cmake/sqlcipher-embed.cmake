# Run at build time (CMakeLists.txt): make from Debian's libsqlcipher.a an
# archive that can go into libvault's shared library.
#
# Debian builds that archive as position-independent *executable* code.
# Everything in it links into a shared object once its own names are
# hidden (--exclude-libs) except two loads of libc's data, stdout and
# stderr, which PIE code reads through a copy relocation (only
# sqlcipher_cipher_profile, PRAGMA cipher_profile=stdout|stderr, uses
# them).  They are renamed to two hidden variables of libvault's
# (libvault/store/sqlcipher_stdio.c) that hold the same FILE pointers.  Another
# such reference in a later SQLCipher fails the link with "relocation
# R_X86_64_PC32 against symbol ... can not be used when making a shared
# object", never silently.  docs/packaging.md "SQLCipher inside libvault".
# Variables: IN (libsqlcipher.a), OUT (the archive to write), AR, OBJCOPY.
if(NOT EXISTS "${IN}")
  message(FATAL_ERROR "sqlcipher-embed: ${IN} is missing")
endif()
get_filename_component(out_dir "${OUT}" DIRECTORY)
set(work "${out_dir}/sqlcipher-objects")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")
execute_process(COMMAND "${AR}" x "${IN}" WORKING_DIRECTORY "${work}" RESULT_VARIABLE r)
if(NOT r EQUAL 0)
  message(FATAL_ERROR "sqlcipher-embed: ${AR} x ${IN} failed (${r})")
endif()
file(GLOB objects "${work}/*.o")
if(NOT objects)
  message(FATAL_ERROR "sqlcipher-embed: ${IN} holds no object")
endif()
foreach(o ${objects})
  execute_process(COMMAND "${OBJCOPY}"
    --redefine-sym stdout=vault__sqlcipher_stdout --redefine-sym stderr=vault__sqlcipher_stderr
    "${o}" RESULT_VARIABLE r)
  if(NOT r EQUAL 0)
    message(FATAL_ERROR "sqlcipher-embed: ${OBJCOPY} ${o} failed (${r})")
  endif()
endforeach()
file(REMOVE "${OUT}")
execute_process(COMMAND "${AR}" rcs "${OUT}" ${objects} RESULT_VARIABLE r)
file(REMOVE_RECURSE "${work}")
if(NOT r EQUAL 0)
  message(FATAL_ERROR "sqlcipher-embed: ${AR} rcs failed (${r})")
endif()
