#include <scgi/asio/peer_filter.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace scgi {
namespace {

constexpr std::array<unsigned char, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
constexpr unsigned v4_mapped_bits = 96;

// The address of an AF_INET or AF_INET6 socket address in IPv4-mapped IPv6
// form; false for other families or a truncated address.
bool mapped_address(const sockaddr* address, std::size_t length, std::array<unsigned char, 16>& out) noexcept {
    if (address == nullptr || length < sizeof(sa_family_t)) return false;
    if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
        sockaddr_in v4{};
        std::memcpy(&v4, address, sizeof v4);
        std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), out.begin());
        std::memcpy(out.data() + 12, &v4.sin_addr, 4);
        return true;
    }
    if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, address, sizeof v6);
        std::memcpy(out.data(), &v6.sin6_addr, 16);
        return true;
    }
    return false;
}

// True if the first `bits` bits of `a` and `b` are equal.
bool same_leading_bits(const std::array<unsigned char, 16>& a, const std::array<unsigned char, 16>& b,
                       unsigned bits) noexcept {
    const unsigned whole = bits / 8;
    if (std::memcmp(a.data(), b.data(), whole) != 0) return false;
    const unsigned rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

// True if any bit of `a` past the first `bits` is set.
bool bits_set_after(const std::array<unsigned char, 16>& a, unsigned bits) noexcept {
    for (unsigned i = bits; i < 128; ++i) {
        if ((a[i / 8] >> (7 - i % 8)) & 1) return true;
    }
    return false;
}

}  // namespace

address_prefix address_prefix::parse(std::string_view text, std::error_code& ec) {
    ec.clear();
    const auto slash = text.find('/');
    const std::string_view address_text = text.substr(0, slash);
    // Longer than any numeric address: refused before copying it. A NUL
    // would end the C string inet_pton reads, which would then never see
    // what follows it ("10.0.0.1\0junk" would pass as 10.0.0.1).
    if (address_text.empty() || address_text.size() >= INET6_ADDRSTRLEN ||
        address_text.find('\0') != std::string_view::npos) {
        ec = error::address_prefix_invalid;
        return {};
    }
    const std::string terminated(address_text);  // inet_pton wants a C string

    address_prefix prefix;
    unsigned max_length = 0;
    in_addr v4{};
    if (::inet_pton(AF_INET, terminated.c_str(), &v4) == 1) {
        prefix.family_ = family::v4;
        std::copy(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), prefix.mapped_.begin());
        std::memcpy(prefix.mapped_.data() + 12, &v4, 4);
        max_length = 32;
    } else if (::inet_pton(AF_INET6, terminated.c_str(), prefix.mapped_.data()) == 1) {
        prefix.family_ = family::v6;
        max_length = 128;
    } else {
        ec = error::address_prefix_invalid;
        return {};
    }

    unsigned length = max_length;
    if (slash != std::string_view::npos) {
        const std::string_view length_text = text.substr(slash + 1);
        // At most three digits: "/0032" is not a length anyone writes.
        if (length_text.size() > 3 || detail::parse_decimal(length_text, length) != 0 || length > max_length) {
            ec = error::address_prefix_length_invalid;
            return {};
        }
    }
    const unsigned mapped_length = prefix.family_ == family::v4 ? v4_mapped_bits + length : length;
    if (bits_set_after(prefix.mapped_, mapped_length)) {
        ec = error::address_prefix_host_bits_set;
        return {};
    }
    prefix.mapped_length_ = static_cast<unsigned char>(mapped_length);
    return prefix;
}

address_prefix address_prefix::parse(std::string_view text) {
    std::error_code ec;
    address_prefix prefix = parse(text, ec);
    if (ec) {
        // what() is a C string: a NUL in the text is shown, not left to cut it.
        std::string quoted;
        for (const char c : text) quoted += c == '\0' ? std::string_view("\\0") : std::string_view(&c, 1);
        throw std::system_error(ec, "scgi::address_prefix::parse(\"" + quoted + "\")");
    }
    return prefix;
}

bool address_prefix::contains(const sockaddr* address, std::size_t length) const noexcept {
    if (family_ == family::none) return false;
    std::array<unsigned char, 16> peer{};
    if (!mapped_address(address, length, peer)) return false;
    return same_leading_bits(peer, mapped_, mapped_length_);
}

std::string address_prefix::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    switch (family_) {
    case family::none:
        return "none";
    case family::v4:
        ::inet_ntop(AF_INET, mapped_.data() + 12, text, sizeof text);
        return std::string(text) + "/" + std::to_string(mapped_length_ - v4_mapped_bits);
    case family::v6:
        ::inet_ntop(AF_INET6, mapped_.data(), text, sizeof text);
        return std::string(text) + "/" + std::to_string(mapped_length_);
    }
    return "none";
}

bool peer_filter::admits_address(const sockaddr* address, std::size_t length) const noexcept {
    if (allowed_addresses.empty()) return true;
    return std::any_of(allowed_addresses.begin(), allowed_addresses.end(),
                       [&](const address_prefix& prefix) { return prefix.contains(address, length); });
}

bool peer_filter::admits_credentials(uid_t uid, gid_t gid) const noexcept {
    if (!checks_credentials()) return true;
    return std::find(allowed_uids.begin(), allowed_uids.end(), uid) != allowed_uids.end() ||
           std::find(allowed_gids.begin(), allowed_gids.end(), gid) != allowed_gids.end();
}

}  // namespace scgi
