// Test support: reading the golden vector files (format: README.md next to
// this file). Shared by the vector runner and the over-read test.
#pragma once

#include <scgi/error.hpp>
#include <scgi/parser_options.hpp>
#include <scgi/response_parser.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#ifndef SCGI_VECTORS_DIR
#error "SCGI_VECTORS_DIR must name the tests/vectors source directory"
#endif

namespace scgi::test::vectors {

enum class kind { request, response };

enum class expectation { ok, error, need_more };

/// One vector file, decoded.
struct vector_file {
    std::filesystem::path path;
    kind what = kind::request;
    std::string input;

    // request vectors
    parser_options options{};
    // response vectors
    std::size_t head_limit = response_parser::default_head_limit;

    expectation expect = expectation::ok;
    error expected_error = error::need_more;  // for expectation::error

    std::vector<std::pair<std::string, std::string>> headers;
    bool has_headers = false;  // any header line (needed for need_more checks)
    std::string body;          // request: `body:` lines
    bool has_body = false;
    int status = 0;            // response: `status:`
    bool has_status = false;
    std::string reason;        // response: `reason:`
    bool has_reason = false;
    std::string rest;          // response: `rest:` lines
    std::size_t consumed = 0;  // `consumed:` (optional, any expectation)
    bool has_consumed = false;
};

/// Every scgi::error by its enumerator name. Values are 1..N in declaration
/// order (error.hpp: append-only), which the runner checks.
inline constexpr std::array<std::pair<std::string_view, error>, 57> error_names{{
    {"need_more", error::need_more},
    {"length_not_digit", error::length_not_digit},
    {"length_leading_zero", error::length_leading_zero},
    {"length_overflow", error::length_overflow},
    {"missing_colon", error::missing_colon},
    {"missing_comma", error::missing_comma},
    {"header_unterminated", error::header_unterminated},
    {"odd_string_count", error::odd_string_count},
    {"empty_name", error::empty_name},
    {"duplicate_header", error::duplicate_header},
    {"content_length_missing", error::content_length_missing},
    {"content_length_not_first", error::content_length_not_first},
    {"content_length_invalid", error::content_length_invalid},
    {"content_length_overflow", error::content_length_overflow},
    {"content_length_duplicate", error::content_length_duplicate},
    {"scgi_header_missing", error::scgi_header_missing},
    {"scgi_header_invalid", error::scgi_header_invalid},
    {"header_block_too_large", error::header_block_too_large},
    {"too_many_headers", error::too_many_headers},
    {"body_too_large", error::body_too_large},
    {"trailing_data", error::trailing_data},
    {"partial_request", error::partial_request},
    {"nul_in_name", error::nul_in_name},
    {"nul_in_value", error::nul_in_value},
    {"content_length_mismatch", error::content_length_mismatch},
    {"invalid_header_name", error::invalid_header_name},
    {"invalid_header_value", error::invalid_header_value},
    {"invalid_status", error::invalid_status},
    {"response_head_too_large", error::response_head_too_large},
    {"bad_status_line", error::bad_status_line},
    {"bad_header_line", error::bad_header_line},
    {"bad_header_name", error::bad_header_name},
    {"bad_header_value", error::bad_header_value},
    {"obsolete_line_folding", error::obsolete_line_folding},
    {"partial_response", error::partial_response},
    {"bad_percent_encoding", error::bad_percent_encoding},
    {"endpoint_empty", error::endpoint_empty},
    {"endpoint_missing_port", error::endpoint_missing_port},
    {"endpoint_invalid_port", error::endpoint_invalid_port},
    {"endpoint_invalid_host", error::endpoint_invalid_host},
    {"endpoint_invalid_path", error::endpoint_invalid_path},
    {"endpoint_path_too_long", error::endpoint_path_too_long},
    {"unix_socket_in_use", error::unix_socket_in_use},
    {"unix_path_not_socket", error::unix_path_not_socket},
    {"socket_activation_invalid", error::socket_activation_invalid},
    {"head_timeout", error::head_timeout},
    {"body_timeout", error::body_timeout},
    {"write_timeout", error::write_timeout},
    {"connect_timeout", error::connect_timeout},
    {"spool_limit_exceeded", error::spool_limit_exceeded},
    {"unix_socket_group_unknown", error::unix_socket_group_unknown},
    {"content_length_disagrees", error::content_length_disagrees},
    {"response_head_timeout", error::response_head_timeout},
    {"response_body_timeout", error::response_body_timeout},
    {"address_prefix_invalid", error::address_prefix_invalid},
    {"address_prefix_length_invalid", error::address_prefix_length_invalid},
    {"address_prefix_host_bits_set", error::address_prefix_host_bits_set},
}};

inline std::optional<error> error_from_name(std::string_view name) {
    for (const auto& [n, e] : error_names) {
        if (n == name) return e;
    }
    return std::nullopt;
}

inline std::string_view name_of(error e) {
    for (const auto& [n, v] : error_names) {
        if (v == e) return n;
    }
    return "<unnamed scgi::error>";
}

/// Decodes the escapes of a value: \0 (a NUL, never octal), \xHH, \\, \n,
/// \r, \t. Anything else after a backslash is an error.
inline bool unescape(std::string_view in, std::string& out, std::string& problem) {
    out.clear();
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '\\') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 1 == in.size()) {
            problem = "a lone backslash at the end of the value";
            return false;
        }
        const char c = in[++i];
        switch (c) {
        case '0': out.push_back('\0'); break;
        case '\\': out.push_back('\\'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'x': {
            const int high = i + 1 < in.size() ? hex(in[i + 1]) : -1;
            const int low = i + 2 < in.size() ? hex(in[i + 2]) : -1;
            if (high < 0 || low < 0) {
                problem = "\\x must be followed by two hexadecimal digits";
                return false;
            }
            out.push_back(static_cast<char>(static_cast<unsigned char>(high * 16 + low)));
            i += 2;
            break;
        }
        default:
            problem = std::string("unknown escape \\") + c;
            return false;
        }
    }
    return true;
}

namespace detail {

inline bool parse_number(std::string_view text, std::uint64_t& out) {
    if (text.empty()) return false;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && ptr == text.data() + text.size();
}

}  // namespace detail

/// Reads and checks one vector file. On failure returns false with
/// `problem` = "<file>:<line>: <what is wrong>".
inline bool load(const std::filesystem::path& path, kind what, vector_file& out,
                 std::string& problem) {
    out = vector_file{};
    out.path = path;
    out.what = what;

    std::ifstream file(path, std::ios::binary);
    if (!file) {
        problem = path.string() + ": cannot open";
        return false;
    }
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};

    std::size_t line_no = 0;
    const auto fail = [&](const std::string& what_is_wrong) {
        problem = path.string() + ":" + std::to_string(line_no) + ": " + what_is_wrong;
        return false;
    };
    if (text.empty() || text.back() != '\n') {
        line_no = 0;
        return fail("the file must be non-empty and end with a newline");
    }

    bool seen_input = false;
    bool seen_expect = false;
    bool pending_header = false;  // a header: line waits for its value: line
    std::string pending_name;
    std::vector<std::string> seen_settings;  // options/limits, to refuse repeats
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t nl = text.find('\n', start);
        const std::string_view line(text.data() + start, nl - start);
        start = nl + 1;
        ++line_no;

        for (const char c : line) {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u > 0x7e) {
                return fail("only printable ASCII is allowed in a vector file; "
                            "write other bytes as escapes");
            }
        }
        if (line.empty() || line.front() == '#') {
            if (pending_header) return fail("header: must be followed directly by value:");
            continue;
        }
        if (line.back() == ' ') return fail("trailing space (write it as \\x20)");

        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return fail("expected `key: value`");
        const std::string_view key = line.substr(0, colon);
        std::string_view raw = line.substr(colon + 1);
        if (!raw.empty()) {
            if (raw.front() != ' ') return fail("a single space must follow `" + std::string(key) + ":`");
            raw.remove_prefix(1);
        }

        if (pending_header && key != "value") return fail("header: must be followed directly by value:");

        std::string value;
        std::string why;
        if (!unescape(raw, value, why)) return fail(why);

        if (key == "input") {
            if (seen_expect) return fail("input: after expect:");
            seen_input = true;
            out.input += value;
        } else if (key == "option" || key == "limit") {
            if (seen_expect) return fail(std::string(key) + ": after expect:");
            const std::string setting = std::string(raw.substr(0, raw.find('=')));
            if (std::find(seen_settings.begin(), seen_settings.end(), setting) != seen_settings.end()) {
                return fail("`" + setting + "` given twice");
            }
            seen_settings.push_back(setting);
            if (what == kind::response) {
                std::uint64_t n = 0;
                if (key == "limit" && raw.starts_with("head_bytes=") &&
                    detail::parse_number(raw.substr(11), n)) {
                    out.head_limit = static_cast<std::size_t>(n);
                } else {
                    return fail("unknown response setting `" + std::string(line) + "`");
                }
            } else if (key == "option") {
                if (raw == "allow_missing_scgi") {
                    out.options.allow_missing_scgi = true;
                } else if (raw == "allow_content_length_anywhere") {
                    out.options.allow_content_length_anywhere = true;
                } else if (raw == "allow_missing_content_length") {
                    out.options.allow_missing_content_length = true;
                } else if (raw == "body_length_from_http_content_length") {
                    out.options.body_length_from_http_content_length = true;
                } else if (raw == "duplicates=reject") {
                    out.options.duplicates = duplicate_policy::reject;
                } else if (raw == "duplicates=first_wins") {
                    out.options.duplicates = duplicate_policy::first_wins;
                } else if (raw == "duplicates=last_wins") {
                    out.options.duplicates = duplicate_policy::last_wins;
                } else {
                    return fail("unknown option `" + std::string(raw) + "`");
                }
            } else {
                const std::size_t eq = raw.find('=');
                std::uint64_t n = 0;
                if (eq == std::string_view::npos || !detail::parse_number(raw.substr(eq + 1), n)) {
                    return fail("expected `limit: name=N`");
                }
                const std::string_view name = raw.substr(0, eq);
                if (name == "header_block_bytes") {
                    out.options.limits.header_block_bytes = static_cast<std::size_t>(n);
                } else if (name == "header_count") {
                    out.options.limits.header_count = static_cast<std::size_t>(n);
                } else if (name == "body_bytes") {
                    out.options.limits.body_bytes = n;
                } else {
                    return fail("unknown limit `" + std::string(name) + "`");
                }
            }
        } else if (key == "expect") {
            if (seen_expect) return fail("expect: given twice");
            if (!seen_input) return fail("expect: before any input:");
            seen_expect = true;
            if (raw == "ok") {
                out.expect = expectation::ok;
            } else if (raw == "need_more") {
                out.expect = expectation::need_more;
            } else if (raw.starts_with("error ")) {
                const std::string_view name = raw.substr(6);
                const auto e = error_from_name(name);
                if (!e) return fail("unknown error name `" + std::string(name) + "`");
                if (*e == error::need_more) return fail("write `expect: need_more`, not an error");
                out.expect = expectation::error;
                out.expected_error = *e;
            } else {
                return fail("expected `expect: ok`, `expect: need_more` or `expect: error <name>`");
            }
        } else if (key == "consumed") {
            if (!seen_expect) return fail("consumed: before expect:");
            if (out.has_consumed) return fail("consumed: given twice");
            std::uint64_t n = 0;
            if (!detail::parse_number(raw, n)) return fail("consumed: must be a number");
            out.has_consumed = true;
            out.consumed = static_cast<std::size_t>(n);
        } else if (key == "header" || key == "value" || key == "body" || key == "status" ||
                   key == "reason" || key == "rest") {
            if (!seen_expect) return fail(std::string(key) + ": before expect:");
            if (out.expect == expectation::error) {
                return fail(std::string(key) + ": after `expect: error` (an error expects only consumed:)");
            }
            const bool request_key = key == "body";
            const bool response_key = key == "status" || key == "reason" || key == "rest";
            if ((what == kind::request && response_key) || (what == kind::response && request_key)) {
                return fail(std::string(key) + ": does not belong in a " +
                            (what == kind::request ? "request" : "response") + " vector");
            }
            if (key == "header") {
                pending_header = true;
                pending_name = value;
            } else if (key == "value") {
                if (!pending_header) return fail("value: without a header: line before it");
                pending_header = false;
                out.has_headers = true;
                out.headers.emplace_back(std::move(pending_name), std::move(value));
            } else if (key == "body") {
                out.has_body = true;
                out.body += value;
            } else if (key == "rest") {
                out.rest += value;
            } else if (key == "status") {
                std::uint64_t n = 0;
                if (out.has_status) return fail("status: given twice");
                if (!detail::parse_number(raw, n) || n > 999) return fail("status: must be a number");
                out.has_status = true;
                out.status = static_cast<int>(n);
            } else {  // reason
                if (out.has_reason) return fail("reason: given twice");
                out.has_reason = true;
                out.reason = std::move(value);
            }
        } else {
            return fail("unknown key `" + std::string(key) + "`");
        }
    }
    ++line_no;
    if (pending_header) return fail("header: without value: at the end of the file");
    if (!seen_expect) return fail("no expect: line");
    if (what == kind::response && out.expect == expectation::ok && (!out.has_status || !out.has_reason)) {
        return fail("a response `expect: ok` needs status: and reason:");
    }
    if (what == kind::response && out.expect == expectation::need_more &&
        (out.has_headers || out.has_status || out.has_reason || !out.rest.empty())) {
        return fail("a response `expect: need_more` expects nothing more");
    }
    return true;
}

/// The `*.vec` files of `request/` or `response/`, sorted by name. Any other
/// entry there (a typo like `.vc`, a directory) is returned too, so the
/// runner can refuse it rather than skip it silently.
inline std::vector<std::filesystem::path> list(kind what) {
    const std::filesystem::path dir =
        std::filesystem::path(SCGI_VECTORS_DIR) / (what == kind::request ? "request" : "response");
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace scgi::test::vectors
