// An in-process `llmtune serve` on a loopback port (Service + ApiServer over a temp data dir)
// and a raw HTTP/1.1 client, which sends the request path exactly as given (no normalising or
// percent-encoding), as an attacker's client would.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "server/api_server.h"
#include "service/log.h"
#include "service/service.h"
#include "support/test_support.h"

namespace llmtune::test {

struct HttpReply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

inline HttpReply raw_get(int port, const std::string& path, const std::string& extra_headers = "",
                         const std::string& method = "GET") {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    HttpReply r;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return r;
    }
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                      extra_headers + "\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string raw;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<size_t>(n));
    ::close(fd);
    size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos) return r;
    std::string head = raw.substr(0, end);
    r.body = raw.substr(end + 4);
    size_t sp = head.find(' ');
    r.status = std::stoi(head.substr(sp + 1, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
        size_t next = head.find("\r\n", pos + 2);
        std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            r.headers[name] = value;
        }
        pos = next;
    }
    return r;
}

// Service + ApiServer on 127.0.0.1:<free port>, served from a thread until destroyed.
class TestServer {
  public:
    explicit TestServer(const std::string& data_dir, const std::string& models_dir = "",
                        const std::string& ui_dir = "") {
        service::set_log_level(service::LogLevel::warn);
        service::ServiceConfig sc;
        sc.data_dir = data_dir;
        sc.models_dir = models_dir;
        svc_ = std::make_unique<service::Service>(sc);
        server::ServerConfig cfg;
        cfg.port = 0;
        cfg.http_threads = 4;
        cfg.data_dir = data_dir;
        cfg.models_dir = models_dir;
        cfg.ui_dir = ui_dir;
        api_ = std::make_unique<server::ApiServer>(*svc_, cfg);
        port_ = api_->bind();
        thread_ = std::thread([this] { api_->run(); });
        // A reply means the accept loop runs, so stop() in the destructor reaches it.
        while (raw_get(port_, "/healthz").status != 200) std::this_thread::yield();
    }
    ~TestServer() {
        api_->stop();
        thread_.join();
        svc_->shutdown();
    }
    int port() const { return port_; }
    service::Service& svc() { return *svc_; }
    std::string auth() const { return "Authorization: Bearer " + svc_->admin_key().key + "\r\n"; }

  private:
    std::unique_ptr<service::Service> svc_;
    std::unique_ptr<server::ApiServer> api_;
    int port_ = 0;
    std::thread thread_;
};

}  // namespace llmtune::test
