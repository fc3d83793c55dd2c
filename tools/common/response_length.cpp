#include "common/response_length.hpp"

#include <scgi/detail/content_length.hpp>

namespace scgi::tools {

body_length_rule body_length_of(const response_head& head, std::string_view method) {
    body_length_rule rule;
    std::optional<std::uint64_t> declared;
    if (detail::declared_content_length(head, declared) != nullptr) {
        rule.malformed = true;
        return rule;
    }
    if (!declared) return rule;
    const int status = head.status();
    const bool has_no_body = method == "HEAD" || status < 200 || status == 204 || status == 304;
    if (!has_no_body) rule.expected = declared;
    return rule;
}

}  // namespace scgi::tools
