# The machine the kernels run on: floating-point mode, CPU features, OpenMP.
#
# Denormal numbers.  Optimizer state decays geometrically (momentum's
# velocity, Adam's moments of a dead ReLU's weights) into the subnormal range,
# where every x86 multiply takes a microcode assist: per-sample Adam on digits
# ran 10x slower after a few epochs.  The training kernels therefore run with
# flush-to-zero and denormals-are-zero set in MXCSR on every thread that
# runs them.  The calling thread gets its own mode back at the end; an OpenMP
# worker leaves with the two bits cleared, because a worker the library
# starts while the caller is inside train_epoch inherits the caller's MXCSR
# (clone copies it), so "restore what the worker had" would keep FTZ on in
# the shared pool.  Only values below 2.2e-308 (float32: 1.2e-38) change;
# NaN and inf behave as before.  (docs/maths.md, N.6)
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int fastnet_thread_id(void) { return omp_get_thread_num(); }
    static int fastnet_max_threads(void) { return omp_get_max_threads(); }
    static int fastnet_has_openmp(void) { return 1; }
    #else
    static int fastnet_thread_id(void) { return 0; }
    static int fastnet_max_threads(void) { return 1; }
    static int fastnet_has_openmp(void) { return 0; }
    #endif

    #if defined(__SSE2__) || defined(__x86_64__)
    #include <xmmintrin.h>
    #define FASTNET_FTZ_DAZ 0x8040u  /* FTZ (bit 15) | DAZ (bit 6) */
    static inline unsigned int fastnet_flush_denormals(void) {
        unsigned int saved = _mm_getcsr();
        _mm_setcsr(saved | FASTNET_FTZ_DAZ);
        return saved;
    }
    static inline void fastnet_restore_fp_mode(unsigned int saved) {
        if (fastnet_thread_id() != 0)
            saved &= ~FASTNET_FTZ_DAZ;
        _mm_setcsr(saved);
    }
    #else
    static inline unsigned int fastnet_flush_denormals(void) { return 0; }
    static inline void fastnet_restore_fp_mode(unsigned int saved) { (void)saved; }
    #endif

    /* seconds on a monotonic clock (the training loop's signal checks) */
    #ifdef _WIN32
    #include <windows.h>
    static double fastnet_seconds(void) {
        LARGE_INTEGER frequency, count;
        QueryPerformanceFrequency(&frequency);
        QueryPerformanceCounter(&count);
        return (double)count.QuadPart / (double)frequency.QuadPart;
    }
    #else
    #include <time.h>
    static double fastnet_seconds(void) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
    }
    #endif

    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    static int fastnet_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int fastnet_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
            && fastnet_cpu_has_avx2_fma();
    }
    #else
    static int fastnet_cpu_has_avx2_fma(void) { return 0; }
    static int fastnet_cpu_has_avx512(void) { return 0; }
    #endif
    """
    unsigned int _flush_denormals "fastnet_flush_denormals"() noexcept nogil
    void _restore_fp_mode "fastnet_restore_fp_mode"(unsigned int saved) noexcept nogil
    int _thread_id "fastnet_thread_id"() noexcept nogil
    int _max_threads "fastnet_max_threads"() noexcept nogil
    int _has_openmp "fastnet_has_openmp"() noexcept nogil
    int _cpu_has_avx2_fma "fastnet_cpu_has_avx2_fma"() noexcept nogil
    int _cpu_has_avx512 "fastnet_cpu_has_avx512"() noexcept nogil
    double _seconds "fastnet_seconds"() noexcept nogil


def max_threads():
    """Threads OpenMP would use by default (1 when built without OpenMP)."""
    return _max_threads()


def has_openmp():
    """Whether the extension was compiled with OpenMP."""
    return bool(_has_openmp())


def cpu_has_avx2_fma():
    """Whether this CPU runs the AVX2/FMA build of these kernels."""
    return bool(_cpu_has_avx2_fma())


def cpu_has_avx512():
    """Whether this CPU runs the AVX-512 build of these kernels."""
    return bool(_cpu_has_avx512())
