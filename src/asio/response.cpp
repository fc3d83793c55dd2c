#include <scgi/asio/response.hpp>

#include <string>

namespace scgi {

response response::text(int status, std::string body, std::string_view content_type) {
    response r;
    r.head.set_status(status);
    r.head.add("Content-Type", content_type);
    r.head.add_content_length(body.size());
    r.body = std::move(body);
    return r;
}

response response::redirect(std::string_view location, int status) {
    response r = text(status, "Redirecting to " + std::string(location) + "\n");
    r.head.add("Location", location);
    return r;
}

response response::nginx_file(std::string_view internal_uri) {
    response r;
    r.head.add("X-Accel-Redirect", internal_uri);
    return r;
}

response response::sendfile(std::string_view path) {
    response r;
    r.head.add("X-Sendfile", path);
    return r;
}

}  // namespace scgi
