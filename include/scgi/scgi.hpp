// The whole SCGI codec: one include for users who want all of it.
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
