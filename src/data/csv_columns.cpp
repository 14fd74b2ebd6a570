#include "data/csv_columns.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/utf8.h"

namespace llmtune::data {

namespace {

const char* kFields[] = {"prompt", "completion", "instruction", "input",   "output",
                         "text",   "system",     "chosen",      "rejected"};

std::string lower_trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    std::string out = b == std::string::npos ? "" : s.substr(b, e + 1 - b);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string header_list(const std::vector<std::string>& header) {
    std::string s;
    for (const auto& h : header)
        s += (s.empty() ? "" : ", ") + ("\"" + h + "\"");
    return s;
}

const char* kColumnsHint =
    "name the columns with --columns, e.g. --columns prompt=question,completion=answer (fields: "
    "prompt, completion, instruction, input, output, text, system, chosen, rejected)";

void fill_unused(ColumnMapping& m, const std::vector<std::string>& header) {
    for (size_t i = 0; i < header.size(); ++i) {
        bool used = false;
        for (const auto& f : m.fields)
            used = used || f.second == i;
        if (!used) m.unused.push_back(header[i]);
    }
}

}  // namespace

std::string ColumnMapping::describe(const std::vector<std::string>& header) const {
    std::string s;
    for (const auto& [field, col] : fields)
        s += (s.empty() ? "" : ",") + field + "=" + header[col];
    return s;
}

ColumnMapping parse_column_spec(const std::string& spec, const std::vector<std::string>& header,
                                const std::string& path) {
    ColumnMapping m;
    std::set<std::string> seen;
    size_t start = 0;
    while (start <= spec.size()) {
        size_t comma = spec.find(',', start);
        std::string item =
            spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? spec.size() + 1 : comma + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        if (eq == std::string::npos)
            throw_invalid("--columns: \"" + item + "\" is not field=column", kColumnsHint);
        std::string field = lower_trim(item.substr(0, eq)), column = item.substr(eq + 1);
        if (std::find(std::begin(kFields), std::end(kFields), field) == std::end(kFields))
            throw_invalid("--columns: unknown field \"" + field + "\"", kColumnsHint);
        if (!seen.insert(field).second)
            throw_invalid("--columns: the field \"" + field + "\" is given twice", kColumnsHint);
        auto it = std::find(header.begin(), header.end(), column);
        if (it == header.end()) {
            // Accept a case or whitespace difference only when it is unique.
            size_t hits = 0, at = 0;
            for (size_t i = 0; i < header.size(); ++i)
                if (lower_trim(header[i]) == lower_trim(column)) ++hits, at = i;
            if (hits != 1)
                throw_invalid("--columns: " + path + " has no column \"" + column +
                                  "\" (its columns: " + header_list(header) + ")",
                              kColumnsHint);
            m.fields.emplace_back(field, at);
        } else {
            m.fields.emplace_back(field, static_cast<size_t>(it - header.begin()));
        }
    }
    if (m.fields.empty()) throw_invalid("--columns is empty", kColumnsHint);
    fill_unused(m, header);
    return m;
}

ColumnMapping detect_columns(const std::vector<std::string>& header, const std::string& path) {
    std::map<std::string, size_t> by_name;
    for (size_t i = 0; i < header.size(); ++i) {
        std::string n = lower_trim(header[i]);
        if (by_name.count(n))
            throw_invalid(path + ": the header names the column \"" + header[i] + "\" twice",
                          kColumnsHint);
        by_name[n] = i;
    }
    auto col = [&](std::initializer_list<const char*> names) -> std::optional<size_t> {
        for (const char* n : names) {
            auto it = by_name.find(n);
            if (it != by_name.end()) return it->second;
        }
        return std::nullopt;
    };
    auto system = col({"system", "system_prompt"});
    auto prompt = col({"prompt", "question"});
    auto completion = col({"completion", "answer", "response"});
    struct Candidate {
        std::string shape;
        ColumnMapping m;
    };
    std::vector<Candidate> found;
    if (auto ins = col({"instruction"}); ins && col({"output"})) {
        ColumnMapping m;
        m.fields = {{"instruction", *ins}, {"output", *col({"output"})}};
        if (auto in = col({"input"})) m.fields.emplace_back("input", *in);
        found.push_back({"Alpaca (instruction, input, output)", m});
    }
    if (prompt && col({"chosen"}) && col({"rejected"})) {
        ColumnMapping m;
        m.fields = {
            {"prompt", *prompt}, {"chosen", *col({"chosen"})}, {"rejected", *col({"rejected"})}};
        found.push_back({"preference (prompt, chosen, rejected)", m});
    }
    if (prompt && completion) {
        ColumnMapping m;
        m.fields = {{"prompt", *prompt}, {"completion", *completion}};
        found.push_back(
            {"prompt/completion (" + header[*prompt] + ", " + header[*completion] + ")", m});
    } else if (!col({"instruction"}) && col({"input"}) && col({"output"})) {
        ColumnMapping m;
        m.fields = {{"prompt", *col({"input"})}, {"completion", *col({"output"})}};
        found.push_back({"prompt/completion (input, output)", m});
    }
    if (auto text = col({"text"})) {
        ColumnMapping m;
        m.fields = {{"text", *text}};
        found.push_back({"text (text)", m});
    }
    if (found.empty())
        throw_invalid(path + ": cannot tell what the columns " + header_list(header) + " hold",
                      kColumnsHint);
    if (found.size() > 1)
        throw_invalid(
            path + ": the columns fit two shapes: " + found[0].shape + " and " + found[1].shape,
            kColumnsHint);
    ColumnMapping m = found[0].m;
    if (system && found[0].shape.rfind("text", 0) != 0) m.fields.emplace_back("system", *system);
    fill_unused(m, header);
    return m;
}

CsvRecordSource::CsvRecordSource(const std::string& path, char delimiter,
                                 const std::string& columns, size_t max_row_bytes)
    : reader_(path, delimiter, max_row_bytes) {
    CsvRow head;
    if (!reader_.next(head))
        throw_invalid(path + ": the file is empty",
                      "a CSV file needs a header row naming its columns");
    if (!head.error.empty())
        throw_invalid(path + ": line " + std::to_string(head.line) + ": " + head.error);
    for (const auto& h : head.fields)
        if (!is_valid_utf8(h))
            throw_invalid(path + ": the header row holds invalid UTF-8", "save the file as UTF-8");
    header_ = head.fields;
    mapping_ =
        columns.empty() ? detect_columns(header_, path) : parse_column_spec(columns, header_, path);
}

bool CsvRecordSource::next(SourceRecord& out) {
    if (!reader_.next(row_)) return false;
    out.line = row_.line;
    out.location.clear();
    out.error.reset();
    out.value = json();
    out.field_columns.clear();
    std::string joined;
    for (size_t i = 0; i < row_.fields.size(); ++i)
        joined += (i ? "," : "") + row_.fields[i];
    out.text = make_snippet(joined, 200);
    auto fail = [&](std::string code, std::string path, std::string message) {
        out.error = RecordError{row_.line, std::move(path), std::move(code), std::move(message),
                                make_snippet(joined, 80)};
    };
    if (!row_.error.empty()) {
        fail("invalid_csv", "", row_.error);
        return true;
    }
    if (row_.fields.size() != header_.size()) {
        fail("ragged_row", "",
             "the row has " + std::to_string(row_.fields.size()) + " fields but the header has " +
                 std::to_string(header_.size()));
        return true;
    }
    json obj = json::object();
    for (const auto& [field, col] : mapping_.fields) {
        const std::string& v = row_.fields[col];
        out.field_columns.emplace_back(field, header_[col]);
        if (!is_valid_utf8(v)) {
            fail("invalid_utf8", "column \"" + header_[col] + "\"",
                 "invalid UTF-8; save the file as UTF-8");
            return true;
        }
        // An empty optional cell means "none", not an empty message.
        if ((field == "system" || field == "input") && v.empty()) continue;
        obj[field] = v;
    }
    out.value = std::move(obj);
    return true;
}

}  // namespace llmtune::data
