/* Memory read bandwidth: sums a buffer much larger than the caches, best of several passes,
 * with 1 and with N threads (pthreads). Build and run: bench/membw.sh  (prints JSON). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static float *buf;
static size_t n;
static int threads;
static double sums[64];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *part(void *arg) {
  intptr_t id = (intptr_t)arg;
  size_t from = n / threads * id, to = id == threads - 1 ? n : n / threads * (id + 1);
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  for (size_t i = from; i + 8 <= to; i += 8) {
    a0 += buf[i]; a1 += buf[i + 1]; a2 += buf[i + 2]; a3 += buf[i + 3];
    a4 += buf[i + 4]; a5 += buf[i + 5]; a6 += buf[i + 6]; a7 += buf[i + 7];
  }
  sums[id] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  return NULL;
}

static double gbps(int t, int reps) {
  double best = 1e9;
  threads = t;
  for (int r = 0; r < reps; r++) {
    pthread_t th[64];
    double t0 = now();
    for (intptr_t i = 0; i < t; i++) pthread_create(&th[i], NULL, part, (void *)i);
    for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
    double dt = now() - t0;
    if (dt < best) best = dt;
  }
  return n * sizeof(float) / best / 1e9;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
  int maxThreads = argc > 2 ? atoi(argv[2]) : 2;
  n = mib * 1024 * 1024 / sizeof(float);
  buf = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023);
  printf("{\"bufferMiB\": %zu", mib);
  for (int t = 1; t <= maxThreads; t *= 2) printf(", \"readGBps_%dthreads\": %.2f", t, gbps(t, 7));
  printf(", \"check\": %g}\n", sums[0]);
  return 0;
}
