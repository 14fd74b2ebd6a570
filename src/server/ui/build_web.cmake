# Builds the web UI for embedding (run by the build with cmake -P):
#   cmake -DWEB_DIR=... -DOUT_DIR=... -DNPM=... -DSTAMP=... -P build_web.cmake
# Installs web/'s npm dependencies first when node_modules is missing (npm ci; never otherwise,
# since npm ci deletes node_modules and someone may be working in web/), then runs the
# package's build script (type check + Vite) with Vite's output sent to OUT_DIR, so the build
# never writes into the source tree's web/dist.
foreach(v WEB_DIR OUT_DIR NPM STAMP)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "build_web.cmake: ${v} is not set")
  endif()
endforeach()

if(NOT EXISTS "${WEB_DIR}/node_modules")
  message(STATUS "web UI: npm ci in ${WEB_DIR}")
  execute_process(COMMAND "${NPM}" ci --no-audit --no-fund
    WORKING_DIRECTORY "${WEB_DIR}" RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "web UI: `npm ci` failed in ${WEB_DIR} (exit ${_rc}). It needs the npm "
      "registry once; or configure with -DLLMTUNE_UI=OFF to build the server without the UI.")
  endif()
endif()

execute_process(COMMAND "${NPM}" run build -- --outDir "${OUT_DIR}" --emptyOutDir
  WORKING_DIRECTORY "${WEB_DIR}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "web UI: `npm run build` failed in ${WEB_DIR} (exit ${_rc}); the messages "
    "above say why (TypeScript or Vite errors in web/src). If a package is missing, "
    "package-lock.json changed since node_modules was installed: run `npm ci` in ${WEB_DIR}.")
endif()
if(NOT EXISTS "${OUT_DIR}/index.html")
  message(FATAL_ERROR "web UI: the build wrote no ${OUT_DIR}/index.html")
endif()
file(TOUCH "${STAMP}")
