#include <math.h>
#include <stdlib.h>
#include <omp.h>

/* Adds a thread's float partial sums (s, q) into its double accumulators (acc: 2 x C) and clears them,
   so float partials never grow over more than a block of rows. */
static void flush(double *acc, float *s, float *q, long C)
{
    for (long c = 0; c < C; c++) { acc[c] += s[c]; acc[C + c] += q[c]; s[c] = q[c] = 0; }
}

/* Channel c's two sums over all T threads' accumulators. */
static void total(const double *acc, int T, long C, long c, double *S, double *Q)
{
    *S = *Q = 0;
    for (int t = 0; t < T; t++) { *S += acc[(t*2)*C+c]; *Q += acc[(t*2+1)*C+c]; }
}

/* Training-mode BatchNorm + SiLU forward, channels-last (rows x C): per-channel mean and biased
   variance over rows, y = silu(gamma * (x - mean) * invstd + beta). Two passes over x, one write. */
void bn_silu_fwd(const float *x, float *y, const float *gamma, const float *beta,
                 float *mean, float *invstd, long rows, long C, float eps)
{
    int T = omp_get_max_threads();
    double *acc = calloc((size_t)T * 2 * C, sizeof(double));
    #pragma omp parallel
    {
        int t = omp_get_thread_num();
        float *s = calloc(C, sizeof(float)), *q = calloc(C, sizeof(float));
        long chunk = 0;
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float *xr = x + r * C;
            #pragma omp simd
            for (long c = 0; c < C; c++) { s[c] += xr[c]; q[c] += xr[c] * xr[c]; }
            if (++chunk == 64) { flush(acc + t * 2 * C, s, q, C); chunk = 0; }
        }
        flush(acc + t * 2 * C, s, q, C);
        free(s); free(q);
    }
    float *a = malloc(C * sizeof(float)), *b = malloc(C * sizeof(float));
    for (long c = 0; c < C; c++) {
        double S, Q;
        total(acc, T, C, c, &S, &Q);
        double m = S / rows, v = Q / rows - m * m;
        mean[c] = (float)m; invstd[c] = (float)(1.0 / sqrt(v + eps));
        a[c] = gamma[c] * invstd[c]; b[c] = beta[c] - (float)m * a[c];
    }
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C; float *yr = y + r * C;
        #pragma omp simd
        for (long c = 0; c < C; c++) { float z = a[c] * xr[c] + b[c]; yr[c] = z / (1.0f + expf(-z)); }
    }
    free(a); free(b); free(acc);
}

/* Backward of y = silu(gamma * (x - mean) * invstd + beta) in training mode, channels-last (rows x C):
   g' = dy * silu'(z) is recomputed from x in both passes (nothing but x is saved), pass 1 reduces
   dbeta = sum g' and dgamma = sum g' * xhat per channel, pass 2 writes dx. */
void bn_silu_bwd(const float *x, const float *dy, float *dx, const float *gamma, const float *beta,
                 const float *mean, const float *invstd, float *dgamma, float *dbeta, long rows, long C)
{
    int T = omp_get_max_threads();
    double *acc = calloc((size_t)T * 2 * C, sizeof(double));
    float *a = malloc(C * sizeof(float)), *b = malloc(C * sizeof(float));
    for (long c = 0; c < C; c++) { a[c] = gamma[c] * invstd[c]; b[c] = beta[c] - mean[c] * a[c]; }
    #pragma omp parallel
    {
        int t = omp_get_thread_num();
        float *s1 = calloc(C, sizeof(float)), *s2 = calloc(C, sizeof(float));
        long chunk = 0;
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float *xr = x + r * C, *gr = dy + r * C;
            #pragma omp simd
            for (long c = 0; c < C; c++) {
                float z = a[c] * xr[c] + b[c], sg = 1.0f / (1.0f + expf(-z));
                float gp = gr[c] * sg * (1.0f + z * (1.0f - sg));
                s1[c] += gp; s2[c] += gp * (xr[c] - mean[c]);
            }
            if (++chunk == 64) { flush(acc + t * 2 * C, s1, s2, C); chunk = 0; }
        }
        flush(acc + t * 2 * C, s1, s2, C);
        free(s1); free(s2);
    }
    float *k1 = malloc(C * sizeof(float)), *k2 = malloc(C * sizeof(float)), *k3 = malloc(C * sizeof(float));
    for (long c = 0; c < C; c++) {
        double S1, S2;
        total(acc, T, C, c, &S1, &S2);
        dbeta[c] = (float)S1; dgamma[c] = (float)(S2 * invstd[c]);
        /* dx = gamma*invstd * (g' - S1/N - (x-mean)*invstd^2 * S2/N) */
        k1[c] = a[c]; k2[c] = (float)(S1 / rows); k3[c] = (float)(S2 / rows) * invstd[c] * invstd[c];
    }
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C, *gr = dy + r * C; float *dr = dx + r * C;
        #pragma omp simd
        for (long c = 0; c < C; c++) {
            float z = a[c] * xr[c] + b[c], sg = 1.0f / (1.0f + expf(-z));
            float gp = gr[c] * sg * (1.0f + z * (1.0f - sg));
            dr[c] = k1[c] * (gp - k2[c] - (xr[c] - mean[c]) * k3[c]);
        }
    }
    free(a); free(b); free(k1); free(k2); free(k3); free(acc);
}
