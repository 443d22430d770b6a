//! `persistence.url` (`mysql://user:password@host:port/database`): checked, split from its
//! password at once, and shown only with the password replaced by `***`.

use mysql::Opts;

/// A parsed MySQL URL. The password, if the URL held one, is kept apart from everything that can
/// end up in a message.
#[derive(Clone)]
pub struct MySqlUrl {
    /// Connection options without a password.
    pub(crate) opts: Opts,
    /// The URL as an operator may see it: the password (if any) replaced by `***`.
    redacted: String,
    /// The password the URL itself held, percent-decoded.
    pub(crate) password: Option<String>,
}

/// Never the password: a URL is printed in logs and status answers.
impl std::fmt::Debug for MySqlUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl MySqlUrl {
    /// Check `url`: scheme `mysql`, a host, and a database to use. The error names the URL
    /// redacted, never its password.
    pub fn parse(url: &str) -> Result<MySqlUrl, String> {
        let parts = split_password(url.trim());
        let redacted = parts.redacted();
        let opts = Opts::from_url(&parts.without_password())
            .map_err(|e| format!("{redacted} is not a MySQL URL: {e}"))?;
        if opts.get_db_name().is_none_or(str::is_empty) {
            return Err(format!(
                "{redacted} names no database (mysql://user@host:3306/artemis)"
            ));
        }
        let password = match parts.password {
            Some(encoded) => Some(
                percent_decode(encoded)
                    .ok_or_else(|| format!("{redacted}: the password is not valid UTF-8"))?,
            ),
            None => None,
        };
        Ok(MySqlUrl {
            opts,
            redacted,
            password,
        })
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Whether the URL itself holds a password (`user:password@`).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
}

/// `url` with the password (if any) replaced by `***`, for showing a configured value that may
/// not even parse.
pub fn redact_url(url: &str) -> String {
    split_password(url).redacted()
}

/// A URL cut around the password of its user info.
struct Parts<'a> {
    /// Everything up to and including `user:`, or the whole URL when it has no password.
    head: &'a str,
    /// The password as written (percent-encoded).
    password: Option<&'a str>,
    /// From the `@` that ends the user info on.
    tail: &'a str,
}

impl Parts<'_> {
    fn redacted(&self) -> String {
        match self.password {
            Some(_) => format!("{}***{}", self.head, self.tail),
            None => self.head.to_owned(),
        }
    }

    /// The URL without its password, and without the `:` that introduced it.
    fn without_password(&self) -> String {
        match self.password {
            Some(_) => format!("{}{}", self.head.trim_end_matches(':'), self.tail),
            None => self.head.to_owned(),
        }
    }
}

/// The user info is what precedes the last `@` of the authority (`scheme://authority/path`, or
/// the start of a URL written without a scheme); the password is what follows its first `:`.
fn split_password(url: &str) -> Parts<'_> {
    let no_password = Parts {
        head: url,
        password: None,
        tail: "",
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let Some(at) = url[scheme_end..authority_end]
        .rfind('@')
        .map(|i| scheme_end + i)
    else {
        return no_password;
    };
    let Some(colon) = url[scheme_end..at].find(':').map(|i| scheme_end + i) else {
        return no_password;
    };
    Parts {
        head: &url[..=colon],
        password: Some(&url[colon + 1..at]),
        tail: &url[at..],
    }
}

/// `%XX` escapes decoded; `None` when the bytes are not UTF-8. A `%` not followed by two hex
/// digits stands for itself, as in the URL parser the connection uses.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_split_off_and_redacted() {
        let url = MySqlUrl::parse("mysql://artemis:s3cr%40t@db.example:3307/mgmt").unwrap();
        assert_eq!(url.redacted(), "mysql://artemis:***@db.example:3307/mgmt");
        assert_eq!(url.password.as_deref(), Some("s3cr@t"));
        assert_eq!(url.opts.get_pass(), None);
        assert_eq!(url.opts.get_user(), Some("artemis"));
        assert_eq!(url.opts.get_tcp_port(), 3307);
        assert_eq!(url.opts.get_db_name(), Some("mgmt"));
        assert_eq!(format!("{url:?}"), url.redacted());
    }

    #[test]
    fn a_url_without_password_is_shown_as_written() {
        let url =
            MySqlUrl::parse("mysql://artemis@127.0.0.1/mgmt?socket=/run/mysqld.sock").unwrap();
        assert!(!url.has_password());
        assert_eq!(
            url.redacted(),
            "mysql://artemis@127.0.0.1/mgmt?socket=/run/mysqld.sock"
        );
        assert_eq!(url.opts.get_socket(), Some("/run/mysqld.sock"));
    }

    #[test]
    fn bad_urls_are_refused_without_showing_the_password() {
        for (bad, expected) in [
            ("postgres://u:pw@h/db", "not a MySQL URL"),
            ("mysql://u:pw@h:3306", "names no database"),
            ("mysql://u:pw@h:3306/", "names no database"),
            ("mysql://u:pw@h:notaport/db", "not a MySQL URL"),
            ("mysql://u:pw@h/db?no_such_option=1", "not a MySQL URL"),
            ("u:pw@h/db", "not a MySQL URL"),
        ] {
            let error = MySqlUrl::parse(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
            assert!(!error.contains("pw"), "{bad}: {error}");
        }
    }

    #[test]
    fn redaction_handles_at_signs_and_colons_in_the_password() {
        assert_eq!(
            redact_url("mysql://u:p:w@x@h/db?a=b@c"),
            "mysql://u:***@h/db?a=b@c"
        );
        assert_eq!(redact_url("mysql://h/db"), "mysql://h/db");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("u:pw@h/db"), "u:***@h/db");
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn percent_escapes_decode_and_stray_percents_stay() {
        assert_eq!(percent_decode("a%20b%2F").as_deref(), Some("a b/"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff"), None);
    }
}
