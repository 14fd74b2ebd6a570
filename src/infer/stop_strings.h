// Stop strings over streamed text.
//
// Text arrives in pieces; a stop string may straddle pieces. StopMatcher releases text only
// once it cannot be the start of a stop string, and cuts the output just before the first
// stop string, which is not included (as the OpenAI API does).
#pragma once

#include <string>
#include <vector>

namespace llmtune::infer {

class StopMatcher {
  public:
    explicit StopMatcher(std::vector<std::string> stops);

    // Adds text; returns what may be emitted now. After a stop string, stopped() is true and
    // later calls return nothing.
    std::string push(const std::string& text);
    // The held-back text at the end of generation (when no stop string completed).
    std::string flush();
    bool stopped() const { return stopped_; }

  private:
    std::vector<std::string> stops_;
    std::string pending_;
    bool stopped_ = false;
};

}  // namespace llmtune::infer
