#include "data/csv_reader.h"

#include "common/error.h"

namespace llmtune::data {

CsvReader::CsvReader(const std::string& path, char delimiter, size_t max_row_bytes)
    : in_(std::make_unique<InputFile>(path)),
      delimiter_(delimiter),
      max_row_bytes_(max_row_bytes) {}

int CsvReader::take() {
    int c = in_->get();
    if (c == '\n') ++line_;
    return c;
}

void CsvReader::skip_rest_of_line() {
    while (true) {
        int c = take();
        if (c < 0 || c == '\n') return;
    }
}

bool CsvReader::next(CsvRow& row) {
    if (!started_) {
        started_ = true;
        if (in_->buffered().size() < 3) in_->refill();
        if (in_->buffered().substr(0, 3) == "\xEF\xBB\xBF") in_->consume(3);
    }
    row.fields.clear();
    row.error.clear();
    // Skip blank lines between rows.
    while (true) {
        int c = in_->peek();
        if (c < 0) return false;
        if (c == '\n') {
            take();
            continue;
        }
        if (c == '\r') {
            take();
            if (in_->peek() == '\n') take();
            continue;
        }
        break;
    }
    row.line = line_;
    size_t row_bytes = 0;
    auto col = [&] {
        return std::to_string(row.fields.size());
    };  // 1-based index of the current field
    auto grow = [&](std::string& f, char ch) {
        f.push_back(ch);
        if (++row_bytes > max_row_bytes_)
            throw_invalid(in_->path() + ": the row starting at line " + std::to_string(row.line) +
                              " is longer than " + format_bytes(max_row_bytes_),
                          "check for an unbalanced quote before that line; a quoted field runs "
                          "until its closing quote, across lines");
    };
    while (true) {
        row.fields.emplace_back();
        std::string& f = row.fields.back();
        int c = in_->peek();
        if (c == '"') {
            take();
            uint64_t field_line = line_;
            while (true) {
                int ch = take();
                if (ch < 0)
                    throw_invalid(in_->path() + ": the quoted field starting at line " +
                                      std::to_string(field_line) + " (column " + col() +
                                      ") is never closed",
                                  "add the closing quote; a quote inside a quoted field is written "
                                  "twice (\"\")");
                if (ch == '"') {
                    if (in_->peek() == '"') {
                        take();
                        grow(f, '"');
                        continue;
                    }
                    break;
                }
                grow(f, static_cast<char>(ch));
            }
            int after = in_->peek();
            if (after == delimiter_) {
                take();
                continue;
            }
            if (after < 0) return true;
            if (after == '\n') {
                take();
                return true;
            }
            if (after == '\r') {
                take();
                if (in_->peek() == '\n') {
                    take();
                    return true;
                }
            }
            row.error = "text after the closing quote of column " + col() +
                        "; a quote inside a field must be doubled (\"\") and the field quoted";
            skip_rest_of_line();
            return true;
        }
        // An unquoted field runs to the delimiter or the end of the line.
        while (true) {
            int ch = in_->peek();
            if (ch < 0) return true;
            if (ch == delimiter_) {
                take();
                break;
            }
            if (ch == '\n') {
                take();
                return true;
            }
            if (ch == '\r') {
                take();
                if (in_->peek() == '\n') {
                    take();
                    return true;
                }
                grow(f, '\r');
                continue;
            }
            if (ch == '"') {
                row.error = "a quote inside the unquoted column " + col() +
                            "; quote the whole field and double the quote (\"\")";
                skip_rest_of_line();
                return true;
            }
            grow(f, static_cast<char>(take()));
        }
    }
}

}  // namespace llmtune::data
