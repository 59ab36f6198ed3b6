// OpenBLAS, the reference the tensor benchmark measures Grove's GEMM against (Debian libopenblas-dev).
#include <cblas.h>
