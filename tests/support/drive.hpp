// Test support: feeding a request_parser the way a socket would, in chunks,
// and recording everything it reports.
#pragma once

#include <scgi/request_parser.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace scgi::test {

/// All that a parse produced, comparable across splits of the same input.
struct parse_outcome {
    std::vector<std::pair<std::string, std::string>> headers;  // when the head completed
    std::uint64_t content_length = 0;
    std::string body;          // concatenation of the body pieces
    std::error_code error;     // need_more if the input ran out, else the failure or none
    bool head_done = false;
    bool done = false;
    std::size_t consumed = 0;  // bytes the parser took in total

    friend bool operator==(const parse_outcome&, const parse_outcome&) = default;
};

/// Where a driver puts each chunk before handing it to the parser: by default
/// nowhere (the chunk is a view into the input); the over-read test copies it
/// against an inaccessible page.
using chunk_placer = std::function<std::string_view(std::string_view)>;

/// Feeds `input` cut at `cuts` (increasing offsets inside the input) with the
/// canonical driving loop. The parser is reset first. With `eof`, ends with
/// put_eof when the input runs out before the request is complete.
inline parse_outcome drive(request_parser& parser, std::string_view input,
                           std::span<const std::size_t> cuts, bool eof = false,
                           const chunk_placer& place = {}) {
    parser.reset();
    parse_outcome out;
    std::size_t from = 0;
    const auto record_head = [&] {
        if (out.head_done || !parser.is_head_done()) return;
        out.head_done = true;
        out.content_length = parser.head().content_length();
        for (const header h : parser.head()) out.headers.emplace_back(h.name, h.value);
    };
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t to = i < cuts.size() ? cuts[i] : input.size();
        std::string_view chunk = input.substr(from, to - from);
        if (place) chunk = place(chunk);
        from = to;
        for (;;) {
            std::error_code ec;
            const std::size_t n = parser.put(chunk, ec);
            if (n > chunk.size()) {  // a parser bug; make it loud
                out.error = std::make_error_code(std::errc::result_out_of_range);
                return out;
            }
            chunk.remove_prefix(n);
            out.consumed += n;
            record_head();
            out.body += parser.body_piece();
            if (ec == error::need_more) break;  // next chunk
            if (ec) {
                out.error = ec;
                out.done = parser.is_done();
                return out;
            }
            if (parser.is_done() && chunk.empty()) break;
        }
    }
    out.done = parser.is_done();
    if (!out.done) {
        out.error = error::need_more;
        if (eof) parser.put_eof(out.error);
    }
    return out;
}

/// Feeds `input` in chunks of `chunk_size` bytes (the last may be shorter).
inline parse_outcome drive_chunks(request_parser& parser, std::string_view input,
                                  std::size_t chunk_size, bool eof = false) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk_size; at < input.size(); at += chunk_size) cuts.push_back(at);
    return drive(parser, input, cuts, eof);
}

/// Feeds `input` whole.
inline parse_outcome drive_whole(request_parser& parser, std::string_view input, bool eof = false) {
    return drive(parser, input, {}, eof);
}

}  // namespace scgi::test
