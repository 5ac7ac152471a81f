# `cmake --install` (`make install`): the binary, weir(1), the README, the
# examples, and the systemd units. No bench tools, no test binaries.
#
# The units in examples/ run /usr/local/bin/weir (the default prefix); the
# installed copies run the weir of this prefix. They go where systemd looks for
# units of a prefix (/usr/local/lib/systemd/system and .../user are on its
# search paths, as are /usr/lib/...), and among the examples.

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

install(TARGETS weir RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_BINARY_DIR}/weir.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# A unit of examples/ with ExecStart= pointing at this prefix's weir.
function(weir_configure_unit source output)
    set(path ${PROJECT_SOURCE_DIR}/examples/${source})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
    file(READ ${path} text)
    string(REPLACE "/usr/local/bin/weir" "${CMAKE_INSTALL_FULL_BINDIR}/weir" text "${text}")
    file(CONFIGURE OUTPUT ${output} CONTENT "${text}" @ONLY)
endfunction()

set(weir_units ${PROJECT_BINARY_DIR}/units)
weir_configure_unit(weir.service ${weir_units}/weir.service)
weir_configure_unit(weir-user.service ${weir_units}/weir-user.service)
install(FILES ${weir_units}/weir.service DESTINATION lib/systemd/system)
install(FILES ${weir_units}/weir-user.service DESTINATION lib/systemd/user RENAME weir.service)

set(weir_examples_dir ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES
    examples/haproxy.cfg
    examples/proxychains.conf
    examples/proxychains-chain.conf
    examples/weir.toml
    ${weir_units}/weir.service
    ${weir_units}/weir-user.service
    DESTINATION ${weir_examples_dir})
# Examples other changes add: installed once they exist. A file added to
# examples/ changes the folder's time, which configures again.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/examples)
if(EXISTS ${PROJECT_SOURCE_DIR}/examples/docker-compose.yml)
    install(FILES examples/docker-compose.yml DESTINATION ${weir_examples_dir})
endif()
if(EXISTS ${PROJECT_SOURCE_DIR}/examples/kubernetes/weir-sidecar.yaml)
    install(FILES examples/kubernetes/weir-sidecar.yaml
        DESTINATION ${weir_examples_dir}/kubernetes)
endif()
