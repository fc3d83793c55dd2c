#include <scgi/percent_decode.hpp>

#include <scgi/detail/ascii.hpp>
#include <scgi/error.hpp>

namespace scgi {

std::error_code percent_decode(std::string_view input, std::string& out, plus_decoding plus) {
    const std::size_t old_size = out.size();
    out.resize(old_size + input.size());  // decoding never lengthens
    char* p = out.data() + old_size;
    for (std::size_t i = 0; i < input.size(); ++i) {
        const char c = input[i];
        if (c == '%') {
            const int high = i + 1 < input.size() ? detail::hex_value(input[i + 1]) : -1;
            const int low = i + 2 < input.size() ? detail::hex_value(input[i + 2]) : -1;
            if (high < 0 || low < 0) {
                out.resize(old_size);
                return error::bad_percent_encoding;
            }
            *p++ = static_cast<char>(high * 16 + low);
            i += 2;
        } else if (c == '+' && plus == plus_decoding::to_space) {
            *p++ = ' ';
        } else {
            *p++ = c;
        }
    }
    out.resize(static_cast<std::size_t>(p - out.data()));
    return {};
}

}  // namespace scgi
