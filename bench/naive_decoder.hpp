// BASELINE (a) for the codec benchmarks — not library code.
//
// A straightforward incremental SCGI request decoder written the way the Rust
// crate tokio-scgi's `SCGICodec` decoder is (src/server.rs there): a state
// machine over length / key / value / comma / body; a byte-at-a-time search
// for ':' and NUL; every header name and value copied into its own owned
// string, pushed as a pair onto a vector the decoder hands over per request;
// body bytes passed through as views (tokio-scgi's `split_to` is zero-copy,
// so copying them here would be unfair to the baseline).
//
// It does the validation a naive decoder does: parse the length (digits, no
// leading zero, a limit), check the ':' and the ',', split the strings at NUL
// within the declared block (non-empty names, even string count), then
// CONTENT_LENGTH first and numeric, SCGI == "1". It does not detect duplicate
// names (tokio-scgi does not either), so the library parser does strictly more
// work than this baseline. Unlike tokio-scgi it skips UTF-8 validation (C++
// strings are bytes), which makes the baseline faster, not slower.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scgi_bench::baseline {

class naive_decoder {
public:
    using headers_type = std::vector<std::pair<std::string, std::string>>;

    enum class status {
        need_more,  // all input consumed, nothing happened
        head_done,  // the headers are complete (`headers()`); consumption stops after ','
        body,       // `body_piece()` holds consumed body bytes
        done,       // the whole request has been consumed
        failed,     // the request is malformed
    };

    /// Consumes a prefix of `input`, returns its length; `st` says what happened.
    std::size_t put(std::string_view input, status& st) {
        body_piece_ = {};
        const char* const first = input.data();
        const char* const last = first + input.size();
        const char* p = first;
        const auto consumed = [&] { return static_cast<std::size_t>(p - first); };
        const auto fail = [&] {
            state_ = state::failed;
            st = status::failed;
            return consumed();
        };
        for (;;) {
            switch (state_) {
            case state::length: {
                // Search byte by byte for ':', collecting the digits.
                const char* q = p;
                while (q != last && *q != ':') ++q;
                length_text_.append(p, q);
                p = q;
                if (p == last) {
                    if (length_text_.size() > 10) return fail();
                    st = status::need_more;
                    return consumed();
                }
                ++p;  // ':'
                if (length_text_.empty()) return fail();
                if (length_text_.size() > 1 && length_text_[0] == '0') return fail();
                std::size_t value = 0;
                for (const char c : length_text_) {
                    if (c < '0' || c > '9') return fail();
                    value = value * 10 + static_cast<std::size_t>(c - '0');
                    if (value > max_header_bytes) return fail();
                }
                header_remaining_ = value;
                state_ = value == 0 ? state::comma : state::key;
                break;
            }
            case state::key:
            case state::value: {
                // Search byte by byte for NUL, within the declared block.
                const std::size_t room = static_cast<std::size_t>(last - p);
                const char* const end = p + (room < header_remaining_ ? room : header_remaining_);
                const char* q = p;
                while (q != end && *q != '\0') ++q;
                current_.append(p, q);
                header_remaining_ -= static_cast<std::size_t>(q - p);
                p = q;
                if (p == end) {
                    if (header_remaining_ == 0) return fail();  // string runs past the block
                    st = status::need_more;
                    return consumed();
                }
                ++p;  // NUL
                --header_remaining_;
                if (state_ == state::key) {
                    if (current_.empty()) return fail();  // empty name
                    key_ = std::move(current_);
                    current_ = std::string();
                    state_ = state::value;
                } else {
                    headers_.emplace_back(std::move(key_), std::move(current_));
                    key_ = std::string();
                    current_ = std::string();
                    state_ = header_remaining_ == 0 ? state::comma : state::key;
                }
                break;
            }
            case state::comma: {
                if (p == last) {
                    st = status::need_more;
                    return consumed();
                }
                if (*p != ',') return fail();
                ++p;
                if (!validate()) return fail();
                state_ = body_remaining_ == 0 ? state::done : state::body;
                st = status::head_done;
                return consumed();
            }
            case state::body: {
                if (p == last) {
                    st = status::need_more;
                    return consumed();
                }
                const std::size_t room = static_cast<std::size_t>(last - p);
                const std::size_t n =
                    body_remaining_ < room ? static_cast<std::size_t>(body_remaining_) : room;
                body_piece_ = std::string_view(p, n);
                body_remaining_ -= n;
                p += n;
                if (body_remaining_ == 0) state_ = state::done;
                st = status::body;
                return consumed();
            }
            case state::done:
                st = p == last ? status::done : status::failed;
                return 0;
            case state::failed:
                st = status::failed;
                return 0;
            }
        }
    }

    bool is_done() const noexcept { return state_ == state::done; }
    headers_type& headers() noexcept { return headers_; }
    std::string_view body_piece() const noexcept { return body_piece_; }
    std::uint64_t content_length() const noexcept { return content_length_; }

private:
    enum class state { length, key, value, comma, body, done, failed };
    static constexpr std::size_t max_header_bytes = 64 * 1024;

    // CONTENT_LENGTH first and numeric, SCGI present and "1".
    bool validate() {
        if (headers_.empty() || headers_.front().first != "CONTENT_LENGTH") return false;
        const std::string& cl = headers_.front().second;
        if (cl.empty() || cl.size() > 19) return false;
        std::uint64_t value = 0;
        for (const char c : cl) {
            if (c < '0' || c > '9') return false;
            value = value * 10 + static_cast<std::uint64_t>(c - '0');
        }
        bool scgi_ok = false;
        for (const auto& [name, v] : headers_) {
            if (name == "SCGI") {
                scgi_ok = v == "1";
                break;
            }
        }
        if (!scgi_ok) return false;
        content_length_ = value;
        body_remaining_ = value;
        return true;
    }

    state state_ = state::length;
    std::string length_text_;
    std::string key_;
    std::string current_;
    headers_type headers_;
    std::size_t header_remaining_ = 0;
    std::uint64_t content_length_ = 0;
    std::uint64_t body_remaining_ = 0;
    std::string_view body_piece_;
};

}  // namespace scgi_bench::baseline
