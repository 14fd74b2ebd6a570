#include "data/line_reader.h"

#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace llmtune::data {

std::string format_bytes(uint64_t n) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[64];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

LineReader::LineReader(const std::string& path, size_t max_line_bytes)
    : in_(std::make_unique<InputFile>(path)), max_line_bytes_(max_line_bytes) {}

bool LineReader::next(std::string& line) {
    line.clear();
    bool any = false;
    while (true) {
        std::string_view b = in_->buffered();
        if (b.empty()) {
            if (!in_->refill()) break;
            continue;
        }
        any = true;
        const void* nl = std::memchr(b.data(), '\n', b.size());
        size_t take = nl ? static_cast<const char*>(nl) - b.data() : b.size();
        if (line.size() + take > max_line_bytes_)
            throw_invalid(in_->path() + ": line " + std::to_string(line_ + 1) + " is longer than " +
                              format_bytes(max_line_bytes_),
                          "a record must fit on one line of at most " +
                              format_bytes(max_line_bytes_) +
                              "; check that the file is JSONL (one record per line) and not one "
                              "huge value, or raise the limit with --max-line-mb");
        // A long line jumps straight to the limit's capacity: the allocation is only address
        // space until written, and no doubling copy ever holds two large buffers at once.
        if (line.size() + take > line.capacity() && line.size() + take > (size_t(1) << 20))
            line.reserve(max_line_bytes_);
        line.append(b.data(), take);
        if (nl) {
            in_->consume(take + 1);
            ++line_;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            return true;
        }
        in_->consume(take);
    }
    if (!any && line.empty()) return false;
    ++line_;  // a last line without "\n"
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
}

bool LineReader::next_view(std::string_view& line, size_t& capacity, std::string& scratch,
                           size_t padding) {
    std::string_view b = in_->buffered();
    if (b.empty() && in_->refill()) b = in_->buffered();
    const void* nl = b.empty() ? nullptr : std::memchr(b.data(), '\n', b.size());
    if (nl) {
        size_t take = static_cast<size_t>(static_cast<const char*>(nl) - b.data());
        if (take <= max_line_bytes_ && in_->allocated_from(b.data() + take) >= padding) {
            line = b.substr(0, take);
            capacity = in_->allocated_from(b.data());
            in_->consume(take + 1);
            ++line_;
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            return true;
        }
    }
    if (!next(scratch)) return false;
    if (scratch.capacity() < scratch.size() + padding) scratch.reserve(scratch.size() + padding);
    line = scratch;
    capacity = scratch.capacity();
    return true;
}

}  // namespace llmtune::data
