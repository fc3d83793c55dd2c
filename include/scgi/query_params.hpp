/// @file
/// Splitting a query string into parameters, and finding one.
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace scgi {

/// One `name=value` pair of a query string, still percent-encoded (views into
/// the query string). A pair without `=` has an empty value.
struct query_param {
    /// The part before the first `=`, still percent-encoded; may be empty.
    std::string_view name;
    /// The part after the first `=`, still percent-encoded; empty without `=`.
    std::string_view value;

    /// Equal names and equal values, compared byte for byte (not where the
    /// views point).
    friend bool operator==(const query_param&, const query_param&) = default;
};

/// The parameters of a raw query string (`a=1&b=2`), split on `&` without
/// decoding or allocating; empty segments (`a=1&&b=2`) are skipped. A view:
/// the query string must outlive it and its iterators.
///
///     for (scgi::query_param p : scgi::query_params(request.query())) ...
class query_params {
public:
    /// A forward iterator over the parameters, in order. Valid as long as the
    /// query string it walks.
    class iterator {
    public:
        /// Multi-pass, increment only.
        using iterator_category = std::forward_iterator_tag;
        /// What `*it` yields.
        using value_type = query_param;
        /// The distance between two iterators.
        using difference_type = std::ptrdiff_t;
        /// `*it` returns a `query_param` by value, not a reference.
        using reference = query_param;
        /// There is no `operator->`: `*it` is a temporary.
        using pointer = void;

        /// The end iterator, as `query_params::end()` returns.
        iterator() = default;
        /// The current parameter. Precondition: not the end iterator.
        query_param operator*() const noexcept { return current_; }
        /// Moves to the next parameter, skipping empty segments, or to the end.
        iterator& operator++() noexcept { advance(); return *this; }
        /// As prefix `++`, returning the iterator as it was before.
        iterator operator++(int) noexcept { iterator old = *this; advance(); return old; }
        /// Equal at the same position of the same query string, or both at the
        /// end.
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.rest_.data() == b.rest_.data() && a.done_ == b.done_;
        }

    private:
        friend class query_params;
        explicit iterator(std::string_view query) noexcept : rest_(query) { advance(); }
        void advance() noexcept;

        std::string_view rest_;  // the query after the current parameter
        query_param current_;
        bool done_ = true;
    };

    /// The parameters of `query` (without the leading `?`). Stores the view
    /// only; nothing is split until iteration.
    explicit query_params(std::string_view query) noexcept : query_(query) {}

    /// The first parameter, or `end()` if the query holds none.
    iterator begin() const noexcept { return iterator(query_); }
    /// Past the last parameter.
    iterator end() const noexcept { return {}; }

private:
    std::string_view query_;
};

/// The value of the first parameter whose decoded name is `name`, decoded
/// (`\%XY` and `+` as space). `std::nullopt` if there is none, or on error.
///
/// Error: `error::bad_percent_encoding` in the name or value of a parameter
/// examined before the match (names) or of the match (its value).
std::optional<std::string> find_query_param(std::string_view query, std::string_view name,
                                            std::error_code& ec);

/// Appends every parameter of `query` to `out`, decoded, in order.
/// Error: `error::bad_percent_encoding`; `out` is then left as it was.
[[nodiscard]] std::error_code decode_query(std::string_view query,
                                           std::vector<std::pair<std::string, std::string>>& out);

}  // namespace scgi
