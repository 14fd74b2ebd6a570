// Record shapes: which of the common dataset layouts a JSON record follows.
//
// Each shape has signature keys; a record fits every shape whose keys it has:
//   openai_chat        messages
//   prompt_completion  prompt, completion
//   alpaca             instruction, output (input and system optional)
//   sharegpt           conversations
//   text               text
//   preference         prompt, chosen, rejected
//   openai_preference  input, preferred_output, non_preferred_output
// ShapeDetector picks one shape for a file and refuses to guess: a record that fits two
// shapes, or a file mixing shapes, is an error naming both and how to choose (--format).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json_file.h"

namespace llmtune::data {

enum class Shape {
    openai_chat,
    prompt_completion,
    alpaca,
    sharegpt,
    text,
    preference,
    openai_preference
};

constexpr Shape kAllShapes[] = {
    Shape::openai_chat, Shape::prompt_completion, Shape::alpaca,           Shape::sharegpt,
    Shape::text,        Shape::preference,        Shape::openai_preference};

const char* shape_name(Shape s);
// e.g. "OpenAI chat {\"messages\": [...]}"
std::string shape_description(Shape s);
// "openai_chat, prompt_completion, ..."
std::string shape_names();
// Parses a --format value (a shape name; "chat" is openai_chat). invalid_input otherwise.
Shape parse_shape(const std::string& name);

// The shapes whose signature keys `record` has.
std::vector<Shape> matching_shapes(const json& record);

// Decides the file's shape record by record (first fixed by the first record that fits a
// shape). check() throws invalid_input for an ambiguous record or a mixture, and returns
// false for a record that fits no shape (an error of that record).
class ShapeDetector {
  public:
    explicit ShapeDetector(std::string path) : path_(std::move(path)) {}
    bool check(const json& record, uint64_t line);
    // The same for a record known to fit exactly one shape.
    void check_shape(Shape shape, uint64_t line);
    std::optional<Shape> shape() const { return shape_; }

  private:
    std::string path_;
    std::optional<Shape> shape_;
    uint64_t shape_line_ = 0, shape_records_ = 0;
};

}  // namespace llmtune::data
