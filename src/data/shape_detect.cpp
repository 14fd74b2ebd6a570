#include "data/shape_detect.h"

#include "common/error.h"

namespace llmtune::data {

const char* shape_name(Shape s) {
    switch (s) {
        case Shape::openai_chat:
            return "openai_chat";
        case Shape::prompt_completion:
            return "prompt_completion";
        case Shape::alpaca:
            return "alpaca";
        case Shape::sharegpt:
            return "sharegpt";
        case Shape::text:
            return "text";
        case Shape::preference:
            return "preference";
        case Shape::openai_preference:
            return "openai_preference";
    }
    return "openai_chat";
}

std::string shape_description(Shape s) {
    switch (s) {
        case Shape::openai_chat:
            return "OpenAI chat {\"messages\": [...]}";
        case Shape::prompt_completion:
            return "prompt/completion {\"prompt\", \"completion\"}";
        case Shape::alpaca:
            return "Alpaca {\"instruction\", \"input\", \"output\"}";
        case Shape::sharegpt:
            return "ShareGPT {\"conversations\": [{\"from\", \"value\"}]}";
        case Shape::text:
            return "text {\"text\"}";
        case Shape::preference:
            return "preference {\"prompt\", \"chosen\", \"rejected\"}";
        case Shape::openai_preference:
            return "OpenAI preference {\"input\", \"preferred_output\", \"non_preferred_output\"}";
    }
    return "";
}

std::string shape_names() {
    std::string s;
    for (Shape sh : kAllShapes)
        s += (s.empty() ? "" : ", ") + std::string(shape_name(sh));
    return s;
}

Shape parse_shape(const std::string& name) {
    for (Shape sh : kAllShapes)
        if (name == shape_name(sh)) return sh;
    if (name == "chat" || name == "messages" || name == "openai") return Shape::openai_chat;
    throw_invalid("unknown --format '" + name + "'", "use one of: " + shape_names());
}

std::vector<Shape> matching_shapes(const json& r) {
    std::vector<Shape> out;
    if (!r.is_object()) return out;
    auto has = [&](const char* k) { return r.contains(k); };
    if (has("messages")) out.push_back(Shape::openai_chat);
    if (has("prompt") && has("completion")) out.push_back(Shape::prompt_completion);
    if (has("instruction") && has("output")) out.push_back(Shape::alpaca);
    if (has("conversations")) out.push_back(Shape::sharegpt);
    if (has("text")) out.push_back(Shape::text);
    if (has("prompt") && has("chosen") && has("rejected")) out.push_back(Shape::preference);
    if (has("input") && has("preferred_output") && has("non_preferred_output"))
        out.push_back(Shape::openai_preference);
    return out;
}

bool ShapeDetector::check(const json& record, uint64_t line) {
    auto shapes = matching_shapes(record);
    if (shapes.empty()) return false;
    if (shapes.size() > 1)
        throw_invalid(path_ + ": line " + std::to_string(line) + " fits two shapes: " +
                          shape_description(shapes[0]) + " and " + shape_description(shapes[1]),
                      "choose one with --format " + std::string(shape_name(shapes[0])) +
                          " or --format " + shape_name(shapes[1]) +
                          " (keys of the other shape are then reported and dropped)");
    check_shape(shapes[0], line);
    return true;
}

void ShapeDetector::check_shape(Shape shape, uint64_t line) {
    if (!shape_) {
        shape_ = shape;
        shape_line_ = line;
    }
    if (shape != *shape_)
        throw_invalid(
            path_ + ": the file mixes shapes: " + shape_description(*shape_) + " (from line " +
                std::to_string(shape_line_) + ", " + std::to_string(shape_records_) +
                " records so far) and " + shape_description(shape) + " (line " +
                std::to_string(line) + ")",
            "convert each shape in its own file, or choose one with --format " +
                std::string(shape_name(*shape_)) + " or --format " + shape_name(shape) +
                " (records of the other shape are then errors; --skip-invalid drops them)");
    ++shape_records_;
}

}  // namespace llmtune::data
