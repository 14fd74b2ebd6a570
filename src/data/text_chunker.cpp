#include "data/text_chunker.h"

#include <algorithm>

#include "common/utf8.h"

namespace llmtune::data {

namespace {
bool is_blank(std::string_view s) {
    return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}
}  // namespace

TextChunker::TextChunker(const std::string& path, size_t chunk_bytes, size_t max_line_bytes)
    : lines_(path, max_line_bytes), chunk_bytes_(std::max<size_t>(chunk_bytes, 16)) {}

// Emits pending_[0, cut) as a record (unless blank) and keeps the rest. Returns true when a
// record was produced.
bool TextChunker::emit(size_t cut, SourceRecord& out) {
    std::string chunk = pending_.substr(0, cut);
    uint64_t line = pending_line_;
    pending_line_ += static_cast<uint64_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    pending_.erase(0, cut);
    last_break_ = 0;
    // Trim, keeping the line number of the first non-blank line.
    size_t b = 0;
    while (b < chunk.size() &&
           (chunk[b] == ' ' || chunk[b] == '\t' || chunk[b] == '\r' || chunk[b] == '\n')) {
        if (chunk[b] == '\n') ++line;
        ++b;
    }
    size_t e = chunk.find_last_not_of(" \t\r\n");
    if (e == std::string::npos || e < b) return false;
    chunk = chunk.substr(b, e + 1 - b);
    out.location.clear();
    out.field_columns.clear();
    out.line = line;
    out.text = make_snippet(chunk, 200);
    out.error.reset();
    size_t bad = find_invalid_utf8(chunk);
    if (bad != std::string::npos) {
        RecordError err;
        err.line =
            line + static_cast<uint64_t>(std::count(chunk.begin(), chunk.begin() + bad, '\n'));
        err.path = "$.text";
        err.code = "invalid_utf8";
        err.message = "invalid UTF-8 in the text; save the file as UTF-8";
        err.snippet = make_snippet(std::string_view(chunk).substr(bad > 40 ? bad - 40 : 0), 80);
        out.value = json();
        out.error = std::move(err);
        return true;
    }
    out.value = json{{"text", std::move(chunk)}};
    return true;
}

bool TextChunker::next(SourceRecord& out) {
    while (true) {
        if (pending_.size() >= chunk_bytes_) {
            size_t cut = last_break_;
            if (cut == 0) {
                // No paragraph break: the last whitespace within the limit, else a character
                // boundary at the limit.
                size_t ws = pending_.find_last_of(" \t\n", chunk_bytes_);
                if (ws != std::string::npos && ws > 0)
                    cut = ws + 1;
                else {
                    cut = chunk_bytes_;
                    while (cut > 0 && (static_cast<unsigned char>(pending_[cut]) & 0xC0) == 0x80)
                        --cut;
                    if (cut == 0) cut = chunk_bytes_;
                }
            }
            if (emit(cut, out)) return true;
            continue;
        }
        if (eof_) {
            if (pending_.empty()) return false;
            if (emit(pending_.size(), out)) return true;
            return false;
        }
        if (!lines_.next(line_)) {
            eof_ = true;
            continue;
        }
        if (lines_.line_number() == 1 && line_.compare(0, 3, "\xEF\xBB\xBF") == 0)
            line_.erase(0, 3);
        if (is_blank(line_)) {
            if (!pending_.empty() && pending_.size() <= chunk_bytes_) last_break_ = pending_.size();
            pending_ += '\n';
            continue;
        }
        pending_ += line_;
        pending_ += '\n';
    }
}

}  // namespace llmtune::data
