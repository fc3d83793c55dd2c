// The request every codec benchmark works on: what nginx sends for a browser
// request with `scgi_pass` + `include scgi_params;`.
#pragma once

#include <scgi/header.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scgi_bench {

/// One request: its headers in the order nginx sends them, the wire bytes
/// (netstring + body) and where the body starts.
struct nginx_request {
    std::vector<std::pair<std::string, std::string>> headers;  // wire order
    std::string bytes;       // `<len>:<block>,<body>`
    std::size_t head_size;   // bytes up to and including the `,`
    std::size_t body_size;

    /// Header block size (the `<len>` of the netstring).
    std::size_t block_size() const {
        std::size_t n = 0;
        for (const auto& [name, value] : headers) n += name.size() + 1 + value.size() + 1;
        return n;
    }

    /// The headers as views, without CONTENT_LENGTH and SCGI (the encoder adds
    /// both itself, so this is what a client hands to `encode_request`).
    std::vector<scgi::header> encoder_input() const {
        std::vector<scgi::header> out;
        for (const auto& [name, value] : headers) {
            if (name == "CONTENT_LENGTH" || name == "SCGI") continue;
            out.push_back({name, value});
        }
        return out;
    }
};

/// nginx's request for a page view (`body_size == 0`: a GET with an empty
/// CONTENT_TYPE) or a form post (`body_size > 0`: a POST whose body is
/// url-encoded form data, with the Content-Type/Content-Length headers nginx
/// forwards as HTTP_*).
///
/// Order: CONTENT_LENGTH (nginx's scgi module emits it first), then the stock
/// `scgi_params` lines in file order (no HTTPS: plain http), then the browser's
/// headers as HTTP_* in the order Chrome sends them. The header block is about
/// 1 KB, typical for a browser request carrying a session cookie.
inline nginx_request make_nginx_request(std::size_t body_size) {
    const bool post = body_size != 0;
    nginx_request r;
    r.body_size = body_size;
    auto add = [&](std::string name, std::string value) {
        r.headers.emplace_back(std::move(name), std::move(value));
    };
    add("CONTENT_LENGTH", std::to_string(body_size));
    add("REQUEST_METHOD", post ? "POST" : "GET");
    add("REQUEST_URI", "/shop/search?q=steel+kettle&page=2");
    add("QUERY_STRING", "q=steel+kettle&page=2");
    add("CONTENT_TYPE", post ? "application/x-www-form-urlencoded" : "");
    add("DOCUMENT_URI", "/shop/search");
    add("DOCUMENT_ROOT", "/usr/share/nginx/html");
    add("SCGI", "1");
    add("SERVER_PROTOCOL", "HTTP/1.1");
    add("REQUEST_SCHEME", "http");
    add("REMOTE_ADDR", "203.0.113.57");
    add("REMOTE_PORT", "51724");
    add("SERVER_PORT", "80");
    add("SERVER_NAME", "www.example.com");
    add("HTTP_HOST", "www.example.com");
    add("HTTP_CONNECTION", "keep-alive");
    if (post) {
        add("HTTP_CONTENT_LENGTH", std::to_string(body_size));
        add("HTTP_CONTENT_TYPE", "application/x-www-form-urlencoded");
    }
    add("HTTP_CACHE_CONTROL", "max-age=0");
    add("HTTP_UPGRADE_INSECURE_REQUESTS", "1");
    add("HTTP_USER_AGENT",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36");
    add("HTTP_ACCEPT",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7");
    add("HTTP_SEC_FETCH_SITE", "same-origin");
    add("HTTP_SEC_FETCH_MODE", "navigate");
    add("HTTP_SEC_FETCH_USER", "?1");
    add("HTTP_SEC_FETCH_DEST", "document");
    add("HTTP_REFERER", "http://www.example.com/shop/");
    add("HTTP_ACCEPT_ENCODING", "gzip, deflate");
    add("HTTP_ACCEPT_LANGUAGE", "en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7");
    add("HTTP_COOKIE",
        "sessionid=k3v9x2m8q1w7e4r6t0y5u2i9o3p7a1s8; csrftoken=Jf83kLmQ0pZx7VbN2cRt5YwE9uHs4GdA; "
        "_ga=GA1.1.1843029176.1699871234; theme=dark");

    const std::size_t block = r.block_size();
    r.bytes = std::to_string(block);
    r.bytes += ':';
    for (const auto& [name, value] : r.headers) {
        r.bytes += name;
        r.bytes += '\0';
        r.bytes += value;
        r.bytes += '\0';
    }
    r.bytes += ',';
    r.head_size = r.bytes.size();

    // Url-encoded form fields, no NUL (as a real form body).
    static constexpr std::string_view field = "comment=Looks+good%2C+ship+it%21&rating=5&";
    std::size_t i = 0;
    while (r.bytes.size() < r.head_size + body_size) {
        r.bytes += field[i];
        i = (i + 1) % field.size();
    }
    return r;
}

}  // namespace scgi_bench
