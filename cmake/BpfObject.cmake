# Compiles one bpf/<name>.bpf.c into an object and a skeleton header <name>.skel.h,
# exposed as the interface library <name>_skel.
find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

execute_process(COMMAND uname -m OUTPUT_VARIABLE _arch OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_arch STREQUAL "x86_64")
  set(BPF_TARGET_ARCH x86)
elseif(_arch STREQUAL "aarch64")
  set(BPF_TARGET_ARCH arm64)
else()
  set(BPF_TARGET_ARCH ${_arch})
endif()

set(BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
set(VMLINUX_H ${BPF_GEN_DIR}/vmlinux/vmlinux.h)
add_custom_command(
  OUTPUT ${VMLINUX_H}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${BPF_GEN_DIR}/vmlinux
  COMMAND ${BPFTOOL} btf dump file ${XDPROBE_VMLINUX_BTF} format c > ${VMLINUX_H}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${VMLINUX_H}.tmp ${VMLINUX_H}
  DEPENDS ${XDPROBE_VMLINUX_BTF}
  COMMENT "Generating vmlinux.h from ${XDPROBE_VMLINUX_BTF}"
  VERBATIM)
add_custom_target(vmlinux_h DEPENDS ${VMLINUX_H})

function(bpf_object name)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${name}.bpf.c)
  set(obj ${BPF_GEN_DIR}/${name}.bpf.o)
  set(skel ${BPF_GEN_DIR}/${name}.skel.h)
  file(GLOB _headers ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
            -I${BPF_GEN_DIR}/vmlinux -I${CMAKE_SOURCE_DIR}/bpf
            -c ${src} -o ${obj}
    DEPENDS ${src} ${_headers} ${VMLINUX_H}
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${BPF_GEN_DIR} ${CMAKE_SOURCE_DIR}/bpf)
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
