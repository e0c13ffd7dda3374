# Turns the catalog CSV into a C array so costlynxd carries its prices with it.
# Usage: cmake -DIN=prices.csv -DOUT=builtin_catalog.c -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from ${IN}; do not edit */\n#include <stddef.h>\n"
  "const char clx_builtin_catalog[] = {${body} 0};\n"
  "const size_t clx_builtin_catalog_len = ${bytes};\n")
