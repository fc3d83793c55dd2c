// A random-access iterator over a container indexed by position, yielding its
// `operator[]` results by value. Not part of the public API.
#pragma once

#include <compare>
#include <cstddef>
#include <iterator>

namespace scgi::detail {

template <class Container, class Value>
class indexed_iterator {
public:
    using iterator_category = std::random_access_iterator_tag;
    using iterator_concept = std::random_access_iterator_tag;
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using reference = Value;
    using pointer = void;

    indexed_iterator() = default;
    indexed_iterator(const Container* container, std::size_t index) noexcept
        : container_(container), index_(static_cast<difference_type>(index)) {}

    Value operator*() const noexcept { return (*container_)[static_cast<std::size_t>(index_)]; }
    Value operator[](difference_type n) const noexcept {
        return (*container_)[static_cast<std::size_t>(index_ + n)];
    }

    indexed_iterator& operator++() noexcept { ++index_; return *this; }
    indexed_iterator operator++(int) noexcept { auto old = *this; ++index_; return old; }
    indexed_iterator& operator--() noexcept { --index_; return *this; }
    indexed_iterator operator--(int) noexcept { auto old = *this; --index_; return old; }
    indexed_iterator& operator+=(difference_type n) noexcept { index_ += n; return *this; }
    indexed_iterator& operator-=(difference_type n) noexcept { index_ -= n; return *this; }
    friend indexed_iterator operator+(indexed_iterator it, difference_type n) noexcept { return it += n; }
    friend indexed_iterator operator+(difference_type n, indexed_iterator it) noexcept { return it += n; }
    friend indexed_iterator operator-(indexed_iterator it, difference_type n) noexcept { return it -= n; }
    friend difference_type operator-(const indexed_iterator& a, const indexed_iterator& b) noexcept {
        return a.index_ - b.index_;
    }
    friend bool operator==(const indexed_iterator& a, const indexed_iterator& b) noexcept {
        return a.index_ == b.index_;
    }
    friend std::strong_ordering operator<=>(const indexed_iterator& a, const indexed_iterator& b) noexcept {
        return a.index_ <=> b.index_;
    }

private:
    const Container* container_ = nullptr;
    difference_type index_ = 0;
};

}  // namespace scgi::detail
