/* Register-blocked row kernels: four rows of a weight matrix at a time, each
 * load of the input shared by the four.
 *
 * A dot product z_i = sum_j w_ij x_j (1.1) keeps eight partial sums, partial
 * sum k taking the j = k (mod 8) terms in order, and the tail (j >= n - n % 8)
 * going to partial sum 0; they are added as ((s0 + s4) + (s1 + s5)) +
 * ((s2 + s6) + (s3 + s7)).  That is _dot's order (layer_pass.pxi), so the
 * results are bit-identical to it; what changes is that four rows' partial
 * sums are in flight together, so the multiply-adds no longer wait for each
 * other, and x is read once for four rows.
 *
 * The eight partial sums of a row are an "acc8": as many vectors of the
 * build's register width as hold eight elements (GCC's vector extensions:
 * with AVX two of four doubles or one of eight floats, with SSE2 four and
 * two; the AVX-512 build holds eight doubles in one 512-bit vector, which
 * made per-sample digits about 4 % faster, and keeps floats at 256 bits).
 * `s + w * x` contracts to a fused multiply-add where the build has one, as
 * _dot's scalar code does.  FASTNET_ROW_KERNELS writes the kernels
 * once for each element type.
 */
#ifndef FASTNET_ROWS_H
#define FASTNET_ROWS_H

#include <stddef.h>
#include <string.h>

/* The builds' vector registers: 32 bytes with AVX, 16 (SSE2) without.  A
 * row's eight partial sums are VECTORS_PER_8 vectors of LANES lanes. */
#ifdef __AVX__
#define FASTNET_VECTOR_BYTES 32
#else
#define FASTNET_VECTOR_BYTES 16
#endif

#ifdef __AVX512F__
#define FASTNET_VECTOR_BYTES_D 64
#else
#define FASTNET_VECTOR_BYTES_D FASTNET_VECTOR_BYTES
#endif
typedef double fastnet_vd __attribute__((vector_size(FASTNET_VECTOR_BYTES_D)));
typedef float fastnet_vf __attribute__((vector_size(FASTNET_VECTOR_BYTES)));
#define FASTNET_PARTS_D (64 / FASTNET_VECTOR_BYTES_D)   /* vectors of 8 doubles */
#define FASTNET_PARTS_F (32 / FASTNET_VECTOR_BYTES)   /* vectors of 8 floats */
#define FASTNET_LANES_D (FASTNET_VECTOR_BYTES_D / 8)
#define FASTNET_LANES_F (FASTNET_VECTOR_BYTES / 4)

/* A scalar multiply-add, fused where the build has FMA.  The scalar tails
 * call it rather than leave `s + w * x` to the compiler, which fuses such an
 * expression in one context and not in another (after inlining, in a loop's
 * scalar epilogue), and then the same step would round differently in the
 * row kernels and the column kernels (columns.h), whose lanes are neurons.
 * The eight-column blocks are vectors in both, fused alike: each product
 * there has one use, and under -O1 (the sanitizer build) neither is fused. */
#ifdef __FMA__
#define FASTNET_FMA(T, SUFFIX, FUSED)                                               \
static inline T fastnet_fma##SUFFIX(T a, T b, T c) { return FUSED(a, b, c); }
#else
#define FASTNET_FMA(T, SUFFIX, FUSED)                                               \
static inline T fastnet_fma##SUFFIX(T a, T b, T c) { return a * b + c; }
#endif
FASTNET_FMA(double, _d, __builtin_fma)
FASTNET_FMA(float, _f, __builtin_fmaf)

/* Whether fastnet_dot8 pays: a row's eight partial sums are one register. */
#define FASTNET_DOT8_PAYS_D (FASTNET_PARTS_D == 1)
#define FASTNET_DOT8_PAYS_F (FASTNET_PARTS_F == 1)

typedef struct { fastnet_vd part[FASTNET_PARTS_D]; } fastnet_acc8_d;
typedef struct { fastnet_vf part[FASTNET_PARTS_F]; } fastnet_acc8_f;

/* ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) of a vector of eight lanes,
 * in three shuffles and adds: lanes k + (k + 4), then neighbours, then pairs.
 * Each add is one of the scalar sum's, so the result is its bits; storing the
 * lanes to reload them one by one cost a third of a small layer's forward
 * pass.  (Only where eight lanes are one vector: fastnet_finish asks.) */
#define FASTNET_SUM8(T, SUFFIX, V, M)                                               \
static inline T fastnet_sum8##SUFFIX(V v) {                                         \
    const V a = v + __builtin_shuffle(v, (M){4, 5, 6, 7, 0, 1, 2, 3});              \
    const V b = a + __builtin_shuffle(a, (M){1, 0, 3, 2, 5, 4, 7, 6});              \
    const V c = b + __builtin_shuffle(b, (M){2, 3, 0, 1, 6, 7, 4, 5});              \
    return c[0];                                                                    \
}
#define FASTNET_NO_SUM8(T, SUFFIX, V)                                               \
static inline T fastnet_sum8##SUFFIX(V v) { (void)v; return 0; }   /* unused */
#if FASTNET_PARTS_D == 1
typedef long long fastnet_shuffle_d __attribute__((vector_size(64)));
FASTNET_SUM8(double, _d, fastnet_vd, fastnet_shuffle_d)
#else
FASTNET_NO_SUM8(double, _d, fastnet_vd)
#endif
#if FASTNET_PARTS_F == 1
typedef int fastnet_shuffle_f __attribute__((vector_size(32)));
FASTNET_SUM8(float, _f, fastnet_vf, fastnet_shuffle_f)
#else
FASTNET_NO_SUM8(float, _f, fastnet_vf)
#endif

#define FASTNET_ROW_KERNELS(T, SUFFIX, V, PARTS, LANES)                             \
static inline V fastnet_load##SUFFIX(const T* p) {                                  \
    V v;                                                                            \
    memcpy(&v, p, sizeof v);                                                        \
    return v;                                                                       \
}                                                                                   \
                                                                                    \
/* s += w[0..7] * x[0..7], lane by lane */                                          \
static inline void fastnet_add_prod8##SUFFIX(fastnet_acc8##SUFFIX* s, const T* w,   \
                                             const T* x) {                          \
    for (int p = 0; p < PARTS; p++)                                                 \
        s->part[p] = s->part[p] + fastnet_load##SUFFIX(w + p * LANES)               \
                                  * fastnet_load##SUFFIX(x + p * LANES);            \
}                                                                                   \
                                                                                    \
/* The dot product from a row's partial sums and its tail (see above). */           \
static inline T fastnet_finish##SUFFIX(fastnet_acc8##SUFFIX s, const T* w,          \
                                       const T* x, ptrdiff_t n8, ptrdiff_t n) {     \
    if (PARTS == 1) {                                                               \
        /* in the register: lane 0 takes the tail, then fastnet_sum8 */             \
        V v = s.part[0];                                                            \
        T first = v[0];                                                             \
        for (ptrdiff_t j = n8; j < n; j++)                                          \
            first = fastnet_fma##SUFFIX(w[j], x[j], first);                         \
        v[0] = first;                                                               \
        return fastnet_sum8##SUFFIX(v);                                             \
    }                                                                               \
    T lane[8];                                                                      \
    memcpy(lane, &s, sizeof lane);                                                  \
    for (ptrdiff_t j = n8; j < n; j++)                                              \
        lane[0] = fastnet_fma##SUFFIX(w[j], x[j], lane[0]);                         \
    return ((lane[0] + lane[4]) + (lane[1] + lane[5]))                              \
         + ((lane[2] + lane[6]) + (lane[3] + lane[7]));                             \
}                                                                                   \
                                                                                    \
/* out[r] = w[r] . x for the four rows w[0..3] of length n. */                      \
static inline void fastnet_dot4##SUFFIX(T* const w[4], const T* x, ptrdiff_t n,     \
                                        T out[4]) {                                 \
    const ptrdiff_t n8 = n - n % 8;                                                 \
    fastnet_acc8##SUFFIX s[4];                                                      \
    memset(s, 0, sizeof s);                                                         \
    for (ptrdiff_t j = 0; j < n8; j += 8)                                           \
        for (int r = 0; r < 4; r++)                                                 \
            fastnet_add_prod8##SUFFIX(&s[r], w[r] + j, x + j);                      \
    for (int r = 0; r < 4; r++)                                                     \
        out[r] = fastnet_finish##SUFFIX(s[r], w[r], x, n8, n);                      \
}                                                                                   \
                                                                                    \
/* out[r] = w[r] . x for the eight rows w[0..7]: eight chains of multiply-adds     \
 * in flight, as many as hide the FMA's latency at two a cycle; four leave half     \
 * of them waiting.  Only where a row's eight partial sums are one register         \
 * (FASTNET_DOT8_PAYS): with two or four, eight rows' sums would not fit. */        \
static inline void fastnet_dot8##SUFFIX(T* const w[8], const T* x, ptrdiff_t n,     \
                                        T out[8]) {                                 \
    const ptrdiff_t n8 = n - n % 8;                                                 \
    fastnet_acc8##SUFFIX s[8];                                                      \
    for (int r = 0; r < 8; r++)                                                     \
        for (int p = 0; p < PARTS; p++)                                             \
            s[r].part[p] = (V){0};                                                  \
    for (ptrdiff_t j = 0; j < n8; j += 8)                                           \
        for (int r = 0; r < 8; r++)                                                 \
            fastnet_add_prod8##SUFFIX(&s[r], w[r] + j, x + j);                      \
    for (int r = 0; r < 8; r++)                                                     \
        out[r] = fastnet_finish##SUFFIX(s[r], w[r], x, n8, n);                      \
}                                                                                   \
                                                                                    \
/* Columns j .. j + 7 of the four rows: the plain SGD step w -= rate[r] a           \
 * (1.31), then the stepped weights times x into the partial sums s. */             \
static inline void fastnet_step_block4##SUFFIX(T* const w[4], const T rate[4],      \
                                               const T* a, const T* x, ptrdiff_t j, \
                                               fastnet_acc8##SUFFIX s[4]) {         \
    /* a and x read once for the four rows: the stores to w would make the          \
     * compiler read them again for each row (they might alias) */                  \
    V a8[PARTS], x8[PARTS];                                                         \
    for (int p = 0; p < PARTS; p++) {                                               \
        a8[p] = fastnet_load##SUFFIX(a + j + p * LANES);                            \
        x8[p] = fastnet_load##SUFFIX(x + j + p * LANES);                            \
    }                                                                               \
    for (int r = 0; r < 4; r++)                                                     \
        for (int p = 0; p < PARTS; p++) {                                           \
            const V stepped = fastnet_load##SUFFIX(w[r] + j + p * LANES)            \
                              - rate[r] * a8[p];                                    \
            memcpy(w[r] + j + p * LANES, &stepped, sizeof stepped);                 \
            s[r].part[p] = s[r].part[p] + stepped * x8[p];                          \
        }                                                                           \
}                                                                                   \
                                                                                    \
/* The step of the tail columns n8 .. n - 1, and the four dot products. */          \
static inline void fastnet_step_finish4##SUFFIX(T* const w[4], const T rate[4],     \
                                                const T* a, const T* x,             \
                                                ptrdiff_t n8, ptrdiff_t n,          \
                                                fastnet_acc8##SUFFIX s[4],          \
                                                T out[4]) {                         \
    for (int r = 0; r < 4; r++) {                                                   \
        for (ptrdiff_t j = n8; j < n; j++)                                          \
            w[r][j] = fastnet_fma##SUFFIX(-rate[r], a[j], w[r][j]);                 \
        out[r] = fastnet_finish##SUFFIX(s[r], w[r], x, n8, n);                      \
    }                                                                               \
}                                                                                   \
                                                                                    \
/* The four rows take the plain SGD step w -= rate[r] a (1.31), then                \
 * out[r] = w[r] . x with the new weights: the fused sweep of                       \
 * _rows_update_forward. */                                                         \
static inline void fastnet_step_dot4##SUFFIX(T* const w[4], const T rate[4],        \
                                             const T* a, const T* x, ptrdiff_t n,   \
                                             T out[4]) {                            \
    const ptrdiff_t n8 = n - n % 8;                                                 \
    fastnet_acc8##SUFFIX s[4];                                                      \
    memset(s, 0, sizeof s);                                                         \
    for (ptrdiff_t j = 0; j < n8; j += 8)                                           \
        fastnet_step_block4##SUFFIX(w, rate, a, x, j, s);                           \
    fastnet_step_finish4##SUFFIX(w, rate, a, x, n8, n, s, out);                     \
}                                                                                   \
                                                                                    \
/* The same sweeps over the eight-column blocks listed in starts only (block b      \
 * covers columns starts[b] .. starts[b] + 7, starts ascending, all below n8),      \
 * and the tail (n8 <= j < n) as always.  The first layer of per-sample SGD         \
 * uses them when whole blocks of both this sample's input a and the next           \
 * one's x are zero (image borders): such a block moves no weight, since            \
 * w - rate * 0 is w, and adds only zeros to the dot product, which leave a         \
 * partial sum as it was (a partial sum starts at +0 and is never -0), so the       \
 * results are bit-identical to the full sweeps' while the skipped weights are      \
 * neither read nor written.  (For finite weights: the full sweeps would turn       \
 * an inf or NaN weight there into NaN, and a weight of exactly -0.0, which         \
 * training never makes, into +0.0.) */                                             \
static inline void fastnet_dot4_blocks##SUFFIX(T* const w[4], const T* x,           \
                                               const ptrdiff_t* starts,             \
                                               ptrdiff_t n_blocks, ptrdiff_t n8,    \
                                               ptrdiff_t n, T out[4]) {             \
    fastnet_acc8##SUFFIX s[4];                                                      \
    memset(s, 0, sizeof s);                                                         \
    for (ptrdiff_t b = 0; b < n_blocks; b++) {                                      \
        const ptrdiff_t j = starts[b];                                              \
        for (int r = 0; r < 4; r++)                                                 \
            fastnet_add_prod8##SUFFIX(&s[r], w[r] + j, x + j);                      \
    }                                                                               \
    for (int r = 0; r < 4; r++)                                                     \
        out[r] = fastnet_finish##SUFFIX(s[r], w[r], x, n8, n);                      \
}                                                                                   \
                                                                                    \
static inline void fastnet_step_dot4_blocks##SUFFIX(                                \
        T* const w[4], const T rate[4], const T* a, const T* x,                     \
        const ptrdiff_t* starts, ptrdiff_t n_blocks, ptrdiff_t n8, ptrdiff_t n,     \
        T out[4]) {                                                                 \
    fastnet_acc8##SUFFIX s[4];                                                      \
    memset(s, 0, sizeof s);                                                         \
    for (ptrdiff_t b = 0; b < n_blocks; b++)                                        \
        fastnet_step_block4##SUFFIX(w, rate, a, x, starts[b], s);                   \
    fastnet_step_finish4##SUFFIX(w, rate, a, x, n8, n, s, out);                     \
}                                                                                   \
                                                                                    \
/* One row: the dot product (rate 0: no step) or the step and the dot product. */   \
static inline T fastnet_step_dot1_blocks##SUFFIX(T* w, T rate, const T* a,          \
                                                 const T* x,                        \
                                                 const ptrdiff_t* starts,           \
                                                 ptrdiff_t n_blocks, ptrdiff_t n8,  \
                                                 ptrdiff_t n, int step) {           \
    fastnet_acc8##SUFFIX s;                                                         \
    memset(&s, 0, sizeof s);                                                        \
    for (ptrdiff_t b = 0; b < n_blocks; b++) {                                      \
        const ptrdiff_t j = starts[b];                                              \
        for (int p = 0; p < PARTS; p++) {                                           \
            V wv = fastnet_load##SUFFIX(w + j + p * LANES);                         \
            if (step) {                                                             \
                wv = wv - rate * fastnet_load##SUFFIX(a + j + p * LANES);           \
                memcpy(w + j + p * LANES, &wv, sizeof wv);                          \
            }                                                                       \
            s.part[p] = s.part[p] + wv * fastnet_load##SUFFIX(x + j + p * LANES);   \
        }                                                                           \
    }                                                                               \
    if (step)                                                                       \
        for (ptrdiff_t j = n8; j < n; j++)                                          \
            w[j] = fastnet_fma##SUFFIX(-rate, a[j], w[j]);                          \
    return fastnet_finish##SUFFIX(s, w, x, n8, n);                                  \
}                                                                                   \
                                                                                    \
/* Rows w[0 .. nr-1] of a layer above the first, in order, under plain SGD:         \
 * lam += s[r] w[r] with the weights before the step (1.20), then the step         \
 * w[r] -= rate[r] a (1.31).  Four rows share each load and store of lam and a,     \
 * where a row at a time loads and stores lam once per row; the sums are           \
 * added in the same order. */                                                      \
static inline __attribute__((always_inline)) void fastnet_back_rows##SUFFIX(        \
        T* const w[4], int nr, const T s[4], const T rate[4], const T* a, T* lam,   \
        ptrdiff_t n) {                                                              \
    const ptrdiff_t n8 = n - n % 8;                                                 \
    for (ptrdiff_t j = 0; j < n8; j += LANES) {                                     \
        const V av = fastnet_load##SUFFIX(a + j);                                   \
        V sum = fastnet_load##SUFFIX(lam + j);                                      \
        for (int r = 0; r < nr; r++) {                                              \
            const V wv = fastnet_load##SUFFIX(w[r] + j);                            \
            sum = sum + s[r] * wv;                                                  \
            const V stepped = wv - rate[r] * av;                                    \
            memcpy(w[r] + j, &stepped, sizeof stepped);                             \
        }                                                                           \
        memcpy(lam + j, &sum, sizeof sum);                                          \
    }                                                                               \
    for (ptrdiff_t j = n8; j < n; j++) {                                            \
        T sum = lam[j];                                                             \
        for (int r = 0; r < nr; r++) {                                              \
            sum = fastnet_fma##SUFFIX(s[r], w[r][j], sum);                          \
            w[r][j] = fastnet_fma##SUFFIX(-rate[r], a[j], w[r][j]);                 \
        }                                                                           \
        lam[j] = sum;                                                               \
    }                                                                               \
}                                                                                   \
                                                                                    \
static inline void fastnet_back_rows4##SUFFIX(T* const w[4], const T s[4],          \
                                              const T rate[4], const T* a, T* lam,  \
                                              ptrdiff_t n) {                        \
    fastnet_back_rows##SUFFIX(w, 4, s, rate, a, lam, n);                            \
}                                                                                   \
                                                                                    \
/* The one to three rows left over, in one pass too. */                             \
static inline void fastnet_back_rows_left##SUFFIX(T* const w[4], int nr,            \
                                                  const T s[4], const T rate[4],    \
                                                  const T* a, T* lam, ptrdiff_t n) { \
    switch (nr) {                                                                   \
    case 3: fastnet_back_rows##SUFFIX(w, 3, s, rate, a, lam, n); break;             \
    case 2: fastnet_back_rows##SUFFIX(w, 2, s, rate, a, lam, n); break;             \
    case 1: fastnet_back_rows##SUFFIX(w, 1, s, rate, a, lam, n); break;             \
    }                                                                               \
}                                                                                   \
                                                                                    \
/* One row's plain SGD step w -= rate a (1.31): the eight-column blocks as           \
 * vectors, the tail as fastnet_fma. */                                             \
static inline void fastnet_step_row##SUFFIX(T* w, T rate, const T* a, ptrdiff_t n) {  \
    const ptrdiff_t n8 = n - n % 8;                                                 \
    for (ptrdiff_t j = 0; j < n8; j += 8)                                           \
        for (int p = 0; p < PARTS; p++) {                                           \
            const V stepped = fastnet_load##SUFFIX(w + j + p * LANES)               \
                              - rate * fastnet_load##SUFFIX(a + j + p * LANES);     \
            memcpy(w + j + p * LANES, &stepped, sizeof stepped);                    \
        }                                                                           \
    for (ptrdiff_t j = n8; j < n; j++)                                              \
        w[j] = fastnet_fma##SUFFIX(-rate, a[j], w[j]);                              \
}                                                                                   \
                                                                                    \
/* The blocks of eight columns below n8 where a or x has a non-zero, ascending,     \
 * into starts; returns their count. */                                             \
static inline ptrdiff_t fastnet_live_blocks##SUFFIX(const T* a, const T* x,         \
                                                    ptrdiff_t n8,                   \
                                                    ptrdiff_t* starts) {            \
    ptrdiff_t count = 0;                                                            \
    for (ptrdiff_t j = 0; j < n8; j += 8) {                                         \
        int live = 0;                                                               \
        for (int k = 0; k < 8; k++)                                                 \
            live |= (a[j + k] != 0) | (x[j + k] != 0);                              \
        if (live)                                                                   \
            starts[count++] = j;                                                    \
    }                                                                               \
    return count;                                                                   \
}

FASTNET_ROW_KERNELS(double, _d, fastnet_vd, FASTNET_PARTS_D, FASTNET_LANES_D)
FASTNET_ROW_KERNELS(float, _f, fastnet_vf, FASTNET_PARTS_F, FASTNET_LANES_F)

#endif
