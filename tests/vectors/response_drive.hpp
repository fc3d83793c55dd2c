// Test support: feeding a response_parser in chunks and recording what it
// reports, the counterpart of support/drive.hpp for the request parser.
#pragma once

#include <drive.hpp>
#include <scgi/response_parser.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace scgi::test {

/// All that a response head parse produced, comparable across splits.
struct response_outcome {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;  // when the head completed
    std::error_code error;     // need_more if the input ran out, else the failure or none
    bool head_done = false;
    std::size_t consumed = 0;  // bytes the parser took in total
    std::string rest;          // the input after the head, once it is done

    friend bool operator==(const response_outcome&, const response_outcome&) = default;
};

/// Feeds `input` cut at `cuts` (increasing offsets inside the input). The
/// parser is reset first. With `eof`, ends with put_eof when the input runs
/// out before the head is complete.
inline response_outcome drive_response(response_parser& parser, std::string_view input,
                                       std::span<const std::size_t> cuts, bool eof = false,
                                       const chunk_placer& place = {}) {
    parser.reset();
    response_outcome out;
    std::size_t from = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t to = i < cuts.size() ? cuts[i] : input.size();
        std::string_view chunk = input.substr(from, to - from);
        if (place) chunk = place(chunk);
        from = to;
        std::error_code ec;
        const std::size_t n = parser.put(chunk, ec);
        if (n > chunk.size()) {  // a parser bug; make it loud
            out.error = std::make_error_code(std::errc::result_out_of_range);
            return out;
        }
        out.consumed += n;
        if (ec == error::need_more) {
            if (n != chunk.size()) {  // need_more promises the whole input was taken
                out.error = std::make_error_code(std::errc::protocol_error);
                return out;
            }
            continue;
        }
        if (ec) {
            out.error = ec;
            return out;
        }
        if (!parser.is_head_done()) {  // no error, no need_more: must be done
            out.error = std::make_error_code(std::errc::state_not_recoverable);
            return out;
        }
        out.head_done = true;
        const response_head& h = parser.head();
        out.status = h.status();
        out.reason = std::string(h.reason());
        for (const header hd : h) out.headers.emplace_back(hd.name, hd.value);
        out.rest = std::string(input.substr(out.consumed));
        // Once done, the parser takes nothing more and reports no error.
        std::error_code again;
        if (parser.put(input.substr(out.consumed), again) != 0 || again) {
            out.error = std::make_error_code(std::errc::state_not_recoverable);
        }
        return out;
    }
    out.error = error::need_more;
    if (eof) parser.put_eof(out.error);
    return out;
}

inline response_outcome drive_response_chunks(response_parser& parser, std::string_view input,
                                              std::size_t chunk_size, bool eof = false) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = chunk_size; at < input.size(); at += chunk_size) cuts.push_back(at);
    return drive_response(parser, input, cuts, eof);
}

inline response_outcome drive_response_whole(response_parser& parser, std::string_view input,
                                             bool eof = false) {
    return drive_response(parser, input, {}, eof);
}

}  // namespace scgi::test
