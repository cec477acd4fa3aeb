/* Vectorised exp, expm1, tanh and the activations built on them (Table 1.1).
 *
 * libm's exp and tanh are one call per element, which the compiler cannot
 * vectorise without -ffast-math (which fastnet does not use: NaN and inf
 * keep their meaning).  Here they are written with GCC's vector extensions,
 * so that a layer's activations are computed LANES at a time, in double
 * precision for both element types (as the scalar code did).
 *
 * exp(x) = 2^n e^r with n = round(x / ln 2) and r = x - n ln 2 (N.5a; ln 2 split
 * into a high part, exact when multiplied by n, and a low part: Cody and
 * Waite's reduction), |r| <= ln(2) / 2.  e^r - 1 is its Taylor polynomial
 * of degree 13, whose truncation error (|r|^14 / 14! < 5e-18) is below
 * rounding.  2^n is applied as two powers of two, so that results in the
 * subnormal range round once and x near the overflow threshold gives inf.
 * NaN propagates; +inf gives inf and -inf gives 0.  The tests measure the
 * error against numpy over the whole range, in units in the last place:
 * exp, tanh and ELU at most 1, logistic 2; special values exact.
 */
#ifndef FASTNET_VMATH_H
#define FASTNET_VMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The AVX-512 build computes eight doubles at a time, as rows.h's kernels
 * hold them: a softmax over 10 outputs is then two vectors where four lanes
 * took three, and a per-sample digits epoch ran about 5 % faster. */
#ifdef __AVX512F__
#define FASTNET_VM_BYTES 64
#elif defined(__AVX__)
#define FASTNET_VM_BYTES 32
#else
#define FASTNET_VM_BYTES 16
#endif
#define FASTNET_VM_LANES (FASTNET_VM_BYTES / 8)

typedef double fastnet_vm_d __attribute__((vector_size(FASTNET_VM_BYTES)));
typedef int64_t fastnet_vm_i __attribute__((vector_size(FASTNET_VM_BYTES)));
typedef float fastnet_vm_f __attribute__((vector_size(FASTNET_VM_BYTES / 2)));

#define FASTNET_VM_SPLAT(v) ((fastnet_vm_d){} + (v))
#define FASTNET_VM_ISELECT(mask, a, b) (((mask) & (a)) | (~(mask) & (b)))
#define FASTNET_VM_SELECT(mask, a, b) \
    ((fastnet_vm_d)FASTNET_VM_ISELECT(mask, (fastnet_vm_i)(a), (fastnet_vm_i)(b)))

/* beyond these, exp is inf or 0 (and clamping keeps 2^n's exponent valid) */
#define FASTNET_EXP_MAX 710.0
#define FASTNET_EXP_MIN -746.0

/* n = round(x / ln 2) as a double and an integer, and e^r - 1 */
static inline fastnet_vm_d fastnet_vm_reduce(fastnet_vm_d x, fastnet_vm_d* n,
                                             fastnet_vm_i* ni) {
    const double shifter = 6755399441055744.0;   /* 1.5 * 2^52: rounds to an integer */
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    fastnet_vm_d t = x * 1.4426950408889634 + shifter, r, p;
    *ni = (fastnet_vm_i)t - (fastnet_vm_i)FASTNET_VM_SPLAT(shifter);
    *n = t - shifter;
    r = (x - *n * ln2_hi) - *n * ln2_lo;
    p = FASTNET_VM_SPLAT(1.0 / 6227020800.0);   /* 1/13! ... 1/2!, Horner */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return r + (r * r) * p;
}

/* 2^k for integers k in [-1022, 1023] */
static inline fastnet_vm_d fastnet_vm_pow2(fastnet_vm_i k) {
    return (fastnet_vm_d)((k + 1023) << 52);
}

static inline fastnet_vm_d fastnet_vm_exp(fastnet_vm_d x) {
    fastnet_vm_d n, p;
    fastnet_vm_i ni, half;
    x = FASTNET_VM_SELECT(x > FASTNET_EXP_MAX, FASTNET_VM_SPLAT(FASTNET_EXP_MAX), x);
    x = FASTNET_VM_SELECT(x < FASTNET_EXP_MIN, FASTNET_VM_SPLAT(FASTNET_EXP_MIN), x);
    p = fastnet_vm_reduce(x, &n, &ni);
    half = ni >> 1;
    return ((1.0 + p) * fastnet_vm_pow2(half)) * fastnet_vm_pow2(ni - half);
}

/* e^x - 1, accurate near 0: 2^n (p + 1 - 2^-n) while 2^-n is exact in the
 * sum (|n| <= 60), 2^n (1 + p) - 1 beyond, where the 1 no longer matters */
static inline fastnet_vm_d fastnet_vm_expm1(fastnet_vm_d x) {
    fastnet_vm_d n, p, near, far;
    fastnet_vm_i ni, nc, half;
    x = FASTNET_VM_SELECT(x > FASTNET_EXP_MAX, FASTNET_VM_SPLAT(FASTNET_EXP_MAX), x);
    x = FASTNET_VM_SELECT(x < -60.0, FASTNET_VM_SPLAT(-60.0), x);
    p = fastnet_vm_reduce(x, &n, &ni);
    nc = FASTNET_VM_ISELECT(ni > 60, (fastnet_vm_i){} + 60, ni);
    near = (p + (1.0 - fastnet_vm_pow2(-nc))) * fastnet_vm_pow2(nc);
    half = ni >> 1;
    far = ((1.0 + p) * fastnet_vm_pow2(half)) * fastnet_vm_pow2(ni - half) - 1.0;
    return FASTNET_VM_SELECT(ni > 60, far, near);
}

/* tanh x for |x| < 0.55: its Taylor series x + c_3 x^3 + ... + c_39 x^39
 * (c_2k+1 = 2^2k (2^2k - 1) B_2k / (2k)!, B the Bernoulli numbers; the
 * terms fall by x^2 (2 / pi)^2 < 0.123 each, so the first omitted one is
 * below 1e-18 of x).  Near 0 this is as accurate as the final rounding. */
static inline fastnet_vm_d fastnet_vm_tanh_series(fastnet_vm_d x) {
    fastnet_vm_d x2 = x * x;
    fastnet_vm_d q = FASTNET_VM_SPLAT(-2.859136662305254e-08);
    q = q * x2 + 7.054636946400968e-08;
    q = q * x2 + -1.7406618963571648e-07;
    q = q * x2 + 4.294911078273806e-07;
    q = q * x2 + -1.0597268320104654e-06;
    q = q * x2 + 2.6147711512907546e-06;
    q = q * x2 + -6.451689215655431e-06;
    q = q * x2 + 1.5918905069328964e-05;
    q = q * x2 + -3.927832388331683e-05;
    q = q * x2 + 9.691537956929451e-05;
    q = q * x2 + -0.00023912911424355248;
    q = q * x2 + 0.000590027440945586;
    q = q * x2 + -0.0014558343870513183;
    q = q * x2 + 0.003592128036572481;
    q = q * x2 + -0.008863235529902197;
    q = q * x2 + 0.021869488536155203;
    q = q * x2 + -0.05396825396825397;
    q = q * x2 + 0.13333333333333333;
    q = q * x2 + -0.3333333333333333;
    return x + (x * x2) * q;
}

/* tanh x = sign(x) (1 - 2 / (e^{2|x|} + 1)) for |x| >= 0.55, where the
 * result is above 1/2 and the subtraction loses nothing; the series below
 * that; |x| > 20 gives +-1 */
static inline fastnet_vm_d fastnet_vm_tanh(fastnet_vm_d x) {
    const fastnet_vm_i sign = (fastnet_vm_i){} + INT64_MIN;
    fastnet_vm_d ax = (fastnet_vm_d)((fastnet_vm_i)x & ~sign), far;
    ax = FASTNET_VM_SELECT(ax > 20.0, FASTNET_VM_SPLAT(20.0), ax);
    far = 1.0 - 2.0 / (fastnet_vm_exp(2.0 * ax) + 1.0);
    far = (fastnet_vm_d)((fastnet_vm_i)far | ((fastnet_vm_i)x & sign));
    return FASTNET_VM_SELECT(ax < 0.55, fastnet_vm_tanh_series(x), far);
}

/* 1 / (1 + e^-x) without overflow: e = e^-|x|, then 1 / (1 + e) for x >= 0
 * and e / (1 + e) otherwise  (1.8) */
static inline fastnet_vm_d fastnet_vm_expit(fastnet_vm_d x) {
    const fastnet_vm_i sign = (fastnet_vm_i){} + INT64_MIN;
    fastnet_vm_d e = fastnet_vm_exp((fastnet_vm_d)((fastnet_vm_i)x | sign));
    return FASTNET_VM_SELECT(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e));
}

/* Array loops, written once per element type: LANES elements at a time
 * (float32 widened to double and rounded back as stored), the tail padded. */
#define FASTNET_VM_LOOPS(T, V, SUFFIX)                                                    \
static inline fastnet_vm_d fastnet_vm_load##SUFFIX(const T* a, ptrdiff_t m) {           \
    fastnet_vm_d v = {};                                                                 \
    if (m == FASTNET_VM_LANES) {                                                         \
        V w;                                                                             \
        memcpy(&w, a, sizeof w);                                                         \
        return __builtin_convertvector(w, fastnet_vm_d);                                 \
    }                                                                                    \
    for (ptrdiff_t l = 0; l < m; l++) v[l] = a[l];                                       \
    return v;                                                                            \
}                                                                                        \
static inline void fastnet_vm_store##SUFFIX(T* a, fastnet_vm_d v, ptrdiff_t m) {         \
    if (m == FASTNET_VM_LANES) {                                                         \
        V w = __builtin_convertvector(v, V);                                             \
        memcpy(a, &w, sizeof w);                                                         \
        return;                                                                          \
    }                                                                                    \
    for (ptrdiff_t l = 0; l < m; l++) a[l] = (T)v[l];                                    \
}                                                                                        \
/* a <- e^(a - shift)  (softmax's exponentials, N.1; the exp activation) */              \
static void fastnet_exp_shifted##SUFFIX(T* a, ptrdiff_t n, double shift) {               \
    FASTNET_VM_MAP(SUFFIX, a, n, z, fastnet_vm_exp(z - shift))                           \
}                                                                                        \
/* a <- L expit(k (a - x0))  (1.7) */                                                    \
static void fastnet_logistic##SUFFIX(T* a, ptrdiff_t n, double L, double k, double x0) { \
    FASTNET_VM_MAP(SUFFIX, a, n, z, L * fastnet_vm_expit(k * (z - x0)))                  \
}                                                                                        \
/* a <- tanh a */                                                                        \
static void fastnet_tanh##SUFFIX(T* a, ptrdiff_t n) {                                    \
    FASTNET_VM_MAP(SUFFIX, a, n, z, fastnet_vm_tanh(z))                                  \
}                                                                                        \
/* a <- a for a > 0, alpha (e^a - 1) otherwise */                                        \
static void fastnet_elu##SUFFIX(T* a, ptrdiff_t n, double alpha) {                       \
    FASTNET_VM_MAP(SUFFIX, a, n, z, FASTNET_VM_SELECT(z > 0.0, z,                        \
                                                      alpha * fastnet_vm_expm1(z)))      \
}

/* The loop of the maps above: a[i] <- EXPR of z = a[i], LANES at a time.  An
 * array of at least LANES elements ends with a vector over its last LANES
 * elements, overlapping the one before it, in place of a partial vector: it
 * is read before anything is stored, so the lanes both vectors hold get the
 * same inputs and the same bits, and a softmax over 10 outputs takes two
 * vectors rather than two and an element-by-element third (whose loads and
 * stores cost about as much as a vector's exp).  Shorter arrays are one
 * partial vector. */
#define FASTNET_VM_MAP(SUFFIX, a, n, z, EXPR)                                            \
    ptrdiff_t i = 0;                                                                     \
    if ((n) >= FASTNET_VM_LANES) {                                                       \
        fastnet_vm_d z = fastnet_vm_load##SUFFIX((a) + (n) - FASTNET_VM_LANES,           \
                                                 FASTNET_VM_LANES);                      \
        const fastnet_vm_d last = (EXPR);                                                \
        /* every vector that starts before the last one (the final one may overlap it) */ \
        for (; i < (n) - FASTNET_VM_LANES; i += FASTNET_VM_LANES) {                      \
            z = fastnet_vm_load##SUFFIX((a) + i, FASTNET_VM_LANES);                      \
            fastnet_vm_store##SUFFIX((a) + i, (EXPR), FASTNET_VM_LANES);                 \
        }                                                                                \
        fastnet_vm_store##SUFFIX((a) + (n) - FASTNET_VM_LANES, last, FASTNET_VM_LANES);  \
        return;                                                                          \
    }                                                                                    \
    fastnet_vm_d z = fastnet_vm_load##SUFFIX((a), (n));                                  \
    fastnet_vm_store##SUFFIX((a), (EXPR), (n));

FASTNET_VM_LOOPS(double, fastnet_vm_d, _d)
FASTNET_VM_LOOPS(float, fastnet_vm_f, _f)

#endif
