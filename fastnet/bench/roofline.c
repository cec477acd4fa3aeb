/* The two ceilings of a training step, measured on this machine.
 *
 * usage: roofline fma THREADS
 *            prints the float64 and the float32 FMA peak in GFLOP/s of
 *            THREADS threads, each running independent fused multiply-adds
 * usage: roofline stream BYTES THREADS
 *            prints the GB/s of one sample's weight traffic over BYTES
 *            bytes split among THREADS threads: one read pass (the forward
 *            pass reads each weight) and one read-and-write pass (the
 *            update), 3 * BYTES bytes moved
 *
 * The vector width is chosen at compile time: -DVECTOR_BYTES=16, 32 or 64
 * with the matching -m flags (none, -mavx2 -mfma, -mavx512f -mfma); a CPU
 * without the instructions stops the program with SIGILL, which the caller
 * takes as "not available".  Built with -fopenmp when the compiler has it.
 * Each figure is the best of ROUNDS timed rounds of at least ROUND_SECONDS:
 * many short rounds give a shared machine more chances of a quiet one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef VECTOR_BYTES
#define VECTOR_BYTES 16
#endif
/* FMA latency (4-5 cycles) times FMA ports (2) independent chains keep every
 * port busy; 12 leaves headroom and still fits the 16 vector registers. */
#define CHAINS 12
#define ROUNDS 20
#define ROUND_SECONDS 0.002

typedef double vdouble __attribute__((vector_size(VECTOR_BYTES)));
typedef float vfloat __attribute__((vector_size(VECTOR_BYTES)));

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* CHAINS independent chains acc = acc * m + c: the compiler contracts each
 * into one FMA (-ffp-contract=fast).  m < 1 keeps the values bounded and
 * normal.  Returns a sum of the chains so the work cannot be dropped. */
#define FMA_LOOP(NAME, VECTOR, SCALAR)                                        \
    static SCALAR NAME(long iterations)                                       \
    {                                                                         \
        VECTOR acc[CHAINS], m = (VECTOR){0} + (SCALAR)0.999999,               \
                            c = (VECTOR){0} + (SCALAR)1e-6;                   \
        SCALAR total = 0;                                                     \
        long i;                                                               \
        int k, lane;                                                          \
        for (k = 0; k < CHAINS; k++) acc[k] = (VECTOR){0} + (SCALAR)k;        \
        for (i = 0; i < iterations; i++)                                      \
            _Pragma("GCC unroll 16")                                          \
            for (k = 0; k < CHAINS; k++) acc[k] = acc[k] * m + c;             \
        for (k = 0; k < CHAINS; k++)                                          \
            for (lane = 0; lane < (int)(sizeof(VECTOR) / sizeof(SCALAR)); lane++) \
                total += acc[k][lane];                                        \
        return total;                                                         \
    }

FMA_LOOP(fma_double, vdouble, double)
FMA_LOOP(fma_float, vfloat, float)

/* Calls of one loop double until a call takes ROUND_SECONDS. */
static long calibrate(double (*seconds_of)(long, void *), void *arg)
{
    long count = 1;
    while (seconds_of(count, arg) < ROUND_SECONDS) count *= 2;
    return count;
}

static double fma_seconds(long iterations, void *single)
{
    volatile double sink;
    double start = now();
    sink = *(int *)single ? fma_float(iterations) : fma_double(iterations);
    (void)sink;
    return now() - start;
}

/* The best of ROUNDS rounds of every thread running the loop at once, each
 * timing itself: a thread that waits for a core (the machine is shared)
 * then costs that thread's round, not a barrier for all. */
static double fma_gflops(int threads, int single)
{
    long iterations = calibrate(fma_seconds, &single);
    int round, lanes = VECTOR_BYTES / (single ? sizeof(float) : sizeof(double));
    /* two flops (multiply, add) per lane per FMA */
    double flops = 2.0 * CHAINS * lanes * iterations, best = 0;

    for (round = 0; round < ROUNDS; round++) {
        double rate = 0;
        #pragma omp parallel num_threads(threads) reduction(+:rate)
        rate += flops / fma_seconds(iterations, &single);
        if (rate > best) best = rate;
    }
    return best / 1e9;
}

struct share { vdouble *w; long n; };

/* One sample's weight traffic, `repeats` times over a thread's share of n
 * vectors (n a multiple of 4): a read pass summing into four independent
 * vectors (the forward pass), then a read-and-write pass w = w * d + e (the
 * update). */
static double stream_seconds(long repeats, void *arg)
{
    struct share *share = arg;
    vdouble s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    vdouble d = (vdouble){0} + 0.999999, e = (vdouble){0} + 1e-9;
    volatile double sink;
    double start = now();
    long r, i;

    for (r = 0; r < repeats; r++) {
        for (i = 0; i < share->n; i += 4) {
            s0 += share->w[i]; s1 += share->w[i + 1];
            s2 += share->w[i + 2]; s3 += share->w[i + 3];
        }
        for (i = 0; i < share->n; i++) share->w[i] = share->w[i] * d + e;
    }
    s0 += s1 + s2 + s3;
    sink = s0[0];
    (void)sink;
    return now() - start;
}

/* GB/s of the weight traffic of `bytes` of weights split evenly among the
 * threads; each thread allocates and first touches its own share, so it
 * sits in that thread's caches (the kernels' fixed neuron chunks do the
 * same).  Bytes moved per pass pair: 3 * share (read, read + write). */
static double stream_gbps(long bytes, int threads)
{
    long block = 4 * (long)sizeof(vdouble);
    long share_blocks = (bytes / threads + block - 1) / block;
    double rates[ROUNDS] = {0}, best = 0;
    int round;

    #pragma omp parallel num_threads(threads) private(round)
    {
        struct share share = { aligned_alloc(64, share_blocks * block), 4 * share_blocks };
        long i, repeats;
        if (share.w == NULL) exit(3);
        for (i = 0; i < share.n; i++) share.w[i] = (vdouble){0} + 1.0;
        repeats = calibrate(stream_seconds, &share);
        for (round = 0; round < ROUNDS; round++) {
            double rate;
            #pragma omp barrier
            rate = 3.0 * share_blocks * block * repeats / stream_seconds(repeats, &share);
            #pragma omp atomic
            rates[round] += rate;
        }
        free(share.w);
    }
    for (round = 0; round < ROUNDS; round++)
        if (rates[round] > best) best = rates[round];
    return best / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 2 ? atoi(argv[argc - 1]) : 0;

#ifndef _OPENMP
    if (threads > 1) return 4; /* serial build: one thread only */
#endif
    if (argc == 3 && strcmp(argv[1], "fma") == 0) {
        printf("%.6g %.6g\n", fma_gflops(threads, 0), fma_gflops(threads, 1));
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "stream") == 0) {
        printf("%.6g\n", stream_gbps(atol(argv[2]), threads));
        return 0;
    }
    fprintf(stderr, "usage: roofline fma THREADS | roofline stream BYTES THREADS\n");
    return 2;
}
