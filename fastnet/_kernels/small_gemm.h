/* Small matrix products for narrow layers' minibatch passes, without BLAS.
 *
 * A narrow layer at batch size 200 is a GEMM of a few million flops: BLAS
 * packs both operands into its own layout first and runs at about half the
 * FMA peak on it (40-45 GFLOP/s of 79 on a Skylake-X core for digits'
 * 200x64x100), and fastnet then made separate passes over the result for
 * the activation and its derivative.  These kernels read the operands where
 * they lie, and the minibatch pass (batch_pass.pxi) applies the activation or
 * its derivative to each panel of GEMM_PANEL rows while they are in L1.
 *
 * One form covers the three products of a layer:
 *
 *     C[r][c] = Init[r][c] + sum_{k < K} A(r, k) B[k][c],   r < m, c < n,
 *
 * with A(r, k) = A[r ar + k ak] (any strides, so A or its transpose), B
 * row-major with leading dimension ldb, and Init the initial values (row stride
 * ir; ir = 0 repeats one row, e.g. the biases; Init == NULL starts from 0).
 *
 * Every entry starts from its initial value and adds its K products in
 * order of k, one multiply-add each (fused: the build has FMA), so the result
 * does not depend on the blocking below nor on how rows are split among
 * calls.  The register block is ROWS rows of C by three vectors of columns:
 * each loaded vector of B serves ROWS rows and each broadcast A(r, k) three
 * vectors.  Columns left over are done a vector at a time, then half a
 * vector, then one at a time; when B is a copy whose rows are padded to a
 * whole number of vectors (``padded``), full vectors go on to the last
 * column instead and only the columns below n are kept.
 *
 * Only the AVX-512 build uses them (FASTNET_SMALL_GEMM is 1 there).  On a
 * Skylake-X core, alone in a C harness, 512-bit vectors ran digits' five
 * products of a batch of 200 (64-100-10) in 110 µs against 140-157 µs for
 * OpenBLAS, 200x64x100 at 64-71 GFLOP/s against 43; in fastnet a digits SGD
 * epoch at batch size 200 went from 0.84 to 0.72 µs/sample.  On 256-bit
 * vectors, the width the other builds have, the five took 197-232 µs, and
 * above 65,536 weights (784-256: 56 GFLOP/s against 62) OpenBLAS is faster,
 * so wider layers keep BLAS (SMALL_GEMM_MAX_WEIGHTS, batch_pass.pxi).
 */
/* (Init, not I: <complex.h>, which Cython's C includes, defines I.) */
#ifndef FASTNET_SMALL_GEMM_H
#define FASTNET_SMALL_GEMM_H

#include <stddef.h>
#include <string.h>

#ifdef __AVX512F__
#define FASTNET_SMALL_GEMM 1
#define FASTNET_GEMM_BYTES 64      /* zmm registers */
#else
#define FASTNET_SMALL_GEMM 0
#define FASTNET_GEMM_BYTES 16      /* compiled but never called */
#endif
#define FASTNET_GEMM_ROWS 8        /* 8 x 3 accumulators: 24 of the 32 registers */
#define FASTNET_GEMM_VECTORS 3

typedef double fastnet_gd __attribute__((vector_size(FASTNET_GEMM_BYTES)));
typedef double fastnet_gd_half __attribute__((vector_size(FASTNET_GEMM_BYTES / 2)));
typedef float fastnet_gf __attribute__((vector_size(FASTNET_GEMM_BYTES)));
typedef float fastnet_gf_half __attribute__((vector_size(FASTNET_GEMM_BYTES / 2)));

#define FASTNET_GEMM_BLOCK(T, NAME, V)                                                 \
/* `vectors` vectors of columns of `rows` rows; the last vector keeps only its     \
 * first `last` lanes (all of them when last == lanes). */                           \
static inline __attribute__((always_inline)) void NAME(                              \
        const int rows, const int vectors, const ptrdiff_t last, ptrdiff_t K,          \
        const T* A, ptrdiff_t ar, ptrdiff_t ak, const T* B, ptrdiff_t ldb,             \
        const T* Init, ptrdiff_t ir, T* C, ptrdiff_t ldc) {                               \
    enum { LANES = sizeof(V) / sizeof(T) };                                            \
    V acc[FASTNET_GEMM_ROWS][FASTNET_GEMM_VECTORS];                                    \
    for (int r = 0; r < rows; r++)                                                     \
        for (int v = 0; v < vectors; v++) {                                            \
            acc[r][v] = (V){0};                                                        \
            if (Init != NULL)                                                             \
                memcpy(&acc[r][v], Init + r * ir + v * LANES,                             \
                       (v == vectors - 1 ? last : LANES) * sizeof(T));                 \
        }                                                                              \
    for (ptrdiff_t k = 0; k < K; k++) {                                                \
        V b[FASTNET_GEMM_VECTORS];                                                     \
        for (int v = 0; v < vectors; v++)                                              \
            memcpy(&b[v], B + k * ldb + v * LANES, sizeof(V));                         \
        for (int r = 0; r < rows; r++) {                                               \
            const T a = A[r * ar + k * ak];                                            \
            for (int v = 0; v < vectors; v++)                                          \
                acc[r][v] = acc[r][v] + a * b[v];                                      \
        }                                                                              \
    }                                                                                  \
    for (int r = 0; r < rows; r++)                                                     \
        memcpy(C + r * ldc, acc[r], ((vectors - 1) * LANES + last) * sizeof(T));       \
}

#define FASTNET_SMALL_GEMM_KERNELS(T, SUFFIX, V, HALF)                                \
FASTNET_GEMM_BLOCK(T, fastnet_gemm_block##SUFFIX, V)                                  \
FASTNET_GEMM_BLOCK(T, fastnet_gemm_half##SUFFIX, HALF)                                \
                                                                                      \
/* All n columns of `rows` rows starting at A, Init and C. */                           \
static inline __attribute__((always_inline)) void fastnet_gemm_rows##SUFFIX(         \
        const int rows, ptrdiff_t n, ptrdiff_t K, const T* A, ptrdiff_t ar,           \
        ptrdiff_t ak, const T* B, ptrdiff_t ldb, const T* Init, ptrdiff_t ir, T* C,      \
        ptrdiff_t ldc, int padded) {                                                  \
    enum { LANES = sizeof(V) / sizeof(T), HALF_LANES = LANES / 2 };                   \
    const ptrdiff_t wide = FASTNET_GEMM_VECTORS * LANES;                              \
    ptrdiff_t c = 0;                                                                  \
    for (; c + wide <= n; c += wide)                                                  \
        fastnet_gemm_block##SUFFIX(rows, FASTNET_GEMM_VECTORS, LANES, K, A, ar, ak,   \
                                   B + c, ldb, Init != NULL ? Init + c : NULL, ir, C + c,   \
                                   ldc);                                              \
    if (padded && c < n) {   /* 1 to 3 vectors, the last one partly kept */         \
        const ptrdiff_t last = (n - c - 1) % LANES + 1;                               \
        const T* Ic = Init != NULL ? Init + c : NULL;                                       \
        switch ((n - c + LANES - 1) / LANES) {  /* constants, for the registers */   \
        case 1:                                                                       \
            fastnet_gemm_block##SUFFIX(rows, 1, last, K, A, ar, ak, B + c, ldb, Ic,   \
                                       ir, C + c, ldc);                               \
            break;                                                                    \
        case 2:                                                                       \
            fastnet_gemm_block##SUFFIX(rows, 2, last, K, A, ar, ak, B + c, ldb, Ic,   \
                                       ir, C + c, ldc);                               \
            break;                                                                    \
        default:                                                                      \
            fastnet_gemm_block##SUFFIX(rows, 3, last, K, A, ar, ak, B + c, ldb, Ic,   \
                                       ir, C + c, ldc);                               \
        }                                                                             \
        return;                                                                       \
    }                                                                                 \
    for (; c + LANES <= n; c += LANES)                                                \
        fastnet_gemm_block##SUFFIX(rows, 1, LANES, K, A, ar, ak, B + c, ldb,          \
                                   Init != NULL ? Init + c : NULL, ir, C + c, ldc);         \
    for (; c + HALF_LANES <= n; c += HALF_LANES)                                      \
        fastnet_gemm_half##SUFFIX(rows, 1, HALF_LANES, K, A, ar, ak, B + c, ldb,      \
                                  Init != NULL ? Init + c : NULL, ir, C + c, ldc);          \
    for (; c < n; c++)                                                                \
        for (int r = 0; r < rows; r++) {                                              \
            T s = Init != NULL ? Init[r * ir + c] : 0;                                      \
            for (ptrdiff_t k = 0; k < K; k++)                                         \
                s = s + A[r * ar + k * ak] * B[k * ldb + c];                          \
            C[r * ldc + c] = s;                                                       \
        }                                                                             \
}                                                                                     \
                                                                                      \
/* C = Init + A B over rows 0 <= r < m (see the top of this file).  With padded,        \
 * each row of B can be read up to the next whole vector past column n. */           \
static void fastnet_small_gemm##SUFFIX(ptrdiff_t m, ptrdiff_t n, ptrdiff_t K,         \
                                       const T* A, ptrdiff_t ar, ptrdiff_t ak,        \
                                       const T* B, ptrdiff_t ldb, const T* Init,         \
                                       ptrdiff_t ir, T* C, ptrdiff_t ldc,             \
                                       int padded) {                                  \
    ptrdiff_t r = 0;                                                                  \
    for (; r + FASTNET_GEMM_ROWS <= m; r += FASTNET_GEMM_ROWS)                        \
        fastnet_gemm_rows##SUFFIX(FASTNET_GEMM_ROWS, n, K, A + r * ar, ar, ak, B,     \
                                  ldb, Init != NULL ? Init + r * ir : NULL, ir,             \
                                  C + r * ldc, ldc, padded);                          \
    for (; r < m; r++)                                                                \
        fastnet_gemm_rows##SUFFIX(1, n, K, A + r * ar, ar, ak, B, ldb,                \
                                  Init != NULL ? Init + r * ir : NULL, ir, C + r * ldc,     \
                                  ldc, padded);                                       \
}

FASTNET_SMALL_GEMM_KERNELS(double, _d, fastnet_gd, fastnet_gd_half)
FASTNET_SMALL_GEMM_KERNELS(float, _f, fastnet_gf, fastnet_gf_half)

#endif
