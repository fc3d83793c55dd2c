#include "visible.hpp"

#include <scgi/detail/ascii.hpp>

#include <algorithm>

namespace scgi::tools {
namespace {

// Appends `block` to `lines` split after every second NUL (a name and its
// value); a last line without its NULs if the block ends early.
void add_variable_lines(std::string_view block, std::vector<std::string>& lines) {
    int nuls = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < block.size(); ++i) {
        if (block[i] != '\0' || ++nuls % 2 != 0) continue;
        lines.push_back(visible(block.substr(start, i + 1 - start)));
        start = i + 1;
    }
    if (start < block.size()) lines.push_back(visible(block.substr(start)));
}

}  // namespace

std::string visible(std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size());
    for (const char c : bytes) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\0') {
            out += "\xe2\x90\x80";  // U+2400 SYMBOL FOR NULL
        } else if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
    return out;
}

head_lines describe_request_head(std::string_view bytes) {
    head_lines out;
    // The netstring length: 1 to 20 digits and a colon (what a parser would
    // look at; a strict one refuses more).
    const std::size_t colon = bytes.substr(0, 21).find(':');
    unsigned long long length = 0;
    if (colon == std::string_view::npos || detail::parse_decimal(bytes.substr(0, colon), length) != 0) {
        constexpr std::size_t shown = 4096;
        out.size = std::min(bytes.size(), shown);
        add_variable_lines(bytes.substr(0, out.size), out.lines);
        return out;
    }
    out.lines.push_back(visible(bytes.substr(0, colon + 1)));
    const std::string_view rest = bytes.substr(colon + 1);
    const std::size_t block = static_cast<std::size_t>(std::min<unsigned long long>(length, rest.size()));
    add_variable_lines(rest.substr(0, block), out.lines);
    out.size = colon + 1 + block;
    if (block < rest.size()) {
        out.lines.push_back(visible(rest.substr(block, 1)));
        ++out.size;
    }
    return out;
}

}  // namespace scgi::tools
