// Helpers for the data-parallel tests: free loopback ports and rank environments.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "dist/rank_env.h"

namespace llmtune::dist::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error("bind to port 0 failed");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

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
