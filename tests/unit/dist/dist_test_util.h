// Helpers for the data-parallel tests: free loopback ports and rank environments.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "dist/launcher.h"
#include "dist/rank_env.h"

namespace llmtune::dist::testing {

inline int free_port() { return free_loopback_port(); }

inline RankEnv local_env(int rank, int world, int port) {
    RankEnv e;
    e.rank = rank;
    e.world_size = world;
    e.local_rank = rank;
    e.local_world_size = world;
    e.master_addr = "127.0.0.1";
    e.master_port = port;
    return e;
}

}  // namespace llmtune::dist::testing
