//! `$filter` tokens into a [`Filter`]: precedence (`not` over `and` over
//! `or`), comparisons, the text functions, `In` and the other query
//! functions the emulator implements, parameter aliases — and a 400 with
//! Microsoft.OData's wording for anything else, so an unsupported query is
//! refused rather than answered wrong.

use super::*;

// ---------------------------------------------------------------------------
// $filter: parser
// ---------------------------------------------------------------------------

/// Parses a `$filter` value (already percent-decoded).
pub fn parse_filter(text: &str) -> Result<Filter, DvError> {
    parse_filter_with_aliases(text, &HashMap::new())
}

/// Parses a `$filter` value whose `@name` parameter aliases are resolved
/// from `aliases` (name without `@` → the alias's raw text).
pub fn parse_filter_with_aliases(
    text: &str,
    aliases: &HashMap<String, String>,
) -> Result<Filter, DvError> {
    let mut p = Parser::new(text, aliases)?;
    let f = p.or_expr()?;
    p.expect_end()?;
    Ok(f)
}

/// What an alias stands for.
pub(super) enum AliasValue {
    One(Literal),
    List(Vec<Literal>),
}

pub(super) struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    text: &'a str,
    aliases: &'a HashMap<String, String>,
    depth: usize,
}

pub(super) const KEYWORDS: [&str; 9] = ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le"];

pub(super) const ODATA_FUNCTIONS: [&str; 27] = [
    "tolower",
    "toupper",
    "trim",
    "length",
    "indexof",
    "substring",
    "concat",
    "substringof",
    "matchespattern",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "date",
    "time",
    "now",
    "fractionalseconds",
    "totaloffsetminutes",
    "round",
    "floor",
    "ceiling",
    "cast",
    "isof",
    "any",
    "all",
];

impl<'a> Parser<'a> {
    pub(super) fn new(
        text: &'a str,
        aliases: &'a HashMap<String, String>,
    ) -> Result<Self, DvError> {
        Ok(Parser {
            toks: lex(text)?,
            i: 0,
            text,
            aliases,
            depth: 0,
        })
    }

    pub(super) fn peek(&self) -> &Token {
        &self.toks[self.i]
    }

    pub(super) fn peek_at(&self, k: usize) -> &Tok {
        let idx = (self.i + k).min(self.toks.len() - 1);
        &self.toks[idx].tok
    }

    pub(super) fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    pub(super) fn peek_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s == kw)
    }

    // Message texts below follow Microsoft.OData's, which Dataverse passes
    // through ("Syntax error at position …", "Expression expected at …").
    pub(super) fn syntax_error(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "Syntax error at position {pos} in '{}'.",
            self.text
        ))
    }

    pub(super) fn expression_expected(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "Expression expected at position {pos} in '{}'.",
            self.text
        ))
    }

    pub(super) fn expect(&mut self, want: Tok, what: &str) -> Result<(), DvError> {
        let t = self.bump();
        if t.tok == want {
            Ok(())
        } else {
            Err(DvError::bad_request(format!(
                "{what} expected at position {} in '{}'.",
                t.pos, self.text
            )))
        }
    }

    pub(super) fn expect_end(&self) -> Result<(), DvError> {
        let t = self.peek();
        if t.tok == Tok::End {
            Ok(())
        } else {
            Err(self.syntax_error(t.pos))
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), DvError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DvError::bad_request(format!(
                "The $filter expression '{}' is nested more than {MAX_DEPTH} levels deep.",
                self.text
            )));
        }
        Ok(())
    }

    /// `or` binds loosest, then `and`, then `not` (filter-rows, "Grouping
    /// operators"; OData operator precedence).
    pub(super) fn or_expr(&mut self) -> Result<Filter, DvError> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.bump();
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    pub(super) fn and_expr(&mut self) -> Result<Filter, DvError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.bump();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    pub(super) fn unary(&mut self) -> Result<Filter, DvError> {
        if self.peek_keyword("not") {
            self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary()
    }

    pub(super) fn primary(&mut self) -> Result<Filter, DvError> {
        if self.peek().tok == Tok::LParen {
            self.bump();
            self.enter()?;
            let inner = self.or_expr()?;
            self.depth -= 1;
            let t = self.bump();
            if t.tok != Tok::RParen {
                return Err(DvError::bad_request(format!(
                    "')' or operator expected at position {} in '{}'.",
                    t.pos, self.text
                )));
            }
            return Ok(inner);
        }
        let is_call = matches!(&self.peek().tok, Tok::Ident(name) if !KEYWORDS.contains(&name.as_str()))
            && *self.peek_at(1) == Tok::LParen;
        if is_call {
            let f = self.function_call()?;
            return self.bool_suffix(f);
        }
        self.comparison()
    }

    /// `contains(name,'x') eq true` — the OData v3 habit some clients keep.
    pub(super) fn bool_suffix(&mut self, f: Filter) -> Result<Filter, DvError> {
        let op = match &self.peek().tok {
            Tok::Ident(s) if s == "eq" || s == "ne" => s.clone(),
            _ => return Ok(f),
        };
        let want = match self.peek_at(1) {
            Tok::Ident(b) if b == "true" => true,
            Tok::Ident(b) if b == "false" => false,
            _ => {
                let pos = self.toks[(self.i + 1).min(self.toks.len() - 1)].pos;
                return Err(DvError::bad_request(format!(
                    "A function result can only be compared with true or false: syntax error at position {pos} in '{}'.",
                    self.text
                )));
            }
        };
        self.bump();
        self.bump();
        Ok(if (op == "eq") == want {
            f
        } else {
            Filter::Not(Box::new(f))
        })
    }

    pub(super) fn comparison(&mut self) -> Result<Filter, DvError> {
        let start = self.peek().pos;
        let left = self.operand()?;
        let t = self.bump();
        let op = match &t.tok {
            Tok::Ident(s) => CompareOp::from_keyword(s),
            _ => None,
        };
        let Some(op) = op else {
            return Err(DvError::bad_request(format!(
                "Syntax error at position {} in '{}': a comparison operator (eq, ne, gt, ge, lt, le) was expected.",
                t.pos, self.text
            )));
        };
        let right = self.operand()?;
        if matches!((&left, &right), (Operand::Literal(_), Operand::Literal(_))) {
            return Err(DvError::bad_request(format!(
                "The comparison at position {start} in '{}' compares two literals; one side must be a column.",
                self.text
            )));
        }
        Ok(Filter::Compare { left, op, right })
    }

    pub(super) fn operand(&mut self) -> Result<Operand, DvError> {
        let t = self.bump();
        let lit = match t.tok {
            Tok::Ident(name) => {
                match name.as_str() {
                    "null" => return Ok(Operand::Literal(Literal::Null)),
                    "true" => return Ok(Operand::Literal(Literal::Bool(true))),
                    "false" => return Ok(Operand::Literal(Literal::Bool(false))),
                    kw if KEYWORDS.contains(&kw) => return Err(self.expression_expected(t.pos)),
                    _ => {}
                }
                if self.peek().tok == Tok::LParen {
                    return Err(self.function_refusal(&name, t.pos, true));
                }
                return Ok(Operand::Property(self.property_name(name, t.pos)?));
            }
            Tok::Alias(name) => match self.resolve_alias(&name, t.pos)? {
                AliasValue::One(l) => l,
                AliasValue::List(_) => {
                    return Err(DvError::bad_request(format!(
                        "The parameter alias '@{name}' at position {} in '{}' is a list; a single value was expected.",
                        t.pos, self.text
                    )))
                }
            },
            Tok::End => return Err(self.expression_expected(t.pos)),
            other => match literal_of(other) {
                Some(l) => l,
                None => return Err(self.expression_expected(t.pos)),
            },
        };
        Ok(Operand::Literal(lit))
    }

    pub(super) fn property_name(&self, name: String, pos: usize) -> Result<String, DvError> {
        if is_plain_name(&name) {
            return Ok(name);
        }
        if name.contains('/') {
            return Err(DvError::bad_request(format!(
                "Filtering on columns of related rows ('{name}' at position {pos} in '{}') is not supported by this emulator.",
                self.text
            )));
        }
        Err(DvError::bad_request(format!(
            "'{name}' at position {pos} in '{}' is not a valid property name.",
            self.text
        )))
    }

    pub(super) fn function_refusal(&self, name: &str, pos: usize, as_operand: bool) -> DvError {
        let text = self.text;
        if name.contains('/') {
            return DvError::bad_request(format!(
                "Filtering on related rows ('{name}' at position {pos} in '{text}') is not supported by this emulator."
            ));
        }
        if matches!(name, "contains" | "startswith" | "endswith") && as_operand {
            return DvError::bad_request(format!(
                "The function '{name}' at position {pos} in '{text}' returns a boolean and cannot be compared with a value other than true or false."
            ));
        }
        if name.starts_with(CRM_PREFIX) || ODATA_FUNCTIONS.contains(&name) {
            return DvError::bad_request(format!(
                "The function '{name}' at position {pos} in '{text}' is not supported by this emulator."
            ));
        }
        if matches!(name, "In" | "NotIn" | "Between" | "NotBetween") {
            // filter-rows: "You must use the function's fully qualified name".
            return DvError::bad_request(format!(
                "An unknown function with name '{name}' was found at position {pos} in '{text}'. Use its fully qualified name 'Microsoft.Dynamics.CRM.{name}'."
            ));
        }
        DvError::bad_request(format!(
            "An unknown function with name '{name}' was found at position {pos} in '{text}'."
        ))
    }

    pub(super) fn function_call(&mut self) -> Result<Filter, DvError> {
        let t = self.bump();
        let Tok::Ident(name) = t.tok else {
            return Err(self.syntax_error(t.pos));
        };
        let function = match name.as_str() {
            "contains" => Some(TextFunction::Contains),
            "startswith" => Some(TextFunction::StartsWith),
            "endswith" => Some(TextFunction::EndsWith),
            _ => None,
        };
        if let Some(function) = function {
            return self.text_function(function);
        }
        let supported = name
            .strip_prefix(CRM_PREFIX)
            .filter(|s| matches!(*s, "In" | "NotIn" | "Between" | "NotBetween"));
        if let Some(short) = supported {
            return self.crm_function(short, t.pos);
        }
        Err(self.function_refusal(&name, t.pos, false))
    }

    pub(super) fn text_function(&mut self, function: TextFunction) -> Result<Filter, DvError> {
        self.expect(Tok::LParen, "'('")?;
        let t = self.bump();
        let property = match t.tok {
            Tok::Ident(name) if !KEYWORDS.contains(&name.as_str()) => {
                self.property_name(name, t.pos)?
            }
            Tok::End => return Err(self.expression_expected(t.pos)),
            _ => {
                return Err(DvError::bad_request(format!(
                    "A column name was expected as the first argument at position {} in '{}'.",
                    t.pos, self.text
                )))
            }
        };
        self.expect(Tok::Comma, "','")?;
        let t = self.bump();
        let value = match t.tok {
            Tok::Str(s) => s,
            Tok::Alias(name) => match self.resolve_alias(&name, t.pos)? {
                AliasValue::One(Literal::Text(s)) => s,
                _ => return Err(self.string_expected(t.pos)),
            },
            Tok::End => return Err(self.expression_expected(t.pos)),
            _ => return Err(self.string_expected(t.pos)),
        };
        self.expect(Tok::RParen, "')'")?;
        Ok(Filter::Text {
            function,
            property,
            value,
        })
    }

    pub(super) fn string_expected(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "A string literal such as 'text' was expected at position {pos} in '{}'.",
            self.text
        ))
    }

    /// `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a','b'])`
    /// (In Function reference: PropertyName Edm.String, PropertyValues
    /// Collection(Edm.String)); arguments in any order, aliases allowed.
    pub(super) fn crm_function(&mut self, short: &str, fpos: usize) -> Result<Filter, DvError> {
        self.expect(Tok::LParen, "'('")?;
        let mut property: Option<String> = None;
        let mut values: Option<Vec<Literal>> = None;
        loop {
            let t = self.bump();
            let pname = match t.tok {
                Tok::Ident(s) => s,
                Tok::RParen if property.is_none() && values.is_none() => break,
                Tok::End => return Err(self.expression_expected(t.pos)),
                _ => return Err(self.syntax_error(t.pos)),
            };
            self.expect(Tok::Equals, "'='")?;
            match pname.as_str() {
                "PropertyName" if property.is_none() => {
                    let v = self.bump();
                    let name = match v.tok {
                        Tok::Str(s) => s,
                        Tok::Alias(a) => match self.resolve_alias(&a, v.pos)? {
                            AliasValue::One(Literal::Text(s)) => s,
                            _ => return Err(self.string_expected(v.pos)),
                        },
                        Tok::End => return Err(self.expression_expected(v.pos)),
                        _ => return Err(self.string_expected(v.pos)),
                    };
                    property = Some(self.property_name(name, v.pos)?);
                }
                "PropertyValues" if values.is_none() => {
                    let v = self.peek().clone();
                    let list = match v.tok {
                        Tok::LBracket => self.list()?,
                        Tok::Alias(a) => {
                            self.bump();
                            match self.resolve_alias(&a, v.pos)? {
                                AliasValue::List(l) => l,
                                AliasValue::One(_) => return Err(self.list_expected(v.pos)),
                            }
                        }
                        Tok::End => return Err(self.expression_expected(v.pos)),
                        _ => return Err(self.list_expected(v.pos)),
                    };
                    values = Some(list);
                }
                "PropertyName" | "PropertyValues" => {
                    return Err(DvError::bad_request(format!(
                        "The parameter '{pname}' is given more than once at position {} in '{}'.",
                        t.pos, self.text
                    )))
                }
                _ => {
                    return Err(DvError::bad_request(format!(
                        "Microsoft.Dynamics.CRM.{short} has no parameter '{pname}' (position {} in '{}'); it takes PropertyName and PropertyValues.",
                        t.pos, self.text
                    )))
                }
            }
            let t = self.bump();
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => {
                    return Err(DvError::bad_request(format!(
                        "')' or ',' expected at position {} in '{}'.",
                        t.pos, self.text
                    )))
                }
            }
        }
        let missing = |p: &str| {
            DvError::bad_request(format!(
                "Microsoft.Dynamics.CRM.{short} at position {fpos} in '{}' is missing its {p} parameter.",
                self.text
            ))
        };
        let property = property.ok_or_else(|| missing("PropertyName"))?;
        let values = values.ok_or_else(|| missing("PropertyValues"))?;
        match short {
            "In" | "NotIn" => {
                if values.is_empty() {
                    return Err(DvError::bad_request(format!(
                        "Microsoft.Dynamics.CRM.{short} at position {fpos} in '{}' needs at least one value in PropertyValues.",
                        self.text
                    )));
                }
                Ok(Filter::In {
                    property,
                    values,
                    negated: short == "NotIn",
                })
            }
            _ => {
                let [low, high]: [Literal; 2] = values.try_into().map_err(|_| {
                    DvError::bad_request(format!(
                        "Microsoft.Dynamics.CRM.{short} at position {fpos} in '{}' needs exactly two values in PropertyValues.",
                        self.text
                    ))
                })?;
                Ok(Filter::Between {
                    property,
                    low,
                    high,
                    negated: short == "NotBetween",
                })
            }
        }
    }

    pub(super) fn list_expected(&self, pos: usize) -> DvError {
        DvError::bad_request(format!(
            "A list of values such as ['a','b'] was expected at position {pos} in '{}'.",
            self.text
        ))
    }

    /// `[v, …]`: quoted strings (either quote), numbers, GUIDs, dates,
    /// booleans.
    pub(super) fn list(&mut self) -> Result<Vec<Literal>, DvError> {
        self.expect(Tok::LBracket, "'['")?;
        let mut out = Vec::new();
        if self.peek().tok == Tok::RBracket {
            self.bump();
            return Ok(out);
        }
        loop {
            let t = self.bump();
            let lit = match t.tok {
                Tok::DqStr(s) => Literal::Text(s),
                Tok::Ident(s) if s == "true" => Literal::Bool(true),
                Tok::Ident(s) if s == "false" => Literal::Bool(false),
                Tok::End => return Err(self.expression_expected(t.pos)),
                other => match literal_of(other) {
                    Some(l) => l,
                    None => {
                        return Err(DvError::bad_request(format!(
                            "A value was expected at position {} in '{}'.",
                            t.pos, self.text
                        )))
                    }
                },
            };
            out.push(lit);
            let t = self.bump();
            match t.tok {
                Tok::Comma => continue,
                Tok::RBracket => return Ok(out),
                _ => {
                    // The real service reads this list as JSON and says so.
                    return Err(DvError::bad_request(format!(
                        "Invalid JSON. A comma character ',' was expected in scope 'Array' at position {} in '{}'.",
                        t.pos, self.text
                    )));
                }
            }
        }
    }

    pub(super) fn resolve_alias(&self, name: &str, pos: usize) -> Result<AliasValue, DvError> {
        let Some(text) = self.aliases.get(name) else {
            return Err(DvError::bad_request(format!(
                "The parameter alias '@{name}' at position {pos} in '{}' is not given a value in the query string.",
                self.text
            )));
        };
        let none = HashMap::new();
        let mut sub = Parser::new(text, &none)?;
        let value = match sub.peek().tok.clone() {
            Tok::LBracket => AliasValue::List(sub.list()?),
            Tok::Alias(_) => {
                return Err(DvError::bad_request(format!(
                    "The parameter alias '@{name}' refers to another alias ('{text}'), which is not supported."
                )))
            }
            _ => match sub.operand()? {
                Operand::Literal(l) => AliasValue::One(l),
                Operand::Property(p) => {
                    return Err(DvError::bad_request(format!(
                        "The parameter alias '@{name}' must be a literal value, not the column '{p}'."
                    )))
                }
            },
        };
        sub.expect_end()?;
        Ok(value)
    }
}

pub(super) fn literal_of(tok: Tok) -> Option<Literal> {
    Some(match tok {
        Tok::Str(s) => Literal::Text(s),
        Tok::Int(v) => Literal::Int(v),
        Tok::Dec(v) => Literal::Decimal(v),
        Tok::Guid(g) => Literal::Guid(g),
        Tok::Date(d) => Literal::Date(d),
        Tok::DateTime(d) => Literal::DateTime(d),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odata::test_support::*;

    #[test]
    fn parses_comparison_operators() {
        for (kw, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(
                f(&format!("revenue {kw} 100000")),
                cmp(prop("revenue"), op, lit(Literal::Int(100000)))
            );
        }
    }

    #[test]
    fn parses_literals() {
        let rhs = |text: &str| match f(&format!("x eq {text}")) {
            Filter::Compare {
                right: Operand::Literal(l),
                ..
            } => l,
            other => panic!("{other:?}"),
        };
        assert_eq!(rhs("'text'"), Literal::Text("text".into()));
        assert_eq!(rhs("'O''Bryan'"), Literal::Text("O'Bryan".into()));
        assert_eq!(rhs("''"), Literal::Text(String::new()));
        assert_eq!(rhs("'a (b), c = d'"), Literal::Text("a (b), c = d".into()));
        assert_eq!(rhs("42"), Literal::Int(42));
        assert_eq!(rhs("-7"), Literal::Int(-7));
        assert_eq!(rhs("12.50"), Literal::Decimal(12.5));
        assert_eq!(rhs("-0.25"), Literal::Decimal(-0.25));
        assert_eq!(rhs("1e3"), Literal::Decimal(1000.0));
        assert_eq!(rhs("12.5M"), Literal::Decimal(12.5));
        assert_eq!(rhs("99999999999999999999"), Literal::Decimal(1e20));
        assert_eq!(rhs("true"), Literal::Bool(true));
        assert_eq!(rhs("false"), Literal::Bool(false));
        assert_eq!(rhs("null"), Literal::Null);
        assert_eq!(
            rhs("00000000-0000-0000-0000-000000000001"),
            Literal::Guid("00000000-0000-0000-0000-000000000001".into())
        );
        assert_eq!(
            rhs("ABCDEF01-2345-6789-ABCD-EF0123456789"),
            Literal::Guid("abcdef01-2345-6789-abcd-ef0123456789".into())
        );
        assert_eq!(
            rhs("2024-05-01"),
            Literal::Date(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap())
        );
        let dt = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            rhs("2024-05-01T13:00:00Z"),
            Literal::DateTime(dt("2024-05-01T13:00:00Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00:00.123Z"),
            Literal::DateTime(dt("2024-05-01T13:00:00.123Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00Z"),
            Literal::DateTime(dt("2024-05-01T13:00:00Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00:00-05:00"),
            Literal::DateTime(dt("2024-05-01T18:00:00Z"))
        );
        assert_eq!(
            rhs("2024-05-01T13:00:00"),
            Literal::DateTime(dt("2024-05-01T13:00:00Z"))
        );
    }

    #[test]
    fn parses_lookup_and_column_comparison() {
        assert_eq!(
            f("_parentcustomerid_value eq 00000000-0000-0000-0000-000000000001"),
            cmp(
                prop("_parentcustomerid_value"),
                CompareOp::Eq,
                lit(Literal::Guid("00000000-0000-0000-0000-000000000001".into()))
            )
        );
        assert_eq!(
            f("firstname eq lastname"),
            cmp(prop("firstname"), CompareOp::Eq, prop("lastname"))
        );
        assert_eq!(
            f("5 lt revenue"),
            cmp(lit(Literal::Int(5)), CompareOp::Lt, prop("revenue"))
        );
    }

    #[test]
    fn precedence_not_and_or() {
        let a = || cmp(prop("a"), CompareOp::Eq, lit(Literal::Int(1)));
        let b = || cmp(prop("b"), CompareOp::Eq, lit(Literal::Int(2)));
        let c = || cmp(prop("c"), CompareOp::Eq, lit(Literal::Int(3)));
        let bx = |x: Filter| Box::new(x);
        assert_eq!(
            f("a eq 1 or b eq 2 and c eq 3"),
            Filter::Or(bx(a()), bx(Filter::And(bx(b()), bx(c()))))
        );
        assert_eq!(
            f("a eq 1 and b eq 2 or c eq 3"),
            Filter::Or(bx(Filter::And(bx(a()), bx(b()))), bx(c()))
        );
        assert_eq!(
            f("(a eq 1 or b eq 2) and c eq 3"),
            Filter::And(bx(Filter::Or(bx(a()), bx(b()))), bx(c()))
        );
        assert_eq!(
            f("not a eq 1 and b eq 2"),
            Filter::And(bx(Filter::Not(bx(a()))), bx(b()))
        );
        assert_eq!(
            f("not (a eq 1 and b eq 2)"),
            Filter::Not(bx(Filter::And(bx(a()), bx(b()))))
        );
        assert_eq!(f("not not a eq 1"), Filter::Not(bx(Filter::Not(bx(a())))));
        // Left-associative chains.
        assert_eq!(
            f("a eq 1 or b eq 2 or c eq 3"),
            Filter::Or(bx(Filter::Or(bx(a()), bx(b()))), bx(c()))
        );
        assert_eq!(f("((a eq 1))"), a());
        assert_eq!(f("  a   eq\t1  "), a());
    }

    #[test]
    fn parses_text_functions() {
        assert_eq!(
            f("contains(name,'(sample)')"),
            Filter::Text {
                function: TextFunction::Contains,
                property: "name".into(),
                value: "(sample)".into()
            }
        );
        assert_eq!(
            f("startswith( name , 'a' )"),
            Filter::Text {
                function: TextFunction::StartsWith,
                property: "name".into(),
                value: "a".into()
            }
        );
        assert_eq!(
            f("endswith(name,'Inc.')"),
            Filter::Text {
                function: TextFunction::EndsWith,
                property: "name".into(),
                value: "Inc.".into()
            }
        );
        let c = Filter::Text {
            function: TextFunction::Contains,
            property: "name".into(),
            value: "x".into(),
        };
        assert_eq!(
            f("not contains(name,'x')"),
            Filter::Not(Box::new(c.clone()))
        );
        assert_eq!(f("contains(name,'x') eq true"), c.clone());
        assert_eq!(f("contains(name,'x') ne false"), c.clone());
        assert_eq!(
            f("contains(name,'x') eq false"),
            Filter::Not(Box::new(c.clone()))
        );
        assert!(err("contains(name,'x') eq 'y'").contains("true or false"));
        assert!(err("contains(name,5)").contains("string literal"));
        assert!(err("contains('x',name)").contains("column name was expected"));
        assert!(err("contains(name 'x')").contains("',' expected at position 14"));
    }

    #[test]
    fn parses_in_and_variants() {
        let want = Filter::In {
            property: "statecode".into(),
            values: vec![Literal::Text("0".into()), Literal::Text("1".into())],
            negated: false,
        };
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0','1'])"),
            want
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In( PropertyName = 'statecode' , PropertyValues = [ '0' , '1' ] )"),
            want
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In(PropertyValues=[\"0\",\"1\"],PropertyName='statecode')"),
            want
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=[0,1])"),
            Filter::In {
                property: "statecode".into(),
                values: vec![Literal::Int(0), Literal::Int(1)],
                negated: false,
            }
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=['a'])"),
            Filter::In {
                property: "name".into(),
                values: vec![Literal::Text("a".into())],
                negated: true
            }
        );
        assert_eq!(
            f("Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=[\"5\",\"2000\"])"),
            Filter::Between {
                property: "numberofemployees".into(),
                low: Literal::Text("5".into()),
                high: Literal::Text("2000".into()),
                negated: false,
            }
        );
        assert!(matches!(
            f("Microsoft.Dynamics.CRM.NotBetween(PropertyName='n',PropertyValues=[1,2])"),
            Filter::Between { negated: true, .. }
        ));
        // Combined with other conditions.
        assert!(matches!(
            f("name ne null and Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a','b'])"),
            Filter::And(_, _)
        ));
    }

    #[test]
    fn in_errors() {
        assert!(err("Microsoft.Dynamics.CRM.In(PropertyName='x')")
            .contains("missing its PropertyValues"));
        assert!(err("Microsoft.Dynamics.CRM.In(PropertyValues=['a'])")
            .contains("missing its PropertyName"));
        assert!(err("Microsoft.Dynamics.CRM.In()").contains("missing its PropertyName"));
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[])")
                .contains("at least one value")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.Between(PropertyName='x',PropertyValues=[1])")
                .contains("exactly two")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x',Values=['a'])")
                .contains("no parameter 'Values'")
        );
        assert!(err(
            "Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyName='y',PropertyValues=['a'])"
        )
        .contains("more than once"));
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName=x,PropertyValues=['a'])")
                .contains("string literal")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues='a')")
                .contains("list of values")
        );
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='a/b',PropertyValues=['a'])")
                .contains("related rows")
        );
        let msg = err("Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a' 'b'])");
        assert!(msg.contains("Invalid JSON. A comma character ','"), "{msg}");
        assert!(err("In(PropertyName='x',PropertyValues=['a'])").contains("fully qualified name"));
        assert!(
            err("Microsoft.Dynamics.CRM.In(PropertyName='x' PropertyValues=['a'])")
                .contains("')' or ',' expected")
        );
    }

    #[test]
    fn syntax_errors_name_position() {
        assert_eq!(
            err("name eq"),
            "Expression expected at position 7 in 'name eq'."
        );
        assert_eq!(
            err("name eq 'a' foo"),
            "Syntax error at position 12 in 'name eq 'a' foo'."
        );
        // The real service's own example (filter-rows, "Manage single quotes").
        assert_eq!(
            err("lastname eq 'O'Bryan'"),
            "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."
        );
        assert_eq!(
            err("name eq 'a' and (b eq 1"),
            "')' or operator expected at position 23 in 'name eq 'a' and (b eq 1'."
        );
        assert_eq!(
            err("name eq #"),
            "Syntax error: character '#' is not valid at position 8 in 'name eq #'."
        );
        assert!(err("name 'x'").starts_with("Syntax error at position 5 in 'name 'x''"));
        assert!(err("name").contains("comparison operator"));
        assert_eq!(err(""), "Expression expected at position 0 in ''.");
        assert_eq!(
            err("name eq 'a' and"),
            "Expression expected at position 15 in 'name eq 'a' and'."
        );
        assert_eq!(
            err("name eq and"),
            "Expression expected at position 8 in 'name eq and'."
        );
        assert!(err("12abc eq 1").contains("character 'a' is not valid at position 2"));
        assert!(
            err("x eq 2024-13-01").contains("Unrecognized 'Edm.Date' literal '2024-13-01' at '5'")
        );
        assert!(err("x eq 2024-05-01T25:00:00Z").contains("Edm.DateTimeOffset"));
        assert!(err("x eq \"a\"").contains("Expression expected at position 5"));
        assert!(err("1 eq 1").contains("two literals"));
        assert!(err("name eq 'a')").contains("Syntax error at position 11"));
        assert!(err("-name eq 1").contains("character '-' is not valid at position 0"));
    }

    #[test]
    fn unsupported_constructs_refused() {
        assert!(err("tolower(name) eq 'a'").contains("'tolower'"));
        assert!(err("tolower(name) eq 'a'").contains("not supported by this emulator"));
        assert!(
            err("Microsoft.Dynamics.CRM.Today(PropertyName='createdon')")
                .contains("not supported by this emulator")
        );
        assert!(err("frobnicate(name)").contains("unknown function with name 'frobnicate'"));
        assert!(err("primarycontactid/fullname eq 'x'").contains("related rows"));
        assert!(err("contact_customer_accounts/any()").contains("related rows"));
        assert!(err("contact_customer_accounts/any(o:o/fullname eq 'x')")
            .contains("':' is not valid at position 31"));
        assert!(err("contains(name,'x') eq contains(name,'y')").contains("true or false"));
        assert!(err("name eq contains(name,'y')").contains("returns a boolean"));
        assert!(err("na.me eq 1").contains("not a valid property name"));
        assert!(err("x eq @p1").contains("'@p1'"));
    }

    #[test]
    fn deep_nesting_refused_not_overflowing() {
        let deep = format!("{}a eq 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(err(&deep).contains("nested more than"));
        let nots = format!("{}a eq 1", "not ".repeat(10_000));
        assert!(err(&nots).contains("nested more than"));
        let ok = format!("{}a eq 1{}", "(".repeat(50), ")".repeat(50));
        f(&ok);
    }

    #[test]
    fn properties_listed_once() {
        let p = f("name eq 'a' or (revenue gt 5 and not contains(name,'x')) or firstname eq lastname \
                   or Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0']) \
                   or Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=[1,2]) \
                   or _parentcustomerid_value eq null")
        .properties();
        assert_eq!(
            p,
            vec![
                "name",
                "revenue",
                "firstname",
                "lastname",
                "statecode",
                "numberofemployees",
                "_parentcustomerid_value"
            ]
        );
    }
}
