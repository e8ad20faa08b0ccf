/* STREAM-style bandwidth kernels for enginebench (measure/bandwidth.py), compiled on first
 * use with the system C compiler and OpenMP. Each returns the best time in seconds of
 * `reps` passes after one untimed pass, on omp_get_max_threads() threads. */
#include <omp.h>
#include <stddef.h>

static volatile double sink;

double eb_copy(double *restrict a, const double *restrict b, size_t n, int reps) {
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t = omp_get_wtime();
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i];
        t = omp_get_wtime() - t;
        if (r && t < best) best = t;
    }
    return best;
}

double eb_triad(double *restrict a, const double *restrict b, const double *restrict c,
                size_t n, int reps) {
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t = omp_get_wtime();
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
        t = omp_get_wtime() - t;
        if (r && t < best) best = t;
    }
    return best;
}

double eb_read(const double *restrict a, size_t n, int reps) {
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double sum = 0.0;
        double t = omp_get_wtime();
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
        for (size_t i = 0; i < n; i++) sum += a[i];
        t = omp_get_wtime() - t;
        sink = sum;
        if (r && t < best) best = t;
    }
    return best;
}

void eb_set_threads(int threads) { omp_set_num_threads(threads); }
