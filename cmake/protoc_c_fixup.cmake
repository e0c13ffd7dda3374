# Run after protoc-c on one generated header (-DH=path): protoc-c names a service's method
# pointers after the methods in lower case, so the gRPC method Void (issue 11) becomes a struct
# member named "void". It is renamed void_ (the doors never use protoc-c's service structs:
# services/grpc/server.c has its own method table).
file(READ ${H} text)
string(REPLACE "(*void)(" "(*void_)(" text "${text}")
file(WRITE ${H} "${text}")
