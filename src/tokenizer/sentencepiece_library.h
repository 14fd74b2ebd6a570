// SpmProcessor: libsentencepiece's SentencePieceProcessor, reached through the module
// libllmtune_sentencepiece.so (sentencepiece_shim.cpp), which is loaded on first use with
// dlopen(RTLD_LOCAL | RTLD_DEEPBIND).
//
// Debian's libsentencepiece exports the symbols of its own protobuf-lite; linked into a process
// that also holds libprotobuf (libtorch does), one copy interposes the other and the process
// crashes before main(). Isolated this way, neither sees the other. (Under a sanitizer runtime,
// which refuses RTLD_DEEPBIND, the module is loaded RTLD_LOCAL only; the sanitizer builds hold
// no libprotobuf.)
//
// The module is looked for, in order, at $LLMTUNE_SENTENCEPIECE_LIBRARY, beside the running
// executable, and where the build wrote it. Not finding or not loading it is an io error.
//
// Thread safety: loading the module is done once (std::call_once); an SpmProcessor is immutable
// and encode() may run on many threads at once, as libsentencepiece allows.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmtune::tokenizer {

class SpmProcessor {
  public:
    enum class PieceType { normal, unknown, control, byte };  // normal: also user-defined, unused

    // Loads a serialized ModelProto. Throws invalid_input "<source>: not a SentencePiece model:
    // <libsentencepiece's reason>", or io when the module cannot be loaded.
    static std::unique_ptr<SpmProcessor> load(std::string_view serialized,
                                              const std::string& source);
    ~SpmProcessor();
    SpmProcessor(const SpmProcessor&) = delete;
    SpmProcessor& operator=(const SpmProcessor&) = delete;

    int piece_size() const;
    // The piece of an id in [0, piece_size()).
    PieceType piece(int id, std::string& out) const;
    // The id of a piece; unk_id() for a string that is no piece.
    int piece_to_id(std::string_view piece) const;
    // -1 when the model has none.
    int unk_id() const { return special_[0]; }
    int bos_id() const { return special_[1]; }
    int eos_id() const { return special_[2]; }
    int pad_id() const { return special_[3]; }

    // Appends the ids of `text`, as spm_encode gives them. Throws invalid_input when
    // libsentencepiece reports an error.
    void encode(std::string_view text, std::vector<int>& out) const;

  private:
    explicit SpmProcessor(void* handle);
    void* handle_;
    int special_[4] = {-1, -1, -1, -1};
};

}  // namespace llmtune::tokenizer
