// dist/nccl.hpp: device-buffer sums over the ranks of a job (compiled where NCCL is installed).
// One GPU here, so one rank (NCCL refuses two ranks on one device): the sum of one rank is its
// own buffer, the host collectives go to the bootstrap communicator; without a GPU, creating
// the communicator fails with a clear error instead of crashing.
#include <doctest/doctest.h>

#ifdef YOLITE_HAVE_NCCL
#include <vector>

#include <yolite/core/cuda/device.hpp>
#include <yolite/dist/nccl.hpp>

using namespace yolite;

TEST_SUITE("cuda_host") {
  TEST_CASE("NCCL without a usable GPU: a clear error") {
    if (cuda::gpu_available()) return;
    dist::SelfComm self;
    CHECK_THROWS_WITH_AS(dist::NcclComm{self}, doctest::Contains("NCCL: "), Error);
  }
}

TEST_SUITE("cuda") {
  TEST_CASE("NCCL, one rank: the device sum is the buffer itself; host collectives pass through") {
    dist::SelfComm self;
    dist::NcclComm gpus(self);
    CHECK(gpus.rank() == 0);
    CHECK(gpus.size() == 1);
    CHECK(gpus.allgather("x") == std::vector<std::string>{"x"});
    std::vector<float> host(1000);
    for (size_t i = 0; i < host.size(); ++i) host[i] = float(i) * 0.25f - 7.f;
    float* dev = nullptr;
    YOLITE_CUDA_CHECK(cudaMalloc(&dev, host.size() * sizeof(float)));
    YOLITE_CUDA_CHECK(cudaMemcpy(dev, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
    gpus.allreduce_sum_device(dev, host.size());
    std::vector<float> back(host.size());
    YOLITE_CUDA_CHECK(cudaMemcpy(back.data(), dev, back.size() * sizeof(float), cudaMemcpyDeviceToHost));
    YOLITE_CUDA_CHECK(cudaFree(dev));
    CHECK(back == host);
  }
}
#endif
