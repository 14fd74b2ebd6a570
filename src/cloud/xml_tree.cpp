#include "cloud/xml_tree.h"

#include <expat.h>

#include "common/error.h"

namespace llmtune::cloud {

namespace {

struct Builder {
    std::unique_ptr<XmlNode> root;
    std::vector<XmlNode*> stack;
};

void on_start(void* user, const XML_Char* name, const XML_Char**) {
    auto* b = static_cast<Builder*>(user);
    auto node = std::make_unique<XmlNode>();
    std::string n = name;
    size_t colon = n.rfind(':');
    node->name = colon == std::string::npos ? n : n.substr(colon + 1);
    XmlNode* raw = node.get();
    if (b->stack.empty())
        b->root = std::move(node);
    else
        b->stack.back()->children.push_back(std::move(node));
    b->stack.push_back(raw);
}

void on_end(void* user, const XML_Char*) {
    static_cast<Builder*>(user)->stack.pop_back();
}

void on_text(void* user, const XML_Char* s, int len) {
    auto* b = static_cast<Builder*>(user);
    if (!b->stack.empty()) b->stack.back()->text.append(s, static_cast<size_t>(len));
}

}  // namespace

const XmlNode* XmlNode::child(const std::string& n) const {
    for (const auto& c : children)
        if (c->name == n) return c.get();
    return nullptr;
}

std::string XmlNode::child_text(const std::string& n) const {
    const XmlNode* c = child(n);
    return c ? c->text : "";
}

std::vector<const XmlNode*> XmlNode::children_named(const std::string& n) const {
    std::vector<const XmlNode*> out;
    for (const auto& c : children)
        if (c->name == n) out.push_back(c.get());
    return out;
}

std::unique_ptr<XmlNode> parse_xml(const std::string& text, const std::string& what) {
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (!p) throw Error(ErrorKind::resource_exhausted, "cannot create an XML parser");
    Builder b;
    XML_SetUserData(p, &b);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_Status st = XML_Parse(p, text.data(), static_cast<int>(text.size()), 1);
    if (st != XML_STATUS_OK || !b.root) {
        std::string msg = st != XML_STATUS_OK ? XML_ErrorString(XML_GetErrorCode(p)) : "no element";
        unsigned long line = XML_GetCurrentLineNumber(p);
        XML_ParserFree(p);
        throw_invalid(what + ": malformed XML (" + msg + " at line " + std::to_string(line) +
                      "): '" + text.substr(0, 200) + "'");
    }
    XML_ParserFree(p);
    return std::move(b.root);
}

std::string xml_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace llmtune::cloud
