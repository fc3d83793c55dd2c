// The request options scgi-call and scgi-bench share: what the command line
// says about the request, before it is turned into SCGI variables
// (request_variables.hpp) and body bytes (body_source.hpp). Part of the
// tools, not of the installed library.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace scgi::tools {

/// What the command line says about the request, as `add_request_options`
/// fills it in. Every field keeps the text as given: the checks run when
/// CLI11 parses (and again in `request_variables::build`).
struct request_options {
    /// `URI`: the request target, path and query (`/app/env?a=1`). Sent as
    /// REQUEST_URI byte for byte.
    std::string uri = "/";
    /// `-X METHOD`. Empty: GET, or POST when a body option is given (curl's
    /// rule).
    std::string method;
    /// `-H 'Name: value'`, in command-line order (see `request_variables`
    /// for what each becomes).
    std::vector<std::string> headers;
    /// `-e NAME=VALUE` (set a variable) or `-e NAME` (remove one), in order.
    std::vector<std::string> variables;
    /// `-d` / `--data-binary`: `DATA` as it is, `@FILE`, or `@-` for stdin
    /// (see `body_source::open`). Empty optional: no body option.
    std::optional<std::string> data;
};

/// Which names the body option gets.
enum class data_flags {
    /// `-d`, `--data` and `--data-binary`, as curl has them (scgi-call).
    curl,
    /// `--data` and `--data-binary` only, leaving `-d` to the tool
    /// (scgi-bench's duration).
    long_only,
};

/// Registers on `app`: the positional `URI` (optional), `-X/--request`,
/// `-H/--header`, `-e/--env`, and the body option (`-d/--data`,
/// `--data-binary`, see `data_flags`), writing into `options`, which must
/// outlive the parse. The options are put in the help group `group`.
///
/// Positional arguments are matched in the order they were added: add the
/// tool's `ENDPOINT` before calling this.
///
/// CLI11 refuses, while parsing: a `-H` that is neither `Name: value` nor
/// `Name;` or whose name is not an HTTP token; a `-e` with an empty name or
/// naming CONTENT_LENGTH or SCGI (the encoder writes those); an empty `-X`;
/// `--data` together with `--data-binary`, or either given twice.
void add_request_options(CLI::App& app, request_options& options, data_flags data = data_flags::curl,
                         const std::string& group = "Request");

/// A `-H` argument, split. Views into the argument.
struct header_argument {
    /// The HTTP header name as given (`X-Foo`).
    std::string_view name;
    /// The value, without the spaces and tabs around it.
    std::string_view value;
    /// `Name:` with nothing after the colon: remove the header (curl's rule).
    bool remove = false;
};

/// Splits a `-H` argument: `Name: value`; `Name:` (remove); `Name;` (an
/// empty value, curl's spelling). Empty optional and `reason` set when the
/// text is none of these, the name is not an HTTP token, or the value holds
/// CR or LF (nginx never forwards them; `-e` sends any bytes).
std::optional<header_argument> parse_header_argument(std::string_view text, std::string& reason);

/// A `-e` argument, split. Views into the argument.
struct variable_argument {
    /// The SCGI variable name, as given.
    std::string_view name;
    /// The value after the first `=`.
    std::string_view value;
    /// `NAME` without `=`: remove the variable.
    bool remove = false;
};

/// Splits a `-e` argument: `NAME=VALUE` or `NAME` (remove). Empty optional
/// and `reason` set for an empty name, or CONTENT_LENGTH or SCGI (always the
/// body's length and 1: the encoder writes them).
std::optional<variable_argument> parse_variable_argument(std::string_view text, std::string& reason);

}  // namespace scgi::tools
