// ops/cpu/batchnorm.hpp -- 2-D batch normalisation kernels (NCHW, statistics per channel).
//
// A channel c holds M = N*H*W values; the kernels take N, C and HW = H*W.
//   ops::batchnorm_stats(x, N, C, HW, mean, var);               // batch mean, BIASED variance
//   ops::batchnorm_forward(x, N, C, HW, mean, invstd, gamma, beta, y);
//        y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c],   invstd = 1/sqrt(var + eps)
//   ops::batchnorm_backward(x, dy, N, C, HW, mean, invstd, gamma, training, dx, dgamma, dbeta);
//        ACCUMULATES (+=) into dx, dgamma, dbeta (any of them may be nullptr). With
//        training=true the gradient also flows through the batch mean and variance:
//          xhat = (x - mean) * invstd
//          dgamma += sum(dy * xhat)       dbeta += sum(dy)
//          dx += gamma * invstd * (dy - sum(dy)/M - xhat * sum(dy * xhat)/M)
//        with training=false (running statistics are constants) dx += gamma * invstd * dy.
//
// ops::ref:: is the plain per-channel loop. The ops:: versions work on (n, c) planes in
// parallel (OpenMP, static): each plane's sums are taken in double with 8 fixed lanes (a loop
// the compiler vectorises), then added per channel in plane order n = 0..N-1 -- so results do
// not depend on the thread count. Statistics are taken about a shift (the channel's first
// value), which keeps the one-pass variance accurate when |mean| >> std.
//
// Sync-BN (data-parallel training over several processes, each with a part of the batch): the
// statistics and backward's two channel sums are those of the whole batch. With a BnSync,
//   ops::batchnorm_stats_synced(x, N, C, HW, sync, mean, var);    // returns the whole batch's M
// combines every process's (M, mean, var) in process order (Chan et al.'s pairwise update:
// mean = sum M_r mean_r / M, var = sum M_r (var_r + (mean_r - mean)^2) / M), and backward,
// given the same BnSync, adds every process's sum(dy) and sum(dy * xhat) (in process order)
// before forming dx. dgamma and dbeta stay this process's own sums: the gradient sum over the
// processes that follows adds them up.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "elementwise.hpp"

namespace yolite::ops {

// The other processes of a data-parallel job, as batch norm sees them: gather(v) returns every
// process's v, concatenated in process order, the same on each (train/trainer.hpp makes one
// from a dist::Comm). A null BnSync* everywhere below: this process's batch alone.
struct BnSync {
  std::function<std::vector<double>(const std::vector<double>&)> gather;
};

namespace ref {

template <class T>
void batchnorm_stats(const T* x, int N, int C, int64_t HW, T* mean, T* var) {
  const double M = double(N) * double(HW);
  for (int c = 0; c < C; ++c) {
    double s = 0;
    for (int n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) s += x[(int64_t(n) * C + c) * HW + i];
    const double mu = s / M;
    double q = 0;
    for (int n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        double d = x[(int64_t(n) * C + c) * HW + i] - mu;
        q += d * d;
      }
    mean[c] = T(mu);
    var[c] = T(q / M);
  }
}

template <class T>
void batchnorm_forward(const T* x, int N, int C, int64_t HW, const T* mean, const T* invstd,
                       const T* gamma, const T* beta, T* y) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int64_t i = 0; i < HW; ++i) {
        int64_t j = (int64_t(n) * C + c) * HW + i;
        y[j] = (x[j] - mean[c]) * invstd[c] * gamma[c] + beta[c];
      }
}

template <class T>
void batchnorm_backward(const T* x, const T* dy, int N, int C, int64_t HW, const T* mean,
                        const T* invstd, const T* gamma, bool training, T* dx, T* dgamma,
                        T* dbeta) {
  const double M = double(N) * double(HW);
  for (int c = 0; c < C; ++c) {
    double sdy = 0, sdyxh = 0;
    for (int n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        int64_t j = (int64_t(n) * C + c) * HW + i;
        sdy += dy[j];
        sdyxh += double(dy[j]) * (double(x[j]) - mean[c]) * invstd[c];
      }
    if (dgamma) dgamma[c] += T(sdyxh);
    if (dbeta) dbeta[c] += T(sdy);
    if (!dx) continue;
    for (int n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i) {
        int64_t j = (int64_t(n) * C + c) * HW + i;
        double g = dy[j];
        if (training) {
          double xh = (double(x[j]) - mean[c]) * invstd[c];
          g = g - sdy / M - xh * sdyxh / M;
        }
        dx[j] += T(double(gamma[c]) * invstd[c] * g);
      }
  }
}

}  // namespace ref

namespace detail {
// Sums of (a[i] - ka) and (a[i] - ka) * (b[i] - kb) over [0, n), in double. The OpenMP simd
// reduction lets the compiler keep one partial sum per vector lane (float -> double widening
// the plain loop would not vectorise); the lane split is fixed at compile time, so the result
// is the same on every run and for every thread count.
template <class T>
void plane_sums(const T* a, double ka, const T* b, double kb, int64_t n, double& s1,
                double& s2) {
  double r1 = 0, r2 = 0;
#pragma omp simd reduction(+ : r1, r2)
  for (int64_t i = 0; i < n; ++i) {
    const double da = double(a[i]) - ka;
    r1 += da;
    r2 += da * (double(b[i]) - kb);
  }
  s1 = r1;
  s2 = r2;
}

// Backward's per-channel step, shared with the fused BN + SiLU (batchnorm_silu.hpp). From the
// per-plane sums s1 = sum(g), s2 = sum(g * (x - mean)) of the incoming gradient g (planes in
// n-major order, added per channel in plane order), adds dgamma += sum(g * xhat) and
// dbeta += sum(g) (when not null) and gives the coefficients of dx += a*g + b*(x - mean) + d.
template <class T>
void backward_coefficients(const std::vector<double>& s1, const std::vector<double>& s2, int N,
                           int C, double M, const T* invstd, const T* gamma, bool training,
                           T* dgamma, T* dbeta, std::vector<T>& ca, std::vector<T>& cb,
                           std::vector<T>& cd, const BnSync* sync = nullptr) {
  // this process's channel sums; dgamma and dbeta take them as they are
  std::vector<double> sg(size_t(C), 0.0), sgxc(size_t(C), 0.0);
  for (int c = 0; c < C; ++c) {
    for (int n = 0; n < N; ++n) {
      sg[size_t(c)] += s1[size_t(n) * C + c];
      sgxc[size_t(c)] += s2[size_t(n) * C + c];
    }
    if (dgamma) dgamma[c] += T(sgxc[size_t(c)] * double(invstd[c]));
    if (dbeta) dbeta[c] += T(sg[size_t(c)]);
  }
  if (sync && training) {  // the whole batch's sums, for dx
    std::vector<double> mine(1 + 2 * size_t(C));
    mine[0] = M;
    std::copy(sg.begin(), sg.end(), mine.begin() + 1);
    std::copy(sgxc.begin(), sgxc.end(), mine.begin() + 1 + C);
    const std::vector<double> all = sync->gather(mine);
    const size_t per = mine.size(), ranks = all.size() / per;
    M = 0;
    std::fill(sg.begin(), sg.end(), 0.0);
    std::fill(sgxc.begin(), sgxc.end(), 0.0);
    for (size_t r = 0; r < ranks; ++r) {
      const double* v = all.data() + r * per;
      M += v[0];
      for (int c = 0; c < C; ++c) sg[size_t(c)] += v[1 + c], sgxc[size_t(c)] += v[1 + C + c];
    }
  }
  for (int c = 0; c < C; ++c) {
    const double is = invstd[c];
    const double sgxh = sgxc[size_t(c)] * is;
    const double k = double(gamma[c]) * is;
    ca[size_t(c)] = T(k);
    cb[size_t(c)] = training ? T(-k * is * sgxh / M) : T(0);
    cd[size_t(c)] = training ? T(-k * sg[size_t(c)] / M) : T(0);
  }
}

// Mean and BIASED variance per channel, in double (batchnorm_stats rounds them to T).
template <class T>
void channel_moments(const T* x, int N, int C, int64_t HW, std::vector<double>& mean, std::vector<double>& var) {
  const double M = double(N) * double(HW);
  mean.assign(size_t(C), 0.0);
  var.assign(size_t(C), 0.0);
  if (N == 0 || HW == 0) return;
  std::vector<double> s1(size_t(N) * C), s2(size_t(N) * C);
  for_planes(int64_t(N) * C, HW, [&](int64_t p) {
    const double shift = x[(p % C) * HW];  // first value of the channel (image 0)
    plane_sums(x + p * HW, shift, x + p * HW, shift, HW, s1[p], s2[p]);
  });
  for (int c = 0; c < C; ++c) {
    double a = 0, b = 0;
    for (int n = 0; n < N; ++n) {
      a += s1[size_t(n) * C + c];
      b += s2[size_t(n) * C + c];
    }
    const double d = a / M;
    mean[size_t(c)] = double(x[int64_t(c) * HW]) + d;
    var[size_t(c)] = std::max(0.0, b / M - d * d);
  }
}
}  // namespace detail

template <class T>
void batchnorm_stats(const T* x, int N, int C, int64_t HW, T* mean, T* var) {
  std::vector<double> m, v;
  detail::channel_moments(x, N, C, HW, m, v);
  for (int c = 0; c < C; ++c) mean[c] = T(m[size_t(c)]), var[c] = T(v[size_t(c)]);
}

// The statistics of the whole batch, this process holding N of its images (N may be 0):
// every process's moments combined in process order. Returns the whole batch's M.
template <class T>
double batchnorm_stats_synced(const T* x, int N, int C, int64_t HW, const BnSync& sync, T* mean, T* var) {
  std::vector<double> m, v;
  detail::channel_moments(x, N, C, HW, m, v);
  std::vector<double> mine(1 + 2 * size_t(C));
  mine[0] = double(N) * double(HW);
  std::copy(m.begin(), m.end(), mine.begin() + 1);
  std::copy(v.begin(), v.end(), mine.begin() + 1 + C);
  const std::vector<double> all = sync.gather(mine);
  const size_t per = mine.size(), ranks = all.size() / per;
  double M = 0;
  for (size_t r = 0; r < ranks; ++r) M += all[r * per];
  for (int c = 0; c < C; ++c) {
    double mu = 0, q = 0;
    if (M > 0) {
      for (size_t r = 0; r < ranks; ++r) mu += all[r * per] * all[r * per + 1 + size_t(c)];
      mu /= M;
      for (size_t r = 0; r < ranks; ++r) {
        const double* p = all.data() + r * per;
        const double dm = p[1 + c] - mu;
        q += p[0] * (p[1 + C + c] + dm * dm);
      }
      q /= M;
    }
    mean[c] = T(mu), var[c] = T(q);
  }
  return M;
}

namespace detail {
// y = act((x - mean[c]) * invstd[c] * gamma[c] + beta[c]) over (n, c) planes in parallel: the
// forward of batch norm (act = identity) and of the fused BN + SiLU (batchnorm_silu.hpp).
template <class T, class Act>
void normalize_planes(const T* x, int N, int C, int64_t HW, const T* mean, const T* invstd,
                      const T* gamma, const T* beta, T* y, Act act) {
  for_planes(int64_t(N) * C, HW, [&](int64_t p) {
    const int c = int(p % C);
    const T a = invstd[c] * gamma[c], m = mean[c], b = beta[c];
    const T* xp = x + p * HW;
    T* yp = y + p * HW;
    for (int64_t i = 0; i < HW; ++i) yp[i] = act((xp[i] - m) * a + b);
  });
}
}  // namespace detail

template <class T>
void batchnorm_forward(const T* x, int N, int C, int64_t HW, const T* mean, const T* invstd,
                       const T* gamma, const T* beta, T* y) {
  detail::normalize_planes(x, N, C, HW, mean, invstd, gamma, beta, y, [](T z) { return z; });
}

template <class T>
void batchnorm_backward(const T* x, const T* dy, int N, int C, int64_t HW, const T* mean,
                        const T* invstd, const T* gamma, bool training, T* dx, T* dgamma,
                        T* dbeta, const BnSync* sync = nullptr) {
  const double M = double(N) * double(HW);
  // pass 1: per plane sum(dy) and sum(dy * (x - mean))
  std::vector<double> s1(size_t(N) * C), s2(size_t(N) * C);
  for_planes(int64_t(N) * C, HW, [&](int64_t p) {
    detail::plane_sums(dy + p * HW, 0.0, x + p * HW, double(mean[p % C]), HW, s1[p], s2[p]);
  });
  // per channel: dx += a*dy + b*(x - mean) + d
  std::vector<T> ca(static_cast<size_t>(C)), cb(static_cast<size_t>(C)), cd(static_cast<size_t>(C));
  detail::backward_coefficients(s1, s2, N, C, M, invstd, gamma, training, dgamma, dbeta, ca, cb, cd, sync);
  if (!dx) return;
  // pass 2
  for_planes(int64_t(N) * C, HW, [&](int64_t p) {
    const int c = int(p % C);
    const T a = ca[c], b = cb[c], d = cd[c], m = mean[c];
    const T* xp = x + p * HW;
    const T* gp = dy + p * HW;
    T* dp = dx + p * HW;
    if (training)
      for (int64_t i = 0; i < HW; ++i) dp[i] += a * gp[i] + b * (xp[i] - m) + d;
    else
      for (int64_t i = 0; i < HW; ++i) dp[i] += a * gp[i];
  });
}

}  // namespace yolite::ops
