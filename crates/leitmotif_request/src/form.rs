//! Musical form: the plan of sections a game state's music walks while the state lasts.
//!
//! A [`Form`] is a list of [`Section`]s, each one phrase long, written as letters with
//! primes: `"A A' B A''"`. A letter heard for the first time is new music; the same letter
//! again is that music once more (an exact repeat); primes make it a variation of it, more
//! primes a freer one (`A'` keeps all but its last quarter and writes a new ending there; a
//! theme's `A'` keeps its first half; `A''` keeps its head and moves it by a step, `A'''`
//! inverts the head, `A''''` fragments it). New letters
//! come in alphabetical order, so `"A B C B' A'"` is a form and `"A C"` is a typo.
//!
//! ```
//! use leitmotif_request::form::{Form, FormError};
//!
//! let form: Form = "A A' B A''".parse()?;
//! assert_eq!(form.len(), 4);
//! assert_eq!(form.sections()[3].primes, 2);
//! assert_eq!(form.to_string(), "A A' B A''");
//! assert!(matches!("A B'' A".parse::<Form>(), Err(FormError::VariationFirst { .. })));
//! # Ok::<(), FormError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The most sections a form has (a state's form cycles when it ends).
pub const MAX_SECTIONS: usize = 32;

/// The most primes a section carries (`A''''`: the freest variation).
pub const MAX_PRIMES: u8 = 4;

/// One section of a form: a letter and its primes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Section {
    /// The material: `0` for A, `1` for B, and so on.
    pub letter: u8,
    /// 0: the material as first heard (new music, or an exact repeat); 1 to
    /// [`MAX_PRIMES`]: a variation of it, freer with each prime.
    pub primes: u8,
}

impl Section {
    /// The section's letter as written (`'A'` for letter 0).
    pub fn name(self) -> char {
        char::from(b'A' + self.letter.min(25))
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        for _ in 0..self.primes {
            f.write_str("'")?;
        }
        Ok(())
    }
}

/// What a section of a form is, in the order it is played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A letter's first appearance: new music.
    New,
    /// A letter heard before, without primes: the same music again.
    Repeat,
    /// A letter heard before, with this many primes: a variation of it.
    Variation(u8),
}

/// A form: sections in the order they are played (see the module docs).
///
/// In a mood table, `form: "A A' B A''"` (or a list, `form: ["A", "A'", "B", "A''"]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Form {
    sections: Vec<Section>,
}

/// A form that cannot be read. Every message names the problem and the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FormError {
    /// No sections at all.
    #[error("a form needs at least one section (\"A\": every phrase new music)")]
    Empty,
    /// A token that is not a capital letter followed by primes.
    #[error(
        "{token:?} (section {position}) is not a section: write a capital letter and primes, as in A, A', B, A''"
    )]
    NotASection {
        /// The token as written.
        token: String,
        /// Its place in the form, from 1.
        position: usize,
    },
    /// A variation (or repeat) of material not heard yet.
    #[error(
        "{token} (section {position}) returns to {letter}, which has not been heard yet: a letter's first section is plain {letter}"
    )]
    VariationFirst {
        /// The token as written.
        token: String,
        /// Its place in the form, from 1.
        position: usize,
        /// The letter.
        letter: char,
    },
    /// A new letter out of alphabetical order.
    #[error(
        "{found} (section {position}) is new material out of order: new sections are lettered in order, so the next new one is {expected}"
    )]
    OutOfOrder {
        /// The letter found.
        found: char,
        /// The letter new material takes there.
        expected: char,
        /// Its place in the form, from 1.
        position: usize,
    },
    /// More primes than [`MAX_PRIMES`].
    #[error("{token} (section {position}) has more than {max} primes")]
    TooManyPrimes {
        /// The token as written.
        token: String,
        /// Its place in the form, from 1.
        position: usize,
        /// [`MAX_PRIMES`].
        max: u8,
    },
    /// More sections than [`MAX_SECTIONS`].
    #[error("a form of {sections} sections is longer than {max}")]
    TooLong {
        /// How many were written.
        sections: usize,
        /// [`MAX_SECTIONS`].
        max: usize,
    },
}

impl Form {
    /// Through-composed: every phrase is new music continuing the last (`"A"`).
    pub fn through_composed() -> Self {
        Self {
            sections: vec![Section {
                letter: 0,
                primes: 0,
            }],
        }
    }

    /// The sections, in playing order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// How many sections (phrases) one pass through the form takes.
    pub fn len(&self) -> usize {
        self.sections.len()
    }

    /// Always false: a form has a section (kept for the `len` convention).
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// What section `index` is (new music, a repeat or a variation); `None` past the end.
    pub fn role(&self, index: usize) -> Option<Role> {
        let section = *self.sections.get(index)?;
        let heard = self.sections[..index]
            .iter()
            .any(|s| s.letter == section.letter);
        Some(match (heard, section.primes) {
            (false, _) => Role::New,
            (true, 0) => Role::Repeat,
            (true, p) => Role::Variation(p),
        })
    }

    /// The index of the section where the material of section `index` was first heard.
    pub fn statement_of(&self, index: usize) -> Option<usize> {
        let letter = self.sections.get(index)?.letter;
        self.sections.iter().position(|s| s.letter == letter)
    }
}

impl Default for Form {
    /// `A A' B A''`: a statement, its varied repeat, a contrast, and a freer return.
    fn default() -> Self {
        let s = |letter, primes| Section { letter, primes };
        Self {
            sections: vec![s(0, 0), s(0, 1), s(1, 0), s(0, 2)],
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, section) in self.sections.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{section}")?;
        }
        Ok(())
    }
}

impl Form {
    /// Reads a form from its tokens (each a letter and primes).
    ///
    /// # Errors
    /// The first [`FormError`] found.
    pub fn from_tokens<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Result<Self, FormError> {
        let mut sections = Vec::new();
        let mut next_new = 0u8;
        for (i, token) in tokens.into_iter().enumerate() {
            let position = i + 1;
            let not_a_section = || FormError::NotASection {
                token: token.to_owned(),
                position,
            };
            let mut chars = token.chars();
            let letter = chars.next().filter(char::is_ascii_uppercase);
            let letter = letter.ok_or_else(not_a_section)?;
            let rest = chars.as_str();
            if rest.chars().any(|c| c != '\'') {
                return Err(not_a_section());
            }
            if rest.len() > usize::from(MAX_PRIMES) {
                return Err(FormError::TooManyPrimes {
                    token: token.to_owned(),
                    position,
                    max: MAX_PRIMES,
                });
            }
            let section = Section {
                letter: letter as u8 - b'A',
                primes: rest.len() as u8,
            };
            if section.letter >= next_new {
                if section.primes > 0 || section.letter > next_new {
                    if section.letter == next_new {
                        return Err(FormError::VariationFirst {
                            token: token.to_owned(),
                            position,
                            letter,
                        });
                    }
                    return Err(FormError::OutOfOrder {
                        found: letter,
                        expected: char::from(b'A' + next_new),
                        position,
                    });
                }
                next_new += 1;
            }
            sections.push(section);
            if sections.len() > MAX_SECTIONS {
                return Err(FormError::TooLong {
                    sections: sections.len(),
                    max: MAX_SECTIONS,
                });
            }
        }
        if sections.is_empty() {
            return Err(FormError::Empty);
        }
        Ok(Self { sections })
    }
}

impl FromStr for Form {
    type Err = FormError;

    /// Reads `"A A' B A''"`: sections separated by spaces or commas.
    fn from_str(s: &str) -> Result<Self, FormError> {
        let tokens: Vec<&str> = s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.len() > MAX_SECTIONS {
            return Err(FormError::TooLong {
                sections: tokens.len(),
                max: MAX_SECTIONS,
            });
        }
        Self::from_tokens(tokens)
    }
}

/// A form as a mood table writes it: one string or a list of sections.
#[derive(Deserialize)]
#[serde(untagged)]
enum FormText {
    Line(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for Form {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = match FormText::deserialize(deserializer)? {
            FormText::Line(line) => line.parse(),
            FormText::List(list) => {
                if list.len() > MAX_SECTIONS {
                    Err(FormError::TooLong {
                        sections: list.len(),
                        max: MAX_SECTIONS,
                    })
                } else {
                    Form::from_tokens(list.iter().map(|t| t.trim()))
                }
            }
        };
        form.map_err(|e| serde::de::Error::custom(format!("form: {e}")))
    }
}

impl Serialize for Form {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `Option<Form>` in a mood table: absent for `None`, a plain form for `Some`.
pub(crate) mod optional {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Form;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Form>, D::Error> {
        Form::deserialize(d).map(Some)
    }

    pub(crate) fn serialize<S: Serializer>(form: &Option<Form>, s: S) -> Result<S::Ok, S::Error> {
        match form {
            Some(form) => form.serialize(s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> Form {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn forms_read_and_write_back() {
        let f = form("A A' B A''");
        assert_eq!(f, Form::default());
        assert_eq!(
            (0..5).map(|i| f.role(i)).collect::<Vec<_>>(),
            [
                Some(Role::New),
                Some(Role::Variation(1)),
                Some(Role::New),
                Some(Role::Variation(2)),
                None
            ]
        );
        assert_eq!(f.statement_of(3), Some(0));
        assert_eq!(f.statement_of(2), Some(2));
        let g = form(" A,B  A\tC B' A'''' ");
        assert_eq!(g.to_string(), "A B A C B' A''''");
        assert_eq!(g.role(2), Some(Role::Repeat));
        assert_eq!(form("A"), Form::through_composed());
    }

    #[test]
    fn malformed_forms_name_their_problem() {
        let cases: [(&str, FormError); 7] = [
            ("", FormError::Empty),
            (
                "A b",
                FormError::NotASection {
                    token: "b".into(),
                    position: 2,
                },
            ),
            (
                "A A2",
                FormError::NotASection {
                    token: "A2".into(),
                    position: 2,
                },
            ),
            (
                "A' A",
                FormError::VariationFirst {
                    token: "A'".into(),
                    position: 1,
                    letter: 'A',
                },
            ),
            (
                "A C",
                FormError::OutOfOrder {
                    found: 'C',
                    expected: 'B',
                    position: 2,
                },
            ),
            (
                "A A'''''",
                FormError::TooManyPrimes {
                    token: "A'''''".into(),
                    position: 2,
                    max: 4,
                },
            ),
            (
                &"A ".repeat(33),
                FormError::TooLong {
                    sections: 33,
                    max: 32,
                },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(text.parse::<Form>(), Err(error), "{text:?}");
        }
        let message = "A B' C"
            .parse::<Form>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("B'") && message.contains("section 2"),
            "{message}"
        );
    }
}
