#include <scgi/query_params.hpp>

#include <scgi/percent_decode.hpp>

namespace scgi {

void query_params::iterator::advance() noexcept {
    // Skip empty segments, then take one up to the next '&'.
    while (!rest_.empty() && rest_.front() == '&') rest_.remove_prefix(1);
    if (rest_.empty()) {
        *this = iterator();
        return;
    }
    const std::size_t amp = rest_.find('&');
    const std::string_view segment = rest_.substr(0, amp);
    rest_.remove_prefix(segment.size());
    const std::size_t equals = segment.find('=');
    if (equals == std::string_view::npos) {
        current_ = {segment, {}};
    } else {
        current_ = {segment.substr(0, equals), segment.substr(equals + 1)};
    }
    done_ = false;
}

std::optional<std::string> find_query_param(std::string_view query, std::string_view name,
                                            std::error_code& ec) {
    ec.clear();
    std::string decoded_name;
    for (const query_param param : query_params(query)) {
        decoded_name.clear();
        if ((ec = percent_decode(param.name, decoded_name, plus_decoding::to_space))) {
            return std::nullopt;
        }
        if (decoded_name != name) continue;
        std::string value;
        if ((ec = percent_decode(param.value, value, plus_decoding::to_space))) return std::nullopt;
        return value;
    }
    return std::nullopt;
}

std::error_code decode_query(std::string_view query,
                             std::vector<std::pair<std::string, std::string>>& out) {
    const std::size_t old_size = out.size();
    for (const query_param param : query_params(query)) {
        auto& [name, value] = out.emplace_back();
        std::error_code ec = percent_decode(param.name, name, plus_decoding::to_space);
        if (!ec) ec = percent_decode(param.value, value, plus_decoding::to_space);
        if (ec) {
            out.resize(old_size);
            return ec;
        }
    }
    return {};
}

}  // namespace scgi
