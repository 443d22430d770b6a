//! Java `.properties` text read as `java.util.Properties.load` reads it: `#`/`!` comments,
//! `key=value`, `key:value` or `key value`, backslash line continuations, and the escapes
//! `\t \n \r \f \uXXXX` (any other escaped character stands for itself).

/// One `key = value` entry and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Every entry in file order; a key set twice appears twice (the later one wins in Java).
pub fn parse(text: &str) -> Vec<Property> {
    let mut entries = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, first)) = lines.next() {
        let start = first.trim_start_matches(is_blank);
        if start.is_empty() || start.starts_with(['#', '!']) {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues the entry
        // on the next line, whose leading blanks are dropped.
        let mut logical = String::from(start);
        while ends_in_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches(is_blank)),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        entries.push(Property {
            key: unescape(key),
            value: unescape(value),
            line: index + 1,
        });
    }
    entries
}

/// Java's whitespace between and around keys: space, tab, form feed.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

fn ends_in_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// The raw (still escaped) key and value of a logical line that starts with its key.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_blank(c) {
            key_end = i;
            break;
        }
    }
    let rest = line[key_end..].trim_start_matches(is_blank);
    let rest = rest
        .strip_prefix(['=', ':'])
        .map_or(rest, |r| r.trim_start_matches(is_blank));
    (&line[..key_end], rest)
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        out.push(decoded);
                        chars.nth(3);
                    }
                    // Java throws on a malformed \u escape; keeping the text shows the
                    // operator what was there.
                    _ => out.push_str("\\u"),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .into_iter()
            .map(|p| (p.key, p.value, p.line))
            .collect()
    }

    fn pair(key: &str, value: &str, line: usize) -> (String, String, usize) {
        (key.into(), value.into(), line)
    }

    #[test]
    fn separators_comments_and_blanks() {
        let text = "# comment\n! also\n\n  a.b=1\nc : two words \nd e\nf\ng=\n  h  =  x=y:z\n";
        assert_eq!(
            pairs(text),
            [
                pair("a.b", "1", 4),
                pair("c", "two words ", 5),
                pair("d", "e", 6),
                pair("f", "", 7),
                pair("g", "", 8),
                pair("h", "x=y:z", 9),
            ]
        );
    }

    #[test]
    fn continuations_and_escapes() {
        let text =
            "list=a,\\\n    b,\\\n\tc\nkey\\ with\\:sep=v\\t\\u0041\\\\\nodd=\\\\\\\nx\r\nlast=\\";
        assert_eq!(
            pairs(text),
            [
                pair("list", "a,b,c", 1),
                pair("key with:sep", "v\tA\\", 4),
                pair("odd", "\\x", 5),
                pair("last", "", 7),
            ]
        );
        assert_eq!(pairs("bad=\\u12G4"), [pair("bad", "\\u12G4", 1)]);
    }
}
