/// @file
/// The whole SCGI codec: one include for users who want all of it.
#pragma once

#include <scgi/encode_request.hpp>
#include <scgi/error.hpp>
#include <scgi/header.hpp>
#include <scgi/limits.hpp>
#include <scgi/parser_options.hpp>
#include <scgi/percent_decode.hpp>
#include <scgi/query_params.hpp>
#include <scgi/request_head.hpp>
#include <scgi/request_parser.hpp>
#include <scgi/response_head.hpp>
#include <scgi/response_parser.hpp>
#include <scgi/status.hpp>

/// @namespace scgi
/// Everything asio-scgi offers. The codec (target `scgi::codec`, headers in
/// `scgi/`, included whole by `scgi/scgi.hpp`) needs only the standard library
/// and does no I/O; the server, client and composed operations (target
/// `scgi::asio`, headers in `scgi/asio/`) build on it with standalone Asio.
/// Failures a peer can cause come back as `std::error_code` values
/// (`scgi::error`, `scgi::condition`), never as exceptions.
