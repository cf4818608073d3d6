//! What the command line prints. Every line goes through here, so that text other people typed
//! never drives the terminal (a control character, an ANSI escape or a bidi override is shown as
//! `\u{1b}`), and a closed pipe (`ibasho place list | head -1`) ends the program quietly instead
//! of a panic.

use ibasho_shared::validate::is_control_character;
use std::borrow::Cow;
use std::io::Write;

/// Prints a line of text for people, escaped (see the module).
pub(crate) fn line(text: &str) {
    raw(&escape(text));
}

/// Prints a line as it is (JSON, whose strings already escape control characters).
pub(crate) fn raw(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// `text` with every character that could drive a terminal shown as an escape; line breaks and
/// tabs stay.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_control_character(c, true)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_control_character(c, true) {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// [`line`] with `format!` arguments.
macro_rules! outln {
    () => {
        $crate::cli::out::line("")
    };
    ($($arg:tt)*) => {
        $crate::cli::out::line(&format!($($arg)*))
    };
}
pub(crate) use outln;

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(escape("喫茶ランドリー"), "喫茶ランドリー");
        assert_eq!(escape("\u{1b}[2J消えた"), "\\u{1b}[2J消えた");
        assert_eq!(escape("喫茶\u{202e}ーリドンラ"), "喫茶\\u{202e}ーリドンラ");
        assert_eq!(escape("一行目\n\t二行目"), "一行目\n\t二行目");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
    }
}
