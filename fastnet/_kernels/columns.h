/* Column kernels: the first layer of per-sample plain SGD, input-major.
 *
 * An epoch of per-sample steps (columns.pxi) copies the first layer's W into
 * wt, input-major: row j of wt holds w_ij for every neuron i (ld >= n_out
 * entries, the padding zero).  A step then visits only the inputs j that are
 * non-zero in this sample's a or the next sample's x, one row of wt each,
 * and a row is contiguous, so the skipped inputs' weights are neither read
 * nor written.  Digits leave about a third of the inputs zero in both rows,
 * MNIST about two thirds; rows.h's eight-input blocks skip only whole image
 * borders.
 *
 * The arithmetic is rows.h's, term for term: neuron i's dot product keeps
 * eight partial sums, partial sum k taking the inputs j = k (mod 8) below n8
 * in ascending order and then the tail j >= n8 (in partial sum 0, one neuron
 * at a time with fastnet_fma, as rows.h's scalar tails), added as
 * ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)); each weight steps as
 * w - rate_i a_j and the stepped weight enters the sum as s + w x_j.  Here
 * the vector lanes are neurons, and the eight partial sums of a block of
 * neurons are taken one after the other (lists[k] holds partial sum k's
 * inputs), so each is a chain of its own inputs in rows.h's order.  A skipped
 * input contributes w * 0 = +-0 there, which leaves a partial sum as it was
 * (it starts at +0 and is never -0), and w - rate * 0 = w: the results are
 * bit-identical to rows.h's (docs/maths.md, N.7).  Dead ReLU units step with
 * rate 0, which moves nothing.
 *
 * FASTNET_COLUMN_KERNELS writes the kernels once for each element type;
 * vectors are the build's widest (as rows.h's float64 ones).
 */
#ifndef FASTNET_COLUMNS_H
#define FASTNET_COLUMNS_H

#include <stddef.h>
#include <string.h>

#include "rows.h"   /* fastnet_fma_d, fastnet_fma_f */

/* The column copy's memory: zeroed pages of its own, outside malloc's heap.
 * A block of the copy's size (tens of kB for small networks) allocated and
 * freed with each fit left holes in the heap that a fit / predict loop's
 * resident size grew by (tests/test_leaks.py); pages are also aligned, as
 * the copy's rows need. */
#if defined(_WIN32)
#include <stdlib.h>
static inline void* fastnet_pages(size_t size) { return calloc(size, 1); }
static inline void fastnet_free_pages(void* p, size_t size) { (void)size; free(p); }
#else
#include <sys/mman.h>
static inline void* fastnet_pages(size_t size) {
    void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
static inline void fastnet_free_pages(void* p, size_t size) {
    if (p != NULL)
        munmap(p, size);
}
#endif

#ifdef __AVX512F__
#define FASTNET_COLUMN_BYTES 64
#elif defined(__AVX__)
#define FASTNET_COLUMN_BYTES 32
#else
#define FASTNET_COLUMN_BYTES 16
#endif
typedef double fastnet_cd __attribute__((vector_size(FASTNET_COLUMN_BYTES)));
typedef float fastnet_cf __attribute__((vector_size(FASTNET_COLUMN_BYTES)));

/* wt's row length is a multiple of this many elements (64 bytes), so that
 * it is a whole number of vectors in every build and rows start on a
 * cache line. */
#define FASTNET_COLUMN_ALIGN_D 8
#define FASTNET_COLUMN_ALIGN_F 16
/* The most vectors a block of neurons takes at a time: its partial sums and
 * rates stay in registers (32 of them with AVX-512: 2 x 13, the two
 * broadcasts and temporaries; 16 before), and as many independent chains of
 * multiply-adds hide their latency.  A layer's neurons are split into blocks
 * as even as they can be.  Digits' 100 neurons in float64 are one block of
 * 13 vectors, whose rows a step visits once where blocks of 8 visited them
 * twice: about 6 % faster, in-process A/B runs in both orders. */
#ifdef __AVX512F__
#define FASTNET_COLUMN_BLOCK 13
#else
#define FASTNET_COLUMN_BLOCK 4
#endif

#define FASTNET_COLUMN_KERNELS(T, SUFFIX, V)                                           \
enum { FASTNET_LANES##SUFFIX = FASTNET_COLUMN_BYTES / sizeof(T) };                    \
                                                                                       \
static inline V fastnet_cload##SUFFIX(const T* p) {                                    \
    V v;                                                                               \
    memcpy(&v, p, sizeof v);                                                           \
    return v;                                                                          \
}                                                                                      \
                                                                                       \
/* The inputs j < n where a (or x, unless NULL) is non-zero, by partial sum:           \
 * lists[k * cap ...] holds counts[k] inputs j = k (mod 8) below n8, ascending,       \
 * and lists[8 * cap ...] the counts[8] tail inputs j >= n8 (partial sum 0's           \
 * last terms).  cap >= n / 8 + 8; live holds n bytes of work space. */                \
static inline void fastnet_visited_inputs##SUFFIX(const T* a, const T* x, ptrdiff_t n, \
                                                  ptrdiff_t n8, ptrdiff_t* lists,      \
                                                  ptrdiff_t cap, ptrdiff_t counts[9],  \
                                                  unsigned char* live) {               \
    /* First which inputs are live, in vector compares (a NaN is live: NaN != 0).     \
     * Then each list with one count: every input is written to its list, and the     \
     * count advances only if the input is live, without a branch (which inputs       \
     * are zero is close to random).  Compares and counts in one loop took nine       \
     * counts, which the registers could not hold, and two scalar compares an         \
     * input: 9 % of a digits step. */                                                 \
    if (x != NULL)                                                                     \
        for (ptrdiff_t j = 0; j < n; j++)                                              \
            live[j] = (a[j] != 0) | (x[j] != 0);                                       \
    else                                                                               \
        for (ptrdiff_t j = 0; j < n; j++)                                              \
            live[j] = a[j] != 0;                                                       \
    for (int k = 0; k < 8; k++) {                                                      \
        ptrdiff_t* list = lists + k * cap, count = 0;                                  \
        for (ptrdiff_t j = k; j < n8; j += 8) {                                        \
            list[count] = j;                                                           \
            count += live[j];                                                          \
        }                                                                              \
        counts[k] = count;                                                             \
    }                                                                                  \
    ptrdiff_t* tail = lists + 8 * cap, count = 0;                                      \
    for (ptrdiff_t j = n8; j < n; j++) {                                               \
        tail[count] = j;                                                               \
        count += live[j];                                                              \
    }                                                                                  \
    counts[8] = count;                                                                 \
}                                                                                      \
                                                                                       \
/* The tail inputs' terms, one neuron at a time with fastnet_fma as rows.h's          \
 * tails (under -O1 the compiler fuses no vector expression, and the tails must        \
 * still round as rows.h's): the step of neurons c .. c + nb * LANES - 1 and,          \
 * unless s is NULL, their products with x into partial sum 0, s[0 .. nb LANES),       \
 * in memory: a pointer to the block's vector sums would keep them out of              \
 * registers (and zeroing them cost a `rep stos` per partial sum). */                  \
static inline __attribute__((always_inline)) void fastnet_column_tail##SUFFIX(         \
        T* wt, ptrdiff_t ld, ptrdiff_t c, int nb, const T* rate, const T* a,           \
        const T* x, const ptrdiff_t* tail, ptrdiff_t n_tail, T* s) {                   \
    const int L = FASTNET_LANES##SUFFIX;                                               \
    for (ptrdiff_t m = 0; m < n_tail; m++) {                                           \
        const ptrdiff_t j = tail[m];                                                   \
        T* w = wt + j * ld + c;                                                        \
        for (int i = 0; i < nb * L; i++) {                                             \
            const T stepped = fastnet_fma##SUFFIX(-rate[c + i], a[j], w[i]);           \
            w[i] = stepped;                                                            \
            if (s != NULL)                                                             \
                s[i] = fastnet_fma##SUFFIX(stepped, x[j], s[i]);                       \
        }                                                                              \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* Neurons c .. c + nb * LANES - 1 (nb vectors): each visited input's row of          \
 * wt steps, w -= rate a_j, and the stepped weights times x_j go into the eight       \
 * partial sums, whose totals go to dots[c ...]. */                                    \
static inline __attribute__((always_inline)) void fastnet_column_block##SUFFIX(        \
        T* wt, ptrdiff_t ld, ptrdiff_t c, int nb, const T* rate, const T* a,           \
        const T* x, const ptrdiff_t* lists, ptrdiff_t cap, const ptrdiff_t counts[9],  \
        T* parts, T* dots, const char* ahead, ptrdiff_t ahead_bytes, int backwards) {  \
    const int L = FASTNET_LANES##SUFFIX;                                               \
    V r[FASTNET_COLUMN_BLOCK];                                                         \
    for (int p = 0; p < nb; p++)                                                       \
        r[p] = fastnet_cload##SUFFIX(rate + c + p * L);                                \
    for (int m = 0; m < 8; m++) {                                                      \
        const int k = backwards ? 7 - m : m;                                           \
        const ptrdiff_t* list = lists + k * cap;                                       \
        /* an eighth of `ahead` back into L1 while the sweep goes on */                \
        for (ptrdiff_t o = m * ahead_bytes / 8; o < (m + 1) * ahead_bytes / 8; o += 64) \
            __builtin_prefetch(ahead + o);                                             \
        V s[FASTNET_COLUMN_BLOCK];                                                     \
        for (int p = 0; p < nb; p++)                                                   \
            s[p] = (V){0};                                                             \
        for (ptrdiff_t m = 0; m < counts[k]; m++) {                                    \
            const ptrdiff_t j = list[m];                                               \
            const T aj = a[j], xj = x[j];                                              \
            T* w = wt + j * ld + c;                                                    \
            for (int p = 0; p < nb; p++) {                                             \
                const V stepped = fastnet_cload##SUFFIX(w + p * L) - r[p] * aj;        \
                memcpy(w + p * L, &stepped, sizeof stepped);                           \
                s[p] = s[p] + stepped * xj;                                            \
            }                                                                          \
        }                                                                              \
        for (int p = 0; p < nb; p++)                                                   \
            memcpy(parts + k * ld + c + p * L, &s[p], sizeof(V));                      \
        if (k == 0)                                                                    \
            fastnet_column_tail##SUFFIX(wt, ld, c, nb, rate, a, x, lists + 8 * cap,    \
                                        counts[8], parts + c);                         \
    }                                                                                  \
    for (int p = 0; p < nb; p++) {                                                     \
        const T* q = parts + c + p * L;                                                \
        const V total =                                                                \
            ((fastnet_cload##SUFFIX(q) + fastnet_cload##SUFFIX(q + 4 * ld))            \
             + (fastnet_cload##SUFFIX(q + ld) + fastnet_cload##SUFFIX(q + 5 * ld)))    \
            + ((fastnet_cload##SUFFIX(q + 2 * ld) + fastnet_cload##SUFFIX(q + 6 * ld)) \
               + (fastnet_cload##SUFFIX(q + 3 * ld) + fastnet_cload##SUFFIX(q + 7 * ld))); \
        memcpy(dots + c + p * L, &total, sizeof total);                                \
    }                                                                                  \
}                                                                                      \
                                                                                       \
/* The step alone (no next sample): the visited inputs' rows of neurons                \
 * c .. c + nb * LANES - 1.  A function of its own: sharing the product                \
 * rate a_j with the block above, the compiler would no longer fuse it into            \
 * the subtraction, and the weights would round differently. */                        \
static inline __attribute__((always_inline)) void fastnet_column_step_block##SUFFIX(   \
        T* wt, ptrdiff_t ld, ptrdiff_t c, int nb, const T* rate, const T* a,           \
        const ptrdiff_t* lists, ptrdiff_t cap, const ptrdiff_t counts[9]) {            \
    const int L = FASTNET_LANES##SUFFIX;                                               \
    V r[FASTNET_COLUMN_BLOCK];                                                         \
    for (int p = 0; p < nb; p++)                                                       \
        r[p] = fastnet_cload##SUFFIX(rate + c + p * L);                                \
    for (int k = 0; k < 8; k++)                                                        \
        for (ptrdiff_t m = 0; m < counts[k]; m++) {                                    \
            const ptrdiff_t j = lists[k * cap + m];                                    \
            const T aj = a[j];                                                         \
            T* w = wt + j * ld + c;                                                    \
            for (int p = 0; p < nb; p++) {                                             \
                const V stepped = fastnet_cload##SUFFIX(w + p * L) - r[p] * aj;        \
                memcpy(w + p * L, &stepped, sizeof stepped);                           \
            }                                                                          \
        }                                                                              \
    fastnet_column_tail##SUFFIX(wt, ld, c, nb, rate, a, NULL, lists + 8 * cap,         \
                                counts[8], NULL);                                      \
}                                                                                      \
                                                                                       \
/* Neurons c0 .. c1 - 1 (multiples of the vector length): the step of this             \
 * sample's a and, unless x is NULL, the next sample's dot products with the           \
 * stepped weights into dots (their partial sums in parts, 8 rows of ld).              \
 * With `backwards`, the blocks of neurons come in the opposite order, and so do       \
 * the partial sums within a block (each still takes its inputs in ascending           \
 * order): the same arithmetic.  Steps that sweep alternately forwards and             \
 * backwards start where the last one ended, on the lines it left in L1; one           \
 * direction would always come back first to the lines longest out of use,             \
 * which are the ones a cache a little smaller than the sweep has just evicted. */     \
static inline void fastnet_columns_step##SUFFIX(                                       \
        T* wt, ptrdiff_t ld, ptrdiff_t c0, ptrdiff_t c1, const T* rate, const T* a,    \
        const T* x, const ptrdiff_t* lists, ptrdiff_t cap, const ptrdiff_t counts[9],  \
        T* parts, T* dots, const char* ahead, ptrdiff_t ahead_bytes, int backwards) {  \
    const ptrdiff_t L = FASTNET_LANES##SUFFIX, B = FASTNET_COLUMN_BLOCK;               \
    const ptrdiff_t n_vectors = (c1 - c0) / L, n_blocks = (n_vectors + B - 1) / B;     \
    /* blocks as even as they can be: the first `longer` have one more vector */       \
    const ptrdiff_t base = n_blocks ? n_vectors / n_blocks : 0;                        \
    const ptrdiff_t longer = n_blocks ? n_vectors % n_blocks : 0;                      \
    for (ptrdiff_t m = 0; m < n_blocks; m++) {                                         \
        /* a constant count of vectors in each case of the switch, so that the         \
         * compiler keeps the block in registers */                                    \
        const ptrdiff_t block = backwards ? n_blocks - 1 - m : m;                      \
        const ptrdiff_t c = c0 + L * (block * base + (block < longer ? block : longer)); \
        const int nb = (int)(base + (block < longer));                                 \
        /* the last block prefetches `ahead` (the next layer's weights, which the      \
         * sweep pushes out of L1) in time for the forward pass that follows */        \
        const ptrdiff_t ahead_here = m == n_blocks - 1 ? ahead_bytes : 0;              \
        switch (nb) {                                                                  \
        FASTNET_COLUMN_CASE(SUFFIX, 13) FASTNET_COLUMN_CASE(SUFFIX, 12)                \
        FASTNET_COLUMN_CASE(SUFFIX, 11) FASTNET_COLUMN_CASE(SUFFIX, 10)                \
        FASTNET_COLUMN_CASE(SUFFIX, 9)                                                 \
        FASTNET_COLUMN_CASE(SUFFIX, 8) FASTNET_COLUMN_CASE(SUFFIX, 7)                  \
        FASTNET_COLUMN_CASE(SUFFIX, 6) FASTNET_COLUMN_CASE(SUFFIX, 5)                  \
        FASTNET_COLUMN_CASE(SUFFIX, 4) FASTNET_COLUMN_CASE(SUFFIX, 3)                  \
        FASTNET_COLUMN_CASE(SUFFIX, 2) FASTNET_COLUMN_CASE(SUFFIX, 1)                  \
        }                                                                              \
    }                                                                                  \
}

/* A case of fastnet_columns_step's switch: nb vectors (none above the block). */
#define FASTNET_COLUMN_CASE(SUFFIX, NB)                                                \
    case NB:                                                                           \
        if (NB > FASTNET_COLUMN_BLOCK)                                                 \
            break;                                                                     \
        if (x == NULL)                                                                 \
            fastnet_column_step_block##SUFFIX(wt, ld, c, NB, rate, a, lists, cap,      \
                                              counts);                                 \
        else                                                                           \
            fastnet_column_block##SUFFIX(wt, ld, c, NB, rate, a, x, lists, cap,        \
                                         counts, parts, dots, ahead, ahead_here,       \
                                         backwards);                                   \
        break;

FASTNET_COLUMN_KERNELS(double, _d, fastnet_cd)
FASTNET_COLUMN_KERNELS(float, _f, fastnet_cf)

#endif
