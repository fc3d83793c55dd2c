// The --help layout of the tools: CLI11's, with option descriptions wrapped
// to the terminal's usual width (CLI11 2.1 prints each on one line).
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace scgi::tools {

/// CLI11's formatter, with the program's and the options' descriptions
/// wrapped at word boundaries so that no line of the help passes `width`
/// columns (a word longer than the room left stands on a line of its own;
/// line breaks in a description are kept), groups one blank line apart,
/// and after an option's name only
/// its value's name (its `option_text`, else its type name without the
/// validators' annotations), not the options it excludes, which its
/// description says in words. A captured default ends the description as
/// "(default: X)". Positionals show their name alone.
class help_formatter : public CLI::Formatter {
public:
    /// Descriptions start at column `column` (CLI11's column_width) and end
    /// by column `width`.
    explicit help_formatter(std::size_t column = 30, std::size_t width = 100);

    /// The program's description, wrapped, then a blank line.
    std::string make_description(const CLI::App* app) const override;

    /// The positionals, then the blank line before the first option group.
    std::string make_positionals(const CLI::App* app) const override;

    /// An option group without the blank line CLI11 2.1 puts before it (it
    /// also puts one between groups: two in all); positionals keep theirs.
    std::string make_group(std::string group, bool is_positional,
                           std::vector<const CLI::Option*> options) const override;

    /// The description of `option` and its default, wrapped.
    std::string make_option_desc(const CLI::Option* option) const override;

    /// What follows the option's name: its value's name, ` ...` if it
    /// repeats; nothing for a flag or a positional.
    std::string make_option_opts(const CLI::Option* option) const override;

private:
    std::size_t width_;
};

/// `text` with a line break before each word that would pass `room`
/// columns; existing line breaks are kept.
std::string wrap_text(std::string_view text, std::size_t room);

}  // namespace scgi::tools
