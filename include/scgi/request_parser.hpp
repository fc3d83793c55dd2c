/// @file
/// Incremental, sans-I/O parser for one SCGI request (the server side).
#pragma once

#include <scgi/detail/scan_padding.hpp>
#include <scgi/error.hpp>
#include <scgi/parser_options.hpp>
#include <scgi/request_head.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

namespace scgi {

/// Parses one SCGI request from bytes fed in any slices: first the header
/// block (netstring), then the body, which is never buffered: each `put`
/// hands back the body bytes it consumed as a view into the caller's input.
///
/// The driving loop; the Asio layer runs it around socket reads
/// (`async_read_request_head`, `async_read_body_some`, and the server's own
/// head reading, which reads into a per-thread buffer so that a connection
/// waiting for its head holds none):
///
///     for (;;) {
///         std::size_t n = parser.put(input, ec);
///         input.remove_prefix(n);
///         if (ec == scgi::error::need_more) { /* read more into input */ continue; }
///         if (ec) { /* refuse the request: ec.message() names the rule */ break; }
///         if (!parser.body_piece().empty()) { /* use the piece */ }
///         if (parser.is_done()) break;
///     }
///
/// Guarantees, for every way of splitting the same input into `put` calls:
/// the same head, the same concatenation of body pieces, the same final
/// outcome (done, or the same error value); a strict prefix of a valid request
/// only ever yields `error::need_more`; no more than CONTENT_LENGTH body bytes
/// are consumed; nothing past the end of the input is read.
///
/// Memory: the header block is copied once into storage the parser owns (so
/// the head outlives the caller's read buffer), growing as its bytes arrive
/// rather than as declared; header names and values are views into it, with
/// no allocation per header. After `reset()` the storage
/// is kept, so a warm parser parses further requests without allocating.
///
/// A parser handles one request. After it is done or failed, `reset()` it to
/// parse another. Not thread-safe; one parser per connection.
class request_parser {
public:
    /// A parser with the given limits and switches (strict by default).
    /// Throws `std::invalid_argument` if `options.limits.header_block_bytes`
    /// exceeds `limits::max_header_block_bytes` (a programming error).
    explicit request_parser(parser_options options = {});

    /// The options this parser was made with.
    const parser_options& options() const noexcept { return options_; }

    /// Consumes a prefix of `input` and returns its length.
    ///
    /// Outcomes, with `ec`:
    /// - `error::need_more`: all of `input` was consumed and no event
    ///   happened; call again with more bytes.
    /// - no error, `is_head_done()` just became true: consumption stops right
    ///   after the `,` that ends the header block, so the caller can look at
    ///   the head before any body byte is taken; bytes after it are left.
    /// - no error, in the body: `body_piece()` is the consumed bytes (at most
    ///   what remains of CONTENT_LENGTH). `is_done()` once the body is whole.
    /// - any other error: the request is refused; the value names the broken
    ///   rule, the parser stays failed (every later call returns the same
    ///   error and consumes nothing) until `reset()`.
    ///
    /// Bytes after the end of the body are never consumed: a `put` that
    /// completes the request leaves them in `input`, and a `put` with a
    /// non-empty `input` on a done parser fails with `error::trailing_data`
    /// (SCGI allows one request per connection). An empty `input` on a done
    /// parser is no error.
    ///
    /// Header block errors are reported once the whole declared block and its
    /// `,` have arrived, in this order: framing (`,`), structure (strings,
    /// names, header count), duplicates, CONTENT_LENGTH rules (its agreement
    /// with HTTP_CONTENT_LENGTH last), SCGI rules, body
    /// limit. Length-prefix errors and `header_block_too_large` are reported at
    /// the offending byte, before anything is allocated.
    std::size_t put(std::string_view input, std::error_code& ec) {
        // Inline fast paths for the calls a streaming server makes most: a
        // slice that stays inside the header block (a peer trickling its
        // head) and body bytes. Everything else goes out of line.
        if (state_ == state::block && input.size() < declared_ - filled_ &&
            filled_ + input.size() + detail::nul_scan_padding <= head_.storage_.size()) {
            char* const to = head_.storage_.data() + filled_;
            if (input.size() <= 8) {  // a trickle: cheaper than calling memcpy
                for (std::size_t i = 0; i < input.size(); ++i) to[i] = input[i];
            } else {
                std::memcpy(to, input.data(), input.size());
            }
            filled_ += input.size();
            body_piece_ = {};
            ec = error::need_more;
            return input.size();
        }
        if (state_ == state::body) {
            body_piece_ = input.substr(0, body_remaining_ < input.size()
                                              ? static_cast<std::size_t>(body_remaining_)
                                              : input.size());
            if (body_piece_.empty()) {
                ec = error::need_more;
                return 0;
            }
            body_remaining_ -= body_piece_.size();
            if (body_remaining_ == 0) state_ = state::done;
            ec.clear();
            return body_piece_.size();
        }
        return put_slow(input, ec);
    }

    /// Tells the parser that the input has ended (the peer closed its side).
    /// No error if the request is done; the stored error if the parser has
    /// failed; otherwise `error::partial_request` (and the parser fails).
    void put_eof(std::error_code& ec);

    /// True once any byte of the request has been consumed.
    bool is_started() const noexcept { return started_; }

    /// True once the header block has been parsed and validated.
    bool is_head_done() const noexcept {
        return state_ == state::body || state_ == state::done;
    }

    /// True once the whole body has been consumed.
    bool is_done() const noexcept { return state_ == state::done; }

    /// The parsed head. Precondition: `is_head_done()`. Valid until `reset()`,
    /// `release_head()` or the parser's destruction.
    const request_head& head() const noexcept { return head_; }

    /// Moves the head out (to keep it past `reset()`); the parser then needs
    /// `reset()` and allocates afresh for its next request.
    /// Precondition: `is_head_done()`.
    request_head release_head() noexcept;

    /// The body bytes consumed by the last `put`, as a view into that call's
    /// `input`; empty if it consumed none. Valid as long as the caller keeps
    /// those bytes.
    std::string_view body_piece() const noexcept { return body_piece_; }

    /// Body bytes still to come (CONTENT_LENGTH minus those consumed); 0 before
    /// the head is done.
    std::uint64_t body_remaining() const noexcept { return body_remaining_; }

    /// Prepares for a new request, keeping allocated storage (up to a bound:
    /// what a request with thousands of headers needed is released).
    void reset() noexcept;

private:
    enum class state : unsigned char { length, block, comma, body, done, failed };

    /// Where CONTENT_LENGTH and SCGI are among the kept entries.
    struct special_headers {
        static constexpr std::size_t absent = static_cast<std::size_t>(-1);
        std::size_t content_length = absent;
        std::size_t scgi = absent;
        std::size_t http_content_length = absent;
    };

    std::size_t put_slow(std::string_view input, std::error_code& ec);
    std::size_t fail(error e, std::size_t consumed, std::error_code& ec) noexcept;
    void begin_block();
    void reserve_block(std::size_t size);
    std::optional<error> parse_block();
    std::optional<error> split_block(special_headers& special);
    template <class Visit>
    std::optional<error> for_each_pair(Visit&& visit) const;
    bool merge_duplicate(const request_head::entry& current, std::optional<error>& duplicate);
    std::optional<error> duplicate_error(std::string_view name) const noexcept;
    std::optional<error> collect_pairs();
    std::optional<error> deduplicate_hashed(special_headers& special);

    parser_options options_;
    request_head head_;
    std::vector<std::uint32_t> name_scratch_;  // deduplicate_hashed's table
    std::uint64_t hash_seed_;                  // for deduplicate_hashed: random per parser
    std::string_view body_piece_;
    std::uint64_t body_remaining_ = 0;
    std::size_t declared_ = 0;   // <len> of the netstring, as parsed so far
    std::size_t filled_ = 0;     // header block bytes copied so far
    unsigned digits_ = 0;        // digits of <len> seen so far
    state state_ = state::length;
    error error_ = error::need_more;
    bool started_ = false;
};

}  // namespace scgi
