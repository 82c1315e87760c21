use std::collections::HashMap;
use std::fmt;

/// A parsed configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{}", n),
            Value::Bool(b) => write!(f, "{}", b),
            Value::Text(s) => write!(f, "{:?}", s),
        }
    }
}

#[derive(Debug)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses `key = value` lines; `#` starts a comment.
pub fn parse(input: &str) -> Result<HashMap<String, Value>, ParseError> {
    let mut out = HashMap::new();
    for (number, raw) in input.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| ParseError {
            line: number + 1,
            message: format!("expected `key = value`, got {:?}", line),
        })?;
        out.insert(key.trim().to_string(), parse_value(value.trim()));
    }
    Ok(out)
}

fn parse_value(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return Value::Int(n);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::Text(text.trim_matches('"').to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ints_and_bools() {
        let map = parse("a = 1\nb = true\n").unwrap();
        assert_eq!(map["a"], Value::Int(1));
        assert_eq!(map["b"], Value::Bool(true));
    }

    #[test]
    fn reports_the_line_of_a_bad_entry() {
        let err = parse("a = 1\nnonsense\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
