#include <scgi/request_head.hpp>

#include <scgi/detail/ascii.hpp>

namespace scgi {
namespace {

// True if `cgi_name` is the CGI meta-variable under which a front end passes
// the HTTP header `http_name` (see request_head::http_header).
bool is_cgi_name_of(std::string_view cgi_name, std::string_view http_name) noexcept {
    std::string_view rest = cgi_name;
    if (!detail::iequals(http_name, "content-type") &&
        !detail::iequals(http_name, "content-length")) {
        constexpr std::string_view prefix = "HTTP_";
        if (!cgi_name.starts_with(prefix)) return false;
        rest.remove_prefix(prefix.size());
    }
    if (rest.size() != http_name.size()) return false;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const char c = http_name[i];
        const char expected = c == '-' ? '_' : detail::to_upper(c);
        if (rest[i] != expected) return false;
    }
    return true;
}

}  // namespace

header request_head::operator[](std::size_t index) const noexcept {
    return entries_[index].view(storage_.data());
}

std::optional<std::string_view> request_head::find(std::string_view name) const noexcept {
    for (const entry& e : entries_) {
        if (name_of(e) == name) return value_of(e);
    }
    return std::nullopt;
}

std::string_view request_head::value_or(std::string_view name,
                                        std::string_view fallback) const noexcept {
    return find(name).value_or(fallback);
}

std::string_view request_head::method() const noexcept { return value_or("REQUEST_METHOD"); }

std::string_view request_head::uri() const noexcept { return value_or("REQUEST_URI"); }

std::string_view request_head::path() const noexcept {
    const std::string_view u = uri();
    return u.substr(0, u.find_first_of("?#"));
}

std::optional<std::string_view> request_head::path_below(std::string_view mount) const noexcept {
    if (!mount.empty() && mount.back() == '/') mount.remove_suffix(1);
    const std::string_view p = path();
    if (!p.starts_with(mount)) return std::nullopt;
    const std::string_view rest = p.substr(mount.size());
    if (!rest.empty() && rest.front() != '/') return std::nullopt;  // "/application" under "/app"
    return rest;
}

std::string_view request_head::query() const noexcept {
    if (auto q = find("QUERY_STRING")) return *q;
    std::string_view u = uri();
    u = u.substr(0, u.find('#'));  // a '?' inside the fragment starts no query
    const std::size_t question = u.find('?');
    if (question == std::string_view::npos) return {};
    return u.substr(question + 1);
}

std::string_view request_head::content_type() const noexcept { return value_or("CONTENT_TYPE"); }

std::optional<std::string_view> request_head::http_header(std::string_view http_name) const noexcept {
    if (http_name.empty()) return std::nullopt;
    for (const entry& e : entries_) {
        if (is_cgi_name_of(name_of(e), http_name)) return value_of(e);
    }
    return std::nullopt;
}

}  // namespace scgi
