//! Rendering rows: a self-contained HTML heatmap and coloured words in the terminal.

use std::fmt::Write as _;

use crate::io::rows::Row;

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Signed relevance → colour: red for positive, blue for negative, white at 0; `scale` is the
/// row's largest |relevance| (each row is normalised on its own, as in Arras et al.'s heatmaps).
fn colour(r: f64, scale: f64) -> (u8, u8, u8) {
    let a = if scale > 0.0 {
        (r.abs() / scale).min(1.0)
    } else {
        0.0
    };
    let fade = (255.0 * (1.0 - a)).round() as u8;
    if r >= 0.0 {
        (255, fade, fade)
    } else {
        (fade, fade, 255)
    }
}

fn scale(row: &Row) -> f64 {
    row.relevance.iter().fold(0.0, |m: f64, r| m.max(r.abs()))
}

/// The rows' markup: one `div.row` per sequence.
fn rows_markup(rows: &[Row]) -> String {
    let mut body = String::new();
    for (s, row) in rows.iter().enumerate() {
        let scale = scale(row);
        let _ = write!(
            body,
            "<div class=\"row\"><div class=\"meta\">#{s} predicted {} · explained {} · logit {:.4} · rest {:.4}</div><div class=\"words\">",
            row.predicted, row.target, row.logit, row.rest
        );
        for (word, &r) in row.words.iter().zip(&row.relevance) {
            let (red, green, blue) = colour(r, scale);
            let _ = write!(
                body,
                "<span class=\"w\" style=\"background:rgb({red},{green},{blue})\" title=\"{r:+.6}\">{}</span> ",
                escape_html(word)
            );
        }
        body.push_str("</div></div>\n");
    }
    body
}

/// The legend under the title.
const LEGEND: &str = "Relevance per token: red supports the explained class, blue speaks against it; \
each row is scaled to its largest |relevance| (hover for the value).";

/// A self-contained HTML page: one row per sequence, words coloured by relevance (red for
/// the explained class, blue against it; each row scaled to its largest |relevance|).
///
/// ```
/// use lstm_lrp::io::{Row, html};
///
/// let row = Row { words: vec!["<b>".into()], relevance: vec![1.0], target: 0, predicted: 0, logit: 1.0, rest: 0.0 };
/// let page = html(&[row], "demo");
/// assert!(page.starts_with("<!DOCTYPE html>") && page.contains("&lt;b&gt;"));
/// ```
pub fn html(rows: &[Row], title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
body{{font-family:sans-serif;margin:1.5em;background:#fff;color:#111}}\
.row{{margin:0.8em 0}}.meta{{font-size:0.8em;color:#555}}\
.w{{display:inline-block;padding:0.15em 0.3em;margin:0.1em 0;border-radius:3px;font-size:1.2em}}\
</style></head><body>\n<h1>{title}</h1>\n<p>{LEGEND}</p>\n{body}</body></html>\n",
        title = escape_html(title),
        body = rows_markup(rows)
    )
}

/// The same heatmap as [`html`] as a fragment to embed in another page (a Jupyter notebook's
/// output cell): one `div.lstm-lrp` whose style rules apply only inside it, no title.
///
/// ```
/// use lstm_lrp::io::{Row, html_fragment};
///
/// let row = Row { words: vec!["good".into()], relevance: vec![1.0], target: 1, predicted: 1, logit: 2.0, rest: 0.0 };
/// let cell = html_fragment(&[row]);
/// assert!(cell.starts_with("<div class=\"lstm-lrp\">") && cell.contains("rgb(255,0,0)"));
/// assert!(!cell.contains("<body") && !cell.contains("body{"));
/// ```
pub fn html_fragment(rows: &[Row]) -> String {
    format!(
        "<div class=\"lstm-lrp\"><style>\
.lstm-lrp{{font-family:sans-serif;color:#111;background:#fff;padding:0.3em}}\
.lstm-lrp .row{{margin:0.8em 0}}.lstm-lrp .meta{{font-size:0.8em;color:#555}}\
.lstm-lrp .w{{display:inline-block;padding:0.15em 0.3em;margin:0.1em 0;border-radius:3px;font-size:1.2em;color:#000}}\
</style>\n<div class=\"meta\">{LEGEND}</div>\n{}</div>\n",
        rows_markup(rows)
    )
}

/// How the terminal view colours words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colours {
    /// No colour: `word(+0.1234)` (stdout is not a terminal, or `NO_COLOR` is set).
    Off,
    /// The xterm 256-colour palette (its 6×6×6 cube).
    Palette256,
    /// 24-bit colour (`COLORTERM=truecolor` or `24bit`).
    TrueColour,
}

impl Colours {
    /// What stdout supports: no colour when it is not a terminal or `NO_COLOR` is set, 24-bit
    /// when `COLORTERM` says so, otherwise 256 colours.
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() || std::env::var_os("NO_COLOR").is_some() {
            return Colours::Off;
        }
        match std::env::var("COLORTERM").as_deref() {
            Ok("truecolor" | "24bit") => Colours::TrueColour,
            _ => Colours::Palette256,
        }
    }
}

/// The nearest colour of the xterm 256-colour cube (indices 16..=231).
fn palette_index((red, green, blue): (u8, u8, u8)) -> u8 {
    let level = |c: u8| ((u16::from(c) * 5 + 127) / 255) as u8;
    16 + 36 * level(red) + 6 * level(green) + level(blue)
}

/// The rows as coloured words (ANSI backgrounds), or `word(+0.1234)` without colour.
///
/// ```
/// use lstm_lrp::io::{Colours, Row, terminal};
///
/// let row = Row { words: vec!["good".into()], relevance: vec![0.5], target: 1, predicted: 1, logit: 2.0, rest: 0.0 };
/// assert!(terminal(&[row], Colours::Off).contains("good(+0.5000)"));
/// ```
pub fn terminal(rows: &[Row], colours: Colours) -> String {
    let mut out = String::new();
    for (s, row) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "#{s} predicted {} explained {} logit {:.4} rest {:.4}",
            row.predicted, row.target, row.logit, row.rest
        );
        let scale = scale(row);
        let mut line = String::from("  ");
        for (word, &r) in row.words.iter().zip(&row.relevance) {
            let rgb = colour(r, scale);
            let _ = match colours {
                Colours::TrueColour => write!(
                    line,
                    "\x1b[48;2;{};{};{}m\x1b[38;2;0;0;0m {word} \x1b[0m",
                    rgb.0, rgb.1, rgb.2
                ),
                Colours::Palette256 => write!(
                    line,
                    "\x1b[48;5;{}m\x1b[38;5;16m {word} \x1b[0m",
                    palette_index(rgb)
                ),
                Colours::Off => write!(line, "{word}({r:+.4}) "),
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            words: vec!["good".into(), "<b>".into()],
            relevance: vec![2.0, -1.0],
            target: 1,
            predicted: 1,
            logit: 1.5,
            rest: -0.5,
        }
    }

    #[test]
    fn html_escapes_words_and_colours_by_sign() {
        let page = html(&[row()], "t & t");
        assert!(page.contains("&lt;b&gt;") && !page.contains("<b>"));
        assert!(page.contains("t &amp; t"));
        assert!(
            page.contains("rgb(255,0,0)"),
            "the largest positive word is full red"
        );
        assert!(
            page.contains("rgb(128,128,255)"),
            "half the scale, negative: light blue"
        );
    }

    #[test]
    fn terminal_without_colour_prints_values() {
        let text = terminal(&[row()], Colours::Off);
        assert!(text.contains("good(+2.0000) <b>(-1.0000)"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(terminal(&[row()], Colours::TrueColour).contains("\x1b[48;2;255;0;0m"));
        // Full red is cube index 16 + 36·5 = 196; light blue (128,128,255) is 16 + 36·3 + 6·3 + 5.
        let text = terminal(&[row()], Colours::Palette256);
        assert!(
            text.contains("\x1b[48;5;196m\x1b[38;5;16m good "),
            "{text:?}"
        );
        assert!(
            text.contains("\x1b[48;5;147m\x1b[38;5;16m <b> "),
            "{text:?}"
        );
    }
}
