//! Message templates of custom rules: `{column}` is replaced by the fact's value,
//! `{column|rp}` formats an amount as Rupiah, `{{` and `}}` are literal braces.

use serde_json::{Map, Value};

use crate::alerts::rupiah;

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Field { name: String, rupiah: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses a template; `known` checks that each `{field}` names a column.
    pub fn parse(text: &str, known: impl Fn(&str) -> bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut spec = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => spec.push(ch),
                            None => {
                                return Err(format!(
                                    "unclosed template field {{{spec} in {text:?}"
                                ));
                            }
                        }
                    }
                    let (name, format) = match spec.split_once('|') {
                        Some((n, f)) => (n.trim(), Some(f.trim())),
                        None => (spec.trim(), None),
                    };
                    if !known(name) {
                        return Err(format!("template field {{{spec}}} names no facts column"));
                    }
                    let rupiah = match format {
                        None => false,
                        Some("rp") => true,
                        Some(f) => {
                            return Err(format!(
                                "template field {{{spec}}}: unknown format {f:?} (only `rp`)"
                            ));
                        }
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field {
                        name: name.to_owned(),
                        rupiah,
                    });
                }
                '}' => {
                    return Err(format!(
                        "unmatched }} in {text:?} (write }}}} for a literal brace)"
                    ));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field { name, .. } => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    pub fn render(&self, values: &Map<String, Value>) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { name, rupiah: rp } => match values.get(name) {
                    Some(Value::Number(n)) if *rp => match n.as_u64() {
                        Some(v) => out.push_str(&rupiah(v)),
                        None => out.push_str(&n.to_string()),
                    },
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Null) | None => out.push('-'),
                    Some(v) => out.push_str(&v.to_string()),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fields_and_rupiah() {
        let t = Template::parse("Paid {amount|rp} at {office_id} {{x}}", |n| {
            n == "amount" || n == "office_id"
        })
        .expect("valid");
        let mut m = Map::new();
        m.insert("amount".into(), Value::from(1_500_000u64));
        m.insert("office_id".into(), Value::from("K-1"));
        assert_eq!(t.render(&m), "Paid Rp 1.500.000 at K-1 {x}");
    }

    #[test]
    fn rejects_unknown_fields_and_formats() {
        assert!(
            Template::parse("{nope}", |_| false)
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            Template::parse("{amount|usd}", |_| true)
                .unwrap_err()
                .contains("usd")
        );
        assert!(Template::parse("{amount", |_| true).is_err());
        assert!(Template::parse("a } b", |_| true).is_err());
    }
}
