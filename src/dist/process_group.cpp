// Rendezvous over c10d::TCPStore and creation of the Gloo/NCCL process group.
#include "dist/process_group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef MM_WITH_CUDA
#include <torch/cuda.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "core/check.h"
#include "core/logging.h"
#include "core/torch_compat.h"

namespace mm::dist {

Group::Group(DistEnv env, std::string backend, c10::intrusive_ptr<c10d::Store> store,
             c10::intrusive_ptr<c10d::ProcessGroup> pg, std::chrono::milliseconds timeout)
    : env_(std::move(env)),
      backend_(std::move(backend)),
      store_(std::move(store)),
      pg_(std::move(pg)),
      timeout_(timeout) {}

void Group::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& collective) const {
  try {
    work->wait(timeout_);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);  // c10 appends a backtrace
    MM_FAIL("dist: {} failed on rank {} of {} ({} backend, timeout {} s): {}", collective, env_.rank, env_.world_size,
            backend_, timeout_.count() / 1000.0, msg);
  }
}

std::string resolve_backend(const std::string& requested) {
  bool gpu = false;
#ifdef MM_WITH_CUDA
  gpu = torch::cuda::is_available();
#endif
  if (requested == "auto") return gpu ? "nccl" : "gloo";
  if (requested == "gloo") return requested;
  MM_CHECK(requested == "nccl", "dist.backend '{}': expected auto | gloo | nccl", requested);
  MM_CHECK(gpu, "dist.backend 'nccl' needs a CUDA build of mmtrain and a visible GPU; use gloo on CPUs");
  return requested;
}

namespace {

// Gloo binds to an interface: GLOO_SOCKET_IFNAME if set, loopback for single-host runs,
// otherwise this host's resolved name (falling back to loopback).
std::shared_ptr<::gloo::transport::Device> gloo_device(const DistEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  const std::string& a = env.master_addr;
  if (a == "127.0.0.1" || a == "localhost" || a == "::1" || env.local_world_size == env.world_size)
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

#if MM_TORCH2
// LibTorch 2.x: ProcessGroupGloo/NCCL are c10d::Backend objects that a c10d::ProcessGroup dispatches
// to by device type (what torch.distributed.init_process_group builds); 1.13's are ProcessGroups.
// 2.0-2.5 take ProcessGroup::Options(name, timeout); 2.6 removed them for setDefaultBackend.
using PgBackend = c10d::ProcessGroup::BackendType;
c10::intrusive_ptr<c10d::ProcessGroup> new_group(const c10::intrusive_ptr<c10d::Store>& store, const DistEnv& env,
                                                 const std::string& name, std::chrono::milliseconds timeout) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 6)
  auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, env.rank, env.world_size);
  pg->setDefaultBackend(name == "nccl" ? PgBackend::NCCL : PgBackend::GLOO);
  (void)timeout;  // each backend's Options carry it
#else
  auto pg = c10::make_intrusive<c10d::ProcessGroup>(store, env.rank, env.world_size,
                                                    c10::make_intrusive<c10d::ProcessGroup::Options>(name, timeout));
#endif
  return pg;
}
#endif

}  // namespace

Group init_process_group(const DistEnv& env, const DistConfig& cfg) {
  const std::string backend = resolve_backend(cfg.backend);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg.timeout_s * 1000));
  if (env.world_size == 1) {
    DistEnv one = env;
    return Group(one, backend, {}, {}, timeout);
  }
  auto log = mm::log::get("dist");
  log->info("rendezvous at {}:{} as rank {} of {} ({} launcher, {} backend)", env.master_addr, env.master_port,
            env.rank, env.world_size, env.launcher, backend);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = static_cast<size_t>(env.world_size);
  so.waitWorkers = true;
  so.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    MM_FAIL("dist: rendezvous at {}:{} failed on rank {} of {} (timeout {} s): {}", env.master_addr, env.master_port,
            env.rank, env.world_size, cfg.timeout_s, msg);
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("mm/" + backend, store);
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  auto make_gloo = [&](const c10::intrusive_ptr<c10d::Store>& st) {
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    opts->devices.push_back(gloo_device(env));
    opts->threads = 2;
    try {
      return c10::make_intrusive<c10d::ProcessGroupGloo>(st, env.rank, env.world_size, opts);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      if (size_t nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      MM_FAIL("dist: connecting the gloo group failed on rank {} of {}: {}", env.rank, env.world_size, msg);
    }
  };
#ifdef MM_WITH_CUDA
  if (backend == "nccl") {
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world_size, opts);
#if MM_TORCH2
    // CUDA tensors go to NCCL; the scalar collectives' CPU tensors (collectives.cpp) to a Gloo
    // backend beside it, as torch.distributed does for "cpu:gloo,cuda:nccl".
    pg = new_group(prefixed, env, "nccl", timeout);
    pg->setBackend(c10::DeviceType::CUDA, PgBackend::NCCL, nccl);
    pg->setBackend(c10::DeviceType::CPU, PgBackend::GLOO,
                   make_gloo(c10::make_intrusive<c10d::PrefixStore>("cpu", prefixed)));
#else
    pg = nccl;
#endif
  }
#endif
  if (backend == "gloo") {
#if MM_TORCH2
    auto gloo = make_gloo(prefixed);
    pg = new_group(prefixed, env, "gloo", timeout);
    pg->setBackend(c10::DeviceType::CPU, PgBackend::GLOO, gloo);
#ifdef MM_WITH_CUDA
    pg->setBackend(c10::DeviceType::CUDA, PgBackend::GLOO, gloo);
#endif
#else
    pg = make_gloo(prefixed);
#endif
  }
  MM_CHECK(pg.defined(), "dist: backend {} is not available in this build", backend);
  return Group(env, backend, store, pg, timeout);
}

}  // namespace mm::dist
