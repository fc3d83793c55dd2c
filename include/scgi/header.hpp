// A header as a (name, value) pair of views.
#pragma once

#include <string_view>

namespace scgi {

/// One SCGI header: a name and a value, both raw bytes (no encoding is
/// assumed). The views do not own their bytes; where a `header` comes from
/// says how long they stay valid.
struct header {
    std::string_view name;
    std::string_view value;

    friend bool operator==(const header&, const header&) = default;
};

}  // namespace scgi
