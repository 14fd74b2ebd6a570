#include "tokenizer/sentencepiece_proto.h"

#include <cstdint>

#include "common/error.h"

namespace llmtune::tokenizer {

namespace {

// One field of a protobuf message: its number and, by wire type, a varint or a byte range.
struct Field {
    uint32_t number = 0;
    int wire_type = 0;
    uint64_t varint = 0;     // wire type 0
    std::string_view bytes;  // wire type 2 (length-delimited)
};

class WireReader {
  public:
    WireReader(std::string_view data, const std::string& source, const char* what)
        : data_(data), source_(source), what_(what) {}

    bool done() const { return pos_ >= data_.size(); }

    Field next() {
        Field f;
        uint64_t key = varint();
        f.number = static_cast<uint32_t>(key >> 3);
        f.wire_type = static_cast<int>(key & 7);
        if (f.number == 0) fail("field number 0");
        switch (f.wire_type) {
            case 0:
                f.varint = varint();
                break;
            case 1:
                skip(8);
                break;
            case 2: {
                uint64_t len = varint();
                if (len > data_.size() - pos_) fail("a field runs past the end");
                f.bytes = data_.substr(pos_, static_cast<size_t>(len));
                pos_ += static_cast<size_t>(len);
                break;
            }
            case 5:
                skip(4);
                break;
            default:
                fail("unsupported wire type " + std::to_string(f.wire_type));
        }
        return f;
    }

  private:
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ >= data_.size()) fail("a varint runs past the end");
            unsigned char b = static_cast<unsigned char>(data_[pos_++]);
            v |= uint64_t(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("a varint is longer than 10 bytes");
    }

    void skip(size_t n) {
        if (n > data_.size() - pos_) fail("a field runs past the end");
        pos_ += n;
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw_invalid(source_ + ": not a SentencePiece model: malformed " + what_ + " (" + why +
                          " at byte " + std::to_string(pos_) + ")",
                      "tokenizer.model must be a SentencePiece ModelProto as written by "
                      "spm_train or shipped with the model");
    }

    std::string_view data_;
    const std::string& source_;
    const char* what_;
    size_t pos_ = 0;
};

void read_normalizer(std::string_view bytes, const std::string& source, bool denormalizer,
                     SentencePieceFacts& facts) {
    WireReader r(bytes, source, denormalizer ? "denormalizer_spec" : "normalizer_spec");
    while (!r.done()) {
        Field f = r.next();
        if (denormalizer) {
            if (f.number == 2 && f.wire_type == 2) facts.has_denormalizer = !f.bytes.empty();
            continue;
        }
        if (f.number == 3 && f.wire_type == 0) facts.add_dummy_prefix = f.varint != 0;
        if (f.number == 4 && f.wire_type == 0) facts.remove_extra_whitespaces = f.varint != 0;
    }
}

void read_trainer(std::string_view bytes, const std::string& source, SentencePieceFacts& facts) {
    WireReader r(bytes, source, "trainer_spec");
    while (!r.done()) {
        Field f = r.next();
        if (f.number != 3 || f.wire_type != 0) continue;
        switch (f.varint) {
            case 1:
                facts.model_type = "Unigram";
                break;
            case 2:
                facts.model_type = "BPE";
                break;
            case 3:
                facts.model_type = "Word";
                break;
            case 4:
                facts.model_type = "Char";
                break;
            default:
                facts.model_type = "type " + std::to_string(f.varint);
        }
    }
}

}  // namespace

SentencePieceFacts read_sentencepiece_facts(std::string_view serialized,
                                            const std::string& source) {
    SentencePieceFacts facts;
    WireReader r(serialized, source, "ModelProto");
    while (!r.done()) {
        Field f = r.next();
        if (f.wire_type != 2) continue;
        if (f.number == 2) read_trainer(f.bytes, source, facts);
        if (f.number == 3) read_normalizer(f.bytes, source, false, facts);
        if (f.number == 5) read_normalizer(f.bytes, source, true, facts);
    }
    return facts;
}

}  // namespace llmtune::tokenizer
