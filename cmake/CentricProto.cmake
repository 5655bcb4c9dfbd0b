# centric_proto_library(<target> PROTOS <files relative to protos/> [GRPC] [DEPS <targets>])
#
# Generates C++ (and, with GRPC, gRPC callback-API stubs) for one proto package into
# ${CMAKE_BINARY_DIR}/gen and wraps it in a static library. One library per package.
set(CENTRIC_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
set(CENTRIC_GOOGLEAPIS_DIR /usr/share/gocode/src/github.com/gogo/googleapis
    CACHE PATH "Directory holding google/rpc/*.proto (Debian golang-github-gogo-googleapis-dev)")
find_program(CENTRIC_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
file(MAKE_DIRECTORY ${CENTRIC_GEN_DIR})

function(centric_proto_library target)
  cmake_parse_arguments(ARG "GRPC" "ROOT" "PROTOS;DEPS" ${ARGN})
  if(NOT ARG_ROOT)
    set(ARG_ROOT ${PROJECT_SOURCE_DIR}/protos)
  endif()
  set(srcs)
  set(hdrs)
  foreach(proto ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" base ${proto})
    set(outs ${CENTRIC_GEN_DIR}/${base}.pb.cc ${CENTRIC_GEN_DIR}/${base}.pb.h)
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND outs ${CENTRIC_GEN_DIR}/${base}.grpc.pb.cc ${CENTRIC_GEN_DIR}/${base}.grpc.pb.h)
      set(plugin_args --grpc_out=${CENTRIC_GEN_DIR}
                      --plugin=protoc-gen-grpc=${CENTRIC_GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc
              -I${ARG_ROOT} -I${PROJECT_SOURCE_DIR}/protos -I${CENTRIC_GOOGLEAPIS_DIR}
              -I${Protobuf_INCLUDE_DIRS}
              --cpp_out=${CENTRIC_GEN_DIR} ${plugin_args}
              ${ARG_ROOT}/${proto}
      DEPENDS ${ARG_ROOT}/${proto} protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND srcs ${outs})
  endforeach()
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} PUBLIC ${CENTRIC_GEN_DIR})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${target} PUBLIC gRPC::grpc++)
  endif()
endfunction()
