#include "common/response_length.hpp"

#include <scgi/detail/ascii.hpp>

namespace scgi::tools {

body_length_rule body_length_of(const response_head& head, std::string_view method) {
    body_length_rule rule;
    const auto declared = head.find("Content-Length");
    if (!declared) return rule;
    unsigned long long length = 0;
    if (detail::parse_decimal(*declared, length) != 0) {
        rule.malformed = true;
        return rule;
    }
    const int status = head.status();
    const bool has_no_body = method == "HEAD" || status < 200 || status == 204 || status == 304;
    if (!has_no_body) rule.expected = length;
    return rule;
}

}  // namespace scgi::tools
