# Turns a file into a C array so costlynxd carries it (the price catalog, the proto
# descriptors for gRPC reflection).
# Usage: cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
if(NOT NAME)
  set(NAME clx_builtin_catalog)
endif()
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from ${IN}; do not edit */\n#include <stddef.h>\n"
  "const char ${NAME}[] = {${body} 0};\n"
  "const size_t ${NAME}_len = ${bytes};\n")
