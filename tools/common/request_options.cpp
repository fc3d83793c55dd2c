#include "common/request_options.hpp"

#include <scgi/detail/ascii.hpp>

#include <CLI/CLI.hpp>

#include <string>

namespace scgi::tools {
namespace {

// A CLI11 validator from one of the parse_* functions below. CLI11 hands the
// check a copy it may rewrite; these only look.
template <class Parse>
CLI::Validator validator(Parse parse) {
    return CLI::Validator(
        [parse](std::string& text) {
            std::string reason;
            (void)parse(text, reason);
            return reason;
        },
        "");
}

}  // namespace

std::optional<header_argument> parse_header_argument(std::string_view text, std::string& reason) {
    header_argument out;
    const auto colon = text.find(':');
    if (colon != std::string_view::npos) {
        out.name = text.substr(0, colon);
        out.value = detail::trim_blanks(text.substr(colon + 1));
        out.remove = out.value.empty();
    } else if (text.ends_with(';')) {
        out.name = text.substr(0, text.size() - 1);
    } else {
        reason = "-H wants 'Name: value' (or 'Name:' to remove, 'Name;' for an empty value), got '" +
                 std::string(text) + "'";
        return std::nullopt;
    }
    if (!detail::is_token(out.name)) {
        reason = "-H: '" + std::string(out.name) + "' is not an HTTP header name (letters, digits, !#$%&'*+-.^_`|~)";
        return std::nullopt;
    }
    if (out.value.find_first_of("\r\n") != std::string_view::npos) {
        reason = "-H: the value of " + std::string(out.name) + " holds CR or LF; -e sends any bytes";
        return std::nullopt;
    }
    return out;
}

std::optional<variable_argument> parse_variable_argument(std::string_view text, std::string& reason) {
    variable_argument out;
    const auto equals = text.find('=');
    out.name = text.substr(0, equals);
    out.remove = equals == std::string_view::npos;
    if (!out.remove) out.value = text.substr(equals + 1);
    if (out.name.empty()) {
        reason = "-e wants NAME=VALUE or NAME, got '" + std::string(text) + "'";
        return std::nullopt;
    }
    if (out.name == "CONTENT_LENGTH" || out.name == "SCGI") {
        reason = "-e cannot set " + std::string(out.name) +
                 ": it is always the body's length and 1 (a raw request file can hold anything)";
        return std::nullopt;
    }
    return out;
}

void add_request_options(CLI::App& app, request_options& options, data_flags data_names, const std::string& group) {
    const CLI::Validator nonempty(
        [](std::string& value) { return value.empty() ? std::string("must not be empty") : std::string(); }, "");

    app.add_option("URI", options.uri, "Request target, path and query, sent as REQUEST_URI as it is (default /)");
    app.add_option("-X,--request", options.method, "Request method (default GET, or POST with a body option)")
        ->option_text("METHOD")
        ->check(nonempty)
        ->group(group);
    app.add_option("-H,--header", options.headers,
                   "HTTP header, as nginx forwards it: 'X-Foo: bar' becomes HTTP_X_FOO=bar; Content-Type also "
                   "sets CONTENT_TYPE; Host sets HTTP_HOST to the host without the port; a repeated name is "
                   "joined with ', ' ('; ' for Cookie); 'Name:' removes a default, 'Name;' sends an empty "
                   "value")
        ->option_text("'NAME: VALUE'")
        ->allow_extra_args(false)  // one value per -H: positionals may follow
        ->check(validator(parse_header_argument))
        ->group(group);
    app.add_option("-e,--env", options.variables,
                   "Raw SCGI variable: replaces a variable of that name in place, or is appended; '-e NAME' "
                   "removes one. Applied after -H")
        ->option_text("NAME=VALUE")
        ->allow_extra_args(false)
        ->check(validator(parse_variable_argument))
        ->group(group);
    const auto set_data = [&options](const std::string& value) { options.data = value; };
    auto* data = app.add_option_function<std::string>(
                        data_names == data_flags::curl ? "-d,--data" : "--data", set_data,
                        "Request body: DATA as it is, @FILE, or @- for stdin, sent byte for byte (unlike curl, "
                        "no newline is stripped). Implies -X POST, sends HTTP_CONTENT_LENGTH and Content-Type "
                        "application/x-www-form-urlencoded unless -X or -H say otherwise")
                     ->option_text("DATA|@FILE|@-")
                     ->group(group);
    auto* binary = app.add_option_function<std::string>("--data-binary", set_data, "The same as --data")
                       ->option_text("DATA|@FILE|@-")
                       ->group(group);
    data->excludes(binary);
}

}  // namespace scgi::tools
