// A small XML tree over expat for the S3 API's responses (list results, errors, multipart
// upload ids): elements with their text, no attributes, namespaces ignored.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace llmtune::cloud {

struct XmlNode {
    std::string name;  // local name (a namespace prefix is dropped)
    std::string text;  // character data directly inside the element, entities decoded
    std::vector<std::unique_ptr<XmlNode>> children;

    // The first child of that name, or nullptr.
    const XmlNode* child(const std::string& name) const;
    // The first child's text, or "".
    std::string child_text(const std::string& name) const;
    std::vector<const XmlNode*> children_named(const std::string& name) const;
};

// invalid_input naming `what` and expat's message and line for malformed XML.
std::unique_ptr<XmlNode> parse_xml(const std::string& text, const std::string& what);

// Escapes & < > " ' for element text.
std::string xml_escape(const std::string& text);

}  // namespace llmtune::cloud
