// scgi-call's exit statuses: curl's numbers wherever curl has the same
// failure, so that scripts written for curl read them the same way.
#pragma once

namespace scgi::tools {

/// What `scgi-call` exits with. Documented in `--help` and the README.
enum class exit_status : int {
    /// A response came (any status, unless `--fail`).
    ok = 0,
    /// A failure of scgi-call itself (out of memory, ...).
    internal = 1,
    /// The command line is wrong (unknown option, bad ENDPOINT, a -H
    /// without a colon, ...).
    usage = 2,
    /// The ENDPOINT's host name does not resolve.
    resolve = 6,
    /// No connection: refused, no socket file, no permission, unreachable.
    connect = 7,
    /// The response head is malformed, or the connection closed within it.
    bad_response = 8,
    /// The response body's length is not its Content-Length.
    length_mismatch = 18,
    /// `--fail` and a status of 400 or more.
    http_error = 22,
    /// Writing the output (stdout, `-o FILE`) failed.
    write_error = 23,
    /// Reading the body or the `--raw` file failed (or it shrank meanwhile).
    read_error = 26,
    /// `--timeout` passed.
    timeout = 28,
    /// The server closed the connection without sending a byte.
    empty_reply = 52,
    /// The connection failed during the exchange (reset, ...).
    network = 56,
};

}  // namespace scgi::tools
