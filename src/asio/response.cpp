#include <scgi/asio/response.hpp>

#include <stdexcept>
#include <string>
#include <system_error>

namespace scgi {
namespace {

void check(std::error_code ec, const char* what) {
    if (ec) throw std::invalid_argument(std::string("scgi::response::") + what + ": " + ec.message());
}

}  // namespace

response response::text(int status, std::string body, std::string_view content_type) {
    response r;
    check(r.head.set_status(status), "text");
    check(r.head.add("Content-Type", content_type), "text");
    r.head.add_content_length(body.size());
    r.body = std::move(body);
    return r;
}

response response::redirect(std::string_view location, int status) {
    response r = text(status, "Redirecting to " + std::string(location) + "\n");
    check(r.head.add("Location", location), "redirect");
    return r;
}

response response::nginx_file(std::string_view internal_uri) {
    response r;
    check(r.head.add("X-Accel-Redirect", internal_uri), "nginx_file");
    return r;
}

response response::sendfile(std::string_view path) {
    response r;
    check(r.head.add("X-Sendfile", path), "sendfile");
    return r;
}

}  // namespace scgi
