//! A small YAML writer for CloudFormation, in the hand-written template's style: two-space
//! indents, sequences indented under their key, short lists of scalars in flow style
//! (`source: [shop.orders]`), short-form intrinsics (`!Ref X`, `!GetAtt X.Arn`, `!Sub …`), and
//! a trailing comment where a number needs a reason. Strings are quoted only when YAML (1.1 or
//! 1.2) would read them as something else.

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A string, quoted when needed.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A block mapping, in this order.
    Map(Vec<(String, Node)>),
    /// A block sequence.
    Seq(Vec<Node>),
    /// A flow sequence of scalars: `[a, b]`.
    Flow(Vec<Node>),
    /// A tagged scalar: `!Ref X` is `Tagged("Ref", "X")`.
    Tagged(&'static str, String),
    /// A scalar followed by a comment: `1209600 # 14 days`.
    Commented(Box<Node>, String),
}

/// `!Ref id`.
pub fn reference(id: impl Into<String>) -> Node {
    Node::Tagged("Ref", id.into())
}

/// `!GetAtt id.attribute`.
pub fn get_att(id: &str, attribute: &str) -> Node {
    Node::Tagged("GetAtt", format!("{id}.{attribute}"))
}

/// `!Sub text`.
pub fn sub(text: impl Into<String>) -> Node {
    Node::Tagged("Sub", text.into())
}

/// A string node.
pub fn str(text: impl Into<String>) -> Node {
    Node::Str(text.into())
}

/// A mapping from `(key, value)` pairs.
pub fn map<const N: usize>(entries: [(&str, Node); N]) -> Node {
    Node::Map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

impl Node {
    /// True for values written on their key's line.
    fn is_inline(&self) -> bool {
        match self {
            Node::Map(entries) => entries.is_empty(),
            Node::Seq(items) => items.is_empty(),
            _ => true,
        }
    }

    /// The value as it follows `key: ` or `- `, for inline values.
    fn inline(&self) -> String {
        match self {
            Node::Str(text) => scalar(text),
            Node::Int(n) => n.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Map(_) => "{}".to_owned(),
            Node::Seq(_) => "[]".to_owned(),
            Node::Flow(items) => format!("[{}]", items.iter().map(Node::inline).collect::<Vec<_>>().join(", ")),
            Node::Tagged(tag, text) => format!("!{tag} {}", scalar(text)),
            Node::Commented(node, comment) => format!("{} # {comment}", node.inline()),
        }
    }
}

/// Writes the entries of a mapping, each key at `indent` spaces.
pub fn write_entries(out: &mut String, entries: &[(String, Node)], indent: usize) {
    for (key, value) in entries {
        write_entry(out, key, value, indent);
    }
}

/// Writes one `key: value` entry at `indent` spaces.
pub fn write_entry(out: &mut String, key: &str, value: &Node, indent: usize) {
    pad(out, indent);
    out.push_str(&scalar(key));
    out.push(':');
    if value.is_inline() {
        out.push(' ');
        out.push_str(&value.inline());
        out.push('\n');
    } else {
        out.push('\n');
        write_block(out, value, indent + 2);
    }
}

/// Writes the items of a sequence, each dash at `indent` spaces.
pub fn write_items(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            Node::Map(entries) if !entries.is_empty() => {
                // The first entry shares the dash's line; the others align with it.
                let mut first = String::new();
                write_entries(&mut first, &entries[..1], indent + 2);
                out.push_str(first.trim_start());
                write_entries(out, &entries[1..], indent + 2);
            }
            Node::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_items(out, inner, indent + 2);
            }
            scalar => {
                out.push_str(&scalar.inline());
                out.push('\n');
            }
        }
    }
}

fn write_block(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Map(entries) => write_entries(out, entries, indent),
        Node::Seq(items) => write_items(out, items, indent),
        scalar => {
            pad(out, indent);
            out.push_str(&scalar.inline());
            out.push('\n');
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// `text` as a plain scalar when every YAML reader takes it for this string, else single-quoted.
fn scalar(text: &str) -> String {
    if is_plain(text) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let special_start = "-?:,[]{}#&*!|>'\"%@`".contains(first) || first.is_ascii_digit() || first == '.';
    let yaml_1_1_words = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"];
    !special_start
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(['\n', '\r', '\t'])
        && !text.ends_with([':', ' '])
        && !yaml_1_1_words.contains(&text.to_ascii_lowercase().as_str())
        && serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).ok()
            == Some(serde_yaml_ng::Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_only_when_yaml_would_read_them_otherwise() {
        // Given strings that YAML reads as themselves, and strings it would not
        // Then only the latter are quoted
        for plain in [
            "inventory#*",
            "${AWS::StackName}-inventory",
            "$or",
            "ForAllValues:StringLike",
            "shop.orders",
        ] {
            assert_eq!(scalar(plain), plain);
        }
        for (text, quoted) in [
            ("2012-10-17", "'2012-10-17'"),
            (
                "inventory: invocations are failing",
                "'inventory: invocations are failing'",
            ),
            ("yes", "'yes'"),
            ("it's", "it's"),
            ("'x", "'''x'"),
            ("", "''"),
            ("a #b", "'a #b'"),
        ] {
            assert_eq!(scalar(text), quoted, "{text}");
        }
    }

    #[test]
    fn written_yaml_reads_back_as_the_same_structure() -> Result<(), serde_yaml_ng::Error> {
        // Given a nested structure with tags, flow lists and comments
        let node = map([
            ("Version", str("2012-10-17")),
            (
                "Statement",
                Node::Seq(vec![map([
                    ("Sid", str("Own")),
                    ("Action", Node::Seq(vec![str("a:b"), str("c: d")])),
                    ("Resource", get_att("T", "Arn")),
                    (
                        "Pattern",
                        map([
                            ("source", Node::Flow(vec![str("x.y")])),
                            ("v", Node::Flow(vec![Node::Int(1), Node::Int(2)])),
                        ]),
                    ),
                    ("Retention", Node::Commented(Box::new(Node::Int(5)), "days".to_owned())),
                ])]),
            ),
        ]);
        // When it is written
        let mut out = String::new();
        let Node::Map(entries) = &node else { unreachable!() };
        write_entries(&mut out, entries, 0);
        // Then a YAML parser reads the same values, tags included
        let read: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out)?;
        assert_eq!(read["Version"], serde_yaml_ng::Value::from("2012-10-17"));
        let statement = &read["Statement"][0];
        assert_eq!(statement["Action"][1], serde_yaml_ng::Value::from("c: d"));
        assert_eq!(statement["Pattern"]["v"][1], serde_yaml_ng::Value::from(2));
        assert_eq!(statement["Retention"], serde_yaml_ng::Value::from(5));
        let serde_yaml_ng::Value::Tagged(tagged) = &statement["Resource"] else {
            panic!("not tagged: {out}");
        };
        assert_eq!(
            (tagged.tag.to_string(), &tagged.value),
            ("!GetAtt".to_owned(), &serde_yaml_ng::Value::from("T.Arn"))
        );
        assert!(out.contains("  - Sid: Own\n    Action:\n      - a:b\n"), "{out}");
        Ok(())
    }
}
