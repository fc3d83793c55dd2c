// scgi-call's one exchange with a server: connect, send the request while
// reading the response, write what comes back to the output.
#pragma once

#include "common/body_source.hpp"
#include "exit_status.hpp"

#include <scgi/asio/endpoint.hpp>
#include <scgi/header.hpp>

#include <asio/generic/stream_protocol.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace scgi::tools {

/// What goes to the output.
enum class output_mode {
    /// The response body (the default).
    body,
    /// The response head as received, then the body (`-i`).
    head_and_body,
    /// The response head as received (`-I`); the body is not read.
    head_only,
    /// Every byte received, as received (`--raw`).
    raw,
};

/// One exchange's settings.
struct exchange_settings {
    /// Where to, for messages.
    endpoint target;
    /// Its addresses, tried in order (`scgi::resolve`).
    std::vector<asio::generic::stream_protocol::endpoint> addresses;
    /// The request's variables (not CONTENT_LENGTH and SCGI), which must
    /// encode (`scgi::encode_request` succeeds for them). Unused with
    /// `output_mode::raw`.
    std::vector<header> headers;
    /// The body, or with `output_mode::raw` the whole request. Must outlive
    /// the exchange.
    const body_source* body = nullptr;
    /// With `output_mode::raw`, nothing is encoded: `body` goes out as it is.
    output_mode output = output_mode::body;
    /// REQUEST_METHOD: a response to HEAD has a Content-Length but no body.
    std::string method;
    /// `--fail`: a status of 400 or more is `exit_status::http_error`, and
    /// nothing is written to the output.
    bool fail_on_http_error = false;
    /// `-v`: the request head sent and the response head received, on stderr.
    bool verbose = false;
    /// Connection and whole exchange, writing the output included; none:
    /// wait as long as it takes.
    std::optional<std::chrono::milliseconds> timeout;
    /// Where the output goes: a file (`-o`), or stdout if empty or `-`. The
    /// file is created (or truncated) when the first byte is to be written,
    /// or at the end of a successful exchange with nothing to write: a
    /// failed exchange leaves an existing file as it was (as curl does).
    std::string output_path;
};

/// How an exchange ended: the exit status and, unless `ok`, one line saying
/// why (without the program's name or the endpoint).
struct exchange_result {
    exit_status status = exit_status::ok;
    std::string message;
};

/// Runs the exchange. The request is written (from `body` in pieces, never
/// whole) while the response is read, so a server that answers before it
/// has read the whole body is heard. The response is written to the output
/// piece by piece as it arrives. Network and local failures are results, not
/// exceptions; so is an exception thrown inside the exchange
/// (`exit_status::internal`).
exchange_result run_exchange(const exchange_settings& settings);

}  // namespace scgi::tools
