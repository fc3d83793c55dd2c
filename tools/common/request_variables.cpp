#include "common/request_variables.hpp"

#include <scgi/detail/ascii.hpp>
#include <scgi/encode_request.hpp>
#include <scgi/percent_decode.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace scgi::tools {
namespace {

// What curl sends for -d without a Content-Type of the user's.
constexpr std::string_view form_content_type = "application/x-www-form-urlencoded";

// nginx's $document_uri: the path, percent-decoded. nginx refuses a request
// whose path does not decode or decodes to a NUL (400); a tool that exists to
// try servers sends it anyway, with DOCUMENT_URI left raw.
std::string document_uri(std::string_view path) {
    std::string decoded;
    if (percent_decode(path, decoded) || decoded.find('\0') != std::string::npos) return std::string(path);
    return decoded;
}

// nginx's $host from a Host header: lower case, without the port and a
// trailing dot; an IPv6 literal keeps its brackets.
std::string host_without_port(std::string_view host) {
    const std::size_t end = host.starts_with('[') ? host.find(']') : host.find(':');
    if (end != std::string_view::npos) host = host.substr(0, host.starts_with('[') ? end + 1 : end);
    if (host.ends_with('.')) host.remove_suffix(1);
    std::string out(host);
    for (char& c : out) c = detail::to_lower(c);
    return out;
}

// Joins a repeated HTTP header as nginx 1.23+ does for its CGI-style
// upstreams (1.22 sends the name twice, which SCGI servers refuse).
void add_http_header(request_variables& vars, std::string_view name, std::string_view value,
                     std::vector<std::string>& given) {
    const std::string cgi_name = http_variable_name(name);
    const bool repeated = std::find(given.begin(), given.end(), cgi_name) != given.end();
    if (repeated) {
        const std::string_view separator = cgi_name == "HTTP_COOKIE" ? "; " : ", ";
        vars.set(cgi_name, std::string(*vars.find(cgi_name)).append(separator).append(value));
        return;
    }
    given.push_back(cgi_name);
    vars.set(cgi_name, value);
}

}  // namespace

std::string http_variable_name(std::string_view name) {
    std::string out = "HTTP_";
    for (const char c : name) out.push_back(c == '-' ? '_' : detail::to_upper(c));
    return out;
}

request_variables request_variables::build(const request_options& options,
                                           std::optional<std::uint64_t> body_length) {
    request_variables vars;
    const std::string_view uri = options.uri;
    const auto question = uri.find('?');
    const std::string_view path = uri.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? std::string_view() : uri.substr(question + 1);
    const std::string method = !options.method.empty() ? options.method : body_length ? "POST" : "GET";

    vars.list_ = {
        {"REQUEST_METHOD", method},
        {"REQUEST_URI", std::string(uri)},
        {"QUERY_STRING", std::string(query)},
        {"CONTENT_TYPE", ""},
        {"DOCUMENT_URI", document_uri(path)},
        {"DOCUMENT_ROOT", "/var/www/html"},
        {"SERVER_PROTOCOL", "HTTP/1.1"},
        {"REQUEST_SCHEME", "http"},
        {"REMOTE_ADDR", "127.0.0.1"},
        {"REMOTE_PORT", "0"},
        {"SERVER_PORT", "80"},
        {"SERVER_NAME", "localhost"},
        {"HTTP_HOST", "localhost"},
    };
    if (body_length) {
        vars.set("HTTP_CONTENT_LENGTH", std::to_string(*body_length));
        vars.set("CONTENT_TYPE", form_content_type);
        vars.set("HTTP_CONTENT_TYPE", form_content_type);
    }

    // Names set by -H so far: a second -H of the same name is joined with
    // the first, while one for a default replaces the default.
    std::vector<std::string> given;
    std::string reason;
    for (const std::string& text : options.headers) {
        const auto header = parse_header_argument(text, reason);
        if (!header) throw std::invalid_argument(reason);
        const bool is_content_type = detail::iequals(header->name, "Content-Type");
        if (header->remove) {
            const std::string cgi_name = http_variable_name(header->name);
            vars.remove(cgi_name);
            std::erase(given, cgi_name);  // a later -H of the name starts afresh
            if (is_content_type) vars.set("CONTENT_TYPE", "");  // scgi_params sends it, even empty
            continue;
        }
        if (detail::iequals(header->name, "Host")) {
            vars.set("HTTP_HOST", host_without_port(header->value));
            continue;
        }
        add_http_header(vars, header->name, header->value, given);
        if (is_content_type) vars.set("CONTENT_TYPE", *vars.find("HTTP_CONTENT_TYPE"));
    }

    for (const std::string& text : options.variables) {
        const auto var = parse_variable_argument(text, reason);
        if (!var) throw std::invalid_argument(reason);
        if (var->remove) {
            vars.remove(var->name);
        } else {
            vars.set(var->name, var->value);
        }
    }
    return vars;
}

std::optional<std::string_view> request_variables::find(std::string_view name) const noexcept {
    for (const variable& v : list_) {
        if (v.name == name) return v.value;
    }
    return std::nullopt;
}

std::vector<header> request_variables::headers() const {
    std::vector<header> out;
    out.reserve(list_.size());
    for (const variable& v : list_) out.push_back({v.name, v.value});
    return out;
}

std::error_code request_variables::encode(std::uint64_t body_length, std::string& out) const {
    return encode_request(headers(), body_length, out);
}

std::vector<variable>::iterator request_variables::position(std::string_view name) noexcept {
    return std::find_if(list_.begin(), list_.end(), [name](const variable& v) { return v.name == name; });
}

void request_variables::set(std::string_view name, std::string_view value) {
    if (const auto at = position(name); at != list_.end()) {
        at->value = value;
    } else {
        list_.push_back({std::string(name), std::string(value)});
    }
}

void request_variables::remove(std::string_view name) {
    if (const auto at = position(name); at != list_.end()) list_.erase(at);
}

}  // namespace scgi::tools
