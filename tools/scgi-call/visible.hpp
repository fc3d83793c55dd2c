// How scgi-call -v shows bytes on a terminal: the request head one variable
// a line with its NULs visible, and any other bytes unambiguously.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace scgi::tools {

/// `bytes` as printable text: printable ASCII as it is, except `\` shown as
/// `\\`; NUL as `␀` (U+2400, a character of its own, so `A␀5` cannot be
/// misread as an octal escape); every other byte as `\xNN`.
std::string visible(std::string_view bytes);

/// The lines of a request head as `-v` prints it.
struct head_lines {
    /// The netstring prefix (`245:`) alone, one `NAME␀VALUE␀` a line, then
    /// the byte after the block (`,` when well formed).
    std::vector<std::string> lines;
    /// How many bytes of `bytes` those lines show: the body starts there.
    std::size_t size = 0;
};

/// Splits the start of a request (`bytes`: the whole head, possibly followed
/// by body bytes) into the lines `-v` prints. What does not start with a
/// netstring length (a malformed `--raw` file) is shown from its first byte,
/// at most 4 KiB of it, still a line per two NULs.
head_lines describe_request_head(std::string_view bytes);

}  // namespace scgi::tools
